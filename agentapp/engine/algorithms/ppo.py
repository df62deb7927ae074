"""Proximal policy optimisation (Schulman et al. 2017), the clipped-surrogate variant.

Why it is here: it is the default deep method of the field (Stable-Baselines3, CleanRL, RL Zoo) and
the policy-gradient lecture's end point: an actor-critic that reuses each rollout for several epochs
of minibatch updates while the clipped ratio keeps the new policy near the one that collected the
data. One training iteration collects ``n_steps`` steps from each of ``n_envs`` environments,
computes GAE(lambda) advantages, and runs ``n_epochs`` epochs of minibatch updates.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from agentapp.engine.algorithms.actor_critic import ActorCriticMethod, ActorCriticSettings
from agentapp.engine.algorithms.base import Iteration
from agentapp.engine.algorithms.deep import adam
from agentapp.params import setting


@dataclass(frozen=True)
class PPOSettings(ActorCriticSettings):
    """Settings of PPO (defaults: CleanRL's ``ppo.py``; presets tune them per game), beside the
    actor-critic ones."""

    learning_rate: float = setting(3e-4, "Adam step size.", low=0.0, low_open=True)
    anneal_lr: bool = setting(True, "Anneal the learning rate linearly to 0 over the budget.")
    n_steps: int = setting(128, "Steps collected from each environment per rollout.", low=1)
    batch_size: int = setting(128, "Samples per minibatch.", low=1)
    n_epochs: int = setting(4, "Passes over each rollout.", low=1)
    gae_lambda: float = setting(0.95, "GAE lambda: 0 is one-step TD, 1 is Monte Carlo.",
                                low=0.0, high=1.0)
    clip_range: float = setting(0.2, "Clip the probability ratio to 1 +- this.", low=0.0,
                                low_open=True)
    anneal_clip: bool = setting(False, "Anneal the clip range linearly to 0 over the budget.")
    clip_vloss: bool = setting(False, "Clip the value loss around the old values as well.")
    norm_adv: bool = setting(True, "Normalise advantages within each minibatch.")
    target_kl: float = setting(0.0, "Stop the epochs early once the approximate KL exceeds "
                               "this (0: never).", low=0.0)


class PPO(ActorCriticMethod):
    """PPO-clip with GAE over vectorised environments."""

    name = "ppo"
    title = "PPO"
    summary = "Actor-critic with a clipped surrogate objective, several epochs per rollout."
    Hyperparameters = PPOSettings
    supports_workers = True

    def __init__(self, game, game_params, hp, **kwargs) -> None:
        super().__init__(game, game_params, hp, **kwargs)
        self.optimizer = adam(self.params, lr=hp.learning_rate, eps=1e-5)

    def train_iteration(self, max_steps: int) -> Iteration:
        hp = self.hp
        lr = self.anneal_learning_rate()
        clip = self.annealed(hp.clip_range, hp.anneal_clip)
        start = self.steps
        finished = self.collect()
        metrics = self._update(clip)
        metrics.update({"charts/learning_rate": lr, "charts/clip_range": clip,
                        "losses/explained_variance": self.explained_variance(),
                        **self.worker_metrics()})
        return Iteration(steps=self.steps - start, metrics=metrics, episodes=finished)

    def _update(self, clip: float) -> dict[str, float]:
        """``n_epochs`` epochs of minibatch steps; the losses and ``charts/grad_norm`` (before
        clipping) are means over all the minibatches, read from the device once each."""
        hp, totals, count, grad_norms = self.hp, {}, 0, []
        for _ in range(hp.n_epochs):
            kls = []
            for batch in self.buffer.minibatches(hp.batch_size, self.generator):
                dist, value = self.model(batch.obs)
                log_ratio = dist.log_prob(batch.actions) - batch.old_log_probs
                ratio = log_ratio.exp()
                adv = batch.advantages
                if hp.norm_adv and len(adv) > 1:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                # L^CLIP = E[min(r A, clip(r, 1-eps, 1+eps) A)]   (Schulman et al. 2017, eq. 7)
                policy_loss = -torch.min(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv).mean()
                # L^VF = (V(s) - R)^2, optionally clipped around the old value estimate
                value_loss = (value - batch.returns).pow(2)
                if hp.clip_vloss:
                    clipped = batch.old_values + (value - batch.old_values).clamp(-clip, clip)
                    value_loss = torch.max(value_loss, (clipped - batch.returns).pow(2))
                value_loss = 0.5 * value_loss.mean()
                entropy = dist.entropy().mean()
                loss = policy_loss + hp.vf_coef * value_loss - hp.ent_coef * entropy
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                grad_norms.append(nn.utils.clip_grad_norm_(self.params, hp.max_grad_norm))
                self.optimizer.step()
                with torch.no_grad():  # the k3 estimator of KL(old || new) (Schulman, 2020)
                    kl = ((ratio - 1) - log_ratio).mean()
                    clipped_share = ((ratio - 1).abs() > clip).float().mean()
                kls.append(kl)
                for key, val in (("policy_loss", policy_loss), ("value_loss", value_loss),
                                 ("entropy", entropy), ("approx_kl", kl),
                                 ("clip_fraction", clipped_share)):
                    totals[key] = totals.get(key, 0.0) + val.detach()
                count += 1
            if hp.target_kl and torch.stack(kls).mean().item() > hp.target_kl:
                break
        metrics = {f"losses/{key}": float(total) / count for key, total in totals.items()}
        metrics["charts/grad_norm"] = torch.stack(grad_norms).mean().item()
        return metrics
