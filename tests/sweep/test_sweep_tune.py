"""``agentapp sweep --asha`` and ``--search`` on a real local Ray Tune: a bad trial stopped early
with a whole checkpoint and left out of the ranking, a random search drawing its samples, and the
options refused (a missing search library with its pip line) before anything is written."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest
import torch

from agentapp.sweep.tune_options import SEARCHERS
from tests.conftest import refused

ray = pytest.importorskip("ray")

SWEEP = ["sweep", "cartpole", "--algo", "ppo", "--eval-episodes", "2"]



@pytest.mark.parametrize(("args", "says"), [
    (["--samples", "3"], "--samples: only with --search"),
    (["--asha-grace", "100"], "--asha-grace: only with --asha"),
    (["--asha", "--games", "acrobot"], "--asha compares returns"),
    (["--search", "random"], "--search random: needs --grid values"),
    (["--search", "bayesopt", "--grid", "gamma=0.9,0.99"], "--search bayesopt searches "
                                                           "continuous ranges"),
    (["--search", "grid-of-dreams", "--grid", "gamma=0.9,0.99"], "unknown search algorithm"),
    (["--search", "random", "--grid", "gamma=0.9,0.99", "--samples", "0"],
     "--samples 0: must be at least 1"),
    (["--asha", "--steps", "1000", "--asha-grace", "1000"], "--asha-grace 1000: must be at "
                                                            "least 1 and below the budget"),
])
def test_bad_tune_options_are_refused_before_anything_is_written(cli, runs_dir, args, says):
    refused(cli, runs_dir.parent, *SWEEP, *args, says=says)
    assert not runs_dir.exists()


@pytest.mark.skipif(importlib.util.find_spec("optuna") is not None,
                    reason="optuna is installed here")
def test_a_missing_search_library_says_what_to_install(cli, runs_dir):
    refused(cli, runs_dir.parent, *SWEEP, "--grid", "learning_rate=1e-3,3e-3", "--search",
            "optuna", says="--search optuna needs optuna: pip install optuna")
    assert not runs_dir.exists()


def test_resume_refuses_tune_options(cli, runs_dir):
    refused(cli, runs_dir.parent, "sweep", "--resume", "x", "--asha", says="leave out --asha")


def test_asha_stops_the_bad_trial_early_with_a_whole_checkpoint(cli, runs_dir, local_ray,
                                                                tmp_path, monkeypatch):
    """One trial at a time: the good learning rate reaches the rung (2,048 steps) first, so
    the hopeless one (1e-6: it stays a random policy) is below the cutoff there and stops."""
    monkeypatch.setenv("HOME", str(tmp_path))  # Tune must not write to ~/ray_results
    result = cli(*SWEEP, "--steps", "6144", "--grid", "learning_rate=3e-3,1e-6", "--seed",
                 "3", "--max-concurrent", "1", "--asha", "--asha-grace", "2048", "--name", "a")
    assert result.exit_code == 0, result.output
    folder = runs_dir / "sweeps" / "a"
    saved = json.loads((folder / "sweep.json").read_text())
    assert saved["spec"]["asha"] == {"grace": 2048, "max_t": 6144, "reduction_factor": 3,
                                     "rungs": [2048]}
    good, bad = saved["trials"]
    assert good["status"] == "done" and good["steps"] == 6144
    assert good["score_source"] == "final evaluation"

    assert bad["status"] == "stopped early" and 2048 <= bad["steps"] < 6144
    assert bad["score"] == bad["recent_mean"] and bad["score_source"] == "last 10 episodes"
    run = Path(bad["run_dir"])  # a normal run folder, resumable where it stopped
    assert json.loads((run / "config.json").read_text())["sweep"] == "a"
    assert json.loads((run / "status.json").read_text())["status"] == "stopped"
    assert torch.load(run / "checkpoints" / "latest.pt", weights_only=True)["step"] == (
        bad["steps"])
    assert (run / "metrics.csv").is_file()

    with (folder / "report.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["learning_rate"], r["rank"], r["finished"], r["stopped early"]) for r in rows] == [
        ("3e-3", "1", "1", "0"), ("1e-6", "", "0", "1")]  # never ranked on a partial budget
    assert "trial 2 (cartpole learning_rate=1e-6 seed 3) stopped early by ASHA" in result.stdout
    assert "resume with" not in result.stdout
    assert next((folder / "tune").iterdir()).is_dir()  # Tune's folder is in the sweep's
    assert not (tmp_path / "ray_results").exists()
    assert "Configuration for experiment" not in result.output  # Tune printed nothing

    again = cli("sweep", "--resume", "a", "--json")  # nothing left: the report only
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["counts"] == {"done": 1, "stopped early": 1}


def _library(name: str) -> object:
    """*name* as a test parameter, skipped where its search library is not installed."""
    module, _pip = SEARCHERS[name] or (None, None)
    missing = module is not None and importlib.util.find_spec(module) is None
    return pytest.param(name, marks=pytest.mark.skipif(missing, reason=f"{module} not installed"))


@pytest.mark.slow  # about 25 s: three Tune trials
@pytest.mark.parametrize("search", [_library("random"), _library("optuna"), _library("hyperopt")])
def test_a_search_draws_its_samples_each_with_its_own_seed(cli, runs_dir, local_ray, search):
    result = cli(*SWEEP, "--steps", "512", "--grid", "learning_rate=1e-3,3e-3", "--grid",
                 "gamma=0.9,0.99", "--seed", "40", "--search", search, "--samples", "3",
                 "--cpus-per-run", "0.5", "--name", "r", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    trials = report["trials"]
    assert report["spec"]["search"] == search and report["spec"]["samples"] == 3
    assert [t["id"] for t in trials] == [1, 2, 3]
    assert sorted(t["seed"] for t in trials) == [40, 41, 42]
    for trial in trials:
        assert trial["status"] == "done" and trial["steps"] == 512
        assert trial["params"]["learning_rate"] in ("1e-3", "3e-3")
        assert trial["params"]["gamma"] in ("0.9", "0.99")
        config = json.loads((Path(trial["run_dir"]) / "config.json").read_text())
        assert config["seed"] == trial["seed"] and config["sweep"] == "r"
        assert config["hyperparameters"]["gamma"] == float(trial["params"]["gamma"])
    assert sum(r["finished"] for r in report["ranking"]) == 3
    assert f"3 trials of ppo · drawn by {search} search" in result.stderr
