"""Sweep trials in the runs screen and a run's detail, and both following runs under way.

The run folders come from real (tiny) training runs, made as ``agentapp sweep`` makes its trials
(see ``tests/cli/test_runs_sweep.py``); a run "under way" is a copy of one whose ``status.json``
says running and whose lock is held by a live process, and the tests advance it by rewriting
its status file as a trainer does. The screens find the changes by themselves.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import DataTable

from agentapp import runs
from agentapp.tui.app import AgentApp
from agentapp.tui.screens import run_detail as detail_screen
from agentapp.tui.screens import runs as runs_screen
from agentapp.tui.screens.run_detail import RunDetailScreen, trial_settings
from agentapp.tui.screens.runs import RunsFolder
from tests.cli.test_runs_sweep import SWEEP, make_runs_with_a_sweep
from tests.tui.conftest import wait_until
from tests.tui.test_runs import SIZE, column, open_runs, plain

SWEEP_COLUMN = 8  # after the mark column and the seven columns every table has


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return make_runs_with_a_sweep(tmp_path_factory.mktemp("tui-sweep") / "runs")


@pytest.fixture
def root(template, tmp_path) -> Path:
    copy = tmp_path / "runs"
    shutil.copytree(template, copy)
    return copy


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch) -> None:
    """Look every 0.2 s instead of 2 s, so following a run takes the tests little time."""
    monkeypatch.setattr(runs_screen, "POLL_SECONDS", 0.2)
    monkeypatch.setattr(detail_screen, "POLL_SECONDS", 0.2)


@pytest.fixture
def trainer() -> Iterator[subprocess.Popen]:
    """A live process to hold a run's lock, as a trainer in another shell would."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc
    proc.kill()
    proc.wait()


def set_status(run: Path, status: str, steps: int) -> None:
    """What the trainer writes at a checkpoint or an evaluation (atomically, as it does)."""
    runs.write_json(run / runs.STATUS, {"status": status, "steps": steps, "total_steps": 300,
                                        "last_eval": None, "best_eval": None})


def start_trial(root: Path, trainer: subprocess.Popen, name: str = "new-trial") -> Path:
    """A new trial of the sweep, under way: a copy of a trial, running, its lock held."""
    source = next(i.path for i in runs.list_runs(root) if i.sweep == SWEEP)
    run = root / name
    shutil.copytree(source, run)
    set_status(run, "running", 100)
    (run / runs.LOCK).write_text(str(trainer.pid))
    return run


async def test_trials_show_their_sweep_and_the_filter_finds_them(root):
    app = AgentApp(runs_dir=root)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        table = screen.query_one(DataTable)
        assert str(list(table.columns.values())[-1].label) == "sweep"
        assert column(screen, SWEEP_COLUMN) == [SWEEP, SWEEP, ""]  # newest first
        assert len(column(screen, 1)) == 3  # the sweeps folder is no run
        await pilot.press("slash", *SWEEP)
        assert column(screen, SWEEP_COLUMN) == [SWEEP, SWEEP]
        await pilot.press("escape")
        line = plain(screen.query_one("#run-line"))
        # what tells the trial under the cursor from its sibling: alpha (same game, same seed)
        assert f"sweep {SWEEP}" in line and "alpha=0.5" in line and "seed=" not in line
        screen.query_one("#runs-filter").value = ""
        await pilot.pause()
        await pilot.press("8")  # sort by sweep: runs of their own first, then by sweep
        assert column(screen, SWEEP_COLUMN) == ["", SWEEP, SWEEP]
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, RunDetailScreen))
        await wait_until(pilot, lambda: not app.screen.query_one("#loading").display)
        rows = [line.split() for line in plain(app.screen.query_one("#summary")).splitlines()]
        assert ["sweep", SWEEP] in rows
        assert ["trial", "alpha=0.1"] in rows or ["trial", "alpha=0.5"] in rows


async def test_without_sweeps_there_is_no_sweep_column(root):
    for info in runs.list_runs(root):
        if info.sweep:
            shutil.rmtree(info.path)
    app = AgentApp(runs_dir=root)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        labels = [str(c.label) for c in screen.query_one(DataTable).columns.values()]
        assert len(labels) == 8 and not any("sweep" in label for label in labels)
        await pilot.press("8")  # no such column: nothing happens
        assert len(column(screen, 1)) == 1


async def test_the_table_follows_a_sweep_while_it_is_visible(root, trainer):
    app = AgentApp(runs_dir=root)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        run = start_trial(root, trainer)
        await wait_until(pilot, lambda: len(column(screen, 1)) == 4)  # it appears by itself
        row = [i.path for i in screen.shown].index(run)
        assert column(screen, 7)[row] == "running"
        assert column(screen, 3)[row] == "100 / 300"
        set_status(run, "running", 200)
        await wait_until(pilot, lambda: column(screen, 3)[row] == "200 / 300")
        set_status(run, "done", 300)
        await wait_until(pilot, lambda: column(screen, 7)[row] == "done")
        # hidden under another screen, it stops looking; back on top, it is up to date
        scans = []
        screen.folder.scan = lambda real=screen.folder.scan: scans.append(1) or real()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, RunDetailScreen))
        second = start_trial(root, trainer, "another-trial")
        await pilot.pause(runs_screen.POLL_SECONDS * 5)
        assert scans == []
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)
        assert second in [i.path for i in screen.shown]


async def test_the_detail_follows_a_run_under_way(root, trainer):
    run = start_trial(root, trainer)
    app = AgentApp(runs_dir=root)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        screen.query_one(DataTable).move_cursor(row=[i.path for i in screen.shown].index(run))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, RunDetailScreen))
        detail = app.screen
        assert "100 of 300" in plain(detail.query_one("#summary"))
        set_status(run, "running", 250)
        await wait_until(pilot, lambda: "250 of 300" in plain(detail.query_one("#summary")))
        set_status(run, "done", 300)
        await wait_until(pilot, lambda: "300 of 300" in plain(detail.query_one("#summary")))
        assert detail._follow is None  # finished: its metrics are not read again


def test_the_folder_reads_again_only_what_changed_or_runs(root, trainer, monkeypatch):
    read: list[str] = []
    real = runs.run_info
    monkeypatch.setattr(runs, "run_info", lambda path: read.append(path.name) or real(path))
    folder = RunsFolder(root)
    assert folder.scan() and len(folder.infos) == 3 and len(read) == 3
    read.clear()
    assert not folder.scan() and read == []  # all finished, nothing changed
    run = start_trial(root, trainer)
    read.clear()  # (start_trial lists the runs itself)
    assert folder.scan() and read == [run.name]
    read.clear()
    assert not folder.scan() and read == [run.name]  # running: its trainer may have died
    trainer.kill()
    trainer.wait()
    read.clear()
    assert folder.scan() and read == [run.name]  # the dead trainer's run shows as stopped
    assert next(i for i in folder.infos if i.path == run).status == "stopped"
    read.clear()
    assert not folder.scan() and read == []
    set_status(run, "running", 200)  # resumed elsewhere
    (run / runs.LOCK).unlink()
    assert folder.scan() and read == [run.name]
    shutil.rmtree(run)
    assert folder.scan() and len(folder.infos) == 3


def test_trial_settings_name_what_differs_between_trials():
    a = {"game": "cartpole", "seed": 1, "hyperparameters": {"lr": 0.001, "gamma": 0.99}}
    b = {"game": "cartpole", "seed": 2, "hyperparameters": {"lr": 0.0003, "gamma": 0.99}}
    assert trial_settings(a, [a, b]) == "lr=0.001 seed=1"
    assert trial_settings(a, [a]) == ""
