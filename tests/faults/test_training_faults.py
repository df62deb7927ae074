"""Faults while training: a parameter turning NaN, a disk that fills up, a folder that turns
read-only. Each ends the run as failed with one line that says what happened, and leaves the last
good checkpoint exactly as it was (byte for byte), so the run can be resumed from it.

The write failures are injected (this suite runs as any user, and root ignores permissions), at
the point where a save opens its temporary file or writes into it.
"""

from __future__ import annotations

import errno
import json
import tempfile
from pathlib import Path

import pytest
import torch

from agentapp import checkpoints
from agentapp.engine import train
from agentapp.engine.events import CheckpointSaved, RunFinished
from agentapp.engine.plan import RunConfig


def _cartpole_dqn(runs_dir: Path, **kw) -> RunConfig:
    base = dict(game="cartpole", algo="dqn", steps=20_000, seed=1, runs_dir=str(runs_dir),
                save_every=500, eval_every=10**9,
                overrides={"learning_starts": "100", "hidden": "32,32"})
    base.update(kw)
    return RunConfig(**base)


def _saves_then(failure_after: int, error: OSError, monkeypatch) -> list[int]:
    """Make the checkpoint writer fail with *error* from its *failure_after*-th call on."""
    import agentapp.checkpoints as module

    original, calls = module.save, []

    def failing(payload, path, check=True):
        calls.append(1)
        if len(calls) > failure_after:
            # as the real failure does: inside the write, once the temporary file exists
            fd, tmp = tempfile.mkstemp(dir=Path(path).parent, prefix=".fail.", suffix=".tmp")
            import os

            os.close(fd)
            os.unlink(tmp)
            raise error
        return original(payload, path, check)

    monkeypatch.setattr(module, "save", failing)
    return calls


@pytest.mark.parametrize(("error", "says"), [
    (OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
    (PermissionError(errno.EACCES, "Permission denied"), "Permission denied"),
    (OSError(errno.EROFS, "Read-only file system"), "Read-only file system"),
])
def test_a_failing_save_ends_the_run_and_keeps_the_last_checkpoint(runs_dir, monkeypatch,
                                                                   error, says):
    _saves_then(2, error, monkeypatch)  # latest.pt and step_<N>.pt are written, then no more
    events, good = [], None
    for event in train(_cartpole_dqn(runs_dir)):
        events.append(event)
        if isinstance(event, CheckpointSaved) and good is None:
            good = (event.step, Path(event.path).read_bytes())
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.reason == "failed"
    assert says in finished.detail and "latest.pt" in finished.detail
    run = Path(finished.run_dir)
    saved = [e.step for e in events if isinstance(e, CheckpointSaved)]
    assert good is not None and saved == [good[0], good[0]] and finished.step > good[0]
    latest = run / "checkpoints" / "latest.pt"
    assert latest.read_bytes() == good[1]  # the last save that succeeded, byte for byte
    assert checkpoints.load(latest)["step"] == good[0]
    assert not list((run / "checkpoints").glob("*.tmp"))
    assert json.loads((run / "status.json").read_text())["status"] == "failed"


def test_the_cli_says_so_in_one_line_and_exits_3(cli, runs_dir, monkeypatch):
    _saves_then(2, OSError(errno.ENOSPC, "No space left on device"), monkeypatch)
    result = cli("train", "cartpole", "--algo", "dqn", "--steps", "20000", "--save-every", "500",
                 "--set", "learning_starts=100", "--set", "hidden=32,32", "--headless")
    assert result.exit_code == 3
    assert "No space left on device" in result.output
    assert "Traceback" not in result.output


def test_a_parameter_turning_nan_fails_the_run_without_saving_it(runs_dir, monkeypatch):
    from agentapp.engine.algorithms.dqn import DQN

    original, calls = DQN.train_iteration, {"n": 0}

    def poisoned(self, max_steps):
        it = original(self, max_steps)
        calls["n"] += 1
        if calls["n"] == 20:  # after the first checkpoints
            with torch.no_grad():
                self.params[0][0, 0] = float("nan")
        return it

    monkeypatch.setattr(DQN, "train_iteration", poisoned)
    events = list(train(_cartpole_dqn(runs_dir, save_every=100)))
    finished = events[-1]
    assert finished.reason == "failed"
    assert "network parameter 0" in finished.detail
    assert "no longer a finite number" in finished.detail
    latest = checkpoints.load(Path(finished.run_dir) / "checkpoints" / "latest.pt")
    assert latest["step"] < finished.step
    weights = [v for v in latest["algorithm"]["q"].values() if v.is_floating_point()]
    assert all(torch.isfinite(w).all() for w in weights)  # the broken state was never written
