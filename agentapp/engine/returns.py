"""Returns and advantages: the targets that REINFORCE, A2C and PPO regress on.

Written once here, checked once against hand-computed numbers, and read by every policy-gradient
method, so the backward recursions below are the only place the maths can go wrong.

Conventions (shared with ``buffers.RolloutBuffer``):

- Arrays are time-major, ``[T, N]``: T steps of N parallel environments (``[T]`` for one episode).
- ``dones[t] = 1.0`` when the episode ended at step t, whether it was *terminated* (a terminal
  state: nothing follows) or *truncated* (a time limit: the game would have gone on). Either way
  nothing after step t belongs to the same episode.
- Truncation is bootstrapped by the caller, before these functions: when an episode is truncated
  at step t, the caller adds ``gamma * V(final_obs)`` to ``rewards[t]`` (as Stable-Baselines3
  does), so the value of the state the time limit cut off still counts. These functions then only
  need ``dones``.
- ``last_values[n]`` is V(s_T) of the observation after the last step of env n (the start of the
  next rollout); it is ignored where ``dones[T-1, n] = 1``.

Functions accept torch tensors (and, for convenience, numpy arrays) and return the same kind.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

Array = Any
"""A torch tensor or a numpy array."""


def _as_float(x: Array) -> Array:
    """*x* with a floating dtype (integer rewards or boolean dones become float)."""
    if isinstance(x, torch.Tensor):
        return x if x.is_floating_point() else x.float()
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def _zeros_like(x: Array) -> Array:
    return torch.zeros_like(x) if isinstance(x, torch.Tensor) else np.zeros_like(x)


def discounted_returns(rewards: Array, gamma: float) -> Array:
    """Reward-to-go of one episode: G_t = r_t + gamma G_{t+1}, G_T = 0 (Sutton & Barto eq. 3.9).

    *rewards* is ``[T]``; the result is ``[T]``.
    """
    rewards = _as_float(rewards)
    out = _zeros_like(rewards)
    running = 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running
        out[t] = running
    return out


def episode_returns(
    rewards: Array, dones: Array, gamma: float, last_values: Array | None = None
) -> Array:
    """Reward-to-go within episodes across a ``[T, N]`` batch with episode ends inside it.

    G_t = r_t + gamma (1 - done_t) G_{t+1}, with G_T = ``last_values`` (0 when None): the Monte
    Carlo return where the episode ends inside the batch, bootstrapped where it runs past the end.
    """
    rewards, dones = _as_float(rewards), _as_float(dones)
    out = _zeros_like(rewards)
    running = _zeros_like(rewards[0]) if last_values is None else _as_float(last_values)
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * (1.0 - dones[t]) * running  # eq. 3.9, cut at episode ends
        out[t] = running
    return out


def gae(
    rewards: Array,
    values: Array,
    dones: Array,
    last_values: Array,
    gamma: float,
    lam: float,
) -> tuple[Array, Array]:
    """Generalised advantage estimation (Schulman et al. 2016, eq. 16): ``(advantages, returns)``.

    delta_t = r_t + gamma V(s_{t+1}) (1 - done_t) - V(s_t)      (the TD error, eq. 10)
    A_t     = delta_t + gamma lam (1 - done_t) A_{t+1},   A_T = 0
    returns = A_t + V(s_t)                                     (the critic's regression target)

    ``lam = 0`` gives one-step TD advantages; ``lam = 1`` gives the bootstrapped n-step return
    minus V(s_t), i.e. ``episode_returns(rewards, dones, gamma, last_values) - values`` (A2C).
    All arrays are ``[T, N]`` except ``last_values``, ``[N]``.
    """
    rewards, values, dones = _as_float(rewards), _as_float(values), _as_float(dones)
    advantages = _zeros_like(rewards)
    next_advantage = _zeros_like(rewards[0])
    next_value = _as_float(last_values)
    for t in reversed(range(len(rewards))):
        not_done = 1.0 - dones[t]
        delta = rewards[t] + gamma * next_value * not_done - values[t]
        next_advantage = delta + gamma * lam * not_done * next_advantage
        advantages[t] = next_advantage
        next_value = values[t]
    return advantages, advantages + values
