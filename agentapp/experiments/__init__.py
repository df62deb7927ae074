"""Seeded studies that check what the lectures claim (``agentapp experiment NAME``).

Each experiment lives in a module of its own with its sizes (``full``, ``quick``, ``tiny``) as data
at the top, and a ``run(study)`` generator that yields progress lines and returns its result tables
and curves; :mod:`agentapp.experiments.common` runs it over seeds and writes the files. This
package imports no UI package, and this module imports nothing heavy, so listing the experiments
(``agentapp experiment``) never loads torch.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from types import ModuleType

from agentapp.errors import UserError


@dataclass(frozen=True)
class Entry:
    """One experiment of the registry: its name, one line about it, and its module."""

    name: str
    summary: str
    module: str

    def load(self) -> ModuleType:
        return importlib.import_module(f"agentapp.experiments.{self.module}")


EXPERIMENTS: dict[str, Entry] = {e.name: e for e in (
    Entry("dqn-ablation", "DQN on CartPole with and without experience replay and a target "
          "network (--game breakout: the long study).", "dqn_ablation"),
    Entry("pg-variance", "REINFORCE gradient spread with total return, reward-to-go and a "
          "value baseline, and how fast each learns (CartPole).", "pg_variance"),
    Entry("aliased-gridworld", "Q-learning's greedy policy against REINFORCE's stochastic one "
          "in the aliased corridor: steps to the goal.", "aliased_gridworld"),
    Entry("tabular-vs-deep", "Value iteration's exact V* against the V of Q-learning's table "
          "and of DQN's network, state by state (gridworld).", "tabular_vs_deep"),
    Entry("a2c-vs-a3c", "A2C and A3C on CartPole on one step budget: wall-clock time, steps "
          "per second, returns against steps and seconds.", "a2c_vs_a3c"),
)}


def get(name: str) -> Entry:
    """The experiment called *name*; UserError naming the nearest one otherwise."""
    key = name.strip().lower()
    if key in EXPERIMENTS:
        return EXPERIMENTS[key]
    nearest = difflib.get_close_matches(key, list(EXPERIMENTS), n=1, cutoff=0.0)
    hint = f" (nearest: {nearest[0]})" if nearest else ""
    raise UserError(f"unknown experiment {name!r}{hint}; `agentapp experiment --list` lists them")


__all__ = ["EXPERIMENTS", "Entry", "get"]
