"""The half-block picture: its size for a given console, the colours of its cells, the caption,
odd heights, and that a full-terminal frame is cheap enough to redraw many times a second."""

from __future__ import annotations

import time

import numpy as np
import pytest
from rich.color import Color
from rich.console import Console
from rich.segment import Segment

from agentapp.rendering.pixels import (
    UPPER_HALF,
    PixelFrame,
    downscale,
    fit_size,
    rich_color_of,
)


def _lines(frame: PixelFrame, width: int = 80, height: int | None = None,
           terminal: bool = False) -> list[list[Segment]]:
    console = Console(width=width, height=height or 25, force_terminal=terminal,
                      color_system="truecolor")
    return console.render_lines(frame, console.options, pad=False)


def _text(line: list[Segment]) -> str:
    return "".join(segment.text for segment in line)


def _cells(line: list[Segment]) -> list[tuple[Color | None, Color | None]]:
    """(foreground, background) of every cell of a picture line."""
    cells = []
    for segment in line:
        style = segment.style
        cells += [(style.color, style.bgcolor)] * len(segment.text)
    return cells


def test_a_small_image_is_drawn_one_cell_per_column_and_two_rows_per_line():
    image = np.zeros((6, 5, 3), dtype=np.uint8)
    lines = _lines(PixelFrame(image))
    assert [_text(line) for line in lines] == [UPPER_HALF * 5] * 3


@pytest.mark.parametrize(("width", "cols", "lines"), [(80, 80, 53), (40, 40, 26), (200, 160, 105)])
def test_atari_frames_shrink_to_the_width_and_keep_their_aspect(width, cols, lines):
    frame = PixelFrame(np.zeros((210, 160, 3), dtype=np.uint8))  # never grown past 1:1
    rendered = _lines(frame, width=width)
    assert len(rendered) == lines
    assert {len(_text(line)) for line in rendered} == {cols}
    assert frame.size_for(width) == (cols, lines)


def test_cartpole_frames_fit_a_terminal_height_too():
    frame = PixelFrame(np.zeros((400, 600, 3), dtype=np.uint8), caption="episode 1/1")
    rendered = _lines(frame, width=200, height=40, terminal=True)
    assert len(rendered) == 40  # 39 picture lines (78 pixel rows) and the caption
    assert len(_text(rendered[0])) == 117  # 600 * 78 / 400, floored
    assert "episode 1/1" in _text(rendered[-1])


def test_a_pipe_has_no_height_limit_but_max_height_is_kept():
    image = np.zeros((400, 600, 3), dtype=np.uint8)
    assert len(_lines(PixelFrame(image), width=60, height=10)) == 20
    assert len(_lines(PixelFrame(image, max_height=10, caption="c"), width=60)) == 10
    assert len(_text(_lines(PixelFrame(image, max_width=30), width=60)[0])) == 30


def test_cells_show_the_upper_pixel_in_front_and_the_lower_one_behind():
    image = np.zeros((4, 3, 3), dtype=np.uint8)
    image[0, :] = (255, 0, 0)
    image[1, :] = (0, 0, 255)
    image[2, 1] = (10, 20, 30)
    image[3, 2] = (200, 200, 200)
    lines = _lines(PixelFrame(image))
    first, second = _cells(lines[0]), _cells(lines[1])
    assert first == [(Color.from_rgb(255, 0, 0), Color.from_rgb(0, 0, 255))] * 3
    black = Color.from_rgb(0, 0, 0)
    assert second == [(black, black), (Color.from_rgb(10, 20, 30), black),
                      (black, Color.from_rgb(200, 200, 200))]
    assert len(lines[0]) == 1  # three equal cells are one segment


def test_an_odd_height_leaves_the_last_lower_half_to_the_terminal():
    image = np.full((5, 4, 3), 90, dtype=np.uint8)
    lines = _lines(PixelFrame(image))
    assert len(lines) == 3
    assert _cells(lines[-1]) == [(Color.from_rgb(90, 90, 90), None)] * 4


def test_shrinking_averages_the_pixels_each_cell_covers():
    image = np.zeros((4, 4, 3), dtype=np.uint8)
    image[:2, :2] = 200  # the top-left 2x2 block
    image[0, 2] = 100
    assert downscale(image, 2, 2)[:, :, 0].tolist() == [[200, 25], [0, 0]]
    assert downscale(image, 4, 4) is image


def test_fit_size_never_grows_and_never_overflows():
    assert fit_size(210, 160, 400, None) == (210, 160)
    assert fit_size(400, 600, 80, None) == (53, 80)
    assert fit_size(400, 600, 80, 10) == (20, 30)
    rows, cols = fit_size(211, 163, 77, 33)
    assert cols <= 77 and (rows + 1) // 2 <= 33


def test_grey_and_rgba_images_are_accepted_and_others_refused():
    assert len(_lines(PixelFrame(np.zeros((4, 4), dtype=np.uint8)))) == 2
    assert len(_lines(PixelFrame(np.zeros((4, 4, 4), dtype=np.uint8)))) == 2
    with pytest.raises(ValueError, match="uint8"):
        PixelFrame(np.zeros((4, 4, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="RGB"):
        PixelFrame(np.zeros((4, 4, 2), dtype=np.uint8))


def test_the_caption_is_one_line_even_when_too_long():
    frame = PixelFrame(np.zeros((2, 10, 3), dtype=np.uint8), caption="x" * 50)
    lines = _lines(frame, width=20)
    assert len(lines) == 2 and _text(lines[1]).startswith("xxx")
    assert len(_text(lines[1])) <= 20


def test_rich_color_of_takes_numpy_values():
    assert rich_color_of(np.array([1, 2, 3], dtype=np.uint8)) == Color.from_rgb(1, 2, 3)


def test_a_full_terminal_frame_takes_a_few_milliseconds():
    # 80 x 50 cells of noise: every cell its own segment, the worst case for the run merging
    image = np.random.default_rng(0).integers(0, 256, (210, 160, 3), dtype=np.uint8)
    frame = PixelFrame(image)
    console = Console(width=80, height=50, force_terminal=True, color_system="truecolor")
    _lines(frame)  # warm the style cache the way a second frame of a game finds it
    timings = []
    for _ in range(7):
        start = time.perf_counter()
        console.render_lines(frame, console.options.update(height=50), pad=False)
        timings.append(time.perf_counter() - start)
    # the best of a few, so a busy machine does not fail it; ~5 ms on a laptop
    assert min(timings) < 0.05
