"""SIGKILL at chosen moments of a save, not by chance: every point of a save a kill can land on
leaves a run whose files load and which resumes, keeping its replay buffer where it can.

The random kills of ``test_sigkill.py`` rarely land inside a save, so here the training process
kills itself there. It runs through a small wrapper written to the test's folder (production code
has no hooks for this) that wraps ``torch.save`` and ``os.replace`` in the child and sends SIGKILL
to its own process at one point of one save: half-way through writing the temporary file of
``latest.pt``, with it whole but not yet renamed, half-way through ``replay.pt`` (after
``latest.pt`` was replaced), and just after ``latest.pt`` was renamed, before ``replay.pt`` was
begun. One DQN run on CartPole (replay buffer saved, a save every 128 steps, which land on 64-step
updates) is killed at each point in turn, each session resuming the last, and is finally resumed
to its budget.

A kill between ``latest.pt`` and its ``replay.pt`` leaves ``replay.pt`` one save behind; the
resume then starts from that save's ``step_<N>.pt`` (one save interval back) rather than throw
the buffer away. The buffer's size tells whether it was kept: every step stores
one transition and the buffer holds more than the run ever takes, so a kept buffer holds exactly
as many transitions as the run has taken steps.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from agentapp import checkpoints
from agentapp.errors import UserError

SAVE_EVERY = 128
SETTINGS = ["--set", "save_buffer=true", "--set", "train_freq=64", "--set", "gradient_steps=2",
            "--set", "batch_size=16", "--set", "learning_starts=64", "--set", "hidden=16",
            "--set", "buffer_size=4096"]

WRAPPER = '''
"""Run `agentapp ARGS...` and SIGKILL this process at one moment of the NTH save of TARGET:
"half-written" (its temporary file half written), "written" (whole, not yet renamed) or
"renamed" (just after the rename). Usage: wrapper.py TARGET MOMENT NTH ARGS..."""
import io
import os
import signal
import sys
import tempfile

import torch

TARGET, MOMENT, NTH = sys.argv[1], sys.argv[2], int(sys.argv[3])
state = {"target": "", "saves": 0}
real_mkstemp, real_save, real_replace = tempfile.mkstemp, torch.save, os.replace


def die():
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def mkstemp(*args, **kwargs):
    # a checkpoint's temporary file is named after its target: ".latest.pt.<random>.tmp"
    state["target"] = kwargs.get("prefix", "")[1:-1]
    return real_mkstemp(*args, **kwargs)


def save(obj, f, *args, **kwargs):
    if state["target"] != TARGET:
        return real_save(obj, f, *args, **kwargs)
    state["saves"] += 1
    if state["saves"] != NTH or MOMENT != "half-written":
        return real_save(obj, f, *args, **kwargs)
    whole = io.BytesIO()
    real_save(obj, whole, *args, **kwargs)
    f.write(whole.getvalue()[: len(whole.getvalue()) // 2])
    f.flush()
    os.fsync(f.fileno())
    die()


def replace(src, dst, *args, **kwargs):
    ours = os.path.basename(dst) == TARGET and state["saves"] == NTH
    if ours and MOMENT == "written":
        die()
    real_replace(src, dst, *args, **kwargs)
    if ours and MOMENT == "renamed":
        die()


tempfile.mkstemp, torch.save, os.replace = mkstemp, save, replace
sys.argv = ["agentapp", *sys.argv[4:]]
from agentapp.cli import main  # noqa: E402

main()
'''


def _killed_session(wrapper: Path, runs_dir: Path, kill_at: tuple[str, str, int],
                    *train_args: str) -> str:
    """Train through the wrapper until it kills itself at *kill_at*; its stdout."""
    target, moment, nth = kill_at
    env = {**os.environ, "AGENTAPP_RUNS": str(runs_dir), "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(
        [sys.executable, str(wrapper), target, moment, str(nth), "train", "cartpole",
         "--algo", "dqn", "--headless", "--threads", "1", "--save-every", str(SAVE_EVERY),
         "--eval-every", "1000000000", *train_args],
        capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == -signal.SIGKILL, f"not killed at {kill_at}: {done.stderr}"
    return done.stdout


def _steps(folder: Path) -> tuple[int, int]:
    """The steps of latest.pt and replay.pt, each loaded the way a resume loads it."""
    replay = checkpoints.load_side(folder / "replay.pt")
    assert replay is not None, "replay.pt does not load"
    return int(checkpoints.load(folder / "latest.pt")["step"]), int(replay["step"])


def _buffer_size(side_file: Path) -> int:
    return int(torch.load(side_file, weights_only=True)["state"]["size"])


def _check_unfinished(folder: Path, target: str, step: int, half: bool) -> Path:
    """The one temporary file the killed save of *target* at *step* left: half a file that does
    not load, or a whole one that does, but never renamed over *target*."""
    found = list(folder.glob(f".{target}.*.tmp"))
    assert len(found) == 1, f"expected one unfinished {target}, found {found}"
    if target == "replay.pt":
        side = checkpoints.load_side(found[0])
        assert (side is None) if half else (side is not None and side["step"] == step)
    elif half:
        with pytest.raises(UserError, match="truncated"):
            checkpoints.load(found[0])
    else:
        assert checkpoints.load(found[0])["step"] == step
    return found[0]


# (the kill: target, moment, which save of the session), the step the session starts from,
# (latest.pt's step, replay.pt's step) after the kill, and the save it interrupted, if unfinished
STAGES = [
    (("latest.pt", "half-written", 2), 0, (128, 128), ("latest.pt", 256)),
    (("latest.pt", "written", 1), 128, (128, 128), ("latest.pt", 256)),
    (("replay.pt", "half-written", 1), 128, (256, 128), ("replay.pt", 256)),
    # latest.pt is ahead of replay.pt: the session starts from step_128.pt and its replay file
    (("latest.pt", "renamed", 2), 128, (384, 256), None),
]


def test_a_kill_at_each_point_of_a_save_leaves_a_run_that_loads_and_resumes(tmp_path, cli):
    wrapper, runs_dir = tmp_path / "kill_in_save.py", tmp_path / "runs"
    wrapper.write_text(WRAPPER)
    args: tuple[str, ...] = ("--seed", "0", "--steps", "100000", *SETTINGS)
    run, leftover, latest = None, None, 0
    for kill_at, start, steps, unfinished in STAGES:
        out = _killed_session(wrapper, runs_dir, kill_at, *args)
        run = run or next(runs_dir.iterdir())
        args, folder = ("--resume", str(run)), run / "checkpoints"
        # it started from latest.pt, or said why not
        assert (f"resuming from step_{start}.pt" in out) == (start != latest), out
        assert "starting it afresh" not in out, out
        assert _steps(folder) == steps, kill_at  # both load, at the steps of the last saves
        latest = steps[0]
        if leftover is not None:  # the session removed what the last kill left
            assert not leftover.exists(), leftover
        leftover = None
        if unfinished is not None:  # the kill landed inside the write
            leftover = _check_unfinished(folder, *unfinished, half=kill_at[1] == "half-written")
        for side in folder.glob("step_*.replay.pt"):  # no session lost its replay buffer
            assert _buffer_size(side) == int(side.name.split(".")[0][5:]), side
    assert run is not None
    result = cli("train", "cartpole", "--algo", "dqn", "--headless", "--threads", "1",
                 "--resume", str(run), "--steps", "640", "--eval-episodes", "1",
                 "--runs-dir", str(runs_dir))
    assert result.exit_code == 0, result.output
    assert "resuming from step_256.pt" in result.output  # latest.pt is at 384, replay.pt at 256
    assert "starting it afresh" not in result.output
    folder = run / "checkpoints"
    assert _steps(folder) == (640, 640)
    assert _buffer_size(folder / "replay.pt") == 640  # every transition since step 0 kept
    assert not list(folder.glob(".*.tmp")) and not (run / "lock").exists()
    assert '"done"' in (run / "status.json").read_text()
