"""The continuous-action games on the command line: listed with the methods that fit them, value
methods refused with one line naming those, and a Pendulum agent trained with the game's default
method, then evaluated and watched (recorded) without a terminal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import refused

CONTINUOUS = ("pendulum", "mountaincar-continuous")
POLICY_METHODS = {"reinforce", "a2c", "ppo"}


def test_list_shows_the_continuous_games_with_the_policy_methods(cli):
    result = cli("list", "--json")
    assert result.exit_code == 0, result.output
    games = {g["id"]: g for g in json.loads(result.stdout)["games"]}
    for name in CONTINUOUS:
        game = games[name]
        assert "continuous-actions" in game["capabilities"]
        assert "discrete-actions" not in game["capabilities"]
        assert set(game["algorithms"]) >= POLICY_METHODS
        assert not {"dqn", "q-learning", "linear-q"} & set(game["algorithms"])
        assert game["default_algo"] in game["algorithms"]
        assert "in [-" in game["actions"][0]  # the action's meaning and range
        assert "continuous" in game["unsuitable"]["dqn"]


@pytest.mark.parametrize("algo", ["dqn", "q-learning", "sarsa", "linear-q", "value-iteration"])
def test_value_methods_are_refused_on_pendulum_naming_the_methods_that_fit(cli, runs_dir, algo):
    line = refused(cli, runs_dir, "train", "pendulum", "--algo", algo, "--headless",
                   "--steps", "100", says="continuous actions")
    suits = line.split("pendulum suits:")[1]
    assert {name.strip() for name in suits.split(",")} >= POLICY_METHODS
    assert algo not in suits.split(",")


def test_pendulum_trains_with_its_default_method_then_evaluates_and_records(cli, runs_dir,
                                                                            tmp_path):
    result = cli("train", "pendulum", "--seed", "0", "--headless", "--steps", "256",
                 "--envs", "2", "--set", "n_steps=64", "--set", "n_epochs=1",
                 "--set", "max_episode_steps=50", "--eval-episodes", "1")
    assert result.exit_code == 0, result.output
    run = Path(result.stdout.strip().splitlines()[-1])
    config = json.loads((run / "config.json").read_text())
    assert config["algo"] == "ppo"

    result = cli("eval", str(run), "--episodes", "2", "--stochastic", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["episodes"] == 2 and all(-1000 < r < 0 for r in report["returns"])
    assert report["lengths"] == [50, 50]  # the run's game settings are kept

    gif = tmp_path / "pendulum.gif"
    result = cli("watch", str(run), "--record", str(gif))
    assert result.exit_code == 0, result.output
    assert "episode 1: return" in result.stdout
    assert "recorded 51 frames" in result.stdout  # the first picture and one per step
    assert gif.read_bytes()[:6] == b"GIF89a"
    # the caption names the action by its value: a torque in [-2, 2]
    assert "step 50 · return" in result.stdout and " · [" in result.stdout
