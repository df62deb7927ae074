"""``agentapp watch``: play a trained agent in the terminal at a watchable pace.

The gridworld is drawn with its walls, terminal cells, the agent, the agent's state values as a
heat map and its greedy policy as arrows. Every other game is drawn from its own RGB frames
(``render_mode="rgb_array"``) with half-block characters. Both share one episode loop: in a
terminal the picture updates in place at ``--fps``; when stdout is not a terminal each episode's
last picture and result are printed, without waiting. ``--record FILE`` saves the env's frames as
a GIF or MP4 at the game's natural speed, whatever ``--fps`` says. Opening the env, stepping the
agent and drawing a step are shared with the TUI's watch screen (``rendering/playback.py``).

``--graphics kitty|sixel|auto`` (or ``AGENTAPP_GRAPHICS``) draws pixel games at full resolution
with the terminal's image protocol instead of half blocks (``rendering/graphics.py`` says how it
is chosen); CartPole is then drawn from its frames rather than from its state. The terminal is
asked what it speaks before watching starts, so the answer never mixes with the keys.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console, Group
from rich.live import Live

from agentapp.cli import app
from agentapp.cli.common import RunsDir, load_agent
from agentapp.cli.keys import ESCAPE, KeyReader
from agentapp.errors import UserError

if TYPE_CHECKING:
    from agentapp.rendering.playback import Picture

def _pick_ref(ref: str | None, runs_dir) -> str:
    """A game name means its best run, else the agent shipped for it in the package's shelf
    (``agentapp/models``); no argument means the newest run."""
    from agentapp import runs
    from agentapp.games import resolve

    root = runs.runs_root(runs_dir)
    if ref is None:
        return "last"
    if ref == "last" or Path(ref).exists() or (root / ref).is_dir():
        return ref
    try:
        game = resolve(ref)
    except UserError:
        if ":" in ref:  # a family's game (gridworld:my-map.txt): its message says what is wrong
            raise
        return ref  # not a game either: let the run lookup give its message
    best = runs.best_of_game(root, game.id)
    if best is not None:
        typer.echo(f"watching the best {game.id} run: {best}", err=True)
        return str(best)
    from agentapp import shelf

    shipped = shelf.shipped_for(game.id)
    if shipped is None:
        raise UserError(f"no trained {game.id} agent in {root}, and none ships with agentapp; "
                        f"train one with `agentapp train {game.id}`")
    path = shelf.verify(shipped)
    typer.echo(f"no {game.id} run in {root}: watching the {shipped.algo} agent that ships with "
               f"agentapp ({path.name}, evaluation {shipped.eval_mean:.2f} ± "
               f"{shipped.eval_std:.2f})", err=True)
    return str(path)


SIDE_WIDTH = 34
"""Columns of the panel beside the game: the moment's figures and what the agent thinks."""


def _pixel_picture(console: Console, protocol: str = "cells") -> Picture:
    from agentapp.rendering.pixels import PixelFrame

    frame_class = PixelFrame
    if protocol != "cells":
        from functools import partial

        from agentapp.rendering.graphics import ImageFrame

        frame_class = partial(ImageFrame, protocol)

    def picture(info, frame, caption: str) -> PixelFrame:
        # asked on every frame, so a resized terminal is filled; in a terminal the panel beside
        # takes its columns and three lines are left for the header above Live's region, the
        # keys' line under the picture and a spare, so nothing scrolls
        if not console.is_terminal:
            return PixelFrame(frame, caption=caption)
        return frame_class(frame, max_width=max(8, console.size.width - SIDE_WIDTH - 2),
                           max_height=max(4, console.size.height - 3), caption=caption)

    return picture


def _cartpole_picture(player, console: Console):
    """CartPole in a terminal, drawn from its state (the observation is the whole state)."""
    from agentapp.rendering.cartpole import CartPolePicture

    width = max(20, min(80, console.size.width - SIDE_WIDTH - 2))
    return CartPolePicture(float(player.obs[0]), float(player.obs[2]), width=width)


