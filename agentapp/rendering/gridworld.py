"""The gridworld picture: walls, goals, pits, cliffs, the agent, its greedy policy and value map.

One Rich renderable, :class:`GridPicture`, serves ``agentapp watch`` (printed live in a terminal),
``agentapp inspect`` and the Textual dashboard, so a gridworld looks the same everywhere. Each cell
is one line high and ``cell_width`` characters wide; its background is a red -> neutral -> green
heat map of the state value, its text the greedy arrow and the value (``→ 0.87``).

A picture given ``max_height`` (a panel's lines) fits them: when the grid is too tall at one line
per row it drops the legend, then draws two rows per line with half blocks (one column per cell,
in the cells' colours, the agent a bright gold half), and if even that is too big, only the part
of the grid around the agent. Without ``max_height`` nothing changes.

``rendering/grid_text.py`` gives the same information as plain, colourless text.

Only the grid contract is used (``rows``, ``cols``, ``walls``, ``starts``, ``terminals``,
``cliffs`` of a ``GridMap``), so any object with those attributes can be drawn.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.color import Color
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from agentapp.games.gridworld import ACTION_ARROWS
from agentapp.rendering.colors import (
    HEAT_LEVELS,
    NEUTRAL,
    RGB,
    cell_style,
    heat_levels,
    heat_rgb,
    heat_style,
)

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult


AGENT_GLYPH = "●"
WALL_GLYPH = "█"
START_MARK = "S"
NO_ACTION = "·"
HALF_BLOCK = "▀"

GOAL_RGB = (0, 175, 80)
PIT_RGB = (205, 35, 35)
CLIFF_RGB = (110, 10, 10)
WALL_RGB = (128, 128, 128)
AGENT_RGB = (255, 215, 0)

_WALL_STYLE = Style(color=Color.from_rgb(*WALL_RGB))
_AGENT_STYLE = cell_style(AGENT_RGB, bold=True)
_GOAL_STYLE = cell_style(GOAL_RGB, bold=True)
_PIT_STYLE = cell_style(PIT_RGB, bold=True)
_CLIFF_STYLE = cell_style(CLIFF_RGB)
_START_EXTRA = Style(underline=True, bold=True)
_LEGEND_GAP = "  "


def reward_label(reward: float) -> str:
    """A terminal's or cliff's reward as a short signed label: ``+1``, ``-1``, ``+10``, ``-0.5``."""
    return "0" if reward == 0 else f"{reward:+g}"


def per_cell(name: str, array: Any, n_cells: int, dtype: type) -> np.ndarray | None:
    """*array* flattened to one entry per cell (a flat or a rows x cols array), or None."""
    if array is None:
        return None
    flat = np.asarray(array, dtype=dtype).reshape(-1)
    if flat.size != n_cells:
        raise ValueError(f"{name} has {flat.size} entries; the grid has {n_cells} cells")
    return flat


def arrow(action: int) -> str:
    """The greedy arrow of *action* (``·`` for one outside the four moves)."""
    return ACTION_ARROWS[action] if 0 <= action < len(ACTION_ARROWS) else NO_ACTION


def _value_forms(value: float) -> list[str]:
    """The value printed ever shorter: 2 decimals first, as long as the cell allows."""
    if not np.isfinite(value):
        return ["nan" if np.isnan(value) else ("inf" if value > 0 else "-inf")]
    # "-0.00" would claim a sign the rounded number does not have
    return [
        f"{value:.{d}f}".replace("-", "") if round(value, d) == 0 else f"{value:.{d}f}"
        for d in (2, 1, 0)
    ]


def _floor_text(mark: str, value: float | None, width: int, start: bool) -> str:
    """A floor cell's text: a leading gap (``S`` on a start cell), the mark (an arrow or the
    agent), then the value right-aligned so decimal points line up down a column.

    The value keeps 2 decimals while they fit; when they only fit without the leading gap, the
    mark itself separates the cell from its left neighbour. Fewer decimals are the last resort.
    """
    if value is None:
        return _centre(((START_MARK if start else "") + mark)[:width], width)
    forms = _value_forms(value)
    for number in forms:
        if len(mark) + len(number) < width:
            lead = START_MARK if start else " "
            return lead + mark + number.rjust(width - 1 - len(mark))
        if mark and len(mark) + len(number) == width:
            return mark + number
    return _centre((mark or forms[-1])[:width], width)


def _fit(candidates: Sequence[str], width: int) -> str:
    """The first candidate that leaves a one-column gap to the next cell, else one that fits."""
    for limit in (width - 1, width):
        for text in candidates:
            if len(text) <= limit:
                return text
    return candidates[-1][:width] if candidates else ""


def _centre(text: str, width: int) -> str:
    pad = width - len(text)
    left = (pad + 1) // 2
    return " " * left + text + " " * (pad - left)


def _floor(level: int | None) -> Style:
    """A floor cell's style: its heat colour, or the neutral colour when there are no values."""
    return cell_style(NEUTRAL) if level is None else heat_style(level)


