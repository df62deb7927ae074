"""The gridworld picture and its plain-text forms, checked on Russell & Norvig's 4x3 world.

The values are the book's utilities (discount 1, living reward -0.04), the policy its optimal one.
"""

from __future__ import annotations

import io
import subprocess
import sys
import time

import numpy as np
import pytest
from rich.console import Console
from rich.panel import Panel
from rich.segment import Segment

from agentapp.games.gridmap import GridMap, load_map
from agentapp.rendering import GridPicture, policy_text_grid, value_text_grid
from agentapp.rendering.colors import NEUTRAL, heat_rgb, luminance, text_on
from agentapp.rendering.gridworld import AGENT_GLYPH, WALL_GLYPH

UP, RIGHT, DOWN, LEFT = range(4)
# fmt: off
CLASSIC_VALUES = np.array([
    0.812, 0.868, 0.918, 0.0,
    0.762, 0.0,   0.660, 0.0,
    0.705, 0.655, 0.611, 0.388,
])
CLASSIC_POLICY = np.array([
    RIGHT, RIGHT, RIGHT, UP,
    UP,    UP,    UP,    UP,
    UP,    LEFT,  LEFT,  LEFT,
])
# fmt: on


def console(width: int = 120) -> Console:
    return Console(record=True, width=width, color_system="truecolor", file=io.StringIO())


def lines_of(renderable, width: int = 120) -> list[str]:
    c = console(width)
    c.print(renderable)
    return c.export_text(styles=False).splitlines()


def cells_of(renderable, width: int = 120) -> list[Segment]:
    """The grid's cell segments (those before the first line break are row 0, and so on)."""
    c = console(width)
    return [seg for seg in c.render(renderable) if seg.text and seg.text != "\n"]


def cell_text(line: str, col: int, width: int = 7) -> str:
    return line[col * width : (col + 1) * width]


@pytest.fixture
def classic() -> GridMap:
    return load_map("classic")


def test_classic_picture_shows_arrows_values_rewards_walls(classic):
    pic = GridPicture(classic, values=CLASSIC_VALUES, policy=CLASSIC_POLICY, legend=False)
    lines = lines_of(pic)
    assert len(lines) == 3
    assert [cell_text(lines[0], c).strip() for c in range(4)] == [
        "→ 0.81",
        "→ 0.87",
        "→ 0.92",
        "+1",
    ]
    assert [cell_text(lines[1], c).strip() for c in range(4)] == [
        "↑ 0.76",
        WALL_GLYPH * 7,
        "↑ 0.66",
        "-1",
    ]
    assert cell_text(lines[2], 3).strip() == "← 0.39"
    # the start cell (row 2, col 0) is marked
    assert cell_text(lines[2], 0) == "S↑ 0.70"


def test_agent_glyph_sits_on_its_cell(classic):
    lines = lines_of(GridPicture(classic, values=CLASSIC_VALUES, policy=CLASSIC_POLICY, agent=10))
    grid_lines = lines[:3]
    hits = [
        (r, c) for r in range(3) for c in range(4) if AGENT_GLYPH in cell_text(grid_lines[r], c)
    ]
    assert hits == [(2, 2)]
    assert cell_text(grid_lines[2], 2).strip() == "● 0.61"
    assert "agent" in lines[3]  # the legend names it


def test_agent_on_a_terminal_keeps_the_reward_label(classic):
    lines = lines_of(GridPicture(classic, agent=3, legend=False))
    assert cell_text(lines[0], 3).strip() == "● +1"


def test_legend_and_caption_under_the_grid(classic):
    pic = GridPicture(classic, values=CLASSIC_VALUES, agent=8, caption="episode 3 · return 0.72")
    lines = lines_of(pic)
    legend = lines[3]
    for word in ("agent", "goal", "pit", "wall", "start", "0.39", "0.92"):
        assert word in legend
    assert "cliff" not in legend  # only what is on this map
    assert lines[4] == "episode 3 · return 0.72"
    assert len(lines_of(GridPicture(classic, legend=False))) == 3


