"""``agentapp watch``: play a trained agent in the terminal at a watchable pace.

The gridworld is drawn with its walls, terminal cells, the agent, the agent's state values as a
heat map and its greedy policy as arrows. In a terminal the picture updates in place at ``--fps``;
when stdout is not a terminal each episode's last picture and result are printed, without waiting.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, Group
from rich.live import Live

from agentapp.cli import app
from agentapp.cli.common import RunsDir, load_agent
from agentapp.errors import UserError


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


@app.command("watch")
def watch_command(
    ref: Annotated[str | None, typer.Argument(metavar="[RUN|CHECKPOINT|GAME]",
                   help="A run (best.pt, else latest.pt), a checkpoint file, `last`, or a game "
                   "(its best run). Default: the newest run.", show_default=False)] = None,
    episodes: Annotated[int, typer.Option(min=1, help="Episodes to play.")] = 1,
    fps: Annotated[float | None, typer.Option(min=0.1, help="Steps shown per second "
                   "(default: the game's natural speed).", show_default=False)] = None,
    stochastic: Annotated[bool, typer.Option(help="Sample actions instead of the greedy "
                          "choice.")] = False,
    seed: Annotated[int, typer.Option(help="Episode i uses env seed S+i.")] = 0,
    runs_dir: RunsDir = None,
) -> None:
    """Watch a trained agent play."""
    import numpy as np

    from agentapp.rendering.agent_view import cell_beliefs
    from agentapp.rendering.gridworld import GridPicture

    path, ckpt, agent, game, params = load_agent(_pick_ref(ref, runs_dir), runs_dir)
    view = agent.tabular_view()
    env = game.make(params)
    if not hasattr(env.unwrapped, "grid"):
        env.close()
        raise UserError(f"watching {game.id} agents in the terminal is not supported yet")
    # a neural agent on the gridworld has no tables to draw: just the grid and the agent
    values, policy = cell_beliefs(env, view) if view is not None else (None, None)
    grid = env.unwrapped.grid
    console = Console(highlight=False, soft_wrap=True)
    delay = 1.0 / (fps or env.metadata.get("render_fps", 4))
    rng = np.random.default_rng(seed)
    mode = "stochastic" if stochastic else "greedy"
    console.print(f"{ckpt['algo']} on {game.id} · {mode} · checkpoint {path}", markup=False)

    def picture(cell: int, caption: str) -> GridPicture:
        return GridPicture(grid, values=values, policy=policy, agent=cell, caption=caption)

    returns = []
    live = Live(console=console, auto_refresh=False) if console.is_terminal else None
    try:
        if live:
            live.start()
        for episode in range(1, episodes + 1):
            obs, info = env.reset(seed=seed + episode - 1)
            total, steps, done, last = 0.0, 0, False, ""
            while True:
                caption = f"episode {episode}/{episodes} · step {steps} · return {total:.2f}{last}"
                if live:
                    live.update(picture(info["cell"], caption), refresh=True)
                    time.sleep(delay)
                if done:
                    break
                action = agent.act(obs, not stochastic, rng)
                obs, reward, terminated, truncated, info = env.step(action)
                total, steps = total + float(reward), steps + 1
                done = terminated or truncated
                name = game.actions[action] if action < len(game.actions) else str(action)
                last = f" · {name} {reward:+.2f}" + (" · cut at the step limit" if truncated
                                                     and not terminated else "")
            returns.append(total)
            if live is None:
                console.print(Group(picture(info["cell"], caption)))
            console.print(f"episode {episode}: return {total:.3f} in {steps} steps", markup=False)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    finally:
        if live:
            live.stop()
        env.close()
    if episodes > 1:
        console.print(f"mean return {np.mean(returns):.3f} over {episodes} episodes", markup=False)
