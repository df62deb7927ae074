"""Vector environments: same-step autoreset, seeding, and exact snapshot/restore."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from agentapp.engine.vector import (
    _EnvFactory,
    final_observations,
    make_vector_env,
    reset_vector_env,
    restore_vector,
    snapshot_vector,
)
from agentapp.errors import UserError
from agentapp.games import resolve
from agentapp.games.snapshot import Snapshotable
from agentapp.params import apply_overrides


def _run(envs, actions):
    out = []
    for action in actions:
        obs, reward, terminated, truncated, infos = envs.step(action)
        out.append((obs.copy(), reward, terminated, truncated, final_observations(obs, infos)))
    return out


def _assert_same(run_a, run_b):
    for i, (a, b) in enumerate(zip(run_a, run_b, strict=True)):
        for x, y in zip(a, b, strict=True):
            assert np.array_equal(x, y), i


def _actions(n_envs, steps, n_actions=2, seed=0):
    return np.random.default_rng(seed).integers(n_actions, size=(steps, n_envs))


def test_an_ended_episode_resets_in_the_same_step():
    game = resolve("cartpole")
    envs = make_vector_env(game, game.params, 2, seed=0)
    obs = reset_vector_env(envs, 0)
    assert obs.shape == (2, 4)
    for _ in range(50):  # always pushing right: copy 0 falls first
        obs, _, terminated, truncated, infos = envs.step(np.array([1, 0]))
        if terminated.any():
            break
    assert terminated[0] and not truncated.any()
    assert list(infos["_final_obs"]) == list(terminated)
    last = infos["final_obs"][0]
    assert abs(last[2]) > 0.2094 or abs(last[0]) > 2.4  # the pole really fell
    assert np.all(np.abs(obs[0]) <= 0.05)  # and the episode already restarted
    merged = final_observations(obs, infos)
    assert np.array_equal(merged[0], last) and np.array_equal(merged[1], obs[1])
    assert not np.array_equal(obs[0], merged[0])


def test_truncation_gives_final_obs_too():
    game = resolve("gridworld:cliff")
    params = apply_overrides(game.params, {"max_steps": "3"})
    envs = make_vector_env(game, params, 3, seed=1)
    reset_vector_env(envs, 1)
    for _ in range(3):
        _, _, terminated, truncated, infos = envs.step(np.zeros(3, dtype=np.int64))  # up: safe
    assert truncated.all() and not terminated.any() and infos["_final_obs"].all()


def test_same_seed_same_trajectories():
    game = resolve("acrobot")
    actions = _actions(3, 80, n_actions=3)
    runs = []
    for seed in (5, 5, 6):
        envs = make_vector_env(game, game.params, 3, seed=seed)
        reset_vector_env(envs, seed)
        runs.append(_run(envs, actions))
    _assert_same(runs[0], runs[1])
    assert not np.array_equal(runs[0][0][0], runs[2][0][0])
    first = runs[0][0][0]
    assert not np.array_equal(first[0], first[1])  # copies get different seeds


def test_snapshot_restore_continues_exactly_mid_episode():
    game = resolve("cartpole")
    actions = _actions(4, 230)
    envs = make_vector_env(game, game.params, 4, seed=2)
    reset_vector_env(envs, 2)
    _run(envs, actions[:30])
    snaps = snapshot_vector(envs)
    assert len(snaps) == 4 and all(s is not None for s in snaps)
    resumed = make_vector_env(game, game.params, 4, seed=2)
    reset_vector_env(resumed, 1234)
    assert restore_vector(resumed, snaps) is True
    expected, got = _run(envs, actions[30:]), _run(resumed, actions[30:])
    assert any(step[2].any() for step in expected)  # episodes ended along the way
    _assert_same(expected, got)


def test_restore_vector_refuses_what_does_not_fit():
    game = resolve("cartpole")
    envs = make_vector_env(game, game.params, 2, seed=0)
    reset_vector_env(envs, 0)
    snaps = snapshot_vector(envs)
    assert restore_vector(envs, snaps[:1]) is False
    assert restore_vector(envs, [snaps[0], None]) is False
    other = resolve("mountaincar")
    cars = make_vector_env(other, other.params, 2, seed=0)
    reset_vector_env(cars, 0)
    assert restore_vector(cars, snaps) is False


def test_async_vector_env_snapshots_through_call_and_set_attr():
    game = resolve("cartpole")
    actions = _actions(2, 60)
    envs = make_vector_env(game, game.params, 2, seed=3, asynchronous=True)
    resumed = make_vector_env(game, game.params, 2, seed=3, asynchronous=True)
    try:
        reset_vector_env(envs, 3)
        reset_vector_env(resumed, 77)
        _run(envs, actions[:10])
        assert restore_vector(resumed, snapshot_vector(envs)) is True
        _assert_same(_run(envs, actions[10:]), _run(resumed, actions[10:]))
    finally:
        envs.close()
        resumed.close()


def test_factory_pickles_by_game_id_for_spawned_workers():
    game = resolve("gridworld:cliff")
    params = apply_overrides(game.params, {"max_steps": "9"})
    env = pickle.loads(pickle.dumps(_EnvFactory(game, params)))()
    assert isinstance(env, Snapshotable) and env.unwrapped.max_steps == 9


def test_at_least_one_env():
    game = resolve("cartpole")
    with pytest.raises(UserError, match="at least 1"):
        make_vector_env(game, game.params, 0, seed=0)
