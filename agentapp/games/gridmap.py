"""Gridworld maps: the text format, its parser and the built-in maps.

A map is a small text file a user can write by hand (the format is documented for users in
``docs/gridworld-maps.md``): optional ``key: value`` header lines, optional legend lines that give
extra symbols a meaning, then the rows of the grid. Parsing lives apart from the environment so that
renderers, the CLI and tests can read a map without building an environment, and so that every
mistake in a hand-written map is reported as one line pointing at the offending character:
``my.txt:7:3: unknown cell symbol 'x' (expected ...)``.
"""

from __future__ import annotations

import functools
import math
import os
import re
import stat
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from agentapp.errors import UserError, did_you_mean

BUILTIN_MAPS = ("classic", "cliff", "aliased", "maze")
"""Names of the maps shipped in ``agentapp/games/maps``."""
MAX_CELLS = 10_000
"""Largest grid accepted (rows x cols); tabular methods keep several numbers per cell."""
MAX_FILE_BYTES = 1_000_000
"""Largest map file read; anything bigger is surely not a map."""
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))
"""(row, col) change of each action: up, right, down, left."""
OBS_MODES = ("index", "walls")

KINDS = ("wall", "floor", "start", "terminal", "cliff")
BUILTIN_SYMBOLS: dict[str, tuple[str, float]] = {
    "#": ("wall", 0.0),
    ".": ("floor", 0.0),
    "S": ("start", 0.0),
    "G": ("terminal", 1.0),
    "P": ("terminal", -1.0),
    "C": ("cliff", -100.0),
}
"""Symbols every map understands: symbol -> (kind, reward or penalty)."""
HEADER_KEYS = ("title", "slip", "living_reward", "discount", "max_steps", "obs")
DEFAULTS: dict[str, Any] = {
    "slip": 0.0,
    "living_reward": 0.0,
    "discount": 0.99,
    "max_steps": 200,
    "obs": "index",
}
"""Settings of a map whose header leaves them out."""


@dataclass(frozen=True)
class GridMap:
    """A parsed map. Cells are numbered ``s = row * cols + col``, row 0 at the top."""

    name: str
    title: str
    rows: int
    cols: int
    walls: frozenset[int]
    starts: tuple[int, ...]
    terminals: dict[int, float]
    """Terminal cell -> the reward for entering it (the episode then ends)."""
    cliffs: dict[int, float]
    """Cliff cell -> the penalty for entering it (the agent goes back to a start cell)."""
    slip: float = DEFAULTS["slip"]
    living_reward: float = DEFAULTS["living_reward"]
    discount: float = DEFAULTS["discount"]
    max_steps: int = DEFAULTS["max_steps"]
    obs: str = DEFAULTS["obs"]
    symbols: tuple[str, ...] = ()
    """The map's character for each cell (derived from the kinds when left empty)."""
    source: str = ""
    """Where the map was read from, for messages."""

    def __post_init__(self) -> None:
        if not self.symbols:
            object.__setattr__(self, "symbols", tuple(self._default_symbol(s) for s in self.cells))
        if len(self.symbols) != self.n_cells:
            raise ValueError(f"symbols has {len(self.symbols)} entries for {self.n_cells} cells")

    def _default_symbol(self, s: int) -> str:
        kind = self.kind(s)
        if kind == "terminal":
            return "G" if self.terminals[s] >= 0 else "P"
        return {"wall": "#", "floor": ".", "start": "S", "cliff": "C"}[kind]

    @property
    def n_cells(self) -> int:
        return self.rows * self.cols

    @property
    def cells(self) -> range:
        return range(self.n_cells)

    def kind(self, s: int) -> str:
        """``wall``, ``floor``, ``start``, ``terminal`` or ``cliff``."""
        if s in self.walls:
            return "wall"
        if s in self.terminals:
            return "terminal"
        if s in self.cliffs:
            return "cliff"
        if s in self.starts:
            return "start"
        return "floor"

    def row_col(self, s: int) -> tuple[int, int]:
        return divmod(s, self.cols)

    def index(self, row: int, col: int) -> int:
        return row * self.cols + col

    def blocked(self, s: int, action: int) -> bool:
        """True when moving from *s* in direction *action* hits the edge or a wall."""
        row, col = divmod(s, self.cols)
        dr, dc = MOVES[action]
        r, c = row + dr, col + dc
        return not (0 <= r < self.rows and 0 <= c < self.cols) or (r * self.cols + c) in self.walls

    def move(self, s: int, action: int) -> int:
        """The cell a move from *s* lands on, before cell effects (stays put when blocked)."""
        if self.blocked(s, action):
            return s
        dr, dc = MOVES[action]
        return s + dr * self.cols + dc

    def text_rows(self) -> list[str]:
        """The grid as it was drawn, one string per row."""
        cols = self.cols
        return ["".join(self.symbols[r * cols : (r + 1) * cols]) for r in range(self.rows)]


