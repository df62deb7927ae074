"""What the dashboard remembers of a run, in bounded memory, built from the engine's events.

A run can last days and end a million episodes; the dashboard must still show the whole run and
must not grow without bound. :class:`Series` keeps at most ``capacity`` points: when full, it
merges neighbouring points pairwise (x and y become the pair's means), so the resolution halves
while the curve still spans the whole run. The true best and last values are kept beside it,
since averaging would blur them.

:class:`RunHistory` folds the events into what the panels show (counters, speed, elapsed time,
series, latest metrics) and records which parts changed, so the screen redraws only those, on a
timer, never per event. It is plain Python with no Textual, so it is tested on its own.
"""

from __future__ import annotations

import math
from collections import deque
from pathlib import Path
from typing import Any

from agentapp.engine.events import (
    CheckpointSaved,
    EpisodeEnded,
    Event,
    Metrics,
    RunFinished,
    RunStarted,
)

STAT_ONLY_LOSSES = frozenset({"losses/approx_kl", "losses/clip_fraction"})
"""``losses/`` keys that read better as a number in the statistics than as a curve."""

SPEED_SMOOTHING = 0.3
"""Weight of the newest speed in the moving average the ETA is computed from."""


class Series:
    """A bounded ``(x, y)`` series: at most *capacity* stored points for any number of appends.

    Each stored point is the mean of ``span`` consecutive appended points (x = mean step,
    y = mean value); ``span`` doubles each time the series fills up. Points appended since the
    last full bucket are shown as one more point, so the newest data is always visible.
    """

    def __init__(self, capacity: int = 1024) -> None:
        if capacity < 2 or capacity % 2:
            raise ValueError(f"capacity must be an even number >= 2, got {capacity}")
        self.capacity = capacity
        self.span = 1
        self.xs: list[float] = []
        self.ys: list[float] = []
        self.count = 0
        self.last: float | None = None
        self.best: float | None = None
        self.lowest: float | None = None
        self._sum_x = 0.0
        self._sum_y = 0.0
        self._pending = 0

    def __len__(self) -> int:
        return len(self.xs) + (1 if self._pending else 0)

    def append(self, x: float, y: float) -> None:
        self.count += 1
        self.last = y
        if self.best is None or y > self.best:
            self.best = y
        if self.lowest is None or y < self.lowest:
            self.lowest = y
        self._sum_x += x
        self._sum_y += y
        self._pending += 1
        if self._pending == self.span:
            self.xs.append(self._sum_x / self.span)
            self.ys.append(self._sum_y / self.span)
            self._sum_x = self._sum_y = 0.0
            self._pending = 0
            if len(self.xs) == self.capacity:
                self._halve()

    def _halve(self) -> None:
        # both points of a pair hold `span` appends, so their plain mean is the exact mean
        xs, ys = self.xs, self.ys
        self.xs = [(a + b) / 2 for a, b in zip(xs[0::2], xs[1::2], strict=True)]
        self.ys = [(a + b) / 2 for a, b in zip(ys[0::2], ys[1::2], strict=True)]
        self.span *= 2

    def points(self, max_points: int | None = None) -> tuple[list[float], list[float]]:
        """The stored points plus the partial bucket, thinned to *max_points* by averaging
        neighbours (a plot cannot show more points than it has columns)."""
        xs, ys = list(self.xs), list(self.ys)
        if self._pending:
            xs.append(self._sum_x / self._pending)
            ys.append(self._sum_y / self._pending)
        if max_points is None or len(xs) <= max_points:
            return xs, ys
        return _thin(xs, max_points), _thin(ys, max_points)


def _thin(values: list[float], parts: int) -> list[float]:
    """Means of *parts* nearly equal consecutive runs of *values*."""
    size = len(values)
    out = []
    for i in range(parts):
        start, end = i * size // parts, (i + 1) * size // parts
        out.append(sum(values[start:end]) / (end - start))
    return out


class WindowMean:
    """The mean of the last *window* values, in constant time per value."""

    def __init__(self, window: int = 100) -> None:
        self.values: deque[float] = deque(maxlen=window)
        self._sum = 0.0
        self._since_exact = 0

    def add(self, value: float) -> float:
        if len(self.values) == self.values.maxlen:
            self._sum -= self.values[0]
        self.values.append(value)
        self._sum += value
        self._since_exact += 1
        if self._since_exact >= 10_000:  # re-add now and then: float drift of a running sum
            self._sum, self._since_exact = math.fsum(self.values), 0
        return self.mean

    @property
    def mean(self) -> float | None:
        return self._sum / len(self.values) if self.values else None


