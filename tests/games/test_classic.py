"""The classic family: friendly names, any gymnasium id, capabilities and episode limits."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from agentapp.errors import UserError
from agentapp.games import catalogue, classic, resolve
from agentapp.games.classic import ClassicParams
from agentapp.games.registry import (
    BOX_OBS,
    CONTINUOUS_ACTIONS,
    DISCRETE_ACTIONS,
    DISCRETE_OBS,
    VECTOR_OBS,
)
from agentapp.params import apply_overrides, describe


class _ImageEnv(gym.Env):
    observation_space = spaces.Box(0, 255, shape=(8, 8, 3), dtype=np.uint8)
    action_space = spaces.Discrete(2)

    def __init__(self, render_mode=None):
        self.render_mode = render_mode


IMAGE_ID = "agentapp-test/ImageObs-v0"
if IMAGE_ID not in gym.registry:
    gym.register(IMAGE_ID, entry_point=_ImageEnv)


def test_friendly_name_and_classic_prefix_are_one_game():
    game = resolve("cartpole")
    assert resolve("classic:cartpole") == game == resolve(" CartPole ")
    assert game.id == "cartpole" and game.slug == "cartpole" and game.family == "classic"
    assert game.description == "Balance a pole on a cart (gymnasium CartPole-v1)"
    assert game.observation.startswith("Box(4,) cart position")
    assert game.actions == ("left", "right")
    assert game.default_algo == "ppo" and game.default_gamma(game.params) is None
    assert game.params == ClassicParams(max_episode_steps=500)
    assert game.capabilities() == {BOX_OBS, VECTOR_OBS, DISCRETE_ACTIONS}
    env = game.make()
    assert env.spec.id == "CartPole-v1" and env.spec.max_episode_steps == 500


@pytest.mark.parametrize(
    ("name", "env_id", "limit", "actions"),
    [
        ("acrobot", "Acrobot-v1", 500, ("-1 torque", "0", "+1 torque")),
        ("mountaincar", "MountainCar-v0", 200, ("left", "none", "right")),
    ],
)
def test_other_friendly_games(name, env_id, limit, actions):
    game = resolve(name)
    assert game.id == name and game.actions == actions
    assert game.params.max_episode_steps == limit
    env = game.make()
    assert env.spec.id == env_id and env.action_space.n == len(actions)


def test_listing_shows_the_friendly_games_in_order():
    ids = [g.id for g in catalogue() if g.family == "classic"]
    assert ids[:3] == ["cartpole", "acrobot", "mountaincar"]
    assert set(ids) <= {"cartpole", "acrobot", "mountaincar", "lunarlander", "pendulum",
                        "mountaincar-continuous"}
    assert {"pendulum", "mountaincar-continuous"} <= set(ids)


def test_lunarlander_without_box2d_is_unlisted_and_says_what_to_install(monkeypatch):
    monkeypatch.setattr(classic, "_importable", lambda module: module != "Box2D")
    assert "lunarlander" not in [g.id for g in catalogue()]
    with pytest.raises(UserError, match=r"lunarlander needs Box2D.*gymnasium\[box2d\]"):
        resolve("lunarlander")


def test_lunarlander_with_box2d():
    pytest.importorskip("Box2D")
    game = resolve("lunarlander")
    assert game.params.max_episode_steps == 1000 and len(game.actions) == 4
    assert "lunarlander" in [g.id for g in catalogue()]


@pytest.mark.filterwarnings("ignore:.*CartPole-v0 is out of date")
def test_any_gymnasium_id():
    game = resolve("gym:CartPole-v0")
    assert game.id == "gym:CartPole-v0" and game.slug == "gym-cartpole-v0"
    assert game.params.max_episode_steps == 200 and game.actions == ("0", "1")
    assert game.observation == "Box(4,) float32"
    known = resolve("gym:CartPole-v1")
    assert known.id == "gym:CartPole-v1" and known.actions == ("left", "right")
    assert resolve("gym:cartpole-v1").id == "gym:CartPole-v1"  # registered spelling
    assert resolve("gym:CartPole").id == "gym:CartPole-v1"  # newest version


def test_discrete_observations_and_continuous_actions():
    lake = resolve("gym:FrozenLake-v1")
    assert lake.capabilities() == {DISCRETE_OBS, VECTOR_OBS, DISCRETE_ACTIONS}
    assert lake.observation == "Discrete(16)" and lake.actions == ("0", "1", "2", "3")
    assert lake.params.max_episode_steps == 100
    pendulum = resolve("gym:Pendulum-v1")
    assert pendulum.capabilities() == {BOX_OBS, VECTOR_OBS, CONTINUOUS_ACTIONS}
    assert pendulum.actions == ("torque in [-2, 2]",)  # described as its friendly name is


def test_unknown_ids_suggest():
    with pytest.raises(UserError, match=r"unknown gymnasium id 'CartPol-v1' \(did you mean: Cart"):
        resolve("gym:CartPol-v1")
    with pytest.raises(UserError, match=r"did you mean: cartpole\?"):
        resolve("classic:cartpol")
    with pytest.raises(UserError, match=r"unknown game 'cartpol' \(did you mean: cartpole\b"):
        resolve("cartpol")
    with pytest.raises(UserError, match="name a gymnasium id"):
        resolve("gym:")
    with pytest.raises(UserError, match="one of cartpole, acrobot, mountaincar"):
        resolve("classic")


def test_unsupported_spaces_are_one_clear_line():
    with pytest.raises(UserError, match=r"observation space Tuple is not supported") as err:
        resolve("gym:Blackjack-v1")
    assert "\n" not in str(err.value)
    with pytest.raises(UserError, match=r"observation space Box\(8, 8, 3\) is not flat"):
        resolve(f"gym:{IMAGE_ID}")


def test_max_episode_steps_is_a_validated_setting_that_truncates():
    game = resolve("cartpole")
    [info] = describe(game.params)
    assert (info.name, info.default, info.low) == ("max_episode_steps", 500, 1)
    params = apply_overrides(game.params, {"max_episode_steps": "7"})
    assert dataclasses.replace(game.params, max_episode_steps=7) == params
    env = game.make(params)
    env.reset(seed=0)
    flags = [env.step(i % 2)[2:4] for i in range(7)]
    assert flags == [(False, False)] * 6 + [(False, True)]
    with pytest.raises(UserError, match=">= 1"):
        apply_overrides(game.params, {"max_episode_steps": "0"})
