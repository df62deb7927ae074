"""The home screen: games, the methods that suit them, and the preset form that starts a run.

The app runs for real (``App.run_test``); only ``app.start_training``, the boundary to the
training dashboard, is replaced on the instance by a recorder of the configs it is given.
"""

from __future__ import annotations

from agentapp.engine.plan import RunConfig
from agentapp.tui.app import AgentApp
from agentapp.tui.screens.home import HomeScreen
from agentapp.tui.widgets.game_list import GameList, MethodList
from agentapp.tui.widgets.settings_form import SettingField, SettingsForm
from tests.tui.conftest import wait_until

SIZE = (120, 40)




async def choose(pilot, text: str) -> HomeScreen:
    """Filter the games by *text*, which selects the first game shown, and wait for its form."""
    screen = pilot.app.screen
    assert isinstance(screen, HomeScreen)
    screen.query_one("#game-filter").value = text
    await wait_until(pilot, lambda: screen.form_ready and text in screen.game.id)
    return screen


async def retype(pilot, field: SettingField, text: str) -> None:
    """Replace *field*'s text (as typing would; one test types key by key)."""
    field.control.value = text
    await pilot.pause()


def recorder(app: AgentApp) -> list[RunConfig]:
    started: list[RunConfig] = []
    app.start_training = started.append  # the dashboard's side is tested on its own
    return started


