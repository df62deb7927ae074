"""Policy evaluation (TD(0), Monte Carlo): hand-computed updates and exact values, learning to the
true V^pi on the gridworld, the evaluated policy from a checkpoint, exact resume, bad input.

Hand-computed cases use a three-cell chain whose V^pi is known in closed form: cells 0 - 1 - 2,
start at 0, action 0 moves left (staying put at 0), action 1 right; entering 2 pays +1 and ends
the episode. With gamma = 0.9 the random policy has V(1) = 0.5 + 0.45 V(0) and
V(0) = 0.45 V(0) + 0.45 V(1), so V = (90/139, 110/139, 0); always-right has V = (0.9, 1, 0).
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from agentapp import checkpoints
from agentapp.engine import train
from agentapp.engine.algorithms import ALGORITHMS, TD0, MCEvaluation, ValueIteration, suitable
from agentapp.engine.algorithms.policy_evaluation import policy_values, reachable
from agentapp.engine.algorithms.tabular import TabularModel
from agentapp.engine.control import Control
from agentapp.engine.events import EpisodeEnded, RunStarted
from agentapp.engine.insight import PROBABILITIES
from agentapp.engine.plan import RunConfig, prepare, preset_settings, restore_agent
from agentapp.games import resolve
from agentapp.games.registry import DISCRETE_ACTIONS, DISCRETE_OBS, MODEL, Game
from agentapp.params import describe
from tests.conftest import refused
from tests.engine.test_tabular_algorithms import ChainEnv as TabularChain

EVALUATORS = [TD0, MCEvaluation]
RANDOM_V = np.array([90 / 139, 110 / 139, 0.0])
RIGHT = np.array([[0.0, 1.0]] * 3)
LEFT = np.array([[1.0, 0.0]] * 3)


def ChainEnv(max_steps: int = 50) -> gym.Env:
    """The three-cell chain of the module docstring."""
    return TabularChain(max_steps, n_states=3)


def chain(max_steps: int = 50) -> Game:
    return Game(
        id="test:chain3", family="test", description="a three-cell chain", params=None,
        make_env=lambda params, render_mode=None: ChainEnv(max_steps),
        capabilities_of=lambda params: frozenset({MODEL, DISCRETE_OBS, DISCRETE_ACTIONS}),
        default_gamma=lambda params: 0.9,
    )


CHAIN = chain()


def make(cls, game: Game | str, *, seed: int = 0, budget: int = 10_000, **hp):
    game = resolve(game) if isinstance(game, str) else game
    return cls(game, game.params, cls.Hyperparameters(**hp), seed=seed, budget=budget)


def with_state(algo, **changes) -> None:
    """Load *algo*'s own state with some entries replaced (the supported way to set it up)."""
    state = algo.state_dict()
    state.update({k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                  for k, v in changes.items()})
    algo.load_state_dict(state)


def train_to(algo, steps: int, chunk: int | None = None) -> None:
    while algo.steps < steps:
        left = steps - algo.steps
        algo.train_iteration(left if chunk is None else min(chunk, left))


