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

    def _fitted_bar_width(self, max_width: int, texts: list[str]) -> int:
        """The bar width that fits beside the names and numbers in *max_width* cells (at most
        ``bar_width``); 0 when fewer than 5 cells are left, so a narrow panel drops the bars
        rather than cutting the names and numbers."""
        if self.scales is None:
            return 0
        name_width = max((len(name) for name in self.names), default=0)
        value_width = max((len(text) for text in texts), default=0)
        room = max_width - name_width - value_width - 4  # two gaps of two cells
        width = min(self.bar_width, room)
        if width % 2 == 0:  # odd, so the zero mark sits in the middle
            width -= 1
        return width if width >= 5 else 0

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        texts = [f"{value:+.4f}" for value in self.values[: len(self.names)]]
        bar_width = self._fitted_bar_width(options.max_width, texts)
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        if bar_width:
            table.add_column(no_wrap=True)
        for i, (name, text) in enumerate(zip(self.names, texts, strict=False)):
            cells: list[str | Text] = [name, text]
            if bar_width and self.scales is not None:
                cells.append(_bar(float(self.values[i]), float(self.scales[i]), bar_width))
            table.add_row(*cells)
        yield table
