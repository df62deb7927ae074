"""The runs screen: every run in the runs folder as a table, to sort, filter, open and act on.

It reads the same ``config.json`` / ``status.json`` files as ``agentapp runs`` (``runs.run_info``),
newest first. The keys act on the run under the cursor (continue, watch, evaluate, delete; see
``run_actions.py``); space marks several runs and ``m`` overlays their return curves; Enter opens
one run's curves and settings. The table is rebuilt from the files whenever the screen comes
back, and every couple of seconds while it is visible: ``agentapp sweep`` (or a ``train`` in
another shell) adds runs and advances them under it. Looking again is cheap (:class:`RunsFolder`).
Runs of a sweep show its name in a ``sweep`` column (there only when some run belongs to a
sweep), and the filter matches it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Input, Static

from agentapp import runs
from agentapp.tui.screens.run_actions import Clock, RunActions, format_return, format_started


def _eval_key(value: float | None) -> tuple[bool, float]:
    return (value is not None, value or 0.0)


COLUMNS: list[tuple[str, Callable[[runs.RunInfo], Any], bool]] = [
    ("game", lambda i: i.game, False),
    ("method", lambda i: i.algo, False),
    ("steps", lambda i: i.steps, True),
    ("last eval", lambda i: _eval_key(i.last_eval), True),
    ("best eval", lambda i: _eval_key(i.best_eval), True),
    ("started", lambda i: (i.started, i.name), True),
    ("status", lambda i: i.status, False),
]
"""Sortable columns: label, sort key, whether the first sort on it puts big values first."""

SWEEP_COLUMN: tuple[str, Callable[[runs.RunInfo], Any], bool] = (
    "sweep", lambda i: (i.sweep or "", i.started, i.name), False)
"""Last, so the number keys of the other columns stay put; shown only when a run has a sweep."""

SWEEP_WIDTH = 20
"""The most a sweep name takes in the table (the run line below shows it whole)."""

POLL_SECONDS = 2.0
"""How often the visible screen looks for new and advancing runs."""

STARTED_COLUMN = next(n for n, (name, _, _) in enumerate(COLUMNS) if name == "started")

FINISHED = frozenset({"done", "stopped", "failed"})
"""States a run leaves only when its files change (it is resumed)."""

STATUS_STYLES = {"running": "bold green", "done": "", "stopped": "italic", "failed": "bold red"}
"""Plain styles that read on the dark and the light theme alike."""


def columns_for(infos: list[runs.RunInfo]) -> list[tuple[str, Callable[[runs.RunInfo], Any],
                                                          bool]]:
    """The table's columns: the sweep column only when some run belongs to a sweep."""
    return [*COLUMNS, SWEEP_COLUMN] if any(i.sweep for i in infos) else list(COLUMNS)


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def row_cells(info: runs.RunInfo, marked: bool, clock: Clock, sweeps: bool = False) -> list[Any]:
    """The cells of *info*'s row; *sweeps*: the table has the sweep column."""
    steps = f"{info.steps:,}" + (f" / {info.total_steps:,}" if info.total_steps else "")
    cells = [
        Text("●" if marked else " ", style="bold"),
        info.game,
        info.algo,
        Text(steps, justify="right"),
        Text(format_return(info.last_eval), justify="right"),
        Text(format_return(info.best_eval), justify="right"),
        format_started(info.started, clock),
        Text(info.status, style=STATUS_STYLES.get(info.status, "")),
    ]
    if sweeps:
        cells.append(_short(info.sweep or "", SWEEP_WIDTH))
    return cells


def matches(info: runs.RunInfo, text: str) -> bool:
    """Whether *info* answers the filter *text* (game, method, status, sweep or name, any
    case)."""
    needle = text.strip().lower()
    haystack = f"{info.game} {info.algo} {info.status} {info.sweep or ''} {info.name}"
    return not needle or needle in haystack.lower()


def _stamp(path: Path) -> tuple[int, ...]:
    """Which versions of the run's config and status files are there (0s: not there). Both are
    replaced whole when written, so a new version is a new file: the inode tells it even when
    two writes fall in the same clock tick."""
    stamp: list[int] = []
    for name in (runs.CONFIG, runs.STATUS):
        try:
            stat = os.stat(path / name)
        except OSError:
            stamp += (0, 0)
        else:
            stamp += (stat.st_ino, stat.st_mtime_ns)
    return tuple(stamp)


