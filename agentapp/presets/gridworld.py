"""Gridworld presets: budgets and settings with which each tabular method solves each map.

Keys are ``(game id or family, method)``; values are the step budget (``steps``; sweeps for the
planners, which stop early once converged), optional ``eval_every`` / ``save_every``, and
hyperparameter values.
"""

from __future__ import annotations

from typing import Any

GRIDWORLD: dict[tuple[str, str], dict[str, Any]] = {
    ("gridworld", "value-iteration"): {"steps": 1_000},
    ("gridworld", "policy-iteration"): {"steps": 1_000},
    ("gridworld", "q-learning"): {"steps": 30_000},
    ("gridworld", "sarsa"): {"steps": 30_000},
    ("gridworld", "mc-control"): {"steps": 50_000},
    # Sutton & Barto, Example 6.6: constant epsilon 0.1, step size 0.5, ~500 episodes.
    ("gridworld:cliff", "q-learning"): {
        "steps": 15_000, "alpha": 0.5, "epsilon": 0.1, "epsilon_end": 0.1,
    },
    ("gridworld:cliff", "sarsa"): {
        "steps": 15_000, "alpha": 0.5, "epsilon": 0.1, "epsilon_end": 0.1,
    },
    ("gridworld:cliff", "mc-control"): {"steps": 100_000},
    ("gridworld:maze", "q-learning"): {"steps": 100_000},
    ("gridworld:maze", "sarsa"): {"steps": 100_000},
    ("gridworld:maze", "mc-control"): {"steps": 300_000},
}
