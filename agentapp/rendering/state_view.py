"""Vector-observation games drawn as their numbers: each value named, printed and shown as a bar.

CartPole, Acrobot, MountainCar and LunarLander observe a handful of physical quantities; watching
an agent balance a pole, those numbers (and a bar that swings about zero) show what a small
picture cannot, such as how fast things move. CartPole also gets a picture drawn from its state,
above its numbers (``rendering/cartpole.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

OBSERVATION_NAMES: dict[str, tuple[str, ...]] = {
    "cartpole": ("cart position", "cart velocity", "pole angle", "pole angular velocity"),
    "acrobot": ("cos θ1", "sin θ1", "cos θ2", "sin θ2", "θ1 velocity", "θ2 velocity"),
    "mountaincar": ("position", "velocity"),
    "lunarlander": ("x", "y", "x velocity", "y velocity", "angle", "angular velocity",
                    "left leg contact", "right leg contact"),
}
"""What each observation value means, for the games that say so (gymnasium's docs)."""

def observation_names(game_id: str, count: int) -> list[str]:
    """Names of *count* observation values of *game_id*; ``x[i]`` where none are known."""
    names = OBSERVATION_NAMES.get(game_id, ())
    if len(names) == count:
        return list(names)
    return [f"x[{i}]" for i in range(count)]


def _bar(value: float, scale: float, width: int) -> Text:
    """A bar growing left or right from the middle mark, *scale* filling one half."""
    half = width // 2
    fill = 0
    if scale > 0 and math.isfinite(value):
        fill = round(min(1.0, abs(value) / scale) * half)
    left = " " * (half - fill) + ("█" * fill if value < 0 else " " * fill)
    right = ("█" * fill if value > 0 else " " * fill) + " " * (half - fill)
    return Text.assemble((left, "red"), ("│", "dim"), (right, "green"))


class StateView:
    """The values of a vector observation as a table: name, value, bar.

    Args:
        values: the observation (a flat array).
        names: one name per value.
        scales: per value, the magnitude that fills half a bar (None: no bars).
        bar_width: characters per bar.
    """

    def __init__(self, values: Sequence[float] | np.ndarray, names: Sequence[str],
                 scales: Sequence[float] | np.ndarray | None = None, bar_width: int = 21) -> None:
        self.values = np.asarray(values, dtype=np.float64).ravel()
        self.names = list(names)
        self.scales = None if scales is None else np.asarray(scales, dtype=np.float64).ravel()
        self.bar_width = bar_width

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        if self.scales is not None:
            table.add_column(no_wrap=True)
        for i, (name, value) in enumerate(zip(self.names, self.values, strict=False)):
            cells: list[str | Text] = [name, f"{value:+.4f}"]
            if self.scales is not None:
                cells.append(_bar(float(value), float(self.scales[i]), self.bar_width))
            table.add_row(*cells)
        yield table
