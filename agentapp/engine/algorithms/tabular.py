"""What the tabular methods share, and nothing more.

Model-free methods (Q-learning, SARSA, Monte Carlo control) share :class:`QTableMethod`: the
Q-table, the training environment and its mid-episode state, the agent's random generator, the
epsilon and step-size schedules, epsilon-greedy exploration, greedy acting, and the parts of
``state_dict`` that hold all of that. Each method keeps its own update in its own file.

Planning methods (value and policy iteration) share :class:`Planner` and the Bellman backup
:func:`action_values`, computed from the expected one-step model :class:`TabularModel` built once
from the environment's ``P`` table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from gymnasium import spaces

from agentapp.engine import schedules
from agentapp.engine.algorithms.base import Algorithm, TabularView, method_rng
from agentapp.engine.algorithms.one_env import OneEnvEpisodes
from agentapp.engine.insight import Q_VALUES, Insight
from agentapp.errors import UserError
from agentapp.games.registry import DISCRETE_OBS, Game
from agentapp.params import setting

if TYPE_CHECKING:
    import torch

DEFAULT_GAMMA = 0.99
"""The discount used when neither the settings nor the game name one."""


def resolve_gamma(game: Game, game_params: Any, gamma: float | None) -> float:
    """``gamma`` from the settings, else the game's own discount, else :data:`DEFAULT_GAMMA`."""
    if gamma is not None:
        return float(gamma)
    own = game.default_gamma(game_params)
    return DEFAULT_GAMMA if own is None else float(own)


def discrete_size(space: spaces.Space, what: str) -> int:
    if not isinstance(space, spaces.Discrete):
        raise UserError(f"tabular methods need a discrete {what} space, got {space}")
    return int(space.n)


def greedy_action(q_row: np.ndarray) -> int:
    """The first action with the highest value (deterministic, for evaluation and watching)."""
    return int(np.argmax(q_row))


def tie_broken_argmax(q_row: np.ndarray, rng: np.random.Generator) -> int:
    """A uniformly random action among those with the highest value.

    Used while training so that a table of equal initial values does not always pick action 0.
    """
    best = np.flatnonzero(q_row == q_row.max())
    return int(best[0]) if len(best) == 1 else int(rng.choice(best))


