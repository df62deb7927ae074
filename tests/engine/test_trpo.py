"""TRPO and the restricted step: conjugate gradient against a direct solve, the Fisher-vector
product against the Fisher matrix built by hand, the trust region and the fixed step length on real
rollouts, save -> load -> identical actions on Pendulum, learning CartPole, and exact resume."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.distributions import Categorical, kl_divergence

from agentapp.engine import train
from agentapp.engine.algorithms.restricted_step import RestrictedStep, RestrictedStepSettings
from agentapp.engine.algorithms.trpo import TRPO, TRPOSettings
from agentapp.engine.events import CheckpointSaved, EpisodeEnded, Metrics, RunFinished
from agentapp.engine.natural_gradient import (
    conjugate_gradient,
    fisher_vector_product,
    flat_parameters,
    line_search,
    mean_kl,
)
from agentapp.engine.plan import RunConfig, restore_agent
from agentapp.games import resolve
from tests.engine.test_deep_algorithms import NEVER, assert_identical

PENDULUM = "gym:Pendulum-v1"


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread, as the training loop sets on a small machine (tests that build an
    agent directly would otherwise fight the other processes for the cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _agent(cls, game: str = "cartpole", n_envs: int = 2, **settings):
    resolved = resolve(game)
    hp_cls = TRPOSettings if cls is TRPO else RestrictedStepSettings
    hp = hp_cls(n_steps=64, batch_size=64, critic_epochs=2, **settings)
    return cls(resolved, resolved.params, hp, seed=0, budget=10_000, n_envs=n_envs)


def _rollout(agent) -> tuple[torch.Tensor, ...]:
    """One collected rollout as (obs, actions, old log-probs, normalised advantages)."""
    agent.collect()
    batch = agent.buffer.batch()
    adv = batch.advantages
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    return batch.obs, batch.actions, batch.old_log_probs, adv


# -- the maths ------------------------------------------------------------------------------------


def test_conjugate_gradient_solves_a_symmetric_positive_definite_system():
    gen = torch.Generator().manual_seed(0)
    m = torch.randn(12, 12, generator=gen, dtype=torch.float64)
    a = m @ m.T + 0.5 * torch.eye(12, dtype=torch.float64)
    b = torch.randn(12, generator=gen, dtype=torch.float64)
    exact = torch.linalg.solve(a, b)
    x = conjugate_gradient(lambda v: a @ v, b, iterations=12)  # n iterations: exact
    assert torch.allclose(x, exact, atol=1e-8)
    few = conjugate_gradient(lambda v: a @ v, b, iterations=3)
    assert (a @ few - b).norm() < b.norm()  # a few iterations already head the right way
    assert torch.equal(conjugate_gradient(lambda v: a @ v, torch.zeros_like(b)),
                       torch.zeros_like(b))


def test_fisher_vector_product_is_the_fisher_matrix_times_the_vector():
    """F = mean_s sum_a pi(a|s) grad log pi(a|s) grad log pi(a|s)^T, built row by row with
    autograd for a tiny linear softmax policy, against the KL's Hessian-vector product."""
    torch.manual_seed(0)
    policy = nn.Linear(3, 4).double()
    params = list(policy.parameters())
    states = torch.randn(5, 3, dtype=torch.float64)
    n = sum(p.numel() for p in params)
    fisher = torch.zeros(n, n, dtype=torch.float64)
    probs = torch.softmax(policy(states), dim=-1).detach()
    for s in range(len(states)):
        for a in range(4):
            log_pi = torch.log_softmax(policy(states[s]), dim=-1)[a]
            grad = torch.cat([g.reshape(-1) for g in torch.autograd.grad(log_pi, params)])
            fisher += probs[s, a] * torch.outer(grad, grad) / len(states)
    with torch.no_grad():
        old = Categorical(logits=policy(states))
    kl = mean_kl(old, Categorical(logits=policy(states)))
    damping = 0.1
    fvp = fisher_vector_product(kl, params, damping)
    v = torch.randn(n, dtype=torch.float64)
    assert torch.allclose(fvp(v), fisher @ v + damping * v, atol=1e-10)
    columns = torch.stack([fvp(e) for e in torch.eye(n, dtype=torch.float64)], dim=1)
    assert torch.allclose(columns, fisher + damping * torch.eye(n, dtype=torch.float64),
                          atol=1e-10)


