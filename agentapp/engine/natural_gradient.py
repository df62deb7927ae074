"""The maths of natural-gradient policy steps: flat parameter vectors, conjugate gradient, the
Fisher-vector product and a backtracking line search.

Why it exists: the policy-gradient lecture ends with the trust region. A plain gradient step
bounds the Euclidean distance ||theta' - theta||, which says little about how much the *policy*
changes; TRPO (Schulman et al. 2015) bounds the mean KL divergence between the old and the new
policy instead. Near theta_old that KL is the quadratic form 1/2 d^T F d of the Fisher information
matrix F, so the best step within the trust region follows the natural gradient F^-1 g. F is far
too large to build (one row and one column per parameter), but F v can be computed for any v by
differentiating the KL twice, and conjugate gradient solves F x = g from such products alone.
``algorithms/trpo.py`` and ``algorithms/restricted_step.py`` use these pieces.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.distributions import Distribution, kl_divergence


def flat_parameters(params: Sequence[torch.Tensor]) -> torch.Tensor:
    """theta: every parameter flattened and concatenated into one vector (a copy)."""
    return torch.nn.utils.parameters_to_vector([p.detach() for p in params]).clone()


@torch.no_grad()
def set_flat_parameters(params: Sequence[torch.Tensor], vector: torch.Tensor) -> None:
    """Write the flat vector *vector* back into *params*, in place (the inverse of
    :func:`flat_parameters`)."""
    start = 0
    for p in params:
        n = p.numel()
        p.copy_(vector[start:start + n].view_as(p))
        start += n


def flat_grad(
    output: torch.Tensor,
    params: Sequence[torch.Tensor],
    *,
    create_graph: bool = False,
    retain_graph: bool | None = None,
) -> torch.Tensor:
    """d output / d theta as one flat vector; parameters *output* does not depend on get zeros."""
    grads = torch.autograd.grad(output, list(params), create_graph=create_graph,
                                retain_graph=retain_graph, allow_unused=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1)
                      for g, p in zip(grads, params, strict=True)])


def conjugate_gradient(
    matvec: Callable[[torch.Tensor], torch.Tensor],
    b: torch.Tensor,
    iterations: int = 10,
    residual_tol: float = 1e-10,
) -> torch.Tensor:
    """x ~ A^-1 b for a symmetric positive-definite A known only through ``matvec(v) = A v``
    (Hestenes & Stiefel 1952; Nocedal & Wright, Algorithm 5.2), starting from x = 0:

        alpha_k = r_k^T r_k / p_k^T A p_k,   x += alpha_k p_k,   r -= alpha_k A p_k,
        beta_k = r_{k+1}^T r_{k+1} / r_k^T r_k,   p = r + beta_k p

    It stops after *iterations* products or once r^T r < *residual_tol*. In exact arithmetic it
    solves an n x n system in n iterations; a few already give a good natural-gradient direction.
    """
    x = torch.zeros_like(b)
    r = b.clone()  # the residual b - A x, with x = 0
    p = b.clone()
    rr = torch.dot(r, r)
    for _ in range(iterations):
        if rr < residual_tol:
            break
        ap = matvec(p)
        alpha = rr / torch.dot(p, ap)
        x += alpha * p
        r -= alpha * ap
        rr_next = torch.dot(r, r)
        p = r + (rr_next / rr) * p
        rr = rr_next
    return x


def mean_kl(old: Distribution, new: Distribution) -> torch.Tensor:
    """The mean over states of KL(pi_old(.|s) || pi_new(.|s)) (TRPO's constraint, Schulman et
    al. 2015, eq. 12), for categorical and diagonal-Gaussian policies alike."""
    return kl_divergence(old, new).mean()


def fisher_vector_product(
    kl: torch.Tensor, params: Sequence[torch.Tensor], damping: float
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``v -> (F + damping I) v``, where F is the Hessian of *kl* (the mean KL between the old,
    detached policy and the new one) at theta_old.

    At theta = theta_old the KL's gradient is zero and its Hessian equals the Fisher information
    F = E[grad log pi grad log pi^T] (Schulman et al. 2015, Appendix C), so F v is a
    Hessian-vector product: differentiate g_kl = d KL / d theta once keeping the graph, then
    d (g_kl . v) / d theta = H v (Pearlmutter 1994) without ever forming H. The damping (a small
    multiple of the identity) keeps the system well conditioned for conjugate gradient.
    """
    params = list(params)
    grad_kl = flat_grad(kl, params, create_graph=True)

    def product(v: torch.Tensor) -> torch.Tensor:
        hv = flat_grad(torch.dot(grad_kl, v.detach()), params, retain_graph=True)
        return hv + damping * v

    return product


def line_search(
    params: Sequence[torch.Tensor],
    full_step: torch.Tensor,
    accept: Callable[[], bool],
    max_steps: int = 10,
    shrink: float = 0.5,
) -> tuple[float, int]:
    """Backtracking line search (Schulman et al. 2015, Appendix C): try
    theta = theta_old + shrink^k * full_step for k = 0, 1, ... and keep the first whose
    ``accept()`` (evaluated with the candidate parameters in place) is True. When none of
    *max_steps* candidates is accepted, theta_old is put back exactly.

    Returns ``(fraction, tries)``: shrink^k of the accepted step (0.0 when rejected) and the
    number of candidates evaluated.
    """
    old = flat_parameters(params)
    fraction = 1.0
    for tried in range(1, max_steps + 1):
        set_flat_parameters(params, old + fraction * full_step)
        if accept():
            return fraction, tried
        fraction *= shrink
    set_flat_parameters(params, old)
    return 0.0, max_steps
