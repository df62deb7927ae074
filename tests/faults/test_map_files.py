"""Gridworld map files from elsewhere: malformed text, files that are not text, path tricks and
huge files. Each is refused with one line (``file:line:column: what (expected ...)`` where the
mistake has a place), exit code 2 from the CLI, and nothing else happens.

The parser's every message is tested case by case in ``tests/games/test_gridmap.py``; this adds
the file level and a property test: whatever the text, parsing gives a valid grid or a located
UserError, never another exception.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentapp.errors import UserError
from agentapp.games.gridmap import (
    MAX_CELLS,
    MAX_FILE_BYTES,
    can_finish,
    load_map,
    parse_map,
    split_lines,
)

LOCATED = re.compile(r"^m\.txt:(\d+):(\d+): .+ \(expected .+\)$")


def map_error(path: Path | str) -> str:
    with pytest.raises(UserError) as info:
        load_map(str(path))
    message = str(info.value)
    assert "\n" not in message, message
    return message


# -- malformed files: line and column ----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"S.G\n.\xe9.\n", "bad.txt:2:2: byte 0xe9, which is not UTF-8: not a text file"),
        (b"title: x\nS.\x00G\n", "bad.txt:2:3: a NUL byte: not a text file"),
        (b"S.G\r\n...\r\n.x.\r\n", "bad.txt:3:2: unknown cell symbol 'x'"),  # Windows lines
        (b"S.G\r...\r..\r", "bad.txt:3:3: row has 2 cells but the first row has 3"),  # old Mac
        (b"\xef\xbb\xbfslip: 2\nSG\n", "bad.txt:1:7: bad slip '2' (expected a number"),  # BOM
        # a form feed is not a line break in an editor, so it is not one in messages either
        (b"S.G\n.\x0c.\n", "bad.txt:2:2: space inside a grid row"),
    ],
)
def test_file_mistakes_name_line_and_column(tmp_path, rejects, data, says):
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    message = map_error(path)
    assert message.startswith(f"{path}:") and "(expected" in message, message
    assert says in message.replace(f"{tmp_path}/", ""), message
    rejects("train", f"gridworld:{path}", says=says.split(":", 3)[-1].strip())


def test_watch_of_a_malformed_map_says_what_is_wrong(tmp_path, rejects):
    path = tmp_path / "bad.txt"
    path.write_text("S..\n.?G\n")
    rejects("watch", f"gridworld:{path}", says="bad.txt:2:2: unknown cell symbol '?'")
    rejects("eval", f"gridworld:{path}", says="no run named")  # eval takes runs, not games


# -- path tricks and huge files -----------------------------------------------------------------


def test_what_is_not_a_map_file(tmp_path, rejects):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)  # opening it would block forever
    loop = tmp_path / "loop.txt"
    loop.symlink_to(tmp_path / "loop2.txt")
    (tmp_path / "loop2.txt").symlink_to(loop)
    zero = tmp_path / "zero.txt"
    zero.symlink_to("/dev/zero")  # endless: must not be read at all
    dangling = tmp_path / "gone.txt"
    dangling.symlink_to(tmp_path / "nowhere.txt")
    folder = tmp_path / "folder.txt"
    folder.mkdir()
    cases = {
        fifo: "not a regular file", zero: "not a regular file", "/dev/zero": "not a regular file",
        loop: "cannot read the map file (too many levels of symbolic links)",
        dangling: "no such file", folder: "is a directory",
    }
    for path, says in cases.items():
        assert says in map_error(path).lower()
        rejects("train", f"gridworld:{path}", says=says)


def test_huge_files_are_refused_without_reading_them(tmp_path_factory, rejects, tmp_path):
    just_over = tmp_path / "big.txt"
    just_over.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    rejects("train", f"gridworld:{just_over}", says="file too large")
    # a sparse file of 64 GiB: reading it whole would take minutes and all the memory
    huge = tmp_path_factory.mktemp("huge") / "huge.txt"
    with huge.open("wb") as handle:
        handle.truncate(64 * 2**30)
    started = time.monotonic()
    assert "file too large (expected a map file of at most 1 MB)" in map_error(huge)
    assert time.monotonic() - started < 5


def test_a_map_file_at_the_size_limit_loads(tmp_path):
    grid = "S..G\n"
    comment = "# " + "x" * (MAX_FILE_BYTES - len(grid) - 3) + "\n"
    path = tmp_path / "limit.txt"
    path.write_text(comment + grid, encoding="utf-8")
    assert path.stat().st_size == MAX_FILE_BYTES
    assert load_map(path).text_rows() == ["S..G"]


# -- property: any text parses to a valid grid or a located UserError ----------------------------

GOOD_HEADERS = ["title: x", "slip: 0.2", "obs: walls", "discount: 1", "living_reward: -1",
                "max_steps: 9", "A: terminal 5", "B: wall", "C: cliff -5", "# note", ""]
BAD_HEADERS = ["slip: 2", "max_steps: 0", "A: cliff", "Z: goal", "#: floor", ": x", "S: start 1"]
CELL = st.sampled_from(list("......##SGPC") * 4 + list("AB") + ["x", " ", "\t"])


@st.composite
def map_like(draw) -> str:
    """Text near the format, so the property reaches the deep checks, not only the first line:
    mostly good header lines, rows mostly of one width and of known symbols."""
    head = draw(st.lists(st.sampled_from(GOOD_HEADERS * 4 + BAD_HEADERS), max_size=4,
                         unique=True))
    width = draw(st.integers(1, 8))
    widths = st.sampled_from([width] * 8 + [width + 1, max(1, width - 1)])
    row = widths.flatmap(lambda n: st.lists(CELL, min_size=n, max_size=n).map("".join))
    rows = draw(st.lists(row, max_size=6))
    tail = draw(st.sampled_from(["", "\n", "\n\n# end\n", "\nS\n", "\r\n"]))
    return "\n".join(head + rows) + tail


def _check(text: str) -> None:
    lines = split_lines(text.removeprefix("\ufeff"))
    try:
        grid = parse_map(text, source="m.txt")
    except UserError as exc:
        message = str(exc)
        assert "\n" not in message
        found = LOCATED.match(message)
        assert found, message
        line, col = int(found[1]), int(found[2])
        assert 1 <= line <= max(len(lines), 1), message
        assert 1 <= col <= len(lines[line - 1]) + 1 if lines else col == 1, message
        return
    assert 1 <= grid.n_cells <= MAX_CELLS and len(grid.symbols) == grid.n_cells
    assert grid.starts and grid.terminals
    assert set(grid.starts) <= can_finish(grid)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_any_text_gives_a_grid_or_a_located_error(text):
    _check(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(map_like())
def test_near_maps_give_a_grid_or_a_located_error(text):
    _check(text)
