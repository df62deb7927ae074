"""Linear Q-learning: semi-gradient Q-learning with Q(s, a) = w_a · x(s) (Sutton & Barto §10.1).

Why it is here: it is the lectures' bridge from tables to networks. The Q-table becomes a weight
vector per action over features x(s) of the observation, and the table's update becomes a
semi-gradient step: the TD error times the gradient of Q(s, a) with respect to w_a, which for a
linear function is x(s) itself. On one-hot features (the gridworld) x(s) picks one weight per
action, so this *is* tabular Q-learning (a test checks it step for step); on tile-coded features
(CartPole, MountainCar, Acrobot, see ``engine/features.py``) one update moves the value of every
nearby state too: generalisation, the thing a table cannot do and a network does more of.

"Semi" because the target r + gamma max_a' Q(s', a') depends on w as well and is treated as a
constant; that is also why Q-learning with function approximation can diverge (the deadly triad),
which a linear method on these sparse binary features rarely shows in practice.

The step size is ``alpha / n_active`` per feature (``alpha / tilings`` for tile coding), so that
one update moves Q(s, a) by alpha times the TD error, whatever the number of tilings. Like the
tabular methods it trains one environment step by step; an iteration runs until the episode ends
or ``max_steps`` steps are spent, and the episode in progress is kept in checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from agentapp.engine import schedules
from agentapp.engine.algorithms.base import Algorithm, Iteration, TabularView, method_rng
from agentapp.engine.algorithms.one_env import OneEnvEpisodes
from agentapp.engine.algorithms.tabular import (
    epsilon_greedy,
    greedy_action,
    resolve_gamma,
    to_array,
    to_tensor,
)
from agentapp.engine.features import OneHot, TileCoding, feature_map
from agentapp.engine.insight import Q_VALUES, Insight
from agentapp.errors import UserError
from agentapp.games.registry import BOX_OBS, DISCRETE_OBS
from agentapp.params import setting


@dataclass(frozen=True)
class LinearQSettings:
    """Settings of linear Q-learning (defaults as the tabular methods; presets tune them)."""

    gamma: float | None = setting(
        None, "Discount factor; empty means the game's own discount (else 0.99).", low=0.0, high=1.0
    )
    alpha: float = setting(
        0.1, "Step size: how far each update moves Q(s,a) toward its target (each active "
        "feature's weight moves alpha / tilings of it).", low=0.0, high=1.0, low_open=True)
    alpha_end: float = setting(
        0.01, "Final step size, reached at the end of the budget (unless alpha_schedule is "
        "constant).", low=0.0, high=1.0)
    alpha_schedule: str = setting(
        "constant", "How the step size moves from alpha to alpha_end over the budget.",
        choices=schedules.KINDS)
    epsilon: float = setting(1.0, "Initial exploration rate of epsilon-greedy.", low=0.0, high=1.0)
    epsilon_end: float = setting(0.05, "Final exploration rate.", low=0.0, high=1.0)
    exploration_fraction: float = setting(
        0.5, "Fraction of the budget over which epsilon falls linearly to epsilon_end (0 means "
        "epsilon_end from the start).", low=0.0, high=1.0)
    q_init: float = setting(
        0.0, "Initial value of every Q(s,a) (0 is optimistic where every reward is negative, as "
        "in MountainCar).")
    tilings: int = setting(
        8, "Tile coding (Box observations): number of offset tilings, the features active at "
        "once. Ignored for Discrete observations (one-hot).", low=1, high=64)
    tiles_per_dim: int = setting(
        8, "Tile coding (Box observations): tiles across each dimension's range in one tiling.",
        low=1, high=1024)


def _alpha_schedule(hp: LinearQSettings, budget: int) -> schedules.Schedule:
    try:
        return schedules.make(hp.alpha_schedule, hp.alpha, hp.alpha_end, budget)
    except ValueError as exc:
        raise UserError(f"--set alpha_schedule={hp.alpha_schedule}: {exc}") from None


def _features(env: Any, hp: LinearQSettings) -> OneHot | TileCoding:
    name = env.spec.name if env.spec is not None else None
    return feature_map(env.observation_space, name, hp.tilings, hp.tiles_per_dim)


class LinearQ(OneEnvEpisodes, Algorithm):
    """Semi-gradient Q-learning on one-hot or tile-coded features, epsilon-greedy."""

    name = "linear-q"
    title = "Linear Q-learning"
    summary = ("Q-learning with Q(s,a) = w_a · x(s) on one-hot or tile-coded features: "
               "semi-gradient TD steps.")
    Hyperparameters = LinearQSettings
    requires = frozenset()
    requires_any = frozenset({DISCRETE_OBS, BOX_OBS})
    step_unit = "steps"

    @classmethod
    def check_settings(cls, hp: Any, game, game_params: Any, n_envs: int = 1) -> None:
        """The step-size schedule must be buildable, the observations tile-codable (finite
        ranges) and the tiling small enough, before a run folder is made."""
        _alpha_schedule(hp, 1)
        probe = game.make(game_params)
        try:
            _features(probe, hp)
        finally:
            probe.close()

    def __init__(self, game, game_params, hp, **kwargs) -> None:
        super().__init__(game, game_params, hp, **kwargs)
        self.gamma = resolve_gamma(game, game_params, hp.gamma)
        self.env = game.make(game_params)
        self.features = _features(self.env, hp)
        self.n_actions = int(self.env.action_space.n)
        # Q(s, a) = sum of w[i, a] over the active features i; starting every weight at
        # q_init / n_active starts every Q(s, a) at q_init
        self.w = np.full((self.features.n_features, self.n_actions),
                         float(hp.q_init) / self.features.n_active, dtype=np.float64)
        self.rng = method_rng(self.seed)
        self.epsilon_at = schedules.Linear(
            hp.epsilon, hp.epsilon_end, schedules.steps_for(hp.exploration_fraction, self.budget))
        self.alpha_at = _alpha_schedule(hp, self.budget)
        self.steps = 0
        self.episodes = 0
        self.obs = self._reset(seed=self.seed)

    # -- values ----------------------------------------------------------------------------------

    def q_values(self, obs: Any) -> np.ndarray:
        """Q(s, .) = w^T x(s): the sum of the active features' weights, one value per action
        (a batch of observations gives one row each)."""
        return self.w[self.features.active(obs)].sum(axis=-2)

    # -- the episode in progress -------------------------------------------------------------

    def _as_obs(self, obs: Any) -> Any:
        if isinstance(self.env.observation_space, spaces.Discrete):
            return int(obs)
        return np.asarray(obs, dtype=self.env.observation_space.dtype)

    def train_iteration(self, max_steps: int) -> Iteration:
        if max_steps < 1:
            raise ValueError("linear Q-learning needs at least one step")
        td_errors: list[float] = []
        episodes: list[tuple[float, int]] = []
        for _ in range(max_steps):
            active = self.features.active(self.obs)
            q = self.w[active].sum(axis=0)
            a = epsilon_greedy(q, self.epsilon_at(self.steps), self.rng)
            step_size = self.alpha_at(self.steps) / self.features.n_active
            obs, reward, terminated, truncated, _ = self.env.step(a)
            obs, r = self._as_obs(obs), float(reward)
            self.steps += 1
            self.episode_return += r
            self.episode_length += 1

            # w_a <- w_a + alpha [r + gamma max_a' Q(s',a') - Q(s,a)] grad_w Q(s,a), with
            # grad_w Q(s,a) = x(s): only the active features' weights of action a move
            # (S&B eq. 10.1 with Q-learning's target, eq. 6.8). A terminal state has value 0; a
            # truncated episode still bootstraps from its true last observation.
            target = r if terminated else r + self.gamma * float(np.max(self.q_values(obs)))
            delta = target - q[a]
            self.w[active, a] += step_size * delta
            td_errors.append(abs(delta))

            if terminated or truncated:
                episodes.append((self.episode_return, self.episode_length))
                self.episodes += 1
                self.obs = self._reset()
                break
            self.obs = obs

        metrics = {"losses/td_error": float(np.mean(td_errors)),
                   "charts/epsilon": self.epsilon_at(self.steps),
                   "charts/alpha": self.alpha_at(self.steps)}
        return Iteration(steps=len(td_errors), metrics=metrics, episodes=episodes)

    # -- acting and inspecting ---------------------------------------------------------------

    def act(self, obs: Any, greedy: bool = True, rng: np.random.Generator | None = None) -> int:
        q = self.q_values(self._as_obs(obs))
        if greedy:
            return greedy_action(q)
        return epsilon_greedy(q, self.epsilon_at(self.steps), rng or np.random.default_rng())

    def act_batch(
        self, obs: Any, greedy: bool = True, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        if not greedy:
            return super().act_batch(obs, greedy, rng)
        return self.q_values(np.asarray(obs)).argmax(axis=1)  # first best, as greedy_action

    def insight(self, obs: Any) -> Insight:
        """Q(s, .) = w^T x(s); V = max_a Q(s, a)."""
        q = self.q_values(self._as_obs(obs))
        return Insight(Q_VALUES, q, float(q.max()))

    def tabular_view(self) -> TabularView | None:
        """On one-hot features the weights are the Q-table, so the gridworld's heat map and
        arrows work as for the tabular methods; tile codings have no table to show."""
        if not isinstance(self.features, OneHot):
            return None
        return TabularView(values=self.w.max(axis=1), policy=self.w.argmax(axis=1),
                           q=self.w.copy())

    def broken_parameter(self) -> str | None:
        return None if np.isfinite(self.w).all() else "linear-q weights w"

    # -- checkpoints ---------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "w": to_tensor(self.w),
            **self.episode_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        w = to_array(state["w"])
        if w.shape != self.w.shape:
            raise UserError(f"checkpoint weights have shape {w.shape}, these features "
                            f"({self.features}) need {self.w.shape}")
        self.w = w
        self.load_episode_state(state)