def test_line_search_backtracks_and_restores_the_parameters_when_nothing_passes():
    layer = nn.Linear(2, 2)
    params = list(layer.parameters())
    before = [p.detach().clone() for p in params]
    step = torch.ones(6)
    seen = []

    def accept_third() -> bool:
        seen.append(flat_parameters(params)[0].item() - before[0][0, 0].item())
        return len(seen) == 3

    fraction, tries = line_search(params, step, accept_third, max_steps=5, shrink=0.5)
    assert (fraction, tries) == (0.25, 3)
    assert seen == pytest.approx([1.0, 0.5, 0.25])
    assert torch.allclose(flat_parameters(params), flat_parameters(before) + 0.25)

    layer = nn.Linear(2, 2)
    params = list(layer.parameters())
    before = [p.detach().clone() for p in params]
    assert line_search(params, step, lambda: False, max_steps=4, shrink=0.5) == (0.0, 4)
    for p, q in zip(params, before, strict=True):
        assert torch.equal(p, q)  # bitwise: theta_old put back exactly


# -- the policy steps on real rollouts ------------------------------------------------------------


@pytest.mark.parametrize("game", ["cartpole", PENDULUM])
def test_trpo_step_keeps_the_mean_kl_within_max_kl(game):
    agent = _agent(TRPO, game, max_kl=0.01)
    obs, actions, old_log_probs, adv = _rollout(agent)
    with torch.no_grad():
        old = agent.model.distribution(obs)
    critic = [p.detach().clone() for p in agent.critic_params]
    metrics = agent.policy_step(obs, actions, old_log_probs, adv)
    with torch.no_grad():
        new = agent.model.distribution(obs)
    kl = float(kl_divergence(old, new).mean())
    assert 0 < kl <= 0.01
    assert metrics["charts/kl"] == pytest.approx(kl)
    assert 0 < metrics["charts/step_fraction"] <= 1 and metrics["losses/surrogate_gain"] > 0
    assert all(torch.equal(p, q) for p, q in zip(agent.critic_params, critic, strict=True))
    agent.close()


def test_trpo_without_an_improving_step_keeps_the_old_policy():
    agent = _agent(TRPO)
    obs, actions, old_log_probs, adv = _rollout(agent)
    before = [p.detach().clone() for p in agent.params]
    # zero advantages: the surrogate cannot improve, so no step may be taken
    metrics = agent.policy_step(obs, actions, old_log_probs, torch.zeros_like(adv))
    assert all(torch.equal(p, q) for p, q in zip(agent.params, before, strict=True))
    assert metrics["charts/step_fraction"] == 0.0 and metrics["charts/kl"] == 0.0
    # a trust region too small for float32 to see any gain: every candidate is refused
    agent = _agent(TRPO, max_kl=1e-30, line_search_steps=3)
    obs, actions, old_log_probs, adv = _rollout(agent)
    before = [p.detach().clone() for p in agent.params]
    metrics = agent.policy_step(obs, actions, old_log_probs, adv)
    assert metrics["charts/step_fraction"] == 0.0 and metrics["charts/line_search_steps"] == 3
    assert all(torch.equal(p, q) for p, q in zip(agent.params, before, strict=True))
    agent.close()


@pytest.mark.parametrize("game", ["cartpole", PENDULUM])
def test_restricted_step_moves_the_actor_by_sqrt_two_epsilon(game):
    epsilon = 0.02
    agent = _agent(RestrictedStep, game, epsilon=epsilon)
    obs, actions, old_log_probs, adv = _rollout(agent)
    actor = flat_parameters(agent.actor_params).double()
    critic = flat_parameters(agent.critic_params)
    metrics = agent.policy_step(obs, actions, old_log_probs, adv)
    moved = (flat_parameters(agent.actor_params).double() - actor).norm()
    assert float(moved) == pytest.approx(math.sqrt(2 * epsilon), rel=1e-4)
    assert metrics["charts/step_norm"] == pytest.approx(math.sqrt(2 * epsilon), rel=1e-4)
    assert torch.equal(flat_parameters(agent.critic_params), critic)
    assert metrics["charts/kl"] > 0 and metrics["losses/policy_loss"] < 0  # uphill
    agent.close()


# -- whole runs -----------------------------------------------------------------------------------

SMALL = {"n_steps": "64", "batch_size": "64", "critic_epochs": "2"}


def _config(runs_dir: Path, algo: str, game: str, steps: int, **kw) -> RunConfig:
    base = {"game": game, "algo": algo, "steps": steps, "seed": 0, "envs": 2, "device": "cpu",
            "overrides": dict(SMALL), "eval_every": NEVER, "eval_episodes": 2,
            "runs_dir": str(runs_dir)}
    base.update(kw)
    return RunConfig(**base)


