"""``agentapp inspect``: a checkpoint's resolved config and counters, and for tabular agents the
value grid V(s) and the greedy policy grid."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console

from agentapp.cli import app
from agentapp.cli.common import JsonFlag, RunsDir, load_agent, print_json


def _rows(flat: Any, grid: Any, walls_as: Any = None) -> list[list[Any]]:
    return [
        [walls_as if (r * grid.cols + c) in grid.walls else flat[r * grid.cols + c].item()
         for c in range(grid.cols)]
        for r in range(grid.rows)
    ]


@app.command("inspect")
def inspect_command(
    ref: Annotated[str, typer.Argument(metavar="RUN|CHECKPOINT",
                   help="A run (best.pt, else latest.pt), a checkpoint file, or `last`.")],
    as_json: JsonFlag = False,
    runs_dir: RunsDir = None,
) -> None:
    """Show a trained agent's config, counters and (tabular) value and policy grids."""
    from agentapp.rendering.agent_view import cell_beliefs
    from agentapp.rendering.grid_text import policy_text_grid, value_text_grid
    from agentapp.rendering.gridworld import GridPicture

    path, ckpt, agent, game, params = load_agent(ref, runs_dir)
    data: dict[str, Any] = {
        "checkpoint": str(path),
        "game": ckpt["game"],
        "algo": ckpt["algo"],
        "step": ckpt["step"],
        "progress": ckpt.get("loop", {}),
        "spaces": ckpt.get("spaces", {}),
        "config": ckpt["config"],
    }
    view = agent.tabular_view()
    env = game.make(params)
    grid = getattr(env.unwrapped, "grid", None)
    if view is not None and grid is not None:
        values, policy = cell_beliefs(env, view)
        data["values"] = _rows(values, grid)
        # an action outside the list (-1) is a state with no single most probable action
        data["policy"] = [[game.actions[a] if a is not None and 0 <= a < len(game.actions)
                           else None for a in row] for row in _rows(policy, grid)]
        if view.about:  # policy evaluation: which policy, and how far V is from its exact V
            data["about"] = view.about
    env.close()
    if as_json:
        print_json(data)
        return
    console = Console(highlight=False, soft_wrap=True)
    config = ckpt["config"]
    progress = data["progress"]
    console.print(f"[bold]{ckpt['algo']}[/] on [bold]{ckpt['game']}[/] · checkpoint {path}")
    console.print(f"steps {ckpt['step']:,}/{config['steps']:,} {config.get('step_unit', 'steps')}"
                  f" · episodes {progress.get('episodes', 0):,} · elapsed "
                  f"{progress.get('elapsed', 0.0):.1f} s · last eval "
                  f"{progress.get('last_eval')} · best eval {progress.get('best_eval')}",
                  markup=False)
    console.print(f"seed {config['seed']} · device {config['device']} · preset {config['preset']}",
                  markup=False)
    console.print("hyperparameters: " + ", ".join(
        f"{k}={v}" for k, v in config["hyperparameters"].items()), markup=False)
    console.print("game settings: " + ", ".join(
        f"{k}={v}" for k, v in config["game_params"].items()), markup=False)
    if "about" in data:
        console.print("values of the evaluated policy: " + ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in data["about"].items()), markup=False)
    if "values" in data:
        if console.is_terminal:
            console.print(GridPicture(grid, values=values, policy=policy))
        else:
            console.print("V(s):", markup=False)
            console.print(value_text_grid(grid, values), markup=False)
            heading = "evaluated policy (· where no action is the most probable):" if (
                "about" in data) else "greedy policy:"
            console.print(heading, markup=False)
            console.print(policy_text_grid(grid, policy), markup=False)
