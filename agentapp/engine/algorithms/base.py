"""What every learning method provides to the training loop, the evaluator and the viewers.

The loop (``engine/loop.py``) owns the budget, control requests, checkpoints and evaluations; an
:class:`Algorithm` owns its tables or networks, its training environments and its random state, and
advances training by one small :class:`Iteration` at a time (one sweep, one episode, one rollout and
update). Keeping the agent apart from the loop (as Dopamine does) lets every method share the same
resume, evaluation and front-end code.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from agentapp.engine.events import Frame
from agentapp.engine.insight import Insight
from agentapp.games.registry import DISCRETE_ACTIONS, Game


@dataclass
class Iteration:
    """What one call of :meth:`Algorithm.train_iteration` did."""

    steps: int
    """Agent steps consumed (sweeps for planning methods); at least 1 unless ``converged``."""
    metrics: dict[str, float] = field(default_factory=dict)
    """Namespaced scalars: ``losses/td_error``, ``losses/bellman_residual``, ``charts/epsilon``."""
    episodes: list[tuple[float, int]] = field(default_factory=list)
    """``(return, length)`` of each training episode that ended during this iteration."""
    converged: bool = False
    """True when the method has nothing left to learn (planning reached its tolerance)."""


@dataclass(frozen=True)
class TabularView:
    """What a tabular agent believes, indexed by observation, for heat maps and ``inspect``."""

    values: np.ndarray
    """V(o) for each observation o (float array of length n_obs)."""
    policy: np.ndarray
    """Greedy action for each observation (int array of length n_obs)."""
    q: np.ndarray | None = None
    """Q(o, a) when the method learns action values (n_obs x n_actions)."""
    about: dict[str, Any] = field(default_factory=dict)
    """What else to say about the values, for ``inspect``: policy evaluation names the evaluated
    policy and the distance of V from its exact values (``v_error_rms``, ``v_max_error``)."""


class Algorithm(ABC):
    """One learning method bound to one game."""

    name: ClassVar[str]
    """The ``--algo`` name (``q-learning``)."""
    title: ClassVar[str]
    """Human name (``Q-learning``)."""
    summary: ClassVar[str]
    """One line for ``agentapp list``."""
    Hyperparameters: ClassVar[type]
    """Frozen settings dataclass (fields declared with ``agentapp.params.setting``)."""
    requires: ClassVar[frozenset[str]]
    """Game capabilities the method needs (see ``games/registry.py``)."""
    requires_any: ClassVar[frozenset[str]] = frozenset()
    """Capabilities of which the game must offer at least one (neural methods: vectors or
    pixels)."""
    action_kinds: ClassVar[frozenset[str]] = frozenset({DISCRETE_ACTIONS})
    """The kinds of action space the method can act in: value methods pick an action by its
    value, so they need a finite set; policy-gradient methods add ``CONTINUOUS_ACTIONS``
    (a Gaussian policy)."""
    step_unit: ClassVar[str] = "steps"
    """What the step budget counts: ``steps`` (agent steps) or ``sweeps`` (planning)."""
    supports_envs: ClassVar[bool] = False
    """Whether the method steps several environments at once (``--envs N``)."""
    supports_workers: ClassVar[bool] = False
    """Whether Ray rollout workers can play for the method (``--workers N``; see
    ``engine/rollout_workers.py``)."""
    parallel_hint: ClassVar[str] = ""
    """For a method without ``--envs``: how it plays in parallel instead, said when ``--envs``
    is refused."""
    improves_policy: ClassVar[bool] = True
    """Whether training changes how the agent acts. Policy evaluation acts with a fixed policy,
    so its evaluations cannot pick a best checkpoint: no ``best.pt`` is written, and ``eval``,
    ``watch`` and ``inspect`` use ``latest.pt`` (the final V)."""

    def __init__(
        self,
        game: Game,
        game_params: Any,
        hp: Any,
        *,
        seed: int,
        budget: int,
        device: str = "cpu",
        n_envs: int = 1,
    ) -> None:
        """``budget`` is the step count schedules anneal over (the budget fixed when the run
        started, unchanged by a resume that extends the run); ``n_envs`` the number of parallel
        training environments (1 unless ``supports_envs``)."""
        self.game = game
        self.game_params = game_params
        self.hp = hp
        self.seed = seed
        self.budget = budget
        self.device = device
        self.n_envs = n_envs

    @classmethod
    def check_settings(cls, hp: Any, game: Game, game_params: Any, n_envs: int = 1) -> None:
        """Raise UserError when *hp* cannot work on this game with *n_envs* environments (called
        before a run starts, so bad settings never reach a run folder). Most methods need no
        check."""
        return None

    @abstractmethod
    def train_iteration(self, max_steps: int) -> Iteration:
        """Advance training by one small unit of work using at most *max_steps* steps."""

    @abstractmethod
    def act(self, obs: Any, greedy: bool = True, rng: np.random.Generator | None = None) -> int:
        """Choose an action for one observation (evaluation and watching). Stochastic choices
        (``greedy=False``) draw from *rng* so evaluations are reproducible."""

    def act_batch(
        self, obs: Any, greedy: bool = True, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """Actions for a batch of observations (evaluation plays its episodes side by side).
        Methods with a network override this to answer the batch with one forward pass."""
        return np.array([self.act(o, greedy, rng) for o in obs])

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training exactly: tables or weights as tensors, counters,
        RNG states, the training environments' state. Plain data and tensors only."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    def side_files(self) -> dict[str, dict[str, Any]]:
        """Large state saved in files of its own beside the checkpoints (``replay.pt`` beside
        ``latest.pt``, ``step_<N>.replay.pt`` beside ``step_<N>.pt``), by name;
        only what the run asked to keep. Plain data and tensors only."""
        return {}

    def side_file_names(self) -> tuple[str, ...]:
        """The names :meth:`side_files` would write, so a resume knows what to look for."""
        return ()

    def load_side_file(self, name: str, state: dict[str, Any]) -> None:  # noqa: B027
        """Restore what :meth:`side_files` saved under *name*."""

    def tabular_view(self) -> TabularView | None:
        """Values and greedy policy per observation, for tabular methods; None otherwise."""
        return None

    def insight(self, obs: Any) -> Insight | None:
        """What the agent thinks of one observation (its Q-values, or its policy's
        probabilities and its critic's value), for a viewer to show beside the game; None when
        the method has nothing per-action to say (continuous actions)."""
        return None

    def broken_parameter(self) -> str | None:
        """The first learned parameter that is no longer a finite number (named for the user),
        or None. The loop asks before every save, so a NaN never overwrites a good checkpoint."""
        return None

    def live_frame(self, step: int) -> Frame | None:
        """What the first training environment shows now, at *step*, for a front end's live
        view: a picture for pixel games, else a copy of the current observation (and
        :func:`placement` of the agent). None when the method plays no game as it learns
        (planners sweep a model) or has nothing current to show. The loop asks a few times a
        second at most, so this must stay cheap: one small copy."""
        return None

    def close(self) -> None:  # noqa: B027  (optional hook: most methods hold nothing to free)
        """Release environments and other resources."""


def method_rng(seed: int | None) -> np.random.Generator:
    """The numpy generator of a method trained with *seed* (its exploration, sampling, tie
    breaks and replay draws), a stream of its own.

    Not ``default_rng(seed)``: the method's environment is reset with the same seed (copy ``i``
    of a vector env with ``seed + i``), and gymnasium seeds the environment's ``np_random``
    exactly as ``default_rng`` does, so the method's draws would be the very numbers that decide
    the slips on the gridworld or CartPole's start state, only consumed at another rate. A child
    of ``SeedSequence(seed)`` is independent of every ``SeedSequence(seed + i)`` yet as
    reproducible. ``None`` gives fresh entropy, as it does for ``default_rng``."""
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])


PLACEMENT_KEYS = ("cell",)
"""The entries of a step's ``info`` that :func:`placement` gives: what a live view reads from
the infos of environments in other processes (``async_envs``, rollout workers)."""


def placement(env: Any) -> dict[str, Any]:
    """Where the agent is in *env*, when its observation may not say: the gridworld's ``cell``
    (with ``obs=walls`` different cells give the same observation). Empty for other games, whose
    observation is all a live view needs. *env* may be wrapped."""
    cell = getattr(getattr(env, "unwrapped", env), "cell", None)
    return {} if cell is None else {"cell": int(cell)}
