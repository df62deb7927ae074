"""What each method says it thinks of an observation (``Algorithm.insight``), after short real
runs: the policy methods' probabilities are their network's softmax and sum to 1, their values
are the critic's; DQN's Q-values are its online network's output; the tables give their rows; the
greedy action is always the favourite; pixel agents answer too, continuous policies do not."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agentapp.engine.algorithms.a2c import A2C, A2CSettings
from agentapp.engine.algorithms.dqn import DQN, DQNSettings
from agentapp.engine.algorithms.mc_control import MonteCarloControl
from agentapp.engine.algorithms.policy_iteration import PolicyIteration
from agentapp.engine.algorithms.ppo import PPO, PPOSettings
from agentapp.engine.algorithms.q_learning import QLearning
from agentapp.engine.algorithms.reinforce import Reinforce, ReinforceSettings
from agentapp.engine.algorithms.sarsa import Sarsa
from agentapp.engine.algorithms.value_iteration import ValueIteration
from agentapp.engine.device import configure_threads
from agentapp.engine.insight import PROBABILITIES, Q_VALUES
from agentapp.games import resolve
from tests.engine.test_tabular_algorithms import make, solve, train_to

CARTPOLE_RUNS = {
    "dqn": (DQN, DQNSettings(learning_starts=200, train_freq=4, batch_size=32, buffer_size=2000,
                             target_update_interval=100, hidden="32,32"), 2),
    "ppo": (PPO, PPOSettings(n_steps=16, batch_size=32, n_epochs=2), 4),
    "a2c": (A2C, A2CSettings(n_steps=5), 4),
    "reinforce": (Reinforce, ReinforceSettings(batch_episodes=2), 1),
    "reinforce-no-baseline": (Reinforce, ReinforceSettings(batch_episodes=2, baseline="none"), 1),
}
"""The settings of the deep-method tests' short runs (``test_deep_algorithms.SMALL``)."""


def trained(name: str, steps: int = 600):
    """A CartPole agent of *name* after a short real run of its own training iterations."""
    cls, hp, envs = CARTPOLE_RUNS[name]
    game = resolve("cartpole")
    agent = cls(game, game.params, hp, seed=0, budget=steps, n_envs=envs)
    while agent.steps < steps:
        agent.train_iteration(steps - agent.steps)
    return agent


def cartpole_states(count: int = 16) -> np.ndarray:
    """Observations of CartPole a random policy visits."""
    env = resolve("cartpole").make()
    rng = np.random.default_rng(1)
    obs, _ = env.reset(seed=1)
    states = []
    while len(states) < count:
        states.append(obs)
        obs, _, terminated, truncated, _ = env.step(int(rng.integers(2)))
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()
    return np.array(states, dtype=np.float32)


@pytest.fixture(scope="module")
def agents():
    configure_threads(None)  # as engine.train does: two threads fight over small networks
    made = {name: trained(name) for name in CARTPOLE_RUNS}
    yield made
    for agent in made.values():
        agent.close()


@pytest.mark.parametrize("name", ["ppo", "a2c", "reinforce", "reinforce-no-baseline"])
def test_policy_methods_give_their_softmax_and_their_critic(agents, name):
    agent = agents[name]
    for obs in cartpole_states():
        insight = agent.insight(obs)
        assert insight.kind == PROBABILITIES and insight.values.shape == (2,)
        assert insight.values.min() >= 0 and insight.values.sum() == pytest.approx(1, abs=1e-6)
        with torch.no_grad():
            x = torch.as_tensor(obs[None])
            softmax = torch.softmax(agent.model.distribution(x).logits, dim=-1)[0]
            assert insight.values == pytest.approx(softmax.double().numpy(), abs=1e-7)
            if name == "reinforce-no-baseline":
                assert insight.value is None
            else:
                assert insight.value == pytest.approx(float(agent.model.value(x)[0]), abs=1e-6)
        assert agent.act(obs) == insight.best


def test_dqn_gives_its_online_networks_q_values(agents):
    agent = agents["dqn"]
    assert agent.updates > 0  # it did learn in its short run
    for obs in cartpole_states():
        insight = agent.insight(obs)
        with torch.no_grad():
            q = agent.q(torch.as_tensor(obs[None]))[0].double().numpy()
        assert insight.kind == Q_VALUES
        np.testing.assert_array_equal(insight.values, q)
        assert insight.value == q.max()
        assert agent.act(obs) == insight.best


def test_asking_changes_nothing_the_run_depends_on(agents):
    agent = agents["ppo"]
    torch_state = torch.get_rng_state()
    rng_state = agent.rng.bit_generator.state
    agent.insight(cartpole_states(1)[0])
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert agent.rng.bit_generator.state == rng_state


@pytest.mark.parametrize("cls", [QLearning, Sarsa, MonteCarloControl])
def test_q_tables_give_the_row_of_the_observation(cls):
    agent = make(cls, "gridworld:cliff", epsilon=0.5)
    train_to(agent, 3000)
    assert np.abs(agent.q).max() > 0
    for obs in range(agent.n_obs):
        insight = agent.insight(obs)
        np.testing.assert_array_equal(insight.values, agent.q[obs])
        assert insight.value == agent.q[obs].max()
        assert agent.act(obs) == insight.best


@pytest.mark.parametrize("cls", [ValueIteration, PolicyIteration])
def test_planners_give_their_backed_up_q_and_their_v(cls):
    agent = make(cls, "gridworld:cliff")
    solve(agent)
    view = agent.tabular_view()
    for s in range(agent.n_states):
        insight = agent.insight(s)
        assert insight.values == pytest.approx(view.q[s])
        assert insight.value == view.values[s]
        assert insight.values[agent.act(s)] == pytest.approx(insight.values.max())


@pytest.mark.parametrize(("cls", "hp", "kind"), [(DQN, DQNSettings(), Q_VALUES),
                                                 (PPO, PPOSettings(), PROBABILITIES)])
def test_pixel_agents_answer_for_their_frame_stack(cls, hp, kind):
    game = resolve("pong")
    agent = cls(game, game.params, hp, seed=0, budget=1000)
    env = game.make()
    obs, _ = env.reset(seed=0)
    for _ in range(5):
        obs, *_ = env.step(0)
    insight = agent.insight(obs)
    assert obs.dtype == np.uint8 and insight.kind == kind
    assert len(insight.values) == env.action_space.n == len(game.actions)
    assert agent.act(obs) == insight.best
    if kind == PROBABILITIES:
        assert insight.values.sum() == pytest.approx(1, abs=1e-6)
    env.close()
    agent.close()


def test_continuous_policies_have_no_per_action_insight():
    game = resolve("gym:Pendulum-v1")
    agent = PPO(game, game.params, PPOSettings(), seed=0, budget=100)
    assert agent.insight(np.zeros(3, dtype=np.float32)) is None
