"""Camera pictures in the terminal: an RGB frame drawn with upper-half-block characters.

Games other than the gridworld only know how to draw themselves as pixels (``render_mode=
"rgb_array"``: Atari's 210x160 screens, CartPole's 400x600 canvas). :class:`PixelFrame` shows such
a frame in any Rich console, so ``agentapp watch`` and the Textual dashboard draw the same picture.

Each text cell shows two pixels stacked: ``▀`` in the upper pixel's colour on a background of the
lower one. A terminal cell is about twice as tall as it is wide, so these half-cell pixels are
close to square and one scale factor for both axes keeps the aspect ratio. Frames are shrunk by
area averaging (each cell is the mean of the source pixels it covers), which keeps thin lines such
as CartPole's pole and Atari's ball visible where picking single pixels would make them flicker.

A frame is redrawn many times a second, so the work is done with numpy and runs of equal colour
pairs become one :class:`~rich.segment.Segment`: flat backgrounds cost one escape sequence per line.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from rich.color import Color
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

UPPER_HALF = "▀"

RGB = tuple[int, int, int]

_STYLE_CACHE_LIMIT = 8192
"""Styles kept between frames; a game's palette is small, but averaging makes blends, so the
cache is emptied when it grows past this (rebuilding a style costs microseconds)."""
_caches: dict[str | None, dict[int, Style]] = {}
"""One style cache per colour system: a Rich ``Style`` keeps the escape codes of the first colour
system it was rendered for, so a style shared by a truecolor and a 256-colour console would
give the second one the first one's codes."""


def style_cache(color_system: str | None) -> dict[int, Style]:
    """The styles of cells drawn for consoles of *color_system* (``Console.color_system``)."""
    return _caches.setdefault(color_system, {})


def rich_color_of(rgb: RGB | np.ndarray) -> Color:
    """The Rich truecolor of an ``(r, g, b)`` triple of 0-255 integers."""
    r, g, b = (int(c) for c in rgb)
    return Color.from_rgb(r, g, b)


def _unpack(packed: int) -> RGB:
    return (packed >> 16) & 0xFF, (packed >> 8) & 0xFF, packed & 0xFF


def _style_of(key: int, styles: dict[int, Style]) -> Style:
    """The style of one cell: foreground = upper pixel, background = lower pixel.

    *key* packs both colours as ``upper << 24 | lower``; a negative key means there is no lower
    pixel (the last line of an odd-height picture), which leaves the terminal's background.
    """
    style = styles.get(key)
    if style is None:
        if len(styles) >= _STYLE_CACHE_LIMIT:
            styles.clear()
        if key < 0:
            style = Style(color=rich_color_of(_unpack(~key)))
        else:
            style = Style(color=rich_color_of(_unpack(key >> 24)),
                          bgcolor=rich_color_of(_unpack(key & 0xFFFFFF)))
        styles[key] = style
    return style


def fit_size(
    height: int, width: int, max_cols: int | None, max_lines: int | None
) -> tuple[int, int]:
    """``(pixel rows, pixel columns)`` of a *height* x *width* image shrunk to fit.

    The picture may be at most *max_cols* cells wide and *max_lines* lines tall (two pixel rows
    per line); None means no limit. Both axes share one factor, at most 1: growing a picture
    adds no detail and only costs output.
    """
    scale = 1.0
    if max_cols is not None:
        scale = min(scale, max_cols / width)
    if max_lines is not None:
        scale = min(scale, 2 * max_lines / height)
    # the small epsilon keeps 80 / 600 * 600 from flooring to 79
    rows = max(1, math.floor(height * scale + 1e-9))
    cols = max(1, math.floor(width * scale + 1e-9))
    return rows, cols


def _bins(size: int, parts: int) -> tuple[np.ndarray, np.ndarray]:
    """Start index and length of each of *parts* nearly equal bins over ``range(size)``.

    With more parts than elements bins repeat an element (length 1): nearest-neighbour growth.
    """
    starts = (np.arange(parts) * size) // parts
    ends = np.append(starts[1:], size)
    return starts, np.maximum(ends - starts, 1)


