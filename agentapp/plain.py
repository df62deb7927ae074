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
