"""Evaluation: play N seeded episodes with a trained agent and report the returns.

Episode ``i`` runs in its own environment reset with seed ``seed + i``; the episodes are played side
by side, one batch of observations per step, so a network agent answers all of them with one
forward pass. Stochastic action choices draw from one generator seeded with ``seed``. The same
agent, seed and settings therefore always give the same numbers, and the protocol string that
travels with every report says exactly what was measured.
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
    envs = [game.make(params) for _ in range(episodes)]
    rng = np.random.default_rng(seed)
    returns, lengths = np.zeros(episodes), np.zeros(episodes, dtype=np.int64)
    try:
        obs = [env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]
        active = list(range(episodes))
        while active:
            actions = agent.act_batch(np.stack([obs[i] for i in active]), greedy, rng)
            still = []
            for i, action in zip(active, actions, strict=True):
                obs[i], reward, terminated, truncated, _ = envs[i].step(action)
                returns[i] += float(reward)
                lengths[i] += 1
                if not (terminated or truncated):
                    still.append(i)
            active = still
    finally:
        for env in envs:
            env.close()
    return EvalResult(returns.tolist(), lengths.tolist(), protocol(game, episodes, seed, greedy))