@lru_cache(maxsize=1024)
def _half_style(upper: RGB, lower: RGB | None) -> Style:
    """An upper half block's style: the upper cell's colour on the lower one's (none: the
    background, under a grid's last odd row)."""
    return Style(color=Color.from_rgb(*upper),
                 bgcolor=None if lower is None else Color.from_rgb(*lower))


def _window(size: int, room: int, centre: int | None) -> range:
    """*room* of *size* positions (all when they fit), around *centre* where there is one."""
    if size <= room:
        return range(size)
    start = 0 if centre is None else min(max(centre - room // 2, 0), size - room)
    return range(start, start + room)


@dataclass(frozen=True)
class _Layout:
    """How a picture is drawn in the room it has: which rows and columns, how."""

    rows: range
    cols: range
    cell_width: int
    half: bool = False
    """Half blocks: two rows per line, one column per cell, colours only."""
    legend: bool = True


class GridPicture:
    """A gridworld drawn as coloured cells, one line per grid row.

    Args:
        grid: the map (a ``GridMap``: ``rows``, ``cols``, ``walls``, ``starts``, ``terminals``,
            ``cliffs``; cells are ``row * cols + col``, row 0 at the top).
        values: state values, one per cell (flat or ``rows x cols``); shade the cells and are
            printed with 2 decimals when ``show_values``.
        policy: the greedy action per cell (0 up, 1 right, 2 down, 3 left), drawn as arrows.
        agent: the cell the agent stands on, drawn as a bright ``●``.
        show_values: print the values in the cells (the heat map is drawn either way).
        show_arrows: draw the policy arrows.
        cell_width: characters per cell; shrunk automatically to fit ``max_width`` and the
            console's width.
        max_width: the widest the grid may be, in columns (None: the console's width).
        legend: draw the legend line under the grid.
        caption: a line under the legend (e.g. ``episode 3 · return -13``).
        max_height: the most lines the picture may take, legend and caption included (None: as
            many as it needs). A grid too tall for it loses the legend, then is drawn with half
            blocks, then only around the agent (see the module's docstring).
    """

    def __init__(
        self,
        grid: Any,
        *,
        values: Any = None,
        policy: Any = None,
        agent: int | None = None,
        show_values: bool = True,
        show_arrows: bool = True,
        cell_width: int = 7,
        max_width: int | None = 100,
        legend: bool = True,
        caption: str | Text | None = None,
        max_height: int | None = None,
    ) -> None:
        if cell_width < 1:
            raise ValueError("cell_width must be at least 1")
        self.grid = grid
        n_cells = grid.rows * grid.cols
        self.values = per_cell("values", values, n_cells, np.float64)
        self.policy = per_cell("policy", policy, n_cells, np.int64)
        if agent is not None and not 0 <= int(agent) < n_cells:
            raise ValueError(f"agent cell {agent} is outside the grid's {n_cells} cells")
        self.agent = None if agent is None else int(agent)
        self.show_values = show_values
        self.show_arrows = show_arrows
        self.cell_width = cell_width
        self.max_width = max_width
        self.legend = legend
        self.caption = caption
        self.max_height = max_height

    # ----------------------------------------------------------------------------- layout

    def fitted_cell_width(self, available: int | None = None) -> int:
        """The cell width actually used when *available* columns are free (and ``max_width``)."""
        limit = self.max_width
        if available is not None:
            limit = available if limit is None else min(limit, available)
        if limit is None:
            return self.cell_width
        return max(1, min(self.cell_width, limit // self.grid.cols))

    def _layout(self, console: Console, options: ConsoleOptions) -> _Layout:
        """What to draw in *options*' width and ``max_height``: the whole grid at one line per
        row with its legend when it fits (always, without ``max_height``); else the first that
        fits of: without the legend, half blocks, half blocks without the legend; else the
        window of half blocks around the agent."""
        grid = self.grid
        full = _Layout(range(grid.rows), range(grid.cols),
                       self.fitted_cell_width(options.max_width), legend=self.legend)
        if self.max_height is None:
            return full
        width = options.max_width if self.max_width is None else min(options.max_width,
                                                                     self.max_width)
        sized = options.update(width=max(width, 1), height=None)
        caption = self._lines(console, sized, self._caption_text())
        legend = self._lines(console, sized, self.legend_text()) if self.legend else 0
        half = replace(full, cell_width=1, half=True)
        for layout in (full, replace(full, legend=False), half, replace(half, legend=False)):
            lines = (len(layout.rows) + 1) // 2 if layout.half else len(layout.rows)
            lines += caption + (legend if layout.legend else 0)
            if grid.cols <= width and lines <= self.max_height:
                return layout
        room = self.max_height - caption
        keep_legend = self.legend and legend <= room // 2  # the grid keeps half the lines
        lines = max(1, room - (legend if keep_legend else 0))
        row, col = (None, None) if self.agent is None else divmod(self.agent, grid.cols)
        return replace(half, rows=_window(grid.rows, 2 * lines, row),
                       cols=_window(grid.cols, max(width, 1), col), legend=keep_legend)

    def _caption_text(self) -> Text | None:
        if not self.caption:
            return None
        return Text(self.caption) if isinstance(self.caption, str) else self.caption

    @staticmethod
    def _lines(console: Console, options: ConsoleOptions, text: Text | None) -> int:
        return 0 if text is None else len(console.render_lines(text, options, pad=False))

    def _shaded(self) -> np.ndarray:
        """Cells the heat map is normalised over: not walls, terminals or cliffs (whose values
        are never visited states and would squash the scale)."""
        grid = self.grid
        shaded = np.ones(grid.rows * grid.cols, dtype=bool)
        for cell in (*grid.walls, *grid.terminals, *grid.cliffs):
            shaded[cell] = False
        return shaded

    def _heat(self) -> np.ndarray | None:
        return None if self.values is None else heat_levels(self.values, self._shaded())

    def _cell(self, s: int, width: int, heat: np.ndarray | None) -> Segment:
        """The segment that draws cell *s*, *width* columns wide."""
        grid = self.grid
        is_agent = s == self.agent
        if s in grid.walls and not is_agent:
            return Segment(WALL_GLYPH * width, _WALL_STYLE)
        if s in grid.terminals:
            return self._label_cell(grid.terminals[s], s == self.agent, width, cliff=False)
        if s in grid.cliffs:
            return self._label_cell(grid.cliffs[s], s == self.agent, width, cliff=True)

        value = None
        if self.values is not None and self.show_values:
            value = float(self.values[s])
        if is_agent:
            mark = AGENT_GLYPH
        elif self.policy is not None and self.show_arrows:
            mark = arrow(int(self.policy[s]))
        else:
            mark = ""
        start = s in grid.starts
        style = _AGENT_STYLE if is_agent else _floor(None if heat is None else int(heat[s]))
        if start:
            style = style + _START_EXTRA
        return Segment(_floor_text(mark, value, width, start), style)

    @staticmethod
    def _label_cell(reward: float, is_agent: bool, width: int, *, cliff: bool) -> Segment:
        """A terminal or cliff cell: its reward as a label, on green, red or dark red."""
        label = reward_label(reward)
        if is_agent:
            text = _fit([f"{AGENT_GLYPH} {label}", f"{AGENT_GLYPH}{label}", AGENT_GLYPH], width)
            return Segment(_centre(text, width), _AGENT_STYLE)
        style = _CLIFF_STYLE if cliff else _PIT_STYLE if reward < 0 else _GOAL_STYLE
        return Segment(_centre(_fit([label], width), width), style)

    def _rgb(self, s: int, heat: np.ndarray | None) -> RGB:
        """Cell *s*'s colour in a half-block picture."""
        grid = self.grid
        if s == self.agent:
            return AGENT_RGB
        if s in grid.walls:
            return WALL_RGB
        if s in grid.terminals:
            return PIT_RGB if grid.terminals[s] < 0 else GOAL_RGB
        if s in grid.cliffs:
            return CLIFF_RGB
        return NEUTRAL if heat is None else heat_rgb(int(heat[s]) / (HEAT_LEVELS - 1))

    def half_block_segments(self, rows: range, cols: range) -> Iterable[Segment]:
        """The cells in *rows* x *cols* at two rows per line and one column per cell: each
        character an upper half block in the upper cell's colour on the lower cell's."""
        heat, width = self._heat(), self.grid.cols
        for top in range(rows.start, rows.stop, 2):
            below = top + 1 < rows.stop
            for col in cols:
                lower = self._rgb((top + 1) * width + col, heat) if below else None
                yield Segment(HALF_BLOCK, _half_style(self._rgb(top * width + col, heat), lower))
            yield Segment.line()

    def grid_segments(self, width: int) -> Iterable[Segment]:
        """The grid alone, as segments, each cell *width* columns wide."""
        grid = self.grid
        heat = self._heat()
        for row in range(grid.rows):
            base = row * grid.cols
            for s in range(base, base + grid.cols):
                yield self._cell(s, width, heat)
            yield Segment.line()

    # ----------------------------------------------------------------------------- legend

    def legend_text(self) -> Text:
        """One line naming what the symbols and colours mean; only those on this map."""
        grid = self.grid
        items: list[Text] = []

        def item(sample: str, style: Style | str, name: str) -> None:
            items.append(Text.assemble((sample, style), f" {name}"))

        if self.agent is not None:
            item(f" {AGENT_GLYPH} ", _AGENT_STYLE, "agent")
        goals = [r for r in grid.terminals.values() if r >= 0]
        pits = [r for r in grid.terminals.values() if r < 0]
        if goals:
            item(f" {reward_label(max(goals))} ", _GOAL_STYLE, "goal")
        if pits:
            item(f" {reward_label(min(pits))} ", _PIT_STYLE, "pit")
        if grid.walls:
            item(WALL_GLYPH * 2, _WALL_STYLE, "wall")
        if grid.cliffs:
            item(f" {reward_label(min(grid.cliffs.values()))} ", _CLIFF_STYLE, "cliff")
        if grid.starts:
            item(f" {START_MARK} ", _floor(None) + _START_EXTRA, "start")
        scale = self._scale_text()
        if scale is not None:
            items.append(scale)
        return Text(_LEGEND_GAP).join(items)

    def _scale_text(self) -> Text | None:
        """``value -13.00 <heat bar> -1.00``: the range the heat map spans."""
        if self.values is None:
            return None
        usable = self.values[self._shaded() & np.isfinite(self.values)]
        if usable.size == 0 or usable.min() == usable.max():
            return None
        text = Text(f"value {usable.min():.2f} ")
        for i in range(7):
            text.append(" ", Style(bgcolor=Color.from_rgb(*heat_rgb(i / 6))))
        text.append(f" {usable.max():.2f}")
        return text

    # ----------------------------------------------------------------------------- Rich hooks

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        layout = self._layout(console, options)
        if layout.half:
            yield from self.half_block_segments(layout.rows, layout.cols)
        else:
            yield from self.grid_segments(layout.cell_width)
        if layout.legend:
            yield self.legend_text()
        caption = self._caption_text()
        if caption is not None:
            yield caption

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        # the grid cannot wrap; the legend and caption can, but would rather not
        layout = self._layout(console, options)
        cols = len(layout.cols)
        widest = cols * layout.cell_width
        if layout.legend:
            widest = max(widest, self.legend_text().cell_len)
        caption = self._caption_text()
        if caption is not None:
            widest = max(widest, caption.cell_len)
        return Measurement(cols, min(widest, options.max_width))
