"""Tabular methods: textbook values, hand-computed updates, learning to a threshold, exact resume.

Hand-computed cases use a tiny deterministic chain (below); everything else runs on the built-in
gridworld maps: Russell & Norvig's 4x3 world (``classic``) and Sutton & Barto's cliff.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from agentapp.engine.algorithms import (
    ALGORITHMS,
    Iteration,
    MonteCarloControl,
    PolicyIteration,
    QLearning,
    Sarsa,
    ValueIteration,
)
from agentapp.engine.algorithms.tabular import TabularModel, action_values
from agentapp.games import resolve
from agentapp.games.registry import DISCRETE_ACTIONS, DISCRETE_OBS, MODEL, Game
from agentapp.params import describe

MODEL_FREE = [QLearning, Sarsa, MonteCarloControl]
PLANNERS = [ValueIteration, PolicyIteration]
UP, RIGHT, DOWN, LEFT = range(4)


# -- a tiny hand-made MDP ------------------------------------------------------------------------


class ChainEnv(gym.Env):
    """Cells 0 - 1 - 2 - 3 in a row (*n_states* cells); start at 0; 0 moves left (staying put at
    0), 1 moves right. Entering the last cell pays +1 and terminates; every other step pays 0."""

    def __init__(self, max_steps: int = 50, n_states: int = 4) -> None:
        self.n_states, self.n_actions, self.max_steps = n_states, 2, max_steps
        self.observation_space = spaces.Discrete(n_states)
        self.action_space = spaces.Discrete(2)
        self.P = [[self._outcomes(s, a) for a in range(2)] for s in range(n_states)]
        self.pos = self.t = 0

    def _outcomes(self, s: int, a: int) -> list[tuple[float, int, float, bool]]:
        last = self.n_states - 1
        if s == last:
            return [(1.0, last, 0.0, True)]
        nxt = max(s - 1, 0) if a == 0 else s + 1
        return [(1.0, nxt, 1.0 if nxt == last else 0.0, nxt == last)]

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[int, dict]:
        super().reset(seed=seed)
        self.pos = self.t = 0
        return 0, {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict]:
        _, self.pos, reward, terminated = self.P[self.pos][action][0]
        self.t += 1
        return self.pos, reward, terminated, not terminated and self.t >= self.max_steps, {}

    def get_state(self) -> dict:
        return {"pos": self.pos, "t": self.t}

    def set_state(self, state: dict) -> None:
        self.pos, self.t = int(state["pos"]), int(state["t"])


CHAIN = Game(
    id="test:chain",
    family="test",
    description="a four-cell chain",
    params=None,
    make_env=lambda params, render_mode=None: ChainEnv(),
    capabilities_of=lambda params: frozenset({MODEL, DISCRETE_OBS, DISCRETE_ACTIONS}),
    default_gamma=lambda params: 0.9,
)


# -- helpers ---------------------------------------------------------------------------------------


def make(cls, game: Game | str, *, seed: int = 0, budget: int = 10_000, params=None, **hp):
    game = resolve(game) if isinstance(game, str) else game
    params = game.params if params is None else params
    return cls(game, params, cls.Hyperparameters(**hp), seed=seed, budget=budget)


def train_to(algo, steps: int, chunk: int | None = None) -> list[Iteration]:
    """Call train_iteration until *steps* steps are done (at most *chunk* per call)."""
    done = []
    while algo.steps < steps:
        left = steps - algo.steps
        done.append(algo.train_iteration(left if chunk is None else min(chunk, left)))
    return done


def solve(algo, chunk: int = 100_000) -> int:
    """Run a planner until it converges; return the sweeps it used."""
    sweeps = 0
    for _ in range(10_000):
        it = algo.train_iteration(chunk)
        sweeps += it.steps
        if it.converged:
            return sweeps
    raise AssertionError("did not converge")


def greedy_episode(algo, game: Game, seed: int = 0) -> tuple[float, list[int]]:
    """Return and visited cells of one greedy episode on a fresh environment."""
    env = game.make(game.params)
    obs, info = env.reset(seed=seed)
    ret, cells, done = 0.0, [info["cell"]], False
    while not done:
        obs, reward, terminated, truncated, info = env.step(algo.act(obs))
        ret, done = ret + reward, terminated or truncated
        cells.append(info["cell"])
    return ret, cells


def roundtrip(state: dict) -> dict:
    """What a checkpoint gives back: torch.save then a safe torch.load."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def cell(game: Game, row: int, col: int) -> int:
    return row * game.make().grid.cols + col


