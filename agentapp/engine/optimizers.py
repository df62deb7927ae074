"""RMSprop as TensorFlow computes it, which A2C's published Atari results depend on.

PyTorch's ``RMSprop`` divides by ``sqrt(v) + eps`` and starts the running average ``v`` of
squared gradients at 0; TensorFlow's (used by the original A2C baselines and their tuned settings)
divides by ``sqrt(v + eps)`` and starts ``v`` at 1. With the small epsilon of the tuned settings
(1e-5) the two behave very differently early in training: PyTorch's first steps are huge (``v``
is tiny), and A2C on Pong does not learn with them. Stable-Baselines3 ships the same fix
(``RMSpropTFLike``).

Update, per parameter (no momentum, no centring: what the A2C settings use):
    v <- alpha v + (1 - alpha) g^2
    theta <- theta - lr g / sqrt(v + eps)
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


class RMSpropTF(torch.optim.Optimizer):
    """RMSprop with TensorFlow's epsilon placement and initial accumulator of one."""

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        lr: float = 7e-4,
        alpha: float = 0.99,
        eps: float = 1e-5,
    ) -> None:
        if lr <= 0 or eps <= 0 or not 0 <= alpha <= 1:
            raise ValueError(f"RMSpropTF: lr and eps must be > 0, alpha in [0, 1] "
                             f"(lr={lr}, eps={eps}, alpha={alpha})")
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            squares = []
            for p in params:
                state = self.state[p]
                if not state:
                    state["square_avg"] = torch.ones_like(p, memory_format=torch.preserve_format)
                squares.append(state["square_avg"])
            alpha, eps, lr = group["alpha"], group["eps"], group["lr"]
            # v <- alpha v + (1 - alpha) g^2, for all tensors of the group at once
            torch._foreach_mul_(squares, alpha)
            torch._foreach_addcmul_(squares, grads, grads, value=1 - alpha)
            # theta <- theta - lr g / sqrt(v + eps)
            denominators = torch._foreach_sqrt(torch._foreach_add(squares, eps))
            torch._foreach_addcdiv_(params, grads, denominators, value=-lr)
        return loss
