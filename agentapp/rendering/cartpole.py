"""CartPole drawn from its state: the track with its limits, the cart, and the pole at its angle.

CartPole's observation is the whole state, so the picture needs no frame from the environment:
cart position x and pole angle theta place everything. Proportions follow gymnasium's own renderer
(``classic_control/cartpole.py``): the track is 4.8 wide (the episode ends beyond x = ±2.4), the
pole 1.0 long (twice its half-length 0.5), the cart 0.4 by 0.24, the pole 0.08 thick.

The pole is drawn with braille characters: each cell holds 2 x 4 dots, and a terminal cell is about
twice as tall as it is wide, so the dots are square and a pole at any angle is an unbroken line.
The cart is drawn with (half) blocks. Watching runs at 50 steps a second, so only the pole's
bounding box is rasterised (a few numpy operations), the few cells drawn are kept sparse, and each
line is one :class:`~rich.segment.Segment` per run of cells.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

TRACK_LIMIT = 2.4
"""The episode ends when the cart leaves [-2.4, 2.4]."""
POLE_LENGTH = 1.0
CART_WIDTH = 0.4
CART_HEIGHT = 0.24
POLE_THICKNESS = 0.08
MARGIN = 0.3
"""Room beyond each limit (world units), so that a cart at the limit is drawn whole."""
HEADROOM = 0.05
"""Room above an upright pole's tip."""
DEFAULT_WIDTH = 60

EMPTY, POLE, CART, TRACK, LIMIT = range(5)
"""What a run of cells shows, each with its style."""
STYLES = {
    POLE: {"color": "rgb(202,152,101)"},  # gymnasium's pole; Rich finds the nearest on 256 colours
    CART: {"bold": True},  # the terminal's own text colour: seen on dark and light themes alike
    TRACK: {"dim": True},
    LIMIT: {"color": "red", "bold": True},
}
_style_sets: dict[str | None, dict[int, Style | None]] = {}


def styles_for(color_system: str | None) -> dict[int, Style | None]:
    """The styles for consoles of *color_system*, made once per colour system: a Rich ``Style``
    keeps the escape codes of the first colour system it is rendered for."""
    styles = _style_sets.get(color_system)
    if styles is None:
        styles = {EMPTY: None, **{kind: Style(**spec) for kind, spec in STYLES.items()}}
        _style_sets[color_system] = styles
    return styles


_BRAILLE_ORDER = np.array([0, 1, 2, 4, 5, 6, 3, 7])
"""A cell's dots listed column by column (left: rows 0-3, right: rows 0-3), reordered so that
dot k is bit k of its braille character (U+2800 + bits): rows 0-2 of each column come first."""
_CART_CHARS = (" ", "▌", "▐", "█")
"""Cart cells by which halves the cart covers: none, left, right, both."""


def layout(width: int, height: int | None) -> tuple[float, int, int]:
    """``(dots per world unit, pole lines, cart lines)`` for a picture *width* cells wide and
    *height* lines tall, track line included (None: as tall as the proportions need)."""
    scale = 2 * width / (2 * (TRACK_LIMIT + MARGIN))
    if height is not None:
        scale = min(scale, 4 * (height - 1) / (POLE_LENGTH + CART_HEIGHT + HEADROOM))
    cart_lines = max(1, round(CART_HEIGHT * scale / 4))
    if height is None:
        pole_lines = math.ceil((POLE_LENGTH + HEADROOM) * scale / 4)
    else:
        pole_lines = max(1, height - 1 - cart_lines)
    return scale, pole_lines, cart_lines