def downscale(image: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """*image* (``H x W x 3`` uint8) resampled to ``rows x cols`` by area averaging."""
    height, width = image.shape[:2]
    if (rows, cols) == (height, width):
        return image
    row_starts, row_counts = _bins(height, rows)
    col_starts, col_counts = _bins(width, cols)
    # reduceat sums each bin in one pass per axis; uint32 holds 255 * any realistic bin area
    summed = np.add.reduceat(image, row_starts, axis=0, dtype=np.uint32)
    summed = np.add.reduceat(summed, col_starts, axis=1, dtype=np.uint32)
    area = row_counts[:, None, None] * col_counts[None, :, None]
    return ((summed + area // 2) // area).astype(np.uint8)


def as_rgb(image: np.ndarray) -> np.ndarray:
    """*image* as ``H x W x 3`` uint8: grey ``H x W`` is repeated, an alpha channel dropped."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4) or 0 in array.shape:
        raise ValueError(f"expected an H x W x 3 RGB image, got shape {array.shape}")
    if array.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {array.dtype}")
    return array[:, :, :3]


def cell_keys(pixels: np.ndarray) -> np.ndarray:
    """One int64 per text cell packing its upper and lower pixel (see :func:`_style_of`)."""
    packed = (pixels[:, :, 0].astype(np.int64) << 16) | (pixels[:, :, 1].astype(np.int64) << 8)
    packed |= pixels[:, :, 2]
    upper = packed[0::2]
    keys = np.empty_like(upper)
    lower = packed[1::2]
    keys[: len(lower)] = (upper[: len(lower)] << 24) | lower
    if len(lower) < len(upper):  # odd height: the last line has only its upper pixels
        keys[-1] = ~upper[-1]
    return keys


def line_segments(keys: np.ndarray, styles: dict[int, Style] | None = None) -> list[Segment]:
    """The segments of one text line, one per run of equal cells (styles from *styles*, by
    default the truecolor cache)."""
    styles = style_cache("truecolor") if styles is None else styles
    change = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    bounds = [0, *change.tolist(), len(keys)]
    values = keys[bounds[:-1]].tolist()
    return [
        Segment(UPPER_HALF * (end - start), _style_of(key, styles))
        for start, end, key in zip(bounds[:-1], bounds[1:], values, strict=True)
    ]


class PixelFrame:
    """An RGB frame drawn with half-block characters, shrunk to fit, with an optional caption.

    Args:
        image: ``H x W x 3`` uint8 (grey ``H x W`` and RGBA are accepted too).
        max_width: the widest the picture may be, in cells (None: the console's width).
        max_height: the tallest the whole renderable may be, in lines, caption included
            (None: the height the console offers, when it is a terminal or sets one).
        caption: one line under the picture (e.g. ``episode 2/5 · step 31 · return 31.00``).
    """

    def __init__(self, image: np.ndarray, max_width: int | None = None,
                 max_height: int | None = None, caption: str = "") -> None:
        self.image = as_rgb(image)
        self.max_width = max_width
        self.max_height = max_height
        self.caption = caption

    def pixel_size(self, width: int | None, height: int | None = None) -> tuple[int, int]:
        """``(pixel rows, pixel columns)`` the image is shrunk to, given the room a console
        offers: *width* cells and *height* lines (None: no limit besides the frame's own)."""
        max_lines = _least(self.max_height, height)
        if max_lines is not None:
            max_lines = max(1, max_lines - (1 if self.caption else 0))
        return fit_size(*self.image.shape[:2], _least(self.max_width, width), max_lines)

    def size_for(self, width: int | None, height: int | None = None) -> tuple[int, int]:
        """``(cells wide, lines tall)`` of the picture alone (the caption not counted)."""
        rows, cols = self.pixel_size(width, height)
        return cols, (rows + 1) // 2

    def _console_height(self, console: Console, options: ConsoleOptions) -> int | None:
        # a pipe or a log has no height to respect; a terminal (or a widget that sets a
        # height) does
        if options.height is not None:
            return options.height
        return options.max_height if console.is_terminal else None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        rows, cols = self.pixel_size(options.max_width, self._console_height(console, options))
        newline = Segment.line()
        styles = style_cache(console.color_system)
        for line in cell_keys(downscale(self.image, rows, cols)):
            yield from line_segments(line, styles)
            yield newline
        if self.caption:
            yield Text(self.caption, no_wrap=True, overflow="ellipsis")

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        cols, _ = self.size_for(options.max_width)
        widest = max(cols, Text(self.caption).cell_len if self.caption else 0)
        return Measurement(cols, min(widest, options.max_width))


def _least(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    return a if b is None else min(a, b)
