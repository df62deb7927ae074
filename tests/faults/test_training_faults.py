"""Faults while training: a parameter turning NaN, a disk that fills up, a folder that turns
read-only. Each ends the run as failed with one line that says what happened, and leaves the last
good checkpoint exactly as it was (byte for byte), so the run can be resumed from it. Whatever file
meets the fault first (a checkpoint, metrics.csv, a step file's copy, the pruning of old ones) the
run ends the same way: exit 3, one line on stderr naming the file and the system's reason. Before
training begins (the lock file, config.json) it is refused like bad input: exit 2, nothing changed.

The write failures are injected (this suite runs as any user, and root ignores permissions), at
the OS call that fails on a full disk or a read-only folder; metrics.csv is written to /dev/full,
which answers every write with ENOSPC as a full disk does.
"""

from __future__ import annotations

import errno
import json
import os
import queue
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from agentapp import checkpoints
from agentapp.engine import train
from agentapp.engine.events import CheckpointSaved, RunFinished
from agentapp.engine.plan import RunConfig
from tests.conftest import refused


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
    _failed_in_one_line(result, "latest.pt in ", "No space left on device")


def test_a_save_failing_inside_its_write_leaves_no_temporary_file(runs_dir, monkeypatch):
    """The real cleanup of checkpoints.save: the temporary file is whole when fsync reports the
    full disk; it is removed, and latest.pt keeps the previous save byte for byte."""
    real_fsync, calls = os.fsync, []

    def fsync(fd):
        calls.append(fd)
        if len(calls) > 2:  # latest.pt and step_<N>.pt are saved, the next latest.pt is not
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    events, good = [], None
    for event in train(_cartpole_dqn(runs_dir)):
        events.append(event)
        if isinstance(event, CheckpointSaved) and good is None:
            good = Path(event.path).read_bytes()
    finished, folder = events[-1], Path(events[-1].run_dir) / "checkpoints"
    assert finished.reason == "failed" and "cannot save latest.pt" in finished.detail
    assert os.strerror(errno.ENOSPC) in finished.detail and len(calls) == 3
    assert sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp")) == []
    assert good is not None and (folder / "latest.pt").read_bytes() == good


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
    assert f"at step {finished.step}" in finished.detail  # says when it broke
    latest = checkpoints.load(Path(finished.run_dir) / "checkpoints" / "latest.pt")
    assert latest["step"] < finished.step
    weights = [v for v in latest["algorithm"]["q"].values() if v.is_floating_point()]
    assert all(torch.isfinite(w).all() for w in weights)  # the broken state was never written


def test_a_q_table_turning_nan_fails_the_run_without_saving_it(runs_dir, monkeypatch):
    from agentapp.engine.algorithms.q_learning import QLearning

    original, calls = QLearning.train_iteration, {"n": 0}

    def poisoned(self, max_steps):
        it = original(self, max_steps)
        if self.steps >= 1000 and not calls["n"]:  # after the first checkpoints
            calls["n"] = 1
            self.q[-1, 0] = float("nan")  # the goal's row: terminal, never learned from
        return it

    monkeypatch.setattr(QLearning, "train_iteration", poisoned)
    config = RunConfig(game="gridworld:cliff", algo="q-learning", steps=20_000, seed=0,
                       save_every=200, eval_every=10**9, runs_dir=str(runs_dir))
    finished = list(train(config))[-1]
    assert finished.reason == "failed", finished
    assert finished.detail == f"the Q-table is no longer a finite number at step {finished.step}"
    latest = checkpoints.load(Path(finished.run_dir) / "checkpoints" / "latest.pt")
    assert 0 < latest["step"] < finished.step
    assert torch.isfinite(latest["algorithm"]["q"]).all()  # the broken table was never written


# -- every other file a training session writes --------------------------------------------------

DQN = ("train", "cartpole", "--algo", "dqn", "--set", "learning_starts=100", "--set",
       "hidden=32,32", "--eval-every", "1000000000", "--headless")
NO_SPACE = os.strerror(errno.ENOSPC)


