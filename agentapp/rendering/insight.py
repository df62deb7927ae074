"""What the agent thinks, drawn beside the game: one bar per action, the chosen one highlighted.

An :class:`~agentapp.engine.insight.Insight` holds either the policy's probabilities (bars are the
share of the width each action gets) or the Q-values (bars span the step's lowest to its highest
value, since only their order and gaps decide the greedy choice), and the state-value estimate.
Watching them move step by step shows what a picture of the game cannot: how sure the agent is,
and which alternative it nearly took. Rich only (no Textual, no torch), so ``agentapp watch`` and
the TUI show the same panel; the engine's module holds just numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.measure import Measurement
from rich.text import Text

from agentapp.engine.insight import PROBABILITIES, Q_VALUES, Insight

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

EIGHTHS = " ▏▎▍▌▋▊▉"
"""Partial blocks: a bar's end is drawn to an eighth of a cell."""
FULL = "█"
MARK = "▶ "
"""Before the chosen action's name (other names get as many spaces)."""
CHOSEN_STYLE = "bold green"
BAR_STYLE = "cyan"
MUTED_STYLE = "dim"
TITLES = {PROBABILITIES: "policy π(a|s)", Q_VALUES: "action values Q(s,a)"}
MIN_BAR = 4
MAX_WIDTH = 60
"""Widest the panel grows when the room is not set (longer bars read no better)."""


def bar(fraction: float, width: int) -> str:
    """A bar filling *fraction* (0 to 1) of *width* cells, to an eighth of a cell, padded."""
    fraction = min(1.0, max(0.0, fraction)) if math.isfinite(fraction) else 0.0
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    text = FULL * full + (EIGHTHS[part] if part else "")
    return text.ljust(width)


def fractions(insight: Insight) -> np.ndarray:
    """How much of its bar each action fills: the probability itself, or where its Q-value lies
    between this step's lowest (empty) and highest (full); all full when they are equal."""
    values = insight.values
    if insight.kind == PROBABILITIES:
        return np.clip(values, 0.0, 1.0)
    low, high = float(values.min()), float(values.max())
    if not high > low:  # all equal (or not finite): no action stands out
        return np.ones_like(values)
    return (values - low) / (high - low)


def number_format(insight: Insight) -> str:
    """Probabilities as percentages; Q-values with fewer decimals the larger they get."""
    if insight.kind == PROBABILITIES:
        return "{:.1%}"
    finite = np.abs(insight.values[np.isfinite(insight.values)])
    biggest = float(finite.max()) if finite.size else 0.0
    decimals = 1 if biggest >= 100 else 2 if biggest >= 10 else 3
    return f"{{:+.{decimals}f}}"


class InsightPanel:
    """The agent's numbers for one observation: a line per action and the state value.

    Args:
        insight: what :meth:`Algorithm.insight` returned (None: a muted line saying so).
        action_names: the game's names of the actions (``game.actions``); actions beyond them
            are shown by number.
        chosen: the action the agent took (highlighted), None before its first move.
        width: cells the panel may use (None: the room the console offers, at most 60).
        title: show a first line saying what the numbers are.
    """

    def __init__(self, insight: Insight | None, action_names: Sequence[str] = (),
                 chosen: Any = None, width: int | None = None, title: bool = True) -> None:
        self.insight = insight
        self.action_names = list(action_names)
        self.chosen = int(chosen) if chosen is not None and np.ndim(chosen) == 0 else None
        self.width = width
        self.title = title

    def names(self) -> list[str]:
        """One name per action the insight covers."""
        count = 0 if self.insight is None else len(self.insight.values)
        return [self.action_names[i] if i < len(self.action_names) else str(i)
                for i in range(count)]

    def lines(self, width: int) -> list[Text]:
        """The panel as lines of at most *width* cells."""
        insight = self.insight
        if insight is None:
            line = Text("no insight for this agent", style=MUTED_STYLE)
            line.truncate(width, overflow="ellipsis")
            return [line]
        names = self.names()
        fmt = number_format(insight)
        numbers = [fmt.format(v) for v in insight.values]
        name_width = max(len(n) for n in names)
        number_width = max(len(n) for n in numbers)
        bar_width = max(MIN_BAR, width - len(MARK) - name_width - number_width - 2)
        lines = [Text(TITLES[insight.kind], style="bold")] if self.title else []
        for i, (name, number, fill) in enumerate(
                zip(names, numbers, fractions(insight), strict=True)):
            chosen = i == self.chosen
            lines.append(Text.assemble(
                (MARK if chosen else " " * len(MARK), CHOSEN_STYLE),
                (name.ljust(name_width), "bold" if chosen else ""), " ",
                (bar(float(fill), bar_width), CHOSEN_STYLE if chosen else BAR_STYLE), " ",
                (number.rjust(number_width), "bold" if chosen else ""),
                no_wrap=True, overflow="ellipsis"))
        if insight.value is None:
            lines.append(Text("V(s)  none (no critic)", style=MUTED_STYLE))
        else:
            lines.append(Text.assemble(("V(s)", "italic"), f"  {insight.value:+.3f}"))
        for line in lines:
            line.truncate(width, overflow="ellipsis")
        return lines

    def _width(self, options: ConsoleOptions) -> int:
        return min(self.width or MAX_WIDTH, options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from self.lines(self._width(options))

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        width = self._width(options)
        return Measurement(min(width, 20), width)