def upcoming(generator: np.random.Generator, n: int = 200) -> set[float]:
    """The next *n* doubles *generator* would give, drawn from a copy (it is left as it was)."""
    twin = np.random.Generator(type(generator.bit_generator)())
    twin.bit_generator.state = generator.bit_generator.state
    return set(twin.random(n).tolist())


def assert_separate_streams(method: np.random.Generator, env: gym.Env) -> None:
    """The method's generator and the environment's ``np_random`` share no number in their next
    200 draws. Two generators seeded alike give the same stream, only one ahead of the other (the
    environment's reset draws first), so a shared seed shows up as shared numbers."""
    shared = upcoming(method) & upcoming(env.unwrapped.np_random)
    assert not shared, f"{len(shared)} of the method's next 200 draws are the environment's"


# -- the registry's view of the classes -----------------------------------------------------------


def test_names_requirements_and_documented_settings():
    assert set(ALGORITHMS) >= {"value-iteration", "policy-iteration", "q-learning", "sarsa",
                               "mc-control"}  # fmt: skip
    for cls in PLANNERS:
        assert cls.requires == {MODEL} and cls.step_unit == "sweeps"
        assert cls.action_kinds == {DISCRETE_ACTIONS}
    for cls in MODEL_FREE:
        assert cls.requires == {DISCRETE_OBS} and cls.step_unit == "steps"
        assert cls.action_kinds == {DISCRETE_ACTIONS}
    for cls in PLANNERS + MODEL_FREE:
        assert cls.title and cls.summary
        fields = describe(cls.Hyperparameters)
        assert all(f.help for f in fields)
        assert cls.Hyperparameters().gamma is None
        with pytest.raises(dataclasses.FrozenInstanceError):
            cls.Hyperparameters().gamma = 0.5


def test_gamma_defaults_to_the_games_discount_then_099():
    assert make(QLearning, "gridworld:classic").gamma == 1.0
    assert make(ValueIteration, "gridworld:maze").gamma == 0.99
    assert make(QLearning, CHAIN, gamma=0.5).gamma == 0.5
    no_discount = dataclasses.replace(CHAIN, default_gamma=lambda params: None)
    assert make(Sarsa, no_discount).gamma == 0.99


# -- planning -------------------------------------------------------------------------------------

# Russell & Norvig, Fig. 17.3: utilities of the 4x3 world with R(s) = -0.04 and gamma = 1.
BOOK_UTILITIES = [
    [0.812, 0.868, 0.918, None],
    [0.762, None, 0.660, None],
    [0.705, 0.655, 0.611, 0.388],
]
# Russell & Norvig, Fig. 17.2: the optimal policy (None: wall or terminal cell).
BOOK_POLICY = [
    [RIGHT, RIGHT, RIGHT, None],
    [UP, None, UP, None],
    [UP, LEFT, LEFT, LEFT],
]


def assert_book_solution(algo) -> None:
    view = algo.tabular_view()
    for row in range(3):
        for col in range(4):
            s = row * 4 + col
            if BOOK_UTILITIES[row][col] is not None:
                assert view.values[s] == pytest.approx(BOOK_UTILITIES[row][col], abs=5e-4), (
                    row,
                    col,
                )
                assert view.policy[s] == BOOK_POLICY[row][col], (row, col)
                assert algo.act(s) == BOOK_POLICY[row][col]


def test_value_iteration_gives_russell_norvig_utilities_and_policy():
    algo = make(ValueIteration, "gridworld:classic")
    assert algo.gamma == 1.0
    solve(algo)
    assert_book_solution(algo)
    assert algo.tabular_view().q.shape == (12, 4)


