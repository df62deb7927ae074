"""The gradient norm and learning rate the deep methods report for the statistics panel.

Every gradient method reports ``charts/grad_norm``: the total norm of its gradients before
clipping, averaged over the updates of an iteration. A2C's is checked against the norm of the
gradients of its loss recomputed by hand on the same rollout with the weights it had; DQN also
reports the learning rate its optimizer steps with.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch

from agentapp.engine import train
from agentapp.engine.algorithms.a2c import A2C, A2CSettings
from agentapp.engine.algorithms.a3c import A3C, A3CSettings
from agentapp.engine.algorithms.base import Iteration
from agentapp.engine.algorithms.dqn import DQN, DQNSettings
from agentapp.engine.algorithms.ppo import PPO, PPOSettings
from agentapp.engine.algorithms.reinforce import Reinforce, ReinforceSettings
from agentapp.engine.events import Metrics
from agentapp.engine.plan import RunConfig
from agentapp.games import resolve
from agentapp.presets import lookup

SMALL = {
    "dqn": (DQN, DQNSettings(learning_starts=64, batch_size=32, train_freq=16,
                             gradient_steps=2, hidden="32,32")),
    "a2c": (A2C, A2CSettings(n_steps=5)),
    "ppo": (PPO, PPOSettings(n_steps=16, batch_size=8, n_epochs=2)),
    "reinforce": (Reinforce, ReinforceSettings(batch_episodes=1)),
}
"""Settings that reach their first gradient step within a few hundred CartPole steps."""


def _iterations_until_updated(agent, limit: int = 50) -> list[Iteration]:
    """Train iterations until one reports a gradient norm (DQN first fills its replay)."""
    iterations = []
    while len(iterations) < limit:
        iterations.append(agent.train_iteration(10_000))
        if "charts/grad_norm" in iterations[-1].metrics:
            break
    return iterations


@pytest.mark.parametrize("algo", list(SMALL))
def test_each_gradient_method_reports_a_finite_positive_gradient_norm(algo):
    cls, hp = SMALL[algo]
    game = resolve("cartpole")
    agent = cls(game, game.params, hp, seed=0, budget=10_000, n_envs=2)
    try:
        iterations = _iterations_until_updated(agent)
    finally:
        agent.close()
    norm = iterations[-1].metrics.get("charts/grad_norm")
    assert norm is not None, f"{algo}: no charts/grad_norm in {len(iterations)} iterations"
    assert math.isfinite(norm) and norm > 0


def test_a3c_reports_the_gradient_norm_of_its_workers_updates():
    game = resolve("cartpole")
    agent = A3C(game, game.params, A3CSettings(workers=1, n_steps=5), seed=0, budget=10_000)
    try:
        # a bound on iterations, not on time: the first ones wait for the worker to start
        iterations = _iterations_until_updated(agent, limit=600)
    finally:
        agent.close()
    norm = iterations[-1].metrics.get("charts/grad_norm")
    assert norm is not None, "a3c: no update reported a gradient norm"
    assert math.isfinite(norm) and norm > 0


def _a2c_grad_norm_by_hand(model: torch.nn.Module, agent: A2C) -> float:
    """||grad (L_pi + c_v L_V - c_e H)|| of *model* on the rollout *agent* has in its buffer."""
    hp, batch = agent.hp, agent.buffer.batch()
    dist, value = model(batch.obs)
    policy_loss = -(dist.log_prob(batch.actions) * batch.advantages).mean()
    value_loss = (batch.returns - value).pow(2).mean()
    loss = policy_loss + hp.vf_coef * value_loss - hp.ent_coef * dist.entropy().mean()
    grads = torch.autograd.grad(loss, list(model.parameters()), allow_unused=True)
    return float(torch.cat([g.flatten() for g in grads if g is not None]).norm())


def test_a2c_gradient_norm_is_that_of_its_loss_before_clipping():
    clip = 1e-3  # far below the norm, so a norm read after clipping would be this
    game = resolve("cartpole")
    agent = A2C(game, game.params, A2CSettings(n_steps=8, ent_coef=0.01, max_grad_norm=clip),
                seed=0, budget=10_000, n_envs=2)
    agent.train_iteration(10_000)  # one update, so the weights below are not the initial ones
    weights_before = copy.deepcopy(agent.model)
    try:
        reported = agent.train_iteration(10_000).metrics["charts/grad_norm"]
        expected = _a2c_grad_norm_by_hand(weights_before, agent)
        clipped = float(torch.cat([p.grad.flatten() for p in agent.params]).norm())
    finally:
        agent.close()
    assert expected > 100 * clip
    assert clipped == pytest.approx(clip, rel=1e-3)  # the step itself used clipped gradients
    assert reported == pytest.approx(expected, rel=1e-5)


def test_dqn_reports_its_presets_learning_rate_and_gradient_norm(runs_dir: Path):
    game = resolve("cartpole")
    preset_lr = lookup(game.id, game.family, "dqn").hyperparameters["learning_rate"]
    assert preset_lr != DQNSettings().learning_rate  # else the preset would not be shown
    config = RunConfig(
        game="cartpole", algo="dqn", steps=600, seed=0, envs=2, device="cpu",
        overrides={"learning_starts": "200", "train_freq": "4", "gradient_steps": "1",
                   "batch_size": "32", "buffer_size": "2000", "hidden": "32,32"},
        eval_every=10**9, eval_episodes=1, runs_dir=str(runs_dir))
    values = [e.values for e in train(config) if isinstance(e, Metrics)]
    rates = [v["charts/learning_rate"] for v in values if "charts/learning_rate" in v]
    norms = [v["charts/grad_norm"] for v in values if "charts/grad_norm" in v]
    assert rates and all(r == pytest.approx(preset_lr) for r in rates)
    assert norms and all(math.isfinite(n) and n > 0 for n in norms)