class RunsFolder:
    """The runs under *root*, kept up to date by :meth:`scan` at little cost: one directory
    listing and two ``stat`` calls per run. A run whose files have not changed since the last
    scan is not read again, unless it says it is running: then its lock is checked again too,
    since a trainer that was killed leaves "running" behind (``runs.run_info`` shows it as
    stopped). Metrics are never read here."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._known: dict[str, tuple[tuple[int, ...], runs.RunInfo]] = {}

    @property
    def infos(self) -> list[runs.RunInfo]:
        """The runs, oldest first (as ``runs.list_runs``)."""
        return sorted((info for _, info in self._known.values()),
                      key=lambda i: (i.started, i.name))

    def scan(self) -> bool:
        """Look at the folder again; True when a run came, went or changed."""
        try:
            with os.scandir(self.root) as entries:
                folders = [e.path for e in entries if e.name != runs.SWEEPS and e.is_dir()]
        except OSError:  # not there (yet), or not a folder
            folders = []
        fresh: dict[str, tuple[tuple[int, ...], runs.RunInfo]] = {}
        for folder in folders:
            path = Path(folder)
            stamp = _stamp(path)
            known = self._known.get(folder)
            if known is not None and known[0] == stamp and known[1].status in FINISHED:
                fresh[folder] = known
            elif (info := runs.run_info(path)) is not None:
                fresh[folder] = (stamp, info)
        changed = fresh != self._known
        self._known = fresh
        return changed


class RunsScreen(RunActions, Screen[None]):
    """The runs under *runs_root*; *clock* turns start times into local times (injectable so a
    snapshot shows the same dates everywhere)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *RunActions.RUN_BINDINGS,
        Binding("space", "mark", "Mark"),
        Binding("m", "compare", "Compare"),
        Binding("slash", "focus_filter", "Filter"),
        Binding("o", "cycle_sort", "Sort"),
        *[Binding(str(n), f"sort({n - 1})", show=False) for n in range(1, len(COLUMNS) + 2)],
        Binding("f5,ctrl+r", "reload", "Reload", show=False),
        Binding("escape,q", "back", "Back"),
    ]
    DEFAULT_CSS = """
    RunsScreen #runs-panel { height: 1fr; }
    RunsScreen #runs-filter { margin-bottom: 1; }
    RunsScreen DataTable { height: 1fr; background: transparent; }
    RunsScreen #empty { height: auto; color: $text-muted; padding: 1 2; display: none; }
    RunsScreen #empty.-shown { display: block; }
    RunsScreen #run-line { height: auto; color: $text-muted; padding: 0 1; }
    """

    def __init__(self, runs_root: Path, *, clock: Clock = time.localtime) -> None:
        super().__init__()
        self.runs_root = Path(runs_root)
        self.clock = clock
        self.folder = RunsFolder(self.runs_root)
        self.infos: list[runs.RunInfo] = []
        self.shown: list[runs.RunInfo] = []
        self.columns = list(COLUMNS)
        self.marked: set[str] = set()
        self.evaluations: dict[str, str] = {}
        self.sort_column, self.sort_reverse = STARTED_COLUMN, True  # newest first
        self._configs: dict[str, dict[str, Any]] = {}  # of sweep trials, for the run line
        self._poll: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="runs-panel", classes="panel") as panel:
            panel.border_title = f"Runs in {self.runs_root}"
            yield Input(placeholder="filter (/): game, method, status or sweep",
                        id="runs-filter", compact=True)
            yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
            yield Static(id="empty")
        yield Static(id="run-line")
        yield Footer()

    def on_mount(self) -> None:
        self.reload()
        self.query_one(DataTable).focus()
        self._poll = self.set_interval(POLL_SECONDS, self.poll)

    def on_screen_resume(self) -> None:
        self.reload()
        if self._poll is not None:
            self._poll.resume()

    def on_screen_suspend(self) -> None:
        if self._poll is not None:  # another screen is on top: nobody sees the table
            self._poll.pause()

    # -- the table -----------------------------------------------------------------------------
    def reload(self) -> None:
        """Read the runs folder again and redraw."""
        self.folder.scan()
        self._take_infos()
        self.refresh_table()

    def poll(self) -> None:
        """Look for new and advancing runs; redraw only what changed."""
        if not self.folder.scan():
            return
        self._take_infos()
        text = self.query_one("#runs-filter", Input).value
        shown = self._sorted(text)
        if (columns_for(self.infos) != self.columns
                or [i.path for i in shown] != [i.path for i in self.shown]):
            self.refresh_table()  # rows came, went or moved
            return
        table, sweeps = self.query_one(DataTable), len(self.columns) > len(COLUMNS)
        keys = ["mark", *(name for name, _, _ in self.columns)]
        for old, new in zip(self.shown, shown, strict=True):
            if old != new:  # same run, new numbers: update its cells in place
                cells = row_cells(new, str(new.path) in self.marked, self.clock, sweeps)
                for key, cell in zip(keys, cells, strict=True):
                    table.update_cell(str(new.path), key, cell)
        self.shown = shown
        self._update_line()

    def _take_infos(self) -> None:
        self.infos = self.folder.infos
        present = {str(i.path) for i in self.infos}
        self.marked &= present
        self._configs = {k: v for k, v in self._configs.items() if k in present}

    def _sorted(self, text: str) -> list[runs.RunInfo]:
        _, key, _ = self.columns[self.sort_column]
        return sorted((i for i in self.infos if matches(i, text)), key=key,
                      reverse=self.sort_reverse)

    def refresh_table(self) -> None:
        """Filter, sort and redraw, keeping the cursor on the same run when it is still shown."""
        table = self.query_one(DataTable)
        current = self.current_run()
        text = self.query_one("#runs-filter", Input).value
        self.columns = columns_for(self.infos)
        if self.sort_column >= len(self.columns):  # the sweep column went with its runs
            self.sort_column, self.sort_reverse = STARTED_COLUMN, True
        self.shown = self._sorted(text)
        sweeps = len(self.columns) > len(COLUMNS)
        table.clear(columns=True)
        table.add_column(" ", key="mark", width=1)
        for i, (name, _, _) in enumerate(self.columns):
            arrow = (" ▼" if self.sort_reverse else " ▲") if i == self.sort_column else ""
            table.add_column(f"{name}{arrow}", key=name)
        for info in self.shown:
            table.add_row(*row_cells(info, str(info.path) in self.marked, self.clock, sweeps),
                          key=str(info.path))
        paths = [i.path for i in self.shown]
        if current is not None and current.path in paths:
            table.move_cursor(row=paths.index(current.path), animate=False)
        self._show_hint(text)
        self._update_line()

    def _show_hint(self, text: str) -> None:
        empty = self.query_one("#empty", Static)
        if not self.infos:
            empty.update(f"No runs in {self.runs_root} yet.\n\nStart one from the home screen "
                         "(Escape, pick a game and a method, Enter), or from a shell:\n"
                         "  agentapp train cartpole\n  agentapp train gridworld:cliff --algo "
                         "q-learning")
        elif not self.shown:
            empty.update(f"No run matches {text!r}.")
        empty.set_class(not self.shown, "-shown")

    def current_run(self) -> runs.RunInfo | None:
        table = self.query_one(DataTable)
        if not self.shown or not 0 <= table.cursor_row < len(self.shown):
            return None
        return self.shown[table.cursor_row]

    def _update_line(self) -> None:
        info = self.current_run()
        line = Text()
        if info is not None:
            line.append(str(info.path))
            if info.parent:
                line.append(f" · continued from {info.parent}")
            if info.sweep:
                line.append(f" · sweep {info.sweep}")
                trial = self._trial(info)
                if trial:
                    line.append(f" · {trial}")
            result = self.evaluations.get(str(info.path))
            if result:
                line.append(f" · {result}", style="bold")
        if self.marked:
            line.append(f"   {len(self.marked)} marked: m compares them")
        self.query_one("#run-line", Static).update(line)

    def _trial(self, info: runs.RunInfo) -> str:
        """What sets *info* apart from the other trials of its sweep (``lr=0.001 seed=2``)."""
        from agentapp.tui.screens.run_detail import trial_settings

        trials = [i for i in self.infos if i.sweep == info.sweep]
        for trial in trials:
            if str(trial.path) not in self._configs:  # read once: a trial's settings stay
                self._configs[str(trial.path)] = runs.read_json(trial.path / runs.CONFIG) or {}
        return trial_settings(self._configs[str(info.path)],
                              [self._configs[str(t.path)] for t in trials])

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._update_line()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        if event.column_index > 0:  # not the mark column
            self.action_sort(event.column_index - 1)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "runs-filter":
            self.refresh_table()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(DataTable).focus()

    # -- RunActions hooks ----------------------------------------------------------------------
    def run_deleted(self, info: runs.RunInfo) -> None:
        self.reload()

    def evaluation_done(self, info_path: str, line: str) -> None:
        self._update_line()

    # -- actions -------------------------------------------------------------------------------
    def action_sort(self, column: int) -> None:
        """Sort by *column*; again on the same column reverses the order."""
        if not 0 <= column < len(self.columns):  # "8" while no run belongs to a sweep
            return
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = column, self.columns[column][2]
        self.refresh_table()

    def action_cycle_sort(self) -> None:
        self.action_sort((self.sort_column + 1) % len(self.columns))

    def action_mark(self) -> None:
        info = self.current_run()
        if info is None:
            return
        self.marked ^= {str(info.path)}
        row = self.shown.index(info)
        self.query_one(DataTable).update_cell_at((row, 0), row_cells(info, str(info.path)
                                                                     in self.marked,
                                                                     self.clock)[0])
        self._update_line()

    def action_open(self) -> None:
        info = self.current_run()
        if info is not None:
            from agentapp.tui.screens.run_detail import RunDetailScreen

            self.app.push_screen(RunDetailScreen([info], self.runs_root, clock=self.clock,
                                                 evaluations=self.evaluations))

    def action_compare(self) -> None:
        chosen = [i for i in self.infos if str(i.path) in self.marked]
        if len(chosen) < 2:
            self.notify("mark two runs or more with space, then press m to compare them")
            return
        from agentapp.tui.screens.run_detail import RunDetailScreen

        self.app.push_screen(RunDetailScreen(chosen, self.runs_root, clock=self.clock))

    def action_focus_filter(self) -> None:
        self.query_one("#runs-filter", Input).focus()

    def action_reload(self) -> None:
        self.reload()

    def action_back(self) -> None:
        runs_filter = self.query_one("#runs-filter", Input)
        if runs_filter.has_focus:
            self.query_one(DataTable).focus()
            return
        self.dismiss()