async def test_the_game_list_holds_every_family_with_its_games(tmp_path):
    app = AgentApp(runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        games = app.screen.query_one(GameList)
        shown = games.shown
        assert {"cartpole", "pong", "gridworld:cliff"} <= set(shown)
        assert len(shown) > 100  # every Atari ROM
        headings = [str(o.prompt) for o in games.options if o.id is None]
        assert any("Gridworld" in h for h in headings) and any("Atari" in h for h in headings)
        # the selected game says what it observes and what it can do
        info = str(app.screen.query_one("#game-info").render())
        assert "observation" in info and "actions" in info


async def test_the_filter_narrows_the_list_and_selects_the_match(tmp_path):
    app = AgentApp(runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("slash", *"cartp", "enter")  # typed; Enter goes back to the list
        screen = app.screen
        await wait_until(pilot, lambda: screen.form_ready and screen.game.id == "cartpole")
        assert app.focused is screen.query_one(GameList)
        assert screen.query_one(GameList).shown == ["cartpole"]
        await pilot.press("tab")  # the next column: the methods
        assert app.focused is screen.query_one(MethodList)
        await pilot.press("tab")  # then the form, from its first field
        assert app.focused is screen.query_one(SettingsForm).field("run", "steps").control
        assert screen.game.id == "cartpole" and screen.algo == "ppo"  # the game's default
        assert "Box(4,)" in str(screen.query_one("#game-info").render())
        await pilot.press("escape")  # clears the filter, keeps the choice
        assert len(screen.query_one(GameList).shown) > 100
        assert screen.game.id == "cartpole"


async def test_pong_offers_the_neural_methods_and_says_why_not_the_tabular_ones(tmp_path):
    app = AgentApp(runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await choose(pilot, "pong")
        assert screen.game.id == "pong"
        methods = screen.query_one(MethodList)
        options = {o.id: o for o in methods.options if o.id is not None}
        for name in ("a2c", "ppo", "dqn"):
            assert not options[name].disabled
        for name in ("q-learning", "sarsa", "value-iteration", "policy-iteration"):
            assert options[name].disabled
            assert "needs a game with" in methods.reason(name)
        assert "needs a game with model" in methods.reason("value-iteration")
        assert not methods.select_method("q-learning")
        assert methods.select_method("dqn")
        await wait_until(pilot, lambda: screen.form_ready and screen.algo == "dqn")
        assert screen.query_one(SettingsForm).field("hp", "buffer_size")  # DQN's own settings


async def test_the_form_shows_the_preset_with_help_and_the_detected_device(tmp_path):
    from agentapp.engine.device import device_choices

    app = AgentApp(runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await choose(pilot, "cartpole")
        form = screen.query_one(SettingsForm)
        # RL Zoo's CartPole PPO preset, not the method's defaults
        assert form.field("hp", "learning_rate").text == "0.001"
        assert form.field("hp", "n_epochs").text == "20"
        assert form.field("run", "steps").text == "100000"
        assert form.field("run", "envs").text == "8"
        assert form.field("run", "seed").text == ""
        help_text = str(form.field("hp", "learning_rate").query_one(".setting-note").render())
        assert "step size" in help_text
        device = form.field("run", "device").control
        assert device.value == "auto"
        label = str(device.query_one("SelectCurrent").query_one("Static").render())
        assert label == device_choices()[0][1]  # e.g. "auto (CPU: no CUDA device)"


async def test_an_invalid_value_is_marked_and_enter_refuses_to_start(tmp_path):
    app = AgentApp(runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        started = recorder(app)
        screen = await choose(pilot, "cartpole")
        field = screen.query_one(SettingsForm).field("hp", "learning_rate")
        field.control.focus()
        field.control.value = ""
        await pilot.press("minus", "1")  # typed key by key
        assert field.has_class("-invalid") and field.control.has_class("-invalid")
        assert "must be > 0" in str(field.query_one(".setting-note").render())
        await pilot.press("enter")
        await pilot.pause()
        assert started == []
        assert any("learning_rate" in n.message for n in app._notifications)
        assert "learning_rate" in str(screen.query_one("#form-status").render())

        await retype(pilot, field, "fast")
        assert "expected float" in str(field.query_one(".setting-note").render())
        await screen.action_train()
        assert started == []

        steps = screen.query_one(SettingsForm).field("run", "steps")
        await retype(pilot, field, "0.001")
        await retype(pilot, steps, "0")
        assert steps.has_class("-invalid") and not field.has_class("-invalid")
        await pilot.press("enter")
        assert started == []


async def test_settings_that_clash_are_refused_as_the_command_line_refuses_them(tmp_path):
    app = AgentApp(runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        started = recorder(app)
        screen = await choose(pilot, "cartpole")
        network = screen.query_one(SettingsForm).field("hp", "network")
        network.control.value = "nature"  # a valid choice, but a CNN cannot read 4 numbers
        await pilot.pause()
        assert not network.has_class("-invalid")
        await screen.action_train()
        assert started == []
        status = str(screen.query_one("#form-status").render())
        assert "network=nature" in status and screen.query_one("#form-status").has_class("-error")


async def test_enter_starts_the_run_with_only_the_changed_settings(tmp_path):
    app = AgentApp(runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        started = recorder(app)
        screen = await choose(pilot, "cartpole")
        form = screen.query_one(SettingsForm)
        await retype(pilot, form.field("hp", "learning_rate"), "0.002")
        await retype(pilot, form.field("hp", "gamma"), "0.980")  # the preset's value, retyped
        form.field("hp", "normalize_obs").control.toggle()
        await retype(pilot, form.field("run", "seed"), "7")
        await retype(pilot, form.field("run", "steps"), "5000")
        form.field("run", "steps").control.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert started == [RunConfig(
            game="cartpole", algo="ppo", steps=5000, seed=7, envs=8, device="auto",
            overrides={"learning_rate": "0.002", "normalize_obs": "true"},
        )]


async def test_the_train_button_and_a_tabular_game(tmp_path):
    app = AgentApp(runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        started = recorder(app)
        screen = await choose(pilot, "gridworld:cliff")
        methods = screen.query_one(MethodList)
        assert methods.select_method("q-learning")
        await wait_until(pilot, lambda: screen.form_ready and screen.algo == "q-learning")
        form = screen.query_one(SettingsForm)
        assert not form.fields("run") or "envs" not in [f.spec.name for f in form.fields("run")]
        await retype(pilot, form.field("game", "slip"), "0.1")  # a game setting
        await pilot.click("#train")
        await pilot.pause()
        assert len(started) == 1
        config = started[0]
        assert (config.game, config.algo, config.envs) == ("gridworld:cliff", "q-learning", None)
        assert config.overrides == {"slip": "0.1"}


async def test_r_opens_the_runs_screen(tmp_path):
    from agentapp.tui.screens.runs import RunsScreen

    app = AgentApp(runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)
        assert app.screen.runs_root == tmp_path


async def test_the_next_game_gets_its_own_preset_and_a_clean_form(tmp_path):
    app = AgentApp(runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await choose(pilot, "cartpole")
        form = screen.query_one(SettingsForm)
        assert form.field("hp", "n_steps").text == "32"
        await retype(pilot, form.field("hp", "n_steps"), "many")
        assert form.field("hp", "n_steps").has_class("-invalid")
        await choose(pilot, "acrobot")  # PPO again: the same fields, other values
        assert form.field("hp", "n_steps").text == "256"  # RL Zoo's Acrobot preset
        assert form.field("run", "envs").text == "16"
        assert not form.problems() and not form.overrides(["hp", "game"])
        titles = [str(t.render()) for t in form.query(".form-section")]
        assert "acrobot settings" in titles
