"""Ctrl+C and SIGTERM during training, with a real subprocess: save, mark stopped, say how to
resume, exit 130 / 143."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agentapp import checkpoints
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
