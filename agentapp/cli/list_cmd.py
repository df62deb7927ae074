"""``agentapp list``: the games, the methods, and which method suits which game."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from agentapp.cli import app
from agentapp.cli.common import JsonFlag, RunsDir, print_json


def catalogue_data() -> dict[str, Any]:
    """Games and algorithms as plain data (also what ``--json`` prints)."""
    from agentapp import presets
    from agentapp.engine import algorithms
    from agentapp.games import catalogue

    games = []
    for game in catalogue():
        fits = algorithms.suitable(game)
        tuned = {}
        for name in fits:
            preset = presets.lookup(game.id, game.family, name)
            unit = algorithms.ALGORITHMS[name].step_unit
            tuned[name] = {"steps": preset.budget(unit), "envs": preset.env_count,
                           "hyperparameters": preset.hyperparameters, "source": preset.source}
        games.append({
            "id": game.id,
            "family": game.family,
            "description": game.description,
            "observation": game.observation,
            "actions": list(game.actions),
            "capabilities": sorted(game.capabilities()),
            "default_algo": game.default_algo,
            "algorithms": fits,
            "presets": tuned,
            "unsuitable": {
                name: algorithms.unsuitable_reason(cls, game)
                for name, cls in algorithms.ALGORITHMS.items() if name not in fits
            },
        })
    algos = [
        {
            "name": cls.name,
            "title": cls.title,
            "summary": cls.summary,
            "requires": sorted(cls.requires),
            "step_unit": cls.step_unit,
        }
        for cls in algorithms.ALGORITHMS.values()
    ]
    return {"games": games, "algorithms": algos}


@app.command("list")
def list_command(
    as_json: JsonFlag = False,
    show_presets: Annotated[bool, typer.Option("--presets", help="Also show each game's presets: "
                            "budget, environments and settings per method.")] = False,
    runs_dir: RunsDir = None,
) -> None:
    """Show the games and algorithms, and which algorithm suits which game."""
    del runs_dir  # taken like every command takes it (scripts pass it to all); unused here
    data = catalogue_data()
    if as_json:
        print_json(data)
        return
    console = Console()
    if show_presets:
        _print_presets(console, data)
        return
    games = Table(title="Games", title_justify="left", expand=False)
    games.add_column("game", no_wrap=True, style="bold")
    games.add_column("description")
    games.add_column("observation / actions")
    games.add_column("algorithms (default first)")
    for g in data["games"]:
        ordered = [g["default_algo"]] + [a for a in g["algorithms"] if a != g["default_algo"]]
        actions = g.get("actions") or []
        continuous = "continuous-actions" in g["capabilities"]
        count = "" if continuous else f"{len(actions)} "
        seen = g["observation"] + (f"\n{count}actions: {' '.join(actions)}" if actions else "")
        games.add_row(g["id"], g["description"], seen, ", ".join(a for a in ordered if a))
    algos = Table(title="Algorithms", title_justify="left")
    algos.add_column("algo", no_wrap=True, style="bold")
    for column in ("method", "what it does", "counts"):
        algos.add_column(column)
    for a in data["algorithms"]:
        algos.add_row(a["name"], a["title"], a["summary"], a["step_unit"])
    console.print(games)
    console.print(algos)
    console.print("Train one: [bold]agentapp train GAME --algo ALGO[/]   (e.g. agentapp train "
                  "gridworld:cliff --algo q-learning)")


def _print_presets(console: Console, data: dict[str, Any]) -> None:
    rows = [(g["id"], algo, f"{p['steps']:,}", str(p["envs"]),
             ", ".join(f"{k}={v}" for k, v in p["hyperparameters"].items())
             or "the method's defaults")
            for g in data["games"] for algo, p in g["presets"].items()]
    title = "Presets (override any value with --set key=value)"
    if console.width < 120:  # too narrow for a table: one block per preset, nothing cut
        console.print(title, style="bold")
        for game, algo, steps, envs, settings in rows:
            console.print(f"{game} --algo {algo}: {steps} steps, {envs} envs", style="bold")
            console.print(f"  {settings}")
        return
    table = Table(title=title, title_justify="left")
    table.add_column("game", no_wrap=True, style="bold")
    table.add_column("algo", no_wrap=True)
    table.add_column("steps", justify="right")
    table.add_column("envs", justify="right")
    table.add_column("settings")
    for row in rows:
        table.add_row(*row)
    console.print(table)