KEYS = {
    "trpo": {"losses/surrogate_gain", "losses/value_loss", "losses/entropy", "charts/kl",
             "charts/step_fraction", "charts/line_search_steps"},
    "restricted-step": {"losses/policy_loss", "losses/value_loss", "losses/entropy",
                        "charts/kl", "charts/step_norm"},
}


@pytest.mark.parametrize("algo", ["trpo", "restricted-step"])
def test_pendulum_run_saves_and_the_loaded_agent_acts_identically(runs_dir, algo):
    events = list(train(_config(runs_dir, algo, PENDULUM, 512)))
    assert isinstance(events[-1], RunFinished) and events[-1].reason == "budget"
    seen = {k for e in events if isinstance(e, Metrics) for k in e.values}
    assert KEYS[algo] <= seen
    values = [v for e in events if isinstance(e, Metrics) for v in e.values.values()]
    assert all(math.isfinite(v) for v in values)
    payload = torch.load(Path(events[0].run_dir) / "checkpoints" / "latest.pt",
                         weights_only=True)
    first, game, _ = restore_agent(payload)
    second, _, _ = restore_agent(payload)
    obs = np.stack([game.make().reset(seed=s)[0] for s in range(6)])
    greedy = first.act_batch(obs)
    assert greedy.shape == (6, 1) and np.array_equal(greedy, second.act_batch(obs))
    sampled = first.act_batch(obs, greedy=False, rng=np.random.default_rng(1))
    again = second.act_batch(obs, greedy=False, rng=np.random.default_rng(1))
    assert np.array_equal(sampled, again) and not np.array_equal(sampled, greedy)
    # the agent's own state round-trips through a weights-only checkpoint
    second.load_state_dict(payload["algorithm"])
    assert_identical(first.state_dict()["model"], second.state_dict()["model"])
    assert_identical(first.state_dict()["optimizer"], second.state_dict()["optimizer"])


@pytest.mark.slow
def test_trpo_learns_cartpole(runs_dir):
    """The preset's settings with shorter rollouts. After 12,288 steps, seeds 0, 1 and 2: greedy
    means over 10 episodes 254, 172 and 150, training returns of the last 20 episodes 178, 226 and
    107 (the first 20: 20 to 23). Untrained greedy policies can balance by luck (seeds 1 and 2:
    227 and 122), so the test takes seed 0 (untrained: 9.5) and also checks the sampled
    returns."""
    settings = {"n_steps": "256", "batch_size": "256", "cg_damping": "0.001",
                "gae_lambda": "0.98", "critic_epochs": "20"}
    events = list(train(_config(runs_dir, "trpo", "cartpole", 12_288, eval_episodes=10,
                                overrides=settings)))
    assert events[-1].eval_mean >= 100
    returns = [e.ret for e in events if isinstance(e, EpisodeEnded)]
    assert np.mean(returns[:20]) < 40 and np.mean(returns[-20:]) >= 60


@pytest.mark.parametrize("algo", ["trpo", "restricted-step"])
def test_resume_from_a_step_checkpoint_is_bitwise_exact(runs_dir, algo):
    common = {"device": "cpu", "eval_every": NEVER, "eval_episodes": 1,
              "runs_dir": str(runs_dir)}
    straight = list(train(_config(runs_dir, algo, "cartpole", 768, seed=3, save_every=384,
                                  eval_episodes=1)))
    run = Path(straight[0].run_dir)
    final = straight[-1].step
    first = min(e.step for e in straight if isinstance(e, CheckpointSaved) and e.kind == "step")
    assert 0 < first < final
    step_file = run / "checkpoints" / f"step_{first}.pt"
    resumed = list(train(RunConfig(game="cartpole", resume=str(step_file), **common)))
    assert resumed[0].start_step == first and resumed[-1].step == final

    def episodes_after(events: list) -> list[tuple[int, int, float, int]]:
        return [(e.step, e.episode, e.ret, e.length) for e in events
                if isinstance(e, EpisodeEnded) and e.step > first]

    assert episodes_after(resumed) == episodes_after(straight)
    a = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    b = torch.load(Path(resumed[0].run_dir) / "checkpoints" / "latest.pt", weights_only=True)
    assert a["step"] == b["step"] == final
    assert_identical(a["algorithm"], b["algorithm"])
