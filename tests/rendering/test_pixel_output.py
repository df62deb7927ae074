"""What a half-block picture sends to a terminal: the exact cells, styles and escape codes of a
tiny frame, in truecolor and downgraded by Rich for 256- and 16-colour terminals, whichever
console drew first in the process."""

from __future__ import annotations

import io

import numpy as np
import pytest
from rich.color import Color
from rich.console import Console
from rich.segment import Segment
from rich.style import Style

from agentapp.rendering.pixels import UPPER_HALF, PixelFrame


def frame_4x2() -> np.ndarray:
    """4 pixels wide, 2 tall: one text line of 4 cells (upper pixel in front, lower behind)."""
    image = np.zeros((2, 4, 3), dtype=np.uint8)
    image[0] = [(255, 0, 0), (255, 0, 0), (0, 255, 0), (10, 20, 30)]
    image[1] = [(0, 0, 255), (0, 0, 255), (0, 0, 0), (200, 200, 200)]
    return image


def printed(color_system: str) -> str:
    out = io.StringIO()
    console = Console(file=out, width=20, color_system=color_system, force_terminal=True,
                      legacy_windows=False)
    console.print(PixelFrame(frame_4x2()))
    return out.getvalue()


def test_a_4x2_frame_is_one_line_of_three_segments():
    console = Console(width=20, color_system="truecolor")
    (line,) = console.render_lines(PixelFrame(frame_4x2()), console.options, pad=False)
    rgb = Color.from_rgb
    assert line == [
        Segment(UPPER_HALF * 2, Style(color=rgb(255, 0, 0), bgcolor=rgb(0, 0, 255))),
        Segment(UPPER_HALF, Style(color=rgb(0, 255, 0), bgcolor=rgb(0, 0, 0))),
        Segment(UPPER_HALF, Style(color=rgb(10, 20, 30), bgcolor=rgb(200, 200, 200))),
    ]


TRUECOLOR = ("\x1b[38;2;255;0;0;48;2;0;0;255m▀▀\x1b[0m"
             "\x1b[38;2;0;255;0;48;2;0;0;0m▀\x1b[0m"
             "\x1b[38;2;10;20;30;48;2;200;200;200m▀\x1b[0m\n")
EIGHT_BIT = ("\x1b[38;5;196;48;5;21m▀▀\x1b[0m"  # red, blue of the 6x6x6 cube
             "\x1b[38;5;46;48;5;16m▀\x1b[0m"  # green, black
             "\x1b[38;5;16;48;5;251m▀\x1b[0m\n")  # near-black to black, light grey ramp
STANDARD = "\x1b[31;44m▀▀\x1b[0m\x1b[32;40m▀\x1b[0m\x1b[30;47m▀\x1b[0m\n"


@pytest.mark.parametrize("order", [("truecolor", "256", "standard"),
                                   ("standard", "256", "truecolor")])
def test_each_colour_system_gets_its_own_codes_whatever_drew_first(order):
    # a Rich Style keeps the codes of the first colour system it renders for: the picture keeps
    # one set of styles per colour system so that a 256-colour console never gets 24-bit codes
    expected = {"truecolor": TRUECOLOR, "256": EIGHT_BIT, "standard": STANDARD}
    for system in order:
        assert printed(system) == expected[system]
