"""Advantage actor-critic, synchronous (A2C; Mnih et al. 2016, the synchronous form of A3C).

Why it is here: it is the plain actor-critic of the policy-gradient lecture: the policy follows
grad log pi(a|s) A(s, a) with the advantage estimated by a learned critic from short n-step rollouts
of several environments in parallel, and one gradient step per rollout. ``gae_lambda=1`` (the
default) gives n-step returns bootstrapped at the end of the rollout; below 1 it is GAE(lambda).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from agentapp.engine.algorithms.actor_critic import ActorCriticMethod, ActorCriticSettings
from agentapp.engine.algorithms.base import Iteration
from agentapp.engine.algorithms.deep import adam
from agentapp.engine.optimizers import RMSpropTF
from agentapp.params import setting


@dataclass(frozen=True)
class A2CSettings(ActorCriticSettings):
    """Settings of A2C (defaults: Stable-Baselines3's A2C), beside the actor-critic ones."""

    learning_rate: float = setting(7e-4, "Optimizer step size.", low=0.0, low_open=True)
    anneal_lr: bool = setting(False, "Anneal the learning rate linearly to 0 over the budget.")
    n_steps: int = setting(5, "Steps collected from each environment per update.", low=1)
    gae_lambda: float = setting(1.0, "1: n-step returns; below 1: GAE(lambda).",
                                low=0.0, high=1.0)
    norm_adv: bool = setting(False, "Normalise the advantages of each rollout.")
    optimizer: str = setting("rmsprop", "Optimizer: rmsprop (PyTorch's), rmsprop-tf "
                             "(TensorFlow's epsilon placement, what A2C needs on Atari) or adam.",
                             choices=("rmsprop", "rmsprop-tf", "adam"))
    rms_alpha: float = setting(0.99, "RMSprop smoothing constant.", low=0.0, high=1.0)
    eps: float = setting(1e-5, "Optimizer epsilon.", low=0.0, low_open=True)


class A2C(ActorCriticMethod):
    """Synchronous advantage actor-critic over vectorised environments."""

    name = "a2c"
    title = "A2C"
    summary = "Actor-critic: n-step advantages from parallel environments, one step per rollout."
    Hyperparameters = A2CSettings
    supports_workers = True

    def __init__(self, game, game_params, hp, **kwargs) -> None:
        super().__init__(game, game_params, hp, **kwargs)
        if hp.optimizer == "rmsprop":
            self.optimizer = torch.optim.RMSprop(self.params, lr=hp.learning_rate,
                                                 alpha=hp.rms_alpha, eps=hp.eps)
        elif hp.optimizer == "rmsprop-tf":
            self.optimizer = RMSpropTF(self.params, lr=hp.learning_rate, alpha=hp.rms_alpha,
                                       eps=hp.eps)
        else:
            self.optimizer = adam(self.params, lr=hp.learning_rate, eps=hp.eps)

    def train_iteration(self, max_steps: int) -> Iteration:
        hp = self.hp
        lr = self.anneal_learning_rate()
        start = self.steps
        finished = self.collect()
        batch = self.buffer.batch()
        obs, actions = batch.obs, batch.actions
        advantages, returns = batch.advantages, batch.returns
        if hp.norm_adv and len(advantages) > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        dist, value = self.model(obs)
        # grad J = E[grad log pi(a|s) A(s,a)]   (policy gradient theorem, actor-critic form)
        policy_loss = -(dist.log_prob(actions) * advantages).mean()
        # the critic regresses V(s) on the n-step (or lambda-) return
        value_loss = (returns - value).pow(2).mean()
        entropy = dist.entropy().mean()
        loss = policy_loss + hp.vf_coef * value_loss - hp.ent_coef * entropy
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(self.params, hp.max_grad_norm)  # before clipping
        self.optimizer.step()
        metrics = {
            "losses/policy_loss": float(policy_loss.detach()),
            "losses/value_loss": float(value_loss.detach()),
            "losses/entropy": float(entropy.detach()),
            "losses/explained_variance": self.explained_variance(),
            "charts/learning_rate": lr,
            "charts/grad_norm": float(grad_norm),
            **self.worker_metrics(),
        }
        return Iteration(steps=self.steps - start, metrics=metrics, episodes=finished)
