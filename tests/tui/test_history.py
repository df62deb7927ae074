"""The dashboard's bounded memory of a run: series that halve their resolution, and the run model
that derives speed, elapsed time and ETA from the events alone."""

from __future__ import annotations

import math
import time

import pytest

from agentapp.engine.events import (
    CheckpointSaved,
    EpisodeEnded,
    Metrics,
    RunFinished,
    RunStarted,
)
from agentapp.tui.history import RunHistory, Series, WindowMean


def test_series_keeps_every_point_until_full():
    series = Series(capacity=8)
    for i in range(5):
        series.append(i * 10, float(i))
    assert series.points() == ([0, 10, 20, 30, 40], [0.0, 1.0, 2.0, 3.0, 4.0])
    assert series.span == 1


def test_series_merges_neighbours_when_full():
    series = Series(capacity=4)
    for x, y in [(1, 1.0), (2, 3.0), (3, 5.0), (4, 7.0)]:
        series.append(x, y)
    # full at 4 points: pairs merged into their means, each point now stands for two
    assert (series.xs, series.ys, series.span) == ([1.5, 3.5], [2.0, 6.0], 2)
    series.append(5, 9.0)  # half a bucket: shown as its own mean until the bucket fills
    assert series.points() == ([1.5, 3.5, 5.0], [2.0, 6.0, 9.0])
    series.append(6, 11.0)
    assert series.points() == ([1.5, 3.5, 5.5], [2.0, 6.0, 10.0])
    assert (series.best, series.lowest, series.last, series.count) == (11.0, 1.0, 11.0, 6)


def test_a_million_appends_stay_bounded_and_keep_the_whole_run():
    series = Series(capacity=1024)
    n = 1_000_000
    started = time.perf_counter()
    for i in range(n):
        series.append(i, float(i % 1000) - (500.0 if i == 123_456 else 0.0))
    seconds = time.perf_counter() - started
    assert len(series) <= 1024 + 1
    assert series.count == n
    assert series.best == 999.0 and series.lowest == -44.0  # the true extremes, not blurred
    xs = series.points()[0]
    assert xs[0] < 1000 and xs[-1] > n - 1000  # first and last steps of the run still shown
    assert xs == sorted(xs)
    # the stored means account for every value appended
    total = sum(y * series.span for y in series.ys) + series._sum_y
    expected = sum(float(i % 1000) for i in range(n)) - 500.0
    assert math.isclose(total, expected, rel_tol=1e-9)
    assert seconds < 10, f"{seconds:.1f} s for a million appends"


def test_points_are_thinned_to_what_a_plot_can_show():
    series = Series(capacity=64)
    for i in range(40):
        series.append(i, float(i))
    xs, ys = series.points(max_points=4)
    assert xs == [4.5, 14.5, 24.5, 34.5] and ys == xs


def test_series_capacity_must_be_even():
    with pytest.raises(ValueError):
        Series(capacity=5)


def test_window_mean_follows_the_last_values():
    window = WindowMean(3)
    assert window.mean is None
    for value in (1.0, 2.0, 3.0, 10.0):
        window.add(value)
    assert window.mean == pytest.approx(5.0)
    for i in range(25_000):  # past the periodic exact re-sum
        window.add(0.1 * (i % 7))
    assert window.mean == pytest.approx(sum(0.1 * (i % 7) for i in range(24_997, 25_000)) / 3)


def _started(**kwargs) -> RunStarted:
    config = {"game": "cartpole", "algo": "dqn", "step_unit": "steps"}
    return RunStarted("runs/cartpole-dqn-1", config, **kwargs)


def test_elapsed_and_eta_come_from_the_events():
    history = RunHistory()
    history.consume(_started(start_step=1000, total_steps=11_000, elapsed=10.0))
    assert (history.step, history.elapsed, history.eta) == (1000, 10.0, None)
    history.consume(Metrics(2000, {"charts/sps": 100.0}))  # 1000 steps at 100/s: 10 s
    assert history.elapsed == pytest.approx(20.0)
    assert history.eta == pytest.approx(9000 / 100.0)
    history.consume(Metrics(2000, {"eval/mean_return": 5.0}))  # no speed: no time passes
    history.consume(Metrics(4000, {"charts/sps": 200.0}))  # 2000 steps at 200/s: 10 s
    assert history.elapsed == pytest.approx(30.0)
    speed = 0.3 * 200 + 0.7 * 100  # smoothed, so one slow moment does not swing the ETA
    assert history.speed == pytest.approx(speed)
    assert history.eta == pytest.approx(7000 / speed)
    history.consume(RunFinished(4000, "interrupted", "runs/x", elapsed=31.5))
    assert history.elapsed == 31.5 and history.eta is None


def test_episodes_losses_and_evaluations_go_to_their_series():
    history = RunHistory(capacity=8, window=2)
    history.consume(_started(total_steps=100))
    for i, ret in enumerate([1.0, 3.0, 8.0], start=1):
        history.consume(EpisodeEnded(i * 10, i, ret, 10 + i))
    assert history.returns_mean.points()[1] == [1.0, 2.0, 5.5]
    assert (history.episodes, history.last_length, history.mean_length) == (3, 13, 12.5)
    history.consume(Metrics(30, {"losses/td_loss": 0.5, "losses/approx_kl": 0.01,
                                 "losses/value_loss": math.nan, "charts/epsilon": 0.2}))
    assert set(history.losses) == {"losses/td_loss"}  # KL is a statistic; NaN is not drawn
    assert history.latest["charts/epsilon"] == 0.2
    history.consume(Metrics(30, {"eval/mean_return": 7.0}))
    history.consume(RunFinished(40, "budget", "runs/x", 2.0, eval_mean=7.0))
    assert history.evals.points() == ([30], [7.0])  # the final mean is not counted twice


def test_changes_name_what_to_redraw_once():
    history = RunHistory()
    history.consume(_started(total_steps=100))
    assert history.take_changes() == {"header", "stats"}
    assert history.take_changes() == set()
    history.consume(EpisodeEnded(5, 1, 1.0, 5))
    assert history.take_changes() == {"header", "returns", "stats"}
    history.consume(Metrics(5, {"losses/td_error": 0.1}))
    assert history.take_changes() == {"losses", "stats"}
    history.consume(CheckpointSaved(8, "runs/x/checkpoints/latest.pt"))
    assert history.take_changes() == {"header"} and history.checkpoints == 1
