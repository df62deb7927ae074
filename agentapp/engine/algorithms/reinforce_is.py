"""REINFORCE that learns several times from each batch of episodes, with importance weights.

Why it is here: plain REINFORCE (``reinforce.py``) throws each batch away after one gradient step,
because its gradient is an expectation under the policy that played the batch. The lectures'
off-policy policy gradient fixes that with importance sampling, and its "common final form" is
what this method follows: after a step the parameters are theta', the batch was played by theta,
and

    grad J(theta') ~ 1/B sum_episodes sum_t w_t grad log pi_theta'(a_t|s_t) (G_t - b),
    w_t = pi_theta'(a_t|s_t) / pi_theta(a_t|s_t),

the per-step ratio standing in for the product of ratios over the whole trajectory (whose variance
grows exponentially with its length, which is what makes the exact form unusable). It is the
gradient of the surrogate 1/B sum_t w_t (G_t - b), which is what the code differentiates. On the
first pass over a fresh batch every w_t is one and the step is plain REINFORCE's.

Two stabilisers keep theta' near theta, where the per-step ratio is a fair approximation:

- ``clip_ratio`` c: the surrogate becomes min(w_t A_t, clip(w_t, 1 - c, 1 + c) A_t) (PPO's
  pessimistic clipping). Chosen over truncating w_t at c because truncation only caps how much a
  step can be rewarded for making an action likelier; it still pays, without limit, for making a
  bad action ever less likely (w_t -> 0 with A_t < 0). The pessimistic form gives no gradient once
  w_t has left [1 - c, 1 + c] in the direction the advantage favours, either way, so repeated
  passes cannot walk the policy arbitrarily far from the one that played the batch.
- ``target_kl``: before each further pass, the mean KL(pi_theta || pi_theta') over the batch's
  states is measured, and reuse of the batch stops when it exceeds the target.

One training iteration plays ``batch_episodes`` episodes (as REINFORCE does, same bookkeeping), then
makes up to ``reuse_epochs`` gradient steps on them. Returns and baselines (the batch mean, or V(s)
of the collecting critic) are computed once per batch; a learned V keeps regressing on the returns
at every pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.distributions import kl_divergence

from agentapp.engine.algorithms.base import Iteration
from agentapp.engine.algorithms.reinforce import Reinforce, ReinforceSettings
from agentapp.params import setting


@dataclass(frozen=True)
class ReinforceISSettings(ReinforceSettings):
    """Settings of REINFORCE with importance-weighted reuse, beside REINFORCE's own."""

    reuse_epochs: int = setting(4, "Gradient steps made from each batch of episodes (1: plain "
                                "REINFORCE).", low=1, high=10_000)
    clip_ratio: float = setting(0.2, "Clip the importance ratio to [1 - c, 1 + c], pessimistically "
                                "as PPO does (0: no clipping).", low=0.0)
    target_kl: float = setting(0.02, "Stop reusing a batch once the mean KL from the policy that "
                               "played it exceeds this (0: never).", low=0.0)


@dataclass
class Batch:
    """One batch of episodes as the update needs it, fixed while it is reused."""

    obs: torch.Tensor
    actions: torch.Tensor
    returns: torch.Tensor
    """G_t: reward-to-go, or the episode's total return at every step."""
    advantages: torch.Tensor
    """G_t - b, with b taken at the collecting parameters."""
    old_dist: torch.distributions.Distribution
    """pi_theta(.|s_t) of the collecting parameters, without gradients."""
    old_log_prob: torch.Tensor
    episodes: int


class ReinforceIS(Reinforce):
    """REINFORCE reusing each batch for several steps, with per-step importance ratios."""

    name = "reinforce-is"
    title = "REINFORCE with importance sampling"
    summary = ("Off-policy REINFORCE: each batch reused for several steps, weighted by "
               "pi_new(a|s) / pi_old(a|s), clipped, stopped by a KL check.")
    Hyperparameters = ReinforceISSettings

    def __init__(self, game, game_params, hp, **kwargs) -> None:
        super().__init__(game, game_params, hp, **kwargs)
        self.epoch_stats: list[dict[str, float]] = []
        """Per pass over the latest batch: its ratio mean and max and its KL (for tests)."""

    @torch.no_grad()
    def make_batch(self, episodes: list[dict[str, Any]]) -> Batch:
        """Returns, advantages and the collecting policy's log-probabilities of *episodes*."""
        obs, actions, returns = self.episode_tensors(episodes)
        dist, value = self.model(obs)
        return Batch(obs, actions, returns, self.weights(returns, value), dist,
                     dist.log_prob(actions),
                     len(episodes))

    def update(self, batch: Batch) -> dict[str, float]:
        """Up to ``reuse_epochs`` gradient steps on *batch*; the metrics of the last one."""
        hp, c = self.hp, self.hp.clip_ratio
        self.epoch_stats = []
        metrics: dict[str, float] = {}
        for epoch in range(hp.reuse_epochs):
            dist, value = self.model(batch.obs)
            kl = kl_divergence(batch.old_dist, dist).mean().detach()  # 0 on the first pass
            if epoch and hp.target_kl and float(kl) > hp.target_kl:
                break  # too far from the policy that played the batch: collect a new one
            # w_t = pi_theta'(a_t|s_t) / pi_theta(a_t|s_t); its gradient is w_t grad log pi_theta'
            ratio = torch.exp(dist.log_prob(batch.actions) - batch.old_log_prob)
            surrogate = ratio * batch.advantages
            if c:  # pessimistic: min(w A, clip(w, 1 - c, 1 + c) A)
                surrogate = torch.min(surrogate, ratio.clamp(1 - c, 1 + c) * batch.advantages)
            # grad J(theta') ~ 1/B sum_t w_t grad log pi_theta'(a_t|s_t) (G_t - b)
            policy_loss = -surrogate.sum() / batch.episodes
            metrics = self.descend(policy_loss, dist, value, batch.returns)
            self.epoch_stats.append({"ratio_mean": float(ratio.detach().mean()),
                                     "ratio_max": float(ratio.detach().max()),
                                     "kl": float(kl)})
        with torch.no_grad():  # how far the policy that plays the next batch has moved
            kl = kl_divergence(batch.old_dist, self.model.distribution(batch.obs)).mean()
        last = self.epoch_stats[-1]
        metrics |= {"charts/ratio_mean": last["ratio_mean"], "charts/ratio_max": last["ratio_max"],
                    "charts/kl": float(kl), "charts/reuse_epochs_done": len(self.epoch_stats)}
        return metrics

    def train_iteration(self, max_steps: int) -> Iteration:
        start = self.steps
        episodes, finished = self._play()
        metrics = self.update(self.make_batch(episodes))
        return Iteration(steps=self.steps - start, metrics=metrics, episodes=finished)
