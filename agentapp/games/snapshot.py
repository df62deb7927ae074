"""Exact snapshots of running environments, so a resumed run continues its episodes.

A checkpoint taken mid-episode would otherwise restart every episode on resume, which changes what
the agent sees and makes a resumed run differ from an uninterrupted one. :func:`snapshot` captures
everything that decides what an environment does next (the unwrapped environment's dynamic state,
its random generator, the step counter of ``TimeLimit`` and the reset flag of ``OrderEnforcing``)
as plain data, so it travels inside a checkpoint that ``torch.load(weights_only=True)`` accepts;
:func:`restore` puts it back, after which ``step`` gives bit-for-bit the same results.

Only environments whose state is known are snapshotted: one that defines ``get_state()`` and
``set_state()`` (the gridworld does), and the gymnasium classic-control and toy-text classes
listed in ``_ENV_ATTRS``. Anything else (Box2D worlds, emulators, an unknown wrapper that may hold
state) gives ``None``, and restoring ``None`` does nothing: the caller resets those episodes
instead. A wrapper may join in by defining ``get_state()``/``set_state()`` itself.

:class:`Snapshotable` exposes both as an attribute, so a vector environment reaches them in its
sub-environments, in this process or in worker processes:
``envs.call("get_snapshot")`` and ``envs.set_attr("snapshot", [snap0, snap1, ...])``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import (
    ClipAction,
    ClipReward,
    DtypeObservation,
    FlattenObservation,
    OrderEnforcing,
    PassiveEnvChecker,
    RescaleAction,
    RescaleObservation,
    ReshapeObservation,
    TimeLimit,
)

from agentapp.plain import generator_from, plain

FORMAT = 1

_CLASSIC = "gymnasium.envs.classic_control"
_TOY_TEXT = "gymnasium.envs.toy_text"
_ENV_ATTRS: dict[str, tuple[str, ...]] = {
    f"{_CLASSIC}.cartpole:CartPoleEnv": ("state", "steps_beyond_terminated"),
    f"{_CLASSIC}.acrobot:AcrobotEnv": ("state",),
    f"{_CLASSIC}.mountain_car:MountainCarEnv": ("state",),
    f"{_CLASSIC}.continuous_mountain_car:Continuous_MountainCarEnv": ("state",),
    f"{_CLASSIC}.pendulum:PendulumEnv": ("state", "last_u"),
    f"{_TOY_TEXT}.frozen_lake:FrozenLakeEnv": ("s", "lastaction"),
    f"{_TOY_TEXT}.cliffwalking:CliffWalkingEnv": ("s", "lastaction"),
    f"{_TOY_TEXT}.taxi:TaxiEnv": ("s", "lastaction", "fickle_step", "taxi_orientation"),
}
"""Every attribute that a step or reset of these exact classes reads or writes, the random
generator aside (checked against the gymnasium 1.x sources; subclasses are not trusted)."""

_WRAPPER_ATTRS: dict[type, tuple[str, ...]] = {
    TimeLimit: ("_elapsed_steps",),
    OrderEnforcing: ("_has_reset",),
}
# The passive checker only warns, but its first-step check needs the data of a reset that a
# restored env never saw: after a restore it counts as done with its checks.
_AFTER_RESTORE: dict[type, dict[str, Any]] = {
    PassiveEnvChecker: {
        "checked_reset": True,
        "checked_step": True,
        "checked_data_reuse": True,
        "_previous_data": None,
    },
}
# Wrappers whose state never changes what the environment returns.
_STATELESS_WRAPPERS: tuple[type, ...] = (
    PassiveEnvChecker,
    FlattenObservation,
    DtypeObservation,
    ReshapeObservation,
    RescaleObservation,
    ClipAction,
    RescaleAction,
    ClipReward,
)


# -- encoding numpy values as plain data ----------------------------------------------------


def _encode(value: Any) -> Any:
    """*value* as plain data that :func:`_decode` turns back into the same types and bits."""
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.dtype.str, "shape": list(value.shape), "data": value.tolist()}
    if isinstance(value, np.generic):
        return {"__scalar__": value.dtype.str, "value": value.item()}
    if type(value) is tuple:
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    return plain(value)


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__ndarray__" in value:
        array = np.asarray(value["data"], dtype=np.dtype(value["__ndarray__"]))
        return array.reshape(value["shape"])
    if "__scalar__" in value:
        return np.dtype(value["__scalar__"]).type(value["value"])
    if "__tuple__" in value:
        return tuple(_decode(v) for v in value["__tuple__"])
    return {k: _decode(v) for k, v in value.items()}


# -- the wrapper chain ----------------------------------------------------------------------


def _class_key(obj: Any) -> str:
    return f"{type(obj).__module__}:{type(obj).__qualname__}"


def _has_state_methods(obj: Any) -> bool:
    # Looked up on the class: a gymnasium Wrapper must not be mistaken for what it wraps.
    cls = type(obj)
    return callable(getattr(cls, "get_state", None)) and callable(getattr(cls, "set_state", None))


def _layers(env: gym.Env) -> list[gym.Env]:
    """The wrapper chain from the outside in, the unwrapped environment last, without any
    :class:`Snapshotable` (so a snapshot fits an env with or without it)."""
    layers = []
    while True:
        if not isinstance(env, Snapshotable):
            layers.append(env)
        if not isinstance(env, gym.Wrapper):
            return layers
        env = env.env


def _capture(layer: gym.Env, is_base: bool) -> dict[str, Any] | None:
    """What *layer* holds, or None when that is not known."""
    if _has_state_methods(layer):
        return {"get_state": plain(layer.get_state())}
    if not is_base:
        attrs = _WRAPPER_ATTRS.get(type(layer))
        if attrs is not None:
            return {name: _encode(getattr(layer, name)) for name in attrs}
        return {} if type(layer) in _STATELESS_WRAPPERS else None
    attrs = _ENV_ATTRS.get(_class_key(layer))
    if attrs is None:
        return None
    captured = {name: _encode(getattr(layer, name)) for name in attrs if hasattr(layer, name)}
    rng = layer._np_random  # None until the first reset or use
    captured["__rng__"] = None if rng is None else plain(rng.bit_generator.state)
    captured["__rng_seed__"] = plain(getattr(layer, "_np_random_seed", None))
    return captured


def snapshot(env: gym.Env) -> dict[str, Any] | None:
    """Plain-data snapshot of *env* (any wrapper chain), or None if it cannot be taken exactly."""
    layers = _layers(env)
    captured = []
    for i, layer in enumerate(layers):
        state = _capture(layer, is_base=i == len(layers) - 1)
        if state is None:
            return None
        captured.append(state)
    return {"format": FORMAT, "chain": [_class_key(x) for x in layers], "layers": captured}


def restore(env: gym.Env, snap: dict[str, Any] | None) -> bool:
    """Put :func:`snapshot`'s *snap* back into *env*; True if it was restored.

    ``None``, or a snapshot of a different wrapper chain or environment class, leaves *env*
    untouched and returns False: the caller resets the episode instead.
    """
    if snap is None:
        return False
    layers = _layers(env)
    if snap.get("format") != FORMAT or list(snap.get("chain", ())) != [
        _class_key(x) for x in layers
    ]:
        return False
    for layer, state in zip(layers, snap["layers"], strict=True):
        for name, value in _AFTER_RESTORE.get(type(layer), {}).items():
            setattr(layer, name, value)
        if "get_state" in state:
            layer.set_state(state["get_state"])
            continue
        for name, value in state.items():
            if name == "__rng__":
                layer._np_random = None if value is None else generator_from(value)
            elif name == "__rng_seed__":
                layer._np_random_seed = value
            else:
                setattr(layer, name, _decode(value))
    return True


class Snapshotable(gym.Wrapper):
    """Makes :func:`snapshot` and :func:`restore` reachable through a vector environment.

    ``get_snapshot()`` returns the snapshot; assigning to ``snapshot`` restores one and sets
    ``restored`` to whether it was (``envs.set_attr("snapshot", snaps)``, then
    ``envs.get_attr("restored")``).
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.restored = False

    def get_snapshot(self) -> dict[str, Any] | None:
        return snapshot(self.env)

    @property
    def snapshot(self) -> dict[str, Any] | None:
        return snapshot(self.env)

    @snapshot.setter
    def snapshot(self, snap: dict[str, Any] | None) -> None:
        self.restored = restore(self.env, snap)
