"""Schedules: a hyperparameter (epsilon, a step size, a learning rate) as a function of the step.

Every schedule is a small frozen dataclass called with the number of steps done so far, and holds
no state of its own. That is what makes resume exact: a run restored at step *t* asks for the value
at *t* and gets the same number the original run would have used, with nothing else to save.
Schedules anneal over the budget fixed when the run started (see DESIGN.md); :func:`make` builds
one from a hyperparameter's kind name, and :func:`steps_for` turns a fraction of that budget into a
step count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

KINDS = ("constant", "linear", "exponential")
"""The schedule kinds a hyperparameter may name (``alpha_schedule=linear``)."""


class Schedule(Protocol):
    def __call__(self, step: int) -> float: ...


def _progress(step: int, duration: int) -> float:
    """How far *step* is through *duration* steps, in [0, 1]; 1 at once when duration <= 0."""
    if duration <= 0:
        return 1.0
    return min(max(step, 0) / duration, 1.0)


@dataclass(frozen=True)
class Constant:
    """The same value at every step."""

    value: float

    def __call__(self, step: int) -> float:
        return self.value


@dataclass(frozen=True)
class Linear:
    """From *start* at step 0 straight to *end* at step *duration*, then flat at *end*.

    A duration of 0 (or less) means *end* from the first step.
    """

    start: float
    end: float
    duration: int

    def __call__(self, step: int) -> float:
        return self.start + (self.end - self.start) * _progress(step, self.duration)


@dataclass(frozen=True)
class Exponential:
    """Geometric decay from *start* to *end* over *duration* steps, then flat at *end*.

    value(t) = start * (end / start) ** (t / duration): the value shrinks by the same factor every
    step. Both ends must be positive (a geometric curve never reaches 0).
    """

    start: float
    end: float
    duration: int

    def __post_init__(self) -> None:
        if self.start <= 0 or self.end <= 0:
            raise ValueError(
                f"an exponential schedule needs positive ends, got {self.start} -> {self.end}"
            )

    def __call__(self, step: int) -> float:
        p = _progress(step, self.duration)
        if p >= 1.0:
            return self.end
        return self.start * math.exp(p * math.log(self.end / self.start))


def make(kind: str, start: float, end: float, duration: int) -> Schedule:
    """Build the schedule *kind* (one of :data:`KINDS`); ``constant`` ignores *end*."""
    if kind == "constant":
        return Constant(start)
    if kind == "linear":
        return Linear(start, end, duration)
    if kind == "exponential":
        return Exponential(start, end, duration)
    raise ValueError(f"unknown schedule {kind!r} (expected one of {', '.join(KINDS)})")


def steps_for(fraction: float, budget: int) -> int:
    """The number of steps in *fraction* of *budget* (rounded to the nearest step)."""
    return round(fraction * budget)
