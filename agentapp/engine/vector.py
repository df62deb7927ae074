"""Vectorised training environments: several copies of a game stepped as one batch.

:func:`make_vector_env` builds ``n_envs`` copies of a game, each wrapped in
:class:`~agentapp.games.snapshot.Snapshotable`, as a gymnasium ``SyncVectorEnv`` (one process; the
right choice for cheap games) or ``AsyncVectorEnv`` (one worker process per copy).

Episode ends use gymnasium's ``SAME_STEP`` autoreset: when a copy's episode ends (terminated or
truncated), the same ``step`` call resets it, so the observation returned for that copy is already
the first one of its next episode. The true last observation of the finished episode is in
``infos["final_obs"][i]`` where ``infos["_final_obs"][i]`` is True (``infos["final_info"]`` holds
its info); ``final_obs`` is a numpy object array with None for the other copies, and
:func:`final_observations` batches it back into the shape of ``obs``. Algorithms that bootstrap a
*truncated* episode (cut off by the time limit, not ended by the game) must take the value of
``final_obs``, never of the returned reset observation; a terminated episode bootstraps nothing.
The reward, ``terminated`` and ``truncated`` of that step belong to the finished episode.

Building does not reset: call :func:`reset_vector_env` (copy ``i`` is seeded with ``seed + i``),
or restore a checkpoint's :func:`snapshot_vector` with :func:`restore_vector` and reset only when
that fails.
"""

from __future__ import annotations

import sys
from typing import Any

import gymnasium as gym
import numpy as np

from agentapp.errors import UserError
from agentapp.games.registry import Game
from agentapp.games.snapshot import Snapshotable


class _EnvFactory:
    """Builds one wrapped copy of a game; picklable for worker processes started by ``spawn``
    (a game's ``make_env`` is often a closure), where it finds the game again by its id."""

    def __init__(self, game: Game, params: Any) -> None:
        self._game: Game | None = game
        self._game_id = game.id
        self._params = params

    def __call__(self) -> gym.Env:
        if self._game is None:
            from agentapp.games import resolve

            self._game = resolve(self._game_id)
        return Snapshotable(self._game.make(self._params))

    def __getstate__(self) -> dict[str, Any]:
        return {"game_id": self._game_id, "params": self._params}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._game, self._game_id, self._params = None, state["game_id"], state["params"]


def make_vector_env(
    game: Game, params: Any, n_envs: int, seed: int | None, *, asynchronous: bool = False
) -> gym.vector.VectorEnv:
    """``n_envs`` copies of *game* with *params*, autoresetting in the same step (see above).

    *seed* seeds the batched action and observation spaces (so ``envs.action_space.sample()`` is
    reproducible); the environments themselves are seeded by :func:`reset_vector_env`.
    """
    if n_envs < 1:
        raise UserError(f"--envs {n_envs}: must be at least 1")
    factories = [_EnvFactory(game, params) for _ in range(n_envs)]
    mode = gym.vector.AutoresetMode.SAME_STEP
    if asynchronous:
        # fork is fine on Linux; macOS needs spawn (forking after its system libraries start
        # threads can crash), which is why the factories are picklable.
        context = "spawn" if sys.platform == "darwin" else None
        envs: gym.vector.VectorEnv = gym.vector.AsyncVectorEnv(
            factories, context=context, autoreset_mode=mode
        )
    else:
        envs = gym.vector.SyncVectorEnv(factories, autoreset_mode=mode)
    if seed is not None:
        envs.action_space.seed(seed)
        envs.observation_space.seed(seed)
    return envs


def reset_vector_env(envs: gym.vector.VectorEnv, seed: int | None) -> Any:
    """Reset every copy, copy ``i`` with seed ``seed + i`` (fresh entropy when *seed* is None);
    returns the batched observations."""
    seeds = None if seed is None else [seed + i for i in range(envs.num_envs)]
    obs, _ = envs.reset(seed=seeds)
    return obs


def snapshot_vector(envs: gym.vector.VectorEnv) -> list[dict[str, Any] | None]:
    """Plain-data snapshots of every copy (None for a copy that cannot be snapshotted, and for
    every copy of a batch without gymnasium's ``call``, such as ale-py's C++ Atari batch)."""
    if not hasattr(envs, "call"):
        return [None] * envs.num_envs
    return list(envs.call("get_snapshot"))


def restore_vector(envs: gym.vector.VectorEnv, snaps: list[dict[str, Any] | None]) -> bool:
    """Restore :func:`snapshot_vector`'s *snaps*; True if every copy continues exactly.

    False when there is a different number of copies now, a snapshot is missing (None) or does
    not fit its copy: the caller then resets the episodes with :func:`reset_vector_env`. Nothing
    is touched when the number or a None already rules it out.
    """
    snaps = list(snaps)
    if len(snaps) != envs.num_envs or any(s is None for s in snaps):
        return False
    envs.set_attr("snapshot", snaps)
    return all(envs.get_attr("restored"))


def final_observations(obs: np.ndarray, infos: dict[str, Any]) -> np.ndarray:
    """*obs* from a ``step`` with the rows of finished episodes replaced by their true last
    observations: what to bootstrap from. *obs* itself is left as it is."""
    mask = infos.get("_final_obs")
    if mask is None or not np.any(mask):
        return obs
    result = np.array(obs, copy=True)
    for i in np.flatnonzero(mask):
        result[i] = infos["final_obs"][i]
    return result


def infos_for(infos: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The entries of a vector env's *infos* for *keys*, with gymnasium's masks (``_cell``
    beside ``cell``): a small batched infos dict to send where the whole one need not go."""
    return {name: value for name, value in infos.items() if name.lstrip("_") in keys}


def env_info(infos: dict[str, Any], index: int, keys: tuple[str, ...]) -> dict[str, Any]:
    """Copy *index*'s entries for *keys* in a vector env's batched *infos* (gymnasium keeps
    ``infos[key]`` as an array over the copies and ``infos["_" + key]`` as the mask of those
    that set it), as plain Python values: ``{"cell": 7}``."""
    found = {}
    for key in keys:
        mask = infos.get(f"_{key}")
        if key in infos and mask is not None and bool(mask[index]):
            value = infos[key][index]
            found[key] = value.item() if isinstance(value, np.generic) else value
    return found
