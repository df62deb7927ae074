"""The player asks the agent what it thinks only when told to: once per observation, before it
acts, so that ``insight`` and ``action`` always belong together."""

from __future__ import annotations

import numpy as np

from agentapp.engine.insight import Q_VALUES, Insight
from agentapp.games import resolve
from agentapp.rendering.insight import InsightPanel
from agentapp.rendering.playback import Player


class CountingAgent:
    """Prefers action ``obs % 4``; counts the observations it is asked about."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def insight(self, obs) -> Insight:
        self.asked.append(int(obs))
        values = np.zeros(4)
        values[int(obs) % 4] = 1.0
        return Insight(Q_VALUES, values, 1.0)

    def act(self, obs, greedy=True, rng=None) -> int:
        return int(obs) % 4


def cliff():
    game = resolve("gridworld:cliff")
    return game, game.make()


def test_without_thinking_nothing_is_asked():
    game, env = cliff()
    agent = CountingAgent()
    player = Player(env, agent, game)
    player.reset(1)
    for _ in range(3):
        player.step()
    assert player.insight is None and agent.asked == []


def test_each_observation_is_considered_once_before_the_action_on_it():
    game, env = cliff()
    agent = CountingAgent()
    player = Player(env, agent, game, think=True)
    player.reset(1)
    first = player.obs
    assert player.action is None and player.insight.best == first % 4
    seen = [first]
    for _ in range(4):
        acted_on = player.obs
        player.step()
        assert player.insight.best == player.action == acted_on % 4
        seen.append(player.obs)
    assert agent.asked == seen[:-1]  # the first one once, shared by reset and the first step
    player.reset()
    assert agent.asked[-1] == player.obs and player.action is None


def test_a_real_tabular_agent_thinks_what_it_does():
    from agentapp.engine.algorithms.value_iteration import ValueIteration

    game, env = cliff()
    agent = ValueIteration(game, game.params, ValueIteration.Hyperparameters(), seed=0,
                           budget=1000)
    while not agent.train_iteration(1000).converged:
        pass
    player = Player(env, agent, game, think=True)
    player.reset(1)
    while not player.done:
        player.step()
        assert player.insight.values[player.action] == player.insight.values.max()
    panel = InsightPanel(player.insight, game.actions, player.action)
    assert panel.chosen == player.action and panel.names() == list(game.actions)


def test_an_agent_without_insight_is_fine():
    class Plain:
        def act(self, obs, greedy=True, rng=None) -> int:
            return 0

    game, env = cliff()
    player = Player(env, Plain(), game, think=True)
    player.reset(1)
    player.step()
    assert player.insight is None and player.steps == 1
