"""Evaluation: play N seeded episodes with a trained agent and report the returns.

Episode ``i`` resets its environment with seed ``seed + i`` and stochastic action choices draw from
one generator seeded with ``seed``, so the same agent, seed and settings always give the same
numbers. The protocol string says exactly what was measured; it travels with every report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from agentapp.engine.algorithms.base import Algorithm
from agentapp.games import Game

TRAINING_EVAL_SEED = 1_000_000
"""Seed of the evaluations made during training: fixed, so successive evaluations compare the
same episodes, and away from the small seeds users pick for training."""


@dataclass(frozen=True)
class EvalResult:
    returns: list[float]
    lengths: list[int]
    protocol: str

    @property
    def mean(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std(self) -> float:
        """Population standard deviation."""
        return float(np.std(self.returns))

    def summary(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "std": self.std,
            "min": float(np.min(self.returns)),
            "max": float(np.max(self.returns)),
            "episodes": len(self.returns),
            "returns": [float(r) for r in self.returns],
            "lengths": list(self.lengths),
            "protocol": self.protocol,
        }


def protocol(game: Game, episodes: int, seed: int, greedy: bool) -> str:
    policy = "greedy" if greedy else "stochastic"
    seeds = f"{seed}..{seed + episodes - 1}"
    return f"{game.id}, {policy} policy, {episodes} episodes, env seeds {seeds}"


def evaluate(
    agent: Algorithm,
    game: Game,
    params: Any,
    *,
    episodes: int,
    seed: int,
    greedy: bool = True,
) -> EvalResult:
    """Play *episodes* full episodes (to termination or the game's own cap) and collect returns."""
    env = game.make(params)
    rng = np.random.default_rng(seed)
    returns, lengths = [], []
    try:
        for i in range(episodes):
            obs, _ = env.reset(seed=seed + i)
            total, length, done = 0.0, 0, False
            while not done:
                obs, reward, terminated, truncated, _ = env.step(agent.act(obs, greedy, rng))
                total += float(reward)
                length += 1
                done = terminated or truncated
            returns.append(total)
            lengths.append(length)
    finally:
        env.close()
    return EvalResult(returns, lengths, protocol(game, episodes, seed, greedy))
