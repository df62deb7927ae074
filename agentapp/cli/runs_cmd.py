"""``agentapp runs``: the runs under the runs folder, with their progress and evaluations.

Trials of ``agentapp sweep`` are ordinary runs; a ``sweep`` column names the sweep each belongs
to, shown only when some run does, so a folder without sweeps reads as before. ``--json`` always
has ``"sweep"`` (null for a run of its own).
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from agentapp.cli import app
from agentapp.cli.common import JsonFlag, RunsDir, fmt, print_json


@app.command("runs")
def runs_command(as_json: JsonFlag = False, runs_dir: RunsDir = None) -> None:
    """List runs: game, algorithm, steps, last and best evaluation return, sweep."""
    from agentapp import runs

    root = runs.check_root(runs.runs_root(runs_dir))
    infos = runs.list_runs(root)
    if as_json:
        print_json([info.as_json() for info in infos])
        return
    if not infos:
        Console().print(f"no runs in {root} yet; train one with `agentapp train GAME`")
        return
    table = Table(title=f"Runs in {root}", title_justify="left")
    table.add_column("run (game-algo-started)", no_wrap=True, style="bold")
    for column in ("status", "steps", "last eval", "best eval"):
        table.add_column(column, justify="right" if column != "status" else "left")
    sweeps = any(i.sweep for i in infos)
    if sweeps:
        table.add_column("sweep", overflow="fold")
    for i in infos:
        cells = [i.name, i.status, f"{i.steps:,}/{i.total_steps:,}", fmt(i.last_eval),
                 fmt(i.best_eval)]
        table.add_row(*cells, *([i.sweep or ""] if sweeps else []))
    Console().print(table)
