"""``agentapp watch --graphics``: kitty / sixel pictures where asked for and possible, one clear
line (exit 2) where asked for and not possible, and half blocks otherwise.

The CartPole agent that ships with agentapp is watched (an empty runs folder), so nothing is
trained. The terminal tests run watch on a pseudo terminal (``tests/terminal.py``); one of them
plays a sixel terminal: it gives the pseudo terminal a size in pixels and has the answer to the
"what do you speak" query (DA1, with 4 = sixel) typed in before the question is asked.
"""

from __future__ import annotations

import fcntl
import signal
import struct
import subprocess
import sys
import termios

import pytest
from typer.testing import CliRunner

from agentapp.rendering.pixels import UPPER_HALF
from tests.terminal import Terminal

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo terminals are POSIX")

SHOW_CURSOR = "\x1b[?25h"


def _invoke(*args: str, env: dict[str, str] | None = None):
    from agentapp.cli import app

    return CliRunner().invoke(app, list(args), env=env)


def _refused(code: int, stderr: str, says: str) -> None:
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert says in lines[0], lines[0]


@pytest.mark.parametrize("env", [None, {"AGENTAPP_GRAPHICS": "fancy"}])
def test_an_unknown_choice_is_one_line(tmp_path, env):
    args = ["watch", "cartpole", "--runs-dir", str(tmp_path)]
    result = _invoke(*args, *([] if env else ["--graphics", "fancy"]), env=env)
    _refused(result.exit_code, result.stderr, "choose one of cells, auto, kitty, sixel")


def test_without_textual_image_the_message_says_what_to_install(tmp_path):
    code = ("import sys; sys.modules['textual_image'] = None\n"
            "from agentapp.cli import app\n"
            f"app(['watch', 'cartpole', '--runs-dir', {str(tmp_path)!r}, '--graphics', 'kitty'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    _refused(done.returncode, done.stderr, "pip install 'agentapp[graphics]'")


def test_a_protocol_is_refused_when_stdout_is_not_a_terminal(tmp_path):
    pytest.importorskip("textual_image")
    result = _invoke("watch", "cartpole", "--runs-dir", str(tmp_path), "--graphics", "sixel")
    _refused(result.exit_code, result.stderr, "need a terminal")


def test_auto_without_a_terminal_draws_half_blocks(tmp_path):
    result = _invoke("watch", "cartpole", "--runs-dir", str(tmp_path), "--graphics", "auto")
    assert result.exit_code == 0, result.output
    assert UPPER_HALF * 10 in result.stdout and "\x1bP" not in result.stdout


@pytest.fixture
def terminal(tmp_path):
    opened: list[Terminal] = []

    def start(*args: str) -> Terminal:
        opened.append(Terminal("watch", "cartpole", "--runs-dir", str(tmp_path), *args))
        return opened[-1]

    yield start
    for term in opened:
        term.close()


def test_a_terminal_that_does_not_answer_is_refused_and_left_as_found(terminal):
    pytest.importorskip("textual_image")
    term = terminal("--graphics", "kitty")
    assert term.finish() == 2
    assert "this terminal does not answer to kitty graphics" in term.output
    assert term.restored()


def test_a_sixel_terminal_gets_sixel_pictures_and_is_left_as_found(terminal):
    pytest.importorskip("textual_image")
    term = terminal("--graphics", "auto", "--episodes", "1000", "--fps", "30")
    # 100x30 cells of 10x20 pixels, and the answer to the sixel question typed in ahead
    fcntl.ioctl(term.master, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 1000, 600))
    term.type("\x1b[?62;4c")
    term.read_until(r"\x1bP[0-9;]*q", timeout=90)  # a sixel picture: CartPole's own frame
    term.read_until(r"30 fps · space pause")
    term.type(" ")
    term.read_until("PAUSED")
    term.proc.send_signal(signal.SIGINT)
    assert term.finish() == 130
    assert term.restored() and term.output.rstrip().endswith(SHOW_CURSOR)
    assert "Traceback" not in term.output and UPPER_HALF not in term.output
