"""``agentapp watch`` in a real terminal: keys act at once, and the terminal is left exactly as it
was found, whether the user quits with ``q``, interrupts with Ctrl+C, or the episodes end.

Each test runs ``agentapp watch`` as a subprocess on a pseudo terminal (its stdin, stdout and
stderr), reads what it draws from the master side, types keys into it, and afterwards compares
the terminal's settings with those from before the start and checks the cursor was shown again.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.terminal import Terminal

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo terminals are POSIX")

HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"


@pytest.fixture(scope="module")
def gridworld_run(tmp_path_factory) -> tuple[Path, Path]:
    """A trained cliff-walking agent (value iteration: a second): (runs folder, run folder)."""
    root = tmp_path_factory.mktemp("runs")
    done = subprocess.run(
        [sys.executable, "-m", "agentapp", "train", "gridworld:cliff", "--algo",
         "value-iteration", "--seed", "0", "--headless", "--runs-dir", str(root)],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return root, Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def terminal():
    opened: list[Terminal] = []

    def start(*args: str) -> Terminal:
        opened.append(Terminal("watch", *args))
        return opened[-1]

    yield start
    for term in opened:
        term.close()


def _cursor_shown_at_the_end(output: str) -> bool:
    return HIDE_CURSOR in output and output.rfind(SHOW_CURSOR) > output.rfind(HIDE_CURSOR)


def test_keys_pause_change_speed_and_quit(gridworld_run, terminal):
    root, run = gridworld_run
    term = terminal(str(run), "--runs-dir", str(root), "--episodes", "1000", "--fps", "8")
    term.read_until(r"8 fps · space pause")
    assert not term.restored()  # while watching, keys come one by one, unechoed
    term.type(" ")
    term.read_until("PAUSED")
    term.type("+")
    term.type(" ")
    term.read_until(r"16 fps")
    term.type("-")
    term.type("-")
    term.read_until(r"4 fps")
    term.type("q")
    assert term.finish() == 0
    assert "stopped watching in episode" in term.output
    assert term.restored()
    assert _cursor_shown_at_the_end(term.output)


def test_steps_one_picture_at_a_time_while_paused(gridworld_run, terminal):
    root, run = gridworld_run
    term = terminal(str(run), "--runs-dir", str(root), "--fps", "4")
    term.read_until(r"step 0\s")
    term.type(" ")
    term.read_until("PAUSED")
    for n in (1, 2, 3):
        term.type("n")
        term.read_until(rf"step {n}\s")
    time.sleep(1.0)  # paused: nothing moves on by itself
    term._pump(0.1)
    assert not re.search(r"step 4\s", term.output)
    term.type("q")
    assert term.finish() == 0 and term.restored()


def test_beside_the_game_the_figures_and_what_the_agent_thinks(gridworld_run, terminal):
    root, run = gridworld_run
    term = terminal(str(run), "--runs-dir", str(root), "--fps", "50")
    start = len(term.output)
    term.read_until(r"step 3\s", timeout=60)
    term.read_until(r"V\(s\)")  # the panel's last line: that picture has arrived whole
    shown = term.output[start:]
    assert "episode 1/1" in shown and "score -3.00" in shown and "action right" in shown
    assert "action values Q(s,a)" in shown  # value iteration: Q from its V
    term.type("q")
    assert term.finish() == 0


def test_ctrl_c_leaves_the_terminal_as_it_found_it(gridworld_run, terminal):
    root, run = gridworld_run
    term = terminal(str(run), "--runs-dir", str(root), "--episodes", "1000", "--fps", "20")
    term.read_until(r"fps · space pause")
    term.proc.send_signal(signal.SIGINT)
    assert term.finish() == 130
    assert term.restored()
    assert _cursor_shown_at_the_end(term.output)
    assert "Traceback" not in term.output


def test_the_end_of_the_episodes_restores_the_terminal(gridworld_run, terminal):
    root, run = gridworld_run
    term = terminal(str(run), "--runs-dir", str(root), "--episodes", "2", "--fps", "200")
    assert term.finish() == 0
    assert term.output.count("episode 2: return") == 1
    assert term.restored() and _cursor_shown_at_the_end(term.output)


def test_watch_pong_shows_the_shipped_agent_at_every_emulated_frame(tmp_path, terminal):
    """No Pong run: the shelf's agent plays, at the game's natural 60 pictures a second (the
    agent acts on every 4th), in colour half blocks."""
    term = terminal("pong", "--runs-dir", str(tmp_path))
    term.read_until(r"60 fps · space pause", timeout=90)
    term.type("q")
    assert term.finish() == 0 and term.restored()
    assert "watching the ppo agent that ships with agentapp (pong-ppo.pt" in term.output
    assert "\x1b[38;2;" in term.output or "\x1b[38;5;" in term.output  # coloured cells
