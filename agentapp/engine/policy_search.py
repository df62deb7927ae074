"""Policy search without back-propagation: a small parametric policy played for whole episodes,
and the two finite-difference estimators of the policy gradient of the policy-gradient lecture.

Why it exists: before the likelihood-ratio trick, the lectures estimate grad J(theta) by trying
perturbed parameters and watching how the return changes. Both estimators here are pure functions
of a callable ``J(theta)`` (so tests can hand them exact functions):

- :func:`finite_difference_gradient`: one perturbation per parameter,
  g_k = (J(theta + delta e_k) - J(theta - delta e_k)) / (2 delta)  (central), or
  g_k = (J(theta + delta e_k) - J(theta)) / delta  (forward);
- :func:`regression_gradient`: m random perturbations Delta Theta (m x n) and the changes they
  cause, Delta J_i = J(theta + Delta theta_i) - J(theta); the least-squares fit of
  Delta J ~ Delta Theta g is g = pinv(Delta Theta) Delta J = (Delta Theta^T Delta Theta)^-1
  Delta Theta^T Delta J.

:class:`EpisodeRunner` gives the methods their ``J``: the mean undiscounted return of whole
episodes started from given seeds. One iteration plays every perturbation from the same seeds
(common random numbers), so a difference of two estimates measures the parameters, not the luck
of the starting states. The methods themselves (``algorithms/finite_difference.py``, which holds
what the two share, and ``algorithms/regression_gradient.py``) add the step
theta <- theta + alpha g, acting and checkpoints; this module imports no algorithm.

Policies (:class:`ParametricPolicy`) are deterministic, as the lectures' CartPole example is: a
linear map of the observation (``hidden=""``), or a tiny tanh network (``hidden="8"``), gives
one score per action and the agent takes the argmax (discrete actions); for a Box of actions the
scores are the action itself, clipped to the bounds. Discrete observations are one-hot encoded.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from agentapp.errors import UserError
from agentapp.params import shown

Objective = Callable[[np.ndarray], float]
"""J(theta): the (estimated) return of the policy with flat parameters theta."""


# -- the estimators ------------------------------------------------------------------------------


def finite_difference_gradient(J: Objective, theta: np.ndarray, delta: float,
                               central: bool = True, reference: float | None = None) -> np.ndarray:
    """grad J(theta) by perturbing one parameter at a time by *delta*: central differences
    (2n evaluations, error O(delta^2)) or forward differences against J(theta) (n + 1, or n when
    *reference* already holds J(theta); error O(delta))."""
    theta = np.asarray(theta, dtype=np.float64)
    gradient = np.zeros_like(theta)
    if not central and reference is None:
        reference = J(theta)
    for k in range(theta.size):
        e_k = np.zeros_like(theta)
        e_k[k] = delta
        if central:
            # g_k = (J(theta + delta e_k) - J(theta - delta e_k)) / (2 delta)
            gradient[k] = (J(theta + e_k) - J(theta - e_k)) / (2 * delta)
        else:
            # g_k = (J(theta + delta e_k) - J(theta)) / delta
            gradient[k] = (J(theta + e_k) - reference) / delta
    return gradient


def regression_gradient(J: Objective, theta: np.ndarray, perturbations: np.ndarray,
                        reference: float | None = None) -> np.ndarray:
    """grad J(theta) as the least-squares slope of the return changes that the rows of
    *perturbations* (Delta Theta, m x n) cause: g = pinv(Delta Theta) Delta J. With m < n the
    fit is underdetermined and pinv gives its smallest-norm solution. *reference* is J(theta)
    when the caller already has it."""
    theta = np.asarray(theta, dtype=np.float64)
    d_theta = np.asarray(perturbations, dtype=np.float64).reshape(-1, theta.size)
    if reference is None:
        reference = J(theta)
    # Delta J_i = J(theta + Delta theta_i) - J(theta)
    d_j = np.array([J(theta + row) - reference for row in d_theta])
    # g = (Delta Theta^T Delta Theta)^-1 Delta Theta^T Delta J
    return np.linalg.pinv(d_theta) @ d_j


# -- the policy --------------------------------------------------------------------------------


def parse_layers(text: str) -> tuple[int, ...]:
    """``""`` -> ``()`` (a linear policy), ``"8"`` -> ``(8,)``, ``"8,8"`` -> ``(8, 8)``."""
    parts = [part for part in str(text).replace(" ", "").split(",") if part]
    try:
        sizes = tuple(int(part) for part in parts)
    except ValueError:
        sizes = (0,)
    if sizes and min(sizes) < 1:
        raise UserError(f"--set hidden={shown(text)}: expected nothing (a linear policy) or "
                        "layer sizes like 8 or 8,8")
    return sizes


class ParametricPolicy:
    """A deterministic policy with a flat parameter vector theta: scores = f_theta(obs), a linear
    map (no hidden layers) or tanh hidden layers then a linear map; the action is the argmax of
    the scores (discrete actions) or the scores clipped to the bounds (a Box of actions)."""

    def __init__(self, obs_space: spaces.Space, action_space: spaces.Space,
                 hidden: Sequence[int] = ()) -> None:
        self.obs_space, self.action_space = obs_space, action_space
        self.one_hot = isinstance(obs_space, spaces.Discrete)
        in_dim = int(obs_space.n) if self.one_hot else int(np.prod(obs_space.shape))
        self.discrete = isinstance(action_space, spaces.Discrete)
        out_dim = int(action_space.n) if self.discrete else int(np.prod(action_space.shape))
        widths = [in_dim, *hidden, out_dim]
        self.layers = list(itertools.pairwise(widths))
        self.size = sum(a * b + b for a, b in self.layers)
        """n: the number of parameters."""

    def initial(self, rng: np.random.Generator) -> np.ndarray:
        """Weights drawn N(0, 1/fan_in), biases zero: scores of order one from the start."""
        parts = []
        for fan_in, fan_out in self.layers:
            parts += [rng.standard_normal(fan_in * fan_out) / np.sqrt(fan_in), np.zeros(fan_out)]
        return np.concatenate(parts)

    def features(self, obs: Any) -> np.ndarray:
        """A batch of observations as float rows (Discrete: one-hot)."""
        obs = np.asarray(obs)
        if self.one_hot:
            return np.eye(int(self.obs_space.n))[obs.astype(np.int64).reshape(-1)]
        return obs.reshape(len(obs), -1).astype(np.float64)

    def scores(self, theta: np.ndarray, obs: Any) -> np.ndarray:
        """f_theta(obs) for a batch: ``[B, n_actions]`` (or ``[B, action size]``)."""
        x, at = self.features(obs), 0
        for i, (fan_in, fan_out) in enumerate(self.layers):
            weight = theta[at:at + fan_in * fan_out].reshape(fan_in, fan_out)
            at += fan_in * fan_out
            x = x @ weight + theta[at:at + fan_out]
            at += fan_out
            if i < len(self.layers) - 1:
                x = np.tanh(x)
        return x

    def actions(self, theta: np.ndarray, obs: Any) -> np.ndarray:
        scores = self.scores(theta, obs)
        if self.discrete:
            return scores.argmax(axis=1)
        low, high = self.action_space.low, self.action_space.high
        shaped = scores.reshape(len(scores), *self.action_space.shape)
        return np.clip(shaped, low, high).astype(self.action_space.dtype)


class BudgetSpent(Exception):
    """Raised by :meth:`EpisodeRunner.estimate_return` when the step limit is reached."""


class EpisodeRunner:
    """Plays whole episodes of one game with a fixed policy, side by side, from given seeds."""

    def __init__(self, game, game_params: Any, policy: ParametricPolicy) -> None:
        self.game, self.game_params, self.policy = game, game_params, policy
        self.envs: list = []  # grown to the largest number of episodes asked for at once
        self.steps = 0
        """Environment steps played by every call so far."""
        self.last_episodes: list[tuple[float, int]] = []
        """``(return, length)`` of each episode of the latest call."""
        self.stop_at: int | None = None
        """Raise :class:`BudgetSpent` as soon as ``steps`` reaches this (None: never)."""

    def estimate_return(self, theta: np.ndarray, episodes: int,
                        seeds: Sequence[int] | int) -> float:
        """The mean return of *episodes* whole episodes of the policy with parameters *theta*,
        episode i started with ``reset(seed=seeds[i])`` (an int: seeds, seeds + 1, ...). The same
        *theta* and *seeds* always give the same value (common random numbers). Raises
        :class:`BudgetSpent` mid-episode when ``steps`` reaches ``stop_at``."""
        if isinstance(seeds, int | np.integer):
            seeds = [int(seeds) + i for i in range(episodes)]
        seeds = [int(s) for s in seeds][:episodes]
        while len(self.envs) < episodes:
            self.envs.append(self.game.make(self.game_params))
        obs = [self.envs[i].reset(seed=s)[0] for i, s in enumerate(seeds)]
        returns, lengths = np.zeros(episodes), np.zeros(episodes, dtype=np.int64)
        active = list(range(episodes))
        while active:
            actions = self.policy.actions(theta, np.stack([obs[i] for i in active]))
            still = []
            for i, action in zip(active, actions, strict=True):
                obs[i], reward, terminated, truncated, _ = self.envs[i].step(action)
                returns[i] += float(reward)
                lengths[i] += 1
                self.steps += 1
                if self.steps == self.stop_at:
                    raise BudgetSpent
                if not (terminated or truncated):
                    still.append(i)
            active = still
        self.last_episodes = [(float(r), int(n)) for r, n in zip(returns, lengths, strict=True)]
        return float(returns.mean())

    def close(self) -> None:
        for env in self.envs:
            env.close()
        self.envs = []
