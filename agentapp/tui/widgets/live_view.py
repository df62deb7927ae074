"""A small live picture of the game the agent is learning, from the engine's ``Frame`` events.

The engine sends a few frames a second (throttled at the source) and the messages coalesce, so
each frame is simply drawn when it comes. A pixel game's frame is a picture, shrunk to the panel
with :class:`~agentapp.rendering.pixels.PixelFrame`. Every other game sends the first training
environment's observation, drawn by the painter the watch screen uses for that game
(``rendering/playback.py``): the gridworld with the agent on its cell, CartPole's cart and pole
above its state values, the other classic games as their state values. That painter is built once,
from the run's resolved config (``RunStarted``), when the first such frame comes. The dashboard
holds no agent (it learns in another thread or process), so the grid is drawn without the agent's
values and policy, and fitted to the panel's lines as well as its columns: a map taller than the
panel loses its legend, then is drawn with half blocks, two rows a line (see
``rendering/gridworld.py``). Games that send no frames (planners, which play no game as they
learn) get a sentence instead of an empty box.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from rich.align import Align
from rich.console import Group
from rich.text import Text
from textual.app import RenderResult
from textual.content import Content
from textual.widget import Widget

from agentapp.engine.events import Frame
from agentapp.errors import UserError
from agentapp.rendering.pixels import PixelFrame, as_rgb

NOT_AVAILABLE = "No live view for this game and method."


class _NoAgent:
    """The agent as the dashboard knows it: only through frames, so it has no tables to show."""

    @staticmethod
    def tabular_view() -> None:
        return None


def observation_painter(config: Mapping[str, Any]) -> tuple[str, Any] | None:
    """``(kind, painter)`` of the watch screen for the game of a run's *config* (``config.json``'s
    ``game`` and ``game_params``), for games drawn from their observation (:data:`GRID`,
    :data:`STATE`); None when there is none (an unknown game, or one drawn only from pixels)."""
    from agentapp.games import resolve
    from agentapp.params import apply_overrides, field_names
    from agentapp.rendering.playback import GRID, STATE, open_view_env, painter

    try:
        game = resolve(str(config["game"]))
        saved = config.get("game_params") or {}
        known = field_names(type(game.params))
        params = apply_overrides(game.params, {k: v for k, v in saved.items() if k in known})
        env, kind = open_view_env(game, params)
    except (KeyError, TypeError, UserError):  # not a game this version can open
        return None
    try:
        if kind not in (GRID, STATE):
            return None
        return kind, painter(kind, env, _NoAgent(), game)
    finally:
        env.close()  # the painter keeps what it needs (the grid, the space's bounds)


class LiveView(Widget):
    """The latest frame, centred, with its step underneath."""

    DEFAULT_CSS = """
    LiveView { height: 1fr; width: 1fr; }
    LiveView.-empty { color: $text-muted; content-align: center middle; text-align: center; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.frame: Frame | None = None
        self.frames = 0
        self.config: dict[str, Any] = {}
        self._painter: tuple[str, Any] | None = None
        self._painter_built = False
        self.add_class("-empty")

    def prepare(self, config: Mapping[str, Any]) -> None:
        """Take the run's resolved config (from ``RunStarted``): the game whose observations the
        coming frames carry. Its painter is built when the first of them comes."""
        if dict(config) != self.config:
            self.config = dict(config)
            self._painter, self._painter_built = None, False

    @property
    def painter(self) -> tuple[str, Any] | None:
        """``(kind, painter)`` for this run's observations, built once; None when there is none."""
        if not self._painter_built:
            self._painter = observation_painter(self.config) if self.config else None
            self._painter_built = True
        return self._painter

    def show_frame(self, frame: Frame) -> bool:
        """Draw *frame*; False (and nothing drawn) when it cannot be: an image that is not an
        RGB picture, or an observation with no painter for it (or no cell to put the agent on)."""
        if not self._drawable(frame):
            return False
        self.frame = frame
        self.frames += 1
        self.remove_class("-empty")
        self.refresh()
        return True

    def _drawable(self, frame: Frame) -> bool:
        from agentapp.rendering.playback import GRID

        if frame.image is not None:
            try:
                as_rgb(frame.image)
            except ValueError:
                return False
            return True
        if frame.observation is None or self.painter is None:
            return False
        kind, _paint = self.painter
        if kind == GRID:
            return isinstance(frame.info.get("cell"), int)
        return np.asarray(frame.observation).dtype.kind in "biuf"

    def render(self) -> RenderResult:
        if self.frame is None:
            return Content(NOT_AVAILABLE)
        width, height = self.content_size
        caption = f"step {self.frame.step:,}"
        if self.frame.image is not None:
            picture = PixelFrame(self.frame.image, max_width=max(width, 1),
                                 max_height=max(height, 2), caption=caption)
        else:
            _kind, paint = self.painter  # not None: show_frame took only drawable frames
            drawn = paint(self.frame.observation, self.frame.info, None, max(width, 1),
                          max(height - 1, 1))
            picture = Group(drawn, Text(caption, no_wrap=True, overflow="ellipsis"))
        return Align.center(picture, vertical="middle")
