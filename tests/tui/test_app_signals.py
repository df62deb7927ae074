"""Signals sent to ``agentapp train`` while its dashboard is open, on a real pseudo terminal.

SIGINT (``kill -INT``, or Ctrl+C from outside the app's terminal) and SIGTERM save a checkpoint,
stop, close the app and say in the shell how it ended and how to resume (exit 130 / 143). A second
SIGINT while saving leaves at once; the checkpoints already on disk stay whole. The process never
aborts, whatever is running in the training thread when it leaves.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

import pytest

from agentapp import checkpoints
from tests.terminal import Terminal

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo terminals are POSIX")


def _start(runs_dir: Path) -> Terminal:
    return Terminal("train", "cartpole", "--algo", "ppo", "--steps", "1000000000", "--seed", "0",
                    "--save-every", "2048", size=(140, 45),
                    env={"AGENTAPP_RUNS": str(runs_dir)})


def _wait_for_checkpoint(term: Terminal, runs_dir: Path) -> Path:
    deadline = time.monotonic() + 120
    while not list(runs_dir.glob("*/checkpoints/latest.pt")):
        assert time.monotonic() < deadline, term.output[-2000:]
        assert term.proc.poll() is None, term.output[-2000:]
        term._pump(0.2)
    return next(runs_dir.glob("*/checkpoints/latest.pt")).parent.parent


@pytest.mark.parametrize(("sig", "code", "says"), [(signal.SIGINT, 130, "stopped (Ctrl+C)"),
                                                    (signal.SIGTERM, 143, "stopped (SIGTERM)")])
def test_a_signal_saves_stops_and_says_how_to_resume(tmp_path, sig, code, says):
    runs_dir = tmp_path / "runs"
    term = _start(runs_dir)
    try:
        run = _wait_for_checkpoint(term, runs_dir)
        term.read_until("steps/s")
        term.proc.send_signal(sig)
        assert term.finish(timeout=60) == code
        assert term.restored()
        assert says in term.output
        assert f"resume with: agentapp train cartpole --resume {run}" in term.output
        assert "Traceback" not in term.output and "terminate called" not in term.output
        status = json.loads((run / "status.json").read_text())
        assert status["status"] == "stopped"
        assert checkpoints.load(run / "checkpoints" / "latest.pt")["step"] == status["steps"]
    finally:
        term.close()


def test_a_second_sigint_leaves_at_once_and_the_last_checkpoint_stays_whole(tmp_path):
    runs_dir = tmp_path / "runs"
    term = _start(runs_dir)
    try:
        run = _wait_for_checkpoint(term, runs_dir)
        term.proc.send_signal(signal.SIGINT)
        term.proc.send_signal(signal.SIGINT)
        assert term.finish(timeout=30) == 130  # not an abort (-6) with training still running
        assert term.restored()
        assert "terminate called" not in term.output and "Traceback" not in term.output
        checkpoints.load(run / "checkpoints" / "latest.pt")
    finally:
        term.close()