def roundtrip(state: dict) -> dict:
    """What a checkpoint gives back: torch.save then a safe torch.load."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


# -- the registry's view ---------------------------------------------------------------------------


def test_names_requirements_and_documented_settings():
    assert ALGORITHMS["td0"] is TD0 and ALGORITHMS["mc-evaluation"] is MCEvaluation
    for cls in EVALUATORS:
        assert cls.requires == {DISCRETE_OBS} and cls.step_unit == "steps"
        assert cls.action_kinds == {DISCRETE_ACTIONS}
        assert not cls.improves_policy and cls.title and cls.summary
        assert all(f.help for f in describe(cls.Hyperparameters))
        hp = cls.Hyperparameters()
        assert hp.policy == "random" and hp.gamma is None
        with pytest.raises(dataclasses.FrozenInstanceError):
            hp.policy = "optimal"
    bounds = {f.name: (f.low, f.high) for f in describe(TD0.Hyperparameters)}
    assert bounds["alpha"] == (0.0, 1.0) and bounds["gamma"] == (0.0, 1.0)
    assert {"td0", "mc-evaluation"} <= set(suitable(resolve("gridworld:aliased")))
    assert "td0" not in suitable(resolve("cartpole"))
    assert make(TD0, "gridworld").gamma == 1.0 and make(TD0, "gridworld:maze").gamma == 0.99


# -- the exact V^pi --------------------------------------------------------------------------------


def test_exact_values_solve_the_chain_by_hand():
    model = TabularModel.from_p(ChainEnv().P, 3, 2)
    np.testing.assert_allclose(policy_values(model, np.full((3, 2), 0.5), 0.9), RANDOM_V)
    np.testing.assert_allclose(policy_values(model, RIGHT, 0.9), [0.9, 1.0, 0.0])
    np.testing.assert_allclose(policy_values(model, RIGHT, 1.0), [1.0, 1.0, 0.0])
    # always left never ends: with gamma = 1 its values are not defined
    assert policy_values(model, LEFT, 1.0) is None
    np.testing.assert_allclose(policy_values(model, LEFT, 0.9), [0.0, 0.0, 0.0])
    assert list(reachable(model, np.full((3, 2), 0.5), [0])) == [True, True, False]
    assert list(reachable(model, LEFT, [0])) == [True, False, False]


def test_the_agent_measures_its_distance_from_the_exact_values():
    algo = make(TD0, CHAIN)
    np.testing.assert_allclose(algo.pi, np.full((3, 2), 0.5))
    np.testing.assert_allclose(algo.v_true, RANDOM_V)
    # V = 0 everywhere; measured over cells 0 and 1 (the goal is never a state to act in)
    expected = np.sqrt((RANDOM_V[0] ** 2 + RANDOM_V[1] ** 2) / 2)
    metrics = algo.error_metrics()
    assert metrics["losses/v_error_rms"] == pytest.approx(expected)
    assert metrics["charts/v_max_error"] == pytest.approx(110 / 139)


# -- one update by hand ----------------------------------------------------------------------------


def test_one_td0_step_by_hand_then_a_terminal_step():
    algo = make(TD0, CHAIN, alpha=0.5)
    with_state(algo, pi=RIGHT, v=np.array([0.5, 0.2, 5.0]))
    it = algo.train_iteration(1)
    # From 0, right: r = 0, s' = 1.  V(0) = 0.5 + 0.5 * (0 + 0.9 * 0.2 - 0.5) = 0.34
    np.testing.assert_allclose(algo.v, [0.34, 0.2, 5.0])
    assert it.steps == 1 and it.episodes == []
    assert it.metrics["losses/td_error"] == pytest.approx(0.32)
    assert it.metrics["charts/alpha"] == 0.5
    # truth for always-right: (0.9, 1); errors (-0.56, -0.8)
    assert it.metrics["losses/v_error_rms"] == pytest.approx(np.sqrt((0.56**2 + 0.8**2) / 2))
    assert it.metrics["charts/v_max_error"] == pytest.approx(0.8)
    # From 1 into the goal: the target is r alone, V(2) = 5 is never bootstrapped from.
    it = algo.train_iteration(1)
    assert algo.v[1] == pytest.approx(0.2 + 0.5 * (1.0 - 0.2))
    assert it.episodes == [(1.0, 2)] and algo.obs == 0


def test_td0_follows_the_random_policy_both_ways():
    seen = set()
    for seed in range(20):
        algo = make(TD0, CHAIN, seed=seed, alpha=0.5)
        with_state(algo, v=np.array([0.5, 0.2, 0.0]))
        algo.train_iteration(1)
        # left stays at 0: 0.5 + 0.5 (0.9 * 0.5 - 0.5) = 0.475; right: 0.34 as above
        assert algo.v[0] == pytest.approx(0.475) or algo.v[0] == pytest.approx(0.34)
        seen.add(round(float(algo.v[0]), 3))
    assert seen == {0.475, 0.34}


def test_a_truncated_episode_bootstraps():
    algo = make(TD0, chain(max_steps=1), alpha=0.5)
    with_state(algo, pi=RIGHT, v=np.array([0.5, 0.2, 0.0]))
    it = algo.train_iteration(5)
    assert algo.v[0] == pytest.approx(0.34)  # r + gamma V(1), although the episode ended
    assert it.episodes == [(0.0, 1)]


def test_monte_carlo_first_and_every_visit_by_hand():
    # Two steps at 0 already taken (left, left), then right to 1 and right into the goal:
    # G_3 = 1, G_2 = 0.9, G_1 = 0.81, G_0 = 0.729   (gamma 0.9)
    def episode(**hp):
        algo = make(MCEvaluation, CHAIN, **hp)
        trajectory = {"states": [0, 0], "rewards": [0.0, 0.0]}
        with_state(algo, pi=RIGHT, trajectory=trajectory, env={"pos": 0, "t": 2})
        it = algo.train_iteration(10)
        assert it.steps == 2 and it.episodes == [(1.0, 2)] and algo.trajectory == []
        return algo, it

    first, it = episode()
    np.testing.assert_allclose(first.v, [0.729, 1.0, 0.0])  # the first visit's return only
    assert list(first.visits) == [1, 1, 0]
    assert it.metrics["losses/td_error"] == pytest.approx((1.0 + 0.729) / 2)
    every, _ = episode(every_visit=True)
    np.testing.assert_allclose(every.v, [(0.729 + 0.81 + 0.9) / 3, 1.0, 0.0])
    assert list(every.visits) == [3, 1, 0]
    constant, it = episode(alpha=0.5)
    np.testing.assert_allclose(constant.v, [0.3645, 0.5, 0.0])
    assert it.metrics["charts/alpha"] == 0.5


def test_monte_carlo_completes_a_truncated_return_with_v():
    algo = make(MCEvaluation, chain(max_steps=1))
    with_state(algo, pi=RIGHT, v=np.array([0.0, 0.6, 0.0]))
    algo.train_iteration(5)
    assert algo.v[0] == pytest.approx(0.9 * 0.6)


# -- acting, viewing -------------------------------------------------------------------------------


def test_acts_with_the_evaluated_policy_and_shows_it():
    algo = make(TD0, CHAIN)
    before = algo.rng.bit_generator.state
    draws = [algo.act(0, rng=np.random.default_rng(s)) for s in range(200)]
    assert 0.35 < np.mean(draws) < 0.65  # greedy or not, the random policy is random
    assert algo.rng.bit_generator.state == before  # training's own rng is untouched
    view = algo.tabular_view()
    assert list(view.policy) == [-1, -1, -1] and view.q is None  # no most probable action
    assert view.about["policy"] == "random" and "v_error_rms" in view.about
    insight = algo.insight(1)
    assert insight.kind == PROBABILITIES and list(insight.values) == [0.5, 0.5]
    with_state(algo, pi=RIGHT)
    assert algo.act(0) == 1 and list(algo.tabular_view().policy) == [1, 1, 1]


# -- learning on the gridworld ---------------------------------------------------------------------


def preset_agent(cls, game: str, seed: int = 0, budget: int | None = None, **changes):
    """An agent with the preset's settings for (*game*, method), and the preset's budget unless
    *budget* is given."""
    resolved = resolve(game)
    preset, hp = preset_settings(resolved, cls)
    hp = dataclasses.replace(hp, **changes)
    budget = budget or preset.budget(cls.step_unit)
    return cls(resolved, resolved.params, hp, seed=seed, budget=budget), budget


@pytest.mark.parametrize("cls", EVALUATORS, ids=lambda c: c.name)
def test_random_policy_on_classic_within_the_preset_budget(cls):
    algo, budget = preset_agent(cls, "gridworld")
    assert algo.hp.policy == "random"
    start = algo.error_metrics()["losses/v_error_rms"]
    train_to(algo, budget)
    metrics = algo.error_metrics()
    # V^random is about -1.6 at the start: from V = 0 the error starts above 1
    assert start > 1.0
    assert metrics["losses/v_error_rms"] < 0.06 and metrics["charts/v_max_error"] < 0.15


def test_the_optimal_policy_has_value_iterations_values():
    vi = make(ValueIteration, "gridworld")
    while not vi.train_iteration(1).converged:
        pass
    for cls in EVALUATORS:
        algo, _ = preset_agent(cls, "gridworld", budget=20_000, policy="optimal")
        np.testing.assert_allclose(algo.v_true, vi.v, atol=1e-8)  # the exact solve
        floor = [s for s in range(12) if s not in (3, 5, 7)]  # not the goal, wall and pit
        np.testing.assert_array_equal(algo.tabular_view().policy[floor], vi.policy()[floor])
        train_to(algo, 20_000)
        assert algo.error_metrics()["losses/v_error_rms"] < 0.05


# -- a checkpoint's policy -------------------------------------------------------------------------


def test_evaluates_the_greedy_policy_of_a_q_learning_run(runs_dir):
    events = list(train(RunConfig(game="gridworld", algo="q-learning", steps=3_000, seed=0,
                                  runs_dir=str(runs_dir))))
    q_run = Path(events[0].run_dir)
    q_agent, _, _ = restore_agent(checkpoints.load(q_run / "checkpoints" / "best.pt"))
    greedy = q_agent.tabular_view().policy

    events = list(train(RunConfig(game="gridworld", algo="td0", steps=5_000, seed=0,
                                  runs_dir=str(runs_dir), overrides={"policy": str(q_run)})))
    run = Path(events[0].run_dir)
    assert not (run / "checkpoints" / "best.pt").exists()  # a fixed policy picks no best
    shutil.rmtree(q_run)  # the evaluation keeps its policy: the source is no longer needed
    agent, _, _ = restore_agent(checkpoints.load(run / "checkpoints" / "latest.pt"))
    np.testing.assert_array_equal(agent.pi.argmax(axis=1), greedy)
    np.testing.assert_array_equal(agent.pi.max(axis=1), np.ones(12))
    np.testing.assert_array_equal(agent.tabular_view().policy, greedy)
    assert [agent.act(s) for s in range(12)] == list(greedy)
    assert agent.error_metrics()["losses/v_error_rms"] < 0.2


# -- resume ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", EVALUATORS, ids=lambda c: c.name)
def test_resume_mid_episode_is_exact(cls):
    total = 3_000
    straight = make(cls, "gridworld", seed=3, budget=total, alpha=0.1)
    train_to(straight, total)
    split = make(cls, "gridworld", seed=3, budget=total, alpha=0.1)
    while split.steps < total // 2 or split.episode_length == 0:
        split.train_iteration(7)  # boundaries fall mid-episode
    state = roundtrip(split.state_dict())
    del split
    resumed = make(cls, "gridworld", seed=3, budget=total, alpha=0.1)  # as after a restart
    resumed.load_state_dict(state)
    train_to(resumed, total, chunk=13)
    assert resumed.steps == straight.steps == total
    np.testing.assert_array_equal(resumed.v, straight.v)
    assert resumed.rng.bit_generator.state == straight.rng.bit_generator.state


@pytest.mark.parametrize("algo", ["td0", "mc-evaluation"])
def test_resume_through_the_loop_is_exact(runs_dir, algo):
    config = RunConfig(game="gridworld", algo=algo, steps=4_000, seed=5, runs_dir=str(runs_dir))
    straight = list(train(config))
    control = Control()
    for event in train(config, control):  # the same run, stopped part-way
        if isinstance(event, RunStarted):
            run = Path(event.run_dir)
        if isinstance(event, EpisodeEnded) and event.step > 2_000:
            control.stop("interrupted")
    assert checkpoints.load(run / "checkpoints" / "latest.pt")["step"] < 4_000
    list(train(prepare(RunConfig(game="gridworld", resume=str(run), runs_dir=str(runs_dir)))))
    a = checkpoints.load(Path(straight[0].run_dir) / "checkpoints" / "latest.pt")
    b = checkpoints.load(run / "checkpoints" / "latest.pt")
    assert a["step"] == b["step"] == 4_000
    for key, value in a["algorithm"].items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, b["algorithm"][key]), key


# -- the command line ------------------------------------------------------------------------------


def test_bad_policy_values_are_one_line_errors(cli, runs_dir, tmp_path):
    runs_dir.mkdir(parents=True, exist_ok=True)
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a checkpoint")
    *_, finished = train(RunConfig(game="gridworld:cliff", algo="td0", steps=50, seed=0,
                                   runs_dir=str(runs_dir)))
    cliff = finished.run_dir
    cases = [
        (("--set", "policy=greedy"), "expected random, optimal, or a checkpoint"),
        (("--set", "policy="), "expected random, optimal, or a checkpoint"),
        (("--set", "policy=optimal", "--set", "obs=walls"), "optimal needs the game's model"),
        (("--set", f"policy={text_file}"), "not a valid agentapp checkpoint"),
        (("--set", f"policy={cliff}"), "is a gridworld:cliff agent"),
    ]
    for args, says in cases:
        line = refused(cli, runs_dir, "train", "gridworld", "--algo", "td0", *args, says=says)
        assert line.startswith("agentapp: --set policy=")
    refused(cli, runs_dir, "train", "gridworld", "--algo", "mc-evaluation", "--set",
            "every_visit=maybe", says="--set every_visit=maybe: expected bool")
    refused(cli, runs_dir, "train", "gridworld", "--algo", "td0", "--set", "alpha=0",
            says="--set alpha=0: must be in (0, 1]")


def test_inspect_shows_v_of_the_evaluated_policy_and_its_distance(cli, runs_dir):
    result = cli("train", "gridworld", "--algo", "mc-evaluation", "--steps", "20000",
                 "--seed", "0")
    assert result.exit_code == 0, result.output
    run = Path(result.stdout.strip().splitlines()[-1])
    data = json.loads(cli("inspect", run, "--json").stdout)
    assert data["about"]["policy"] == "random"
    assert data["about"]["v_error_rms"] < 0.15
    assert data["values"][2][0] == pytest.approx(-1.587, abs=0.2)  # V^random at the start
    assert data["values"][1][1] is None  # the wall
    assert all(a is None for row in data["policy"] for a in row)  # no most probable action
    text = cli("inspect", run).stdout
    assert "v_error_rms=" in text and "V(s)" in text and "evaluated policy" in text