def segment_dots(start: tuple[float, float], end: tuple[float, float], half_width: float,
                 shape: tuple[int, int]) -> tuple[int, int, np.ndarray]:
    """``(top, left, dots)``: which dots lie within *half_width* of the segment from *start* to
    *end* (``(x, y)`` in dots, y downwards, dot centres at ``+0.5``), computed only over the
    segment's bounding box, widened to whole cells (*top* a multiple of 4, *left* of 2) and clipped
    to a canvas of *shape* (``rows x cols`` of dots, whole cells)."""
    (x0, y0), (x1, y1) = start, end
    top = max(0, math.floor(min(y0, y1) - half_width)) // 4 * 4
    bottom = min(shape[0], -(-(math.ceil(max(y0, y1) + half_width) + 1) // 4) * 4)
    left = max(0, math.floor(min(x0, x1) - half_width)) // 2 * 2
    right = min(shape[1], -(-(math.ceil(max(x0, x1) + half_width) + 1) // 2) * 2)
    if left >= right or top >= bottom:
        return 0, 0, np.zeros((0, 0), dtype=bool)
    xs = np.arange(left, right) + 0.5
    ys = (np.arange(top, bottom) + 0.5)[:, None]
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    # the nearest point of the segment to each dot: start + t (end - start), t clipped to [0, 1]
    t = ((xs - x0) * dx + (ys - y0) * dy) / length2 if length2 else np.zeros((1, 1))
    t = np.clip(t, 0.0, 1.0)
    near = (xs - x0 - t * dx) ** 2 + (ys - y0 - t * dy) ** 2 <= half_width * half_width
    return top, left, near


def braille(dots: np.ndarray) -> np.ndarray:
    """Code points of the braille cells showing *dots* (``4 rows x 2 cols`` of dots per cell);
    0 where a cell has no dot."""
    rows, cols = dots.shape[0] // 4, dots.shape[1] // 2
    cells = dots.reshape(rows, 4, cols, 2).transpose(0, 2, 3, 1).reshape(rows, cols, 8)
    bits = np.packbits(cells[:, :, _BRAILLE_ORDER], axis=-1, bitorder="little")[:, :, 0]
    return np.where(bits > 0, bits.astype(np.uint32) + 0x2800, 0).astype(np.uint32)


Cells = dict[tuple[int, int], tuple[str, int]]
"""The drawn cells of a picture: ``(line, column) -> (character, kind)``; the rest is blank."""


def line_segments(count: int, width: int, cells: Cells,
                  styles: dict[int, Style | None]) -> list[list[Segment]]:
    """*count* lines of *width* cells as segments: one per run of drawn cells of one kind, and
    one per gap of blanks."""
    by_line: list[list[tuple[int, str, int]]] = [[] for _ in range(count)]
    for (line, col), (char, kind) in sorted(cells.items()):
        by_line[line].append((col, char, kind))
    lines = []
    for drawn in by_line:
        segments, run, run_kind, at = [], "", EMPTY, 0
        for col, char, kind in drawn:
            if run and (col > at or kind != run_kind):
                segments.append(Segment(run, styles[run_kind]))
                run = ""
            if col > at:
                segments.append(Segment(" " * (col - at)))
            run, run_kind, at = run + char, kind, col + 1
        if run:
            segments.append(Segment(run, styles[run_kind]))
        if at < width:
            segments.append(Segment(" " * (width - at)))
        lines.append(segments)
    return lines


class CartPolePicture:
    """CartPole at cart position *x* and pole angle *theta* (radians from upright, positive
    leaning right), drawn *width* cells wide (None: the console's width, at most 60) and
    *height* lines tall with the track (None: what the proportions need; 60 wide is 8 lines).

    A cart beyond the picture's margins is drawn at its edge; the pole may leave the picture."""

    def __init__(self, x: float, theta: float, width: int | None = None,
                 height: int | None = None) -> None:
        self.x = float(np.nan_to_num(x))
        self.theta = float(np.nan_to_num(theta))
        self.width, self.height = width, height

    def cells(self, width: int) -> tuple[int, Cells]:
        """``(lines, cells)``: the cart and the pole above the track, *width* cells wide."""
        scale, pole_lines, cart_lines = layout(width, self.height)
        lines = pole_lines + cart_lines
        centre = width + max(-TRACK_LIMIT - MARGIN, min(TRACK_LIMIT + MARGIN, self.x)) * scale
        pivot = (centre, 4.0 * pole_lines)  # the pole stands on the cart's top, in dots
        reach = POLE_LENGTH * scale
        tip = (centre + reach * math.sin(self.theta), pivot[1] - reach * math.cos(self.theta))
        top, left, dots = segment_dots(pivot, tip, max(0.5, POLE_THICKNESS * scale / 2),
                                       (4 * lines, 2 * width))
        codes = braille(dots)
        cells: Cells = {}
        for row, col in zip(*np.nonzero(codes), strict=True):
            cells[top // 4 + int(row), left // 2 + int(col)] = (chr(codes[row, col]), POLE)
        # the cart: the dots whose centres it covers, as whole or half blocks
        half = CART_WIDTH * scale / 2
        first = max(0, math.ceil(centre - half - 0.5))
        last = min(2 * width - 1, math.floor(centre + half - 0.5))
        for col in range(first // 2, last // 2 + 1):
            char = _CART_CHARS[(2 * col >= first) + 2 * (2 * col + 1 <= last)]
            for line in range(pole_lines, lines):
                cells[line, col] = (char, CART)
        return lines, cells

    def track(self, width: int, styles: dict[int, Style | None] | None = None) -> list[Segment]:
        """The track between the limits, each limit a bar (the cart's centre may not pass it)."""
        styles = styles or styles_for("truecolor")
        scale, _, _ = layout(width, self.height)
        reach = TRACK_LIMIT * scale
        left = max(0, math.floor((width - reach) / 2))
        right = min(width - 1, math.ceil((width + reach) / 2) - 1)
        return [Segment(" " * left), Segment("├", styles[LIMIT]),
                Segment("─" * (right - left - 1), styles[TRACK]), Segment("┤", styles[LIMIT]),
                Segment(" " * (width - right - 1))]

    def text_lines(self, width: int) -> list[str]:
        """The picture as plain text (for tests and logs)."""
        count, cells = self.cells(width)
        lines = line_segments(count, width, cells, styles_for(None))
        return ["".join(s.text for s in line) for line in [*lines, self.track(width)]]

    def _width(self, options: ConsoleOptions) -> int:
        return max(8, min(self.width or DEFAULT_WIDTH, options.max_width))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = self._width(options)
        newline = Segment.line()
        styles = styles_for(console.color_system)
        count, cells = self.cells(width)
        for line in line_segments(count, width, cells, styles):
            yield from line
            yield newline
        yield from self.track(width, styles)
        yield newline

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        width = self._width(options)
        return Measurement(width, width)
