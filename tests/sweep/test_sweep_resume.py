"""A sweep interrupted by Ctrl+C resumes: finished trials are kept as they are, the stopped one
continues from its checkpoint. Real subprocesses, each with its own local Ray."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

STEPS = 8192
"""Long enough that trial 2 is still running when its first checkpoint is there."""


def _agentapp(runs_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "agentapp", *args, "--runs-dir", str(runs_dir)]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def _second_trial_checkpoint(folder: Path, proc: subprocess.Popen, seconds: float = 90) -> Path:
    """Wait until trial 2 (trial 1 is then done: one trial at a time) has saved a step."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        saved = json.loads((folder / "sweep.json").read_text()) if (
            folder / "sweep.json").exists() else None
        run_dir = saved and saved["trials"][1]["run_dir"]
        if run_dir and next(Path(run_dir, "checkpoints").glob("step_*.pt"), None):
            return Path(run_dir)
        time.sleep(0.05)
    raise AssertionError("trial 2 saved no checkpoint in time")


def _digest(run: Path) -> dict[str, str]:
    return {str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run.rglob("*")) if p.is_file()}


@pytest.mark.slow  # about 35 s: a real sweep interrupted and resumed in subprocesses
def test_ctrl_c_stops_with_checkpoints_and_resume_finishes_only_what_was_left(tmp_path):
    runs_dir = tmp_path / "runs"
    folder = runs_dir / "sweeps" / "cut"
    proc = subprocess.Popen(
        _agentapp(runs_dir, "sweep", "cartpole", "--algo", "ppo", "--grid",
                  "learning_rate=1e-3,3e-3", "--steps", str(STEPS), "--seed", "1",
                  "--eval-episodes", "2", "--max-concurrent", "1", "--name", "cut"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=tmp_path)
    try:
        second = _second_trial_checkpoint(folder, proc)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "resume with: agentapp sweep --resume cut" in out
    assert out.strip().splitlines()[-1] == str(folder)

    first, stopped = json.loads((folder / "sweep.json").read_text())["trials"]
    assert first["status"] == "done" and first["score"] is not None
    assert stopped["status"] == "stopped" and 0 < stopped["steps"] < STEPS
    assert Path(stopped["run_dir"]) == second
    latest = second / "checkpoints" / "latest.pt"
    import torch

    assert torch.load(latest, weights_only=True)["step"] == stopped["steps"]
    assert json.loads((second / "status.json").read_text())["status"] == "stopped"
    untouched = _digest(Path(first["run_dir"]))

    resumed = subprocess.run(_agentapp(runs_dir, "sweep", "--resume", "cut", "--json"),
                             capture_output=True, text=True, env=_env(), cwd=tmp_path,
                             timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    one, two = report["trials"]
    assert one == first  # kept as it was, not rerun
    assert _digest(Path(first["run_dir"])) == untouched
    assert two["run_dir"] == stopped["run_dir"] and two["status"] == "done"
    assert two["started_at"] == stopped["steps"]  # continued from its checkpoint
    assert two["steps"] == STEPS and two["score_source"] == "final evaluation"
    assert sorted(p.name for p in runs_dir.iterdir() if p.name != "sweeps") == sorted(
        [Path(first["run_dir"]).name, second.name])  # no new run folder
    assert [r["finished"] for r in report["ranking"]] == [1, 1]
