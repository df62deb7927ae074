"""Gridworld: the small tabular world where every method in the app can be watched and checked.

The environment follows Gymnasium's toy-text conventions (FrozenLake): a full transition table
``P`` for planning methods, ``ansi`` and ``rgb_array`` rendering, seeding through ``np_random``.
Maps come from :mod:`agentapp.games.gridmap`. Importing this module registers the
``agentapp/GridWorld-v0`` Gymnasium id and the ``gridworld`` family of the game registry.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from agentapp.errors import UserError
from agentapp.games import registry
from agentapp.games.gridmap import (
    BUILTIN_MAPS,
    DEFAULTS,
    OBS_MODES,
    GridMap,
    check_setting,
    load_map,
)
from agentapp.params import setting
from agentapp.plain import generator_from, plain

ACTION_NAMES = ("up", "right", "down", "left")
ACTION_ARROWS = ("↑", "→", "↓", "←")
ENV_ID = "agentapp/GridWorld-v0"
CELL_PX = 16
"""Side of one cell in ``rgb_array`` frames, in pixels."""

Transition = tuple[float, int, float, bool]
"""``(probability, next_state, reward, terminated)``, as in Gymnasium's toy-text ``P``."""

_COLOURS = {
    "wall": (60, 60, 60),
    "floor": (235, 235, 235),
    "start": (200, 220, 250),
    "goal": (90, 190, 90),
    "pit": (220, 80, 80),
    "cliff": (150, 30, 30),
    "line": (190, 190, 190),
    "agent": (40, 90, 220),
}


@dataclass(frozen=True)
class GridworldParams:
    """Settings of a gridworld game (``--set key=value``); a game's defaults come from its map."""

    slip: float = setting(
        DEFAULTS["slip"],
        "chance that a move goes sideways instead (half to each side)",
        low=0,
        high=1,
    )
    living_reward: float = setting(
        DEFAULTS["living_reward"], "reward of every step, the step into a terminal cell included"
    )
    discount: float = setting(
        DEFAULTS["discount"],
        "discount factor the map is meant to be solved with",
        low=0,
        low_open=True,
        high=1,
    )
    max_steps: int = setting(DEFAULTS["max_steps"], "steps before an episode is cut off", low=1)
    obs: str = setting(
        DEFAULTS["obs"],
        "what the agent sees: its cell (index) or the walls around it (walls)",
        choices=OBS_MODES,
    )


