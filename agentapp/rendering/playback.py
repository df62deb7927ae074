"""A trained agent playing a game step by step: what ``agentapp watch`` and the TUI's watch share.

Both front ends open the environment the way the game can be drawn, reset episode *i* with seed
``seed + i - 1`` (so the same seed always replays the same episodes), let the agent choose each
action, name that action in the caption, and draw the step: the gridworld as a :class:`GridPicture`
with the agent's values and policy, pixel games from their own RGB frames, vector games
(CartPole, Acrobot, ...) as their observation values. Only the pacing and the output differ
(Rich ``Live`` in a plain terminal, a Textual widget fed from a thread), so they live in the front
ends. Nothing here imports Textual or Typer; torch is touched only through the agent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.console import RenderableType

from agentapp.errors import UserError

GRID = "grid"
PIXELS = "pixels"
STATE = "state"
"""How a game is shown: its grid, its RGB frames, or its observation values."""

Picture = Callable[[Any, Any, str], RenderableType]
"""``picture(info, rgb frame or None, caption)``: what one step looks like."""


def open_env(game: Any, params: Any, record: bool):
    """The env to play in for ``agentapp watch``, and whether it is a gridworld (drawn as a
    grid, not as pixels). Every other game is drawn from RGB frames, so UserError when it has none.

    Only an env that can render ``rgb_array`` frames is asked to: gymnasium merely warns when a
    mode is not offered, and then fails on the first ``render()``.
    """
    env = game.make(params)
    gridworld = hasattr(env.unwrapped, "grid")
    if gridworld and not record:
        return env, True
    modes = env.metadata.get("render_modes") or ()
    env.close()
    if "rgb_array" not in modes:
        doing = "recorded" if gridworld else "drawn in the terminal"
        raise UserError(f"{game.id} cannot be {doing}: its environment renders no RGB frames")
    return game.make(params, render_mode="rgb_array"), gridworld


def open_view_env(game: Any, params: Any):
    """The env to play in for the TUI, and how to show it (:data:`GRID`, :data:`PIXELS` or
    :data:`STATE`). Pixel games are drawn from their frames; vector games as their observation
    (the observation *is* the state, and reads better as numbers than as a small drawing)."""
    from agentapp.games.registry import PIXELS as PIXEL_OBS

    env = game.make(params)
    if hasattr(env.unwrapped, "grid"):
        return env, GRID
    if PIXEL_OBS not in game.capabilities(params):
        return env, STATE
    modes = env.metadata.get("render_modes") or ()
    env.close()
    if "rgb_array" not in modes:
        raise UserError(f"{game.id} cannot be drawn: its environment renders no RGB frames")
    return game.make(params, render_mode="rgb_array"), PIXELS


def action_name(game: Any, action: Any) -> str:
    """The game's own name for *action* (``left``, ``FIRE``), or its value when unnamed."""
    if np.ndim(action) == 0 and 0 <= int(action) < len(game.actions):
        return game.actions[int(action)]
    # a continuous action, or a game that does not name its actions
    return np.array2string(np.asarray(action), precision=2, separator=",")


def action_note(game: Any, action: Any, reward: float, terminated: bool, truncated: bool) -> str:
    """`` · left +1.00`` (and why an episode was cut) for the caption of a step."""
    cut = " · cut at the step limit" if truncated and not terminated else ""
    return f" · {action_name(game, action)} {reward:+.2f}{cut}"


def within_bounds(space: Any, action: Any) -> Any:
    """A continuous (Box) action clipped to the space's bounds, as training and evaluation
    step it, so the picture shows what the game was given; other actions unchanged."""
    from gymnasium.spaces import Box  # here: `agentapp --help` imports no gymnasium

    if not isinstance(space, Box):
        return action
    return np.clip(np.asarray(action), space.low, space.high).astype(space.dtype)


class Player:
    """An agent playing episodes of one env, one step per :meth:`step`.

    After :meth:`reset` or :meth:`step` the attributes describe the current moment: ``obs``,
    ``info``, ``steps`` taken and ``total`` reward in this ``episode``, the last ``action`` and
    ``reward``, and ``done`` once the episode has ended (terminated or cut off).

    With ``think=True`` the player also asks the agent what it thinks (``agent.insight``):
    ``insight`` is then the agent's view of the observation it acted on last (after
    :meth:`reset`: of the first observation, before any action), so that ``insight`` and
    ``action`` belong together. Without it (recording, evaluation) nothing extra is computed and
    ``insight`` stays None.
    """

    def __init__(self, env: Any, agent: Any, game: Any, *, seed: int = 0,
                 greedy: bool = True, think: bool = False) -> None:
        self.env, self.agent, self.game = env, agent, game
        self.seed, self.greedy = seed, greedy
        from agentapp.engine.algorithms.base import method_rng

        # one generator for the whole session: stochastic play is reproducible from the seed,
        # yet not the stream the first episode's reset(seed) gives the environment
        self.rng = method_rng(seed)
        self.think = think
        self.episode = 0
        self.obs: Any = None
        self.info: dict[str, Any] = {}
        self.insight: Any = None
        """An ``agentapp.engine.insight.Insight``, or None (not thinking, or no insight)."""
        self._insight_is_current = False  # insight describes self.obs (not yet acted on)
        self._clear()

    def _clear(self) -> None:
        self.steps, self.total = 0, 0.0
        self.action: Any = None
        self.reward = 0.0
        self.terminated = self.truncated = False

    @property
    def done(self) -> bool:
        return self.terminated or self.truncated

    def _consider(self) -> None:
        """Ask the agent about the current observation, once (reset and the first step share
        it)."""
        if self.think and not self._insight_is_current:
            ask = getattr(self.agent, "insight", None)
            self.insight = ask(self.obs) if ask is not None else None
            self._insight_is_current = True

    def reset(self, episode: int | None = None) -> None:
        """Start *episode* (default: the next one); episode *i* is seeded ``seed + i - 1``."""
        self.episode = self.episode + 1 if episode is None else episode
        self.obs, self.info = self.env.reset(seed=self.seed + self.episode - 1)
        self._clear()
        self._insight_is_current = False
        self._consider()

    def step(self) -> None:
        """Let the agent act once; does nothing once the episode is over."""
        if self.done:
            return
        self._consider()
        action = self.agent.act(self.obs, self.greedy, self.rng)
        action = within_bounds(self.env.action_space, action)
        self.obs, reward, self.terminated, self.truncated, self.info = self.env.step(action)
        self._insight_is_current = False
        self.action, self.reward = action, float(reward)
        self.steps, self.total = self.steps + 1, self.total + self.reward

    @property
    def action_label(self) -> str:
        return "" if self.action is None else action_name(self.game, self.action)

    def note(self) -> str:
        if self.action is None:
            return ""
        return action_note(self.game, self.action, self.reward, self.terminated, self.truncated)

    def caption(self, episodes: int | None = None) -> str:
        """``episode 2/5 · step 31 · return 31.00 · right +1.00``."""
        of = f"/{episodes}" if episodes else ""
        return f"episode {self.episode}{of} · step {self.steps} · return {self.total:.2f}" + (
            self.note())