_NUMBERS = {
    "slip": ("a number from 0 to 1", lambda x: 0.0 <= x <= 1.0),
    "discount": ("a number above 0 and at most 1", lambda x: 0.0 < x <= 1.0),
    "living_reward": ("a number, such as -0.04", lambda x: True),
}


def check_setting(key: str, value: Any) -> Any:
    """Return *value* converted for setting *key*, or raise ValueError naming what is expected.

    Shared by the map header and the environment's keyword arguments so both accept the same.
    """
    if key == "obs":
        if value not in OBS_MODES:
            raise ValueError("index or walls")
        return value
    if key == "title":
        if not str(value).strip():
            raise ValueError("some text")
        return str(value).strip()
    if key == "max_steps":
        try:
            number = int(value) if isinstance(value, str) else value
        except ValueError:
            number = None
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise ValueError("a whole number of at least 1")
        return number
    expected, in_range = _NUMBERS[key]
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(expected) from None
    if isinstance(value, bool) or not math.isfinite(number) or not in_range(number):
        raise ValueError(expected)
    return number


# A comment is a '#' at the start of a line or after whitespace, followed by whitespace or the end
# of the line; so "#S.#" is a grid row, while "# note" and "S..G  # note" carry comments.
_COMMENT = re.compile(r"(?:^|\s)#(?=\s|$)")
_KINDS_HELP = "wall, floor, start, terminal <reward> or cliff <penalty>"


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    """The lines of *text* as an editor numbers them: only ``\\n``, ``\\r\\n`` and ``\\r`` end a
    line (``str.splitlines`` also breaks at form feeds and other rare characters, which would put
    the line numbers in messages out of step with the user's editor)."""
    lines = _LINE_BREAK.split(text)
    return lines[:-1] if lines[-1] == "" else lines


