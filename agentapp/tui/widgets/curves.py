"""Return curves of finished or stopped runs, read from their ``metrics.csv``, drawn with plotext.

The runs screen shows how a run learned: the return of every training episode
(``charts/episode_return``) and of the evaluations made during training (``eval/mean_return``),
and, for comparison, several runs on one set of axes. A long run logs hundreds of thousands of
episodes, more than a terminal has cells, so the points are averaged into at most
:data:`MAX_POINTS` bins, which also smooths the noisy per-episode returns. Reading the file is
done by :func:`read_curves`, off the UI thread; the widget only draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from textual_plotext import PlotextPlot

EPISODE_RETURN = "charts/episode_return"
EVAL_RETURN = "eval/mean_return"
MAX_POINTS = 240
"""Bins a curve is averaged into: about what a wide terminal can draw."""
COLORS = ("cyan", "orange", "green", "magenta", "blue", "red", "yellow", "gray")

Points = list[tuple[float, float]]


@dataclass(frozen=True)
class Curves:
    """The return curves of one run."""

    name: str
    episodes: Points
    """(step, return) of training episodes, binned."""
    evals: Points
    """(step, mean return) of the evaluations made during training."""
    episode_count: int = 0
    """Training episodes before binning."""

    @property
    def empty(self) -> bool:
        return not self.episodes and not self.evals


def bin_points(points: Sequence[tuple[float, float]], max_points: int = MAX_POINTS) -> Points:
    """*points* as they are when few, else averaged over consecutive groups into *max_points*."""
    if len(points) <= max_points:
        return [(float(x), float(y)) for x, y in points]
    data = np.asarray(points, dtype=np.float64)
    groups = np.array_split(data, max_points)
    return [(float(g[:, 0].mean()), float(g[:, 1].mean())) for g in groups]


def read_curves(run_dir: Path, name: str | None = None) -> Curves:
    """The curves of the run in *run_dir* (empty when it has logged nothing yet)."""
    from agentapp.engine.sinks import read_metrics
    from agentapp.runs import METRICS

    episodes: list[tuple[int, float]] = []
    evals: list[tuple[int, float]] = []
    for step, _, key, value in read_metrics(run_dir / METRICS):
        if key == EPISODE_RETURN:
            episodes.append((step, value))
        elif key == EVAL_RETURN:
            evals.append((step, value))
    return Curves(name or run_dir.name, bin_points(episodes), bin_points(evals), len(episodes))


def _label(name: str, limit: int = 32) -> str:
    return name if len(name) <= limit else "…" + name[-(limit - 1):]


class ReturnPlot(PlotextPlot):
    """One run's episode and evaluation returns, or several runs' curves overlaid."""

    DEFAULT_CSS = """
    ReturnPlot { height: 1fr; min-height: 8; }
    """

    def show_curves(self, runs: Sequence[Curves]) -> None:
        """Draw *runs*: one run in detail, or one curve per run (its episodes, else its
        evaluations, for methods that play no training episodes)."""
        plt = self.plt
        plt.clear_data()
        plt.xlabel("step")
        plt.ylabel("return")
        if all(run.empty for run in runs):
            plt.title("no returns logged yet")
        elif len(runs) == 1:
            self._one(runs[0])
        else:
            plt.title("return (training episodes; evaluations where a run has none)")
            for i, run in enumerate(runs):
                points = run.episodes or run.evals
                if points:
                    xs, ys = zip(*points, strict=True)
                    plt.plot(list(xs), list(ys), label=_label(run.name),
                             color=COLORS[i % len(COLORS)], marker="braille")
        self.refresh()

    def _one(self, run: Curves) -> None:
        plt = self.plt
        plt.title(f"{run.episode_count:,} training episodes, {len(run.evals)} evaluations")
        if run.episodes:
            xs, ys = zip(*run.episodes, strict=True)
            binned = " (binned means)" if run.episode_count > len(run.episodes) else ""
            plt.plot(list(xs), list(ys), label=f"episode return{binned}", color="cyan",
                     marker="braille")
        if run.evals:
            xs, ys = zip(*run.evals, strict=True)
            plt.plot(list(xs), list(ys), label="evaluation mean", color="orange", marker="hd")
