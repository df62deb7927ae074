"""Deep Q-network (Mnih et al. 2015) with the lecture's switches: double, dueling, n-step, and the
two ablations ``replay=false`` and ``target=false``.

Why it is here: DQN is where tabular Q-learning meets function approximation, and the lecture's
table shows that it works only with both of its stabilisers: experience replay (decorrelated
minibatches) and a fixed target network (a target that does not move with every step). Turning
either off here lets a user watch the learning curve fall apart for themselves.

One training iteration takes ``train_freq`` steps of every environment with an epsilon-greedy
policy, storing the transitions, then makes ``gradient_steps`` updates of minibatches sampled from
the replay buffer (once it holds ``learning_starts`` transitions). With ``replay=false`` the update
after each step uses just the transitions of that step.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from agentapp.engine import schedules
from agentapp.engine.algorithms.base import Iteration
from agentapp.engine.algorithms.deep import (
    DeepAlgorithm,
    DeepSettings,
    adam,
    mlp_bytes,
    obs_bytes,
    parse_hidden,
)
from agentapp.engine.buffers import ReplayBatch, ReplayBuffer
from agentapp.engine.frame_replay import FrameReplayBuffer
from agentapp.engine.insight import Q_VALUES, Insight
from agentapp.engine.networks import QNetwork
from agentapp.engine.pixel_networks import is_pixels
from agentapp.params import setting


@dataclass(frozen=True)
class DQNSettings(DeepSettings):
    """Settings of DQN (defaults: CleanRL's ``dqn.py``; presets tune them per game)."""

    learning_rate: float = setting(2.5e-4, "Adam step size.", low=0.0, low_open=True)
    buffer_size: int = setting(10_000, "Transitions the replay buffer holds.", low=1)
    learning_starts: int = setting(1_000, "Transitions collected before learning starts.", low=0)
    batch_size: int = setting(128, "Transitions per minibatch.", low=1)
    train_freq: int = setting(10, "Steps of each environment between rounds of updates.", low=1)
    gradient_steps: int = setting(1, "Minibatch updates per round.", low=1)
    gamma: float = setting(0.99, "Discount factor.", low=0.0, high=1.0)
    target_update_interval: int = setting(500, "Steps between target network updates.", low=1)
    tau: float = setting(1.0, "Target update: 1 copies the network, less is Polyak averaging "
                         "theta' <- tau theta + (1 - tau) theta'.", low=0.0, high=1.0,
                         low_open=True)
    epsilon: float = setting(1.0, "Initial exploration rate.", low=0.0, high=1.0)
    epsilon_end: float = setting(0.05, "Final exploration rate.", low=0.0, high=1.0)
    exploration_fraction: float = setting(0.5, "Fraction of the budget over which epsilon "
                                          "falls linearly.", low=0.0, high=1.0)
    loss: str = setting("huber", "TD loss.", choices=("huber", "mse"))
    max_grad_norm: float = setting(10.0, "Clip the gradient norm to this.", low=0.0,
                                   low_open=True)
    double: bool = setting(False, "Double DQN: the online network picks the next action, the "
                           "target network values it (van Hasselt et al. 2016).")
    dueling: bool = setting(False, "Dueling heads: Q = V + A - mean A (Wang et al. 2016).")
    n_step: int = setting(1, "Bootstrap after n rewards (n-step returns).", low=1)
    replay: bool = setting(True, "Learn from replayed minibatches (false: from the latest "
                           "transitions only).")
    target: bool = setting(True, "Bootstrap from a target network (false: from the online "
                           "network itself).")
    hidden: str = setting("120,84", "Hidden layer sizes.")
    orthogonal_init: bool = setting(False, "Orthogonal initialisation of the MLP layers (false, "
                                    "the default: PyTorch's own, as Stable-Baselines3 and CleanRL "
                                    "have it: with RL Zoo's 1-step MountainCar settings it "
                                    "solved 2 seeds of 3, orthogonal 1).")
    save_buffer: bool = setting(False, "Save the replay buffer beside each checkpoint "
                                "(replay.pt, step_<N>.replay.pt), for exact resume.")


class DQN(DeepAlgorithm):
    """DQN over vectorised environments, with its lecture switches."""

    name = "dqn"
    title = "DQN"
    summary = "Q-learning with a network, experience replay and a target network."
    Hyperparameters = DQNSettings
    supports_workers = True

    def __init__(self, game, game_params, hp, **kwargs) -> None:
        super().__init__(game, game_params, hp, **kwargs)
        self.q = QNetwork(self.observation_space, int(self.action_space.n),
                          hidden=parse_hidden(hp.hidden), dueling=hp.dueling,
                          network=hp.network, orthogonal=hp.orthogonal_init).to(self.torch_device)
        self.q_target = copy.deepcopy(self.q)
        self.q_target.requires_grad_(False)
        self.use_gpu_options(self.q, self.q_target)
        self.params = list(self.q.parameters())
        self.optimizer = adam(self.params, lr=hp.learning_rate)
        self.epsilon_at = schedules.Linear(
            hp.epsilon, hp.epsilon_end, schedules.steps_for(hp.exploration_fraction, self.budget))
        self.buffer = self._replay_buffer()
        self.updates = 0
        self.last_target_update = 0

    @classmethod
    def memory_needed(cls, hp: Any, space, n_envs: int) -> list[tuple[str, int]]:
        """The replay buffer (pixels: each frame once; else obs and next obs) and the online and
        target networks with the gradients and Adam's moments of the online one."""
        frame = obs_bytes(space) // (space.shape[0] if is_pixels(space) else 1)
        per_transition = frame * (1 if is_pixels(space) else 2) + 8 + 12
        capacity = hp.buffer_size if hp.replay else n_envs
        return [(f"--set buffer_size={hp.buffer_size}: the replay buffer",
                 capacity * per_transition),
                (f"--set hidden={hp.hidden}: the networks", mlp_bytes(space, hp.hidden, 5))]

    def _replay_buffer(self) -> ReplayBuffer | FrameReplayBuffer:
        """Pixel games keep each frame once and rebuild the stacks when sampling (a 1M replay
        of Atari frames fits in 7.5 GB, not 56); everything else stores whole observations."""
        hp, shape = self.hp, self.observation_space.shape or ()
        if hp.replay and is_pixels(self.observation_space):
            return FrameReplayBuffer(hp.buffer_size, shape, n_envs=self.n_envs, n_step=hp.n_step,
                                     gamma=hp.gamma, device=self.torch_device)
        dtype = np.int64 if not shape else (
            np.uint8 if self.observation_space.dtype == np.uint8 else np.float32)
        return ReplayBuffer(hp.buffer_size if hp.replay else self.n_envs, shape, dtype,
                            n_envs=self.n_envs, n_step=hp.n_step, gamma=hp.gamma,
                            device=self.torch_device)

    def policy_actions(self, obs: torch.Tensor, greedy: bool) -> torch.Tensor:
        return self.q(obs).argmax(dim=1)

    def batch_insight(self, obs: torch.Tensor) -> Insight:
        """The online network's Q(s, .); V(s) = max_a Q(s, a), what greedy acting goes by."""
        q = self.q(obs)[0].cpu().numpy()
        return Insight(Q_VALUES, q, float(q.max()))

    def _explore(self, obs: np.ndarray, epsilon: float | None = None) -> np.ndarray:
        """Epsilon-greedy: each environment acts at random with probability epsilon (the
        schedule's at this step, unless given: a rollout worker is given the learner's)."""
        began = time.perf_counter()
        with torch.no_grad():
            actions = self.q(self.as_tensor(obs)).argmax(dim=1).cpu().numpy()
        epsilon = self.epsilon_at(self.steps) if epsilon is None else epsilon
        random = self.rng.random(self.n_envs) < epsilon
        actions[random] = self.rng.integers(self.action_space.n, size=int(random.sum()))
        self.timings["act"] += time.perf_counter() - began
        return actions

    def train_iteration(self, max_steps: int) -> Iteration:
        if self.remote is not None:  # --workers: Ray actors play, this process learns
            return self._learn_from_workers(max_steps)
        hp, start, finished, losses = self.hp, self.steps, [], []
        self.start_envs()
        for _ in range(hp.train_freq):
            actions = self._explore(self.obs)
            next_obs, rewards, terminated, truncated, infos, ended = self.step_envs(actions)
            losses += self._store(self.obs, actions, rewards, terminated, truncated,
                                  self.true_next_obs(next_obs, infos))
            self.obs = next_obs
            finished.extend(ended)
        losses += self._round_of_updates()
        return Iteration(steps=self.steps - start, metrics=self._metrics(losses),
                         episodes=finished)

    def _learn_from_workers(self, max_steps: int) -> Iteration:
        """One chunk of steps played by the rollout workers with the weights and epsilon of its
        start (``engine/rollout_workers.py``), learnt from as local training learns: stored step
        by step, ``gradient_steps`` updates per ``train_freq`` steps, target updates by step."""
        hp, start, losses = self.hp, self.steps, []
        steps = self.remote.chunk_steps(hp.train_freq, max_steps)
        chunk, finished = self.remote.collect_transitions(self, self.epsilon_at(self.steps), steps)
        for t in range(steps):
            self.steps += self.n_envs
            losses += self._store(chunk.obs[t], chunk.actions[t], chunk.rewards[t],
                                  chunk.terminated[t], chunk.truncated[t], chunk.next_obs[t])
            if (t + 1) % hp.train_freq == 0:
                losses += self._round_of_updates()
        self.episodes += len(finished)
        return Iteration(steps=self.steps - start, metrics=self._metrics(losses),
                         episodes=finished)

    def _store(self, obs, actions, rewards, terminated, truncated, next_obs) -> list:
        """Add one step of every environment; without replay, learn from it at once."""
        self.buffer.add(obs, actions, rewards, terminated, truncated, next_obs)
        if not self.hp.replay and len(self.buffer) >= self.n_envs:
            self._update_target()
            return [self._learn(self.buffer.sample(len(self.buffer), self.rng))]
        return []

    def _round_of_updates(self) -> list:
        """What follows ``train_freq`` steps: a target update when due, then ``gradient_steps``
        replayed minibatches once the buffer holds ``learning_starts`` transitions."""
        hp, losses = self.hp, []
        self._update_target()
        if hp.replay and len(self.buffer) >= max(hp.learning_starts, hp.batch_size):
            for _ in range(hp.gradient_steps):
                losses.append(self._learn(self.buffer.sample(hp.batch_size, self.rng)))
        return losses

    def _metrics(self, losses: list) -> dict[str, float]:
        """The iteration's figures; the losses and the gradient norm (before clipping) are
        means over its updates, read from the device once."""
        metrics = {"charts/epsilon": self.epsilon_at(self.steps),
                   "charts/replay_fill": len(self.buffer) / self.buffer.capacity,
                   "charts/learning_rate": float(self.optimizer.param_groups[0]["lr"])}
        if losses:
            td_loss, q_values, grad_norm = torch.stack([torch.stack(x) for x in losses]).mean(0)
            metrics.update({"losses/td_loss": td_loss.item(), "losses/q_values": q_values.item(),
                            "charts/grad_norm": grad_norm.item()})
        return {**metrics, **self.worker_metrics()}

    def _learn(self, batch: ReplayBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One gradient step on *batch*; returns the loss, the mean Q(s, a) taken and the
        gradient norm before clipping (tensors, still on the device)."""
        hp = self.hp
        bootstrap_net = self.q_target if hp.target else self.q
        # the buffer keeps raw observations; normalise them with the statistics of now
        obs, next_obs = self.normalizer.obs(batch.obs), self.normalizer.obs(batch.next_obs)
        with torch.no_grad():
            next_q = bootstrap_net(next_obs)
            if hp.double:  # a* = argmax_a Q_online(s', a), valued by the bootstrap network
                best = self.q(next_obs).argmax(dim=1, keepdim=True)
                next_value = next_q.gather(1, best).squeeze(1)
            else:  # max_a Q_target(s', a)
                next_value = next_q.max(dim=1).values
            # y = R^(k) + gamma^k (1 - done) max_a Q(s', a)   (Mnih et al. 2015, eq. 2; k-step)
            target = batch.rewards + batch.discounts * (1.0 - batch.dones) * next_value
        q_taken = self.q(obs).gather(1, batch.actions.long().view(-1, 1)).squeeze(1)
        if hp.loss == "huber":
            loss = F.smooth_l1_loss(q_taken, target)
        else:
            loss = F.mse_loss(q_taken, target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(self.params, hp.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        return loss.detach(), q_taken.detach().mean(), grad_norm.detach()

    def _update_target(self) -> None:
        hp = self.hp
        if not hp.target or self.steps - self.last_target_update < hp.target_update_interval:
            return
        self.last_target_update = self.steps
        with torch.no_grad():  # theta' <- tau theta + (1 - tau) theta'
            for online, target in zip(self.q.parameters(), self.q_target.parameters(),
                                      strict=True):
                target.lerp_(online, hp.tau)

    def state_dict(self) -> dict[str, Any]:
        return {
            **self.common_state(),
            "q": self.q.state_dict(),
            "q_target": self.q_target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "updates": self.updates,
            "last_target_update": self.last_target_update,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.q.load_state_dict(state["q"])
        self.q_target.load_state_dict(state["q_target"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.updates = int(state["updates"])
        self.last_target_update = int(state["last_target_update"])
        self.load_common_state(state)

    def side_files(self) -> dict[str, dict[str, Any]]:
        """The replay buffer, saved beside the checkpoint when ``save_buffer`` is on."""
        return {"replay": self.buffer.state_dict()} if self.hp.save_buffer else {}

    def side_file_names(self) -> tuple[str, ...]:
        return ("replay",) if self.hp.save_buffer else ()

    def load_side_file(self, name: str, state: dict[str, Any]) -> None:
        if name == "replay":
            self.buffer.load_state_dict(state)