class _Parser:
    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.lines = split_lines(text.removeprefix("\ufeff"))
        self.line = 0  # the line being read, counted from 1
        self.settings: dict[str, Any] = {}
        self.set_on: dict[str, int] = {}
        self.legend = dict(BUILTIN_SYMBOLS)
        self.legend_on: dict[str, int] = {}
        self.rows: list[tuple[int, int, str]] = []  # (line number, 0-based column, symbols)

    def error(self, col: int, what: str, expected: str, line: int | None = None) -> UserError:
        where = f"{self.source}:{self.line if line is None else line}:{col}"
        return UserError(" ".join(f"{where}: {what} (expected {expected})".split()))

    def parse(self) -> None:
        grid_ended = False
        for number, raw in enumerate(self.lines, 1):
            self.line = number
            match = _COMMENT.search(raw)
            content = (raw[: match.start()] if match else raw).rstrip()
            if not content.strip():
                # A blank line ends the grid; a comment line inside it does not.
                grid_ended = grid_ended or (bool(self.rows) and not raw.strip())
                continue
            col0 = len(content) - len(content.lstrip())
            if grid_ended:
                raise self.error(
                    col0 + 1,
                    "text after the blank line that ended the grid",
                    "one block of grid rows with no blank lines inside, at the end of the map",
                )
            if ":" not in content:
                self.grid_row(content, col0)
            elif self.rows:
                raise self.error(
                    col0 + 1,
                    "header or legend line after the grid",
                    "header and legend lines before the grid rows",
                )
            else:
                self.header_or_legend(content, col0)

    def header_or_legend(self, content: str, col0: int) -> None:
        key_part, _, value_part = content.partition(":")
        key, value = key_part.strip(), value_part.strip()
        value_col0 = len(key_part) + 1 + len(value_part) - len(value_part.lstrip())
        if not key:
            raise self.error(col0 + 1, "nothing before ':'", "'key: value' or 'X: kind'")
        if len(key) == 1:
            self.legend_line(key, value, col0, value_col0)
            return
        if key not in HEADER_KEYS:
            raise self.error(
                col0 + 1,
                f"unknown header key {key!r}{did_you_mean(key, HEADER_KEYS)}",
                f"one of {', '.join(HEADER_KEYS)}, or a one-character legend symbol",
            )
        if key in self.settings:
            first = self.set_on[key]
            raise self.error(
                col0 + 1, f"{key} set twice (first on line {first})", "each header key once"
            )
        try:
            self.settings[key] = check_setting(key, value)
        except ValueError as exc:
            shown = f"{value!r}" if value else "nothing"
            raise self.error(value_col0 + 1, f"bad {key} {shown}", str(exc)) from None
        self.set_on[key] = self.line

    def legend_line(self, symbol: str, value: str, col0: int, value_col0: int) -> None:
        if symbol in "#.":
            raise self.error(
                col0 + 1,
                f"cannot redefine {symbol!r}",
                "a new symbol; S, G, P and C may be redefined",
            )
        if symbol in self.legend_on:
            first = self.legend_on[symbol]
            raise self.error(
                col0 + 1,
                f"symbol {symbol!r} already defined on line {first}",
                "each legend symbol defined once",
            )
        words = [(m.group(), value_col0 + m.start() + 1) for m in re.finditer(r"\S+", value)]
        if not words or words[0][0].lower() not in KINDS:
            what = f"unknown cell kind {words[0][0]!r}" if words else "missing cell kind"
            raise self.error(words[0][1] if words else value_col0 + 1, what, _KINDS_HELP)
        kind, amount, extra = words[0][0].lower(), 0.0, words[1:]
        if kind in ("terminal", "cliff"):
            label, example = ("reward", "10") if kind == "terminal" else ("penalty", "-100")
            if not extra:
                raise self.error(
                    value_col0 + len(value) + 1,
                    f"missing {label} after {kind!r}",
                    f"a number, as in '{symbol}: {kind} {example}'",
                )
            text, col = extra.pop(0)
            try:
                amount = float(text)
            except ValueError:
                amount = math.nan
            if not math.isfinite(amount):
                raise self.error(col, f"bad {label} {text!r}", "a number")
        if extra:
            raise self.error(extra[0][1], f"unexpected {extra[0][0]!r}", _KINDS_HELP)
        self.legend[symbol] = (kind, amount)
        self.legend_on[symbol] = self.line

    def grid_row(self, content: str, col0: int) -> None:
        row = content.strip()
        for i, ch in enumerate(row, col0 + 1):
            if ch.isspace():
                raise self.error(i, "space inside a grid row", "cell symbols side by side")
            if ch not in self.legend:
                raise self.error(
                    i,
                    f"unknown cell symbol {ch!r}",
                    f"one of # . S G P C, or a legend line such as '{ch}: terminal 10' before "
                    "the grid",
                )
        width = len(self.rows[0][2]) if self.rows else len(row)
        if len(row) != width:
            raise self.error(
                col0 + min(len(row), width) + 1,
                f"row has {len(row)} cells but the first row has {width}",
                f"every row to have {width} cells",
            )
        if (len(self.rows) + 1) * width > MAX_CELLS:
            raise self.error(
                col0 + 1,
                f"grid too large: more than {MAX_CELLS:,} cells",
                f"at most {MAX_CELLS:,} cells in all",
            )
        self.rows.append((self.line, col0, row))

    def position(self, s: int) -> tuple[int, int]:
        """(line, column) of cell *s* in the map text."""
        cols = len(self.rows[0][2])
        line, col0, _ = self.rows[s // cols]
        return line, col0 + s % cols + 1


def parse_map(text: str, source: str = "<map>", *, name: str | None = None) -> GridMap:
    """Parse the text of a map; raise UserError (one line, with line and column) if malformed.

    *name* defaults to the file name of *source* without its extension.
    """
    parser = _Parser(text, source)
    parser.parse()
    if not parser.rows:
        last = max(len(parser.lines), 1)
        raise parser.error(1, "no grid rows", "the rows of the grid after the header", last)
    grid_text = "".join(row for _, _, row in parser.rows)
    cols = len(parser.rows[0][2])
    kinds = [parser.legend[ch] for ch in grid_text]
    first_line, first_col0, _ = parser.rows[0]
    starts = tuple(s for s, (kind, _) in enumerate(kinds) if kind == "start")
    terminals = {s: amount for s, (kind, amount) in enumerate(kinds) if kind == "terminal"}
    if not starts:
        raise parser.error(first_col0 + 1, "no start cell", "at least one 'S' cell", first_line)
    if not terminals:
        what, expected = "no terminal cell, so no episode can end", "at least one 'G' or 'P' cell"
        raise parser.error(first_col0 + 1, what, expected, first_line)
    settings = {**DEFAULTS, **parser.settings}
    default_name = Path(source).stem if source and not source.startswith("<") else "custom"
    grid = GridMap(
        name=name or default_name,
        title=settings.pop("title", None) or name or default_name,
        rows=len(parser.rows),
        cols=cols,
        walls=frozenset(s for s, (kind, _) in enumerate(kinds) if kind == "wall"),
        starts=starts,
        terminals=terminals,
        cliffs={s: amount for s, (kind, amount) in enumerate(kinds) if kind == "cliff"},
        symbols=tuple(grid_text),
        source=source,
        **settings,
    )
    reach = can_finish(grid)
    for s in starts:
        if s not in reach:
            line, col = parser.position(s)
            what = "this start cell has no path to any terminal cell"
            raise parser.error(col, what, "a way past walls and cliffs to a terminal", line)
    return grid


def can_finish(grid: GridMap) -> set[int]:
    """Cells from which some sequence of moves enters a terminal cell (walking back from them)."""
    passable = {s for s in grid.cells if grid.kind(s) in ("floor", "start")}
    frontier = list(grid.terminals)
    seen: set[int] = set(frontier)
    while frontier:
        s = frontier.pop()
        for a in range(4):
            n = grid.move(s, a)
            if n not in seen and n in passable:
                seen.add(n)
                frontier.append(n)
    return seen


@functools.cache
def _builtin(name: str) -> GridMap:
    text = resources.files("agentapp.games").joinpath("maps", f"{name}.txt").read_text("utf-8")
    return parse_map(text, source=f"maps/{name}.txt", name=name)


def load_map(name_or_path: str | os.PathLike[str]) -> GridMap:
    """A built-in map by name (see :data:`BUILTIN_MAPS`), or a map file by path."""
    text = os.fspath(name_or_path)
    if text in BUILTIN_MAPS:
        return _builtin(text)
    path = Path(text).expanduser()
    content = _decode(_read_map_file(path, text), text)
    return parse_map(content, source=text, name=path.stem)


def _read_map_file(path: Path, shown: str) -> bytes:
    """At most ``MAX_FILE_BYTES + 1`` bytes of a regular file, or UserError.

    Folders, pipes and devices are refused before they are opened (a FIFO would block, /dev/zero
    never ends), and the file is opened without blocking and checked again, in case it was swapped
    in between. A huge file is never read past the limit."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise UserError(
            f"no map {shown!r}: not a built-in map ({', '.join(BUILTIN_MAPS)}) and no such file"
            + did_you_mean(shown, BUILTIN_MAPS)
        ) from None
    except OSError as exc:
        raise UserError(f"{shown}: cannot read the map file ({exc.strerror or exc})") from None
    not_regular = f"{shown}: not a regular file (expected a map file, not a pipe or a device)"
    if stat.S_ISDIR(mode):
        raise UserError(f"{shown}: is a directory (expected a map file)")
    if not stat.S_ISREG(mode):
        raise UserError(not_regular)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise UserError(not_regular)
            return handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise UserError(f"{shown}: cannot read the map file ({exc.strerror or exc})") from None


def _decode(data: bytes, shown: str) -> str:
    """The text of a map file, or UserError pointing at the first byte that is not UTF-8 text."""
    if len(data) > MAX_FILE_BYTES:
        raise UserError(f"{shown}: file too large (expected a map file of at most 1 MB)")
    bad, what = data.find(b"\0"), "a NUL byte"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if bad < 0 or exc.start < bad:
            bad, what = exc.start, f"byte 0x{data[exc.start]:02x}, which is not UTF-8"
    if bad < 0:
        return text
    before = split_lines(data[:bad].decode("utf-8") + "|")  # "|" stands for the bad byte
    line, col = len(before), len(before[-1])
    raise UserError(f"{shown}:{line}:{col}: {what}: not a text file (expected a UTF-8 map file)")
