"""``agentapp list``: the games, the methods, and which method suits which game."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from agentapp.cli import app
from agentapp.cli.common import JsonFlag, print_json


def catalogue_data() -> dict[str, Any]:
    """Games and algorithms as plain data (also what ``--json`` prints)."""
    from agentapp.engine import algorithms
    from agentapp.games import catalogue

    games = []
    for game in catalogue():
        fits = algorithms.suitable(game)
        games.append({
            "id": game.id,
            "family": game.family,
            "description": game.description,
            "observation": game.observation,
            "actions": list(game.actions),
            "capabilities": sorted(game.capabilities()),
            "default_algo": game.default_algo,
            "algorithms": fits,
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
def list_command(as_json: JsonFlag = False) -> None:
    """Show the games and algorithms, and which algorithm suits which game."""
    data = catalogue_data()
    if as_json:
        print_json(data)
        return
    console = Console()
    games = Table(title="Games", title_justify="left", expand=False)
    games.add_column("game", no_wrap=True, style="bold")
    games.add_column("description")
    games.add_column("observation")
    games.add_column("algorithms (default first)")
    for g in data["games"]:
        ordered = [g["default_algo"]] + [a for a in g["algorithms"] if a != g["default_algo"]]
        games.add_row(g["id"], g["description"], g["observation"],
                      ", ".join(a for a in ordered if a))
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
