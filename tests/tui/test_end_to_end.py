"""End to end, nothing scripted: from the home screen, a real gridworld run trains on the dashboard
(in the app's training thread) to its budget, and closing the dashboard after it leaves the app
with the exit code headless training would give."""

from __future__ import annotations

import json

from agentapp.tui.app import AgentApp
from agentapp.tui.screens.dashboard import DashboardScreen
from agentapp.tui.widgets.settings_form import SettingsForm
from tests.tui.conftest import wait_until
from tests.tui.test_home import SIZE, choose, retype


async def test_a_run_started_on_the_home_screen_trains_to_the_end(tmp_path):
    app = AgentApp(runs_dir=tmp_path, exit_when_done=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await choose(pilot, "gridworld:cliff")
        assert screen.query_one("#methods").select_method("q-learning")
        await wait_until(pilot, lambda: screen.form_ready and screen.algo == "q-learning")
        form = screen.query_one(SettingsForm)
        await retype(pilot, form.field("run", "steps"), "3000")
        await retype(pilot, form.field("run", "seed"), "5")
        await pilot.click("#train")
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        dashboard = app.screen
        await wait_until(pilot, lambda: dashboard.state == "finished", timeout=60)
        assert dashboard.exit_code == 0
        assert dashboard.history.step == 3000 and dashboard.history.episodes > 0
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.return_code is not None)
    assert app.return_code == 0
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "done" and status["steps"] == 3000
    assert json.loads((run / "config.json").read_text())["seed"] == 5
    assert (run / "checkpoints" / "latest.pt").is_file()
