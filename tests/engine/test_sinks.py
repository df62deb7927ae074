"""Sinks record the event stream: metrics.csv always, TensorBoard when installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentapp.engine import train
from agentapp.engine.events import EpisodeEnded, Metrics, RunFinished, RunStarted
from agentapp.engine.plan import RunConfig
from agentapp.engine.sinks import MetricsCsv, TensorBoardSink, read_metrics


def _scripted(run_dir: Path):
    yield RunStarted(str(run_dir), {"game": "g", "algo": "a", "seed": 0}, 0, 10)
    yield EpisodeEnded(step=4, episode=1, ret=-2.5, length=4)
    yield Metrics(step=5, values={"losses/td_error": 0.25, "charts/epsilon": 0.5})
    yield RunFinished(step=10, reason="budget", run_dir=str(run_dir))


def test_csv_rows_in_long_format(tmp_path):
    sink = MetricsCsv()
    for event in _scripted(tmp_path):
        sink(event)
    rows = read_metrics(tmp_path / "metrics.csv")
    assert [(s, k, v) for s, _, k, v in rows] == [
        (4, "charts/episode_return", -2.5),
        (4, "charts/episode_length", 4.0),
        (5, "losses/td_error", 0.25),
        (5, "charts/epsilon", 0.5),
    ]
    assert (tmp_path / "metrics.csv").read_text().startswith("step,time,key,value\n")


def test_reader_skips_torn_and_malformed_lines(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,time,key,value\n1,0.1,a,2.0\nnot,a,row\n2,0.2,a,3.0\n3,0.3,a,")
    assert [r[0] for r in read_metrics(path)] == [1, 2]


def test_reader_drops_a_last_line_cut_inside_a_number(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,time,key,value\n1,0.1,a,2.0\n2,0.2,a,12")  # was 12.75 when killed
    assert read_metrics(path) == [(1, 0.1, "a", 2.0)]


def test_tensorboard_event_files_beside_the_csv(runs_dir):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    sink = TensorBoardSink.create()
    assert sink is not None
    events = list(train(RunConfig(game="gridworld:cliff", algo="q-learning", steps=1000,
                                  seed=0, runs_dir=str(runs_dir))))
    for event in events:
        sink(event)
    run = Path(events[0].run_dir)
    assert list(run.glob("events.out.tfevents.*"))
    board = EventAccumulator(str(run))
    board.Reload()
    assert "charts/episode_return" in board.Tags()["scalars"]
    assert "losses/td_error" in board.Tags()["scalars"]
