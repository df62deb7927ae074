"""SIGKILL at random moments, twenty times over one run: nothing that was saved is ever lost.

A DQN on CartPole saves every two 256-step updates (``--save-every 512``) with its replay buffer
beside each checkpoint (``save_buffer=true``). Every other kill is aimed: after a random pause it
waits for a save to begin (a temporary file in the checkpoint folder) and kills at once, so most
runs of this test see several kills land inside a save; how many did (by what they left: a
temporary file, a ``latest.pt`` without its ``replay.pt`` or its ``step_<N>.pt``) is counted and
shown in every assertion message. That a kill inside a save is survived is asserted by
``test_kill_mid_save.py``, which kills at each point of a save on purpose; here the schedule is
random and only says how often it happened.

After every kill: ``latest.pt`` and ``replay.pt`` load; ``metrics.csv`` reads without a torn line
(but its last); an unfinished save left no more than its one temporary file (the next session
removes it). The same run is then resumed in place, and the progress lost is at most one save
interval: the step the resumed session starts from (its ``status.json``) is no more than 512
steps behind the furthest the killed one was seen to reach (its metrics rows, its checkpoints).
At the end it is resumed to its budget and finishes normally.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from agentapp import checkpoints
from agentapp.engine.sinks import read_metrics
from tests.conftest import wait_for_file

KILLS = 20
SAVE_EVERY = 512
SETTINGS = ["--set", "save_buffer=true", "--set", "learning_starts=200", "--set", "train_freq=256",
            "--set", "hidden=32,32", "--set", "buffer_size=20000"]


def _train(runs_dir: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "AGENTAPP_RUNS": str(runs_dir), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "agentapp", "train", "cartpole", "--algo", "dqn", "--seed", "0",
         "--save-every", str(SAVE_EVERY), "--eval-every", "1000000000", "--threads", "1",
         "--headless", *SETTINGS, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _identity(path: Path) -> tuple[int, int] | None:
    """Changes when *path* is replaced (every save renames a new file over it)."""
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return found.st_ino, found.st_mtime_ns


def _saved_steps(folder: Path) -> tuple[int, int]:
    """latest.pt's step and replay.pt's, both loaded the way a resume loads them."""
    replay = checkpoints.load_side(folder / "replay.pt")
    assert replay is not None, "replay.pt does not load"
    return int(checkpoints.load(folder / "latest.pt")["step"]), int(replay["step"])


def _reached(run: Path) -> int:
    """The furthest step the run is known to have reached: its metrics rows (written up to a
    quarter of a second late) and its checkpoints (written on the step)."""
    folder = run / "checkpoints"
    rows = [row[0] for row in read_metrics(run / "metrics.csv")]
    files = [int(m.group(1)) for p in folder.iterdir()
             if (m := checkpoints.STEP_FILE.match(p.name))]
    return max([*rows, *files, *_saved_steps(folder)])


def _inside_a_save(folder: Path, latest_before: tuple[int, int] | None) -> bool:
    """Whether the kill evidently landed inside a save: a temporary file is left, or the session
    replaced latest.pt but did not get as far as its replay.pt or its step_<N>.pt copy."""
    if any(folder.glob(".*.tmp")):
        return True
    if _identity(folder / "latest.pt") == latest_before:
        return False
    latest, replay = _saved_steps(folder)
    return replay != latest or not checkpoints.step_path(folder, latest).exists()


def _kill(proc: subprocess.Popen, folder: Path, rng: random.Random, aimed: bool) -> str:
    """SIGKILL the session at a random moment, or (*aimed*) as soon as a save is seen to begin
    after a random pause; its stdout."""
    time.sleep(rng.uniform(0.2, 1.0) if aimed else rng.uniform(0.2, 2.0))
    deadline = time.monotonic() + 10
    while aimed and not any(folder.glob(".*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.001)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGKILL)
    return proc.communicate()[0]


def _start_step(run: Path, since: int, proc: subprocess.Popen) -> int:
    """The step the resumed session starts from, read from the status.json it writes when it
    starts training (before its first save, which is one interval later)."""
    deadline = time.monotonic() + 120
    while (run / "status.json").stat().st_mtime_ns == since:
        assert time.monotonic() < deadline, "the resumed session did not start"
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    return int(json.loads((run / "status.json").read_text())["steps"])


def test_twenty_kills_lose_at_most_one_interval_each_and_the_run_finishes(tmp_path):
    runs_dir, rng = tmp_path / "runs", random.Random(7)
    proc = _train(runs_dir, "--steps", "100000000")
    # the first save is whole once its step_<N>.pt copy (written last) is there
    run = wait_for_file(runs_dir, "*/checkpoints/step_*.pt", proc).parent.parent
    folder, latest_before, inside, afresh, latest_steps = run / "checkpoints", None, 0, 0, []
    for kill in range(KILLS):
        out = _kill(proc, folder, rng, aimed=kill % 2 == 1)
        inside += _inside_a_save(folder, latest_before)
        afresh += "starting it afresh" in out  # this session could not keep the buffer
        said = f"kill {kill}; {inside} of {kill + 1} kills landed inside a save"
        latest, _ = _saved_steps(folder)  # both load: never a half-written file
        lines = (run / "metrics.csv").read_text().splitlines()
        assert all(line.count(",") == 3 for line in lines[:-1]), said  # only the last is torn
        # an unfinished save leaves at most its temporary file (the next session removes it)
        assert len(list(folder.glob(".*.tmp"))) <= 1, said
        latest_steps.append(latest)
        reached = _reached(run)
        if kill == KILLS - 1:
            break
        since, latest_before = (run / "status.json").stat().st_mtime_ns, _identity(
            folder / "latest.pt")
        proc = _train(runs_dir, "--resume", str(run))
        start = _start_step(run, since, proc)
        assert reached - start <= SAVE_EVERY, f"{said}: lost {reached - start} steps"
    said = (f"{inside} of {KILLS} kills landed inside a save; {afresh} resumed sessions started "
            f"their replay buffer afresh")
    assert latest_steps == sorted(latest_steps), said  # latest.pt never went back
    assert latest_steps[-1] > latest_steps[0], said  # and the run got somewhere
    final = subprocess.run(
        [sys.executable, "-m", "agentapp", "train", "cartpole", "--algo", "dqn", "--headless",
         "--resume", str(run), "--steps", str(latest_steps[-1] + 1000), "--threads", "1",
         "--eval-episodes", "1"],
        capture_output=True, text=True, env={**os.environ, "AGENTAPP_RUNS": str(runs_dir)},
        timeout=300)
    assert final.returncode == 0, f"{said}\n{final.stderr}"
    resumed = re.search(r"resuming at ([\d,]+)", final.stdout)
    assert resumed, final.stdout
    start = int(resumed.group(1).replace(",", ""))
    assert reached - start <= SAVE_EVERY, f"{said}: the last kill lost {reached - start} steps"
    latest, replay = _saved_steps(folder)
    assert latest == replay >= latest_steps[-1] + 1000, said
    assert not list(folder.glob(".*.tmp")), said
    assert json.loads((run / "status.json").read_text())["status"] == "done", said
    print(said)  # shown with `pytest -s` or `-rP`: how often the random kills hit a save