class GridWorldEnv(gym.Env):
    """A grid of cells to walk from a start to a terminal cell, as in Russell & Norvig.

    ## Description
    The agent starts on a start cell (``S``; one is drawn at random when the map has several) and
    walks until it enters a terminal cell (``G`` worth +1, ``P`` worth -1, or any reward given in
    the map's legend). Walls (``#``) and the grid's edge block moves. Cliff cells (``C``, after
    Sutton & Barto) cost a penalty and send the agent back to a start cell. With ``slip`` > 0 a move
    goes the intended way with probability ``1 - slip`` and to each side with ``slip / 2``.
    Maps: the built-ins ``classic``, ``cliff``, ``aliased`` and ``maze``, or a text file (see
    ``docs/gridworld-maps.md``).

    ## Action Space
    ``Discrete(4)``: 0 up, 1 right, 2 down, 3 left.

    ## Observation Space
    ``obs="index"``: ``Discrete(rows * cols)``, the cell ``row * cols + col`` (row 0 at the top).
    ``obs="walls"``: ``Discrete(16)``, which sides of the cell are blocked by a wall or the edge
    (bit 0 up, bit 1 right, bit 2 down, bit 3 left): different cells may look the same.

    ## Rewards
    Every step pays ``living_reward``, the step into a terminal cell included. Entering a terminal
    cell adds its reward; entering a cliff cell adds its penalty. Bumping into a wall or the edge
    leaves the agent in place and still pays ``living_reward``.

    ## Episode End
    Terminated when the agent enters a terminal cell; truncated after ``max_steps`` steps.

    ## Arguments
    ``GridWorldEnv(grid="classic", slip=None, living_reward=None, discount=None, max_steps=None,
    obs=None, render_mode=None)``: ``grid`` is a :class:`GridMap`, a built-in name or a path; each
    setting left as None takes the map's value. ``discount`` is not used by the environment; it
    tells planning and learning methods what the map is meant to be solved with.

    ``P[s][a]`` lists ``(probability, next_state, reward, terminated)`` with each next state once;
    wall, cliff and terminal cells are absorbing (``[(1.0, s, 0.0, True)]``). Where two outcomes
    lead to the same cell with different rewards (a slip into a cliff that sends the agent back to
    where it stands), ``P`` holds their expected reward, while :meth:`step` pays the real one.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(
        self,
        grid: GridMap | str = "classic",
        *,
        slip: float | None = None,
        living_reward: float | None = None,
        discount: float | None = None,
        max_steps: int | None = None,
        obs: str | None = None,
        render_mode: str | None = None,
    ) -> None:
        self.grid = grid if isinstance(grid, GridMap) else load_map(grid)
        given = {
            "slip": slip,
            "living_reward": living_reward,
            "discount": discount,
            "max_steps": max_steps,
            "obs": obs,
        }
        values: dict[str, Any] = {}
        for key, value in given.items():
            if value is None:
                values[key] = getattr(self.grid, key)
                continue
            try:
                values[key] = check_setting(key, value)
            except ValueError as exc:
                raise UserError(f"gridworld {key}={value!r}: expected {exc}") from None
        self.slip: float = values["slip"]
        self.living_reward: float = values["living_reward"]
        self.discount: float = values["discount"]
        self.max_steps: int = values["max_steps"]
        self.obs_mode: str = values["obs"]
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            modes = ", ".join(self.metadata["render_modes"])
            raise UserError(f"gridworld render_mode={render_mode!r}: expected one of {modes}")
        self.render_mode = render_mode

        self.n_states = self.grid.n_cells
        self.n_actions = 4
        self.action_space = spaces.Discrete(4)
        n_obs = self.n_states if self.obs_mode == "index" else 16
        self.observation_space = spaces.Discrete(n_obs)

        self._walls_obs = [self._wall_pattern(s) for s in self.grid.cells]
        self._outcomes = [[self._outcomes_of(s, a) for a in range(4)] for s in self.grid.cells]
        self._cumulative = [
            [list(accumulate(p for p, *_ in outcomes)) for outcomes in row]
            for row in self._outcomes
        ]
        self.P: list[list[list[Transition]]] = [
            [_merge(outcomes) for outcomes in row] for row in self._outcomes
        ]
        self.cell: int = self.grid.starts[0]
        self.elapsed = 0
        self.last_action: int | None = None
        self._background: np.ndarray | None = None

    # -- dynamics ---------------------------------------------------------------------------

    def _outcomes_of(self, s: int, a: int) -> list[Transition]:
        """Every way action *a* from cell *s* can turn out, unmerged, with its real reward."""
        grid = self.grid
        if grid.kind(s) in ("wall", "terminal", "cliff"):
            return [(1.0, s, 0.0, True)]
        moves = ((a, 1.0 - self.slip), ((a + 1) % 4, self.slip / 2), ((a + 3) % 4, self.slip / 2))
        outcomes: list[Transition] = []
        for direction, prob in moves:
            if prob <= 0.0:
                continue
            nxt = grid.move(s, direction)
            if nxt in grid.terminals:
                outcomes.append((prob, nxt, self.living_reward + grid.terminals[nxt], True))
            elif nxt in grid.cliffs:
                reward = self.living_reward + grid.cliffs[nxt]
                share = prob / len(grid.starts)
                outcomes.extend((share, start, reward, False) for start in grid.starts)
            else:
                outcomes.append((prob, nxt, self.living_reward, False))
        return outcomes

    def _wall_pattern(self, s: int) -> int:
        return sum(1 << a for a in range(4) if self.grid.blocked(s, a))

    def observe(self, cell: int) -> int:
        """The observation the agent gets in *cell* (its index, or its wall pattern)."""
        return int(cell) if self.obs_mode == "index" else self._walls_obs[cell]

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        super().reset(seed=seed)
        starts = self.grid.starts
        self.cell = int(starts[self.np_random.integers(len(starts))])
        self.elapsed = 0
        self.last_action = None
        return self.observe(self.cell), {"cell": self.cell}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        a = int(action)
        if not 0 <= a < 4:
            raise ValueError(f"gridworld action {action!r}: expected 0, 1, 2 or 3")
        outcomes = self._outcomes[self.cell][a]
        # One uniform draw per step, whatever the outcomes, so the random stream stays simple.
        u = self.np_random.random()
        i = min(bisect_right(self._cumulative[self.cell][a], u), len(outcomes) - 1)
        _, nxt, reward, terminated = outcomes[i]
        self.cell = nxt
        self.elapsed += 1
        self.last_action = a
        truncated = not terminated and self.elapsed >= self.max_steps
        return self.observe(nxt), float(reward), terminated, truncated, {"cell": nxt}

    # -- checkpointing ----------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """Plain-data snapshot of the episode in progress and the random stream."""
        return {
            "cell": int(self.cell),
            "elapsed": int(self.elapsed),
            "last_action": self.last_action,
            "rng": plain(self.np_random.bit_generator.state),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`get_state`'s snapshot, so the episode continues exactly as it would."""
        cell = int(state["cell"])
        if not 0 <= cell < self.n_states:
            raise UserError(f"gridworld state: cell {cell} is outside the {self.n_states} cells")
        try:
            self.np_random = generator_from(state["rng"])
        except ValueError as exc:
            raise UserError(f"gridworld state: {exc}") from None
        self.cell = cell
        self.elapsed = int(state["elapsed"])
        last = state.get("last_action")
        self.last_action = None if last is None else int(last)

    # -- rendering --------------------------------------------------------------------------

    def render(self) -> str | np.ndarray | None:
        if self.render_mode == "ansi":
            return self._render_text()
        if self.render_mode == "rgb_array":
            return self._render_rgb()
        return None

    def _render_text(self) -> str:
        symbols = list(self.grid.symbols)
        symbols[self.cell] = "@"
        cols = self.grid.cols
        lines = [" ".join(symbols[r * cols : (r + 1) * cols]) for r in range(self.grid.rows)]
        if self.last_action is not None:
            lines.insert(0, f"  ({ACTION_NAMES[self.last_action].title()})")
        return "\n".join(lines) + "\n"

    def _render_rgb(self) -> np.ndarray:
        if self._background is None:
            self._background = self._draw_background()
        frame = self._background.copy()
        row, col = self.grid.row_col(self.cell)
        y, x = row * CELL_PX, col * CELL_PX
        centre = (CELL_PX - 1) / 2
        yy, xx = np.mgrid[0:CELL_PX, 0:CELL_PX]
        disc = (yy - centre) ** 2 + (xx - centre) ** 2 <= (CELL_PX * 0.32) ** 2
        frame[y : y + CELL_PX, x : x + CELL_PX][disc] = _COLOURS["agent"]
        return frame

    def _draw_background(self) -> np.ndarray:
        grid = self.grid
        image = np.zeros((grid.rows * CELL_PX, grid.cols * CELL_PX, 3), dtype=np.uint8)
        for s in grid.cells:
            kind = grid.kind(s)
            if kind == "terminal":
                kind = "goal" if grid.terminals[s] >= 0 else "pit"
            row, col = grid.row_col(s)
            image[row * CELL_PX : (row + 1) * CELL_PX, col * CELL_PX : (col + 1) * CELL_PX] = (
                _COLOURS[kind]
            )
        image[::CELL_PX, :] = _COLOURS["line"]
        image[:, ::CELL_PX] = _COLOURS["line"]
        return image


