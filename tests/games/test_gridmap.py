"""The map format: built-in maps, every parser error, and loading files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agentapp.errors import UserError
from agentapp.games.gridmap import BUILTIN_MAPS, MAX_CELLS, GridMap, load_map, parse_map

LOCATED = re.compile(r"^m\.txt:(\d+):(\d+): .+ \(expected .+\)$")


def parse_error(text: str) -> tuple[int, int, str]:
    with pytest.raises(UserError) as info:
        parse_map(text, source="m.txt")
    message = str(info.value)
    assert "\n" not in message
    match = LOCATED.match(message)
    assert match, message
    return int(match[1]), int(match[2]), message


def test_builtin_maps_load_with_their_settings():
    assert BUILTIN_MAPS == ("classic", "cliff", "aliased", "maze")
    classic = load_map("classic")
    assert (classic.rows, classic.cols) == (3, 4)
    assert classic.walls == {5}
    assert classic.starts == (8,)
    assert classic.terminals == {3: 1.0, 7: -1.0}
    assert (classic.slip, classic.living_reward, classic.discount) == (0.2, -0.04, 1.0)
    assert [classic.kind(s) for s in (0, 3, 5, 7, 8)] == [
        "floor",
        "terminal",
        "wall",
        "terminal",
        "start",
    ]
    cliff = load_map("cliff")
    assert (cliff.rows, cliff.cols, cliff.starts) == (4, 12, (36,))
    assert cliff.cliffs == {s: -99.0 for s in range(37, 47)}
    assert cliff.terminals == {47: 0.0}
    assert (cliff.slip, cliff.living_reward, cliff.discount) == (0.0, -1.0, 1.0)
    assert cliff.kind(40) == "cliff"
    aliased = load_map("aliased")
    assert aliased.starts == (0, 1, 2, 3, 4)
    assert (aliased.obs, aliased.max_steps) == ("walls", 100)
    assert aliased.terminals == {5: -1.0, 7: 1.0, 9: -1.0}
    maze = load_map("maze")
    assert 9 <= maze.rows <= 13 and 9 <= maze.cols <= 13
    assert (maze.slip, maze.discount, maze.max_steps) == (0.0, 0.99, 200)


def test_map_text_round_trip_and_helpers():
    grid = load_map("classic")
    assert grid.text_rows() == ["...G", ".#.P", "S..."]
    assert grid.n_cells == len(grid.symbols) == 12
    assert grid.row_col(7) == (1, 3) and grid.index(1, 3) == 7
    assert grid.move(8, 0) == 4 and grid.move(8, 3) == 8  # up; left is the edge
    assert grid.move(4, 1) == 4  # into the wall


def test_defaults_comments_legend_and_indentation():
    text = """
    # a comment line
    title: Room #1   # a trailing comment
    A: terminal 10
    x: wall
    G: terminal 5
      #S.A.   # a grid row may start with a wall
      #..xG
    """
    grid = parse_map(text, source="rooms/m.txt")
    assert grid.name == "m" and grid.title == "Room #1"
    assert (grid.slip, grid.living_reward, grid.discount, grid.max_steps, grid.obs) == (
        0.0,
        0.0,
        0.99,
        200,
        "index",
    )
    assert grid.terminals == {3: 10.0, 9: 5.0}
    assert grid.walls == {0, 5, 8}
    assert grid.symbols[8] == "x"


def test_comment_lines_inside_the_grid_and_after_it():
    grid = parse_map("S..\n# the middle row\n.#.\n..G  # goal\n\n# the end\n")
    assert grid.text_rows() == ["S..", ".#.", "..G"]


def test_documented_example_parses():
    doc = (Path(__file__).parents[2] / "docs" / "gridworld-maps.md").read_text(encoding="utf-8")
    example = doc.split("## An example")[1].split("```")[1]
    grid = parse_map(example, source="example.txt")
    assert grid.title == "Treasure room"
    assert set(grid.terminals.values()) == {10.0, -1.0}
    assert set(grid.cliffs.values()) == {-20.0}


def test_gridmap_without_symbols_draws_them():
    grid = GridMap("t", "t", 1, 3, frozenset(), (0,), {2: 1.0}, {1: -5.0})
    assert grid.symbols == ("S", "C", "G")


@pytest.mark.parametrize(
    ("text", "line", "col", "words"),
    [
        ("S.x\n", 1, 3, "unknown cell symbol 'x'"),
        ("S..G\nS.\n", 2, 3, "row has 2 cells"),
        ("...G\n", 1, 1, "no start cell"),
        ("S...\n", 1, 1, "no terminal cell"),
        ("S#G\n", 1, 1, "no path"),
        ("slp: 0.1\nSG\n", 1, 1, "did you mean: slip"),
        ("slip: 1.5\nSG\n", 1, 7, "bad slip"),
        ("slip: -0.1\nSG\n", 1, 7, "bad slip"),
        ("discount: 0\nSG\n", 1, 11, "bad discount"),
        ("discount: 1.01\nSG\n", 1, 11, "bad discount"),
        ("living_reward: lots\nSG\n", 1, 16, "bad living_reward"),
        ("living_reward: nan\nSG\n", 1, 16, "bad living_reward"),
        ("max_steps: 0\nSG\n", 1, 12, "bad max_steps"),
        ("max_steps: 2.5\nSG\n", 1, 12, "bad max_steps"),
        ("obs: pixels\nSG\n", 1, 6, "bad obs"),
        ("title:\nSG\n", 1, 7, "bad title"),
        ("slip: 0\nslip: 0.1\nSG\n", 2, 1, "set twice"),
        ("A: terminal 1\nA: wall\nSA\n", 2, 1, "already defined on line 1"),
        ("A: terminal\nSA\n", 1, 12, "missing reward"),
        ("A: cliff x\nSAG\n", 1, 10, "bad penalty 'x'"),
        ("A: goal 3\nSAG\n", 1, 4, "unknown cell kind 'goal'"),
        ("A: wall 3\nSAG\n", 1, 9, "unexpected '3'"),
        ("#: floor\nSG\n", 1, 1, "cannot redefine '#'"),
        (": wall\nSG\n", 1, 1, "nothing before ':'"),
        ("", 1, 1, "no grid rows"),
        ("# only a comment\ntitle: x\n", 2, 1, "no grid rows"),
        ("SG\n\nSG\n", 3, 1, "after the blank line"),
        ("SG\nslip: 0\n", 2, 1, "after the grid"),
        ("S G\n", 1, 2, "space inside a grid row"),
        (("." * 101 + "\n") * 99 + "S" + "." * 99 + "G\n", 100, 1, "grid too large"),
    ],
)
def test_parse_errors_point_at_line_and_column(text, line, col, words):
    got_line, got_col, message = parse_error(text)
    assert words in message
    assert (got_line, got_col) == (line, col), message


def test_largest_grid_is_accepted():
    side = int(MAX_CELLS**0.5)
    rows = ["." * side] * side
    rows[0] = "S" + "." * (side - 2) + "G"
    assert parse_map("\n".join(rows)).n_cells == MAX_CELLS


def test_load_map_from_file(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("title: Tiny\nslip: 0.1\nS.G\n", encoding="utf-8")
    grid = load_map(str(path))
    assert (grid.name, grid.title, grid.slip, grid.cols) == ("tiny", "Tiny", 0.1, 3)
    bad = tmp_path / "bad.txt"
    bad.write_text("S.x\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"bad\.txt:1:3: unknown cell symbol"):
        load_map(bad)


def test_load_map_file_problems_are_one_line(tmp_path):
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"S.G\x00\x01")
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"title: caf\xe9\nSG\n")
    huge = tmp_path / "huge.txt"
    huge.write_bytes(b"#" * 1_000_001)
    cases = {
        str(tmp_path / "missing.txt"): "no such file",
        "clif": "did you mean: cliff",
        str(tmp_path): "is a directory",
        str(binary): "not a text file",
        str(latin): "not a text file",
        str(huge): "too large",
    }
    for arg, words in cases.items():
        with pytest.raises(UserError) as info:
            load_map(arg)
        assert words in str(info.value) and "\n" not in str(info.value)
