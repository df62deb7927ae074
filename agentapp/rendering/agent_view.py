"""What a tabular agent believes, laid out per grid cell for the gridworld picture.

Tabular agents index their values by observation, which is the cell itself with ``obs=index`` but
the wall pattern around the cell with ``obs=walls`` (where two cells can share one entry: that is
the aliasing the lectures show). This maps the agent's tables onto cells through the environment's
own ``observe(cell)``, so the heat map shows exactly what the agent would see and do in each cell.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def cell_beliefs(env: Any, view: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(values, policy)`` per cell of gridworld *env* from a ``TabularView``."""
    grid = env.unwrapped.grid
    observe = env.unwrapped.observe
    obs = np.array([observe(s) for s in range(grid.rows * grid.cols)], dtype=np.int64)
    return np.asarray(view.values, dtype=np.float64)[obs], np.asarray(view.policy)[obs]