def _merge(outcomes: list[Transition]) -> list[Transition]:
    """One entry per next state: probabilities summed, rewards averaged by probability."""
    if len({nxt for _, nxt, _, _ in outcomes}) == len(outcomes):
        return list(outcomes)
    merged: dict[int, list[Transition]] = {}
    for outcome in outcomes:
        merged.setdefault(outcome[1], []).append(outcome)
    table: list[Transition] = []
    for nxt, group in merged.items():
        prob = sum(p for p, *_ in group)
        rewards = {r for _, _, r, _ in group}
        reward = group[0][2] if len(rewards) == 1 else sum(p * r for p, _, r, _ in group) / prob
        table.append((prob, nxt, reward, group[0][3]))
    return table


# -- registration ---------------------------------------------------------------------------

if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="agentapp.games.gridworld:GridWorldEnv")


def _capabilities(params: GridworldParams) -> frozenset[str]:
    caps = {registry.DISCRETE_OBS, registry.VECTOR_OBS, registry.DISCRETE_ACTIONS}
    if params.obs == "index":
        caps.add(registry.MODEL)
    return frozenset(caps)


def game_for(arg: str) -> registry.Game:
    """The gridworld :class:`~agentapp.games.registry.Game` for ``gridworld:<arg>``: a built-in
    map's name, a path to a map file, or empty for ``classic``."""
    name = arg.strip() or "classic"
    grid = load_map(name)
    if name not in BUILTIN_MAPS:  # a map file: named by its absolute path, so that runs and
        name = str(Path(name).expanduser().resolve())  # checkpoints find it from any folder
    params = GridworldParams(
        slip=grid.slip,
        living_reward=grid.living_reward,
        discount=grid.discount,
        max_steps=grid.max_steps,
        obs=grid.obs,
    )

    def make_env(p: GridworldParams, render_mode: str | None = None) -> GridWorldEnv:
        return GridWorldEnv(
            grid,
            slip=p.slip,
            living_reward=p.living_reward,
            discount=p.discount,
            max_steps=p.max_steps,
            obs=p.obs,
            render_mode=render_mode,
        )

    if grid.obs == "index":
        observation = f"Discrete({grid.n_cells}) cell index"
    else:
        observation = "Discrete(16) wall pattern"
    return registry.Game(
        id=f"gridworld:{name}",
        family="gridworld",
        description=f"{grid.title} ({grid.rows} rows x {grid.cols} cols)",
        params=params,
        make_env=make_env,
        capabilities_of=_capabilities,
        default_algo="value-iteration" if grid.obs == "index" else "q-learning",
        default_gamma=lambda p: p.discount,
        observation=observation,
        actions=ACTION_NAMES,
    )


def builtin_games() -> list[registry.Game]:
    return [game_for(name) for name in BUILTIN_MAPS]


registry.register_family("gridworld", game_for, builtin_games)
