"""Ctrl+C and SIGTERM during training, with a real subprocess: save, mark stopped, say how to
resume, exit 130 / 143; a second Ctrl+C during that save exits at once, the checkpoint intact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentapp import checkpoints
from agentapp.engine.sinks import read_metrics
from tests.conftest import wait_for_file


def _start(runs_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "AGENTAPP_RUNS": str(runs_dir), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "agentapp", "train", "gridworld:maze", "--algo", "mc-control",
         "--steps", "100000000", "--seed", "0", "--save-every", "5000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def _wait_for_checkpoint(runs_dir: Path, proc: subprocess.Popen) -> Path:
    return wait_for_file(runs_dir, "*/checkpoints/step_*.pt", proc, seconds=60).parent.parent


@pytest.mark.parametrize(("sig", "code", "word"), [(signal.SIGINT, 130, "Ctrl+C"),
                                                    (signal.SIGTERM, 143, "SIGTERM")])
def test_signal_saves_and_exits_with_its_code(runs_dir, sig, code, word):
    proc = _start(runs_dir)
    try:
        run = _wait_for_checkpoint(runs_dir, proc)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert word in out and f"--resume {run}" in out
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "stopped"
    latest = checkpoints.load(run / "checkpoints" / "latest.pt")
    assert latest["step"] == status["steps"] > 0
    assert not (run / "lock").exists()


SLOW_DISK = '''
"""Run `agentapp ARGS...` on a very slow disk: every checkpoint write stalls half-way."""
import io
import sys
import time

import torch

real_save = torch.save


def save(obj, f, *args, **kwargs):
    whole = io.BytesIO()
    real_save(obj, whole, *args, **kwargs)
    f.write(whole.getvalue()[: len(whole.getvalue()) // 2])
    f.flush()
    time.sleep(120)  # a second Ctrl+C must not wait for this
    f.write(whole.getvalue()[len(whole.getvalue()) // 2:])


torch.save = save
sys.argv = ["agentapp", *sys.argv[1:]]
from agentapp.cli import main  # noqa: E402

main()
'''


def _wait_until(what: str, proc: subprocess.Popen, check) -> None:
    deadline = time.monotonic() + 120
    while not check():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{what} did not happen"
        time.sleep(0.02)


def test_second_ctrl_c_during_the_save_exits_at_once_and_keeps_the_checkpoint(runs_dir, cli,
                                                                               tmp_path):
    """The save the first Ctrl+C asks for stalls (a slow disk, simulated in the child: no hook
    in agentapp); the second Ctrl+C lands inside it and ends the process without finishing it:
    130, no traceback, the checkpoint of the session before untouched, no lock, no leftovers."""
    first = cli("train", "gridworld:maze", "--algo", "mc-control", "--steps", "2000",
                "--seed", "0", "--headless")
    assert first.exit_code == 0, first.output
    run = next(runs_dir.iterdir())
    folder = run / "checkpoints"
    wrapper = tmp_path / "slow_disk.py"
    wrapper.write_text(SLOW_DISK)
    env = {**os.environ, "AGENTAPP_RUNS": str(runs_dir), "PYTHONUNBUFFERED": "1"}
    # no save and no evaluation on the way: the one save of this session is the one Ctrl+C asks
    proc = subprocess.Popen(
        [sys.executable, str(wrapper), "train", "gridworld:maze", "--algo", "mc-control",
         "--resume", str(run), "--steps", "100000000", "--save-every", "1000000000",
         "--eval-every", "1000000000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:  # trained past the checkpoint, so the first Ctrl+C has something to save
        _wait_until("training", proc, lambda: any(
            row[0] > 2000 for row in read_metrics(run / "metrics.csv")))
        proc.send_signal(signal.SIGINT)
        _wait_until("the save", proc, lambda: any(folder.glob(".latest.pt.*.tmp")))
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Traceback" not in out
    assert checkpoints.load(folder / "latest.pt")["step"] == 2000  # the stalled save never landed
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "stopped" and status["detail"].startswith("left at once"), status
    assert not list(folder.glob(".*.tmp"))  # the unfinished save removed its temporary file
    assert not (run / "lock").exists()
