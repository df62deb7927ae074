"""Snapshots of the dashboard fed by scripted events: mid-run, finished, and a DQN run in the
light theme. Nothing drawn depends on the clock or on chance: elapsed time and ETA come from
the events, and the run folder shown is a fixed relative path (never touched: the scripts
stand in for training). The small window's compact layout is checked by a Pilot test in
``test_dashboard.py`` instead."""

from __future__ import annotations

import time

from agentapp.tui.app import AgentApp
from agentapp.tui.runner import Failure, ScriptedRunner
from agentapp.tui.screens.dashboard import DashboardScreen
from tests.tui.conftest import RUN_NAME, dqn_events, ppo_events, settle, snap_matches

RUN_DIR = f"runs/{RUN_NAME}"


def _app(events: list, runners: list[ScriptedRunner], runs_dir) -> AgentApp:
    runner = ScriptedRunner(events, hold=True)
    runners.append(runner)
    return AgentApp(runner=runner, runs_dir=runs_dir)


def _delivered(events: list, theme: str | None = None):
    """A ``run_before`` that waits for every event, then redraws the panels at once."""

    async def run_before(pilot) -> None:
        if theme is not None:
            pilot.app.theme = theme
        engine_events = [e for e in events if not isinstance(e, Failure)]

        def arrived() -> bool:
            screen = pilot.app.screen
            return (isinstance(screen, DashboardScreen)
                    and screen.events_seen == len(engine_events)
                    and (screen.exit_code is not None or engine_events == events))

        deadline = time.monotonic() + 10
        while not arrived():
            assert time.monotonic() < deadline, "the scripted events did not arrive"
            await pilot.pause(0.01)
        pilot.app.screen.refresh_panels()
        await settle(pilot)

    return run_before


def _snap(snap_compare, tmp_path, events: list, size=(120, 40), theme: str | None = None) -> bool:
    runners: list[ScriptedRunner] = []
    try:
        return snap_matches(snap_compare, lambda: _app(events, runners, tmp_path),
                            terminal_size=size, run_before=_delivered(events, theme))
    finally:
        for runner in runners:
            runner.stop()


def test_mid_run(snap_compare, tmp_path):
    assert _snap(snap_compare, tmp_path, ppo_events(RUN_DIR))


def test_finished(snap_compare, tmp_path):
    assert _snap(snap_compare, tmp_path, ppo_events(RUN_DIR, finish="target"))


def test_light_theme_dqn(snap_compare, tmp_path):
    assert _snap(snap_compare, tmp_path, dqn_events(RUN_DIR), theme="textual-light")
