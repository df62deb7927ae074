"""Vector-observation games drawn as their numbers: each value named, printed and shown as a bar.

CartPole, Acrobot, MountainCar and LunarLander observe a handful of physical quantities; watching
an agent balance a pole, those numbers (and a bar that swings about zero) say more than a tiny
picture would. CartPole also gets a rough sketch of the cart and the pole, from its position and
angle, until it has a renderer of its own.
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

CART_LIMIT = 2.4
"""CartPole ends when the cart leaves [-2.4, 2.4]: the sketch's track spans exactly that."""


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


class CartPoleSketch:
    """A rough side view of CartPole: the track, the cart at its position, the pole at its angle.

    Args:
        position: the cart's position (metres; the episode ends beyond ±2.4).
        angle: the pole's angle from upright (radians, positive leaning right).
        width: characters across the track (None: the console's width, at most 60).
        pole: lines the pole is tall.
    """

    def __init__(self, position: float, angle: float, width: int | None = None,
                 pole: int = 4) -> None:
        self.position, self.angle = float(position), float(angle)
        self.width, self.pole = width, pole

    def lines(self, width: int) -> list[Text]:
        width = max(11, width)
        share = (self.position + CART_LIMIT) / (2 * CART_LIMIT)
        centre = round(min(1.0, max(0.0, share)) * (width - 5)) + 2
        # a text cell is about twice as tall as it is wide: two columns of lean per line
        lean = math.tan(max(-1.4, min(1.4, self.angle))) * 2
        glyph = "│" if abs(self.angle) < 0.05 else ("╱" if self.angle > 0 else "╲")
        rows = []
        for level in range(self.pole, 0, -1):
            col = round(centre + lean * level)
            row = [" "] * width
            if 0 <= col < width:
                row[col] = glyph
            rows.append(Text("".join(row), style="bold"))
        cart = [" "] * width
        for col in range(centre - 2, centre + 3):
            cart[col] = "█"
        rows.append(Text("".join(cart)))
        rows.append(Text("═" * width, style="dim"))
        return rows

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = self.width or min(60, options.max_width)
        yield from self.lines(min(width, options.max_width))
