"""Gradient-free policy search (``engine/policy_search.py``, ``finite-difference``,
``regression-gradient``): the two estimators against exact gradients (a smooth function, and the
return of a softmax policy on a small MDP solved as a linear system), common random numbers,
learning CartPole, checkpoints and resume."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch

from agentapp.engine import train
from agentapp.engine.algorithms import ALGORITHMS, unsuitable_reason
from agentapp.engine.algorithms.finite_difference import FiniteDifference, FiniteDifferenceSettings
from agentapp.engine.algorithms.regression_gradient import (
    RegressionGradient,
    RegressionGradientSettings,
)
from agentapp.engine.evaluate import evaluate
from agentapp.engine.plan import RunConfig
from agentapp.engine.policy_search import (
    EpisodeRunner,
    ParametricPolicy,
    finite_difference_gradient,
    parse_layers,
    regression_gradient,
)
from agentapp.errors import UserError
from agentapp.games import resolve

# -- finite differences of a known function ------------------------------------------------------

A = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, -0.3], [0.0, -0.3, 3.0]])
B = np.array([1.0, -2.0, 0.5])


def smooth(theta: np.ndarray) -> float:
    """J = sum sin(theta_k) + 1/2 theta^T A theta + b^T theta."""
    return float(np.sin(theta).sum() + 0.5 * theta @ A @ theta + B @ theta)


def smooth_gradient(theta: np.ndarray) -> np.ndarray:
    return np.cos(theta) + A @ theta + B


THETA = np.array([0.3, -1.2, 2.0])


def test_central_differences_are_exact_to_second_order():
    errors = [np.abs(finite_difference_gradient(smooth, THETA, d) - smooth_gradient(THETA)).max()
              for d in (1e-2, 1e-3)]
    # the sin part leaves delta^2/6 |cos|; the quadratic part none
    assert errors[0] <= 1e-4 / 6
    assert errors[0] / errors[1] == pytest.approx(100, rel=0.05)  # O(delta^2)


def test_central_differences_of_a_quadratic_are_exact():
    def quadratic(theta):
        return float(0.5 * theta @ A @ theta + B @ theta)

    g = finite_difference_gradient(quadratic, THETA, 0.7)
    assert np.allclose(g, A @ THETA + B, atol=1e-12)


def test_forward_differences_are_first_order_and_use_the_given_reference():
    calls = []

    def counted(theta):
        calls.append(theta.copy())
        return smooth(theta)

    errors = []
    for d in (1e-2, 1e-3):
        calls.clear()
        g = finite_difference_gradient(counted, THETA, d, central=False, reference=smooth(THETA))
        assert len(calls) == THETA.size  # J(theta) was given: n evaluations only
        errors.append(np.abs(g - smooth_gradient(THETA)).max())
    assert errors[0] / errors[1] == pytest.approx(10, rel=0.1)  # O(delta)


# -- the regression estimate against the exact gradient of a small MDP ---------------------------

# Two states, two actions; P[s, a] is the distribution of the next state, R[s, a] the reward.
P = torch.tensor([[[0.9, 0.1], [0.2, 0.8]], [[0.7, 0.3], [0.05, 0.95]]], dtype=torch.float64)
R = torch.tensor([[1.0, 0.0], [-0.5, 2.0]], dtype=torch.float64)
GAMMA, START = 0.9, torch.tensor([1.0, 0.0], dtype=torch.float64)
# features phi(s, a) of a linear softmax policy, pi(a|s) ~ exp(theta . phi(s, a)), three weights
PHI = torch.tensor([[[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]], [[0.0, 0.0, 1.0], [1.0, 1.0, -1.0]]],
                   dtype=torch.float64)


def mdp_return(theta: torch.Tensor) -> torch.Tensor:
    """J(theta) = mu_0^T (I - gamma P_pi)^-1 r_pi, exactly (differentiable in theta)."""
    pi = torch.softmax(PHI @ theta, dim=1)  # [s, a]
    p_pi = torch.einsum("sa,sat->st", pi, P)
    r_pi = (pi * R).sum(dim=1)
    v = torch.linalg.solve(torch.eye(2, dtype=torch.float64) - GAMMA * p_pi, r_pi)
    return START @ v


def mdp_J(theta: np.ndarray) -> float:
    return float(mdp_return(torch.as_tensor(theta, dtype=torch.float64)))


MDP_THETA = np.array([0.4, -0.3, 0.8])


def mdp_gradient() -> np.ndarray:
    theta = torch.tensor(MDP_THETA, dtype=torch.float64, requires_grad=True)
    mdp_return(theta).backward()
    return theta.grad.numpy()


def test_the_exact_mdp_return_is_the_value_of_a_long_rollout():
    pi = torch.softmax(PHI @ torch.tensor(MDP_THETA), dim=1)
    dist, total = START.clone(), 0.0
    for t in range(400):  # sum_t gamma^t mu_t^T r_pi
        total += GAMMA**t * float(dist @ (pi * R).sum(dim=1))
        dist = dist @ torch.einsum("sa,sat->st", pi, P)
    assert mdp_J(MDP_THETA) == pytest.approx(total, abs=1e-12)


def test_regression_gradient_matches_the_exact_policy_gradient():
    true = mdp_gradient()
    rng = np.random.default_rng(0)
    g = regression_gradient(mdp_J, MDP_THETA, 1e-4 * rng.standard_normal((30, 3)))
    assert np.allclose(g, true, rtol=1e-3, atol=1e-5 * np.abs(true).max())
    # large perturbations see the curvature of J: the fit is off
    coarse = regression_gradient(mdp_J, MDP_THETA, 1.0 * rng.standard_normal((30, 3)))
    assert np.abs(coarse - true).max() > 100 * np.abs(g - true).max()
    # and central differences agree
    assert np.allclose(finite_difference_gradient(mdp_J, MDP_THETA, 1e-4), true, rtol=1e-6)


def test_regression_recovers_the_gradient_of_a_linear_return_exactly():
    slope = np.array([3.0, -1.0, 0.25, 7.0])

    def linear(theta):
        return float(slope @ theta + 5.0)

    rng = np.random.default_rng(1)
    theta = rng.standard_normal(4)
    for m in (4, 9):  # square and overdetermined, with large perturbations
        g = regression_gradient(linear, theta, 2.0 * rng.standard_normal((m, 4)))
        assert np.allclose(g, slope, atol=1e-9)
    # the reference is used when given, not recomputed
    g = regression_gradient(linear, theta, np.eye(4), reference=linear(theta))
    assert np.allclose(g, slope, atol=1e-12)


# -- the policy and its episodes -----------------------------------------------------------------


def test_policy_shapes_and_hidden_settings():
    game = resolve("cartpole")
    env = game.make()
    linear = ParametricPolicy(env.observation_space, env.action_space)
    assert linear.size == 4 * 2 + 2
    theta = np.zeros(linear.size)
    theta[1] = 1.0  # score of action 1 += x[0]; biases last
    assert linear.actions(theta, np.array([[0.5, 0, 0, 0], [-0.5, 0, 0, 0]])).tolist() == [1, 0]
    net = ParametricPolicy(env.observation_space, env.action_space, parse_layers("8"))
    assert net.size == 4 * 8 + 8 + 8 * 2 + 2
    assert parse_layers("") == () and parse_layers("8, 4") == (8, 4)
    for bad in ("0", "x", "8,-1"):
        with pytest.raises(UserError, match="--set hidden="):
            parse_layers(bad)
    env.close()


def test_estimate_return_uses_common_random_numbers():
    game = resolve("cartpole")
    env = game.make()
    policy = ParametricPolicy(env.observation_space, env.action_space)
    env.close()
    runner = EpisodeRunner(game, game.params, policy)
    theta = policy.initial(np.random.default_rng(3))
    first = runner.estimate_return(theta, 3, [11, 12, 13])
    played = runner.steps
    assert played == sum(length for _, length in runner.last_episodes)
    assert first == np.mean([ret for ret, _ in runner.last_episodes])
    assert runner.estimate_return(theta, 3, [11, 12, 13]) == first  # same seeds, same value
    assert runner.estimate_return(theta, 3, 11) == first  # an int: consecutive seeds
    assert runner.steps == 3 * played
    others = {runner.estimate_return(theta, 3, [s, s + 1, s + 2]) for s in range(20, 80, 3)}
    assert len(others) > 1  # other seeds, other episodes
    runner.close()


# -- the methods ---------------------------------------------------------------------------------

METHODS = {
    "finite-difference": (FiniteDifference, FiniteDifferenceSettings),
    "regression-gradient": (RegressionGradient, RegressionGradientSettings),
}


def test_both_methods_are_registered_and_refuse_pixels():
    for name, (cls, _) in METHODS.items():
        assert ALGORITHMS[name] is cls
        assert unsuitable_reason(cls, resolve("cartpole")) is None
        assert unsuitable_reason(cls, resolve("pendulum")) is None  # clipped linear actions
        assert "vector-obs" in unsuitable_reason(cls, resolve("pong"))


def test_continuous_actions_are_the_clipped_linear_scores():
    game = resolve("pendulum")
    agent = FiniteDifference(game, game.params, FiniteDifferenceSettings(episodes_per_estimate=1),
                             seed=0, budget=10_000)
    it = agent.train_iteration(10_000)
    assert it.steps == 9 * 200 and np.isfinite(list(it.metrics.values())).all()  # 2n + 1 episodes
    obs = np.random.default_rng(0).uniform(-8, 8, size=(32, 3)).astype(np.float32)
    actions = agent.act_batch(obs)
    assert actions.shape == (32, 1) and np.abs(actions).max() <= 2.0
    scores = agent.policy.scores(agent.theta, obs)
    assert np.allclose(actions, np.clip(scores, -2.0, 2.0), atol=1e-6)
    agent.close()


@pytest.mark.parametrize("name", list(METHODS))
def test_an_iteration_counts_every_step_and_reports_the_unperturbed_episodes(name):
    cls, settings = METHODS[name]
    game = resolve("cartpole")
    agent = cls(game, game.params, settings(episodes_per_estimate=3), seed=0, budget=10_000)
    it = agent.train_iteration(10_000)
    # central differences: 2n; regression: m = 2n by default (n pairs +-Delta theta)
    assert it.metrics["charts/perturbations"] == 2 * agent.theta.size
    assert len(it.episodes) == 3  # J(theta)'s episodes only
    assert it.metrics["charts/estimated_return"] == np.mean([r for r, _ in it.episodes])
    assert it.steps == agent.runner.steps > sum(n for _, n in it.episodes) * 3
    assert it.metrics["charts/gradient_norm"] > 0
    assert it.metrics["charts/step_norm"] == pytest.approx(agent.hp.step_size)  # normalised
    agent.close()


def test_the_budget_is_kept_exactly_by_dropping_an_unfinished_gradient():
    game = resolve("cartpole")
    agent = FiniteDifference(game, game.params, FiniteDifferenceSettings(), seed=0, budget=100)
    theta = agent.theta.copy()
    it = agent.train_iteration(100)  # far fewer steps than 21 estimates of J need
    assert it.steps == 100 and agent.runner.steps == 100 and not it.metrics
    assert np.array_equal(agent.theta, theta)
    assert agent.runner.stop_at is None
    agent.close()


@pytest.mark.parametrize("name", list(METHODS))
def test_save_load_gives_identical_actions(name):
    cls, settings = METHODS[name]
    game = resolve("cartpole")
    hp = settings(hidden="4", episodes_per_estimate=1)
    agent = cls(game, game.params, hp, seed=5, budget=10_000)
    agent.train_iteration(10_000)
    buffer = io.BytesIO()
    torch.save(agent.state_dict(), buffer)
    buffer.seek(0)
    other = cls(game, game.params, hp, seed=99, budget=10_000)
    other.load_state_dict(torch.load(buffer, weights_only=True))
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    assert np.array_equal(agent.act_batch(obs), other.act_batch(obs))
    assert agent.act(obs[0]) == other.act(obs[0])
    # and both continue alike: the same seeds, the same perturbations
    assert agent.train_iteration(10_000).metrics == other.train_iteration(10_000).metrics
    assert np.array_equal(agent.theta, other.theta)
    with pytest.raises(ValueError, match="parameters"):
        cls(game, game.params, settings(), seed=0, budget=1).load_state_dict(agent.state_dict())
    agent.close()
    other.close()


@pytest.mark.parametrize("name", list(METHODS))
def test_resume_from_a_step_checkpoint_continues_exactly(runs_dir, name):
    common = {"device": "cpu", "eval_every": 10**9, "eval_episodes": 1, "runs_dir": str(runs_dir)}
    overrides = {"episodes_per_estimate": "1"}
    straight = list(train(RunConfig(game="cartpole", algo=name, steps=4000, seed=2,
                                    overrides=overrides, save_every=1500, **common)))
    run = Path(straight[0].run_dir)
    first = min(run.glob("checkpoints/step_*.pt"), key=lambda p: int(p.stem.split("_")[1]))
    resumed = list(train(RunConfig(game="cartpole", resume=str(first), **common)))
    assert 0 < resumed[0].start_step < straight[-1].step == resumed[-1].step
    a = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)["algorithm"]
    b = torch.load(Path(resumed[0].run_dir) / "checkpoints" / "latest.pt",
                   weights_only=True)["algorithm"]
    assert torch.equal(a["theta"], b["theta"]) and a["rng"] == b["rng"]
    assert (a["steps"], a["iterations"], a["doublings"]) == (b["steps"], b["iterations"],
                                                             b["doublings"])


def _learn(cls, hp, seed: int, budget: int) -> float:
    game = resolve("cartpole")
    agent = cls(game, game.params, hp, seed=seed, budget=budget)
    steps = 0
    while steps < budget:
        steps += agent.train_iteration(budget - steps).steps
    result = evaluate(agent, game, game.params, episodes=10, seed=10_000)
    agent.close()
    return float(np.mean(result.returns))


# Measured greedy means over 10 episodes (seeds 0, 1, 2), with the methods' own random streams
# and flat-spot widening: finite differences after 30k steps 287.7, 386.7, 500; regression after
# 100k steps (perturbations=40) 283.2, 500, 500.
@pytest.mark.parametrize(("name", "budget", "settings"), [
    ("finite-difference", 30_000, {}),
    ("regression-gradient", 100_000, {"perturbations": 40}),
])
def test_learns_cartpole(name, budget, settings):
    cls, hp = METHODS[name]
    assert _learn(cls, hp(**settings), seed=0, budget=budget) >= 200


# -- flat spots ----------------------------------------------------------------------------------


def _always_left(cls, settings, **hp):
    """An agent whose policy always pushes left: zero weights, biases +-1.5. No perturbation
    of +-0.5 changes an action (|delta x| over a 10-step episode is far below 3), so every J
    is equal and the gradient is exactly 0."""
    game = resolve("cartpole")
    agent = cls(game, game.params, settings(episodes_per_estimate=1, **hp), seed=0,
                budget=100_000)
    agent.theta = np.zeros(agent.theta.size)
    agent.theta[-2:] = [1.5, -1.5]  # scores: action 0 by 3 everywhere
    return agent


@pytest.mark.parametrize("name", list(METHODS))
def test_a_flat_spot_widens_delta_until_theta_moves_then_returns_to_it(name):
    cls, settings = METHODS[name]
    agent = _always_left(cls, settings)
    delta, stuck = agent.hp.delta, agent.theta.copy()
    deltas = []
    for _ in range(agent.hp.flat_doublings + 1):
        it = agent.train_iteration(100_000)
        deltas.append(it.metrics["charts/delta"])
        if it.metrics["charts/gradient_norm"] > 0:
            break
        assert np.array_equal(agent.theta, stuck)  # a zero estimate: no step
    # delta doubled after every flat estimate, until one saw a slope and theta moved
    assert deltas == [delta * 2**k for k in range(len(deltas))] and len(deltas) > 1
    assert it.metrics["charts/gradient_norm"] > 0
    assert not np.array_equal(agent.theta, stuck)
    assert agent.doublings == 0  # a non-zero estimate: the next uses the set delta
    assert agent.train_iteration(100_000).metrics["charts/delta"] == delta
    agent.close()


def test_widening_is_saved_and_can_be_turned_off():
    agent = _always_left(FiniteDifference, FiniteDifferenceSettings)
    agent.train_iteration(100_000)
    other = _always_left(FiniteDifference, FiniteDifferenceSettings)
    other.load_state_dict(agent.state_dict())
    assert agent.doublings == other.doublings == 1
    assert agent.train_iteration(100_000).metrics == other.train_iteration(100_000).metrics
    # flat_doublings=0: the plain estimator, which stays in the flat spot for good
    plain = _always_left(FiniteDifference, FiniteDifferenceSettings, flat_doublings=0)
    stuck = plain.theta.copy()
    for _ in range(3):
        it = plain.train_iteration(100_000)
        assert it.metrics["charts/delta"] == plain.hp.delta
        assert it.metrics["charts/gradient_norm"] == 0
    assert np.array_equal(plain.theta, stuck)
    for each in (agent, other, plain):
        each.close()