def test_policy_iteration_reaches_the_same_values_and_policy():
    vi, pi = make(ValueIteration, "gridworld:classic"), make(PolicyIteration, "gridworld:classic")
    solve(vi)
    solve(pi)
    assert_book_solution(pi)
    np.testing.assert_allclose(pi.tabular_view().values, vi.tabular_view().values, atol=1e-8)


def test_value_iteration_sweeps_by_hand_on_the_chain():
    # gamma 0.9: V(2) = 1, V(1) = 0.9, V(0) = 0.81, one more cell per sweep.
    algo = make(ValueIteration, CHAIN)
    residuals = [algo.train_iteration(5) for _ in range(4)]
    assert [it.steps for it in residuals] == [1, 1, 1, 1]
    got = [it.metrics["losses/bellman_residual"] for it in residuals]
    assert got == pytest.approx([1.0, 0.9, 0.81, 0.0])
    assert [it.converged for it in residuals] == [False, False, False, True]
    np.testing.assert_allclose(algo.v, [0.81, 0.9, 1.0, 0.0])
    # Once converged, an iteration does no work and uses no steps.
    after = algo.train_iteration(5)
    assert after.steps == 0 and after.converged
    assert algo.sweeps == 4


def test_bellman_backup_from_p():
    env = ChainEnv()
    model = TabularModel.from_p(env.P, 4, 2)
    q = action_values(model, np.array([5.0, 6.0, 7.0, 100.0]), gamma=0.5)
    # Terminated transitions pay their reward and do not bootstrap (V(3) = 100 is never used).
    np.testing.assert_allclose(q, [[2.5, 3.0], [2.5, 3.5], [3.0, 1.0], [0.0, 0.0]])


def test_policy_iteration_reports_changes_and_stops_when_stable():
    # The first policy (left everywhere) never reaches the goal, so V = 0 and only cell 2 sees a
    # better action; ties (right from 0 and 1 is also worth 0) keep the current action.
    algo = make(PolicyIteration, CHAIN)

    def evaluate_and_improve():
        # one iteration per evaluation sweep; the one that completes the evaluation improves
        while "charts/policy_changes" not in (it := algo.train_iteration(1000)).metrics:
            assert it.steps == 1 and set(it.metrics) == {"losses/bellman_residual"}
        return it

    first = evaluate_and_improve()
    assert first.metrics["charts/policy_changes"] == 1 and not first.converged
    assert list(algo.pi[:3]) == [0, 0, 1]
    changes = [evaluate_and_improve().metrics["charts/policy_changes"] for _ in range(3)]
    assert changes == [1, 1, 0]
    assert algo.converged and list(algo.pi[:3]) == [1, 1, 1]
    np.testing.assert_allclose(algo.v, [0.81, 0.9, 1.0, 0.0])
    assert algo.train_iteration(1000).steps == 0


def test_planners_resume_exactly_mid_run():
    for cls, game in ((ValueIteration, "gridworld:classic"), (PolicyIteration, "gridworld:cliff")):
        straight = make(cls, game)
        total = solve(straight)
        split = make(cls, game)
        for _ in range(5):  # small iterations: policy evaluation is cut in the middle
            split.train_iteration(3)
        resumed = make(cls, game)
        resumed.load_state_dict(roundtrip(split.state_dict()))
        assert split.sweeps + solve(resumed, chunk=7) == total
        np.testing.assert_array_equal(resumed.v, straight.v)
        np.testing.assert_array_equal(resumed.tabular_view().policy, straight.tabular_view().policy)


# -- model-free: one update by hand ---------------------------------------------------------------


def with_state(algo, **changes) -> None:
    """Load *algo*'s own state with some entries replaced (the supported way to set it up)."""
    state = algo.state_dict()
    state.update(changes)
    algo.load_state_dict(state)


