"""Presets: per (game, method) settings known to learn, kept as data.

A preset gives the step budget and hyperparameter values for a pair; lookups go from the most
specific key to the least: the exact game id (``gridworld:cliff``), then the game's family
(``gridworld``), then the method alone. ``--set`` overrides any value a preset gives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentapp.presets.atari import ATARI
from agentapp.presets.classic import CLASSIC
from agentapp.presets.gridworld import GRIDWORLD

DEFAULT_STEPS = {"sweeps": 1_000, "steps": 50_000}
"""Budgets for pairs that have no preset, by the unit the method counts."""


@dataclass(frozen=True)
class Preset:
    """What a preset sets for one (game, method) pair."""

    steps: int | None = None
    """Step budget (sweeps for planning methods); None = the method's default."""
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    """Values applied on top of the method's dataclass defaults."""
    eval_every: int | None = None
    save_every: int | None = None
    envs: int | None = None
    """Parallel environments; None = one."""
    source: str = "defaults"
    """Which table entry answered, shown in ``inspect`` and config.json."""

    def budget(self, step_unit: str) -> int:
        """The step budget a new run gets without ``--steps``: the preset's, else the default
        for what the method counts (``steps`` or ``sweeps``)."""
        return self.steps or DEFAULT_STEPS[step_unit]

    @property
    def env_count(self) -> int:
        """Parallel environments a new run gets without ``--envs``."""
        return self.envs or 1


_TABLE: dict[tuple[str, str], dict[str, Any]] = {**GRIDWORLD, **CLASSIC, **ATARI}


def lookup(game_id: str, family: str, algo: str) -> Preset:
    """The preset for *algo* on *game_id*, falling back to its *family*, then to defaults."""
    for key in ((game_id, algo), (family, algo), ("*", algo)):
        entry = _TABLE.get(key)
        if entry is not None:
            data = dict(entry)
            return Preset(
                steps=data.pop("steps", None),
                eval_every=data.pop("eval_every", None),
                save_every=data.pop("save_every", None),
                envs=data.pop("envs", None),
                hyperparameters=data,
                source=f"{key[0]} / {key[1]}",
            )
    return Preset()
