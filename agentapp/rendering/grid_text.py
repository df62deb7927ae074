"""The gridworld's values and greedy policy as plain, colourless text, one line per row.

For output that is not a terminal (pipes, logs, ``agentapp inspect`` into a file, tests): the same
information as :class:`~agentapp.rendering.gridworld.GridPicture`'s heat map and arrows, in
characters that survive any destination.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from agentapp.rendering.gridworld import arrow, per_cell, reward_label


def value_text_grid(
    grid: Any, values: Any, *, decimals: int = 3, cell_width: int = 7, wall: str = "#"
) -> str:
    """The values as plain text: one line per row, cells right-aligned to one fixed width.

    Floor and start cells show their value with *decimals* decimals, terminals and cliffs their
    reward (``+1``, ``-100``), walls a run of *wall* characters as wide as a cell. Cells are
    *cell_width* wide (wider if a number needs it) and separated by one space.
    """
    flat = per_cell("values", values, grid.rows * grid.cols, np.float64)
    assert flat is not None
    texts = _by_kind(grid, wall=None, terminal=reward_label, cliff=reward_label,
                     floor=lambda s: f"{flat[s]:.{decimals}f}")
    width = max([cell_width, *(len(t) for t in texts if t is not None)])
    cells = [wall * width if t is None else t.rjust(width) for t in texts]
    return _join_rows(cells, grid.cols)


def policy_text_grid(grid: Any, policy: Any, *, sep: str = " ") -> str:
    """The greedy policy as plain text, one character per cell: ``→ → → G``.

    Floor and start cells show their arrow (``·`` for an action outside 0-3), walls ``#``,
    terminals ``G`` (goal: reward >= 0) or ``P`` (pit: reward < 0), cliffs ``C``.
    """
    flat = per_cell("policy", policy, grid.rows * grid.cols, np.int64)
    assert flat is not None
    cells = _by_kind(grid, wall="#", terminal=lambda reward: "P" if reward < 0 else "G",
                     cliff=lambda reward: "C", floor=lambda s: arrow(int(flat[s])))
    return _join_rows(cells, grid.cols, sep)


def _by_kind(grid: Any, *, wall: Any, terminal: Callable[[float], Any],
             cliff: Callable[[float], Any], floor: Callable[[int], Any]) -> list[Any]:
    """One entry per cell, row by row: *wall* for a wall, ``terminal(reward)`` for a terminal,
    ``cliff(reward)`` for a cliff, ``floor(cell)`` for the rest."""
    return [wall if s in grid.walls
            else terminal(grid.terminals[s]) if s in grid.terminals
            else cliff(grid.cliffs[s]) if s in grid.cliffs
            else floor(s)
            for s in range(grid.rows * grid.cols)]


def _join_rows(cells: list[str], cols: int, sep: str = " ") -> str:
    rows = (sep.join(cells[i : i + cols]) for i in range(0, len(cells), cols))
    return "\n".join(rows)