def _failed_in_one_line(result, *says: str) -> str:
    """Check that training failed as a full disk must end it: exit 3, one line on stderr that
    contains *says*, no traceback; return the line."""
    assert result.exit_code == 3, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert all(text in lines[0] for text in says), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A short real DQN run on CartPole with its final checkpoint (a second or two)."""
    from agentapp.cli import app

    runs = tmp_path_factory.mktemp("trained") / "runs"
    result = CliRunner().invoke(app, [*DQN, "--steps", "300", "--seed", "1",
                                      "--runs-dir", str(runs)])
    assert result.exit_code == 0, result.output
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def run_copy(trained, runs_dir) -> Path:
    """A copy of the trained run in this test's runs folder, to resume in place."""
    copy = runs_dir / trained.name
    shutil.copytree(trained, copy)
    return copy


def _metrics_csv_on_a_full_disk(monkeypatch) -> None:
    """metrics.csv opened for writing lands on /dev/full: the real flush fails with ENOSPC."""
    real_open = Path.open

    def open_(self, mode="r", *args, **kwargs):
        if self.name == "metrics.csv" and mode in ("w", "a"):
            return real_open(Path("/dev/full"), mode, *args, **kwargs)
        return real_open(self, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_disk_under_metrics_csv_fails_the_run_and_keeps_its_checkpoint(
        cli, run_copy, monkeypatch):
    latest = run_copy / "checkpoints" / "latest.pt"
    step = checkpoints.load(latest)["step"]
    _metrics_csv_on_a_full_disk(monkeypatch)
    result = cli(*DQN, "--steps", "5000", "--save-every", "100000", "--resume", str(run_copy))
    line = _failed_in_one_line(result, f"cannot write {run_copy / 'metrics.csv'}: {NO_SPACE}")
    assert line.startswith("agentapp: training failed: ")
    status = json.loads((run_copy / "status.json").read_text())
    assert status["status"] == "failed" and step < status["steps"] < 5000  # it stopped early
    assert "metrics.csv" in status["detail"]
    # the model was sound and the checkpoints' disk still had room: the stop saved it
    assert checkpoints.load(latest)["step"] == status["steps"]
    assert "resume with: agentapp train cartpole --resume" in result.stdout
    assert "training failed: ;" not in result.stdout  # the loop's message got the reason too


def test_a_write_failing_as_the_run_closes_marks_the_finished_run_failed(cli, runs_dir,
                                                                         monkeypatch):
    """The last rows of metrics.csv cannot be written when the run closes, after status.json
    already said done: exit 3, and status.json now says failed, with the same reason."""
    from agentapp.engine.sinks import MetricsCsv

    real_close = MetricsCsv.close

    def close(self):
        if self.handle is not None:
            real_close(self)
            raise OSError(errno.ENOSPC, NO_SPACE, str(self.path))

    monkeypatch.setattr(MetricsCsv, "close", close)
    result = cli("train", "gridworld:cliff", "--algo", "q-learning", "--steps", "2000",
                 "--seed", "0", "--headless")
    _failed_in_one_line(result, "metrics.csv", NO_SPACE)
    (run,) = runs_dir.iterdir()
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "failed" and "metrics.csv" in status["detail"], status
    assert status["steps"] == 2000
    assert checkpoints.load(run / "checkpoints" / "latest.pt")["step"] == 2000


def _full_disk_for(name: str, monkeypatch) -> None:
    """Creating *name* (or the temporary file it is written through) fails with ENOSPC."""
    real_open = os.open

    def open_(path, flags, mode=0o777, *, dir_fd=None):
        base = os.path.basename(os.fspath(path))
        if base == name or base.startswith(f".{name}."):
            raise OSError(errno.ENOSPC, NO_SPACE, os.fspath(path))
        return real_open(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", open_)


@pytest.mark.parametrize("name", ["lock", "config.json"])
def test_a_run_folder_that_cannot_be_written_is_refused_before_training(
        cli, run_copy, monkeypatch, name):
    _full_disk_for(name, monkeypatch)
    refused(cli, run_copy, *DQN, "--steps", "5000", "--resume", str(run_copy),
            says=f"cannot write {run_copy / name}: {NO_SPACE}")  # exit 2, nothing changed
    assert checkpoints.load(run_copy / "checkpoints" / "latest.pt")["step"] > 0


def _step_copies_fail(monkeypatch) -> None:
    """A folder without hard links on a disk that fills up while a step file's replay copy is
    being written: part of the copy is on disk when ENOSPC comes."""
    real_link, real_copy = os.link, shutil.copyfile

    def link(source, target, *args, **kwargs):
        if not str(target).endswith(".replay.pt.tmp"):
            return real_link(source, target, *args, **kwargs)
        raise OSError(errno.EPERM, os.strerror(errno.EPERM), source, None, target)

    def copyfile(source, target, *args, **kwargs):
        if not str(target).endswith(".replay.pt.tmp"):
            return real_copy(source, target, *args, **kwargs)
        Path(target).write_bytes(Path(source).read_bytes()[:100])
        raise OSError(errno.ENOSPC, NO_SPACE)

    monkeypatch.setattr(os, "link", link)
    monkeypatch.setattr(shutil, "copyfile", copyfile)


def _old_steps_cannot_be_deleted(monkeypatch) -> None:
    real_unlink = os.unlink

    def unlink(path, *args, **kwargs):
        if re.fullmatch(r"step_\d+\.pt", os.path.basename(os.fspath(path))):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)


@pytest.mark.parametrize(("fault", "options", "says"), [
    (_step_copies_fail, ("--set", "save_buffer=true", "--set", "buffer_size=2000"),
     r"cannot write \S+/checkpoints/step_(\d+)\.replay\.pt: " + NO_SPACE),
    (_old_steps_cannot_be_deleted, ("--keep", "1"),
     r"cannot delete \S+/checkpoints/step_\d+\.pt: " + os.strerror(errno.EROFS)),
], ids=["step-file-copy", "pruning"])
def test_a_step_file_fault_fails_the_run_in_one_line(cli, runs_dir, monkeypatch, fault, options,
                                                     says):
    fault(monkeypatch)
    result = cli(*DQN, "--steps", "20000", "--save-every", "200", *options)
    line = _failed_in_one_line(result)
    assert re.search(says, line), line
    run = Path(result.stdout.strip().splitlines()[-1])
    folder = run / "checkpoints"
    step = checkpoints.load(folder / "latest.pt")["step"]  # whole: saved before the fault
    assert (folder / f"step_{step}.pt").is_file() and step < 20000
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert json.loads((run / "status.json").read_text())["status"] == "failed"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_the_dashboard_runner_stops_when_metrics_csv_cannot_be_written(runs_dir, monkeypatch):
    """The TUI's runners feed the same sinks: the run ends as failed, with the reason, and the
    runner reports no crash."""
    from agentapp.tui.runner import EXITED, Failure, ThreadRunner

    _metrics_csv_on_a_full_disk(monkeypatch)
    items: queue.Queue = queue.Queue()
    runner = ThreadRunner(RunConfig(game="gridworld:cliff", algo="q-learning", steps=10**7,
                                    seed=1, runs_dir=str(runs_dir)))
    runner.start(items.put)
    seen = [items.get(timeout=60)]
    while seen[-1] != EXITED:
        if len(seen) == 5000:  # not stopped by the fault: end it, so the test fails soon
            runner.stop()
        seen.append(items.get(timeout=60))
    finished = next(x for x in seen if isinstance(x, RunFinished))
    assert finished.reason == "failed" and finished.step < 10**7
    assert finished.detail == f"cannot write {Path(finished.run_dir) / 'metrics.csv'}: {NO_SPACE}"
    assert not [x for x in seen if isinstance(x, Failure)]
    runner.join(5)


# -- a run folder whose JSON files are damaged ----------------------------------------------


@pytest.mark.parametrize(("files", "says"), [
    ({"config.json": '{"game": "x",\n "algo": }'},
     "config.json is not valid JSON (line 2, column 10: Expecting value)"),
    ({"config.json": "[1, 2]"}, "config.json holds a list, not a JSON object"),
    ({"config.json": '{"game": "cartpole"}', "status.json": "{"},
     "status.json is not valid JSON (line 1, column 2: "),
    ({"config.json": '{"game": "cartpole", "created": "yesterday"}',
      "status.json": '{"status": "done", "steps": "many"}'},
     "status.json: steps is 'many', not a number (and 1 more)"),
], ids=["bad-json", "not-an-object", "bad-status", "wrong-types"])
def test_a_run_with_damaged_json_is_listed_with_its_problem(cli, runs_dir, files, says):
    run = runs_dir / "damaged"
    run.mkdir(parents=True)
    for name, text in files.items():
        (run / name).write_text(text, encoding="utf-8")
    listed = cli("runs", "--json")
    assert listed.exit_code == 0 and not listed.stderr, listed.output
    [info] = json.loads(listed.stdout)
    assert info["name"] == "damaged" and info["status"].startswith(f"damaged: {says}"), info
    table = cli("runs")
    assert table.exit_code == 0 and "damaged" in table.stdout and "Traceback" not in table.output
