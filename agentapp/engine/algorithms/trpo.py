"""Trust region policy optimisation (TRPO; Schulman et al. 2015), in the lecture's form.

Why it is here: it is the policy-gradient lecture's answer to "how far may one step go?". A plain
gradient step limits the distance in parameter space (``restricted_step.py`` shows that update);
TRPO limits what matters, the change of the policy, measured as the mean KL divergence between the
old and the new policy over the states of the rollout:

    maximise  L(theta) = E[pi_theta(a|s) / pi_old(a|s) A(s, a)]
    subject to  E_s[KL(pi_old(.|s) || pi_theta(.|s))] <= delta

With L linearised (gradient g) and the KL approximated by 1/2 d^T F d (F: the Fisher matrix),
the solution is the natural gradient x = F^-1 g (found by conjugate gradient from Fisher-vector
products, ``engine/natural_gradient.py``), scaled to the edge of the trust region,
beta = sqrt(2 delta / x^T F x). Because the approximations can be wrong, a backtracking line search
shrinks the step until the true KL is within delta and the surrogate really improves; if no
shrunk step passes, the policy stays as it was. The critic learns separately, with Adam, for a few
epochs of minibatches per rollout. Rollouts (n_steps from each environment, GAE advantages,
time-limit bootstrapping) are those of A2C and PPO (``actor_critic.py``).

Actor and critic have separate networks so the critic's steps never move the policy (a pixel
torso is one CNN for both heads: there the actor owns it and the critic learns only its head).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from agentapp.engine.algorithms.actor_critic import ActorCriticMethod
from agentapp.engine.algorithms.base import Iteration
from agentapp.engine.algorithms.deep import DeepSettings, adam
from agentapp.engine.natural_gradient import (
    conjugate_gradient,
    fisher_vector_product,
    flat_grad,
    line_search,
    mean_kl,
)
from agentapp.params import setting


@dataclass(frozen=True)
class PolicyStepSettings(DeepSettings):
    """The rollout and the critic TRPO and the restricted step share (defaults:
    Stable-Baselines3-contrib's TRPO)."""

    n_steps: int = setting(2048, "Steps collected from each environment per update.", low=1)
    gamma: float = setting(0.99, "Discount factor.", low=0.0, high=1.0)
    gae_lambda: float = setting(0.95, "GAE lambda: 0 is one-step TD, 1 is Monte Carlo.",
                                low=0.0, high=1.0)
    norm_adv: bool = setting(True, "Normalise the advantages of each rollout.")
    learning_rate: float = setting(1e-3, "Adam step size of the critic.", low=0.0,
                                   low_open=True)
    critic_epochs: int = setting(10, "Passes of the critic over each rollout.", low=1)
    batch_size: int = setting(128, "Samples per critic minibatch.", low=1)
    hidden: str = setting("64,64", "Hidden layer sizes of the actor and the critic.")
    activation: str = setting("tanh", "Hidden activation.", choices=("tanh", "relu"))
    log_std_init: float = setting(0.0, "Initial log standard deviation of the Gaussian policy "
                                  "(continuous actions; 0: std 1).", low=-20.0, high=2.0)
    shared: ClassVar[bool] = False
    """Not a setting: actor and critic always have separate torsos, so fitting the critic cannot
    move the policy out of its trust region."""


@dataclass(frozen=True)
class TRPOSettings(PolicyStepSettings):
    """Settings of TRPO (defaults: Stable-Baselines3-contrib's TRPO)."""

    max_kl: float = setting(0.01, "Trust region: the largest mean KL(old || new) of a step "
                            "(delta).", low=0.0, low_open=True)
    cg_iterations: int = setting(15, "Conjugate-gradient iterations for F^-1 g.", low=1)
    cg_damping: float = setting(0.1, "Added to the Fisher matrix's diagonal (F + damping I).",
                                low=0.0)
    line_search_steps: int = setting(10, "Steps the line search tries: the full step, then "
                                     "each shrunk by line_search_shrink.", low=1)
    line_search_shrink: float = setting(0.8, "Factor the line search shrinks the step by.",
                                        low=0.0, high=1.0, low_open=True)


class PolicyStepMethod(ActorCriticMethod):
    """One rollout, one policy step (the subclass's :meth:`policy_step`), then the critic's
    epochs. ``self.optimizer`` is the critic's Adam (saved in checkpoints)."""

    def __init__(self, game, game_params, hp, **kwargs) -> None:
        super().__init__(game, game_params, hp, **kwargs)
        self.critic_params = list(self.model.critic.parameters())
        critic = {id(p) for p in self.critic_params}
        self.actor_params = [p for p in self.params if id(p) not in critic]
        self.optimizer = adam(self.critic_params, lr=hp.learning_rate)

    def policy_step(self, obs: torch.Tensor, actions: torch.Tensor, old_log_probs: torch.Tensor,
                    advantages: torch.Tensor) -> dict[str, float]:
        """Change the actor's parameters using one rollout; returns the step's metrics."""
        raise NotImplementedError

    def train_iteration(self, max_steps: int) -> Iteration:
        start = self.steps
        finished = self.collect()
        batch = self.buffer.batch()
        advantages = batch.advantages
        if self.hp.norm_adv and len(advantages) > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        metrics = self.policy_step(batch.obs, batch.actions, batch.old_log_probs, advantages)
        metrics["losses/value_loss"] = self.fit_critic()
        metrics["losses/explained_variance"] = self.explained_variance()
        return Iteration(steps=self.steps - start, metrics=metrics, episodes=finished)

    @staticmethod
    def surrogate(dist: Any, actions: torch.Tensor, old_log_probs: torch.Tensor,
                  advantages: torch.Tensor) -> torch.Tensor:
        """L(theta) = mean(pi_theta(a|s) / pi_old(a|s) * A)   (Schulman et al. 2015, eq. 14);
        its gradient at theta_old is the policy gradient."""
        ratio = (dist.log_prob(actions) - old_log_probs).exp()
        return (ratio * advantages).mean()

    def fit_critic(self) -> float:
        """``critic_epochs`` epochs of Adam on (V(s) - R)^2 over shuffled minibatches of the
        rollout; returns the mean loss."""
        hp, total, count = self.hp, torch.zeros(()), 0
        for _ in range(hp.critic_epochs):
            for batch in self.buffer.minibatches(hp.batch_size, self.generator):
                value_loss = (self.model.value(batch.obs) - batch.returns).pow(2).mean()
                self.optimizer.zero_grad(set_to_none=True)
                value_loss.backward()
                self.optimizer.step()
                total, count = total + value_loss.detach().cpu(), count + 1
        return float(total) / count


class TRPO(PolicyStepMethod):
    """TRPO: a natural-gradient step of fixed KL, checked by a backtracking line search."""

    name = "trpo"
    title = "TRPO"
    summary = "Trust region: a natural-gradient step to mean KL delta, checked by line search."
    Hyperparameters = TRPOSettings

    def policy_step(self, obs: torch.Tensor, actions: torch.Tensor, old_log_probs: torch.Tensor,
                    advantages: torch.Tensor) -> dict[str, float]:
        hp, params = self.hp, self.actor_params
        with torch.no_grad():
            old = self.model.distribution(obs)  # pi_old, held fixed (no gradient)
            before = float(self.surrogate(old, actions, old_log_probs, advantages))
        dist = self.model.distribution(obs)
        entropy = float(dist.entropy().mean().detach())
        g = flat_grad(self.surrogate(dist, actions, old_log_probs, advantages), params,
                      retain_graph=True)
        fvp = fisher_vector_product(mean_kl(old, dist), params, hp.cg_damping)
        # the natural gradient direction x = F^-1 g, by conjugate gradient on F x = g
        x = conjugate_gradient(fvp, g, hp.cg_iterations)
        xfx = torch.dot(x, fvp(x)).detach()

        def within_region() -> bool:
            """The candidate in place: true KL within delta and the surrogate improved."""
            kl, gain = self._kl_and_gain(obs, actions, old_log_probs, advantages, old, before)
            return kl <= hp.max_kl and gain > 0

        fraction, tries = 0.0, 0
        if torch.isfinite(xfx) and xfx > 0:  # a zero gradient has nowhere to go
            # beta = sqrt(2 delta / x^T F x): where 1/2 (beta x)^T F (beta x) = delta
            beta = torch.sqrt(2 * hp.max_kl / xfx)
            fraction, tries = line_search(params, beta * x, within_region,
                                          hp.line_search_steps, hp.line_search_shrink)
        kl, gain = self._kl_and_gain(obs, actions, old_log_probs, advantages, old, before)
        return {"losses/surrogate_gain": gain, "losses/entropy": entropy, "charts/kl": kl,
                "charts/step_fraction": fraction, "charts/line_search_steps": float(tries)}

    @torch.no_grad()
    def _kl_and_gain(self, obs, actions, old_log_probs, advantages, old,
                     before: float) -> tuple[float, float]:
        """Mean KL(pi_old || pi_theta) and L(theta) - L(theta_old) at the current parameters."""
        new = self.model.distribution(obs)
        after = float(self.surrogate(new, actions, old_log_probs, advantages))
        return float(mean_kl(old, new)), after - before
