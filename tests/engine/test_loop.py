"""The training loop and its run folder, driven directly through ``engine.train``."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from agentapp import checkpoints, runs
from agentapp.engine import train
from agentapp.engine.control import Control
from agentapp.engine.events import (
    CheckpointSaved,
    EpisodeEnded,
    Metrics,
    RunFinished,
    RunStarted,
)
from agentapp.engine.plan import RunConfig, prepare
from agentapp.engine.sinks import MetricsCsv, read_metrics


def _config(runs_dir: Path, **kw) -> RunConfig:
    base = {
        "game": "gridworld:cliff",
        "algo": "q-learning",
        "steps": 2000,
        "seed": 4,
        "runs_dir": str(runs_dir),
    }
    base.update(kw)
    return RunConfig(**base)


def test_event_stream_shape_and_pickling(runs_dir):
    events = list(train(_config(runs_dir, save_every=500)))
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    assert events[-1].reason == "budget" and events[-1].step == 2000
    kinds = {type(e) for e in events}
    assert {EpisodeEnded, Metrics, CheckpointSaved} <= kinds
    for event in events:
        assert pickle.loads(pickle.dumps(event)) == event or isinstance(event, RunStarted)
    steps = [e.step for e in events if hasattr(e, "step")]
    assert steps == sorted(steps)
    episodes = [e.episode for e in events if isinstance(e, EpisodeEnded)]
    assert episodes == list(range(1, len(episodes) + 1))
    keys = set().union(*(e.values for e in events if isinstance(e, Metrics)))
    assert {"losses/td_error", "charts/epsilon", "charts/sps", "eval/mean_return"} <= keys


def test_step_checkpoints_are_pruned_and_atomic(runs_dir):
    events = list(train(_config(runs_dir, save_every=200, keep_checkpoints=2)))
    run = Path(events[0].run_dir)
    files = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert len([f for f in files if f.startswith("step_")]) == 2
    assert not [f for f in files if f.endswith(".tmp")]
    saved = [e for e in events if isinstance(e, CheckpointSaved) and e.kind == "step"]
    assert len(saved) >= 5


def test_stop_request_saves_and_marks_the_run_stopped(runs_dir):
    control = Control()
    events = []
    for event in train(_config(runs_dir, steps=100_000), control):
        events.append(event)
        if isinstance(event, EpisodeEnded) and event.episode == 3:
            control.stop("interrupted")
    finished = events[-1]
    assert finished.reason == "interrupted" and finished.step < 100_000
    run = Path(finished.run_dir)
    assert checkpoints.load(run / "checkpoints" / "latest.pt")["step"] == finished.step
    assert json.loads((run / "status.json").read_text())["status"] == "stopped"
    assert not (run / "lock").exists()


def test_target_return_ends_the_run_early(runs_dir):
    events = list(train(_config(runs_dir, steps=50_000, eval_every=500, target_return=-13)))
    finished = events[-1]
    assert finished.reason == "target" and finished.step < 50_000
    assert finished.eval_mean == -13.0


def test_target_not_reached_is_still_a_normal_end(runs_dir):
    events = list(train(_config(runs_dir, steps=600, target_return=100)))
    assert events[-1].reason == "budget" and "not reached" in events[-1].detail


def test_value_iteration_stops_when_converged(runs_dir):
    events = list(
        train(_config(runs_dir, game="gridworld:classic", algo="value-iteration", steps=10_000))
    )
    finished = events[-1]
    assert finished.reason == "converged" and finished.step < 10_000
    sweeps = [e for e in events if isinstance(e, Metrics) and "losses/bellman_residual" in e.values]
    assert len(sweeps) == finished.step


def test_best_checkpoint_follows_the_best_evaluation(runs_dir):
    events = list(train(_config(runs_dir, steps=3000, eval_every=300)))
    evals = [
        e.values["eval/mean_return"]
        for e in events
        if isinstance(e, Metrics) and "eval/mean_return" in e.values
    ]
    run = Path(events[0].run_dir)
    best = checkpoints.load(run / "checkpoints" / "best.pt")
    assert best["loop"]["best_eval"] == max(evals)
    assert json.loads((run / "status.json").read_text())["best_eval"] == max(evals)


def test_checkpoint_holds_plain_data_and_loads_weights_only(runs_dir):
    events = list(train(_config(runs_dir)))
    latest = Path(events[0].run_dir) / "checkpoints" / "latest.pt"
    payload = torch.load(latest, weights_only=True)
    assert payload["format"] == checkpoints.FORMAT_VERSION
    assert payload["game"] == "gridworld:cliff" and payload["algo"] == "q-learning"
    assert payload["step"] == 2000


def test_metrics_csv_drops_rows_past_the_resumed_checkpoint(runs_dir):
    sink = MetricsCsv()
    first = list(train(_config(runs_dir, save_every=700)))
    for event in first:
        sink(event)
    run = Path(first[0].run_dir)
    # pretend the session died after its step-1400 checkpoint: latest.pt is that checkpoint,
    # and the csv has rows (and a torn line) written after it
    step_files = sorted((run / "checkpoints").glob("step_*.pt"), key=lambda p: p.stat().st_mtime)
    early = next(p for p in step_files if checkpoints.load(p)["step"] < 2000)
    (run / "checkpoints" / "latest.pt").write_bytes(early.read_bytes())
    with (run / "metrics.csv").open("a") as handle:
        handle.write("99999,1.0,charts/epsilon,0.")
    resumed_from = checkpoints.load(early)["step"]
    plan = prepare(
        RunConfig(game="gridworld:cliff", resume=str(run), steps=2500, runs_dir=str(runs_dir))
    )
    sink = MetricsCsv()
    second = []
    for event in train(plan):
        sink(event)
        second.append(event)
        if isinstance(event, RunStarted):
            rows = read_metrics(run / "metrics.csv")
            assert max(r[0] for r in rows) <= resumed_from
    rows = read_metrics(run / "metrics.csv")
    assert max(r[0] for r in rows) == 2500
    assert all(r[0] != 99999 for r in rows)


def test_stale_lock_is_taken_over(runs_dir):
    first = list(train(_config(runs_dir, steps=500)))
    run = Path(first[0].run_dir)
    (run / runs.LOCK).write_text("999999999")  # no such process
    plan = prepare(
        RunConfig(game="gridworld:cliff", resume=str(run), steps=800, runs_dir=str(runs_dir))
    )
    assert list(train(plan))[-1].step == 800


def test_non_finite_metrics_fail_the_run_and_keep_the_last_good_checkpoint(runs_dir, monkeypatch):
    from agentapp.engine.algorithms.q_learning import QLearning

    original = QLearning.train_iteration
    calls = {"n": 0}

    def poisoned(self, max_steps):
        it = original(self, max_steps)
        calls["n"] += 1
        if calls["n"] == 40:
            it.metrics["losses/td_error"] = float("nan")
        return it

    monkeypatch.setattr(QLearning, "train_iteration", poisoned)
    events = list(train(_config(runs_dir, steps=50_000, save_every=100)))
    finished = events[-1]
    assert finished.reason == "failed" and "losses/td_error" in finished.detail
    assert f"at step {finished.step}" in finished.detail  # says when it broke
    run = Path(finished.run_dir)
    assert json.loads((run / "status.json").read_text())["status"] == "failed"
    assert checkpoints.load(run / "checkpoints" / "latest.pt")["step"] < finished.step


@pytest.mark.parametrize("algo", ["q-learning", "sarsa", "mc-control"])
def test_resume_through_the_loop_is_exact(runs_dir, algo):
    config = _config(runs_dir, algo=algo, steps=3000, game="gridworld:classic")
    straight = list(train(config))
    control = Control()
    for event in train(config, control):  # the same run, stopped part-way
        if isinstance(event, EpisodeEnded) and event.step > 1200:
            control.stop("interrupted")
        if isinstance(event, RunStarted):
            run = Path(event.run_dir)
    assert checkpoints.load(run / "checkpoints" / "latest.pt")["step"] < 3000
    plan = prepare(
        RunConfig(game="gridworld:classic", resume=str(run), steps=3000, runs_dir=str(runs_dir))
    )
    list(train(plan))
    a = checkpoints.load(Path(straight[0].run_dir) / "checkpoints" / "latest.pt")
    b = checkpoints.load(run / "checkpoints" / "latest.pt")
    assert a["step"] == b["step"] == 3000
    for key, value in a["algorithm"].items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, b["algorithm"][key]), key
