"""Environment snapshots: a restored env continues bit for bit, even through a checkpoint."""

from __future__ import annotations

import io

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from agentapp.games import resolve
from agentapp.games.snapshot import Snapshotable, restore, snapshot


def _through_checkpoint(snap):
    buffer = io.BytesIO()
    torch.save({"envs": [snap]}, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)["envs"][0]


def _step_both(a, b, actions):
    """Step *a* and *b* alike, resetting both at episode ends; return how many episodes ended."""
    ends = 0
    for i, action in enumerate(actions):
        obs_a, *rest_a = a.step(action)
        obs_b, *rest_b = b.step(action)
        assert np.array_equal(obs_a, obs_b), i
        assert rest_a[:3] == rest_b[:3], i  # reward, terminated, truncated: exactly equal
        if rest_a[1] or rest_a[2]:
            ends += 1
            assert np.array_equal(a.reset()[0], b.reset()[0])
    return ends


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("cartpole", 30),
        ("acrobot", 0),
        ("acrobot", 123),
        ("mountaincar", 150),
        ("gridworld:cliff", 9),
        ("gym:FrozenLake-v1", 5),
    ],
)
def test_restored_env_continues_exactly(name, prefix):
    game = resolve(name)
    rng = np.random.default_rng(7)
    actions = [int(a) for a in rng.integers(game.make().action_space.n, size=prefix + 600)]
    original = game.make()
    original.reset(seed=11)
    for action in actions[:prefix]:
        if any(original.step(action)[2:4]):
            original.reset()
    snap = _through_checkpoint(snapshot(original))
    copy = game.make()  # never reset: the snapshot carries everything
    assert restore(copy, snap) is True
    assert _step_both(original, copy, actions[prefix:]) >= 1  # across episode ends


def test_restore_into_a_running_env_and_through_the_wrapper():
    game = resolve("cartpole")
    original = Snapshotable(game.make())
    original.reset(seed=1)
    original.step(0)
    other = Snapshotable(game.make())
    other.reset(seed=99)
    other.snapshot = original.get_snapshot()
    assert other.restored
    _step_both(original, other, [1, 0, 1, 1] * 150)
    assert restore(game.make(), original.snapshot)  # a snapshot fits with or without the wrapper


class _Opaque(gym.Env):
    """An environment whose state the snapshot cannot know."""

    observation_space = spaces.Discrete(3)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.where = 0
        return self.where, {}

    def step(self, action):
        self.where = (self.where + 1) % 3
        return self.where, 0.0, False, False, {}


def test_unknown_state_gives_none_and_restoring_none_does_nothing():
    env = Snapshotable(_Opaque())
    env.reset(seed=0)
    env.step(1)
    assert env.get_snapshot() is None
    env.snapshot = None
    assert not env.restored and env.unwrapped.where == 1
    assert restore(env, None) is False
    wrapped = gym.wrappers.RecordEpisodeStatistics(resolve("cartpole").make())
    assert snapshot(wrapped) is None  # a wrapper that may hold state is not guessed at


def test_a_snapshot_of_another_game_is_refused_untouched():
    cart = resolve("cartpole").make()
    cart.reset(seed=0)
    acrobot = resolve("acrobot").make()
    acrobot.reset(seed=0)
    before = acrobot.unwrapped.state.copy()
    assert restore(acrobot, snapshot(cart)) is False
    assert np.array_equal(acrobot.unwrapped.state, before)


def test_snapshots_are_plain_data():
    env = resolve("mountaincar").make()
    env.reset(seed=3)
    env.step(2)

    def check(value):
        if isinstance(value, dict):
            assert all(isinstance(k, str) for k in value)
            for v in value.values():
                check(v)
        elif isinstance(value, list | tuple):
            for v in value:
                check(v)
        else:
            assert value is None or type(value) in (bool, int, float, str), type(value)

    check(snapshot(env))