def _beside(shown, player, game, episodes: int):
    """The picture with, at its right, the episode, step, score and action, and the agent's
    thoughts (probabilities or Q-values as bars, and its value estimate). A continuous action
    is shown as its numbers, with what it means (``torque in [-2, 2]``)."""
    from rich.table import Table
    from rich.text import Text

    from agentapp.rendering.insight import InsightPanel

    facts = Text()
    facts.append(f"episode {player.episode}/{episodes}\n", style="bold")
    facts.append(f"step {player.steps:,}\nscore {player.total:.2f}\n")
    facts.append(f"action {player.action_label or '—'}")
    if player.action is not None:
        facts.append(f" ({player.reward:+.2f})", style="dim")
    from gymnasium.spaces import Box

    if isinstance(player.env.action_space, Box):  # a Gaussian policy: no per-action numbers
        thoughts = Text("\n".join(game.actions) or "continuous actions", style="dim")
    else:
        thoughts = InsightPanel(player.insight, game.actions, player.action, width=SIDE_WIDTH)
    side = Group(facts, "", thoughts)
    grid = Table.grid(padding=(0, 2))
    grid.add_column()
    grid.add_column(width=SIDE_WIDTH)
    grid.add_row(shown, side)
    return grid


class _Controls:
    """The pace of the pictures and the keys that change it: space pauses and resumes, ``n``
    (or ``.``) shows one more picture while paused, ``+`` / ``-`` double or halve the speed,
    ``q`` (or Escape) stops watching. Without a terminal on stdin there are no keys, only pace."""

    HELP = "space pause · n step · +/- speed · q quit"
    FASTEST, SLOWEST = 960.0, 0.25

    def __init__(self, fps: float, keys: KeyReader) -> None:
        self.fps, self.keys = fps, keys
        self.paused = self.quit = False
        self._steps = 0
        self.due = time.perf_counter()

    def status(self) -> str:
        """``30 fps · space pause · ...`` (or PAUSED), for the line under the picture."""
        if not self.keys.active:
            return ""
        state = "PAUSED" if self.paused else f"{self.fps:g} fps"
        return f"{state} · {self.HELP}"

    def wait(self, redraw: Callable[[], None]) -> None:
        """Return when the next picture is due (or the user quits), obeying keys meanwhile;
        *redraw* shows the current picture again after a key changed what the status says."""
        # a late picture does not make the next ones rush: the schedule restarts from now
        self.due = max(self.due + 1.0 / self.fps, time.perf_counter())
        while not self.quit:
            now = time.perf_counter()
            if self.paused and self._steps:
                self._steps -= 1
                self.due = now
                return
            if not self.paused and now >= self.due:
                return
            key = self.keys.read(0.1 if self.paused else self.due - now)
            if key is not None and self.press(key):
                redraw()

    def press(self, key: str) -> bool:
        """Obey *key*; True when the status line changed."""
        before = (self.paused, self.fps)
        if key == " ":
            self.paused = not self.paused
            self.due = time.perf_counter()
        elif key in ("n", "."):
            self._steps += 1 if self.paused else 0
        elif key in ("+", "="):
            self.fps = min(self.FASTEST, self.fps * 2)
        elif key == "-":
            self.fps = max(self.SLOWEST, self.fps / 2)
        elif key in ("q", "Q", ESCAPE):
            self.quit = True
        return (self.paused, self.fps) != before


def _frames_of_step(env, every_frame: bool) -> list:
    """The pictures a step produced: every emulated frame where the env keeps them (Atari: the
    agent acts on every 4th frame, a person sees all of them), else its last frame (or nothing
    to draw when no frame is needed)."""
    take = getattr(env.unwrapped, "take_frames", None)
    if take is not None and env.unwrapped.keep_frames:
        return take() or [env.render()]
    return [env.render() if every_frame else None]


def _play(env, agent, game, picture: Picture, console: Console, *, episodes: int, seed: int,
          greedy: bool, fps: float, record=None, pixels: bool = False,
          from_frames: bool = False) -> list[float]:
    """Play *episodes* episodes, showing (and recording) every step; returns their returns (of
    the episodes played to the end: ``q`` stops early). *from_frames*: draw CartPole from its
    frames too (image protocols), not from its state."""
    from agentapp.rendering.playback import Player

    live = Live(console=console, auto_refresh=False) if console.is_terminal else None
    player = Player(env, agent, game, seed=seed, greedy=greedy, think=live is not None)
    from_state = live is not None and game.id == "cartpole" and not from_frames
    every_frame = record is not None or (live is not None and pixels and not from_state)
    returns = []
    with live or ExitStack(), KeyReader() as keys:
        controls = _Controls(fps, keys if live is not None else KeyReader(io.StringIO()))
        for episode in range(1, episodes + 1):
            player.reset(episode)
            frames = [env.render() if every_frame else None]
            while not controls.quit:
                caption = player.caption(episodes)
                if record is not None:
                    record.add(frames[-1])
                if live is not None:
                    for frame in frames:
                        shown = _beside(_cartpole_picture(player, console) if from_state
                                        else picture(player.info, frame, ""),
                                        player, game, episodes)

                        def draw(shown=shown) -> None:
                            status = controls.status()
                            live.update(Group(shown, status) if status else shown, refresh=True)

                        draw()
                        controls.wait(draw)
                        if controls.quit:
                            break
                if player.done:
                    break
                player.step()
                frames = _frames_of_step(env, every_frame)
            if controls.quit:
                console.print(f"stopped watching in episode {episode} at step {player.steps}",
                              markup=False)
                break
            returns.append(player.total)
            if live is None:
                frame = frames[-1]
                if pixels and frame is None:
                    frame = env.render()
                console.print(Group(picture(player.info, frame, caption)))
            console.print(f"episode {episode}: return {player.total:.3f} in {player.steps} steps",
                          markup=False)
    return returns


