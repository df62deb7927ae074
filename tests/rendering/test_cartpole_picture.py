"""CartPole drawn from its state: golden pictures (upright, at the limit, leaning), a pole that
is one unbroken line at any angle, gymnasium's proportions, styles, and its cost per picture."""

from __future__ import annotations

import io
import math
import time

import numpy as np
import pytest
from rich.color import Color
from rich.console import Console

from agentapp.rendering.cartpole import (
    CART,
    LIMIT,
    POLE,
    POLE_LENGTH,
    TRACK_LIMIT,
    CartPolePicture,
    layout,
    segment_dots,
    styles_for,
)

UPRIGHT = [
    "                   ⢰⡆                   ",
    "                   ⢸⡇                   ",
    "                   ⢸⡇                   ",
    "                   ⢸⡇                   ",
    "                  ▐██▌                  ",
    "  ├──────────────────────────────────┤  ",
]
AT_THE_RIGHT_LIMIT = [
    "                                     ⢰  ",
    "                                     ⢸  ",
    "                                     ⢸  ",
    "                                     ⢸  ",
    "                                    ▐██▌",
    "  ├──────────────────────────────────┤  ",
]
LEANING_RIGHT = [
    "                     ⡖                  ",
    "                    ⢠⠇                  ",
    "                    ⣸                   ",
    "                   ⢀⡇                   ",
    "                  ▐██▌                  ",
    "  ├──────────────────────────────────┤  ",
]


@pytest.mark.parametrize(("x", "theta", "golden"), [
    (0.0, 0.0, UPRIGHT), (TRACK_LIMIT, 0.0, AT_THE_RIGHT_LIMIT), (0.0, 0.2, LEANING_RIGHT)])
def test_golden_pictures(x, theta, golden):
    assert CartPolePicture(x, theta).text_lines(40) == golden


def test_the_console_draws_the_same_lines_as_the_text():
    console = Console(width=40, record=True, file=io.StringIO())
    console.print(CartPolePicture(0.0, 0.2))
    assert console.export_text().splitlines() == LEANING_RIGHT


def kinds(picture: CartPolePicture, width: int) -> np.ndarray:
    """What each cell of the picture shows (0: blank), lines x width, the track left out."""
    count, cells = picture.cells(width)
    drawn = np.zeros((count, width), dtype=int)
    for (line, col), (_, kind) in cells.items():
        drawn[line, col] = kind
    return drawn


def test_leaning_left_mirrors_leaning_right():
    def pole_columns(theta: float) -> list[float]:
        drawn = kinds(CartPolePicture(0.0, theta), 40)
        return [float(np.flatnonzero(row == POLE).mean()) for row in drawn[:-1]]

    right, left = pole_columns(0.2), pole_columns(-0.2)
    assert right[0] > right[-1] and left[0] < left[-1]  # the tip is on the side it leans to
    assert [a - 19.5 for a in right] == pytest.approx([19.5 - b for b in left], abs=0.5)


@pytest.mark.parametrize("theta", np.linspace(-1.5, 1.5, 31))
def test_the_pole_is_one_unbroken_line_at_any_angle(theta):
    scale = 20.0
    pivot = (60.3, 40.0)
    tip = (pivot[0] + scale * math.sin(theta), pivot[1] - scale * math.cos(theta))
    top, left, dots = segment_dots(pivot, tip, 0.5, (48, 120))
    rows, cols = np.nonzero(dots)
    rows, cols = rows + top, cols + left
    assert top % 4 == 0 and left % 2 == 0  # whole cells, ready for braille
    # every dot row and column the pole spans has a dot, and neighbouring rows touch
    assert set(range(rows.min(), rows.max() + 1)) == set(rows.tolist())
    assert set(range(cols.min(), cols.max() + 1)) == set(cols.tolist())
    for row in range(rows.min(), rows.max()):
        here, below = cols[rows == row], cols[rows == row + 1]
        assert below.min() <= here.max() + 1 and here.min() <= below.max() + 1


def test_proportions_follow_gymnasium():
    scale, pole_lines, cart_lines = layout(60, None)
    # the track's 4.8 and the pole's 1.0 in the same dots per unit, dots being square
    drawn = kinds(CartPolePicture(0.0, 0.0, width=60), 60)
    pole_rows = np.flatnonzero((drawn == POLE).any(axis=1))
    tall_in_dots = 4 * pole_lines - 4 * pole_rows[0]
    assert tall_in_dots == pytest.approx(POLE_LENGTH * scale, abs=4)
    track = CartPolePicture(0.0, 0.0).track(60)
    left_limit = len(track[0].text)
    right_limit = 60 - len(track[-1].text) - 1
    assert (right_limit - left_limit) * 2 == pytest.approx(2 * TRACK_LIMIT * scale, abs=2)
    assert (drawn == CART).any(axis=1).sum() == cart_lines


def test_a_given_height_is_kept_and_the_picture_shrinks_to_it():
    lines = CartPolePicture(0.5, 0.1, width=60, height=5).text_lines(60)
    assert len(lines) == 5 and {len(line) for line in lines} == {60}
    assert "├" in lines[-1] and "┤" in lines[-1]


def test_styles_pole_in_gymnasiums_colour_limits_in_red():
    console = Console(width=40, color_system="truecolor")
    lines = console.render_lines(CartPolePicture(0.0, 0.1), console.options, pad=False)
    styled = {seg.text.strip()[:1]: seg.style for line in lines for seg in line if seg.style}
    assert styled["⡇"].color == Color.parse("rgb(202,152,101)")
    assert styled["├"].color == Color.parse("red")
    assert styles_for("256") is not styles_for("truecolor")
    assert styles_for("256")[LIMIT] == styles_for("truecolor")[LIMIT]


def test_odd_values_still_draw():
    for x, theta in [(math.nan, 0.0), (100.0, 3.0), (-100.0, -math.pi)]:
        lines = CartPolePicture(x, theta).text_lines(30)
        assert len(lines) == len(CartPolePicture(0, 0).text_lines(30))


def test_a_picture_costs_well_under_a_millisecond():
    console = Console(file=io.StringIO(), width=80, color_system="truecolor", force_terminal=True)
    pictures = [CartPolePicture(0.1 * i, 0.02 * i) for i in range(10)]
    console.print(pictures[0])  # warm up
    best = math.inf
    for _ in range(5):
        start = time.perf_counter()
        for picture in pictures:
            console.print(picture)
        best = min(best, (time.perf_counter() - start) / len(pictures))
    # the best of a few, so a busy machine does not fail it; ~0.3 ms on a small laptop core
    assert best < 0.005
