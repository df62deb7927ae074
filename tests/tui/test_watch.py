"""The watch screen with real agents: a planned gridworld agent and a (barely) trained CartPole.

The agents come from real training runs made once for the module; the screen loads them from
their run folders as ``agentapp watch`` does and plays them in its thread.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from agentapp.engine.plan import RunConfig
from agentapp.rendering.gridworld import GridPicture
from agentapp.tui.app import AgentApp
from agentapp.tui.screens.home import HomeScreen
from agentapp.tui.screens.watch import Pacing, WatchScreen
from tests.tui.conftest import wait_until

SIZE = (120, 40)


def train(root: Path, config: RunConfig) -> Path:
    from agentapp.engine import loop
    from agentapp.engine.events import RunStarted
    from agentapp.engine.plan import prepare

    for event in loop.train(prepare(config)):
        if isinstance(event, RunStarted):
            run = Path(event.run_dir)
    return run


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("watch") / "runs"


@pytest.fixture(scope="module")
def grid_run(runs_root) -> Path:
    return train(runs_root, RunConfig(game="gridworld:cliff", algo="value-iteration", seed=0,
                                      runs_dir=str(runs_root)))


@pytest.fixture(scope="module")
def cartpole_run(runs_root) -> Path:
    return train(runs_root, RunConfig(
        game="cartpole", algo="ppo", steps=128, envs=2, seed=0, eval_episodes=1,
        runs_dir=str(runs_root),
        overrides={"n_steps": "16", "batch_size": "32", "n_epochs": "1"}))


def text_of(static) -> str:
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(static.content)
    return console.export_text()


async def open_watch(pilot, ref, **kwargs) -> WatchScreen:
    await pilot.pause()
    app = pilot.app
    if kwargs:
        app.push_screen(WatchScreen(ref, app.runs_root, **kwargs))
    else:
        app.show_watch(ref)
    await wait_until(pilot, lambda: isinstance(app.screen, WatchScreen))
    screen = app.screen
    await wait_until(pilot, lambda: screen.moment is not None)
    return screen


async def test_watching_a_gridworld_run_draws_the_grid_and_plays(grid_run, runs_root):
    app = AgentApp(runs_dir=runs_root)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_watch(pilot, grid_run)
        assert screen.pacing.fps == 4  # the gridworld's own pace
        picture = screen.query_one("#picture", )
        assert isinstance(picture.content, GridPicture)
        assert picture.content.values is not None  # the planner's values as a heat map
        assert "value-iteration on gridworld:cliff" in str(
            screen.query_one("#view-panel").border_title)
        await pilot.press("plus", "plus", "plus", "plus")  # 4 -> 60 steps a second
        assert screen.pacing.fps == 60
        await wait_until(pilot, lambda: screen.moment.step >= 3)
        assert "●" in text_of(picture)  # the agent, on its cell
        stats = text_of(screen.query_one("#stats"))
        assert "score" in stats and "action" in stats
        # the planner's Q(s, .) beside the grid, the move it made highlighted
        thinking = text_of(screen.query_one("#insight"))
        assert "action values Q(s,a)" in thinking and "V(s)" in thinking
        assert f"▶ {screen.moment.action}" in thinking
        # the planned agent walks the cliff's edge to the goal: -13 in 13 steps
        await wait_until(pilot, lambda: screen.moment.finished)
        assert screen.moment.finished[0] == -13.0


async def test_pause_holds_the_step_and_n_steps_once(grid_run, runs_root):
    app = AgentApp(runs_dir=runs_root)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_watch(pilot, grid_run, fps=30)
        await wait_until(pilot, lambda: screen.moment.step >= 2)
        await pilot.press("space")
        assert screen.pacing.paused
        await pilot.pause(0.2)  # a step already under way may still land
        held = (screen.moment.episode, screen.moment.step)
        await pilot.pause(0.5)  # 15 steps' worth at 30 a second
        assert (screen.moment.episode, screen.moment.step) == held
        assert "paused" in text_of(screen.query_one("#stats"))
        await pilot.press("n")
        await wait_until(pilot, lambda: (screen.moment.episode, screen.moment.step) != held)
        await pilot.press("r")  # the episode again from its start
        await wait_until(pilot, lambda: screen.moment.step == 0)
        assert screen.moment.episode == held[0]
        await pilot.press("space")
        await wait_until(pilot, lambda: screen.moment.step >= 2)


async def test_leaving_stops_the_player_thread(grid_run, runs_root):
    app = AgentApp(runs_dir=runs_root)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_watch(pilot, grid_run, fps=60)
        worker = next(w for w in screen.workers if w.name == "watch")
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        await wait_until(pilot, lambda: worker.is_finished)


async def test_a_vector_game_shows_its_named_values(cartpole_run, runs_root):
    app = AgentApp(runs_dir=runs_root)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_watch(pilot, cartpole_run, fps=60)
        await wait_until(pilot, lambda: screen.moment.step >= 2)
        shown = text_of(screen.query_one("#picture"))
        for name in ("cart position", "cart velocity", "pole angle", "pole angular velocity"):
            assert name in shown
        assert "├" in shown and "┤" in shown  # the picture's track, between its limits
        assert screen.moment.action in ("left", "right")
        probabilities = screen.moment.insight.values
        assert len(probabilities) == 2 and abs(probabilities.sum() - 1) < 1e-6
        thinking = text_of(screen.query_one("#insight"))
        assert "policy π(a|s)" in thinking and "%" in thinking
        assert f"▶ {screen.moment.action}" in thinking


async def test_a_garbage_checkpoint_is_one_notification_and_back(tmp_path):
    junk = tmp_path / "agent.pt"
    junk.write_bytes(b"not a checkpoint at all" * 10)
    app = AgentApp(runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.show_watch(junk)
        await wait_until(pilot, lambda: any("cannot load" in n.message
                                            for n in app._notifications))
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        (note,) = [n for n in app._notifications if "cannot load" in n.message]
        assert "\n" not in note.message and "Traceback" not in note.message
        app.show_watch(tmp_path / "no-such-run")  # neither a file nor a run
        await wait_until(pilot, lambda: len(app._notifications) == 2)
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))


def test_pacing_answers_steps_restarts_and_stop():
    pacing = Pacing(fps=1000.0, paused=True)
    pacing.step_once()
    assert pacing.wait_turn() == "step"
    pacing.restart()
    assert pacing.wait_turn() == "restart"
    pacing.toggle_pause()
    assert pacing.wait_turn() == "step"  # unpaused: after 1 ms
    pacing.stop()
    assert pacing.wait_turn() is None


def test_observation_values_are_named_for_the_games_that_name_them():
    from agentapp.rendering.state_view import observation_names

    assert observation_names("cartpole", 4)[2] == "pole angle"
    assert observation_names("gym:Foo-v0", 3) == ["x[0]", "x[1]", "x[2]"]


async def test_a_map_taller_than_the_room_is_drawn_to_fit(runs_root):
    maze = train(runs_root, RunConfig(game="gridworld:maze", algo="value-iteration", seed=0,
                                      runs_dir=str(runs_root)))
    app = AgentApp(runs_dir=runs_root)
    async with app.run_test(size=(100, 13)) as pilot:
        screen = await open_watch(pilot, maze)
        picture = screen.query_one("#picture")
        room = picture.content_size
        drawn = picture.content
        assert isinstance(drawn, GridPicture) and drawn.max_height == room.height

        def lines(renderable) -> int:
            console = Console(width=room.width, record=True, file=io.StringIO())
            console.print(renderable)
            return len(console.export_text().rstrip("\n").splitlines())

        full = GridPicture(drawn.grid, values=drawn.values, policy=drawn.policy,
                           agent=drawn.agent)
        assert lines(full) > room.height  # whole, the maze would be cut at the panel's edge
        assert lines(drawn) <= room.height
