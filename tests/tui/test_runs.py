"""The runs screen and a run's detail, on run folders made by real (tiny) training runs.

Three runs are trained once for the module, the way ``agentapp train`` does it (``prepare``, the
training loop, the CSV sink): a Q-learning and a SARSA run on the cliff (the SARSA run stopped
half way, as Ctrl+C would) and value iteration on the classic grid. Each test works on its own
copy of the folder, since some delete runs.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import DataTable

from agentapp import runs
from agentapp.engine.plan import RunConfig
from agentapp.tui.app import AgentApp
from agentapp.tui.screens.confirm import ConfirmScreen
from agentapp.tui.screens.run_actions import ExtendScreen
from agentapp.tui.screens.run_detail import RunDetailScreen
from agentapp.tui.screens.runs import RunsScreen
from agentapp.tui.widgets.curves import bin_points, read_curves
from tests.tui.conftest import wait_until

SIZE = (120, 40)




def train(root: Path, game: str, algo: str, steps: int, stop_at: int | None = None) -> Path:
    """A real training run, recorded as the CLI records it; stopped at *stop_at* steps."""
    from agentapp.engine import loop
    from agentapp.engine.control import Control
    from agentapp.engine.events import EpisodeEnded, RunStarted
    from agentapp.engine.plan import prepare
    from agentapp.engine.sinks import default_sinks

    control, sinks, run_dir = Control(), default_sinks(), None
    plan = prepare(RunConfig(game=game, algo=algo, steps=steps, seed=1, runs_dir=str(root)))
    for event in loop.train(plan, control):
        for sink in sinks:
            sink(event)
        if isinstance(event, RunStarted):
            run_dir = Path(event.run_dir)
        if stop_at and isinstance(event, EpisodeEnded) and event.step >= stop_at:
            control.stop("interrupted")
    assert run_dir is not None
    return run_dir


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("template") / "runs"
    train(root, "gridworld:cliff", "q-learning", 2000)
    train(root, "gridworld:classic", "value-iteration", 100)
    train(root, "gridworld:cliff", "sarsa", 3000, stop_at=500)
    return root


@pytest.fixture
def root(template, tmp_path) -> Path:
    copy = tmp_path / "runs"
    shutil.copytree(template, copy)
    return copy


def run_of(root: Path, algo: str) -> Path:
    return next(i.path for i in runs.list_runs(root) if i.algo == algo)


async def open_runs(pilot) -> RunsScreen:
    await pilot.pause()
    await pilot.press("r")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, RunsScreen))
    return pilot.app.screen


def plain(static) -> str:
    """The text of a Static showing a Rich renderable, as a 100-column terminal shows it."""
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(static.content)
    return console.export_text()


async def only(pilot, screen: RunsScreen, text: str) -> None:
    """Filter the table down to the runs matching *text* (the cursor lands on the first)."""
    screen.query_one("#runs-filter").value = text
    await pilot.pause()


def column(screen: RunsScreen, index: int) -> list[str]:
    table = screen.query_one(DataTable)
    return [str(table.get_row_at(row)[index]) for row in range(table.row_count)]


async def test_the_table_lists_every_run_newest_first(root):
    app = AgentApp(runs_dir=root)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        assert column(screen, 2) == ["sarsa", "value-iteration", "q-learning"]
        assert column(screen, 1) == ["gridworld:cliff", "gridworld:classic", "gridworld:cliff"]
        assert column(screen, 7) == ["stopped", "done", "done"]
        steps = column(screen, 3)
        assert steps[2] == "2,000 / 2,000" and steps[0].endswith("/ 3,000")
        assert column(screen, 4)[1] != "–"  # its last evaluation


async def test_sorting_by_keys_and_by_clicking_a_header(root):
    app = AgentApp(runs_dir=root)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        await pilot.press("2")  # method, a to z
        assert column(screen, 2) == ["q-learning", "sarsa", "value-iteration"]
        await pilot.press("2")  # again: z to a
        assert column(screen, 2) == ["value-iteration", "sarsa", "q-learning"]
        await pilot.press("3")  # steps, most first
        assert column(screen, 2)[0] == "q-learning"
        await pilot.press("o")  # the next column: last evaluation, best first
        assert column(screen, 2)[0] == "value-iteration"
        table = screen.query_one(DataTable)
        x = sum(c.get_render_width(table) for c in list(table.columns.values())[:7]) + 2
        await pilot.click(DataTable, offset=(x, 0))  # the status header
        assert column(screen, 7) == ["done", "done", "stopped"]


async def test_the_filter_matches_game_method_and_status(root):
    app = AgentApp(runs_dir=root)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        await pilot.press("slash", *"sarsa")
        assert column(screen, 2) == ["sarsa"]
        await pilot.press("escape")  # back to the table, filter kept
        assert app.focused is screen.query_one(DataTable)
        filter_input = screen.query_one("#runs-filter")
        filter_input.value = "done"
        await pilot.pause()
        assert sorted(column(screen, 2)) == ["q-learning", "value-iteration"]
        filter_input.value = "classic"
        await pilot.pause()
        assert column(screen, 2) == ["value-iteration"]
        filter_input.value = "nothing like it"
        await pilot.pause()
        assert "No run matches" in str(screen.query_one("#empty").render())


async def test_delete_asks_first_and_keeps_the_run_on_no(root):
    app = AgentApp(runs_dir=root)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        doomed = screen.current_run().path
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is screen)
        assert doomed.is_dir() and len(column(screen, 2)) == 3
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: app.screen is screen)
        assert not doomed.exists()
        assert len(column(screen, 2)) == 2


async def test_delete_is_refused_while_the_run_trains(root):
    app = AgentApp(runs_dir=root)
    trainer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_runs(pilot)
            busy = screen.current_run().path
            (busy / runs.LOCK).write_text(str(trainer.pid))  # what a live trainer leaves
            await pilot.press("d")
            await pilot.pause()
            assert app.screen is screen  # no question asked
            assert any("training right now" in n.message for n in app._notifications)
            assert busy.is_dir()
    finally:
        trainer.kill()
        trainer.wait()


async def test_evaluate_shows_mean_and_spread_without_blocking(root):
    app = AgentApp(runs_dir=root)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        await only(pilot, screen, "q-learning")
        assert screen.current_run().algo == "q-learning"
        await pilot.press("v")
        line = screen.query_one("#run-line")
        await wait_until(pilot, lambda: "mean" in str(line.render()))
        assert "±" in str(line.render()) and "10 episodes" in str(line.render())
        assert any(n.message.startswith("mean ") for n in app._notifications)


async def test_continue_resumes_in_place_or_asks_for_a_larger_budget(root):
    app = AgentApp(runs_dir=root)
    async with app.run_test(size=SIZE) as pilot:
        started: list[RunConfig] = []
        app.start_training = started.append  # the dashboard's side is tested on its own
        screen = await open_runs(pilot)
        stopped = run_of(root, "sarsa")
        assert screen.current_run().path == stopped  # newest first
        await pilot.press("c")
        assert started == [RunConfig(game="gridworld:cliff", resume=str(stopped),
                                     runs_dir=str(root))]
        await only(pilot, screen, "q-learning")  # finished: all 2,000 steps done
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ExtendScreen))
        await pilot.press("enter")  # the offered budget: twice the old one
        await wait_until(pilot, lambda: len(started) == 2)
        assert started[1] == RunConfig(game="gridworld:cliff", resume=str(run_of(root,
                                       "q-learning")), steps=4000, runs_dir=str(root))


async def test_the_detail_shows_curves_and_settings_and_compare_overlays(root):
    app = AgentApp(runs_dir=root)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        await only(pilot, screen, "q-learning")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, RunDetailScreen))
        detail = app.screen
        await wait_until(pilot, lambda: not detail.query_one("#loading").display)
        text = plain(detail.query_one("#summary"))
        assert "q-learning" in text and "alpha" in text and "2,000 of 2,000" in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)
        await only(pilot, screen, "cliff")
        screen.query_one(DataTable).move_cursor(row=0)
        await pilot.press("space", "down", "space", "m")
        await wait_until(pilot, lambda: isinstance(app.screen, RunDetailScreen))
        assert len(app.screen.infos) == 2 and app.screen.comparing
        assert not app.screen.check_action("delete", ())


def test_curves_come_from_metrics_csv(template):
    curves = read_curves(run_of(template, "q-learning"))
    assert curves.episodes and curves.evals
    assert curves.episode_count == len(curves.episodes)  # few enough to keep every one
    assert all(a[0] <= b[0] for a, b in zip(curves.episodes, curves.episodes[1:], strict=False))
    planning = read_curves(run_of(template, "value-iteration"))
    assert not planning.episodes and planning.evals  # planning plays no training episodes


def test_binning_averages_consecutive_points():
    points = [(float(i), float(i % 2)) for i in range(1000)]
    binned = bin_points(points, 10)
    assert len(binned) == 10
    assert binned[0] == (49.5, 0.5)
    assert bin_points(points[:5], 10) == points[:5]


async def test_an_empty_runs_folder_says_how_to_start(tmp_path):
    app = AgentApp(runs_dir=tmp_path / "nothing-yet")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        hint = str(screen.query_one("#empty").render())
        assert "No runs" in hint and "agentapp train" in hint
        assert screen.query_one("#empty").display
        await pilot.press("v", "d", "c", "w", "enter")  # nothing to act on: nothing happens
        assert app.screen is screen
