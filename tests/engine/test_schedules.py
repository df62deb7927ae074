"""Schedules: values at given steps, flat after their duration, pure functions of the step."""

from __future__ import annotations

import dataclasses

import pytest

from agentapp.engine import schedules
from agentapp.engine.schedules import Constant, Exponential, Linear


def test_constant_is_the_same_at_every_step():
    s = Constant(0.3)
    assert [s(t) for t in (0, 1, 10**9)] == [0.3, 0.3, 0.3]


def test_linear_epsilon_values_at_given_steps():
    # epsilon 1.0 -> 0.05 over half of a 1000-step budget, then flat.
    eps = Linear(1.0, 0.05, schedules.steps_for(0.5, 1000))
    assert eps.duration == 500
    assert eps(0) == pytest.approx(1.0)
    assert eps(100) == pytest.approx(0.81)
    assert eps(250) == pytest.approx(0.525)
    assert eps(500) == pytest.approx(0.05)
    assert eps(501) == pytest.approx(0.05)
    assert eps(10_000) == pytest.approx(0.05)


def test_linear_can_rise_and_zero_duration_means_end_at_once():
    assert Linear(0.0, 1.0, 4)(1) == pytest.approx(0.25)
    assert Linear(1.0, 0.1, 0)(0) == pytest.approx(0.1)


def test_exponential_decays_geometrically_then_stays_flat():
    s = Exponential(1.0, 0.01, 100)
    assert s(0) == pytest.approx(1.0)
    assert s(50) == pytest.approx(0.1)  # half way in log space
    assert s(25) / s(0) == pytest.approx(s(75) / s(50))  # same factor for the same number of steps
    assert s(100) == pytest.approx(0.01)
    assert s(1000) == pytest.approx(0.01)


def test_exponential_needs_positive_ends():
    with pytest.raises(ValueError):
        Exponential(0.5, 0.0, 10)


def test_make_by_kind_name():
    assert schedules.make("constant", 0.5, 0.0, 10)(7) == 0.5
    assert schedules.make("linear", 1.0, 0.0, 10)(5) == pytest.approx(0.5)
    assert schedules.make("exponential", 1.0, 0.25, 10)(5) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="unknown schedule"):
        schedules.make("cosine", 1.0, 0.0, 10)
    assert set(schedules.KINDS) == {"constant", "linear", "exponential"}


def test_schedules_are_frozen_and_pure():
    s = Linear(1.0, 0.0, 10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.start = 2.0  # type: ignore[misc]
    assert [s(t) for t in range(12)] == [s(t) for t in range(12)]
    # Asking in any order gives the same answers: nothing is carried from one call to the next.
    assert [s(t) for t in reversed(range(12))] == list(reversed([s(t) for t in range(12)]))


def test_steps_for_rounds_a_fraction_of_the_budget():
    assert schedules.steps_for(1 / 3, 1000) == 333
    assert schedules.steps_for(0.0, 1000) == 0
    assert schedules.steps_for(1.0, 1000) == 1000
