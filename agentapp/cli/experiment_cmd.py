"""``agentapp experiment NAME``: run a seeded study and show what it found.

The study itself runs in :mod:`agentapp.experiments` (no UI there); this module lists the
experiments, prints one line per finished run, and shows the result as Rich tables, heat grids and
plotext curves. Ctrl+C stops the run in progress as ``train`` does (saved), then shows and writes
what the finished runs say, and exits 130 (143 for SIGTERM).
"""

from __future__ import annotations

import math
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from agentapp.cli import app
from agentapp.cli.common import RunsDir, signals_stop

MARKERS = ("*", "+", "o", "x", "#", "@")
"""Plot markers, one per curve, so curves are told apart without colour too."""


@app.command("experiment")
def experiment_command(
    name: Annotated[str | None, typer.Argument(help="Experiment to run (none: list them).",
                                               show_default=False)] = None,
    quick: Annotated[bool, typer.Option("--quick", help="A small version: a few minutes "
                     "(the figures are rougher).")] = False,
    seeds: Annotated[int | None, typer.Option(help="Seeds per variant, 0..N-1 (default: the "
                     "experiment's, at least 3).", show_default=False)] = None,
    game: Annotated[str | None, typer.Option(help="Another game, where the experiment allows "
                    "one (dqn-ablation: breakout).", show_default=False)] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the experiments.")] = False,
    tiny: Annotated[bool, typer.Option("--tiny", hidden=True, help="Smoke-test size: seconds, "
                    "meaningless figures.")] = False,
    runs_dir: RunsDir = None,
) -> None:
    """Run a seeded study that checks a claim of the lectures, over several seeds; results go
    to experiments/<name>-<time>/ under the runs folder (CSV, and PNG with matplotlib)."""
    from agentapp.experiments import EXPERIMENTS, get

    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:  # a log file or a pipe: room for the tables' columns
        console.width = 120
    if name is None or list_:
        width = max(len(n) for n in EXPERIMENTS)
        for entry in EXPERIMENTS.values():
            console.print(f"{entry.name:<{width}}  {entry.summary}", markup=False)
        return
    get(name)  # an unknown name is refused before torch is loaded
    from agentapp.engine.control import Control
    from agentapp.experiments.common import Progress, run_experiment

    control = Control()
    size = "tiny" if tiny else "quick" if quick else "full"
    records = run_experiment(name, size=size, seeds=seeds, game=game, runs_dir=runs_dir,
                             control=control)
    result = None
    with signals_stop(control):
        for record in records:
            if isinstance(record, Progress):
                count = f"[{record.done}/{record.total}] " if record.total else ""
                console.print(f"{count}{record.text}", markup=False)
            else:
                result = record
    assert result is not None
    show(console, result)
    from agentapp.engine.events import EXIT_CODES

    # Ctrl+C: 130, SIGTERM: 143, as for `train`
    raise typer.Exit(EXIT_CODES.get(control.stop_reason or "", 0))


def show(console: Console, result) -> None:
    """Tables, heat grids, curves, the findings, and where the files are."""
    from agentapp.experiments.common import cell
    from agentapp.rendering.tables import print_fitted

    for table in result.tables:
        view = Table(title=table.title, title_justify="left")
        for i, column in enumerate(table.columns):
            words = any(isinstance(row[i], str) for row in table.rows)  # names: never folded
            view.add_column(column, justify="left" if i == 0 else "right", no_wrap=words)
        for row in table.rows:
            view.add_row(*(cell(v) for v in row))
        print_fitted(console, view, table.title, [
            (f"{cell(row[0])}:", ", ".join(f"{c} {cell(v)}" for c, v in
                                           zip(table.columns[1:], row[1:], strict=True)))
            for row in table.rows])
    for heat in result.heats:
        console.print(heat_grid(heat))
    for plot in result.plots:
        if any(s.x for s in plot.series):
            console.print(curves(plot, console.is_terminal, min(console.width, 100)))
    for line in result.findings:
        console.print(f"• {line}", markup=False)
    png = any(p.suffix == ".png" for p in result.files)
    if result.plots and not png:
        console.print("(PNG plots need matplotlib: pip install 'agentapp[plot]')", markup=False)
    console.print(str(result.folder), markup=False, soft_wrap=True)


def heat_grid(heat) -> Table:
    """A gridworld's cells coloured by value (darker red: larger); cells without one (walls,
    terminal cells) show a dot."""
    from agentapp.experiments.common import cell

    values = [v for row in heat.values for v in row if v is not None and not math.isnan(v)]
    top = max(values, default=0.0) or 1.0
    grid = Table(title=heat.title, title_justify="left", show_header=False, show_lines=True)
    for _ in heat.values[0]:
        grid.add_column(justify="right")
    for row in heat.values:
        texts = []
        for v in row:
            if v is None:
                texts.append(Text("·", style="dim"))
                continue
            shade = int(255 - 175 * min(1.0, abs(v) / top))
            texts.append(Text(cell(v), style=f"black on rgb(255,{shade},{shade})"))
        grid.add_row(*texts)
    return grid


def curves(plot, colour: bool, width: int) -> Text:
    """The plot's mean curves drawn by plotext."""
    import plotext as plt

    plt.clf()
    plt.plotsize(width, 20)
    plt.theme("pro" if colour else "clear")
    for i, s in enumerate(plot.series):
        if s.x:
            plt.plot(s.x, s.mean, label=s.label, marker=MARKERS[i % len(MARKERS)])
    plt.title(plot.title)
    plt.xlabel(plot.xlabel)
    text = plt.build()
    plt.clf()
    return Text.from_ansi(text) if colour else Text(Text.from_ansi(text).plain)
