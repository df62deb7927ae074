"""Plain data: what a checkpoint may hold, so that ``torch.load(weights_only=True)`` accepts it.

Random-generator states, environment snapshots and counters come out of numpy with numpy scalars
and arrays inside; :func:`plain` turns them into Python numbers and lists (and str subclasses into
str), keeps tensors as they are, and refuses anything else rather than let a checkpoint fail to
load later.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_BASES = (bool, int, float, str)
RNG_NAMES = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")
"""The numpy bit generators whose state :func:`generator_from` can rebuild."""


def plain(value: Any) -> Any:
    """*value* as dicts, lists, tuples, str, int, float, bool, None and tensors only."""
    if value is None or type(value) in _BASES:
        return value
    if type(value).__module__.startswith("torch"):  # tensors; torch stays unimported here
        return value
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if type(value) is tuple:
        return tuple(plain(v) for v in value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    for base in _BASES:
        if isinstance(value, base):
            return base(value)
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint")


def generator_from(state: dict[str, Any]) -> np.random.Generator:
    """A numpy Generator rebuilt from ``bit_generator.state`` kept as plain data (the inverse of
    ``plain(rng.bit_generator.state)``); ValueError for an unknown bit generator."""
    state = dict(state)
    name = state.get("bit_generator")
    if name not in RNG_NAMES:
        raise ValueError(f"unknown random generator {name!r}")
    bit_generator = getattr(np.random, name)()
    if name == "MT19937":  # its key must be a uint32 array again
        inner = dict(state["state"])
        inner["key"] = np.asarray(inner["key"], dtype=np.uint32)
        state["state"] = inner
    bit_generator.state = state
    return np.random.Generator(bit_generator)
