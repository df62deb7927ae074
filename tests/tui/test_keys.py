"""Every key binding of the terminal app, pressed with Pilot, and a check that none is forgotten.

The keys other test files press (the dashboard's, the home screen's filter, the runs table's
sorting and marking, ...) are pressed there; this file presses the rest and asserts what each
does. :data:`PRESSED` says, for every binding of every Screen and App class in ``agentapp.tui``,
which test file presses it, and :func:`test_every_binding_is_pressed_by_some_test` fails when a
binding is added without a test (or a listed key is no longer bound).

The runs come from one real, tiny Q-learning training on the cliff, copied for each test (some
delete it). The crash tests train for real on the dashboard, in the app's training thread, with
a fault injected into the method (after its first checkpoint, or at once), and resume the run from
the CLI when the banner offers it.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import shutil
from pathlib import Path

import pytest
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer

import agentapp.tui
from agentapp import checkpoints
from agentapp.engine.plan import RunConfig
from agentapp.tui.app import AgentApp
from agentapp.tui.screens import runs as runs_screen
from agentapp.tui.screens.confirm import ConfirmScreen
from agentapp.tui.screens.dashboard import DashboardScreen
from agentapp.tui.screens.home import HomeScreen
from agentapp.tui.screens.run_actions import ExtendScreen
from agentapp.tui.screens.run_detail import RunDetailScreen
from agentapp.tui.screens.runs import RunsScreen
from agentapp.tui.screens.watch import WatchScreen
from agentapp.tui.widgets.game_list import MethodList
from agentapp.tui.widgets.result_banner import NO_CHECKPOINT, ResultBanner
from tests.tui.conftest import RUN_NAME, ppo_events, wait_until
from tests.tui.test_home import choose, recorder
from tests.tui.test_runs import SIZE, open_runs, plain, train

HERE = "test_keys.py"
PRESSED: dict[str, dict[str, str]] = {
    "AgentApp": {"ctrl+q": "test_dashboard.py", "ctrl+c": HERE, "question_mark": HERE,
                 "f1": HERE, "ctrl+t": HERE},
    "HomeScreen": {"enter": HERE, "t": HERE, "r": "test_home.py", "slash": "test_home.py",
                   "escape": "test_home.py", "q": HERE},
    "RunsScreen": {"c": "test_runs.py", "w": HERE, "v": "test_runs.py", "d": "test_runs.py",
                   "space": "test_runs.py", "m": "test_runs.py", "slash": "test_runs.py",
                   "o": "test_runs.py", **{str(n): HERE for n in range(1, 9)}, "f5": HERE,
                   "ctrl+r": HERE, "escape": HERE, "q": HERE},
    "RunDetailScreen": {"c": HERE, "w": HERE, "v": HERE, "d": HERE, "escape": HERE, "q": HERE},
    "DashboardScreen": {key: "test_dashboard.py"
                        for key in ("p", "s", "e", "w", "l", "q", "enter", "escape")},
    "WatchScreen": {"space": "test_watch.py", "n": "test_watch.py", "full_stop": HERE,
                    "plus": "test_watch.py", "equals_sign": HERE, "minus": HERE,
                    "r": "test_watch.py", "escape": HERE, "q": "test_watch.py"},
    "ConfirmScreen": {"y": "test_dashboard.py", "n": "test_dashboard.py", "escape": HERE},
    "ExtendScreen": {"escape": HERE},
}
"""Class -> bound key -> the test file (in tests/tui) that presses it."""


def bound_keys() -> dict[str, set[str]]:
    """Every key bound by a Screen or App class of ``agentapp.tui`` (its own BINDINGS, with
    ``"a,b"`` counted as two keys), by class name."""
    found: dict[str, set[str]] = {}
    for module_info in pkgutil.walk_packages(agentapp.tui.__path__, "agentapp.tui."):
        module = importlib.import_module(module_info.name)
        for cls in vars(module).values():
            if (isinstance(cls, type) and issubclass(cls, (Screen, App))
                    and cls.__module__ == module.__name__):
                bindings = Binding.make_bindings(cls.__dict__.get("BINDINGS", []))
                found[cls.__name__] = {binding.key for binding in bindings}
    return found


def test_every_binding_is_pressed_by_some_test():
    bound = bound_keys()
    assert {"AgentApp", "HomeScreen", "WatchScreen"} <= set(bound)  # the walk found them
    listed = {name: set(keys) for name, keys in PRESSED.items()}
    unlisted = {n: sorted(k - listed.get(n, set())) for n, k in bound.items()
                if k - listed.get(n, set())}
    assert not unlisted, ("bound, but no test presses them (add a test and a PRESSED entry): "
                          f"{unlisted}")
    stale = {n: sorted(k - bound.get(n, set())) for n, k in listed.items()
             if k - bound.get(n, set())}
    assert not stale, f"in PRESSED but no longer bound: {stale}"
    folder = Path(__file__).parent
    for name, keys in PRESSED.items():
        for key, file in keys.items():
            assert f'"{key}"' in (folder / file).read_text(), f"{name} {key}: not in {file}"


# -- the app: help, theme, Ctrl+C -----------------------------------------------------------------
async def test_help_and_theme_keys_then_ctrl_c_stops_training_with_a_save(make_app, tmp_path):
    events = ppo_events(str(tmp_path / RUN_NAME))
    app = make_app(events)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen)
                         and app.screen.events_seen == len(events))
        screen = app.screen
        footer = screen.query_one(Footer)
        help_keys = [k.key_display for k in footer.query("FooterKey") if k.description == "Help"]
        assert help_keys == ["?"]  # F1 works too, but the footer shows the key people look for
        for key in ("question_mark", "f1"):
            await pilot.press(key)
            await wait_until(pilot, lambda: screen.query("HelpPanel"))
            await pilot.press(key)
            await wait_until(pilot, lambda: not screen.query("HelpPanel"))
        assert app.theme == "textual-dark"
        await pilot.press("ctrl+t")
        assert app.theme == "textual-light"
        await pilot.press("ctrl+t")
        assert app.theme == "textual-dark"
        assert screen.training_alive
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: app.return_code is not None)
        assert screen.runner.requests == ["stop:interrupted"]  # the stop that saves first
    assert app.return_code == 130


# -- home ------------------------------------------------------------------------------------------
async def test_home_t_enter_and_a_chosen_method_train_and_q_quits(tmp_path):
    app = AgentApp(runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        started = recorder(app)
        screen = await choose(pilot, "gridworld:cliff")
        await pilot.press("t")
        assert [(c.game, c.algo) for c in started] == [("gridworld:cliff", screen.algo)]
        screen.set_focus(None)  # no widget takes Enter: the screen's own binding does
        await pilot.press("enter")
        assert len(started) == 2
        screen.query_one(MethodList).focus()
        await pilot.press("enter")  # choosing a method (its option selected) trains too
        await wait_until(pilot, lambda: len(started) == 3)
        assert started[0] == started[1] == started[2]
        await pilot.press("q")
        await wait_until(pilot, lambda: app.return_code is not None)
    assert app.return_code == 0


# -- runs, a run's detail, watch ------------------------------------------------------------------
@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("keys") / "runs"
    train(root, "gridworld:cliff", "q-learning", 600)
    return root


@pytest.fixture
def root(template, tmp_path, monkeypatch) -> Path:
    """A copy of the runs; the runs screen never looks again by itself (only the keys do)."""
    monkeypatch.setattr(runs_screen, "POLL_SECONDS", 3600.0)
    copy = tmp_path / "runs"
    shutil.copytree(template, copy)
    return copy


def headers(screen: RunsScreen) -> list[str]:
    return [str(c.label) for c in screen.query_one(DataTable).columns.values()][1:]


async def sort_and_reload(pilot, screen: RunsScreen, root: Path) -> None:
    """Press every sort key, then F5 and Ctrl+R after a run folder appeared."""
    for n in ("1", "2", "3", "4", "5", "6", "7"):
        await pilot.press(n)
        assert screen.sort_column == int(n) - 1
        assert headers(screen)[int(n) - 1].endswith(("▲", "▼"))
    await pilot.press("8")  # the sweep column, absent while no run belongs to a sweep
    assert screen.sort_column == 6 and len(headers(screen)) == 7
    (original,) = list(root.iterdir())
    shutil.copytree(original, root / "copied-run")
    assert screen.query_one(DataTable).row_count == 1  # nobody looked yet
    await pilot.press("f5")
    assert screen.query_one(DataTable).row_count == 2
    shutil.copytree(original, root / "copied-again")
    await pilot.press("ctrl+r")
    assert screen.query_one(DataTable).row_count == 3


async def watch_keys(pilot, watch: WatchScreen) -> None:
    """``=`` and ``-`` change the speed, ``.`` pauses and steps once."""
    await wait_until(pilot, lambda: watch.moment is not None)
    assert watch.pacing.fps == 4  # the gridworld's own pace
    await pilot.press("equals_sign")
    assert watch.pacing.fps == 8
    await pilot.press("minus", "minus")
    assert watch.pacing.fps == 2
    await pilot.press("full_stop")  # pauses, and steps once
    assert watch.pacing.paused
    await pilot.pause(0.3)  # the step asked for lands
    held = (watch.moment.episode, watch.moment.step)
    await pilot.press("full_stop")
    await wait_until(pilot, lambda: (watch.moment.episode, watch.moment.step) != held)
    assert watch.pacing.paused


async def test_the_runs_keys_sort_reload_watch_and_go_back(root):
    app = AgentApp(runs_dir=root)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        watched = screen.current_run().path
        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, WatchScreen))
        assert Path(app.screen.ref) == watched
        await watch_keys(pilot, app.screen)
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)
        await sort_and_reload(pilot, screen, root)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RunsScreen))
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))


async def test_the_detail_keys_evaluate_watch_continue_and_delete(root):
    app = AgentApp(runs_dir=root)
    async with app.run_test(size=SIZE) as pilot:
        started = recorder(app)
        runs_table = await open_runs(pilot)
        run = runs_table.current_run()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, RunDetailScreen))
        detail = app.screen
        await pilot.press("v")
        await wait_until(pilot, lambda: "mean" in plain(detail.query_one("#summary")))
        assert "10 episodes" in plain(detail.query_one("#summary"))
        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, WatchScreen))
        await pilot.press("q")
        await wait_until(pilot, lambda: app.screen is detail)
        await pilot.press("c")  # all 600 steps done: it asks for a larger budget
        await wait_until(pilot, lambda: isinstance(app.screen, ExtendScreen))
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is detail)
        assert started == []
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ExtendScreen))
        await pilot.press("enter")
        await wait_until(pilot, lambda: started)
        assert started == [RunConfig(game="gridworld:cliff", resume=str(run.path), steps=1200,
                                     runs_dir=str(root))]
        await pilot.press("q")
        await wait_until(pilot, lambda: app.screen is runs_table)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, RunDetailScreen))
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, RunDetailScreen))
        assert run.path.is_dir()
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: app.screen is runs_table)
        assert not run.path.exists()
        assert runs_table.query_one(DataTable).row_count == 0


# -- a real crash on the dashboard -----------------------------------------------------------------
def inject_fault(monkeypatch, root: Path, after_checkpoint: bool) -> None:
    """Make Q-learning raise in ``train_iteration``: once a ``latest.pt`` is under *root*, or
    on its first call."""
    from agentapp.engine.algorithms import ALGORITHMS

    method = ALGORITHMS["q-learning"]
    original = method.train_iteration

    def failing(self, max_steps: int):
        if not after_checkpoint or any(root.glob("*/checkpoints/latest.pt")):
            raise RuntimeError("injected fault")
        return original(self, max_steps)

    monkeypatch.setattr(method, "train_iteration", failing)


async def crash_on_the_dashboard(root: Path) -> tuple[str, int | None]:
    """Train on the dashboard until training fails; the banner's text and the exit code."""
    config = RunConfig(game="gridworld:cliff", algo="q-learning", steps=2000, seed=1,
                       save_every=200)
    app = AgentApp(runs_dir=root, config=config)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen)
                         and app.screen.exit_code is not None, timeout=30)
        screen = app.screen
        assert screen.state == "failed"
        text = screen.query_one(ResultBanner).text
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.return_code is not None)
    return text, app.return_code


