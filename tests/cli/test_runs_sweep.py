"""``agentapp runs`` with sweep trials, and the sweeps folder never taken for a run.

The trials are real (tiny) Q-learning runs on the cliff, trained the way ``agentapp sweep`` runs
each trial: an ordinary training run whose ``RunConfig.sweep`` names the sweep. Beside them the
runs folder holds ``sweeps/<name>/sweep.json``, the sweep's own state, which is not a run: the
listing, ``runs``, ``--resume last`` and ``eval last`` must all pass over it. No Ray is needed:
only the files a sweep leaves are read here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agentapp import runs
from agentapp.engine.plan import RunConfig
from tests.conftest import refused

SWEEP = "cliff-alpha"


def train_trial(root: Path, sweep: str | None, seed: int, alpha: str = "0.5",
                steps: int = 300) -> Path:
    """A real training run in *root*, recorded as the CLI records it, as a trial of *sweep*."""
    from agentapp.engine import loop
    from agentapp.engine.events import RunStarted
    from agentapp.engine.plan import prepare
    from agentapp.engine.sinks import default_sinks

    sinks, run_dir = default_sinks(), None
    plan = prepare(RunConfig(game="gridworld:cliff", algo="q-learning", steps=steps, seed=seed,
                             overrides={"alpha": alpha}, runs_dir=str(root), sweep=sweep))
    for event in loop.train(plan):
        for sink in sinks:
            sink(event)
        if isinstance(event, RunStarted):
            run_dir = Path(event.run_dir)
    assert run_dir is not None
    return run_dir


def write_sweep_state(root: Path, name: str = SWEEP) -> Path:
    """What a sweep keeps beside its trials (its exact content is the sweep's business)."""
    folder = root / runs.SWEEPS / name
    folder.mkdir(parents=True)
    runs.write_json(folder / "sweep.json", {"name": name, "trials": [], "status": "running"})
    return folder


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A run of its own, then two trials of one sweep, then the sweep's state folder (the
    newest folder of all, so anything that picks "the newest" would pick it first)."""
    return make_runs_with_a_sweep(tmp_path_factory.mktemp("sweep-template") / "runs")


def make_runs_with_a_sweep(root: Path) -> Path:
    """*root* with a run of its own, two trials of sweep SWEEP and the sweep's state folder."""
    train_trial(root, None, seed=0)
    train_trial(root, SWEEP, seed=1, alpha="0.1")
    train_trial(root, SWEEP, seed=1, alpha="0.5")
    write_sweep_state(root)
    return root


@pytest.fixture
def root(template, tmp_path, monkeypatch) -> Path:
    copy = tmp_path / "runs"
    shutil.copytree(template, copy)
    monkeypatch.setenv("AGENTAPP_RUNS", str(copy))
    monkeypatch.setenv("COLUMNS", "160")  # a wide console: rows are not folded
    monkeypatch.chdir(tmp_path)
    return copy


def test_runs_json_says_which_sweep_each_run_belongs_to(cli, root):
    result = cli("runs", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert len(listed) == 3  # the sweeps folder is not among them
    assert all("sweep" in row for row in listed)
    assert [row["sweep"] for row in listed] == [None, SWEEP, SWEEP]  # oldest first
    assert not any(Path(row["path"]).name == runs.SWEEPS for row in listed)


def test_runs_table_has_a_sweep_column_naming_the_trials_sweep(cli, root):
    result = cli("runs")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any("sweep" in line and "best eval" in line for line in lines)  # the header
    infos = runs.list_runs(root)
    for info in infos:
        row = next(line for line in lines if info.name in line)
        assert (SWEEP in row) == (info.sweep == SWEEP), row
    assert not any(line.strip().startswith(runs.SWEEPS) for line in lines)


def test_without_sweeps_the_table_is_as_before(cli, root):
    for info in runs.list_runs(root):
        if info.sweep:
            shutil.rmtree(info.path)
    shutil.rmtree(root / runs.SWEEPS)
    result = cli("runs")
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if "best eval" in line)
    assert "sweep" not in header
    assert len(json.loads(cli("runs", "--json").stdout)) == 1


def test_a_folder_of_nothing_but_sweeps_has_no_runs(cli, tmp_path, monkeypatch):
    root = tmp_path / "only-sweeps"
    write_sweep_state(root)
    # even a stray config.json in the sweeps folder does not make it a run
    runs.write_json(root / runs.SWEEPS / runs.CONFIG, {"game": "cartpole", "algo": "ppo"})
    monkeypatch.setenv("AGENTAPP_RUNS", str(root))
    assert runs.list_runs(root) == []
    result = cli("runs")
    assert result.exit_code == 0 and "no runs in" in result.stdout
    assert json.loads(cli("runs", "--json").stdout) == []


def test_eval_last_and_resume_last_pass_over_the_sweeps_folder(cli, root):
    newest = runs.list_runs(root)[-1]
    result = cli("eval", "last", "--episodes", "1", "--json")
    assert result.exit_code == 0, result.output
    assert Path(json.loads(result.stdout)["checkpoint"]).parent.parent == newest.path
    result = cli("train", "gridworld:cliff", "--algo", "q-learning", "--resume", "last",
                 "--steps", "400", "--headless")
    assert result.exit_code == 0, result.output + result.stderr
    assert Path(result.stdout.strip().splitlines()[-1]) == newest.path  # resumed in place
    assert runs.run_info(newest.path).steps == 400


def test_the_sweeps_folder_named_as_a_run_is_bad_input(cli, root):
    refused(cli, root, "eval", runs.SWEEPS, says="not a run folder")
    refused(cli, root, "eval", f"{runs.SWEEPS}/{SWEEP}", says="not a run folder")
