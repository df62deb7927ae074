"""How ``agentapp sweep`` looks in a shell: the live table of trials and the final ranking.

This is the front-end side of the sweep (Rich); the rest of the package has no UI. In a terminal
the table of trials is redrawn about once a second with Rich Live; otherwise (a log, a pipe, or
stderr under ``--json``) a line per trial that changes state, and every few seconds the counts and
the running trials' figures. The ranking is a Rich table, or one block per row when the terminal is
too narrow for it, and the last line printed is the sweep folder.
"""

from __future__ import annotations

import math
import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from agentapp.rendering.tables import print_fitted
from agentapp.sweep import report
from agentapp.sweep.grid import params_text
from agentapp.sweep.state import EARLY, FAILED, RUNNING, Sweep, Trial

PLAIN_INTERVAL = 5.0
"""Seconds between two plain progress blocks when the output is not a terminal."""

STYLES = {"running": "cyan", "done": "green", "failed": "red", "stopped": "yellow",
          "stopped early": "yellow", "pending": "dim"}


def number(value: float | None) -> str:
    """A table cell: 4 significant digits, ``-`` for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4g}"


def steps_text(trial: Trial) -> str:
    total = f"/{trial.total_steps:,}" if trial.total_steps else ""
    return f"{trial.steps:,}{total}"


def counts_text(sweep: Sweep) -> str:
    counts = sweep.counts()
    order = ["running", "done", "stopped early", "stopped", "failed", "pending"]
    return " · ".join(f"{counts[s]} {s}" for s in order if counts.get(s))


class Progress:
    """The sweep's progress on *console*; a context manager around the run, :meth:`update`
    after every round."""

    def __init__(self, console: Console, sweep: Sweep, concurrent: int) -> None:
        self.console, self.sweep, self.concurrent = console, sweep, concurrent
        self.live: Live | None = None
        self.seen = {t.id: t.status for t in sweep.trials}
        self.last_plain = 0.0

    def __enter__(self) -> Progress:
        spec = self.sweep.spec
        how = _how(spec)
        count = spec["samples"] if spec.get("search") else len(self.sweep.trials)
        trials = f"{count} trial{'s' if count != 1 else ''}"
        self.console.print(f"sweep {self.sweep.name}: {trials} of {spec['algo']}{how} · "
                           f"{self.concurrent} at once · base seed {spec['base_seed']}",
                           markup=False)
        self.console.print(f"sweep folder: {self.sweep.folder}", markup=False, style="dim")
        if self.console.is_terminal:
            self.live = Live(self.table(), console=self.console, auto_refresh=False,
                             vertical_overflow="ellipsis")
            self.live.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.update(self.table(), refresh=True)
            self.live.stop()
        else:
            self.plain(force=True)

    def update(self) -> None:
        if self.live is not None:
            self.live.update(self.table(), refresh=True)
        else:
            self.plain()

    def table(self) -> Group:
        view = Table(box=None, pad_edge=False)
        for column in ("#", "game", "params", "seed", "status", "steps", "last return",
                       "mean(10)", "score"):
            view.add_column(column, justify="left" if column in ("game", "params", "status")
                            else "right")
        for t in self.sweep.trials:
            view.add_row(str(t.id), t.game, params_text(t.params), str(t.seed),
                         Text(t.status, style=STYLES.get(t.status, "")), steps_text(t),
                         number(t.last_return), number(t.recent_mean), number(t.score))
        return Group(Text(counts_text(self.sweep), style="bold"), view)

    def plain(self, force: bool = False) -> None:
        """A line per trial that changed state; every few seconds the counts and the running
        trials' figures."""
        for t in self.sweep.trials:
            if self.seen.get(t.id) != t.status:
                self.seen[t.id] = t.status
                self.console.print(f"{trial_name(t)}: {outcome(t)}", markup=False)
        now = time.monotonic()
        if not force and now - self.last_plain < PLAIN_INTERVAL:
            return
        self.last_plain = now
        self.console.print(counts_text(self.sweep), markup=False)
        for t in self.sweep.trials:
            if t.status == RUNNING:
                self.console.print(f"  {trial_name(t)}: {steps_text(t)} steps · last return "
                                   f"{number(t.last_return)} · mean(10) "
                                   f"{number(t.recent_mean)}", markup=False)


def _how(spec: dict[str, Any]) -> str:
    """`` · drawn by optuna search · ASHA from 2,048 steps``: what Ray Tune adds, if anything."""
    how = f" · drawn by {spec['search']} search" if spec.get("search") else ""
    if spec.get("asha"):
        how += f" · ASHA from {spec['asha']['grace']:,} steps"
    return how


def trial_name(t: Trial) -> str:
    return f"trial {t.id} ({t.game} {params_text(t.params)} seed {t.seed})"


def outcome(t: Trial) -> str:
    if t.status == FAILED:
        return f"failed: {t.error}"
    score = f" · score {number(t.score)}" if t.score is not None else ""
    if t.status != RUNNING:
        return f"{t.status} at {t.steps:,} steps{score}"
    return f"running in {t.run_dir}"


def print_report(console: Console, sweep: Sweep, stopped: str | None) -> None:
    """The ranking, what the score is, the failures, how to resume, and the folder, last."""
    if not console.is_terminal:  # a log or a pipe: room for every column
        console.width = max(console.width, 120)
    columns = report.columns(sweep)
    cells = [[number(c) if isinstance(c, float) else "-" if c is None else str(c) for c in row]
             for row in report.table(sweep)]
    _print_table(console, f"sweep {sweep.name}: configurations ranked by mean score",
                 columns, cells)
    console.print(f"score: {report.score_sources(sweep)}", markup=False)
    console.print(f"trials: {counts_text(sweep)}", markup=False)
    for t in sweep.trials:
        if t.status == FAILED:
            console.print(f"{trial_name(t)} failed: {t.error}", markup=False)
        elif t.status == EARLY:
            console.print(f"{trial_name(t)} stopped early by ASHA at {t.steps:,} of "
                          f"{t.total_steps or 0:,} steps (mean of its last 10 episodes "
                          f"{number(t.score)}; not ranked)", markup=False)
    unfinished = any(t.status not in ("done", "stopped early") for t in sweep.trials)
    if stopped or unfinished:
        console.print(f"resume with: agentapp sweep --resume {sweep.name}", markup=False)
    console.print(f"report: {sweep.folder / 'report.csv'}", markup=False, soft_wrap=True)
    console.print(str(sweep.folder), markup=False, soft_wrap=True)


def _print_table(console: Console, title: str, columns: list[str],
                 rows: list[list[str]]) -> None:
    view = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        view.add_column(column, justify="right" if i == 0 or i >= len(columns) - 7 else "left",
                        no_wrap=True)
    for row in rows:
        view.add_row(*row)
    print_fitted(console, view, title, [
        (f"{row[0]}. {row[1]}:", ", ".join(f"{c} {v}" for c, v in zip(columns[2:], row[2:],
                                                                        strict=True)))
        for row in rows])
