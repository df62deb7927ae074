"""Linear Q-learning and its features: tile coding checked by hand, one-hot features equal to the
Q-table step for step, one semi-gradient update by hand, learning MountainCar, exact resume, and
Q-values that are w·x."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from agentapp import checkpoints
from agentapp.engine import train
from agentapp.engine.algorithms import ALGORITHMS, QLearning, suitable
from agentapp.engine.algorithms.base import Algorithm
from agentapp.engine.algorithms.linear_q import LinearQ
from agentapp.engine.control import Control
from agentapp.engine.evaluate import evaluate
from agentapp.engine.events import EpisodeEnded, RunStarted
from agentapp.engine.features import (
    MAX_FEATURES,
    RANGES,
    OneHot,
    TileCoding,
    dense,
    feature_map,
)
from agentapp.engine.insight import Q_VALUES
from agentapp.engine.plan import RunConfig, prepare, preset_settings
from agentapp.errors import UserError
from agentapp.games import resolve
from agentapp.games.registry import BOX_OBS, DISCRETE_ACTIONS, Game
from tests.engine.test_tabular_algorithms import (
    assert_separate_streams,
    make,
    roundtrip,
    train_to,
    with_state,
)

# -- tile coding ---------------------------------------------------------------------------------


def shared(coding: TileCoding, a: Any, b: Any) -> int:
    return len(set(coding.active(a).tolist()) & set(coding.active(b).tolist()))


def test_one_dimension_by_hand():
    # [0, 1] in 2 tiles of width 0.5; tiling 1 is shifted by half a tile, so each tiling has
    # 3 tiles: features 0-2 are tiling 0's, 3-5 tiling 1's.
    coding = TileCoding([0.0], [1.0], tilings=2, tiles_per_dim=2)
    assert coding.n_features == 6 and coding.n_active == 2
    assert coding.active([0.0]).tolist() == [0, 3]
    assert coding.active([0.25]).tolist() == [0, 4]  # 0.25 + a half tile: tiling 1's 2nd tile
    assert coding.active([0.5]).tolist() == [1, 4]
    assert coding.active([0.8]).tolist() == [1, 5]
    assert coding.active([1.0]).tolist() == [2, 5]  # the top edge: the extra tile
    assert coding.active([7.0]).tolist() == [2, 5] and coding.active([-3]).tolist() == [0, 3]
    np.testing.assert_array_equal(dense(coding, [0.5]), [0, 1, 0, 0, 1, 0])


def test_two_dimensions_by_hand():
    coding = TileCoding([0.0, 0.0], [4.0, 4.0], tilings=4, tiles_per_dim=4)  # unit tiles
    # tiling i is shifted by (i * 1 % 4, i * 3 % 4) / 4 tile widths
    np.testing.assert_array_equal(coding.offsets, [[0, 0], [0.25, 0.75], [0.5, 0.5],
                                                   [0.75, 0.25]])
    # (1.6, 0.3): tiling 0 tile (1, 0); tiling 1 (1.85, 1.05) -> (1, 1); tiling 2 (2.1, 0.8) ->
    # (2, 0); tiling 3 (2.35, 0.55) -> (2, 0). A tiling has 5 x 5 = 25 tiles, rows first.
    assert coding.active([1.6, 0.3]).tolist() == [5, 25 + 6, 50 + 10, 75 + 10]


def test_each_point_has_one_tile_per_tiling_in_range():
    low, high = np.array([-1.2, -0.07]), np.array([0.6, 0.07])
    coding = TileCoding(low, high, tilings=8, tiles_per_dim=8)
    points = np.random.default_rng(0).uniform(low - 0.1, high + 0.1, size=(500, 2))
    batch = coding.active(points)
    assert batch.shape == (500, 8) and batch.dtype == np.int64
    assert batch.min() >= 0 and batch.max() < coding.n_features == 8 * 9 * 9
    # feature i of a point lies in tiling i's own block, so the 8 are distinct
    np.testing.assert_array_equal(batch // coding.tiles_per_tiling,
                                  np.broadcast_to(np.arange(8), (500, 8)))
    np.testing.assert_array_equal(batch[17], coding.active(points[17]))  # batch == one by one
    assert dense(coding, points[3]).sum() == 8


def test_neighbours_share_most_tiles_and_far_points_none():
    low, high = np.zeros(3), np.array([1.0, 2.0, 4.0])
    coding = TileCoding(low, high, tilings=8, tiles_per_dim=4)
    width = (high - low) / 4
    rng = np.random.default_rng(1)
    for _ in range(200):
        x = rng.uniform(low, high)
        dim = rng.integers(3)
        near = x.copy()
        near[dim] += 0.1 * width[dim]  # less than the 1/8 tile between two tilings' edges
        assert shared(coding, x, near) >= 7
        assert shared(coding, x, x) == 8
        far = x.copy()
        far[dim] = x[dim] + 1.01 * width[dim] * (1 if x[dim] < 0.5 * high[dim] else -1)
        assert shared(coding, x, far) == 0


def test_offsets_are_asymmetric():
    coding = TileCoding(np.zeros(4), np.ones(4), tilings=16, tiles_per_dim=5)
    offsets = coding.offsets
    # displacement (1, 3, 5, 7): tiling 1 is shifted (1, 3, 5, 7) / 16 of a tile
    np.testing.assert_array_equal(offsets[1], np.array([1, 3, 5, 7]) / 16)
    assert offsets.min() >= 0 and offsets.max() < 1
    # uniform offsets would shift all 16 tilings along the diagonal (equal in every dimension);
    # (1, 3, 5, 7) puts only tiling 0 and tiling 8 (shifted half a tile every way) there
    diagonal = np.all(offsets == offsets[:, :1], axis=1)
    assert np.flatnonzero(diagonal).tolist() == [0, 8]
    assert len({tuple(row) for row in offsets}) == 16


def test_one_hot():
    one_hot = OneHot(5)
    assert one_hot.n_features == 5 and one_hot.n_active == 1
    assert one_hot.active(3).tolist() == [3]
    assert one_hot.active(np.array([4, 0])).tolist() == [[4], [0]]
    np.testing.assert_array_equal(dense(one_hot, 2), [0, 0, 1, 0, 0])


def test_feature_maps_for_games():
    cartpole = resolve("cartpole").make()
    coding = feature_map(cartpole.observation_space, cartpole.spec.name, 8, 8)
    np.testing.assert_array_equal(coding.low, [r[0] for r in RANGES["CartPole"]])
    unbounded = spaces.Box(-np.inf, np.inf, (2,))
    with pytest.raises(UserError, match="unbounded"):
        feature_map(unbounded, "SomethingElse", 8, 8)
    too_big = spaces.Box(-1.0, 1.0, (8,))
    with pytest.raises(UserError, match=f"more than {MAX_FEATURES:,}"):
        feature_map(too_big, None, 8, 8)
    assert isinstance(feature_map(spaces.Discrete(11), None, 8, 8), OneHot)


# -- the method in the registry ------------------------------------------------------------------


def test_registered_for_vector_and_discrete_games_not_pixels():
    assert ALGORITHMS["linear-q"] is LinearQ
    for game in ("gridworld:classic", "gridworld:aliased", "cartpole", "mountaincar", "acrobot"):
        assert "linear-q" in suitable(resolve(game)), game
    from agentapp.engine.algorithms import unsuitable_reason

    pong = resolve("pong")
    assert "linear-q" not in suitable(pong)
    reason = unsuitable_reason(LinearQ, pong)
    assert "box-obs" in reason and "discrete-obs" in reason


def test_settings_are_checked_before_a_run():
    lunar_like = Game(id="test:box8", family="test", description="8-D box", params=None,
                      make_env=lambda params, render_mode=None: LineEnv(dims=8),
                      capabilities_of=lambda params: frozenset({BOX_OBS, DISCRETE_ACTIONS}))
    with pytest.raises(UserError, match="tiles per dimension"):
        LinearQ.check_settings(LinearQ.Hyperparameters(), lunar_like, None)
    hp = LinearQ.Hyperparameters(tiles_per_dim=2)
    LinearQ.check_settings(hp, lunar_like, None)  # 8 x 3^8 features: fine
    with pytest.raises(UserError, match="alpha_schedule"):
        LinearQ.check_settings(LinearQ.Hyperparameters(alpha_schedule="exponential",
                                                       alpha_end=0.0), lunar_like, None)


# -- one-hot features: exactly tabular Q-learning --------------------------------------------------


@pytest.mark.parametrize("game", ["gridworld:classic", "gridworld:cliff", "gridworld:aliased"])
def test_one_hot_linear_q_is_tabular_q_learning(game):
    settings = {"alpha": 0.3, "alpha_end": 0.02, "alpha_schedule": "linear", "epsilon": 1.0,
                "epsilon_end": 0.05, "q_init": 0.5}
    table = make(QLearning, game, seed=7, budget=4000, epsilon_decay=0.5, **settings)
    linear = make(LinearQ, game, seed=7, budget=4000, exploration_fraction=0.5, **settings)
    assert isinstance(linear.features, OneHot)
    for steps in (1, 10, 500, 4000):
        a, b = train_to(table, steps), train_to(linear, steps)
        assert [i.episodes for i in a] == [i.episodes for i in b]
        assert [i.metrics for i in a] == [i.metrics for i in b]
        np.testing.assert_array_equal(linear.w, table.q)  # bitwise: the weights are the table
    view, table_view = linear.tabular_view(), table.tabular_view()
    np.testing.assert_array_equal(view.policy, table_view.policy)
    np.testing.assert_array_equal(view.values, table_view.values)


# -- one semi-gradient update by hand ------------------------------------------------------------


class LineEnv(gym.Env):
    """A point on [0, 1] (in every one of *dims* dimensions) moved by 0.25 left (0) or right
    (1); reaching 1 ends the episode. Every step pays -1."""

    def __init__(self, dims: int = 1, max_steps: int = 50) -> None:
        self.observation_space = spaces.Box(0.0, 1.0, (dims,), dtype=np.float64)
        self.action_space = spaces.Discrete(2)
        self.dims, self.max_steps = dims, max_steps
        self.x, self.t = 0.25, 0

    def reset(self, *, seed: int | None = None, options: Any = None):
        super().reset(seed=seed)
        self.x, self.t = 0.25, 0
        return self._obs(), {}

    def _obs(self) -> np.ndarray:
        return np.full(self.dims, self.x)

    def step(self, action: int):
        self.x = min(max(self.x + (0.25 if action == 1 else -0.25), 0.0), 1.0)
        self.t += 1
        terminated = self.x >= 1.0
        return self._obs(), -1.0, terminated, not terminated and self.t >= self.max_steps, {}

    def get_state(self) -> dict:
        return {"x": self.x, "t": self.t}

    def set_state(self, state: dict) -> None:
        self.x, self.t = float(state["x"]), int(state["t"])


LINE = Game(id="test:line", family="test", description="a line", params=None,
            make_env=lambda params, render_mode=None: LineEnv(),
            capabilities_of=lambda params: frozenset({BOX_OBS, DISCRETE_ACTIONS}),
            default_gamma=lambda params: 0.9)


def line_agent(w: np.ndarray, x: float = 0.25, t: int = 0) -> LinearQ:
    agent = make(LinearQ, LINE, alpha=0.5, epsilon=0.0, epsilon_end=0.0, tilings=2,
                 tiles_per_dim=2)
    with_state(agent, w=torch.from_numpy(w.copy()), env={"x": x, "t": t}, obs=[x])
    return agent


# Tilings of [0, 1] as in test_one_dimension_by_hand: x = 0.25 -> features {0, 4}, 0.5 -> {1, 4},
# 0.75 -> {1, 5}, 1.0 -> {2, 5}. Feature 4 is shared by 0.25 and 0.5.
W = np.array([[0.0, 0.5], [0.2, -0.4], [0.0, 0.0], [0.0, 0.0], [0.1, 0.3], [0.0, 0.0]])


def test_one_semi_gradient_update_by_hand():
    agent = line_agent(W)
    assert agent.gamma == 0.9
    np.testing.assert_allclose(agent.insight(np.array([0.25])).values, [0.1, 0.8])
    it = agent.train_iteration(1)
    # Q(0.25, .) = w[0] + w[4] = (0.1, 0.8): greedy goes right to 0.5, r = -1.
    # Q(0.5, .) = w[1] + w[4] = (0.3, -0.1): target = -1 + 0.9 * 0.3 = -0.73.
    # delta = -0.73 - 0.8 = -1.53; each active weight of action 1 moves 0.5 / 2 * delta.
    expected = W.copy()
    expected[[0, 4], 1] += 0.25 * -1.53
    np.testing.assert_allclose(agent.w, expected)
    np.testing.assert_allclose(agent.insight(np.array([0.25])).values[1], 0.8 + 0.5 * -1.53)
    # generalisation: the shared feature moved Q(0.5, right) too
    np.testing.assert_allclose(agent.insight(np.array([0.5])).values[1], -0.1 - 0.25 * 1.53)
    assert it.steps == 1 and it.metrics["losses/td_error"] == pytest.approx(1.53)


def test_termination_does_not_bootstrap_and_truncation_does():
    w = W.copy()
    w[[1, 5], 1] = 0.5  # Q(0.75, .) = (0.2, 1.0): right, into the terminal state 1.0
    w[2] = 5.0  # a large Q(1.0, .) (feature 2 is active only there) that termination ignores
    ended = line_agent(w, x=0.75)
    it = ended.train_iteration(5)
    assert it.episodes == [(-1.0, 1)]  # reached 1.0: terminated after one step
    # target = r = -1; Q(0.75, right) = w[1, 1] + w[5, 1] = 1.0; delta = -2
    np.testing.assert_allclose(ended.w[[1, 5], 1], [0.5 - 0.25 * 2, 0.5 - 0.25 * 2])

    w = W.copy()
    cut = line_agent(w, x=0.25, t=49)  # the 50th step is cut off by the time limit
    it = cut.train_iteration(5)
    assert it.steps == 1 and it.episodes == [(-1.0, 1)]
    # as the first update: it bootstraps from Q(0.5, .) although the episode ended
    np.testing.assert_allclose(cut.w[[0, 4], 1], [0.5 - 0.25 * 1.53, 0.3 - 0.25 * 1.53])


# -- learning, insight, resume --------------------------------------------------------------------


def mountaincar_agent(steps: int, seed: int = 0) -> LinearQ:
    game = resolve("mountaincar")
    _, hp = preset_settings(game, LinearQ)
    return LinearQ(game, game.params, hp, seed=seed, budget=steps)


def greedy_return(agent: Algorithm) -> float:
    game = resolve("mountaincar")
    return evaluate(agent, game, game.params, episodes=5, seed=1_000_000).mean


def test_a_short_mountaincar_run_improves():
    agent = mountaincar_agent(15_000)
    assert greedy_return(agent) == -200.0  # untrained: every action ties, it never gets out
    episodes = [ep for it in train_to(agent, 15_000) for ep in it.episodes]
    assert episodes[0][1] == 200 and min(length for _, length in episodes) < 200
    assert greedy_return(agent) > -200.0


@pytest.mark.slow
def test_the_mountaincar_preset_reaches_the_flag_reliably():
    game = resolve("mountaincar")
    preset, _ = preset_settings(game, LinearQ)
    agent = mountaincar_agent(preset.steps, seed=1)
    train_to(agent, preset.steps)
    assert greedy_return(agent) > -160.0


def test_insight_is_w_dot_x():
    agent = mountaincar_agent(3_000)
    train_to(agent, 3_000)
    states = np.random.default_rng(2).uniform([-1.2, -0.07], [0.6, 0.07], (20, 2))
    for obs in states.astype(np.float32):
        insight = agent.insight(obs)
        x = dense(agent.features, obs)
        assert insight.kind == Q_VALUES
        np.testing.assert_allclose(insight.values, x @ agent.w, rtol=1e-12, atol=1e-12)
        assert insight.value == pytest.approx(float((x @ agent.w).max()))
        assert insight.best == agent.act(obs)
    np.testing.assert_array_equal(agent.act_batch(states),
                                  [agent.act(o) for o in states])
    assert agent.tabular_view() is None


def test_exploration_is_not_cartpoles_own_stream():
    # CartPole's start states come from the np_random its reset(seed) seeded
    agent = make(LinearQ, "cartpole", seed=3)
    assert_separate_streams(agent.rng, agent.env)


def test_resume_mid_episode_is_bitwise_exact():
    total = 3_000
    straight = mountaincar_agent(total, seed=3)
    train_to(straight, total)

    split = mountaincar_agent(total, seed=3)
    while split.steps < 1_500 or split.episode_length == 0:
        split.train_iteration(7)  # boundaries fall mid-episode
    state = roundtrip(split.state_dict())
    del split
    resumed = mountaincar_agent(total, seed=3)  # a fresh instance, as after a restart
    resumed.load_state_dict(state)
    train_to(resumed, total, chunk=13)
    assert resumed.steps == straight.steps == total
    assert resumed.episodes == straight.episodes
    np.testing.assert_array_equal(resumed.w, straight.w)
    assert resumed.rng.bit_generator.state == straight.rng.bit_generator.state
    np.testing.assert_array_equal(resumed.obs, straight.obs)


def test_a_checkpoint_of_other_features_is_refused():
    agent = mountaincar_agent(100)
    other = make(LinearQ, "mountaincar", tiles_per_dim=4)
    with pytest.raises(UserError, match="weights have shape"):
        other.load_state_dict(roundtrip(agent.state_dict()))
    bad = agent.state_dict()
    bad["w"][0, 0] = float("nan")
    agent.load_state_dict(bad)
    assert agent.broken_parameter() == "linear-q weights w"


def test_resume_through_the_loop_is_exact(runs_dir):
    config = RunConfig(game="mountaincar", algo="linear-q", steps=2_000, seed=5,
                       eval_every=1_000, runs_dir=str(runs_dir))
    straight = list(train(config))
    control = Control()
    for event in train(config, control):  # the same run, stopped part-way
        if isinstance(event, RunStarted):
            run = Path(event.run_dir)
        if isinstance(event, EpisodeEnded) and event.step >= 800:
            control.stop("interrupted")
    assert checkpoints.load(run / "checkpoints" / "latest.pt")["step"] < 2_000
    list(train(prepare(RunConfig(game="mountaincar", resume=str(run), steps=2_000,
                                 runs_dir=str(runs_dir)))))
    a = checkpoints.load(Path(straight[0].run_dir) / "checkpoints" / "latest.pt")
    b = checkpoints.load(run / "checkpoints" / "latest.pt")
    assert a["step"] == b["step"] == 2_000
    assert torch.equal(a["algorithm"]["w"], b["algorithm"]["w"])
