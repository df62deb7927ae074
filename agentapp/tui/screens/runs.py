"""The runs screen: every run in the runs folder as a table, to sort, filter, open and act on.

It reads the same ``config.json`` / ``status.json`` files as ``agentapp runs`` (``runs.list_runs``),
newest first. The keys act on the run under the cursor (continue, watch, evaluate, delete; see
``run_actions.py``); space marks several runs and ``m`` overlays their return curves; Enter opens
one run's curves and settings. The table is rebuilt from the files whenever the screen comes
back, so runs that were trained, continued or deleted meanwhile show as they are.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
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

STATUS_STYLES = {"running": "bold green", "done": "", "stopped": "italic", "failed": "bold red"}
"""Plain styles that read on the dark and the light theme alike."""


def row_cells(info: runs.RunInfo, marked: bool, clock: Clock) -> list[Any]:
    steps = f"{info.steps:,}" + (f" / {info.total_steps:,}" if info.total_steps else "")
    return [
        Text("●" if marked else " ", style="bold"),
        info.game,
        info.algo,
        Text(steps, justify="right"),
        Text(format_return(info.last_eval), justify="right"),
        Text(format_return(info.best_eval), justify="right"),
        format_started(info.started, clock),
        Text(info.status, style=STATUS_STYLES.get(info.status, "")),
    ]


def matches(info: runs.RunInfo, text: str) -> bool:
    """Whether *info* answers the filter *text* (game, method, status or name, any case)."""
    needle = text.strip().lower()
    return not needle or needle in f"{info.game} {info.algo} {info.status} {info.name}".lower()


class RunsScreen(RunActions, Screen[None]):
    """The runs under *runs_root*; *clock* turns start times into local times (injectable so a
    snapshot shows the same dates everywhere)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *RunActions.RUN_BINDINGS,
        Binding("space", "mark", "Mark"),
        Binding("m", "compare", "Compare"),
        Binding("slash", "focus_filter", "Filter"),
        Binding("o", "cycle_sort", "Sort"),
        *[Binding(str(n), f"sort({n - 1})", show=False) for n in range(1, len(COLUMNS) + 1)],
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
        self.infos: list[runs.RunInfo] = []
        self.shown: list[runs.RunInfo] = []
        self.marked: set[str] = set()
        self.evaluations: dict[str, str] = {}
        self.sort_column = COLUMNS.index(next(c for c in COLUMNS if c[0] == "started"))
        self.sort_reverse = True  # newest first

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="runs-panel", classes="panel") as panel:
            panel.border_title = f"Runs in {self.runs_root}"
            yield Input(placeholder="filter (/): game, method or status", id="runs-filter",
                        compact=True)
            yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
            yield Static(id="empty")
        yield Static(id="run-line")
        yield Footer()

    def on_mount(self) -> None:
        self.reload()
        self.query_one(DataTable).focus()

    def on_screen_resume(self) -> None:
        self.reload()

    # -- the table -----------------------------------------------------------------------------
    def reload(self) -> None:
        """Read the runs folder again and redraw."""
        self.infos = runs.list_runs(self.runs_root)
        present = {str(i.path) for i in self.infos}
        self.marked &= present
        self.refresh_table()

    def refresh_table(self) -> None:
        """Filter, sort and redraw, keeping the cursor on the same run when it is still shown."""
        table = self.query_one(DataTable)
        current = self.current_run()
        text = self.query_one("#runs-filter", Input).value
        _, key, _ = COLUMNS[self.sort_column]
        self.shown = sorted((i for i in self.infos if matches(i, text)), key=key,
                            reverse=self.sort_reverse)
        table.clear(columns=True)
        table.add_column(" ", key="mark", width=1)
        for i, (name, _, _) in enumerate(COLUMNS):
            arrow = (" ▼" if self.sort_reverse else " ▲") if i == self.sort_column else ""
            table.add_column(f"{name}{arrow}", key=name)
        for info in self.shown:
            table.add_row(*row_cells(info, str(info.path) in self.marked, self.clock),
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
            result = self.evaluations.get(str(info.path))
            if result:
                line.append(f" · {result}", style="bold")
        if self.marked:
            line.append(f"   {len(self.marked)} marked: m compares them")
        self.query_one("#run-line", Static).update(line)

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
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = column, COLUMNS[column][2]
        self.refresh_table()

    def action_cycle_sort(self) -> None:
        self.action_sort((self.sort_column + 1) % len(COLUMNS))

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
