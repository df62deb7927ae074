"""The watch screen with a terminal image protocol: textual-image's widget for pixel games.

Under ``App.run_test`` there is no terminal to ask, so the protocol the launcher would have chosen
is given to the app (``AgentApp(graphics=...)``). The pixel game is Pong from a run of a few
steps (its games cut at 100 emulator frames so the run's evaluation is short).
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agentapp.engine.plan import RunConfig
from agentapp.errors import UserError
from agentapp.rendering import graphics
from agentapp.rendering.pixels import PixelFrame
from agentapp.tui.app import AgentApp
from tests.tui.conftest import wait_until
from tests.tui.test_watch import open_watch, text_of, train

pytest.importorskip("textual_image")

SIZE = (120, 40)
SHIPPED_CARTPOLE = Path(__file__).parents[2] / "agentapp" / "models" / "cartpole-ppo.pt"


@pytest.fixture(scope="module")
def pong_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("watch-graphics") / "runs"
    return train(root, RunConfig(
        game="pong", algo="ppo", steps=16, envs=1, seed=0, eval_episodes=1, runs_dir=str(root),
        overrides={"n_steps": "16", "batch_size": "16", "n_epochs": "1", "max_frames": "100"}))


@pytest.mark.parametrize("protocol", ["sixel", "kitty"])
async def test_a_pixel_game_is_drawn_in_textual_images_widget(pong_run, protocol):
    from textual_image.widget import SixelImage, TGPImage

    app = AgentApp(runs_dir=pong_run.parent, graphics=protocol)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_watch(pilot, pong_run, fps=60)
        await wait_until(pilot, lambda: screen.image is not None
                         and screen.image.image is not None)
        widget = screen.image
        assert type(widget) is (SixelImage if protocol == "sixel" else TGPImage)
        assert not screen.query_one("#picture").display  # the half blocks make way
        # the frame fitted to exactly the widget's cells: textual-image scales nothing
        size, cell = widget.content_size, graphics.cell_pixels()
        assert widget.image.size == (size.width * cell[0], size.height * cell[1])
        pixels = np.asarray(widget.image)
        assert pixels.any() and (pixels[0, 0] == 0).all()  # Pong's picture, centred on black
        first, step = widget.image, screen.moment.step
        await wait_until(pilot, lambda: screen.moment.step > step + 2)
        await pilot.pause()
        assert widget.image is not first  # each new frame is handed to the widget
        await pilot.press("space")
        await pilot.pause(0.2)  # a step already under way may still land
        held = widget.image
        await pilot.press("minus")  # a key redraws the same frame: nothing is sent again
        await pilot.pause()
        assert widget.image is held


async def test_without_a_protocol_a_pixel_game_is_half_blocks(pong_run):
    app = AgentApp(runs_dir=pong_run.parent)  # graphics="cells", the default
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_watch(pilot, pong_run, fps=60)
        await wait_until(pilot, lambda: isinstance(screen.query_one("#picture").content,
                                                   PixelFrame))
        assert screen.image is None and not screen.query("#frame-image")


async def test_a_game_drawn_from_its_state_ignores_the_protocol(tmp_path):
    app = AgentApp(runs_dir=tmp_path, graphics="sixel")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_watch(pilot, SHIPPED_CARTPOLE, fps=60)
        await wait_until(pilot, lambda: screen.moment.step >= 2)
        picture = screen.query_one("#picture")
        assert screen.image is None and picture.display and not screen.query("#frame-image")
        assert "pole angle" in text_of(picture)  # its observation's values, as without


def test_the_launcher_choice_is_never_fatal_but_a_bad_value_is_one_line():
    with pytest.raises(UserError, match="unknown graphics 'sixels'"):
        graphics.choose_for_app("sixels")
    # stdin and stdout are not a terminal here: asked-for protocols fall back to half blocks
    for value in (None, "", "cells", "auto", "kitty", "SIXEL"):
        assert graphics.choose_for_app(value) == "cells"


def test_a_bad_agentapp_graphics_stops_the_app_before_it_opens(tmp_path):
    leader, follower = pty.openpty()  # a terminal, so `agentapp` would open the app
    try:
        done = subprocess.run(
            [sys.executable, "-c", "from agentapp.cli import main; main()"],
            stdin=follower, stdout=follower, stderr=subprocess.PIPE, text=True, timeout=30,
            env={**os.environ, "AGENTAPP_GRAPHICS": "bogus"}, cwd=tmp_path)
    finally:
        os.close(follower)
        os.close(leader)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "agentapp: unknown graphics 'bogus': choose one of cells, auto, kitty, sixel "
        "(from --graphics or AGENTAPP_GRAPHICS)"]


def test_the_apps_default_path_never_loads_textual_image():
    code = ("import sys\n"
            "import agentapp.cli, agentapp.tui.app, agentapp.tui.screens.watch\n"
            "from agentapp.rendering.graphics import choose_for_app\n"
            "assert choose_for_app(None) == choose_for_app('auto') == 'cells'\n"
            "print('textual_image' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
