"""Experience storage: a rollout buffer for on-policy methods and a replay buffer for DQN.

:class:`RolloutBuffer` (A2C, PPO, REINFORCE) holds one rollout of ``n_steps`` steps of ``n_envs``
environments as torch tensors on the learner's device, computes GAE over it (``returns.gae``) and
hands out shuffled minibatches of the flattened ``T*N`` samples, as Stable-Baselines3's
``RolloutBuffer`` does. It follows the conventions of ``returns.py``: ``done`` is 1 when the
episode ended at that step, and the caller has already folded ``gamma * V(final_obs)`` into the
reward of a truncated step.

:class:`ReplayBuffer` (DQN) keeps a large ring of past transitions in numpy (CPU memory) and
samples uniform minibatches to torch tensors on the device. It can store n-step transitions
(Sutton & Barto ch. 7; Rainbow): the target becomes
    y = R + gamma^k (1 - done) max_a Q(s', a),   R = sum_{i<k} gamma^i r_{t+i}
with k = n except where an episode ended sooner. Each sample carries its own ``discounts`` =
gamma^k, so the learner never needs to know n. ``dones`` are 1 only for *termination*: a
truncated episode still bootstraps from its true last observation.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

from agentapp.engine.returns import gae


class Batch(NamedTuple):
    """A minibatch of on-policy samples (flattened over time and environments)."""

    obs: torch.Tensor
    actions: torch.Tensor
    old_log_probs: torch.Tensor
    old_values: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor


class RolloutBuffer:
    """One rollout of ``[n_steps, n_envs]`` transitions as tensors on *device*."""

    def __init__(
        self,
        n_steps: int,
        n_envs: int,
        obs_shape: Sequence[int],
        obs_dtype: torch.dtype,
        action_shape: Sequence[int] = (),
        action_dtype: torch.dtype = torch.long,
        device: str | torch.device = "cpu",
    ) -> None:
        self.n_steps, self.n_envs = n_steps, n_envs
        self.device = torch.device(device)
        size = (n_steps, n_envs)

        def zeros(shape: Sequence[int] = (), dtype: torch.dtype = torch.float32) -> torch.Tensor:
            return torch.zeros((*size, *shape), dtype=dtype, device=self.device)

        self.obs = zeros(tuple(obs_shape), obs_dtype)
        self.actions = zeros(tuple(action_shape), action_dtype)
        self.rewards, self.dones = zeros(), zeros()
        self.values, self.log_probs = zeros(), zeros()
        self.advantages, self.returns = zeros(), zeros()
        self.pos = 0
        self.computed = False

    @property
    def full(self) -> bool:
        return self.pos == self.n_steps

    def reset(self) -> None:
        """Start a new rollout (the storage is reused, not reallocated)."""
        self.pos = 0
        self.computed = False

    def _put(self, target: torch.Tensor, value: Any, flat: bool = False) -> None:
        value = torch.as_tensor(value, device=self.device)
        if value.requires_grad:
            value = value.detach()
        target[self.pos] = value.reshape(self.n_envs) if flat else value

    def add(self, obs: Any, action: Any, reward: Any, done: Any, value: Any, log_prob: Any) -> None:
        """Store one step of every environment (each argument ``[n_envs, ...]``, tensor or
        numpy). ``obs`` is the observation the action was chosen from; ``done`` 1.0 when the
        episode ended at this step (terminated or truncated)."""
        if self.full:
            raise RuntimeError("RolloutBuffer is full: call reset() before adding more")
        self._put(self.obs, obs)
        self._put(self.actions, action)
        for target, item in ((self.rewards, reward), (self.dones, done),
                             (self.values, value), (self.log_probs, log_prob)):
            self._put(target, item, flat=True)
        self.pos += 1
        self.computed = False

    def compute(self, last_values: Any, gamma: float, lam: float) -> None:
        """Advantages and returns of the steps stored so far by GAE (``returns.gae``);
        *last_values* is V of the observation after the last step, ``[n_envs]``."""
        last = torch.as_tensor(last_values, device=self.device, dtype=torch.float32)
        t = self.pos
        advantages, returns = gae(
            self.rewards[:t], self.values[:t], self.dones[:t],
            last.detach().reshape(self.n_envs), gamma, lam,
        )
        self.advantages[:t] = advantages
        self.returns[:t] = returns
        self.computed = True

    def _flat(self) -> tuple[torch.Tensor, ...]:
        """Views of the stored steps with time and environments merged (no copies)."""
        if not self.computed:
            raise RuntimeError("call compute() before reading batches")
        t = self.pos * self.n_envs
        items = (self.obs, self.actions, self.log_probs, self.values, self.advantages,
                 self.returns)
        return tuple(x[: self.pos].reshape(t, *x.shape[2:]) for x in items)

    def batch(self) -> Batch:
        """Every stored sample in time-major order, as one batch (A2C, REINFORCE)."""
        return Batch(*self._flat())

    def minibatches(self, batch_size: int, generator: torch.Generator) -> Iterator[Batch]:
        """One epoch: a shuffled pass over all ``T*N`` samples in batches of *batch_size* (the
        last one smaller when it does not divide), so every sample is seen exactly once."""
        flat = self._flat()
        total = flat[0].shape[0]
        order = torch.randperm(total, generator=generator, device=generator.device)
        order = order.to(self.device)
        for start in range(0, total, batch_size):
            index = order[start : start + batch_size]
            yield Batch(*(x[index] for x in flat))


class ReplayBatch(NamedTuple):
    """A minibatch of transitions: the target is rewards + discounts * (1 - dones) * bootstrap."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor
    dones: torch.Tensor
    discounts: torch.Tensor


_FIELDS = ("obs", "actions", "rewards", "next_obs", "dones", "discounts")


