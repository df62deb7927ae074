"""SIGKILL at random moments, twenty times over one run: nothing that was saved is ever lost.

A DQN on CartPole saves often (``--save-every 400``) with its replay buffer beside each checkpoint
(``save_buffer=true``), so many of the kills land while a checkpoint or the buffer is being
written. After every kill: ``latest.pt`` loads; the progress lost is at most one checkpoint
interval (the newest ``metrics.csv`` row, written before the kill, is no more than one interval
past the checkpoint); ``metrics.csv`` reads without a torn line; an unfinished save left no more
than its temporary files (the next session removes them). Then the same run is resumed in place,
and killed again. At the end it is resumed to its budget and finishes normally.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from agentapp import checkpoints
from agentapp.engine.sinks import read_metrics
from tests.conftest import wait_for_file

KILLS = 20
SAVE_EVERY = 400
SETTINGS = ["--set", "save_buffer=true", "--set", "learning_starts=200",
            "--set", "hidden=32,32", "--set", "buffer_size=20000"]


def _train(runs_dir: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "AGENTAPP_RUNS": str(runs_dir), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "agentapp", "train", "cartpole", "--algo", "dqn", "--seed", "0",
         "--save-every", str(SAVE_EVERY), "--eval-every", "1000000000", "--threads", "1",
         "--headless", *SETTINGS, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _latest_step(run: Path) -> int:
    return int(checkpoints.load(run / "checkpoints" / "latest.pt")["step"])


def _wait_for_first_checkpoint(runs_dir: Path, proc: subprocess.Popen) -> Path:
    return wait_for_file(runs_dir, "*/checkpoints/latest.pt", proc).parent.parent


def _wait_until_training(run: Path, since: int, proc: subprocess.Popen) -> None:
    """Until the session has started training (it rewrites status.json when it begins)."""
    deadline = time.monotonic() + 120
    while (run / "status.json").stat().st_mtime_ns == since:
        assert time.monotonic() < deadline, "the resumed session did not start"
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)


def _kill_at_random(proc: subprocess.Popen, rng: random.Random) -> None:
    time.sleep(rng.uniform(0.2, 2.0))
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGKILL)
    proc.communicate()


def test_twenty_kills_lose_at_most_one_interval_each_and_the_run_finishes(tmp_path):
    runs_dir, rng = tmp_path / "runs", random.Random(7)
    proc = _train(runs_dir, "--steps", "100000000")
    run = _wait_for_first_checkpoint(runs_dir, proc)
    _kill_at_random(proc, rng)
    steps = []
    for kill in range(KILLS):
        step = _latest_step(run)  # loads: never a half-written file
        rows = read_metrics(run / "metrics.csv")
        trained = max((r[0] for r in rows), default=0)
        assert trained - step <= SAVE_EVERY + 64, f"kill {kill}: lost {trained - step} steps"
        lines = (run / "metrics.csv").read_text().splitlines()
        assert all(line.count(",") == 3 for line in lines[:-1])  # only the last may be torn
        # an unfinished save leaves at most its temporary files (the next session removes them)
        assert len(list((run / "checkpoints").glob(".*.tmp"))) <= 3
        steps.append(step)
        if kill == KILLS - 1:
            break
        since = (run / "status.json").stat().st_mtime_ns
        proc = _train(runs_dir, "--resume", str(run))
        _wait_until_training(run, since, proc)
        _kill_at_random(proc, rng)
    assert steps == sorted(steps)  # a resumed run never went back
    assert steps[-1] > steps[0]  # and it got somewhere
    final = subprocess.run(
        [sys.executable, "-m", "agentapp", "train", "cartpole", "--algo", "dqn", "--headless",
         "--resume", str(run), "--steps", str(steps[-1] + 1000), "--threads", "1"],
        capture_output=True, text=True, env={**os.environ, "AGENTAPP_RUNS": str(runs_dir)},
        timeout=300)
    assert final.returncode == 0, final.stderr
    assert _latest_step(run) >= steps[-1] + 1000
    assert not list((run / "checkpoints").glob(".*.tmp"))
    assert (run / "status.json").read_text().count('"done"') == 1