def test_fits_a_panel_sized_to_its_content():
    aliased = load_map("aliased")
    pic = GridPicture(aliased, values=np.arange(10.0), agent=1, caption="hello")
    lines = lines_of(Panel.fit(pic), width=120)
    assert len(lines) == 2 + 2 + 1 + 1  # borders, grid rows, legend on one line, caption
    assert "value 0.00" in lines[3] and "4.00" in lines[3]


def test_heat_map_high_cells_green_low_cells_red(classic):
    segs = cells_of(GridPicture(classic, values=CLASSIC_VALUES, legend=False))
    by_text = {seg.text.strip(): seg.style for seg in segs}
    high = by_text["0.92"].bgcolor.get_truecolor()
    low = by_text["0.39"].bgcolor.get_truecolor()
    assert high != low
    assert high.green > high.red and low.red > low.green
    assert tuple(high) == heat_rgb(1.0) and tuple(low) == heat_rgb(0.0)
    # terminals are coloured by the sign of their reward, not by the heat map
    assert by_text["+1"].bgcolor.get_truecolor().green > 150
    assert by_text["-1"].bgcolor.get_truecolor().red > 150


def test_heat_map_colours_also_show_in_html(classic):
    c = console()
    c.print(GridPicture(classic, values=CLASSIC_VALUES, legend=False))
    html = c.export_html(inline_styles=True)
    high, low = ("#{:02x}{:02x}{:02x}".format(*heat_rgb(t)) for t in (1.0, 0.0))
    assert f"background-color: {high}" in html and f"background-color: {low}" in html


def test_equal_values_give_neutral_cells(classic):
    segs = cells_of(GridPicture(classic, values=np.full(12, 0.5), legend=False))
    floor = [seg for seg in segs if "0.50" in seg.text]
    assert len(floor) == 9  # 12 cells less the wall and the two terminals
    assert {tuple(seg.style.bgcolor.get_truecolor()) for seg in floor} == {NEUTRAL}


def test_cell_text_is_readable_on_its_background(classic):
    values = np.linspace(-1, 1, 12)
    for seg in cells_of(GridPicture(classic, values=values, agent=0, legend=False)):
        if seg.style is None or seg.style.bgcolor is None:
            continue
        bg = tuple(seg.style.bgcolor.get_truecolor())
        fg = tuple(seg.style.color.get_truecolor())
        assert fg == ((0, 0, 0) if text_on(bg) == "black" else (255, 255, 255))
        contrast = (max(luminance(fg), luminance(bg)) + 0.05) / (
            min(luminance(fg), luminance(bg)) + 0.05
        )
        assert contrast >= 4.5, (seg.text, bg, fg)


def test_hiding_values_and_arrows(classic):
    lines = lines_of(
        GridPicture(
            classic, values=CLASSIC_VALUES, policy=CLASSIC_POLICY, show_values=False, legend=False
        )
    )
    assert cell_text(lines[0], 0).strip() == "→" and "0.81" not in lines[0]
    lines = lines_of(
        GridPicture(
            classic, values=CLASSIC_VALUES, policy=CLASSIC_POLICY, show_arrows=False, legend=False
        )
    )
    assert cell_text(lines[0], 0).strip() == "0.81" and "→" not in "".join(lines)


def test_negative_zero_is_printed_without_sign(classic):
    values = np.zeros(12)
    values[0] = -0.001
    lines = lines_of(GridPicture(classic, values=values, legend=False))
    assert cell_text(lines[0], 0).strip() == "0.00"


