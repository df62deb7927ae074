"""The watch screen: a trained agent plays, step by step, at a pace the user controls.

Beside the game, the agent's numbers for the observation it acted on (``rendering/insight.py``):
its policy's probabilities or its Q-values, the chosen action highlighted, and its value estimate.

The agent is loaded and played in a thread worker (``rendering/playback.py``, shared with
``agentapp watch``): a big network's forward pass or an Atari emulator step never stalls the UI.
The thread posts one :class:`WatchFrame` per step (a newer one replaces one not yet drawn), and
waits on :class:`Pacing`, which the keys drive: pause, one step, faster, slower, restart. Leaving
the screen stops the thread, which closes the environment. A checkpoint that cannot be loaded is
one notification, and the screen goes back where it came from.

A pixel game is drawn in half blocks, or, when the app was started with a terminal image protocol
(``AGENTAPP_GRAPHICS=kitty|sixel|auto``, asked in the launcher: ``rendering/graphics.py``), at
full resolution in textual-image's widget for it, which is given each frame fitted to its room.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from agentapp.errors import UserError
from agentapp.rendering.graphics import CELLS, PROTOCOLS, SIXEL
from agentapp.rendering.insight import InsightPanel
from agentapp.rendering.playback import PIXELS, Player, load_agent, open_view_env, painter

SPEEDS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)
"""Steps per second that ``+`` and ``-`` step through."""
MAX_DEFAULT_FPS = 30.0
"""Default pace: the game's own speed, at most this (a full picture redrawn faster floods a
terminal and is no smoother to the eye)."""
END_HOLD = 1.5
"""Seconds the last picture of an episode stays before the next episode starts."""


class Pacing:
    """When the player thread may take its next step; the keys change it from the UI thread."""

    def __init__(self, fps: float, paused: bool = False) -> None:
        self._cond = threading.Condition()
        self.fps, self.paused = fps, paused
        self._steps, self._restart, self._stopped = 0, False, False

    def _change(self, **values: Any) -> None:
        with self._cond:
            for key, value in values.items():
                setattr(self, key, value)
            self._cond.notify_all()

    def toggle_pause(self) -> bool:
        self._change(paused=not self.paused)
        return self.paused

    def step_once(self) -> None:
        self._change(_steps=self._steps + 1)

    def restart(self) -> None:
        self._change(_restart=True)

    def set_fps(self, fps: float) -> None:
        self._change(fps=fps)

    def stop(self) -> None:
        self._change(_stopped=True)

    def wait_turn(self, hold: float = 0.0) -> str | None:
        """Block until the player should move: ``"restart"``, ``"step"``, or None once
        stopped. Unpaused, a step comes ``1/fps`` seconds (at least *hold*) after the last."""
        start = time.monotonic()
        with self._cond:
            while True:
                if self._stopped:
                    return None
                if self._restart:
                    self._restart = False
                    return "restart"
                if self._steps:
                    self._steps -= 1
                    return "step"
                if self.paused:
                    self._cond.wait()
                    continue
                left = start + max(hold, 1.0 / self.fps) - time.monotonic()
                if left <= 0:
                    return "step"
                self._cond.wait(left)


@dataclass(frozen=True)
class Moment:
    """What the agent sees and did at one step, copied out of the player thread."""

    episode: int
    step: int
    score: float
    action: str
    reward: float
    terminated: bool
    truncated: bool
    obs: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    frame: np.ndarray | None = None
    finished: tuple[float, ...] = ()
    """Returns of the episodes played to their end so far."""
    insight: Any = None
    """What the agent thought of the observation it acted on (an ``Insight``, or None)."""
    chosen: int | None = None
    """The discrete action it took (None before its first move, or for continuous actions)."""


class WatchLoaded(Message):
    def __init__(self, title: str, label: str, kind: str, painter: Any,
                 actions: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.title, self.label, self.kind, self.painter = title, label, kind, painter
        self.actions = actions


class WatchFrame(Message):
    def __init__(self, moment: Moment) -> None:
        super().__init__()
        self.moment = moment

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, WatchFrame)  # draw only the newest step


class WatchFailed(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


def chosen_index(action: Any) -> int | None:
    """A discrete action as an int (numpy scalars included); None for none or a vector."""
    return int(action) if action is not None and np.ndim(action) == 0 else None


def checkpoint_label(path: Path) -> str:
    """``<run> · best.pt`` for a run's checkpoint, else the file's name."""
    if path.parent.name == "checkpoints" and (path.parent.parent / "config.json").is_file():
        return f"{path.parent.parent.name} · {path.name}"
    return path.name


class WatchScreen(Screen[None]):
    """Watch the agent of *ref* (a run folder: best.pt, else latest.pt; or a checkpoint).

    *fps*: steps per second (default: the game's own speed, at most 30); *paused*: open paused
    on the first frame; *seed*: episode *i* plays with env seed ``seed + i - 1``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "pause", "Pause/resume"),
        Binding("n,full_stop", "step", "Step"),
        Binding("plus,equals_sign", "faster", "Faster"),
        Binding("minus", "slower", "Slower"),
        Binding("r", "restart", "Restart episode"),
        Binding("escape,q", "back", "Back"),
    ]
    DEFAULT_CSS = """
    WatchScreen #watch { height: 1fr; }
    WatchScreen #view-panel { width: 1fr; }
    WatchScreen #picture { width: 1fr; height: 1fr; content-align: center middle; }
    WatchScreen #frame-image { width: 1fr; height: 1fr; }
    WatchScreen #side { width: 38; }
    WatchScreen #playing { height: auto; }
    WatchScreen #thinking { height: 1fr; }
    """

    def __init__(self, ref: str | Path, runs_root: Path, *, fps: float | None = None,
                 paused: bool = False, seed: int = 0) -> None:
        super().__init__()
        self.ref, self.runs_root, self.seed = ref, Path(runs_root), seed
        self.pacing = Pacing(fps or MAX_DEFAULT_FPS, paused)
        self._fps_given = fps is not None
        self.kind: str | None = None
        self.label = ""
        self.painter: Any = None
        self.action_names: tuple[str, ...] = ()
        self.moment: Moment | None = None
        self.image: Any = None
        """textual-image's widget drawing the frames (pixel games with an image protocol)."""
        self._shown: tuple[Any, Any] = (None, None)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="watch"):
            with Vertical(id="view-panel", classes="panel") as view:
                view.border_title = "Loading the agent…"
                yield Static(id="picture")
            with Vertical(id="side"):
                with Vertical(id="playing", classes="panel") as playing:
                    playing.border_title = "Playing"
                    yield Static(id="stats")
                with Vertical(id="thinking", classes="panel") as thinking:
                    thinking.border_title = "What it thinks"
                    yield Static(id="insight")
        yield Footer()

    def on_mount(self) -> None:
        self.run_worker(self._play, name="watch", thread=True, exit_on_error=False)

    def on_unmount(self) -> None:
        self.pacing.stop()

    # -- the player thread ---------------------------------------------------------------------
    def _play(self) -> None:
        try:
            loaded = load_agent(str(self.ref), self.runs_root)
        except UserError as exc:
            self.post_message(WatchFailed(str(exc)))
            return
        except Exception as exc:  # anything else a strange file can raise: still one line
            self.post_message(WatchFailed(f"cannot load {self.ref}: {type(exc).__name__}"))
            return
        env = None
        try:
            env, kind = open_view_env(loaded.game, loaded.params)
            self._session(loaded, env, kind)
        except Exception as exc:
            text = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
            self.post_message(WatchFailed(text.splitlines()[0] if text else "playing failed"))
        finally:
            if env is not None:
                env.close()
            loaded.agent.close()

    def _session(self, loaded: Any, env: Any, kind: str) -> None:
        if not self._fps_given:
            natural = env.metadata.get("render_fps") or MAX_DEFAULT_FPS
            self.pacing.set_fps(min(float(natural), MAX_DEFAULT_FPS))
        title = f"{loaded.checkpoint['algo']} on {loaded.game.id}"
        self.post_message(WatchLoaded(title, checkpoint_label(Path(loaded.path)), kind,
                                      painter(kind, env, loaded.agent, loaded.game),
                                      tuple(loaded.game.actions)))
        player = Player(env, loaded.agent, loaded.game, seed=self.seed, think=True)
        finished: dict[int, float] = {}
        player.reset(1)
        while True:
            self._post(player, env, kind, finished)
            turn = self.pacing.wait_turn(hold=END_HOLD if player.done else 0.0)
            if turn is None:
                return
            if turn == "restart":
                player.reset(player.episode)
            elif player.done:
                player.reset()
            else:
                player.step()
                if player.done:
                    finished[player.episode] = player.total

    def _post(self, player: Player, env: Any, kind: str, finished: dict[int, float]) -> None:
        self.post_message(WatchFrame(Moment(
            episode=player.episode, step=player.steps, score=player.total,
            action=player.action_label, reward=player.reward, terminated=player.terminated,
            truncated=player.truncated, obs=np.array(player.obs, copy=True),
            info=dict(player.info), frame=env.render() if kind == PIXELS else None,
            finished=tuple(finished[k] for k in sorted(finished)),
            insight=player.insight, chosen=chosen_index(player.action),
        )))

    # -- drawing -------------------------------------------------------------------------------
    def on_watch_loaded(self, message: WatchLoaded) -> None:
        self.kind, self.label, self.painter = message.kind, message.label, message.painter
        self.action_names = message.actions
        self.query_one("#view-panel").border_title = message.title
        protocol = getattr(self.app, "graphics", CELLS)
        if self.kind == PIXELS and protocol in PROTOCOLS and self.image is None:
            self._mount_image(protocol)
        self._draw()

    def _mount_image(self, protocol: str) -> None:
        """textual-image's kitty or sixel widget in the place of the half-block picture."""
        # imported only here: it asks the terminal at import (answered already in the launcher)
        from textual_image.widget import SixelImage, TGPImage

        picture = self.query_one("#picture", Static)
        picture.display = False
        self.image = (SixelImage if protocol == SIXEL else TGPImage)(id="frame-image")
        self.query_one("#view-panel").mount(self.image, after=picture)
        self.call_after_refresh(self._draw)  # its size is known once laid out

    def on_watch_frame(self, message: WatchFrame) -> None:
        self.moment = message.moment
        self._draw()

    def on_watch_failed(self, message: WatchFailed) -> None:
        self.app.notify(message.text, title="Cannot watch", severity="error")
        if self.app.screen is self:
            self.dismiss()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        moment = self.moment
        if moment is not None and self.painter is not None:
            if self.image is not None:
                self._draw_image(moment.frame)
            else:
                picture = self.query_one("#picture", Static)
                size = picture.content_size
                picture.update(self.painter(moment.obs, moment.info, moment.frame,
                                            size.width or None, size.height or None))
            self.query_one("#insight", Static).update(
                InsightPanel(moment.insight, self.action_names, moment.chosen))
        self.query_one("#stats", Static).update(self._stats())

    def _draw_image(self, frame: np.ndarray | None) -> None:
        """*frame* fitted to exactly the widget's cells (textual-image then scales nothing);
        sent again only when the frame or the room changed (a key redraws the same frame)."""
        from agentapp.rendering.graphics import cell_pixels, fitted_image

        size = self.image.content_size
        if frame is None or not (size.width and size.height):
            return
        if self._shown[0] is frame and self._shown[1] == size:
            return
        self._shown = (frame, size)
        self.image.image = fitted_image(frame, size.width, size.height, cell_pixels())

    def _stats(self) -> RenderableType:
        table = Table.grid(padding=(0, 1))
        table.add_column(style="italic", no_wrap=True)
        table.add_column(overflow="fold")
        pace = self.pacing
        table.add_row("agent", self.label or str(self.ref))
        table.add_row("policy", f"greedy · env seeds from {self.seed}")
        table.add_row("speed", f"{pace.fps:g} steps/s")
        table.add_row("state", Text("⏸ paused (n: one step)", style="bold reverse")
                      if pace.paused else Text("▶ playing", style="bold"))
        moment = self.moment
        if moment is None:
            return table
        table.add_row("", "")
        table.add_row("episode", str(moment.episode))
        table.add_row("step", str(moment.step))
        table.add_row("score", Text(f"{moment.score:.2f}", style="bold"))
        if moment.action:
            table.add_row("action", f"{moment.action} ({moment.reward:+.2f})")
        if moment.terminated:
            table.add_row("", Text("episode over", style="bold"))
        elif moment.truncated:
            table.add_row("", Text("cut at the step limit", style="bold"))
        if moment.finished:
            last = "  ".join(f"{r:.2f}" for r in moment.finished[-4:])
            table.add_row("finished", f"{len(moment.finished)}: {last}")
        return Group(table)

    # -- keys ----------------------------------------------------------------------------------
    def action_pause(self) -> None:
        self.pacing.toggle_pause()
        self._draw()

    def action_step(self) -> None:
        if not self.pacing.paused:
            self.pacing.toggle_pause()
        self.pacing.step_once()
        self._draw()

    def _speed(self, direction: int) -> None:
        fps = self.pacing.fps
        options = [s for s in SPEEDS if (s > fps if direction > 0 else s < fps)]
        if options:
            self.pacing.set_fps(options[0] if direction > 0 else options[-1])
        self._draw()

    def action_faster(self) -> None:
        self._speed(+1)

    def action_slower(self) -> None:
        self._speed(-1)

    def action_restart(self) -> None:
        self.pacing.restart()

    def action_back(self) -> None:
        self.pacing.stop()
        self.dismiss()
