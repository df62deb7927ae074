"""``agentapp sweep`` on a real local Ray: bad input refused before anything starts, a real
2-trial sweep on CartPole, and the install hint when Ray is missing."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import refused

ray = pytest.importorskip("ray")

SWEEP = ["sweep", "cartpole", "--algo", "ppo", "--steps", "2048", "--eval-episodes", "3"]



@pytest.mark.parametrize(("args", "says"), [
    (["--grid", "learning_rat=1e-3,3e-3"], "--grid learning_rat: unknown setting (did you "
                                           "mean: learning_rate"),
    (["--grid", "learning_rate=1e-3,fast"], "--grid learning_rate=fast: expected float"),
    (["--grid", "learning_rate=1e-3,-1"], "--grid learning_rate=-1: must be"),
    (["--grid", "learning_rate="], "every value must be non-empty"),
    (["--grid", "gamma=0.9", "--set", "gamma=0.99"], "also given with --set"),
    (["--set", "gama=0.9"], "--set gama: unknown setting (did you mean: gamma"),
    (["--seeds", "0"], "--seeds 0: must be at least 1"),
    (["--cpus-per-run", "0"], "--cpus-per-run 0: must be more than 0"),
    (["--name", "a/b"], "--name"),
    (["--games", "cartpol"], "unknown game 'cartpol'"),
])
def test_bad_input_is_refused_before_anything_is_written(cli, runs_dir, args, says):
    refused(cli, runs_dir.parent, *SWEEP, *args, says=says)
    assert not runs_dir.exists()


def test_resume_refuses_a_new_definition_and_unknown_sweeps(cli, runs_dir):
    refused(cli, runs_dir.parent, "sweep", "--resume", "nope", says="no sweep of that name")
    refused(cli, runs_dir.parent, "sweep", "cartpole", "--resume", "nope",
            says="leave out GAME")


def test_a_taken_name_or_a_running_sweep_is_refused(cli, runs_dir):
    from agentapp.sweep import state

    runs_dir.mkdir()
    sweep = state.create(runs_dir, "taken", "taken", {"algo": "ppo"},
                         [state.Trial(1, "cartpole", {}, 0)])
    refused(cli, runs_dir, *SWEEP, "--name", "taken", says="--name taken: a sweep of that name")
    (sweep.folder / "lock").write_text("1")  # a live process (init) holds the sweep
    refused(cli, runs_dir, "sweep", "--resume", "taken", says="running in another process")


def test_a_two_trial_sweep_trains_two_normal_runs_and_ranks_them(cli, runs_dir, local_ray):
    result = cli(*SWEEP, "--grid", "learning_rate=1e-3,3e-3", "--seed", "7", "--name", "lr")
    assert result.exit_code == 0, result.output
    folder = runs_dir / "sweeps" / "lr"
    assert result.stdout.strip().splitlines()[-1] == str(folder)
    assert "final evaluation" in result.stdout

    saved = json.loads((folder / "sweep.json").read_text())
    assert saved["spec"]["base_seed"] == 7 and saved["spec"]["algo"] == "ppo"
    trials = saved["trials"]
    assert [t["params"] for t in trials] == [{"learning_rate": "1e-3"},
                                             {"learning_rate": "3e-3"}]
    for trial in trials:  # each trial is a normal run folder, done, with its final score
        assert trial["status"] == "done" and trial["seed"] == 7
        assert trial["steps"] == 2048 and trial["score_source"] == "final evaluation"
        run = Path(trial["run_dir"])
        assert run.parent == runs_dir.resolve()
        config = json.loads((run / "config.json").read_text())
        assert config["sweep"] == "lr" and config["seed"] == 7
        assert config["hyperparameters"]["learning_rate"] == float(trial["params"]
                                                                   ["learning_rate"])
        status = json.loads((run / "status.json").read_text())
        assert status["status"] == "done" and status["last_eval"] == trial["score"]
        assert (run / "checkpoints" / "latest.pt").is_file() and (run / "metrics.csv").is_file()

    with (folder / "report.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["rank"] for r in rows] == ["1", "2"]
    scores = {t["params"]["learning_rate"]: t["score"] for t in trials}
    assert [float(r["mean"]) for r in rows] == sorted(scores.values(), reverse=True)
    best = max(scores, key=scores.get)
    assert rows[0]["learning_rate"] == best and rows[0]["finished"] == "1"
    assert float(rows[0]["std"]) == 0.0 and rows[0]["seeds"] == "1"

    again = cli("sweep", "--resume", "lr", "--json")  # all done: the report, nothing rerun
    assert again.exit_code == 0, again.output
    data = json.loads(again.stdout)
    assert data["counts"] == {"done": 2} and data["ranking"][0]["params_text"] == (
        f"learning_rate={best}")
    assert json.loads((folder / "sweep.json").read_text())["trials"] == trials


def test_a_failing_trial_is_recorded_and_the_others_go_on(cli, runs_dir, local_ray):
    """Trial 1's run folder is in use by another live trainer (this process): that trial
    fails with the reason, trial 2 trains, and the sweep exits 3."""
    from agentapp import runs
    from agentapp.sweep import state

    runs_dir.mkdir()
    busy = runs.new_run_dir(runs_dir, "cartpole", "ppo")
    (busy / runs.LOCK).write_text(str(os.getpid()))
    spec = {"algo": "ppo", "games": ["cartpole"], "grid": {"learning_rate": ["1e-3", "3e-3"]},
            "fixed": {}, "seeds": 1, "base_seed": 0, "steps": 512, "envs": None,
            "eval_episodes": 2, "runs_dir": str(runs_dir.resolve()), "cpus_per_run": None,
            "gpus_per_run": 0.0, "max_concurrent": None, "address": None}
    trials = [state.Trial(1, "cartpole", {"learning_rate": "1e-3"}, 0, run_dir=str(busy)),
              state.Trial(2, "cartpole", {"learning_rate": "3e-3"}, 0)]
    state.create(runs_dir, "busy", "busy", spec, trials)

    result = cli("sweep", "--resume", "busy")
    assert result.exit_code == 3, result.output
    failed, done = json.loads((runs_dir / "sweeps" / "busy" / "sweep.json").read_text())[
        "trials"]
    assert failed["status"] == "failed" and "in use by another trainer" in failed["error"]
    assert done["status"] == "done" and done["score"] is not None
    assert f"trial 1 (cartpole learning_rate=1e-3 seed 0) failed: {failed['error']}" in (
        result.stdout)
    assert "resume with: agentapp sweep --resume busy" in result.stdout


def _kill_when_saved(folder: Path, killed: list[int]) -> None:
    """Kill trial 1's Ray worker (its run's lock holds the pid) once it saved a step."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not killed:
        saved = (folder / "sweep.json").is_file() and json.loads(
            (folder / "sweep.json").read_text())
        run = saved and saved["trials"][0]["run_dir"] and Path(saved["trials"][0]["run_dir"])
        if run and next((run / "checkpoints").glob("step_*.pt"), None) and (
                run / "lock").is_file():
            killed.append(int((run / "lock").read_text()))
            os.kill(killed[0], signal.SIGKILL)
        time.sleep(0.02)


