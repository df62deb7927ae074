"""Gridworld presets: budgets and settings with which each tabular method solves each map.

Keys are ``(game id or family, method)``; values are the step budget (``steps``; sweeps for the
planners, which stop early once converged), optional ``eval_every`` / ``save_every``, and
hyperparameter values. ``benchmarks/gridworld_presets.py`` checks that they learn.
"""

from __future__ import annotations

from typing import Any

# A step size that anneals to a tenth removes the noise that constant-alpha TD methods keep on a
# slippery map, so the greedy policy settles on the optimal one.
_ANNEALED = {"alpha": 0.1, "alpha_end": 0.01, "alpha_schedule": "linear"}

# Sutton & Barto, Example 6.6: constant epsilon 0.1 and step size 0.5. The step size anneals here
# so that SARSA's greedy policy settles (with a constant 0.5 it can end up bumping into a wall).
_CLIFF_TD = {
    "steps": 15_000, "alpha": 0.5, "alpha_end": 0.05, "alpha_schedule": "linear",
    "epsilon": 0.1, "epsilon_end": 0.1,
}

GRIDWORLD: dict[tuple[str, str], dict[str, Any]] = {
    ("gridworld", "value-iteration"): {"steps": 5_000},
    ("gridworld", "policy-iteration"): {"steps": 5_000},
    ("gridworld", "q-learning"): {"steps": 50_000, **_ANNEALED},
    ("gridworld", "sarsa"): {"steps": 50_000, **_ANNEALED},
    ("gridworld", "mc-control"): {"steps": 50_000},
    ("gridworld:cliff", "q-learning"): _CLIFF_TD,
    ("gridworld:cliff", "sarsa"): _CLIFF_TD,
    ("gridworld:cliff", "mc-control"): {"steps": 200_000, "alpha": 0.1},
    ("gridworld:maze", "q-learning"): {"steps": 100_000},
    ("gridworld:maze", "sarsa"): {"steps": 100_000},
    ("gridworld:maze", "mc-control"): {"steps": 300_000},
}
