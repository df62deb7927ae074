"""The gridworld environment: Gymnasium conformance, the transition table, rewards, slip,
observations, checkpointing and rendering."""

from __future__ import annotations

import json
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from agentapp.errors import UserError
from agentapp.games.gridmap import BUILTIN_MAPS, parse_map
from agentapp.games.gridworld import (
    ACTION_ARROWS,
    ACTION_NAMES,
    CELL_PX,
    ENV_ID,
    GridWorldEnv,
)

UP, RIGHT, DOWN, LEFT = range(4)


@pytest.mark.parametrize("name", BUILTIN_MAPS)
@pytest.mark.parametrize("obs", ["index", "walls"])
def test_check_env(name, obs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no spec" notes about alternative render modes
        for mode in (None, "ansi", "rgb_array"):
            check_env(GridWorldEnv(name, obs=obs, render_mode=mode), skip_render_check=False)


def test_gym_make_and_constants():
    env = gym.make(ENV_ID, grid="cliff")
    assert env.unwrapped.grid.name == "cliff"
    obs, info = env.reset(seed=3)
    assert obs == info["cell"] == 36
    assert ACTION_NAMES == ("up", "right", "down", "left")
    assert ACTION_ARROWS == ("↑", "→", "↓", "←")
    env.close()


def test_attributes_and_overrides():
    env = GridWorldEnv("classic", slip=0.0, living_reward=-1, discount=0.5, max_steps=7)
    assert (env.n_states, env.n_actions) == (12, 4)
    assert (env.slip, env.living_reward, env.discount, env.max_steps) == (0.0, -1.0, 0.5, 7)
    assert env.obs_mode == "index" and env.observation_space == gym.spaces.Discrete(12)
    assert GridWorldEnv("classic", obs="walls").observation_space == gym.spaces.Discrete(16)
    for bad in ({"slip": 1.5}, {"discount": 0}, {"max_steps": 0}, {"obs": "pixels"}):
        with pytest.raises(UserError):
            GridWorldEnv("classic", **bad)


@pytest.mark.parametrize("name", BUILTIN_MAPS)
def test_transition_table_is_a_distribution(name):
    for slip in (0.0, 0.2, 1.0):
        env = GridWorldEnv(name, slip=slip)
        for s in range(env.n_states):
            for a in range(4):
                table = env.P[s][a]
                assert sum(p for p, *_ in table) == pytest.approx(1.0)
                nexts = [n for _, n, _, _ in table]
                assert len(nexts) == len(set(nexts))
                if env.grid.kind(s) in ("wall", "terminal"):
                    assert table == [(1.0, s, 0.0, True)]


def test_classic_rewards_and_walls():
    env = GridWorldEnv("classic")
    assert env.P[2][RIGHT] == [
        (pytest.approx(0.8), 3, pytest.approx(0.96), True),
        (pytest.approx(0.1), 6, pytest.approx(-0.04), False),
        (pytest.approx(0.1), 2, pytest.approx(-0.04), False),
    ]
    # Below the -1: going up enters it with 0.8 and pays -1.04; slipping right hits the edge.
    assert {n: (p, r) for p, n, r, _ in env.P[11][UP]} == {
        7: (pytest.approx(0.8), pytest.approx(-1.04)),
        11: (pytest.approx(0.1), pytest.approx(-0.04)),
        10: (pytest.approx(0.1), pytest.approx(-0.04)),
    }
    det = GridWorldEnv("classic", slip=0.0)
    det.reset(seed=0)
    det.cell = 4
    step = det.step(RIGHT)  # into the wall
    assert step == (4, pytest.approx(-0.04), False, False, {"cell": 4})
    det.cell = 0
    assert det.step(LEFT)[0] == 0  # the edge
    det.cell = 2
    assert det.step(RIGHT)[1:3] == (pytest.approx(0.96), True)


def test_value_iteration_reproduces_russell_and_norvig():
    env = GridWorldEnv("classic")
    values = np.zeros(env.n_states)
    for _ in range(200):
        values = np.array(
            [
                max(
                    sum(p * (r + (0.0 if done else values[n])) for p, n, r, done in env.P[s][a])
                    for a in range(4)
                )
                for s in range(env.n_states)
            ]
        )
    assert values[8] == pytest.approx(0.705, abs=5e-4)  # the start
    assert values[11] == pytest.approx(0.388, abs=5e-4)  # below the -1
    assert values[0] == pytest.approx(0.812, abs=5e-4)


def test_cliff_fall_costs_100_and_returns_to_start():
    env = GridWorldEnv("cliff")
    env.reset(seed=0)
    assert env.step(RIGHT) == (36, -100.0, False, False, {"cell": 36})
    assert env.P[36][RIGHT] == [(1.0, 36, -100.0, False)]
    # The best path: up, eleven times right, down: -13.
    total = 0.0
    for a in [UP] + [RIGHT] * 11 + [DOWN]:
        _, reward, terminated, _, _ = env.step(a)
        total += reward
    assert (total, terminated) == (-13.0, True)


def test_slipping_into_a_cliff_keeps_real_rewards_in_step():
    env = GridWorldEnv("cliff", slip=0.2)
    # Up from the start: 0.8 up, 0.1 right into the cliff (back to 36, -100), 0.1 left (edge, -1).
    table = {n: (p, r) for p, n, r, _ in env.P[36][UP]}
    assert table[36] == (pytest.approx(0.2), pytest.approx(-50.5))
    env.reset(seed=1)
    seen = set()
    for _ in range(300):
        env.cell = 36
        _, reward, _, _, info = env.step(UP)
        seen.add((info["cell"], reward))
    assert seen == {(24, -1.0), (36, -1.0), (36, -100.0)}


def test_slip_frequencies():
    env = GridWorldEnv("classic")  # slip 0.2
    env.reset(seed=123)
    counts: dict[int, int] = {}
    n = 20_000
    for _ in range(n):
        env.cell = 6  # up: 2 intended, 7 slipping right, 6 slipping left into the wall
        cell = env.step(UP)[4]["cell"]
        counts[cell] = counts.get(cell, 0) + 1
    assert counts[2] / n == pytest.approx(0.8, abs=0.015)
    assert counts[7] / n == pytest.approx(0.1, abs=0.01)
    assert counts[6] / n == pytest.approx(0.1, abs=0.01)


def test_several_starts_are_drawn_uniformly():
    env = GridWorldEnv("aliased")
    env.reset(seed=5)
    starts = [env.reset()[1]["cell"] for _ in range(2000)]
    assert set(starts) == {0, 1, 2, 3, 4}
    assert np.bincount(starts).min() > 300


def test_wall_observations_alias_the_grey_cells():
    env = GridWorldEnv("aliased")
    top = [env.observe(s) for s in range(5)]
    assert top[1] == top[3]
    assert len({top[0], top[1], top[2], top[4]}) == 4
    assert top == [0b1001, 0b0101, 0b0001, 0b0101, 0b0011]
    assert env.observation_space == gym.spaces.Discrete(16)
    assert GridWorldEnv("aliased", obs="index").observe(3) == 3


def test_truncation_at_max_steps():
    env = GridWorldEnv("classic", max_steps=3, slip=0.0)
    env.reset(seed=0)
    flags = [env.step(LEFT)[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]
    assert env.elapsed == 3


def test_terminated_is_not_truncated():
    env = GridWorldEnv("aliased", obs="index", max_steps=1)
    env.reset(seed=0)
    env.cell = 2
    assert env.step(DOWN)[1:4] == (1.0, True, False)


def test_get_state_set_state_continues_identically():
    env = GridWorldEnv("classic")
    env.reset(seed=42)
    for a in (UP, UP, RIGHT):
        env.step(a)
    state = env.get_state()
    json.dumps(state)  # plain data only
    actions = [RIGHT, RIGHT, UP, LEFT, DOWN, RIGHT, UP, UP] * 3
    first = [env.step(a) for a in actions]
    other = GridWorldEnv("classic")
    other.reset(seed=7)
    other.set_state(state)
    assert (other.cell, other.elapsed) == (state["cell"], state["elapsed"])
    assert [other.step(a) for a in actions] == first
    with pytest.raises(UserError):
        other.set_state({**state, "cell": 99})


def test_seeded_resets_repeat():
    def episode(seed):
        env = GridWorldEnv("maze", slip=0.3)
        out = [env.reset(seed=seed)[0]]
        out += [env.step(a)[0] for a in [1, 2, 1, 2, 3, 0] * 5]
        return out

    assert episode(9) == episode(9)


def test_render_ansi_and_rgb():
    env = GridWorldEnv("classic", render_mode="ansi")
    env.reset(seed=0)
    assert env.render() == ". . . G\n. # . P\n@ . . .\n"
    env.step(UP)
    assert env.render().startswith("  (")
    rgb = GridWorldEnv("classic", render_mode="rgb_array")
    rgb.reset(seed=0)
    frame = rgb.render()
    assert frame.dtype == np.uint8 and frame.shape == (3 * CELL_PX, 4 * CELL_PX, 3)
    rgb.cell = 0
    assert not np.array_equal(frame, rgb.render())
    assert GridWorldEnv("classic").render() is None
    with pytest.raises(UserError):
        GridWorldEnv("classic", render_mode="human")


def test_custom_map_object():
    grid = parse_map("X: cliff -10\nA: terminal 3\nSXA\n.SA\n")
    env = GridWorldEnv(grid, slip=0.0)
    # Two starts: a fall sends the agent to either with probability 1/2.
    assert sorted(env.P[0][RIGHT]) == [(0.5, 0, -10.0, False), (0.5, 4, -10.0, False)]
