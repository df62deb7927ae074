"""The runners train real runs off the calling thread and obey requests: a thread for cheap games,
a child process for pixel games (exercised here on CartPole, which keeps it quick)."""

from __future__ import annotations

import contextlib
import queue
import time

from agentapp.engine.events import CheckpointSaved, Metrics, RunFinished, RunStarted
from agentapp.engine.plan import RunConfig
from agentapp.tui.runner import EXITED, Failure, ProcessRunner, ThreadRunner, runner_for


def _drain(items: queue.Queue, until, timeout: float = 120.0) -> list:
    """Items posted so far, waiting until *until(items_seen)* holds (or failing on timeout)."""
    seen, deadline = [], time.monotonic() + timeout
    while not until(seen):
        assert time.monotonic() < deadline, f"timed out; saw {[type(x).__name__ for x in seen]}"
        with contextlib.suppress(queue.Empty):
            seen.append(items.get(timeout=0.1))
    return seen


def _finished(seen) -> bool:
    return bool(seen) and seen[-1] == EXITED


def test_thread_runner_trains_to_the_end_and_writes_the_run(tmp_path):
    items: queue.Queue = queue.Queue()
    runner = ThreadRunner(RunConfig(game="gridworld:cliff", algo="q-learning", steps=3000,
                                    seed=1, runs_dir=str(tmp_path)))
    runner.start(items.put)
    seen = _drain(items, _finished)
    kinds = [type(x).__name__ for x in seen]
    assert kinds[0] == "RunStarted" and "RunFinished" in kinds
    done = next(x for x in seen if isinstance(x, RunFinished))
    assert done.reason == "budget" and done.step == 3000
    run = next(x for x in seen if isinstance(x, RunStarted)).run_dir
    assert (tmp_path / run.rsplit("/", 1)[-1] / "metrics.csv").stat().st_size > 0  # sinks ran
    runner.join(5)
    assert not runner.alive


def test_thread_runner_reports_bad_settings_as_one_line(tmp_path):
    items: queue.Queue = queue.Queue()
    ThreadRunner(RunConfig(game="no-such-game", runs_dir=str(tmp_path))).start(items.put)
    seen = _drain(items, _finished, timeout=30)
    failure = next(x for x in seen if isinstance(x, Failure))
    assert "no-such-game" in failure.text and "\n" not in failure.text


def test_process_runner_pauses_saves_and_stops_with_a_checkpoint(tmp_path):
    items: queue.Queue = queue.Queue()
    runner = ProcessRunner(RunConfig(game="cartpole", algo="ppo", steps=5_000_000, seed=0,
                                     runs_dir=str(tmp_path)))
    runner.start(items.put)
    seen = _drain(items, lambda s: sum(isinstance(x, Metrics) for x in s) >= 2)
    assert runner.toggle_pause() is True
    runner.request_save()  # taken when it resumes
    assert runner.toggle_pause() is False
    seen += _drain(items, lambda s: any(isinstance(x, CheckpointSaved) for x in s))
    runner.stop("interrupted")
    seen += _drain(items, _finished)
    done = next(x for x in seen if isinstance(x, RunFinished))
    assert done.reason == "interrupted" and 0 < done.step < 5_000_000
    run = next(x for x in seen if isinstance(x, RunStarted)).run_dir
    assert (tmp_path / run.rsplit("/", 1)[-1] / "checkpoints" / "latest.pt").is_file()
    runner.join(30)
    assert not runner.alive


def test_pixel_games_train_in_a_process_and_the_rest_in_a_thread():
    assert isinstance(runner_for(RunConfig(game="pong", algo="a2c")), ProcessRunner)
    assert isinstance(runner_for(RunConfig(game="cartpole", algo="ppo")), ThreadRunner)
    assert isinstance(runner_for(RunConfig(game="no-such-game")), ThreadRunner)