@app.command("watch")
def watch_command(
    ref: Annotated[str | None, typer.Argument(metavar="[RUN|CHECKPOINT|GAME]",
                   help="A run (best.pt, else latest.pt), a checkpoint file, `last`, or a game "
                   "(its best run). Default: the newest run.", show_default=False)] = None,
    episodes: Annotated[int, typer.Option(min=1, help="Episodes to play.")] = 1,
    fps: Annotated[float | None, typer.Option(min=0.1, help="Pictures shown per second "
                   "(default: the game's natural speed; Atari: 60, every emulated frame). Keys "
                   "while watching: space pause, n step, +/- speed, q quit.",
                   show_default=False)] = None,
    stochastic: Annotated[bool, typer.Option(help="Sample actions instead of the greedy "
                          "choice.")] = False,
    seed: Annotated[int, typer.Option(help="Episode i uses env seed S+i.")] = 0,
    record: Annotated[Path | None, typer.Option(metavar="FILE", help="Also save the game's "
                      "frames to FILE (.gif, or .mp4 with PyAV) at the game's natural speed.",
                      show_default=False)] = None,
    graphics: Annotated[str, typer.Option(
        envvar="AGENTAPP_GRAPHICS", metavar="cells|auto|kitty|sixel", help="How pixel games "
        "are drawn: cells (half blocks, any terminal), kitty or sixel (full resolution, needs "
        "agentapp's graphics extra and a terminal that speaks it), or auto (the terminal is asked; "
        "cells if it speaks neither). Env: AGENTAPP_GRAPHICS.")] = "cells",
    runs_dir: RunsDir = None,
) -> None:
    """Watch a trained agent play."""
    import numpy as np

    from agentapp.engine.plan import check_seed
    from agentapp.rendering import graphics as image_protocols
    from agentapp.rendering.playback import grid_picture, open_env
    from agentapp.rendering.recording import FrameRecorder

    check_seed(seed)
    protocol = image_protocols.check_choice(graphics)
    if record is not None:
        FrameRecorder(record, 1.0)  # check the file name now, before a run is picked or loaded
    # asked before anything is drawn or keys are read: the terminal answers on stdin
    protocol = image_protocols.choose(protocol)
    path, ckpt, agent, game, params = load_agent(_pick_ref(ref, runs_dir), runs_dir)
    env, gridworld = open_env(game, params, record is not None)
    console = Console(highlight=False, soft_wrap=True)
    natural = float(env.metadata.get("render_fps") or (4 if gridworld else 30))
    shown_fps = natural
    if console.is_terminal and hasattr(env.unwrapped, "keep_frames"):
        # Atari: a person sees every emulated frame (60 a second), the agent every 4th
        env.unwrapped.keep_frames = True
        shown_fps = natural * params.frame_skip
    try:
        recorder = FrameRecorder(record, natural) if record is not None else None
        picture = grid_picture(env, agent) if gridworld else _pixel_picture(console, protocol)
        mode = "stochastic" if stochastic else "greedy"
        console.print(f"{ckpt['algo']} on {game.id} · {mode} · checkpoint {path}", markup=False)
        with recorder or ExitStack():
            returns = _play(env, agent, game, picture, console, episodes=episodes, seed=seed,
                            greedy=not stochastic, fps=fps or shown_fps,
                            record=recorder, pixels=not gridworld,
                            from_frames=protocol != image_protocols.CELLS)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    finally:
        env.close()
    if len(returns) > 1:
        console.print(f"mean return {np.mean(returns):.3f} over {len(returns)} episodes",
                      markup=False)
    if recorder is not None:
        console.print(f"recorded {recorder.frames} frames to {recorder.path}", markup=False)
