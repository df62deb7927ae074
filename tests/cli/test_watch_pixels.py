"""``agentapp watch`` for games drawn from their own RGB frames, and ``--record FILE``.

One small CartPole agent is trained once through the CLI for the whole module; the runner's
stdout is not a terminal, so watch prints each episode's last frame and result without waiting.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest
from typer.testing import CliRunner

from agentapp.rendering.pixels import UPPER_HALF

RESULT = re.compile(r"^episode (\d+): return (\S+) in (\d+) steps$", re.MULTILINE)
CARTPOLE_FPS = 50  # CartPole-v1's metadata["render_fps"]: what a recording plays back at


class _Blind(gym.Env):
    """A two-step game with nothing to look at: no render modes at all."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, render_mode: str | None = None) -> None:
        self.observation_space = gym.spaces.Discrete(3)
        self.action_space = gym.spaces.Discrete(2)
        self.render_mode = render_mode
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return 0, {}

    def step(self, action):
        self.t += 1
        return self.t, float(action), self.t >= 2, False, {}

    def get_state(self) -> dict[str, int]:  # tabular checkpoints snapshot the env
        return {"t": self.t}

    def set_state(self, state: dict[str, int]) -> None:
        self.t = int(state["t"])


BLIND_ID = "AgentappBlindTest-v0"
if BLIND_ID not in gym.registry:
    gym.register(BLIND_ID, entry_point=_Blind)


def _invoke(*args: Any):
    from agentapp.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def _train(runs: Path, *args: str) -> Path:
    result = _invoke("train", *args, "--headless", "--runs-dir", runs)
    assert result.exit_code == 0, result.output + result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def cartpole_run(tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    return _train(runs, "cartpole", "--algo", "ppo", "--steps", "512", "--seed", "0",
                  "--eval-episodes", "1", "--envs", "4", "--set", "n_steps=16",
                  "--set", "batch_size=32", "--set", "n_epochs=2")


def _steps(stdout: str) -> list[int]:
    return [int(m.group(3)) for m in RESULT.finditer(stdout)]


def test_watch_prints_each_episodes_last_frame_and_result(cartpole_run):
    result = _invoke("watch", cartpole_run, "--episodes", "2")
    assert result.exit_code == 0, result.output
    assert len(_steps(result.stdout)) == 2
    assert [int(m.group(1)) for m in RESULT.finditer(result.stdout)] == [1, 2]
    frame_lines = [line for line in result.stdout.splitlines() if line.startswith(UPPER_HALF)]
    assert len(frame_lines) >= 10  # two pictures, each many lines of half blocks
    assert "episode 2/2 · step" in result.stdout and "mean return" in result.stdout
    # the caption names the last action by the game's own name for it
    assert re.search(r"· (left|right) \+1\.00", result.stdout)


def test_the_same_seed_plays_the_same_episodes(cartpole_run):
    one = _invoke("watch", cartpole_run, "--episodes", "2", "--seed", "7")
    two = _invoke("watch", cartpole_run, "--episodes", "2", "--seed", "7")
    assert _steps(one.stdout) == _steps(two.stdout)


def test_record_writes_a_gif_of_every_step_at_the_games_speed(cartpole_run, tmp_path):
    iio = pytest.importorskip("imageio.v3")
    gif = tmp_path / "out.gif"
    result = _invoke("watch", cartpole_run, "--episodes", "2", "--seed", "3", "--record", gif)
    assert result.exit_code == 0, result.output
    expected = sum(n + 1 for n in _steps(result.stdout))  # the reset frame, then one per step
    assert f"recorded {expected} frames to {gif}" in result.stdout
    frames = iio.imread(gif, index=None)
    assert frames.shape[1:3] == (400, 600)
    # Pillow folds a frame identical to the one before into it, lengthening that one's
    # duration, so the play time is what says that every step was kept
    assert 2 <= len(frames) <= expected
    with iio.imopen(gif, "r", plugin="pillow") as file:
        total_ms = sum(file.metadata(index=i)["duration"] for i in range(len(frames)))
    assert total_ms == pytest.approx(expected * 1000 / CARTPOLE_FPS)
    # the first frame is CartPole's own picture of the state that seed 3 resets to
    env = gym.make("CartPole-v1", render_mode="rgb_array")
    env.reset(seed=3)
    first = env.render().astype(int)
    env.close()
    assert np.abs(frames[0, :, :, :3].astype(int) - first).mean() < 2  # a GIF palette is close


def test_record_writes_an_mp4_when_pyav_is_there(cartpole_run, tmp_path):
    iio = pytest.importorskip("imageio.v3")
    pytest.importorskip("av")
    video = tmp_path / "out.mp4"
    result = _invoke("watch", cartpole_run, "--record", video)
    assert result.exit_code == 0, result.output
    expected = sum(n + 1 for n in _steps(result.stdout))
    frames = iio.imread(video, plugin="pyav")
    assert frames.shape == (expected, 400, 600, 3)  # a video keeps repeated frames
    assert iio.immeta(video, plugin="pyav")["fps"] == CARTPOLE_FPS


def test_record_a_gridworld_episode(tmp_path):
    pytest.importorskip("imageio")
    run = _train(tmp_path / "runs", "gridworld:cliff", "--algo", "q-learning", "--seed", "1")
    gif = tmp_path / "grid.gif"
    result = _invoke("watch", run, "--record", gif, "--fps", "1000")
    assert result.exit_code == 0, result.output
    assert "return -13.000 in 13 steps" in result.stdout and "●" in result.stdout
    assert "recorded 14 frames" in result.stdout and gif.stat().st_size > 0


def _refused(result, says: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert says in lines[0], lines[0]


def test_record_refuses_a_file_type_it_cannot_write(cartpole_run, tmp_path):
    _refused(_invoke("watch", cartpole_run, "--record", tmp_path / "out.txt"), ".gif or .mp4")
    assert not (tmp_path / "out.txt").exists()


def test_record_without_imageio_is_one_clear_line(cartpole_run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio", None)  # find_spec says: not installed
    _refused(_invoke("watch", cartpole_run, "--record", tmp_path / "out.gif"),
             "pip install imageio")


def test_a_game_without_rgb_frames_is_refused(tmp_path):
    run = _train(tmp_path / "runs", f"gym:{BLIND_ID}", "--algo", "q-learning", "--steps", "20",
                 "--seed", "0")
    _refused(_invoke("watch", run), "renders no RGB frames")


def test_ctrl_c_exits_130_and_keeps_what_was_recorded(cartpole_run, tmp_path, monkeypatch):
    pytest.importorskip("imageio")
    from agentapp.rendering import pixels

    def interrupt(self, *args, **kwargs):  # Ctrl+C while the first episode's end is drawn
        raise KeyboardInterrupt

    monkeypatch.setattr(pixels.PixelFrame, "__init__", interrupt)
    gif = tmp_path / "cut.gif"
    result = _invoke("watch", cartpole_run, "--episodes", "3", "--record", gif)
    assert result.exit_code == 130, result.output
    assert _steps(result.stdout) == [] and "Traceback" not in result.output
    assert gif.stat().st_size > 0
