"""The training dashboard driven by scripted event streams: what it shows, what its keys ask of
the runner, and the exit code it hands back."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agentapp.engine.events import EpisodeEnded, Metrics, RunFinished, RunStarted
from agentapp.tui.app import AgentApp
from agentapp.tui.runner import Failure, Runner
from agentapp.tui.screens.confirm import ConfirmScreen
from agentapp.tui.screens.dashboard import DashboardScreen
from agentapp.tui.widgets.event_log import EventLog
from agentapp.tui.widgets.live_view import NOT_AVAILABLE, LiveView
from agentapp.tui.widgets.plots import LossPlot, ReturnPlot
from agentapp.tui.widgets.result_banner import ResultBanner
from agentapp.tui.widgets.run_header import RunHeader
from agentapp.tui.widgets.stats import StatsPanel
from tests.tui.conftest import RUN_NAME, dqn_events, ppo_events

SIZE = (120, 40)


async def _delivered(pilot, wait_for, events: list) -> DashboardScreen:
    """Wait until the dashboard has taken in every scripted event, then redraw at once."""
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen)
                   and pilot.app.screen.events_seen == len(events))
    screen = pilot.app.screen
    screen.refresh_panels()
    await pilot.pause()
    return screen


def _log(screen: DashboardScreen) -> str:
    return "\n".join(screen.query_one(EventLog).lines_text)


def _saved(run_dir: str) -> None:
    """What a save leaves on disk (the scripts only announce it): the banner offers to resume
    a run only from its checkpoints/latest.pt."""
    folder = Path(run_dir) / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "latest.pt").write_bytes(b"")


async def test_header_shows_the_run_its_progress_and_speed(make_app, wait_for, tmp_path):
    events = ppo_events(str(tmp_path / RUN_NAME))
    app = make_app(events)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _delivered(pilot, wait_for, events)
        header = screen.query_one(RunHeader)
        assert header.border_title == RUN_NAME
        assert "game cartpole · method ppo · device cpu" in str(header.query_one("#run-what")
                                                                .render())
        # 60 episodes of 500 steps at 2,000 steps/s: 15 s so far, 35 s to go
        assert header.figures == ("30,000 / 100,000 steps · 2,000 steps/s · elapsed 0:00:15 · "
                                  "ETA 0:00:35")
        assert header.state_label == "training"



async def test_plots_draw_new_data_only_as_often_as_their_budget_allows(make_app, wait_for,
                                                                        tmp_path):
    events = ppo_events(str(tmp_path / RUN_NAME))
    app = make_app(events)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _delivered(pilot, wait_for, events)
        returns = screen.query_one(ReturnPlot)
        await wait_for(pilot, lambda: returns.next_drawing > time.monotonic())  # just drawn
        title = returns.border_title
        screen.history.consume(EpisodeEnded(step=31_000, episode=61, ret=500.0, length=500))
        screen.refresh_panels(now=False)  # what the timer does: the new episode waits
        assert returns.waiting and returns.border_title == title
        screen.refresh_panels()  # what a state change does: drawn at once
        assert not returns.waiting
        assert returns.border_title == "episode return · last 500.00 · best 500.00"


async def test_stats_list_what_the_method_reports(make_app, wait_for, tmp_path):
    events = ppo_events(str(tmp_path / RUN_NAME))
    app = make_app(events)
    async with app.run_test(size=SIZE) as pilot:
        rows = dict((await _delivered(pilot, wait_for, events)).query_one(StatsPanel).rows)
    assert rows["episodes"] == "60"
    assert rows["episode length"] == "160"
    assert rows["entropy"] == "0.39"
    assert rows["KL (approx.)"] == "0.0125"
    assert rows["clip fraction"] == "12.5%"
    assert rows["learning rate"] == "3.00e-04"
    assert rows["last evaluation"] == "150.00 ± 10.00"


async def test_stats_of_a_dqn_run_and_unknown_keys(make_app, wait_for, tmp_path):
    events = dqn_events(str(tmp_path / "gridworld-cliff-dqn-1"))
    app = make_app(events)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _delivered(pilot, wait_for, events)
        rows = dict(screen.query_one(StatsPanel).rows)
        figures = screen.query_one(RunHeader).figures
        loss_plot = screen.query_one(LossPlot)
    assert rows["epsilon"] == "0.3" and rows["replay fill"] == "50.0%"
    assert rows["custom/thing"] == "42"  # a key nobody told the dashboard about
    assert figures.startswith("7,000 / 20,000 steps · 1,000 steps/s · elapsed 0:00:14")
    assert loss_plot.selected == "losses/td_loss"
    assert "log scale" in str(loss_plot.border_subtitle)  # four decades of TD loss


async def test_log_shows_checkpoints_evaluations_and_warnings(make_app, wait_for, tmp_path):
    events = ppo_events(str(tmp_path / RUN_NAME))
    app = make_app(events)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _delivered(pilot, wait_for, events)
        log = _log(screen)
        levels = [level for _t, _s, level in screen.query_one(EventLog).entries]
    assert "checkpoint saved (latest): checkpoints/latest.pt" in log
    assert "evaluation at step 20000: mean return 150.000 ± 10.000" in log
    assert "replay buffer smaller than asked" in log
    assert levels.count("warning") == 1


async def test_plots_and_live_view_get_the_data(make_app, wait_for, tmp_path):
    events = ppo_events(str(tmp_path / RUN_NAME))
    app = make_app(events)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _delivered(pilot, wait_for, events)
        returns = screen.query_one(ReturnPlot)
        assert returns.border_title == "episode return · last 175.59 · best 190.91"
        assert "eval: 150.00" in str(returns.border_subtitle)
        assert screen.query_one(LiveView).frame is not None
        losses = screen.query_one(LossPlot)
        seen = [losses.selected]
        for _ in range(4):
            await pilot.press("l")
            seen.append(losses.selected)
    assert seen == ["losses/value_loss", "losses/policy_loss", "losses/entropy",
                    "losses/explained_variance", "losses/value_loss"]


async def test_without_frames_the_live_view_says_so(make_app, wait_for, tmp_path):
    events = dqn_events(str(tmp_path / "run"))
    app = make_app(events)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _delivered(pilot, wait_for, events)
        assert str(screen.query_one(LiveView).render()) == NOT_AVAILABLE


async def test_pause_save_and_evaluate_keys(make_app, wait_for, tmp_path):
    events = ppo_events(str(tmp_path / RUN_NAME))
    app = make_app(events)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _delivered(pilot, wait_for, events)
        runner = screen.runner
        await pilot.press("p")
        assert screen.query_one(RunHeader).state_label == "paused"
        await pilot.press("s", "e", "p")
        assert runner.requests == ["pause", "save", "eval", "resume"]
        assert screen.query_one(RunHeader).state_label == "training"
        log = _log(screen)
        assert "paused (p to resume)" in log and "resumed" in log
        # asked while paused: the loop takes requests between updates, so they wait
        assert "checkpoint requested (done when training resumes)" in log
        assert "evaluation requested (done when training resumes)" in log


async def test_q_asks_first_and_n_keeps_training(make_app, wait_for, tmp_path):
    events = ppo_events(str(tmp_path / RUN_NAME))
    app = make_app(events)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _delivered(pilot, wait_for, events)
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert app.screen is screen and screen.runner.requests == []
        assert screen.training_alive


async def test_q_then_y_stops_and_enter_leaves_with_130(make_app, wait_for, tmp_path):
    events = ppo_events(str(tmp_path / RUN_NAME))
    app = make_app(events)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _delivered(pilot, wait_for, events)
        _saved(str(tmp_path / RUN_NAME))
        await pilot.press("q")
        await pilot.press("y")
        assert screen.runner.requests == ["stop:interrupted"]
        # the script has no RunFinished: the runner just exits, and that is the stop
        await wait_for(pilot, lambda: screen.exit_code is not None)
        assert not screen.training_alive
        assert "resume with: agentapp train cartpole --resume" in screen.query_one(
            ResultBanner).text
        await pilot.press("enter")
    assert app.return_code == 130


@pytest.mark.parametrize(("reason", "key", "code", "verdict"), [
    ("budget", "enter", 0, "done"),
    ("target", "q", 0, "target reached"),
    ("converged", "escape", 0, "converged"),
    ("interrupted", "enter", 130, "stopped"),
    ("terminated", "enter", 143, "stopped (SIGTERM)"),
    ("failed", "enter", 3, "FAILED"),
])
async def test_after_the_run_ends_a_key_leaves_with_its_code(
        make_app, wait_for, tmp_path, reason, key, code, verdict):
    run_dir = str(tmp_path / RUN_NAME)
    _saved(run_dir)
    events = ppo_events(run_dir, finish=reason)
    app = make_app(events)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _delivered(pilot, wait_for, events)
        banner = screen.query_one(ResultBanner).text
        assert banner.startswith(f"{verdict} · 30,000 steps in 0:00:15 · final evaluation "
                                 f"mean 180.50")
        follow = "agentapp watch" if code == 0 else "agentapp train cartpole --resume"
        assert f"{follow} {run_dir}" in banner
        assert "press Enter or q to close" in banner
        await pilot.press("p", "s")  # training is over: nothing more is asked of the runner
        assert screen.runner.requests == []
        await pilot.press(key)
    assert app.return_code == code


async def test_a_bad_setting_is_shown_and_exits_2(make_app, wait_for):
    app = make_app([Failure("unknown game 'pong2'")], hold=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen)
                       and app.screen.exit_code is not None)
        screen = app.screen
        assert "training could not start: unknown game 'pong2'" in screen.query_one(
            ResultBanner).text
        assert "unknown game 'pong2'" in _log(screen)
        assert screen.query_one(RunHeader).state_label == "failed"
        await pilot.press("enter")
    assert app.return_code == 2


async def test_a_runner_that_cannot_start_is_shown(tmp_path):
    class Broken(Runner):
        def start(self, post):
            raise OSError("no more processes")

        @property
        def alive(self) -> bool:
            return False

    app = AgentApp(runner=Broken(), runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = app.screen.query_one(ResultBanner).text
        assert "OSError: no more processes" in text
        await pilot.press("enter")
    assert app.return_code == 2


async def test_a_crash_during_training_exits_3(make_app, wait_for, tmp_path):
    run_dir = str(tmp_path / RUN_NAME)
    events = [RunStarted(run_dir, {"game": "cartpole", "algo": "ppo"}, 0, 1000),
              EpisodeEnded(10, 1, 9.0, 10), Failure("training crashed: RuntimeError: boom")]
    _saved(run_dir)
    app = make_app(events, hold=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen)
                       and app.screen.exit_code is not None)
        text = app.screen.query_one(ResultBanner).text
        assert "training failed: training crashed: RuntimeError: boom" in text
        assert f"agentapp train cartpole --resume {run_dir}" in text
        await pilot.press("q")
    assert app.return_code == 3


async def test_watch_waits_for_a_checkpoint(make_app, wait_for, tmp_path):
    run_dir = str(tmp_path / RUN_NAME)
    before = [RunStarted(run_dir, {"game": "cartpole", "algo": "ppo"}, 0, 1000)]
    app = make_app(before)
    watched: list[str] = []
    app.show_watch = watched.append
    async with app.run_test(size=SIZE) as pilot:
        screen = await _delivered(pilot, wait_for, before)
        notes: list[str] = []
        screen.notify = lambda message, **_kw: notes.append(message)
        await pilot.press("w")
        assert watched == [] and screen.runner.requests == ["save"]
        assert any("Press w again" in note for note in notes)
        (tmp_path / RUN_NAME / "checkpoints").mkdir(parents=True)
        (tmp_path / RUN_NAME / "checkpoints" / "latest.pt").write_bytes(b"")
        await pilot.press("w")
    assert watched == [run_dir]


async def test_app_quit_stops_training_first(make_app, wait_for, tmp_path):
    events = ppo_events(str(tmp_path / RUN_NAME))
    app = make_app(events)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _delivered(pilot, wait_for, events)
        assert screen.training_alive
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: app.return_code is not None)
        assert screen.runner.requests == ["stop:interrupted"]
    assert app.return_code == 130


async def test_small_window_gets_the_compact_layout(make_app, wait_for, tmp_path):
    events = ppo_events(str(tmp_path / RUN_NAME))
    app = make_app(events)
    async with app.run_test(size=(70, 20)) as pilot:
        screen = await _delivered(pilot, wait_for, events)
        assert screen.compact
        assert not screen.query_one("#plots").display and not screen.query_one(LiveView).display
        assert screen.query_one("#small-note").display
        assert screen.query_one(StatsPanel).region.height > 0
        assert screen.query_one(EventLog).region.height > 0
        await pilot.resize_terminal(*SIZE)
        await wait_for(pilot, lambda: not screen.compact)
        await pilot.pause()
        assert screen.query_one("#plots").display and not screen.query_one("#small-note").display


async def test_a_flood_of_episodes_does_not_redraw_per_event(make_app, wait_for, tmp_path):
    run_dir = str(tmp_path / RUN_NAME)
    events: list = [RunStarted(run_dir, {"game": "gridworld:cliff", "algo": "q_learning"},
                               0, 1_000_000)]
    events += [EpisodeEnded(i * 13, i, -13.0 - i % 9, 13) for i in range(1, 5001)]
    events += [Metrics(65_000, {"charts/sps": 50_000.0, "losses/td_error": 0.25}),
               RunFinished(65_000, "budget", run_dir, 1.3)]
    app = make_app(events, hold=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _delivered(pilot, wait_for, events)
        returns = screen.query_one(ReturnPlot)
        assert returns.history.episodes == 5000
        # redrawn a few times a second at most, not 5,000 times
        assert returns._version < 50
        assert screen.query_one(RunHeader).state_label == "finished"