def test_a_lost_worker_fails_its_trial_only_and_resume_continues_it(cli, runs_dir, local_ray):
    folder = runs_dir / "sweeps" / "lost"
    killed: list[int] = []
    killer = threading.Thread(target=_kill_when_saved, args=(folder, killed))
    killer.start()
    try:
        result = cli("sweep", "cartpole", "--algo", "ppo", "--steps", "4096", "--grid",
                     "learning_rate=1e-3,3e-3", "--eval-episodes", "2", "--name", "lost")
    finally:
        killer.join()
    assert killed and result.exit_code == 3, result.output
    lost, other = json.loads((folder / "sweep.json").read_text())["trials"]
    assert lost["status"] == "failed" and lost["error"]
    assert other["status"] == "done"
    checkpoint = torch.load(Path(lost["run_dir"]) / "checkpoints" / "latest.pt",
                            weights_only=True)

    again = cli("sweep", "--resume", "lost", "--json")
    assert again.exit_code == 0, again.output
    lost_after, other_after = json.loads(again.stdout)["trials"]
    assert other_after == other
    assert lost_after["status"] == "done" and lost_after["run_dir"] == lost["run_dir"]
    assert lost_after["started_at"] == checkpoint["step"] > 0


def test_without_ray_the_command_says_how_to_install_it(tmp_path):
    code = ("import sys\nsys.modules['ray'] = None\nsys.argv = ['agentapp', 'sweep', "
            "'cartpole', '--grid', 'learning_rate=1e-3,3e-3']\n"
            "from agentapp.cli import main\nmain()")
    env = {**os.environ, "AGENTAPP_RUNS": str(tmp_path / "runs")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().splitlines() == [
        "agentapp: agentapp sweep needs Ray, an optional extra: pip install 'agentapp[ray]'"]
    assert not (tmp_path / "runs").exists()
