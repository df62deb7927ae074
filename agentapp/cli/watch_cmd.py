"""``agentapp watch``: play a trained agent in the terminal at a watchable pace.

The gridworld is drawn with its walls, terminal cells, the agent, the agent's state values as a
heat map and its greedy policy as arrows. Every other game is drawn from its own RGB frames
(``render_mode="rgb_array"``) with half-block characters. Both share one episode loop: in a
terminal the picture updates in place at ``--fps``; when stdout is not a terminal each episode's
last picture and result are printed, without waiting. ``--record FILE`` saves the env's frames as
a GIF or MP4 at the game's natural speed, whatever ``--fps`` says.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, Group, RenderableType
from rich.live import Live

from agentapp.cli import app
from agentapp.cli.common import RunsDir, load_agent
from agentapp.errors import UserError

MAX_DEFAULT_FPS = 30.0
"""Cap on the game's own speed used by default: a full-screen picture redrawn faster than this
floods slow terminals (and ssh links) with escape codes and gets no smoother to the eye."""

Picture = Callable[[Any, Any, str], RenderableType]
"""``picture(info, rgb frame or None, caption)``: what one step looks like."""


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


def _open_env(game, params, record: bool):
    """The env to play in, and whether it is a gridworld (drawn as a grid, not as pixels).

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


def _grid_picture(env, agent) -> Picture:
    from agentapp.rendering.agent_view import cell_beliefs
    from agentapp.rendering.gridworld import GridPicture

    # a neural agent on the gridworld has no tables to draw: just the grid and the agent
    view = agent.tabular_view()
    values, policy = cell_beliefs(env, view) if view is not None else (None, None)
    grid = env.unwrapped.grid
    return lambda info, frame, caption: GridPicture(grid, values=values, policy=policy,
                                                    agent=info["cell"], caption=caption)


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


def _action_note(game, action, reward: float, terminated: bool, truncated: bool) -> str:
    import numpy as np

    if np.ndim(action) == 0 and 0 <= int(action) < len(game.actions):
        name = game.actions[int(action)]
    else:  # a continuous action, or a game that does not name its actions
        name = np.array2string(np.asarray(action), precision=2, separator=",")
    cut = " · cut at the step limit" if truncated and not terminated else ""
    return f" · {name} {reward:+.2f}{cut}"


def _play(env, agent, game, picture: Picture, console: Console, *, episodes: int, seed: int,
          greedy: bool, delay: float, record=None, pixels: bool = False) -> list[float]:
    """Play *episodes* episodes, showing (and recording) every step; returns their returns."""
    import numpy as np

    rng = np.random.default_rng(seed)
    live = Live(console=console, auto_refresh=False) if console.is_terminal else None
    every_frame = record is not None or (live is not None and pixels)
    returns = []
    with live or ExitStack():
        pace = _Pace(delay)
        for episode in range(1, episodes + 1):
            obs, info = env.reset(seed=seed + episode - 1)
            total, steps, note, done = 0.0, 0, "", False
            while True:
                caption = f"episode {episode}/{episodes} · step {steps} · return {total:.2f}{note}"
                frame = env.render() if every_frame else None
                if record is not None:
                    record.add(frame)
                if live is not None:
                    live.update(picture(info, frame, caption), refresh=True)
                    pace.wait()
                if done:
                    break
                action = agent.act(obs, greedy, rng)
                obs, reward, terminated, truncated, info = env.step(action)
                total, steps = total + float(reward), steps + 1
                done = terminated or truncated
                note = _action_note(game, action, float(reward), terminated, truncated)
            returns.append(total)
            if live is None:
                if pixels and frame is None:
                    frame = env.render()
                console.print(Group(picture(info, frame, caption)))
            console.print(f"episode {episode}: return {total:.3f} in {steps} steps", markup=False)
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

    from agentapp.rendering.recording import FrameRecorder

    path, ckpt, agent, game, params = load_agent(_pick_ref(ref, runs_dir), runs_dir)
    env, gridworld = _open_env(game, params, record is not None)
    console = Console(highlight=False, soft_wrap=True)
    natural = float(env.metadata.get("render_fps") or (4 if gridworld else MAX_DEFAULT_FPS))
    delay = 1.0 / (fps or min(natural, MAX_DEFAULT_FPS))
    try:
        recorder = FrameRecorder(record, natural) if record is not None else None
        picture = _grid_picture(env, agent) if gridworld else _pixel_picture(console)
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
