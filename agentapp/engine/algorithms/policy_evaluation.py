"""What TD(0) and Monte-Carlo policy evaluation share: the policy, its exact values, the episode.

Why it is here: prediction comes before control in the lectures (Sutton & Barto §5.1 and §6.1,
David Silver lecture 4). A prediction method is given a policy and learns its state values V^pi
from experience, without changing the policy. On a game that offers its model the answer is known
exactly, so the distance of the learned V from the true V^pi can be watched as it shrinks.

- :func:`evaluated_policy` turns ``--set policy=`` into a table pi(a|s), one row per observation:
  ``random`` (uniform), ``optimal`` (greedy on the V* that value iteration computes) or the greedy
  policy of a tabular agent's checkpoint (a file, or a run folder) trained on the same map.
- :func:`policy_values` solves the Bellman expectation equation exactly as a linear system.
- :class:`PolicyEvaluator` holds V, the policy (saved in checkpoints, so a run never needs the
  policy's source again), the training environment, and the distance metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agentapp.engine.algorithms.base import Algorithm, TabularView, method_rng
from agentapp.engine.algorithms.one_env import OneEnvEpisodes
from agentapp.engine.algorithms.tabular import (
    TabularModel,
    discrete_size,
    resolve_gamma,
    to_array,
    to_tensor,
)
from agentapp.engine.insight import PROBABILITIES, Insight
from agentapp.errors import UserError
from agentapp.games.registry import DISCRETE_OBS, MODEL, Game
from agentapp.params import setting, shown

POLICY_HELP = (
    "The policy evaluated: random (uniform over the actions), optimal (greedy on value "
    "iteration's V*; needs the game's model) or a checkpoint file or run of a tabular method "
    "on this map (its greedy policy)."
)


@dataclass(frozen=True)
class EvaluationSettings:
    """What every policy evaluation method takes: the policy, the discount, the initial V."""

    policy: str = setting("random", POLICY_HELP)
    gamma: float | None = setting(
        None, "Discount factor; empty means the game's own discount (else 0.99).", low=0.0, high=1.0
    )
    v_init: float = setting(0.0, "Initial value of every V(s).")


# -- the policy ------------------------------------------------------------------------------------


def evaluated_policy(spec: str, game: Game, params: Any, gamma: float) -> np.ndarray:
    """pi(a|s) for ``--set policy=spec`` (n_obs x n_actions); UserError saying what is wrong."""
    env = game.make(params)
    try:
        n_obs = discrete_size(env.observation_space, "observation")
        n_actions = discrete_size(env.action_space, "action")
    finally:
        env.close()
    name = spec.strip().lower()
    try:
        if name == "random":
            return np.full((n_obs, n_actions), 1.0 / n_actions)
        if name == "optimal":
            return _optimal_policy(game, params, gamma)
        return _checkpoint_policy(spec.strip(), game, params, n_actions)
    except UserError as exc:
        raise UserError(f"--set policy={shown(spec)}: {exc}") from None


def _one_hot(actions: np.ndarray, n_actions: int) -> np.ndarray:
    return np.eye(n_actions)[np.asarray(actions, dtype=np.int64)]


def _optimal_policy(game: Game, params: Any, gamma: float) -> np.ndarray:
    """Greedy on V*, computed by value iteration itself (the planner, not a copy of it)."""
    from agentapp.engine.algorithms.value_iteration import ValueIteration

    if MODEL not in game.capabilities(params):
        raise UserError(f"optimal needs the game's model, which {game.id} does not offer here "
                        f"(a gridworld offers it with obs=index)")
    hp = ValueIteration.Hyperparameters(gamma=gamma)
    planner = ValueIteration(game, params, hp, seed=0, budget=1)
    try:
        for _ in range(100_000):  # gamma = 1 may converge slowly; a cap keeps this finite
            if planner.train_iteration(1).converged:
                break
        return _one_hot(planner.policy(), planner.n_actions)
    finally:
        planner.close()


def _checkpoint_policy(ref: str, game: Game, params: Any, n_actions: int) -> np.ndarray:
    """The greedy policy of a tabular agent saved in a checkpoint file or a run folder."""
    from agentapp import checkpoints, runs
    from agentapp.engine.plan import restore_agent, spaces_of

    path, root = Path(ref).expanduser(), runs.runs_root()
    if not runs.names_a_file(path):
        if not ref or not (path.is_dir() or (root / ref).is_dir()):
            raise UserError("expected random, optimal, or a checkpoint file or run folder of a "
                            "tabular agent on this map")
        path = runs.checkpoint_of(runs.find_run(ref, root))
    ckpt = checkpoints.load(path)
    if ckpt["game"] != game.id:
        raise UserError(f"{path} is a {ckpt['game']} agent, not one for {game.id}")
    if ckpt.get("spaces") != spaces_of(game, params):
        raise UserError(f"{path} was trained on other observations or actions than this run's")
    agent, _, _ = restore_agent(ckpt)
    try:
        if isinstance(agent, PolicyEvaluator):  # an evaluation run: the policy it evaluated
            return agent.pi.copy()
        view = agent.tabular_view()
        if view is None:
            raise UserError(f"{path} is a {ckpt['algo']} agent, which has no table to follow; "
                            f"give a tabular method's checkpoint")
        return _one_hot(view.policy, n_actions)
    finally:
        agent.close()


# -- its exact values ------------------------------------------------------------------------------


def policy_values(model: TabularModel, pi: np.ndarray, gamma: float) -> np.ndarray | None:
    """V^pi exactly, from the Bellman expectation equation as a linear system:

    V = R_pi + gamma C_pi V,  so  (I - gamma C_pi) V = R_pi     (Sutton & Barto eq. 4.4)

    with R_pi(s) = sum_a pi(a|s) R(s,a) and C_pi(s,s') = sum_a pi(a|s) C(s,a,s'). None when the
    system has no unique solution: gamma = 1 and a policy that can go on for ever from some state.
    """
    r_pi = np.einsum("sa,sa->s", pi, model.reward)
    c_pi = np.einsum("sa,sat->st", pi, model.continuation)
    if gamma >= 1.0 and not _always_ends(c_pi):
        return None
    return np.linalg.solve(np.eye(len(r_pi)) - gamma * c_pi, r_pi)


def _always_ends(c_pi: np.ndarray) -> bool:
    """Whether every state can reach one whose episode may end (its row of C_pi sums to less than
    1): then the episode ends with probability 1 from everywhere, and I - C_pi is invertible."""
    can_end = c_pi.sum(axis=1) < 1.0 - 1e-12
    frontier = list(np.flatnonzero(can_end))
    while frontier:  # backwards along the policy's moves
        t = frontier.pop()
        before = np.flatnonzero((c_pi[:, t] > 0) & ~can_end)
        can_end[before] = True
        frontier.extend(int(s) for s in before)
    return bool(can_end.all())


def reachable(model: TabularModel, pi: np.ndarray, starts: list[int]) -> np.ndarray:
    """Which states the policy can visit from the start states: the only ones whose values an
    evaluation can learn, and so the ones its error is measured over."""
    moves = np.einsum("sa,sat->st", pi, model.continuation) > 0
    seen = np.zeros(len(pi), dtype=bool)
    frontier = list(starts)
    while frontier:
        s = frontier.pop()
        if not seen[s]:
            seen[s] = True
            frontier.extend(int(t) for t in np.flatnonzero(moves[s]) if not seen[t])
    return seen


def exact_values(game: Game, params: Any, pi: np.ndarray, gamma: float):
    """``(V^pi, states measured)``, or ``(None, None)`` when the game offers no model (or the
    values are not defined)."""
    if MODEL not in game.capabilities(params):
        return None, None
    env = game.make(params)
    try:
        model = TabularModel.from_p(env.unwrapped.P, *pi.shape)
        grid = getattr(env.unwrapped, "grid", None)
        starts = list(grid.starts) if grid is not None else [int(env.reset(seed=0)[0])]
    finally:
        env.close()
    v = policy_values(model, pi, gamma)
    return (None, None) if v is None else (v, reachable(model, pi, starts))


# -- the method ------------------------------------------------------------------------------------


class PolicyEvaluator(OneEnvEpisodes, Algorithm):
    """Base of the prediction methods: V learned from episodes of one fixed policy.

    Subclasses implement :meth:`train_iteration` with their own update. The episode in progress
    lives in the instance and in the environment's snapshot, as for the control methods.
    """

    requires = frozenset({DISCRETE_OBS})
    step_unit = "steps"
    improves_policy = False

    @classmethod
    def check_settings(cls, hp: Any, game, game_params: Any, n_envs: int = 1) -> None:
        """The policy must be one that can be built: refused before the run folder is made."""
        evaluated_policy(hp.policy, game, game_params, resolve_gamma(game, game_params, hp.gamma))

    def __init__(self, game, game_params, hp, **kwargs) -> None:
        super().__init__(game, game_params, hp, **kwargs)
        self.gamma = resolve_gamma(game, game_params, hp.gamma)
        self.env = game.make(game_params)
        self.n_obs = discrete_size(self.env.observation_space, "observation")
        self.n_actions = discrete_size(self.env.action_space, "action")
        self.v = np.full(self.n_obs, float(hp.v_init))
        # not the environment's stream: the policy's draws would otherwise be the very numbers
        # that decide the slips, and the policy would not be the one evaluated
        self.rng = method_rng(self.seed)
        # The policy is built on first use, unless a checkpoint gives it first: a restored
        # agent never needs the policy's source (a run's checkpoint may since have gone).
        self._pi: np.ndarray | None = None
        self._cumulative: np.ndarray | None = None
        self._v_true: np.ndarray | None = None
        self._measured: np.ndarray | None = None
        self.steps = 0
        """Environment steps taken so far: what a step-size schedule is a function of."""
        self.episodes = 0
        """Training episodes finished so far."""
        self.obs = self._reset(seed=self.seed)

    def _ensure_policy(self) -> None:
        if self._pi is None:
            pi = evaluated_policy(self.hp.policy, self.game, self.game_params, self.gamma)
            self._set_policy(pi)

    def _set_policy(self, pi: np.ndarray) -> None:
        self._pi = pi
        self._cumulative = np.cumsum(pi, axis=1)
        self._v_true, self._measured = exact_values(self.game, self.game_params, pi, self.gamma)

    @property
    def pi(self) -> np.ndarray:
        """pi(a|s) of the evaluated policy, one row per observation."""
        self._ensure_policy()
        return self._pi

    @property
    def v_true(self) -> np.ndarray | None:
        """The exact V^pi (None without the game's model, or where it is not defined)."""
        self._ensure_policy()
        return self._v_true

    @property
    def measured(self) -> np.ndarray | None:
        """The states the distance is measured over: those the policy can reach."""
        self._ensure_policy()
        return self._measured

    def sample_action(self, s: int, rng: np.random.Generator) -> int:
        """An action drawn from pi(.|s) with one uniform draw (a deterministic policy's too)."""
        self._ensure_policy()
        row = self._cumulative[s]
        return min(int(np.searchsorted(row, rng.random(), side="right")), self.n_actions - 1)

    # -- the episode in progress -------------------------------------------------------------

    def error_metrics(self) -> dict[str, float]:
        """The distance of V from the exact V^pi over the states the policy reaches (none
        without the model)."""
        if self.v_true is None:
            return {}
        error = (self.v - self.v_true)[self.measured]
        return {
            "losses/v_error_rms": float(np.sqrt(np.mean(error**2))),
            "charts/v_max_error": float(np.max(np.abs(error))),
        }

    # -- acting and inspecting ---------------------------------------------------------------

    def act(self, obs: Any, greedy: bool = True, rng: np.random.Generator | None = None) -> int:
        """The evaluated policy's action: it is what is being evaluated, so ``greedy`` changes
        nothing; a stochastic policy draws from *rng*."""
        return self.sample_action(int(obs), rng or np.random.default_rng())

    def tabular_view(self) -> TabularView:
        """V, and the policy's most probable action (-1, drawn as no arrow, where several
        actions are equally probable, as everywhere for the random policy)."""
        top = self.pi.max(axis=1, keepdims=True)
        ties = (self.pi >= top - 1e-12).sum(axis=1) > 1
        policy = np.where(ties, -1, self.pi.argmax(axis=1))
        about: dict[str, Any] = {"policy": self.hp.policy}
        about.update({k.split("/")[1]: v for k, v in self.error_metrics().items()})
        return TabularView(values=self.v.copy(), policy=policy, about=about)

    def insight(self, obs: Any) -> Insight:
        """The policy's probabilities in *obs*, and V(obs)."""
        s = int(obs)
        return Insight(PROBABILITIES, self.pi[s], float(self.v[s]))

    def broken_parameter(self) -> str | None:
        return None if np.isfinite(self.v).all() else "V"

    # -- checkpoints ---------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "v": to_tensor(self.v),
            "pi": to_tensor(self.pi),
            **self.episode_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        v, pi = to_array(state["v"]), to_array(state["pi"])
        if v.shape != self.v.shape or pi.shape != (self.n_obs, self.n_actions):
            raise UserError(f"checkpoint V has shape {v.shape}, this game needs {self.v.shape}")
        self.v = v
        self._set_policy(pi)
        self.load_episode_state(state)
