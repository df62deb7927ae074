"""The algorithm registry: ``--algo`` names -> :class:`Algorithm` classes, and which suit a game."""

from __future__ import annotations

from agentapp.engine.algorithms.a2c import A2C
from agentapp.engine.algorithms.a3c import A3C
from agentapp.engine.algorithms.base import Algorithm, Iteration, TabularView
from agentapp.engine.algorithms.dqn import DQN
from agentapp.engine.algorithms.finite_difference import FiniteDifference
from agentapp.engine.algorithms.linear_q import LinearQ
from agentapp.engine.algorithms.mc_control import MonteCarloControl
from agentapp.engine.algorithms.mc_evaluation import MCEvaluation
from agentapp.engine.algorithms.policy_iteration import PolicyIteration
from agentapp.engine.algorithms.ppo import PPO
from agentapp.engine.algorithms.q_learning import QLearning
from agentapp.engine.algorithms.regression_gradient import RegressionGradient
from agentapp.engine.algorithms.reinforce import Reinforce
from agentapp.engine.algorithms.reinforce_is import ReinforceIS
from agentapp.engine.algorithms.restricted_step import RestrictedStep
from agentapp.engine.algorithms.sarsa import Sarsa
from agentapp.engine.algorithms.td0 import TD0
from agentapp.engine.algorithms.trpo import TRPO
from agentapp.engine.algorithms.value_iteration import ValueIteration
from agentapp.errors import UserError, did_you_mean
from agentapp.games.registry import CONTINUOUS_ACTIONS, Game

ALGORITHMS: dict[str, type[Algorithm]] = {
    cls.name: cls
    for cls in (ValueIteration, PolicyIteration, QLearning, Sarsa, MonteCarloControl, TD0,
                MCEvaluation, LinearQ, DQN, Reinforce, A2C, A3C, PPO, TRPO, RestrictedStep,
                ReinforceIS, FiniteDifference, RegressionGradient)
}


def get(name: str) -> type[Algorithm]:
    """The algorithm class for an ``--algo`` name, or UserError with the nearest names."""
    key = name.strip().lower()
    if key not in ALGORITHMS:
        raise UserError(
            f"unknown algorithm {name!r}{did_you_mean(key, ALGORITHMS)}; see `agentapp list`"
        )
    return ALGORITHMS[key]


def unsuitable_reason(cls: type[Algorithm], game: Game, params: object = None) -> str | None:
    """Why *cls* cannot train on *game* with *params* (None when it can)."""
    offered = game.capabilities(params)
    if not cls.action_kinds & offered:
        if CONTINUOUS_ACTIONS in offered:
            return (f"{cls.name} chooses among a finite set of actions and {game.id} has "
                    "continuous actions")
        return f"{cls.name} needs continuous actions and {game.id} has discrete ones"
    missing = cls.requires - offered
    if missing:
        return f"{cls.name} needs a game with {', '.join(sorted(missing))}"
    if cls.requires_any and not cls.requires_any & offered:
        return f"{cls.name} needs a game with {' or '.join(sorted(cls.requires_any))}"
    return None


def suitable(game: Game, params: object = None) -> list[str]:
    """Names of the algorithms that can train on *game*."""
    return [n for n, cls in ALGORITHMS.items() if unsuitable_reason(cls, game, params) is None]


__all__ = ["ALGORITHMS", "Algorithm", "Iteration", "TabularView", "get", "suitable"]