def test_cliff_map_fits_100_columns_and_shows_the_cliff():
    cliff = load_map("cliff")
    assert (cliff.rows, cliff.cols) == (4, 12)
    values = -np.linspace(13, 1, cliff.n_cells)
    policy = np.full(cliff.n_cells, RIGHT)
    pic = GridPicture(cliff, values=values, policy=policy, agent=cliff.starts[0], caption="cliff")
    lines = lines_of(pic, width=200)
    assert all(len(line) <= 100 for line in lines[:4])
    assert len(lines[0]) == 12 * 7
    assert cell_text(lines[0], 0) == "→-13.00"  # 2 decimals kept, the arrow separates cells
    bottom = lines[3]
    assert [cell_text(bottom, c).strip() for c in range(1, 11)] == ["-99"] * 10
    assert cell_text(bottom, 11).strip() == "0"  # the goal pays nothing extra on this map
    assert AGENT_GLYPH in cell_text(bottom, 0)
    cliff_style = next(seg.style for seg in cells_of(pic) if seg.text.strip() == "-99")
    r, g, b = cliff_style.bgcolor.get_truecolor()
    assert r > 2 * max(g, b) and r < 160  # dark red
    assert "cliff" in lines[4]


def test_width_shrinks_to_max_width_and_console_width():
    cliff = load_map("cliff")
    pic = GridPicture(cliff, values=np.zeros(48), policy=np.zeros(48, dtype=int), max_width=60)
    assert all(len(line) == 60 for line in lines_of(pic)[:4])  # 12 cells x 5
    narrow = GridPicture(cliff, values=np.zeros(48), policy=np.zeros(48, dtype=int))
    assert all(len(line) <= 40 for line in lines_of(narrow, width=40)[:4])
    assert narrow.fitted_cell_width(40) == 3


def test_real_maze_renders_fast():
    maze = load_map("maze")
    rng = np.random.default_rng(0)
    values = rng.normal(size=maze.n_cells)
    policy = rng.integers(0, 4, maze.n_cells)
    c = console()
    best = float("inf")
    for _ in range(20):
        t0 = time.perf_counter()
        segments = list(
            c.render(GridPicture(maze, values=values, policy=policy, agent=maze.starts[0]))
        )
        best = min(best, time.perf_counter() - t0)
    assert segments
    assert best < 0.005


def test_13x13_maze_renders_well_under_5ms():
    walls = frozenset(s for s in range(169) if s // 13 in (0, 12) or s % 13 in (0, 12))
    maze = GridMap("m", "m", 13, 13, walls, (14,), {154: 10.0}, {})
    rng = np.random.default_rng(1)
    values, policy = rng.normal(size=169), rng.integers(0, 4, 169)
    c = console()
    best = float("inf")
    for _ in range(20):
        t0 = time.perf_counter()
        list(c.render(GridPicture(maze, values=values, policy=policy, agent=15)))
        best = min(best, time.perf_counter() - t0)
    assert best < 0.005


def test_values_of_the_wrong_size_are_refused(classic):
    with pytest.raises(ValueError, match="12 cells"):
        GridPicture(classic, values=np.zeros(11))
    with pytest.raises(ValueError, match="outside"):
        GridPicture(classic, agent=12)
    # a rows x cols array is as good as a flat one
    lines = lines_of(GridPicture(classic, values=CLASSIC_VALUES.reshape(3, 4), legend=False))
    assert "0.81" in lines[0]


def test_value_text_grid_exact(classic):
    assert value_text_grid(classic, CLASSIC_VALUES) == (
        "  0.812   0.868   0.918      +1\n"
        "  0.762 #######   0.660      -1\n"
        "  0.705   0.655   0.611   0.388"
    )
    assert value_text_grid(classic, CLASSIC_VALUES, decimals=1, cell_width=4).splitlines()[0] == (
        " 0.8  0.9  0.9   +1"
    )


def test_policy_text_grid_exact(classic):
    assert policy_text_grid(classic, CLASSIC_POLICY) == "→ → → G\n↑ # ↑ P\n↑ ← ← ←"
    cliff = load_map("cliff")
    bottom = policy_text_grid(cliff, np.full(48, UP)).splitlines()[3]
    assert bottom == "↑ " + "C " * 10 + "G"


def test_plain_helpers_have_no_escape_codes(classic):
    text = value_text_grid(classic, CLASSIC_VALUES) + policy_text_grid(classic, CLASSIC_POLICY)
    assert "\x1b" not in text


def test_rendering_imports_no_ui_framework_or_torch():
    code = (
        "import sys, agentapp.rendering.gridworld; "
        "print([m for m in ('textual', 'typer', 'torch') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