class ReplayBuffer:
    """A ring of the last *capacity* (n-step) transitions in numpy, sampled to *device*."""

    def __init__(
        self,
        capacity: int,
        obs_shape: Sequence[int],
        obs_dtype: Any = np.float32,
        n_envs: int = 1,
        n_step: int = 1,
        gamma: float = 0.99,
        device: str | torch.device = "cpu",
        action_shape: Sequence[int] = (),
        action_dtype: Any = np.int64,
    ) -> None:
        if capacity < 1 or n_step < 1:
            raise ValueError("ReplayBuffer needs capacity >= 1 and n_step >= 1")
        self.capacity, self.n_envs, self.n_step, self.gamma = capacity, n_envs, n_step, gamma
        self.device = torch.device(device)
        self.obs_shape, self.action_shape = tuple(obs_shape), tuple(action_shape)
        self.obs = np.zeros((capacity, *self.obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros_like(self.obs)
        self.actions = np.zeros((capacity, *self.action_shape), dtype=action_dtype)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.dones = np.zeros(capacity, dtype=np.float32)
        self.discounts = np.zeros(capacity, dtype=np.float32)
        self.pos = 0  # next row to write
        self.size = 0
        # Per env, the last < n one-step transitions (obs, action, reward, next_obs) whose
        # n-step window is still open.
        self.windows: list[deque] = [deque() for _ in range(n_envs)]

    def __len__(self) -> int:
        return self.size

    def _store(self, obs, action, reward: float, next_obs, done: float, steps: int) -> None:
        i = self.pos
        self.obs[i], self.actions[i], self.next_obs[i] = obs, action, next_obs
        self.rewards[i], self.dones[i] = reward, done
        self.discounts[i] = self.gamma**steps
        self.pos = (self.pos + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def _emit(self, window: deque, done: float) -> None:
        """Store the n-step transition starting at the oldest step of *window*: its reward is
        R = sum_k gamma^k r_{t+k} over the window, its next observation the window's last."""
        reward = sum(self.gamma**k * step[2] for k, step in enumerate(window))
        first, last = window[0], window[-1]
        self._store(first[0], first[1], reward, last[3], done, len(window))

    def add(self, obs, actions, rewards, terminated, truncated, next_obs) -> None:
        """Add one step of every environment (arrays with leading dim ``n_envs``). *next_obs*
        must be the true next observation: the final one where an episode ended, not the
        autoreset's first observation of the next episode."""
        obs, next_obs, actions = np.asarray(obs), np.asarray(next_obs), np.asarray(actions)
        rewards = np.asarray(rewards, dtype=np.float64).reshape(self.n_envs)
        terminated = np.asarray(terminated, dtype=bool).reshape(self.n_envs)
        truncated = np.asarray(truncated, dtype=bool).reshape(self.n_envs)
        for env, window in enumerate(self.windows):
            window.append((obs[env].copy(), actions[env].copy(), float(rewards[env]),
                           next_obs[env].copy()))
            if terminated[env] or truncated[env]:
                # Flush: every open window ends here, shorter than n. A terminated one has no
                # bootstrap (done = 1); a truncated one bootstraps from the final observation.
                while window:
                    self._emit(window, float(terminated[env]))
                    window.popleft()
            elif len(window) == self.n_step:
                self._emit(window, 0.0)
                window.popleft()

    def sample(self, batch_size: int, rng: np.random.Generator) -> ReplayBatch:
        """*batch_size* transitions drawn uniformly (with replacement) using *rng*."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty ReplayBuffer")
        index = rng.integers(0, self.size, size=batch_size)

        def to(array: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(array[index], device=self.device)

        return ReplayBatch(*(to(getattr(self, name)) for name in _FIELDS))

    # -- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The stored rows, the write position and the open n-step windows, as tensors and
        plain numbers (loadable with ``torch.load(..., weights_only=True)``)."""
        state: dict[str, Any] = {
            name: torch.from_numpy(getattr(self, name)[: self.size].copy()) for name in _FIELDS
        }
        state.update(
            capacity=self.capacity, n_envs=self.n_envs, n_step=self.n_step, gamma=self.gamma,
            pos=self.pos, size=self.size,
            windows=[self._window_state(w) for w in self.windows],
        )
        return state

    def _window_state(self, window: deque) -> dict[str, torch.Tensor]:
        steps = list(window)
        return {
            "obs": torch.from_numpy(np.array([s[0] for s in steps], dtype=self.obs.dtype)
                                    .reshape(len(steps), *self.obs_shape)),
            "actions": torch.from_numpy(np.array([s[1] for s in steps], dtype=self.actions.dtype)
                                        .reshape(len(steps), *self.action_shape)),
            "rewards": torch.tensor([s[2] for s in steps], dtype=torch.float64),
            "next_obs": torch.from_numpy(np.array([s[3] for s in steps], dtype=self.obs.dtype)
                                         .reshape(len(steps), *self.obs_shape)),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned into a buffer built with the same shape."""
        for key in ("capacity", "n_envs", "n_step"):
            if int(state[key]) != getattr(self, key):
                raise ValueError(
                    f"replay buffer {key} {state[key]} does not match this buffer's "
                    f"{getattr(self, key)}"
                )
        size = int(state["size"])
        for name in _FIELDS:
            getattr(self, name)[:size] = state[name].numpy()
        # gamma stays this buffer's own: the stored rows carry their discounts with them.
        self.pos, self.size = int(state["pos"]), size
        self.windows = [
            deque(zip(w["obs"].numpy().copy(), w["actions"].numpy().copy(),
                      w["rewards"].tolist(), w["next_obs"].numpy().copy(), strict=True))
            for w in state["windows"]
        ]