def grid_picture(env: Any, agent: Any) -> Picture:
    """Draws the gridworld with the agent on its cell and, for a tabular agent, its state values
    as a heat map and its greedy policy as arrows (a neural agent has no tables to draw); given
    ``max_height``, a grid taller than that is drawn smaller (see ``GridPicture``)."""
    from agentapp.rendering.agent_view import cell_beliefs
    from agentapp.rendering.gridworld import GridPicture

    view = agent.tabular_view()
    values, policy = cell_beliefs(env, view) if view is not None else (None, None)
    grid = env.unwrapped.grid
    return lambda info, frame, caption, max_height=None: GridPicture(
        grid, values=values, policy=policy, agent=info["cell"], caption=caption,
        max_height=max_height)


@dataclass(frozen=True)
class Loaded:
    """A checkpoint's agent, ready to play: what :func:`load_agent` returns."""

    path: Any
    """The checkpoint file."""
    checkpoint: dict[str, Any]
    agent: Any
    game: Any
    params: Any


def load_agent(ref: str, root: Any, prefer_best: bool = True) -> Loaded:
    """Resolve ``RUN|CHECKPOINT|last`` under runs folder *root* (a run gives ``best.pt``, else
    ``latest.pt``) and rebuild its agent on the CPU; UserError says what is wrong."""
    from agentapp import checkpoints, runs
    from agentapp.engine.plan import restore_agent

    path = runs.resolve_checkpoint(str(ref), root, prefer_best)
    ckpt = checkpoints.load(path)
    try:
        agent, game, params = restore_agent(ckpt)
    except UserError:
        raise
    except Exception as exc:  # a checkpoint whose tensors do not fit its method
        raise UserError(f"cannot load {path}: {type(exc).__name__}: {exc}"[:200]) from None
    return Loaded(path, ckpt, agent, game, params)


Painter = Callable[[Any, dict, Any, "int | None", "int | None"], RenderableType]
"""``painter(obs, info, rgb frame or None, width, height)``: a step's picture in that room."""


def painter(kind: str, env: Any, agent: Any, game: Any) -> Painter:
    """How the TUI draws a step of *game*: the grid (with the agent's beliefs), the RGB frame
    fitted to the room, or the observation's values (CartPole with its picture drawn from
    them)."""
    if kind == GRID:
        grid = grid_picture(env, agent)  # a map taller than the room is drawn smaller
        return lambda obs, info, frame, width, height: grid(info, frame, "", height)
    if kind == PIXELS:
        from agentapp.rendering.pixels import PixelFrame

        return lambda obs, info, frame, width, height: PixelFrame(frame, max_width=width,
                                                                  max_height=height)
    return _state_painter(env, game)


def _state_painter(env: Any, game: Any) -> Painter:
    from rich.console import Group

    from agentapp.rendering.cartpole import CartPolePicture
    from agentapp.rendering.state_view import StateView, observation_names

    space = env.observation_space
    size = int(np.prod(space.shape)) if space.shape else 1
    names = observation_names(game.id, size)
    # bars fill at the space's bound where it has one, else at the largest value seen so far
    # (gymnasium writes "unbounded" as inf or as float32's largest value)
    high = np.abs(np.asarray(getattr(space, "high", np.full(size, np.inf)), dtype=np.float64))
    high = np.where(high < 1e6, high, np.inf).ravel()
    peak = np.full(size, 1e-9)

    def paint(obs, info, frame, width, height) -> RenderableType:
        values = np.asarray(obs, dtype=np.float64).ravel()
        np.maximum(peak, np.abs(values), out=peak)
        scales = np.where(np.isfinite(high), high, peak)
        view = StateView(values, names, scales)
        if game.id == "cartpole" and size == 4:
            return Group(CartPolePicture(values[0], values[2], width=min(60, width or 60)),
                         "", view)
        return view

    return paint
