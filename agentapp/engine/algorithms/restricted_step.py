"""The plain restricted-step policy update: a step of fixed Euclidean length along the policy
gradient.

Why it is here: it is the step the policy-gradient notes start from before natural gradient.
Maximising the linearised objective g^T d within a ball of parameter space,
1/2 ||d||^2 <= epsilon, gives d = sqrt(2 epsilon) g / ||g||: every update moves theta by the same
distance, whatever that does to the policy. One parameter may barely change pi while another
changes it completely, so a fixed distance in theta is not a fixed change of behaviour. TRPO
(``trpo.py``) replaces the ball by the KL trust region 1/2 d^T F d <= delta, whose solution is the
natural gradient. Both methods log ``charts/kl``, the mean KL(old || new) each step really caused,
so the two can be compared on the same game. Rollouts and the critic are TRPO's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from agentapp.engine.algorithms.trpo import PolicyStepMethod, PolicyStepSettings
from agentapp.engine.natural_gradient import (
    flat_grad,
    flat_parameters,
    mean_kl,
    set_flat_parameters,
)
from agentapp.params import setting


@dataclass(frozen=True)
class RestrictedStepSettings(PolicyStepSettings):
    """Settings of the restricted step, beside the rollout and critic ones it shares with
    TRPO."""

    epsilon: float = setting(0.01, "Step size: every update moves the actor's parameters by "
                             "sqrt(2 epsilon) in Euclidean distance.", low=0.0, low_open=True)


class RestrictedStep(PolicyStepMethod):
    """A policy-gradient step of fixed Euclidean length sqrt(2 epsilon) per rollout."""

    name = "restricted-step"
    title = "Restricted step"
    summary = "Policy gradient steps of fixed length in parameter space (before natural gradient)."
    Hyperparameters = RestrictedStepSettings

    def policy_step(self, obs: torch.Tensor, actions: torch.Tensor, old_log_probs: torch.Tensor,
                    advantages: torch.Tensor) -> dict[str, float]:
        params = self.actor_params
        with torch.no_grad():
            old = self.model.distribution(obs)
        dist = self.model.distribution(obs)
        entropy = float(dist.entropy().mean().detach())
        g = flat_grad(self.surrogate(dist, actions, old_log_probs, advantages), params)
        norm = g.norm()
        step = torch.zeros_like(g)
        if torch.isfinite(norm) and norm > 0:  # a zero gradient gives no direction
            # theta <- theta + sqrt(2 epsilon) g / ||g||   (argmax g^T d s.t. 1/2 ||d||^2 <= eps)
            step = math.sqrt(2 * self.hp.epsilon) * g / norm
            set_flat_parameters(params, flat_parameters(params) + step)
        with torch.no_grad():
            new = self.model.distribution(obs)
            policy_loss = -self.surrogate(new, actions, old_log_probs, advantages)
            kl = mean_kl(old, new)
        return {"losses/policy_loss": float(policy_loss), "losses/entropy": entropy,
                "charts/kl": float(kl), "charts/step_norm": float(step.norm())}
