"""One run up close (its return curves and its settings), or several runs' curves overlaid.

Opened from the runs table: Enter shows one run, ``m`` the marked runs together. The curves come
from each run's ``metrics.csv``, read in a thread worker because a long Atari run's file holds
millions of rows; the settings come from ``config.json``, which is what the run really used
(preset, overrides and defaults resolved). The run's actions (continue, watch, evaluate, delete)
work here as in the table.

One run that is still training is followed while the screen is visible: its ``status.json`` is
looked at every couple of seconds, and only when it changed (the trainer rewrites it at each
checkpoint and evaluation) are the summary redrawn and the curves read again. A finished run's
metrics are read once.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Static
from textual.worker import Worker, WorkerState

from agentapp import runs
from agentapp.tui.screens.run_actions import Clock, RunActions, format_return, format_started
from agentapp.tui.widgets.curves import ReturnPlot, read_curves

POLL_SECONDS = 2.0
"""How often a run under way is looked at (its status file only)."""


def _settings_table(title: str, values: dict[str, Any]) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(style="italic", no_wrap=True)
    table.add_column()
    table.add_row(Text(title, style="bold"), "")
    for key, value in values.items():
        table.add_row(f"  {key}", "–" if value is None else str(value))
    return table


def _flat(config: dict[str, Any]) -> dict[str, str]:
    settings = {"game": config.get("game"), **(config.get("hyperparameters") or {}),
                **(config.get("game_params") or {}), "seed": config.get("seed")}
    return {str(k): str(v) for k, v in settings.items()}


def trial_settings(config: dict[str, Any], trials: list[dict[str, Any]]) -> str:
    """The settings of *config* (game, hyperparameters, game settings, seed) whose values differ
    between the configs *trials* of one sweep: what tells this trial from the others."""
    flat = [_flat(c) for c in trials]
    mine = _flat(config)
    return " ".join(f"{k}={v}" for k, v in mine.items()
                    if any(other.get(k) != v for other in flat))


def summary(info: runs.RunInfo, config: dict[str, Any], clock: Clock,
            evaluation: str | None = None, trial: str = "") -> Table:
    """What a run is and how far it got, then every setting it trains with; *trial*: what sets
    a sweep's trial apart from the others (see :func:`trial_settings`)."""
    table = Table.grid(padding=(0, 1))
    table.add_column(style="italic", no_wrap=True)
    table.add_column()
    unit = config.get("step_unit", "steps")
    rows = [
        ("run", info.name),
        ("game", info.game),
        ("method", info.algo),
        ("status", info.status),
        (unit, f"{info.steps:,} of {info.total_steps:,}"),
        ("evaluation", f"last {format_return(info.last_eval)} · best "
                       f"{format_return(info.best_eval)}"),
        ("started", format_started(info.started, clock)),
        ("seed", str(config.get("seed", "–"))),
        ("device", str(config.get("device", "–"))),
        ("envs", str(config.get("envs", 1))),
        ("preset", str(config.get("preset", "–"))),
    ]
    if info.parent:
        rows.append(("parent", info.parent))
    if info.sweep:
        rows.append(("sweep", info.sweep))
        if trial:
            rows.append(("trial", trial))
    if evaluation:
        rows.append(("evaluated", evaluation))
    for key, value in rows:
        table.add_row(key, value)
    table.add_row("", "")
    table.add_row(_settings_table("hyperparameters", config.get("hyperparameters") or {}), "")
    table.add_row(_settings_table("game settings", config.get("game_params") or {}), "")
    return table


class RunDetailScreen(RunActions, Screen[None]):
    """*infos*: one run (curves and settings) or several (their curves overlaid)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *RunActions.RUN_BINDINGS,
        Binding("escape,q", "back", "Back"),
    ]
    DEFAULT_CSS = """
    RunDetailScreen #detail { height: 1fr; }
    RunDetailScreen #curves-panel { width: 1fr; }
    RunDetailScreen #summary-panel { width: 52; }
    RunDetailScreen #summary-panel.-hidden { display: none; }
    RunDetailScreen #loading { height: auto; color: $text-muted; }
    """

    def __init__(self, infos: list[runs.RunInfo], runs_root: Path, *,
                 clock: Clock = time.localtime, evaluations: dict[str, str] | None = None) -> None:
        super().__init__()
        self.infos = infos
        self.runs_root = Path(runs_root)
        self.clock = clock
        self.evaluations = evaluations if evaluations is not None else {}
        self.config = runs.read_json(infos[0].path / runs.CONFIG) or {}
        self.trial = ""
        self._follow: Timer | None = None

    @property
    def comparing(self) -> bool:
        return len(self.infos) > 1

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="detail"):
            with Vertical(id="curves-panel", classes="panel") as curves:
                curves.border_title = ("Returns" if not self.comparing
                                       else f"Returns of {len(self.infos)} runs")
                yield Static("reading metrics.csv…", id="loading")
                yield ReturnPlot(id="plot")
            with VerticalScroll(id="summary-panel", classes="panel") as panel:
                panel.border_title = "Run"
                panel.set_class(self.comparing, "-hidden")
                yield Static(id="summary")
        yield Footer()

    def on_mount(self) -> None:
        info = self.infos[0]
        if not self.comparing and info.sweep:
            trials = [i for i in runs.list_runs(self.runs_root) if i.sweep == info.sweep]
            self.trial = trial_settings(self.config, [
                runs.read_json(i.path / runs.CONFIG) or {} for i in trials])
        self._show_summary()
        self._read_curves()
        if not self.comparing and info.status == "running":
            self._follow = self.set_interval(POLL_SECONDS, self._follow_run)

    def _read_curves(self) -> None:
        infos = self.infos
        self.run_worker(lambda: [read_curves(i.path) for i in infos], name="curves",
                        group="curves", thread=True, exit_on_error=False, exclusive=True)

    def _follow_run(self) -> None:
        """Show how far the run under way got; the last look after it ended reads it whole."""
        info = runs.run_info(self.infos[0].path)
        if info is None or info == self.infos[0]:
            return
        self.infos = [info]
        self._show_summary()
        self._read_curves()
        if info.status != "running" and self._follow is not None:
            self._follow.stop()
            self._follow = None

    def on_screen_suspend(self) -> None:
        if self._follow is not None:
            self._follow.pause()

    def on_screen_resume(self) -> None:
        if self._follow is not None:
            self._follow.resume()

    def _show_summary(self) -> None:
        if not self.comparing:
            info = self.infos[0]
            evaluation = self.evaluations.get(str(info.path))
            self.query_one("#summary", Static).update(
                summary(info, self.config, self.clock, evaluation, self.trial))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # (RunActions' handler, called as well, takes the evaluations)
        if event.worker.group != "curves":
            return
        loading = self.query_one("#loading", Static)
        if event.state == WorkerState.SUCCESS:
            loading.display = False
            self.query_one(ReturnPlot).show_curves(event.worker.result)
        elif event.state == WorkerState.ERROR:
            loading.update(f"cannot read the metrics: {event.worker.error}")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # the run actions need one run; comparing several, only "back" makes sense
        return not (self.comparing
                    and action in {"continue_run", "watch", "evaluate", "delete"})

    def current_run(self) -> runs.RunInfo | None:
        return None if self.comparing else self.infos[0]

    def run_deleted(self, info: runs.RunInfo) -> None:
        self.dismiss()

    def evaluation_done(self, info_path: str, line: str) -> None:
        self._show_summary()

    def action_back(self) -> None:
        self.dismiss()
