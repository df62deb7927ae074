"""``agentapp watch``: play a trained agent in the terminal at a watchable pace.

The gridworld is drawn with its walls, terminal cells, the agent, the agent's state values as a
heat map and its greedy policy as arrows. Every other game is drawn from its own RGB frames
(``render_mode="rgb_array"``) with half-block characters. Both share one episode loop: in a
terminal the picture updates in place at ``--fps``; when stdout is not a terminal each episode's
last picture and result are printed, without waiting. ``--record FILE`` saves the env's frames as
a GIF or MP4 at the game's natural speed, whatever ``--fps`` says. Opening the env, stepping the
agent and drawing a step are shared with the TUI's watch screen (``rendering/playback.py``).
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console, Group
from rich.live import Live

from agentapp.cli import app
from agentapp.cli.common import RunsDir, load_agent
from agentapp.errors import UserError

if TYPE_CHECKING:
    from agentapp.rendering.playback import Picture

MAX_DEFAULT_FPS = 30.0
"""Cap on the game's own speed used by default: a full-screen picture redrawn faster than this
floods slow terminals (and ssh links) with escape codes and gets no smoother to the eye."""


def _pick_ref(ref: str | None, runs_dir) -> str:
    """A game name means its best run; no argument means the newest run."""
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
        return ref  # not a game either: let the run lookup give its message
    best = runs.best_of_game(root, game.id)
    if best is None:
        raise UserError(f"no trained {game.id} agent in {root}; train one with "
                        f"`agentapp train {game.id}`")
    typer.echo(f"watching the best {game.id} run: {best}", err=True)
    return str(best)


def _pixel_picture(console: Console) -> Picture:
    from agentapp.rendering.pixels import PixelFrame

    def picture(info, frame, caption: str) -> PixelFrame:
        # asked on every frame, so a resized terminal is filled; two lines are left for the
        # header above Live's region and a spare, so nothing scrolls
        height = max(4, console.size.height - 2) if console.is_terminal else None
        return PixelFrame(frame, max_height=height, caption=caption)

    return picture


class _Pace:
    """Sleeps so that frames come *delay* seconds apart, counting the time spent drawing."""

    def __init__(self, delay: float) -> None:
        self.delay, self.due = delay, time.perf_counter()

    def wait(self) -> None:
        # a late frame does not make the next ones rush: the schedule restarts from now
        self.due = max(self.due + self.delay, time.perf_counter())
        time.sleep(max(0.0, self.due - time.perf_counter()))


def _play(env, agent, game, picture: Picture, console: Console, *, episodes: int, seed: int,
          greedy: bool, delay: float, record=None, pixels: bool = False) -> list[float]:
    """Play *episodes* episodes, showing (and recording) every step; returns their returns."""
    from agentapp.rendering.playback import Player

    player = Player(env, agent, game, seed=seed, greedy=greedy)
    live = Live(console=console, auto_refresh=False) if console.is_terminal else None
    every_frame = record is not None or (live is not None and pixels)
    returns = []
    with live or ExitStack():
        pace = _Pace(delay)
        for episode in range(1, episodes + 1):
            player.reset(episode)
            while True:
                caption = player.caption(episodes)
                frame = env.render() if every_frame else None
                if record is not None:
                    record.add(frame)
                if live is not None:
                    live.update(picture(player.info, frame, caption), refresh=True)
                    pace.wait()
                if player.done:
                    break
                player.step()
            returns.append(player.total)
            if live is None:
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
    fps: Annotated[float | None, typer.Option(min=0.1, help="Steps shown per second "
                   "(default: the game's natural speed, at most 30).", show_default=False)] = None,
    stochastic: Annotated[bool, typer.Option(help="Sample actions instead of the greedy "
                          "choice.")] = False,
    seed: Annotated[int, typer.Option(help="Episode i uses env seed S+i.")] = 0,
    record: Annotated[Path | None, typer.Option(metavar="FILE", help="Also save the game's "
                      "frames to FILE (.gif, or .mp4 with PyAV) at the game's natural speed.",
                      show_default=False)] = None,
    runs_dir: RunsDir = None,
) -> None:
    """Watch a trained agent play."""
    import numpy as np

    from agentapp.rendering.playback import grid_picture, open_env
    from agentapp.rendering.recording import FrameRecorder

    path, ckpt, agent, game, params = load_agent(_pick_ref(ref, runs_dir), runs_dir)
    env, gridworld = open_env(game, params, record is not None)
    console = Console(highlight=False, soft_wrap=True)
    natural = float(env.metadata.get("render_fps") or (4 if gridworld else MAX_DEFAULT_FPS))
    delay = 1.0 / (fps or min(natural, MAX_DEFAULT_FPS))
    try:
        recorder = FrameRecorder(record, natural) if record is not None else None
        picture = grid_picture(env, agent) if gridworld else _pixel_picture(console)
        mode = "stochastic" if stochastic else "greedy"
        console.print(f"{ckpt['algo']} on {game.id} · {mode} · checkpoint {path}", markup=False)
        with recorder or ExitStack():
            returns = _play(env, agent, game, picture, console, episodes=episodes, seed=seed,
                            greedy=not stochastic, delay=delay,
                            record=recorder, pixels=not gridworld)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    finally:
        env.close()
    if episodes > 1:
        console.print(f"mean return {np.mean(returns):.3f} over {episodes} episodes", markup=False)
    if recorder is not None:
        console.print(f"recorded {recorder.frames} frames to {recorder.path}", markup=False)
