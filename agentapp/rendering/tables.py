"""Printing a table that may be wider than the terminal, without cutting a figure.

``agentapp experiment`` and ``agentapp sweep`` print tables of figures. Rich folds or crops a table
that does not fit, which loses digits; these commands instead print it whole when it fits, widen
the console when the output is a log or a pipe (which has no edge), and in a terminal too narrow
for it print one block per row: the row's name in bold, then ``column value`` pairs.
"""

from __future__ import annotations

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table


def print_fitted(console: Console, view: Table, title: str,
                 blocks: list[tuple[str, str]]) -> None:
    """Print *view* when it fits (always, into a log or a pipe); otherwise *title* and, for each
    row, its ``(heading, body)`` block from *blocks*."""
    needed = Measurement.get(console, console.options.update_width(10_000), view).maximum
    if not console.is_terminal and needed > console.width:
        console.width = needed  # a log or a pipe has no edge: every digit is kept
    if needed <= console.width:
        console.print(view)
        return
    console.print(title, style="bold", markup=False)
    for heading, body in blocks:
        console.print(heading, style="bold", markup=False)
        console.print(f"  {body}", markup=False)