class RunHistory:
    """The dashboard's model of one run; :meth:`consume` each event, then :meth:`take_changes`.

    Change names: ``header`` (steps, speed, time), ``returns`` (episode and evaluation returns),
    ``losses`` (the ``losses/`` series), ``stats`` (latest metrics, episode counts).
    """

    def __init__(self, capacity: int = 1024, window: int = 100) -> None:
        self.window = window
        self.started: RunStarted | None = None
        self.finished: RunFinished | None = None
        self.step = 0
        self.total = 0
        self.elapsed = 0.0
        self.speed: float | None = None
        self.episodes = 0
        self.last_length: int | None = None
        self.returns = Series(capacity)
        self.returns_mean = Series(capacity)
        self.evals = Series(max(2, capacity // 8 * 2))  # evaluations are few: a quarter of it
        self.losses: dict[str, Series] = {}
        self.latest: dict[str, float] = {}
        self.checkpoints = 0
        self._capacity = capacity
        self._recent_returns = WindowMean(window)
        self._lengths = WindowMean(window)
        self._speed_step = 0
        self._changes: set[str] = set()

    # -- what the run is ----------------------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        return self.started.config if self.started else {}

    @property
    def run_dir(self) -> str:
        return self.started.run_dir if self.started else ""

    @property
    def run_name(self) -> str:
        return Path(self.run_dir).name if self.run_dir else ""

    @property
    def unit(self) -> str:
        return str(self.config.get("step_unit", "steps"))

    @property
    def mean_return(self) -> float | None:
        return self._recent_returns.mean

    @property
    def mean_length(self) -> float | None:
        return self._lengths.mean

    @property
    def eta(self) -> float | None:
        """Seconds left at the recent speed; None before the speed is known or when done."""
        if self.finished is not None or not self.speed or self.total <= 0:
            return None
        return max(self.total - self.step, 0) / self.speed

    # -- events ---------------------------------------------------------------------------------
    def consume(self, event: Event) -> None:
        if isinstance(event, EpisodeEnded):
            self._episode(event)
        elif isinstance(event, Metrics):
            self._metrics(event)
        elif isinstance(event, RunStarted):
            self.started = event
            self.step = self._speed_step = event.start_step
            self.total, self.elapsed = event.total_steps, event.elapsed
            self._changes.update(("header", "stats"))
        elif isinstance(event, CheckpointSaved):
            self.checkpoints += 1
            self._advance(event.step)
        elif isinstance(event, RunFinished):
            self.finished = event
            self._advance(event.step)
            self.elapsed = max(self.elapsed, event.elapsed)
            if event.eval_mean is not None and self.evals.last != event.eval_mean:
                self.evals.append(event.step, event.eval_mean)
                self._changes.add("returns")
            self._changes.update(("header", "stats"))

    def _advance(self, step: int) -> None:
        if step > self.step:
            self.step = step
            self._changes.add("header")

    def _episode(self, event: EpisodeEnded) -> None:
        self.episodes = max(self.episodes, event.episode)
        self.last_length = event.length
        self._lengths.add(event.length)
        self.returns.append(event.step, event.ret)
        self.returns_mean.append(event.step, self._recent_returns.add(event.ret))
        self._advance(event.step)
        self._changes.update(("returns", "stats"))

    def _metrics(self, event: Metrics) -> None:
        values = event.values
        self.latest.update(values)
        self._changes.add("stats")
        sps = values.get("charts/sps")
        if sps is not None:
            self._speed(event.step, sps)
        if "eval/mean_return" in values:
            self.evals.append(event.step, values["eval/mean_return"])
            self._changes.add("returns")
        for key, value in values.items():
            if key.startswith("losses/") and key not in STAT_ONLY_LOSSES and math.isfinite(value):
                series = self.losses.get(key)
                if series is None:
                    series = self.losses[key] = Series(self._capacity)
                series.append(event.step, value)
                self._changes.add("losses")
        self._advance(event.step)

    def _speed(self, step: int, sps: float) -> None:
        # The engine measures sps over exactly the steps since its previous Metrics, so those
        # steps divided by it are the seconds that passed: elapsed time follows from the events
        # alone (no clock here, so what is drawn is reproducible).
        if sps > 0 and step > self._speed_step:
            self.elapsed += (step - self._speed_step) / sps
            self._speed_step = step
            self.speed = sps if self.speed is None else (
                SPEED_SMOOTHING * sps + (1 - SPEED_SMOOTHING) * self.speed)
            self._changes.add("header")

    def take_changes(self) -> set[str]:
        """The parts changed since the last call (and forget them)."""
        changes, self._changes = self._changes, set()
        return changes