def test_one_q_learning_step_by_hand():
    algo = make(QLearning, CHAIN, alpha=0.5, epsilon=0.0, epsilon_end=0.0)
    q = np.array([[0.0, 1.0], [0.2, 0.6], [0.0, 0.0], [0.0, 0.0]])
    with_state(algo, q=torch.from_numpy(q.copy()))
    it = algo.train_iteration(1)
    # From 0 the greedy action is right (1): r = 0, s' = 1, max_a' Q(1, a') = 0.6.
    # Q(0,1) = 1 + 0.5 * (0 + 0.9 * 0.6 - 1) = 0.77
    assert algo.q[0, 1] == pytest.approx(0.77)
    assert it.steps == 1 and it.episodes == []
    assert it.metrics["losses/td_error"] == pytest.approx(0.46)
    assert it.metrics["charts/epsilon"] == 0.0 and it.metrics["charts/alpha"] == 0.5
    q[0, 1] = 0.77
    np.testing.assert_allclose(algo.q, q)


def test_one_sarsa_step_bootstraps_from_the_action_taken_next():
    q = np.array([[0.0, 1.0], [0.2, 0.6], [0.0, 0.0], [0.0, 0.0]])
    for seed in range(50):  # epsilon 1: find a seed whose next action is the worse one (left)
        algo = make(Sarsa, CHAIN, seed=seed, alpha=0.5, epsilon=1.0, epsilon_end=1.0)
        with_state(algo, q=torch.from_numpy(q.copy()), action=1)
        algo.train_iteration(1)
        if algo.action == 0:
            break
    else:
        pytest.fail("no seed explored")
    # Q(0,1) = 1 + 0.5 * (0 + 0.9 * Q(1, left) - 1) = 1 + 0.5 * (0.18 - 1) = 0.59
    assert algo.q[0, 1] == pytest.approx(0.59)
    assert algo.obs == 1


TRAJECTORY = {"states": [0, 0, 0, 1], "actions": [0, 0, 1, 1], "rewards": [0.0, 0.0, 0.0, 0.0]}
# ...then right from 2 into the goal (+1). With gamma 0.9 the returns from t = 4 back to t = 0:
G = [0.6561, 0.729, 0.81, 0.9, 1.0]


def finish_chain_episode(**hp) -> tuple[MonteCarloControl, Iteration]:
    algo = make(MonteCarloControl, CHAIN, epsilon=0.0, epsilon_end=0.0, **hp)
    q = np.zeros((4, 2))
    q[2] = [0.0, 0.5]
    with_state(algo, q=torch.from_numpy(q), trajectory=TRAJECTORY, obs=2,
               env={"pos": 2, "t": 4}, episode_length=4)  # fmt: skip
    return algo, algo.train_iteration(10)


def test_one_monte_carlo_episode_by_hand_first_visit_sample_average():
    algo, it = finish_chain_episode()
    assert it.episodes == [(1.0, 5)] and it.steps == 1
    assert algo.q[0, 0] == pytest.approx(G[0])  # first visit only
    assert algo.q[0, 1] == pytest.approx(G[2])
    assert algo.q[1, 1] == pytest.approx(G[3])
    assert algo.q[2, 1] == pytest.approx(G[4])  # 0.5 + (1 - 0.5) / 1
    assert algo.visits[0, 0] == 1
    assert it.metrics["losses/td_error"] == pytest.approx((0.5 + G[3] + G[2] + G[0]) / 4)
    assert "charts/alpha" not in it.metrics  # the step is 1/N
    assert algo.trajectory == [] and algo.obs == 0  # the next episode has started


def test_one_monte_carlo_episode_every_visit_and_constant_alpha():
    algo, _ = finish_chain_episode(first_visit=False)
    assert algo.q[0, 0] == pytest.approx((G[0] + G[1]) / 2)  # the average of both visits
    assert algo.visits[0, 0] == 2
    algo, it = finish_chain_episode(alpha=0.5)
    assert algo.q[2, 1] == pytest.approx(0.5 + 0.5 * (1.0 - 0.5))
    assert algo.q[0, 0] == pytest.approx(0.5 * G[0])
    assert it.metrics["charts/alpha"] == 0.5


# -- model-free: learning -------------------------------------------------------------------------


def test_q_learning_learns_the_optimal_path_along_the_cliff():
    cliff = resolve("gridworld:cliff")
    algo = make(QLearning, cliff, budget=10_000, epsilon=0.1, epsilon_end=0.1, alpha=0.5)
    iterations = train_to(algo, 10_000)
    assert sum(len(it.episodes) for it in iterations) == algo.episodes > 300
    ret, _ = greedy_episode(algo, cliff)
    assert ret == -13.0