def epsilon_greedy(q_row: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    """With probability epsilon a uniformly random action, else a greedy one (ties at random)."""
    if rng.random() < epsilon:
        return int(rng.integers(len(q_row)))
    return tie_broken_argmax(q_row, rng)


def to_tensor(table: np.ndarray) -> torch.Tensor:
    """A copy of *table* as a tensor, for checkpoints."""
    import torch  # imported here: listing the algorithms (``agentapp --help``) needs no torch

    return torch.from_numpy(np.array(table, copy=True))


def to_array(tensor: torch.Tensor, dtype: type = np.float64) -> np.ndarray:
    return tensor.detach().cpu().numpy().astype(dtype, copy=True)


@dataclass(frozen=True)
class TDControlSettings:
    """What every tabular control method is tuned by: discount, step size, exploration."""

    gamma: float | None = setting(
        None, "Discount factor; empty means the game's own discount (else 0.99).", low=0.0, high=1.0
    )
    alpha: float = setting(
        0.1, "Step size: how far each update moves Q(s,a).", low=0.0, high=1.0, low_open=True
    )
    alpha_end: float = setting(
        0.01,
        "Final step size, reached at the end of the budget (unless alpha_schedule is constant).",
        low=0.0,
        high=1.0,
    )
    alpha_schedule: str = setting(
        "constant",
        "How the step size moves from alpha to alpha_end over the budget.",
        choices=schedules.KINDS,
    )
    epsilon: float = setting(1.0, "Initial exploration rate of epsilon-greedy.", low=0.0, high=1.0)
    epsilon_end: float = setting(0.05, "Final exploration rate.", low=0.0, high=1.0)
    epsilon_decay: float = setting(
        0.5,
        "Fraction of the budget over which epsilon falls linearly to epsilon_end "
        "(0 means epsilon_end from the start).",
        low=0.0,
        high=1.0,
    )
    q_init: float = setting(0.0, "Initial value of every Q(s,a).")


def _alpha_schedule(hp: Any, budget: int) -> schedules.Schedule:
    """The step size alpha(t) the settings ask for; UserError when it cannot be built."""
    try:
        return schedules.make(hp.alpha_schedule, hp.alpha, hp.alpha_end, budget)
    except ValueError as exc:
        raise UserError(f"--set alpha_schedule={hp.alpha_schedule}: {exc}") from None


class QTableMethod(OneEnvEpisodes, Algorithm):
    """Base of the model-free tabular methods: a Q-table learned from observations.

    Subclasses implement :meth:`train_iteration` with their own update, and extend
    :meth:`state_dict` / :meth:`load_state_dict` with any extra mid-episode state. The episode in
    progress lives in the instance (``obs``, ``episode_return``, ``episode_length``) and in the
    environment's own snapshot, so where iteration boundaries fall never changes the result.
    """

    requires = frozenset({DISCRETE_OBS})
    step_unit = "steps"

    @classmethod
    def check_settings(cls, hp: Any, game, game_params: Any, n_envs: int = 1) -> None:
        """The step-size schedule must be one that can be built (an exponential one cannot reach
        0): refused before the run folder is made, not when the agent is."""
        _alpha_schedule(hp, 1)

    def __init__(self, game, game_params, hp, **kwargs) -> None:
        super().__init__(game, game_params, hp, **kwargs)
        self.gamma = resolve_gamma(game, game_params, hp.gamma)
        self.env = game.make(game_params)
        self.n_obs = discrete_size(self.env.observation_space, "observation")
        self.n_actions = discrete_size(self.env.action_space, "action")
        self.q = np.full((self.n_obs, self.n_actions), float(hp.q_init), dtype=np.float64)
        self.rng = method_rng(self.seed)
        self.epsilon_at = schedules.Linear(
            hp.epsilon, hp.epsilon_end, schedules.steps_for(hp.epsilon_decay, self.budget)
        )
        self.alpha_at = _alpha_schedule(hp, self.budget)
        self.steps = 0
        """Environment steps taken so far: what the schedules are functions of."""
        self.episodes = 0
        """Training episodes finished so far."""
        self.obs = self._reset(seed=self.seed)

    # -- the episode in progress -------------------------------------------------------------

    def schedule_metrics(self) -> dict[str, float]:
        return {
            "charts/epsilon": self.epsilon_at(self.steps),
            "charts/alpha": self.alpha_at(self.steps),
        }

    # -- acting and inspecting ---------------------------------------------------------------

    def act(self, obs: Any, greedy: bool = True, rng: np.random.Generator | None = None) -> int:
        q_row = self.q[int(obs)]
        if greedy:
            return greedy_action(q_row)
        return epsilon_greedy(q_row, self.epsilon_at(self.steps), rng or np.random.default_rng())

    def tabular_view(self) -> TabularView:
        return TabularView(values=self.q.max(axis=1), policy=self.q.argmax(axis=1), q=self.q.copy())

    def insight(self, obs: Any) -> Insight:
        """The Q-table's row of *obs*; V = max_a Q(obs, a)."""
        row = self.q[int(obs)]
        return Insight(Q_VALUES, row, float(row.max()))

    def broken_parameter(self) -> str | None:
        """A huge step size or reward can overflow the table; the loop then stops before a save."""
        return None if np.isfinite(self.q).all() else "the Q-table"

    # -- checkpoints ---------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "q": to_tensor(self.q),
            **self.episode_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        q = to_array(state["q"])
        if q.shape != self.q.shape:
            raise UserError(
                f"checkpoint Q-table has shape {q.shape}, this game needs {self.q.shape}"
            )
        self.q = q
        self.load_episode_state(state)


@dataclass(frozen=True)
class TabularModel:
    """The expected one-step model of an MDP, built from a gymnasium-style ``P`` table.

    ``P[s][a]`` lists ``(prob, next_state, reward, terminated)``. A terminated transition pays its
    reward but does not bootstrap, so it adds to ``reward`` and not to ``continuation``.
    """

    reward: np.ndarray
    """R(s, a) = sum over outcomes of p * r  (n_states x n_actions)."""
    continuation: np.ndarray
    """C(s, a, s') = sum of p over outcomes that land in s' without terminating (S x A x S)."""

    @classmethod
    def from_p(cls, P: Any, n_states: int, n_actions: int) -> TabularModel:
        reward = np.zeros((n_states, n_actions))
        continuation = np.zeros((n_states, n_actions, n_states))
        for s in range(n_states):
            for a in range(n_actions):
                for prob, s_next, r, terminated in P[s][a]:
                    reward[s, a] += prob * r
                    if not terminated:
                        continuation[s, a, s_next] += prob
        return cls(reward, continuation)


def action_values(model: TabularModel, v: np.ndarray, gamma: float) -> np.ndarray:
    """One Bellman backup of every state-action pair from state values V:

    Q(s,a) = sum_{s',r} p(s',r|s,a) [r + gamma V(s')]   (Sutton & Barto eq. 4.6, as a lookahead)
    """
    return model.reward + gamma * model.continuation @ v


class Planner(Algorithm):
    """Base of the planning methods: the model, the state values V, acting greedily on them."""

    step_unit = "sweeps"

    def __init__(self, game, game_params, hp, **kwargs) -> None:
        super().__init__(game, game_params, hp, **kwargs)
        self.gamma = resolve_gamma(game, game_params, hp.gamma)
        self.env = game.make(game_params)
        env = self.env.unwrapped
        self.n_states = discrete_size(self.env.observation_space, "observation")
        self.n_actions = discrete_size(self.env.action_space, "action")
        self.model = TabularModel.from_p(env.P, self.n_states, self.n_actions)
        self.v = np.zeros(self.n_states)
        self.sweeps = 0
        self.converged = False

    def broken_parameter(self) -> str | None:
        return None if np.isfinite(self.v).all() else "V"

    def q_row(self, s: int) -> np.ndarray:
        """Q(s, .) backed up from V for one state (see :func:`action_values`)."""
        return self.model.reward[s] + self.gamma * self.model.continuation[s] @ self.v

    def greedy_at(self, s: int) -> int:
        """The policy's action in state *s*: first argmax of Q(s, .) unless a subclass keeps one."""
        return greedy_action(self.q_row(s))

    def policy(self) -> np.ndarray:
        """The policy's action in every state."""
        return action_values(self.model, self.v, self.gamma).argmax(axis=1)

    def act(self, obs: Any, greedy: bool = True, rng: np.random.Generator | None = None) -> int:
        """The policy's action; ``greedy=False`` picks at random among equally good actions."""
        s = int(obs)
        if greedy:
            return self.greedy_at(s)
        q_row = self.q_row(s)
        best = np.flatnonzero(q_row >= q_row.max() - 1e-9)
        return int((rng or np.random.default_rng()).choice(best))

    def insight(self, obs: Any) -> Insight:
        """Q(s, .) backed up from V by one lookahead, and V(s) itself (policy iteration's V is
        that of its current policy, which may keep an action the backup merely ties)."""
        s = int(obs)
        return Insight(Q_VALUES, self.q_row(s), float(self.v[s]))

    def tabular_view(self) -> TabularView:
        q = action_values(self.model, self.v, self.gamma)
        return TabularView(values=self.v.copy(), policy=self.policy(), q=q)

    def close(self) -> None:
        self.env.close()
