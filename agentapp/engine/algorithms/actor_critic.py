"""What the on-policy actor-critic methods (A2C, PPO) share: the actor-critic network, the rollout
buffer, collecting a rollout with truncation-aware bootstrapping, and acting.

The methods differ in how they learn from a rollout, and only that lives in their own files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from agentapp.engine.algorithms.deep import (
    DeepAlgorithm,
    DeepSettings,
    mlp_bytes,
    obs_bytes,
    parse_hidden,
    policy_insight,
    sample_from,
)
from agentapp.engine.buffers import RolloutBuffer
from agentapp.engine.insight import Insight
from agentapp.engine.networks import ActorCritic
from agentapp.games.registry import CONTINUOUS_ACTIONS, DISCRETE_ACTIONS
from agentapp.params import setting


@dataclass(frozen=True)
class ActorCriticSettings(DeepSettings):
    """The settings A2C and PPO share: the network, the discount and the loss weights. Each
    method's settings add their own (``n_steps``, ``gae_lambda``, the optimizer, ...)."""

    gamma: float = setting(0.99, "Discount factor.", low=0.0, high=1.0)
    ent_coef: float = setting(0.0, "Weight of the entropy bonus.", low=0.0)
    vf_coef: float = setting(0.5, "Weight of the value loss.", low=0.0)
    max_grad_norm: float = setting(0.5, "Clip the gradient norm to this.", low=0.0, low_open=True)
    hidden: str = setting("64,64", "Hidden layer sizes of the actor and the critic.")
    activation: str = setting("tanh", "Hidden activation.", choices=("tanh", "relu"))
    shared: bool = setting(False, "One torso for actor and critic instead of two.")
    log_std_init: float = setting(0.0, "Initial log standard deviation of the Gaussian policy "
                                  "(continuous actions; 0: std 1).", low=-20.0, high=2.0)


class ActorCriticMethod(DeepAlgorithm):
    """Base of A2C and PPO. Their settings extend :class:`ActorCriticSettings` with ``n_steps``
    and ``gae_lambda``; subclasses create ``self.optimizer``."""

    # a categorical policy for a few named actions, a diagonal Gaussian for a Box
    action_kinds = frozenset({DISCRETE_ACTIONS, CONTINUOUS_ACTIONS})

    @classmethod
    def memory_needed(cls, hp: Any, space, n_envs: int) -> list[tuple[str, int]]:
        """The rollout (observations, actions and six floats per step of each environment) and
        the actor and critic with their gradients and Adam's (or RMSprop's) moments."""
        rollout = hp.n_steps * n_envs * (obs_bytes(space) + 8 + 6 * 4)
        copies = 4 * (1 if hp.shared else 2)
        return [(f"--set n_steps={hp.n_steps} with {n_envs} environments: the rollout", rollout),
                (f"--set hidden={hp.hidden}: the networks", mlp_bytes(space, hp.hidden, copies))]

    def __init__(self, game, game_params, hp, **kwargs) -> None:
        super().__init__(game, game_params, hp, **kwargs)
        self.model = ActorCritic(
            self.observation_space, self.action_space, hidden=parse_hidden(hp.hidden),
            activation=hp.activation, shared=hp.shared, network=hp.network,
            log_std_init=hp.log_std_init,
        ).to(self.torch_device)
        self.use_gpu_options(self.model)
        self.params = list(self.model.parameters())
        obs_dtype = self.as_tensor(self.observation_space.sample()).dtype
        action_shape = self.action_space.shape or ()
        self.buffer = RolloutBuffer(
            hp.n_steps, self.n_envs, self.observation_space.shape or (), obs_dtype,
            action_shape=action_shape,
            action_dtype=torch.long if not action_shape else torch.float32,
            device=self.torch_device,
        )
        self.optimizer: torch.optim.Optimizer

    def policy_actions(self, obs: torch.Tensor, greedy: bool) -> torch.Tensor:
        return self.model.act(obs, greedy)

    def sample_with(self, obs: torch.Tensor, rng: np.random.Generator) -> np.ndarray:
        return sample_from(self.model.distribution(obs), rng)

    def batch_insight(self, obs: torch.Tensor) -> Insight | None:
        return policy_insight(self.model, obs)

    def annealed(self, value: float, anneal: bool) -> float:
        """*value* scaled linearly from 1 at the start to 0 at the end of the budget."""
        return value * max(0.0, 1.0 - self.steps / self.budget) if anneal else value

    def anneal_learning_rate(self) -> float:
        """Set the optimizer's step size for this iteration (annealed when ``anneal_lr``)."""
        lr = self.annealed(self.hp.learning_rate, self.hp.anneal_lr)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    @torch.no_grad()
    def collect(self) -> list[tuple[float, int]]:
        """Fill the rollout buffer with ``n_steps`` steps of every environment (here, or on the
        Ray rollout workers of ``--workers``, which play with this model's weights) and compute
        GAE(lambda) advantages; returns the episodes that ended."""
        if self.remote is not None:
            finished, last_values = self.remote.collect_rollout(self)
        else:
            finished = self.fill_rollout()
            last_values = self.model.value(self.as_tensor(self.obs))
        self.buffer.compute(last_values, self.hp.gamma, self.hp.gae_lambda)
        return finished

    @torch.no_grad()
    def fill_rollout(self) -> list[tuple[float, int]]:
        """Fill the rollout buffer with ``n_steps`` steps of this process's environments;
        returns the episodes that ended. (A rollout worker calls it too.)"""
        hp, finished = self.hp, []
        began, env_before = time.perf_counter(), self.timings["env"]
        self.buffer.reset()
        self.start_envs()  # (or restore them) before reading self.obs
        for _ in range(hp.n_steps):
            obs = self.as_tensor(self.obs)
            dist, value = self.model(obs)
            action = dist.sample()
            log_prob = dist.log_prob(action)
            next_obs, rewards, terminated, truncated, infos, ended = self.step_envs(
                action.cpu().numpy())
            rewards = rewards.astype(np.float32)
            # A time limit is not a terminal state: bootstrap from the true last observation,
            # r_t + gamma V(s_T), so the advantage estimate can treat the episode as ended.
            cut = self.final_observations(infos, truncated & ~terminated)
            if cut:
                index = [i for i, _ in cut]
                last = self.model.value(self.as_tensor(np.stack([o for _, o in cut])))
                rewards[index] += hp.gamma * last.cpu().numpy()
            done = torch.as_tensor(terminated | truncated, dtype=torch.float32)
            self.buffer.add(obs, action, torch.as_tensor(rewards), done, value, log_prob)
            self.obs = next_obs
            finished.extend(ended)
        self.timings["act"] += time.perf_counter() - began - (self.timings["env"] - env_before)
        return finished

    def explained_variance(self) -> float:
        """1 - Var[R - V] / Var[R] over the rollout: how much of the returns the critic explains."""
        returns, values = self.buffer.returns.flatten(), self.buffer.values.flatten()
        spread = returns.var()
        return float(1 - (returns - values).var() / spread) if spread > 0 else 0.0

    def state_dict(self) -> dict[str, Any]:
        return {
            **self.common_state(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.load_common_state(state)