def test_sarsa_learns_the_safe_path():
    # Same settings as Q-learning, with alpha annealed to 0.05: at constant alpha 0.5 the greedy
    # policy of a noisy SARSA table sometimes bumps a wall for ever, whatever the seed's luck.
    cliff = resolve("gridworld:cliff")
    hp = dict(epsilon=0.1, epsilon_end=0.1, alpha=0.5, alpha_end=0.05, alpha_schedule="linear")
    sarsa, qlearning = make(Sarsa, cliff, **hp), make(QLearning, cliff, **hp)
    online = {}
    for algo in (sarsa, qlearning):
        returns = [ret for it in train_to(algo, 10_000) for ret, _ in it.episodes]
        online[algo.name] = np.mean(returns[-100:])
    ret, cells = greedy_episode(sarsa, cliff)
    edge = {cell(cliff, 2, col) for col in range(1, 11)}  # the row just above the cliff
    assert -19.0 <= ret < -13.0
    assert not edge & set(cells)
    # Sutton & Barto, Figure 6.4: exploring, SARSA earns more per episode than Q-learning.
    assert online["sarsa"] > online["q-learning"]


def test_monte_carlo_control_learns_to_reach_the_plus_one():
    classic = resolve("gridworld:classic")
    algo = make(MonteCarloControl, classic, budget=20_000)
    train_to(algo, 20_000)
    path = [(2, 0, UP), (1, 0, UP), (0, 0, RIGHT), (0, 1, RIGHT), (0, 2, RIGHT)]
    assert [algo.act(cell(classic, r, c)) for r, c, _ in path] == [a for *_, a in path]
    reached = [greedy_episode(algo, classic, seed)[0] > 0 for seed in range(30)]
    assert np.mean(reached) >= 0.9  # the other ~5%: slips into the -1 or out of time


# -- model-free: exact resume, seeds, checkpoints -------------------------------------------------


def assert_same_agents(a, b) -> None:
    np.testing.assert_array_equal(a.q, b.q)
    assert a.rng.bit_generator.state == b.rng.bit_generator.state
    assert a.env.unwrapped.get_state() == b.env.unwrapped.get_state()
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa.keys() - {"q", "visits"}:
        assert sa[key] == sb[key], key
    if "visits" in sa:
        assert torch.equal(sa["visits"], sb["visits"])


@pytest.mark.parametrize("cls", MODEL_FREE, ids=lambda c: c.name)
def test_resume_mid_episode_is_exact(cls):
    game, total = "gridworld:classic", 3_000
    straight = make(cls, game, seed=3, budget=total)
    train_to(straight, total)  # whole episodes per iteration

    split = make(cls, game, seed=3, budget=total)
    while split.steps < 1_500 or split.episode_length == 0:
        split.train_iteration(7)  # boundaries fall mid-episode
    assert split.episode_length > 0
    state = roundtrip(split.state_dict())
    del split
    resumed = make(cls, game, seed=3, budget=total)  # a fresh instance, as after a restart
    resumed.load_state_dict(state)
    train_to(resumed, total, chunk=13)
    assert resumed.steps == straight.steps == total
    assert_same_agents(resumed, straight)


@pytest.mark.parametrize("cls", MODEL_FREE, ids=lambda c: c.name)
def test_same_seed_same_table_different_seed_different(cls):
    runs = {}
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        runs[name] = make(cls, "gridworld:classic", seed=seed, budget=2_000)
        train_to(runs[name], 2_000)
    np.testing.assert_array_equal(runs["a"].q, runs["b"].q)
    assert not np.array_equal(runs["a"].q, runs["c"].q)


