"""Colour helpers: a diverging value heat map and a readable text colour for any background.

Kept apart from the gridworld picture because every value-shaded renderable (grids, plots,
tables of Q-values) wants the same scale: red for low, a dark neutral in the middle, green for
high, so that "greener is better" reads the same everywhere in the app.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from rich.color import Color
from rich.style import Style

RGB = tuple[int, int, int]

LOW: RGB = (190, 50, 50)
"""Heat-map colour of the lowest value."""
NEUTRAL: RGB = (58, 58, 66)
"""Heat-map colour of the middle of the scale, and of every cell when all values are equal."""
HIGH: RGB = (40, 160, 70)
"""Heat-map colour of the highest value."""

HEAT_LEVELS = 65
"""Heat positions are quantised to this many steps (odd, so the middle one is exactly neutral):
finer steps are invisible to the eye, and this few lets the styles be cached."""


def heat_rgb(t: float) -> RGB:
    """The colour at position *t* in [0, 1] of the diverging low -> neutral -> high scale."""
    t = min(1.0, max(0.0, float(t)))
    if t < 0.5:
        a, b, u = LOW, NEUTRAL, t * 2.0
    else:
        a, b, u = NEUTRAL, HIGH, (t - 0.5) * 2.0
    return (
        round(a[0] + (b[0] - a[0]) * u),
        round(a[1] + (b[1] - a[1]) * u),
        round(a[2] + (b[2] - a[2]) * u),
    )


def _linear(channel: int) -> float:
    c = channel / 255.0
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(rgb: RGB) -> float:
    """Relative luminance (WCAG 2) of an sRGB colour, 0 (black) to 1 (white)."""
    r, g, b = rgb
    return 0.2126 * _linear(r) + 0.7152 * _linear(g) + 0.0722 * _linear(b)


def text_on(rgb: RGB) -> str:
    """``"black"`` or ``"white"``: whichever reads better on a background of colour *rgb*.

    0.179 is the luminance at which black and white text have the same WCAG contrast ratio.
    """
    return "black" if luminance(rgb) > 0.179 else "white"


def cell_style(rgb: RGB, *, bold: bool = False) -> Style:
    """A style with background *rgb* and a readable black or white foreground."""
    return _cell_style(rgb, bold)


@lru_cache(maxsize=1024)
def _cell_style(rgb: RGB, bold: bool) -> Style:
    fg = (0, 0, 0) if text_on(rgb) == "black" else (255, 255, 255)
    return Style(color=Color.from_rgb(*fg), bgcolor=Color.from_rgb(*rgb), bold=bold)


def heat_style(level: int) -> Style:
    """The cell style for a quantised heat position ``0 .. HEAT_LEVELS - 1``."""
    return cell_style(heat_rgb(level / (HEAT_LEVELS - 1)))


def heat_levels(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Quantised heat positions of *values*, normalised over the cells where *mask* is true.

    The lowest masked value maps to 0 and the highest to ``HEAT_LEVELS - 1``. Cells outside the
    mask, non-finite values, and every cell when the masked values are all equal (or there are
    none) get the neutral middle level.
    """
    values = np.asarray(values, dtype=np.float64)
    middle = (HEAT_LEVELS - 1) // 2
    levels = np.full(values.shape, middle, dtype=np.int64)
    usable = np.asarray(mask, dtype=bool) & np.isfinite(values)
    if not usable.any():
        return levels
    lo, hi = float(values[usable].min()), float(values[usable].max())
    span = hi - lo
    if span <= 1e-12 * max(1.0, abs(lo), abs(hi)):
        return levels
    t = (values[usable] - lo) / span
    levels[usable] = np.rint(t * (HEAT_LEVELS - 1)).astype(np.int64)
    return levels
