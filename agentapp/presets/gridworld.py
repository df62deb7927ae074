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
    # On the cliff a constant step size 0.1 left Monte Carlo's greedy policy short of the goal
    # (out at the 200-step cap) on 4 of seeds 0-9; annealed to 0.01, all 10 reach it (-15 to -19).
    ("gridworld:cliff", "mc-control"): {"steps": 200_000, **_ANNEALED},
    ("gridworld:maze", "q-learning"): {"steps": 100_000},
    ("gridworld:maze", "sarsa"): {"steps": 100_000},
    ("gridworld:maze", "mc-control"): {"steps": 300_000},
    # Linear Q-learning on one-hot features is tabular Q-learning, so it gets Q-learning's presets.
    ("gridworld", "linear-q"): {"steps": 50_000, **_ANNEALED},
    ("gridworld:cliff", "linear-q"): _CLIFF_TD,
    ("gridworld:maze", "linear-q"): {"steps": 100_000},
    # Policy evaluation. On classic the random policy: annealed TD(0) and sample-average MC get
    # its V to about 0.03 RMS from the exact V (0.06 at worst over five seeds) in 100k steps. The
    # random walker's V teaches little on the cliff (about -60,000) or the maze (hardly learnable
    # from 200-step episodes), so there the optimal policy is evaluated: MC has its V exactly
    # after one episode, while TD(0) passes the goal's value back one state per visit.
    ("gridworld", "td0"): {"steps": 100_000, **_ANNEALED, "alpha_end": 0.005},
    ("gridworld", "mc-evaluation"): {"steps": 100_000},
    ("gridworld:cliff", "td0"): {"steps": 10_000, "policy": "optimal"},
    ("gridworld:cliff", "mc-evaluation"): {"steps": 10_000, "policy": "optimal"},
    ("gridworld:maze", "td0"): {"steps": 20_000, "policy": "optimal"},
    ("gridworld:maze", "mc-evaluation"): {"steps": 20_000, "policy": "optimal"},
}
