"""The dashboard's log: checkpoints, evaluations, warnings and the user's own requests.

A :class:`~textual.widgets.RichLog` holds Rich text, which knows nothing of Textual themes, so the
colours are read from component classes (theme variables) when a line is written, and the kept
lines are written again when the theme or the width changes.
"""

from __future__ import annotations

from collections import deque
from typing import ClassVar

from rich.table import Table
from textual.widgets import RichLog

KEPT = 500
"""Lines kept (and shown): the log of a long run must not grow without bound."""

STEP_WIDTH = 10
"""Columns of the step in front of each line: up to 99,999,999 steps stay aligned."""

LEVELS = ("info", "good", "warning", "error", "request")


class EventLog(RichLog):
    """``add(text, step, level)``: one line, prefixed with the step it happened at."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {f"event-log--{level}" for level in (*LEVELS, "step")}
    DEFAULT_CSS = """
    EventLog { background: $surface; scrollbar-size-vertical: 1; }
    EventLog > .event-log--step { color: $text-muted; }
    EventLog > .event-log--info { color: $foreground; }
    EventLog > .event-log--good { color: $success; }
    EventLog > .event-log--warning { color: $warning; text-style: bold; }
    EventLog > .event-log--error { color: $error; text-style: bold; }
    EventLog > .event-log--request { color: $accent; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        # min_width=1: lines wrap at the panel's width (RichLog's default is 78 columns)
        super().__init__(max_lines=KEPT, min_width=1, wrap=True, markup=False,
                         highlight=False, id=id, classes=classes)
        self.entries: deque[tuple[str, int | None, str]] = deque(maxlen=KEPT)

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._rewrite())

    def on_resize(self) -> None:
        self._rewrite()  # lines are wrapped when written: wrap them again at the new width

    def add(self, text: str, step: int | None = None, level: str = "info") -> None:
        if level not in LEVELS:
            level = "info"
        self.entries.append((text, step, level))
        self.write(self._line(text, step, level))

    def _line(self, text: str, step: int | None, level: str) -> Table:
        # a grid, so that a wrapped line stays indented under its text, clear of the steps
        line = Table.grid(padding=(0, 1))
        line.add_column(width=STEP_WIDTH, justify="right", no_wrap=True,
                        style=self.get_component_rich_style("event-log--step"))
        text_style = self.get_component_rich_style(f"event-log--{level}")
        line.add_column(ratio=1, overflow="fold", style=text_style)  # fold: long paths
        line.add_row(f"{step:,}" if step is not None else "", text)
        return line

    def _rewrite(self) -> None:
        self.clear()
        for text, step, level in self.entries:
            self.write(self._line(text, step, level))

    @property
    def lines_text(self) -> list[str]:
        """The plain text of the kept lines (what the user reads), oldest first."""
        return [text for text, _step, _level in self.entries]
