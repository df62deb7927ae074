"""The dashboard's live view for every game the watch screen can draw: the engine sends the first
training environment's observation (pixel games: a picture) and the panel draws it with the
watch screen's painter. Engine halves train for real on tiny budgets; TUI halves feed scripted
frames to a real dashboard (or a bare app holding the widget) under ``App.run_test()``."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
from rich.align import Align
from rich.console import Console, Group
from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.strip import Strip

from agentapp.engine import loop as loop_module
from agentapp.engine import train
from agentapp.engine.control import Control
from agentapp.engine.events import Frame, RunStarted
from agentapp.engine.plan import RunConfig
from agentapp.games import resolve
from agentapp.rendering.gridworld import AGENT_RGB, HALF_BLOCK, WALL_GLYPH, GridPicture
from agentapp.tui.screens.dashboard import DashboardScreen
from agentapp.tui.widgets.live_view import NOT_AVAILABLE, LiveView

SIZE = (120, 40)
AGENT = "●"


def _frames(runs_dir, game: str, algo: str, steps: int, live_view: bool = True, **overrides):
    config = RunConfig(game=game, algo=algo, steps=steps, seed=0, envs=1, device="cpu",
                       overrides=overrides, eval_every=10**9, eval_episodes=1,
                       runs_dir=str(runs_dir), live_view=live_view)
    return [e for e in train(config) if isinstance(e, Frame)]


def _first_frames(runs_dir, game: str, algo: str, count: int, steps: int,
                  **overrides) -> list[Frame]:
    """The first *count* frames of a run of at most *steps*, stopped as soon as they came (so
    the test waits for frames, not for a clock, and a run that sends none still ends)."""
    config = RunConfig(game=game, algo=algo, steps=steps, seed=0, envs=1, device="cpu",
                       overrides=overrides, eval_every=10**9, eval_episodes=1,
                       save_every=10**9, runs_dir=str(runs_dir), live_view=True)
    control, frames = Control(), []
    for event in train(config, control):
        if isinstance(event, Frame) and len(frames) < count:
            frames.append(event)
            if len(frames) == count:
                control.stop()
    return frames


def _placed_as_observed(frames: list[Frame], game: str) -> set[int]:
    """The cells *frames* put the agent on, each checked against the frame's observation (the
    aliased map observes only the walls around the agent: ``info`` alone says which cell)."""
    env = resolve(game).make().unwrapped
    for frame in frames:
        assert frame.image is None
        assert int(frame.observation) == env.observe(frame.info["cell"])  # the same moment
    return {frame.info["cell"] for frame in frames}


@pytest.fixture
def every_iteration(monkeypatch):
    """A frame after every training iteration, so that a run of a few hundred steps sends many."""
    monkeypatch.setattr(loop_module, "FRAME_INTERVAL", 0.0)


# -- the engine ---------------------------------------------------------------------------------

def test_cartpole_training_sends_its_state(runs_dir, every_iteration):
    frames = _frames(runs_dir, "cartpole", "ppo", 256, n_steps="64", batch_size="64",
                     n_epochs="1")
    assert len(frames) >= 3
    space = resolve("cartpole").make().observation_space
    for frame in frames:
        assert frame.image is None and frame.info == {}
        assert frame.observation.shape == (4,) and space.contains(frame.observation)
    # the state of the game being played, moving on: not one observation sent again and again
    assert len({frame.observation.tobytes() for frame in frames}) == len(frames)


@pytest.mark.parametrize(("algo", "settings"), [
    ("q-learning", {}),
    ("dqn", {"learning_starts": "50"}),
    # environments in worker processes: the cell comes with the step's infos
    ("dqn", {"learning_starts": "50", "async_envs": "true"}),
    ("ppo", {"n_steps": "16", "batch_size": "16", "n_epochs": "1", "async_envs": "true"}),
])
def test_gridworld_training_sends_the_agents_cell(runs_dir, every_iteration, algo, settings):
    frames = _frames(runs_dir, "gridworld:aliased", algo, 300, **settings)
    assert len(frames) >= 3
    assert len(_placed_as_observed(frames, "gridworld:aliased")) > 1, "the agent walks"


def test_a3c_shows_the_game_its_first_worker_plays(runs_dir, every_iteration):
    # the main process plays no game: worker 0 sends its own, cell and all, with its reports
    frames = _first_frames(runs_dir, "gridworld:aliased", "a3c", 3, 10_000, workers="1")
    assert len(frames) == 3
    assert [f.step for f in frames] == sorted({f.step for f in frames})  # each a new moment
    assert len(_placed_as_observed(frames, "gridworld:aliased")) > 1, "the agent walks"


def test_frames_only_when_asked_and_never_from_a_planner(runs_dir, every_iteration):
    assert _frames(runs_dir, "gridworld:classic", "q-learning", 200, live_view=False) == []
    assert _frames(runs_dir, "gridworld:classic", "value-iteration", 5) == []


def test_a_frame_crosses_a_process_boundary():
    frame = Frame(7, observation=np.array([0.1, -0.2, 0.03, 0.4], dtype=np.float32),
                  info={"cell": 3})
    copy = pickle.loads(pickle.dumps(frame))
    assert (copy.step, copy.info, copy.image) == (7, {"cell": 3}, None)
    assert np.array_equal(copy.observation, frame.observation)
    picture = pickle.loads(pickle.dumps(Frame(8, np.zeros((2, 3, 3), dtype=np.uint8))))
    assert picture.image.shape == (2, 3, 3) and picture.observation is None


# -- the panel ----------------------------------------------------------------------------------

def _text(view: LiveView) -> str:
    """What the panel shows, as plain text, at its size on the screen."""
    size = view.content_size
    console = Console(width=size.width, height=size.height, file=io.StringIO(), record=True,
                      color_system=None)
    console.print(view.render())
    return console.export_text()


def _started(game: str, **game_params) -> RunStarted:
    """How a run starts, its config as ``config.json`` holds it."""
    config = {"game": game, "algo": "q-learning", "step_unit": "steps",
              "game_params": game_params}
    return RunStarted("runs/x", config, 0, 1000, "cpu", 0.0)


async def _dashboard_live_view(pilot, wait_for, count: int) -> LiveView:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen)
                   and pilot.app.screen.events_seen == count)
    await pilot.pause()
    return pilot.app.screen.query_one(LiveView)


async def test_dashboard_draws_cartpole_from_its_state(make_app, wait_for):
    state = np.array([0.5, 0.1, 0.1, -0.2], dtype=np.float32)
    events = [_started("cartpole", max_episode_steps=500), Frame(1234, observation=state)]
    async with make_app(events).run_test(size=SIZE) as pilot:
        view = await _dashboard_live_view(pilot, wait_for, len(events))
        text = _text(view)
    assert view.frames == 1
    assert NOT_AVAILABLE not in text
    assert "├" in text and "┤" in text  # the track between its limits, under the cart and pole
    assert "pole angle" in text and "step 1,234" in text


def _agent_line(text: str) -> int:
    """The line the agent is drawn on (the legend's ``● agent`` excepted)."""
    return next(i for i, line in enumerate(text.splitlines())
                if AGENT in line and "agent" not in line)


async def test_dashboard_puts_the_agent_on_the_cell_it_is_on(make_app, wait_for):
    # the classic map is 3 rows x 4 columns: cell 0 is the top-left corner, cell 8 the start below
    top = Frame(10, observation=np.array(5), info={"cell": 0})
    start = Frame(11, observation=np.array(5), info={"cell": 8})
    events = [_started("gridworld:classic", obs="walls", slip=0.0), top]
    async with make_app(events).run_test(size=SIZE) as pilot:
        view = await _dashboard_live_view(pilot, wait_for, len(events))
        on_top = _text(view)
        assert view.show_frame(start)
        await pilot.pause()
        on_start = _text(view)
    assert NOT_AVAILABLE not in on_top and "step 10" in on_top and "step 11" in on_start
    assert _agent_line(on_start) - _agent_line(on_top) == 2  # two rows down, same observation


class _Panel(App):
    def compose(self) -> ComposeResult:
        yield LiveView()


async def test_pictures_still_drawn_and_what_cannot_be_drawn_is_refused():
    image = np.zeros((40, 60, 3), dtype=np.uint8)
    image[10:30, 25:35] = (250, 200, 0)
    app = _Panel()
    async with app.run_test(size=(40, 16)) as pilot:
        view = app.query_one(LiveView)
        # an observation before the run said which game it is: no painter, the sentence stays
        assert not view.show_frame(Frame(1, observation=np.zeros(4)))
        assert str(view.render()) == NOT_AVAILABLE
        assert view.show_frame(Frame(2, image))
        await pilot.pause()
        assert "step 2" in _text(view) and "▀" in _text(view)
        assert not view.show_frame(Frame(3, np.zeros((4, 4, 2), dtype=np.uint8)))
        view.prepare({"game": "gridworld:classic"})
        assert not view.show_frame(Frame(4, observation=np.array(3)))  # no cell to stand on
        view.prepare({"game": "no-such-game"})
        assert not view.show_frame(Frame(5, observation=np.zeros(4)))
        assert view.frame.step == 2 and view.frames == 1


# -- maps bigger than the panel -----------------------------------------------------------------

GOLD = AGENT_RGB


class _Sized(App):
    """The panel alone, at a size a test sets (and changes)."""

    CSS = "LiveView { width: 26; height: 8; }"

    def compose(self) -> ComposeResult:
        yield LiveView()


def _drawn(view: LiveView) -> list[Strip]:
    """The lines the panel draws on the screen (what is cut off is not in them)."""
    return view.render_lines(Region(0, 0, *view.outer_size))


def _agent_spots(strips: list[Strip]) -> list[tuple[int, int, str]]:
    """``(line, column, "fg" or "bg")`` of every character coloured like the agent."""
    spots = []
    for y, strip in enumerate(strips):
        x = 0
        for segment in strip:
            style = segment.style
            for part, colour in (("fg", style and style.color), ("bg", style and style.bgcolor)):
                if colour and tuple(colour.get_truecolor()) == GOLD:
                    spots.extend((y, x + i, part) for i in range(segment.cell_length))
            x += segment.cell_length
    return spots


def _maze_frame(cell: int) -> Frame:
    return Frame(5, observation=np.array(cell), info={"cell": cell})


async def test_a_map_taller_than_the_panel_is_drawn_in_half_blocks_around_the_agent():
    # the maze is 11 x 11; cell 108 (row 9, column 9) is next to the goal, at the bottom
    app = _Sized()
    async with app.run_test(size=(60, 30)) as pilot:
        view = app.query_one(LiveView)
        view.prepare({"game": "gridworld:maze"})
        assert view.show_frame(_maze_frame(108))
        await pilot.pause()
        half = _drawn(view)
        view.styles.width, view.styles.height = 8, 5  # not even half blocks fit now
        assert view.show_frame(_maze_frame(60))  # row 5, column 5: the middle
        await pilot.pause()
        window = _drawn(view)
    text = [strip.text for strip in half]
    assert any("step 5" in line for line in text)  # the caption is not cut off
    top = next(y for y, line in enumerate(text) if HALF_BLOCK in line)
    left = text[top].index(HALF_BLOCK)
    assert sum(HALF_BLOCK in line for line in text) == 6  # 11 rows, two a line
    assert text[top].count(HALF_BLOCK) == 11  # a column a cell
    # row 9 is the lower half of the grid's fifth line: the agent's colour is its background
    assert [(y - top, x - left, part) for y, x, part in _agent_spots(half)] == [(4, 9, "bg")]
    assert len(window) == 5 and any("step 5" in strip.text for strip in window)
    assert all(strip.text.count(HALF_BLOCK) <= 8 for strip in window)
    assert len(_agent_spots(window)) == 1  # the part of the maze around the agent


async def test_the_dashboard_shows_the_whole_maze_and_its_step(make_app, wait_for):
    events = [_started("gridworld:maze"), _maze_frame(108)]
    async with make_app(events).run_test(size=SIZE) as pilot:
        view = await _dashboard_live_view(pilot, wait_for, len(events))
        text = [strip.text for strip in _drawn(view)]
    assert any("step 5" in line for line in text)
    assert sum(WALL_GLYPH * 22 in line for line in text) == 2  # the top and bottom walls
    assert any(AGENT in line for line in text)


async def test_a_map_that_fits_looks_as_the_watch_screen_draws_it():
    app = _Sized()
    async with app.run_test(size=(60, 30)) as pilot:
        view = app.query_one(LiveView)
        view.styles.width, view.styles.height = 44, 16
        view.prepare({"game": "gridworld:maze"})
        assert view.show_frame(_maze_frame(108))
        await pilot.pause()
        shown = _text(view)
        size = view.content_size
    grid = resolve("gridworld:maze").make().unwrapped.grid
    unfitted = Align.center(Group(GridPicture(grid, agent=108), Text("step 5")),
                            vertical="middle")
    console = Console(width=size.width, height=size.height, file=io.StringIO(), record=True,
                      color_system=None)
    console.print(unfitted)
    assert shown == console.export_text()
    assert "agent" in shown and HALF_BLOCK not in shown  # the legend, the full-size cells
