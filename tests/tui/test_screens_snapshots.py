"""Snapshot tests of the home, runs and watch screens, each on content fixed for any machine.

The home screen gets a fixed device list (the real one says whether this machine has a GPU) and
shows the gridworld maps only (the classic list depends on optional packages), the
runs screen run folders with fixed start times shown in UTC, and the watch screen a planned
gridworld agent (deterministic) paused after three steps. Regenerate with
``pytest tests/tui/test_screens_snapshots.py --snapshot-update`` after a deliberate change, and
look at the pictures in ``__snapshots__`` before committing them.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agentapp import runs
from agentapp.engine.plan import RunConfig
from agentapp.games.registry import slugify
from agentapp.tui.app import AgentApp
from agentapp.tui.screens.home import HomeScreen
from agentapp.tui.screens.runs import RunsScreen
from agentapp.tui.screens.watch import WatchScreen
from tests.tui.conftest import settle, snap_matches, wait_until

SIZE = (120, 40)
DEVICES = [("auto", "auto (CPU: no CUDA device)"), ("cpu", "cpu")]
START = 1_767_225_600.0  # 2026-01-01 00:00 UTC



def test_home_screen(snap_compare, tmp_path):
    async def run_before(pilot) -> None:
        screen = HomeScreen(devices=DEVICES, game="gridworld:aliased", algo="q-learning")
        await pilot.app.push_screen(screen)
        await wait_until(pilot, lambda: screen.form_ready)
        # the filter keeps the list to games every installation has (LunarLander needs Box2D)
        screen.query_one("#game-filter").value = "gridworld"
        await settle(pilot)

    assert snap_matches(snap_compare, lambda: AgentApp(runs_dir=tmp_path), terminal_size=SIZE,
                        run_before=run_before)


def _run_folder(root: Path, name: str, config: dict, status: dict) -> None:
    folder = root / name
    (folder / runs.CHECKPOINTS).mkdir(parents=True)
    runs.write_json(folder / runs.CONFIG, config)
    runs.write_json(folder / runs.STATUS, status)


@pytest.fixture
def fixed_runs(tmp_path, monkeypatch) -> Path:
    """Four run folders as training leaves them, started an hour apart from a fixed time."""
    monkeypatch.chdir(tmp_path)  # the screen shows the runs folder as given: "runs"
    root = Path("runs")
    table = [
        ("cartpole", "ppo", "done", 100_000, 100_000, 500.0, 500.0),
        ("pong", "dqn", "stopped", 1_250_000, 10_000_000, 3.5, 7.0),
        ("gridworld:cliff", "q-learning", "done", 50_000, 50_000, -13.0, -13.0),
        ("acrobot", "a2c", "failed", 20_000, 500_000, None, None),
    ]
    for i, (game, algo, status, steps, total, last, best) in enumerate(table):
        name = f"{slugify(game)}-{algo}-20260101-0{i}0000"
        config = {"game": game, "algo": algo, "steps": total, "seed": i,
                  "created": START + 3600 * i, "hyperparameters": {}, "game_params": {}}
        _run_folder(root, name, config, {"status": status, "steps": steps,
                                         "total_steps": total, "last_eval": last,
                                         "best_eval": best})
    return root


def test_runs_screen(snap_compare, fixed_runs):
    async def run_before(pilot) -> None:
        await pilot.app.push_screen(RunsScreen(fixed_runs, clock=time.gmtime))
        await pilot.pause()
        await pilot.press("down", "space")
        await settle(pilot)

    assert snap_matches(snap_compare, lambda: AgentApp(runs_dir=fixed_runs), terminal_size=SIZE,
                        run_before=run_before)


@pytest.fixture
def planned_run(tmp_path) -> Path:
    """A value-iteration agent for the cliff, in a run folder with a fixed name."""
    from agentapp.engine import loop
    from agentapp.engine.events import RunStarted
    from agentapp.engine.plan import prepare

    root = tmp_path / "runs"
    for event in loop.train(prepare(RunConfig(game="gridworld:cliff", algo="value-iteration",
                                              seed=0, runs_dir=str(root)))):
        if isinstance(event, RunStarted):
            made = Path(event.run_dir)
    return made.rename(root / "cliff-value-iteration")


def test_watch_screen_paused(snap_compare, planned_run):
    async def run_before(pilot) -> None:
        screen = WatchScreen(planned_run, planned_run.parent, paused=True, fps=4)
        await pilot.app.push_screen(screen)
        await wait_until(pilot, lambda: screen.moment is not None)
        for _ in range(3):
            await pilot.press("n")
        await wait_until(pilot, lambda: screen.moment.step == 3)
        await settle(pilot)

    assert snap_matches(snap_compare, lambda: AgentApp(runs_dir=planned_run.parent),
                        terminal_size=SIZE, run_before=run_before)