async def test_a_crash_after_a_checkpoint_offers_a_resume_that_works(tmp_path, monkeypatch, cli):
    root = tmp_path / "runs"
    inject_fault(monkeypatch, root, after_checkpoint=True)
    text, code = await crash_on_the_dashboard(root)
    (run,) = list(root.iterdir())
    assert code == 3
    assert "RuntimeError: injected fault" in text
    assert f"resume with: agentapp train gridworld:cliff --resume {run}" in text
    saved = checkpoints.load(run / "checkpoints" / "latest.pt")["step"]
    assert 0 < saved < 2000

    monkeypatch.undo()  # the fault was the test's; the resumed run trains as usual
    result = cli("train", "gridworld:cliff", "--resume", str(run), "--runs-dir", str(root))
    assert result.exit_code == 0, result.output
    assert f"resuming at {saved:,}" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == str(run)  # in place
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "done" and status["steps"] == 2000


async def test_a_crash_before_any_checkpoint_offers_no_resume(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    inject_fault(monkeypatch, root, after_checkpoint=False)
    text, code = await crash_on_the_dashboard(root)
    assert code == 3
    assert "RuntimeError: injected fault" in text
    assert NO_CHECKPOINT in text and "resume with" not in text


async def test_a_run_that_ended_failed_without_a_checkpoint_offers_no_resume(make_app,
                                                                             tmp_path):
    run_dir = str(tmp_path / RUN_NAME)  # the script announces a checkpoint; none is on disk
    events = ppo_events(run_dir, finish="failed")
    app = make_app(events)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen)
                         and app.screen.exit_code is not None)
        text = app.screen.query_one(ResultBanner).text
        assert text.startswith("FAILED") and NO_CHECKPOINT in text
        assert "--resume" not in text