@pytest.mark.parametrize("cls", MODEL_FREE, ids=lambda c: c.name)
def test_exploration_does_not_draw_the_numbers_that_decide_the_slips(cls):
    # the training env is reset with the run's seed; the method's generator must not be seeded
    # the same way, or its exploration would be the slips' own numbers
    algo = make(cls, "gridworld:classic", seed=3)
    assert algo.env.unwrapped.slip > 0
    assert_separate_streams(algo.rng, algo.env)
    twin = make(cls, "gridworld:classic", seed=3)  # and still a function of the seed
    assert upcoming(twin.rng) == upcoming(algo.rng)


@pytest.mark.parametrize("cls", PLANNERS + MODEL_FREE, ids=lambda c: c.name)
def test_state_dict_is_plain_data_and_survives_a_safe_load(cls):
    algo = make(cls, "gridworld:cliff")
    algo.train_iteration(5)
    state = roundtrip(algo.state_dict())
    table = state["v"] if cls in PLANNERS else state["q"]
    assert table.dtype == torch.float64
    fresh = make(cls, "gridworld:cliff")
    fresh.load_state_dict(state)
    view, fresh_view = algo.tabular_view(), fresh.tabular_view()
    np.testing.assert_array_equal(view.values, fresh_view.values)
    np.testing.assert_array_equal(view.policy, fresh_view.policy)
    assert [fresh.act(s) for s in range(48)] == [algo.act(s) for s in range(48)]


def test_act_greedy_takes_the_first_best_and_stochastic_uses_the_given_rng():
    algo = make(QLearning, CHAIN, epsilon=0.5, epsilon_end=0.5)
    with_state(algo, q=torch.tensor([[1.0, 1.0], [0.0, 2.0], [0.0, 0.0], [0.0, 0.0]]))
    assert algo.act(0) == 0 and algo.act(1) == 1
    before = algo.rng.bit_generator.state
    draws = [algo.act(1, greedy=False, rng=np.random.default_rng(7)) for _ in range(2)]
    assert draws[0] == draws[1]  # the given rng decides...
    many = [algo.act(1, greedy=False, rng=np.random.default_rng(s)) for s in range(200)]
    assert 0.1 < many.count(0) / 200 < 0.4  # ...exploring with epsilon 0.5 over two actions
    assert algo.rng.bit_generator.state == before  # and training's own rng is untouched
    view = algo.tabular_view()
    assert view.q.shape == (4, 2) and list(view.policy) == [0, 1, 0, 0]
    np.testing.assert_array_equal(view.values, [1.0, 2.0, 0.0, 0.0])


def test_iteration_metrics_and_episode_records():
    algo = make(Sarsa, "gridworld:cliff", budget=1_000)
    it = algo.train_iteration(1_000)
    assert set(it.metrics) == {"losses/td_error", "charts/epsilon", "charts/alpha"}
    assert it.episodes and it.episodes[0][1] == it.steps  # one whole episode
    assert it.metrics["charts/epsilon"] == pytest.approx(1.0 - 0.95 * it.steps / 500)
    short = algo.train_iteration(1)
    assert short.steps == 1 and short.episodes == []


def test_tabular_methods_train_and_resume_on_a_gymnasium_toy_text_game(runs_dir):
    """A gymnasium environment without the gridworld's get_state/set_state is saved with the
    generic snapshot, so a resumed run continues exactly where the uninterrupted one went."""
    from agentapp import checkpoints
    from agentapp.engine import train
    from agentapp.engine.plan import RunConfig

    def run(steps, resume=None):
        config = RunConfig(game="gym:FrozenLake-v1", algo="q-learning", steps=steps, seed=0,
                           runs_dir=str(runs_dir), save_every=1000, eval_every=10**9,
                           eval_episodes=1, resume=resume)
        *_, finished = train(config)
        return Path(finished.run_dir)

    whole = run(2000)
    halfway = sorted((whole / "checkpoints").glob("step_*.pt"),
                     key=lambda path: int(path.stem.split("_")[1]))[0]
    resumed = run(2000, resume=str(halfway))
    a = checkpoints.load(whole / "checkpoints" / "latest.pt")["algorithm"]
    b = checkpoints.load(resumed / "checkpoints" / "latest.pt")["algorithm"]
    assert torch.equal(a["q"], b["q"]) and a["rng"] == b["rng"] and a["steps"] == b["steps"]
