"""Evaluation: play N seeded episodes with a trained agent and report the returns.

Episode ``i`` runs in its own environment reset with seed ``seed + i``; the episodes are played side
by side, one batch of observations per step, so a network agent answers all of them with one
forward pass. Stochastic action choices draw from one generator seeded with ``seed``. The same
agent, seed and settings therefore always give the same numbers, and the protocol string that
travels with every report says exactly what was measured.

Continuous actions (a Gaussian policy: its mean when greedy, a sample otherwise) are clipped to
the action space's bounds before each step, as in training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from agentapp.engine.algorithms.base import Algorithm, method_rng
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


def protocol(game: Game, params: Any, episodes: int, seed: int, greedy: bool) -> str:
    """What was measured, in words: the game, how it is played and scored, the policy, the
    episodes and their seeds (``pong, no sticky actions, ..., greedy policy, 10 episodes, ...``)."""
    policy = "greedy" if greedy else "stochastic"
    seeds = f"{seed}..{seed + episodes - 1}"
    rules = game.describe_protocol(params)
    rules = f", {rules}" if rules else ""
    return f"{game.id}{rules}, {policy} policy, {episodes} episodes, env seeds {seeds}"


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
    rng = method_rng(seed)  # stochastic play: not the stream episode 0 is reset with
    if game.make_vector is not None:
        returns, lengths = _play_batched(agent, game, params, episodes, seed, greedy, rng)
    else:
        returns, lengths = _play_side_by_side(agent, game, params, episodes, seed, greedy, rng)
    return EvalResult(returns.tolist(), lengths.tolist(),
                      protocol(game, params, episodes, seed, greedy))


def within_bounds(space: spaces.Space, actions: Any) -> Any:
    """*actions* clipped to a Box action space's bounds (in its dtype); others unchanged."""
    if not isinstance(space, spaces.Box):
        return actions
    return np.clip(np.asarray(actions), space.low, space.high).astype(space.dtype, copy=False)


def _play_side_by_side(agent, game, params, episodes, seed, greedy, rng):
    """One environment per episode, stepped in lockstep: a batch of observations per step."""
    envs = [game.make(params) for _ in range(episodes)]
    returns, lengths = np.zeros(episodes), np.zeros(episodes, dtype=np.int64)
    try:
        obs = [env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]
        active = list(range(episodes))
        while active:
            actions = agent.act_batch(np.stack([obs[i] for i in active]), greedy, rng)
            actions = within_bounds(envs[0].action_space, actions)
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
    return returns, lengths


def _play_batched(agent, game, params, episodes, seed, greedy, rng):
    """The family's own batched environments (Atari: ale-py's C++ threads), one game each.

    They report the real score and the real end of each game (``infos["score"]``,
    ``infos["game_over"]``) beside their training signal, and give the same observations as
    ``game.make`` for the same seed, so this plays exactly the episodes the one-by-one way would,
    several times faster. A copy whose game is over keeps playing until all are done (a batch
    steps together); what it does then is not counted.
    """
    import os

    envs = game.make_vector(params, episodes, seed, os.cpu_count() or 1)
    returns, lengths = np.zeros(episodes), np.zeros(episodes, dtype=np.int64)
    try:
        obs, _ = envs.reset(seed=[seed + i for i in range(episodes)])
        active = np.ones(episodes, dtype=bool)
        actions = np.zeros(episodes, dtype=np.int64)
        while active.any():
            actions[:] = 0
            actions[active] = agent.act_batch(obs[active], greedy, rng)
            obs, _, _, _, infos = envs.step(actions)
            returns[active] += infos["score"][active]
            lengths[active] += 1
            active &= ~infos["game_over"]
    finally:
        envs.close()
    return returns, lengths
