"""Frames drawn through kitty / sixel image protocols (``rendering/graphics.py``).

textual-image asks the terminal what it speaks when it is imported, and its kitty pictures write
straight to the process's stdout, so everything that loads it runs in a fresh interpreter whose
stdin and stdout are pipes: nothing is asked, cells are 10x20 pixels (its default), and what the
renderables write can be read back.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from agentapp.errors import UserError
from agentapp.rendering.graphics import check_choice, fit_pixels, fitted_image


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120)


def test_choices_are_checked_and_cells_is_the_default():
    assert check_choice(None) == check_choice("") == "cells"
    assert check_choice(" Kitty ") == "kitty" and check_choice("AUTO") == "auto"
    with pytest.raises(UserError, match="choose one of cells, auto, kitty, sixel"):
        check_choice("iterm")


def test_small_frames_grow_by_whole_factors_and_big_ones_shrink():
    # Atari 210x160 in 62x27 cells of 10x20 px: 3.875 wide, 2.57 tall -> x2, sharp pixels
    assert fit_pixels(210, 160, (620, 540)) == (420, 320)
    # CartPole 400x600 in 300x400 px: x0.5
    assert fit_pixels(400, 600, (300, 400)) == (200, 300)
    assert fit_pixels(3, 3, (1, 1)) == (1, 1)


def test_fitted_image_repeats_pixels_and_centres_them_on_black():
    image = np.array([[[255, 0, 0], [0, 255, 0]]], dtype=np.uint8)  # 1x2: red, green
    picture = np.asarray(fitted_image(image, cols=1, lines=1, cell=(4, 3)))
    assert picture.shape == (3, 4, 3)
    # 4/2 = 2 wide, 3/1 = 3 tall -> x2: a 2x4 picture, one black row left under it
    assert (picture[:2, :2] == [255, 0, 0]).all() and (picture[:2, 2:] == [0, 255, 0]).all()
    assert (picture[2] == 0).all()


def test_the_default_path_never_loads_textual_image():
    done = _python("""
        import sys
        import agentapp.cli.watch_cmd, agentapp.tui.screens.watch
        from agentapp.rendering import graphics
        # cells asks nothing; auto without a terminal (stdin and stdout are pipes) neither
        assert graphics.choose("cells") == graphics.choose("auto") == "cells"
        print("textual_image" in sys.modules)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_sixel_and_kitty_pictures_start_with_their_escape_sequences():
    pytest.importorskip("textual_image")
    done = _python(r"""
        import io, json, sys
        import numpy as np
        from rich.console import Console
        from agentapp.rendering.graphics import ImageFrame

        frame = np.zeros((210, 160, 3), np.uint8)
        frame[100:110, 70:90] = (200, 72, 72)
        result = {}
        for protocol in ("sixel", "kitty"):
            out = io.StringIO()
            console = Console(file=out, force_terminal=True, width=80, height=24)
            picture = ImageFrame(protocol, frame, max_width=40, max_height=23, caption="hi")
            result[protocol] = {"cells": picture.cells(80, 24), "text": out.getvalue()}
            sys.stdout.flush()
            console.print(picture)
            result[protocol]["text"] = out.getvalue()
        sys.stdout.write("\nRESULT" + json.dumps(result))
    """)
    assert done.returncode == 0, done.stderr
    written, _, data = done.stdout.rpartition("\nRESULT")
    result = json.loads(data)
    # sixel: 23 lines less the caption's and one it keeps for drawing the picture from below:
    # 40x21 cells of 10x20 px = 400x420 px, where 160x210 grows x2 to 320x420: 32x21 cells
    assert result["sixel"]["cells"] == [32, 21]
    sixel = result["sixel"]["text"]
    assert sixel.count("\x1bP") == 1 and "\x1b\\" in sixel
    assert sixel[sixel.index("\x1bP"):].split("q", 1)[0][2:].replace(";", "").isdigit()
    assert sixel.rstrip("\n").endswith("hi")
    # kitty: the image goes to the terminal itself (PNG, in chunks), the console gets one
    # placeholder character per cell; it needs no extra line, but 40x22 cells (400x440 px)
    # still take x2 only
    assert result["kitty"]["cells"] == [32, 21]
    assert written.startswith("\x1b_G") and "f=100" in written.split(";", 1)[0]
    kitty_lines = result["kitty"]["text"].splitlines()
    assert len(kitty_lines) == 22 and kitty_lines[-1].endswith("hi")
    assert all(line.count("\U0010eeee") == 32 for line in kitty_lines[:21])
