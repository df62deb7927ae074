"""``--asha`` and ``--search``: checked and recorded before a Ray Tune sweep starts.

This module needs neither Ray nor Tune: a bad combination of options, or a search algorithm
whose library is not installed, is one line and exit 2 before anything is started or written.
What it settles goes into the sweep's spec (``asha``, ``search``, ``samples``), so a resumed
sweep knows how it was defined.

ASHA (asynchronous successive halving) compares trials at rungs of ``grace x 3^k`` steps below
the budget: a trial whose recent mean return at a rung is below the best third of those recorded
there stops early. The default grace period is a ninth of the budget, so rungs lie at 1/9 and
1/3 of it: late enough that a learner has moved away from random play, early enough to save
most of a bad trial's budget.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from typing import Any

from agentapp.errors import UserError

REDUCTION_FACTOR = 3
"""ASHA keeps the best 1/3 at each rung; rungs are 3x apart."""

GRACE_SHARE = 9
"""The default grace period is the budget divided by this."""

SEARCHERS: dict[str, tuple[str, str] | None] = {
    "random": None,
    "optuna": ("optuna", "optuna"),
    "hyperopt": ("hyperopt", "hyperopt"),
    "hebo": ("hebo", "HEBO"),
    "ax": ("ax", "ax-platform"),
}
"""``--search`` names: (module to import, what to pip install); ``random`` is Tune's own random
sampling and needs no library."""

REFUSED = {
    "bayesopt": "--search bayesopt searches continuous ranges and --grid gives lists of values; "
                "use optuna, hyperopt, hebo, ax or random",
}


def check(*, asha: bool, asha_grace: int | None, search: str | None, samples: int | None,
          games: Sequence[str], grid: Mapping[str, Sequence[str]]) -> None:
    """Bad input among the Tune options (the grace period is checked against the budget by
    :func:`asha_spec`)."""
    if asha_grace is not None and not asha:
        raise UserError("--asha-grace: only with --asha")
    if samples is not None and search is None:
        raise UserError("--samples: only with --search (without it every combination runs)")
    if samples is not None and samples < 1:
        raise UserError(f"--samples {samples}: must be at least 1")
    if (asha or search) and len(games) > 1:
        flag = "--asha" if asha else "--search"
        raise UserError(f"{flag} compares returns, which differ in scale from game to game: "
                        f"sweep one game at a time")
    if search is None:
        return
    check_searcher(search)
    if not grid:
        raise UserError(f"--search {search}: needs --grid values to choose from")


def check_searcher(name: str) -> None:
    """A known search algorithm whose library is installed, or a UserError saying what to do."""
    if name in REFUSED:
        raise UserError(REFUSED[name])
    if name not in SEARCHERS:
        raise UserError(f"--search {name}: unknown search algorithm; choose from "
                        f"{', '.join(SEARCHERS)}")
    needs = SEARCHERS[name]
    if needs is not None and importlib.util.find_spec(needs[0]) is None:
        raise UserError(f"--search {name} needs {needs[0]}: pip install {needs[1]}")


def asha_spec(budget: int, grace: int | None) -> dict[str, Any]:
    """ASHA's settings for trials of *budget* steps: grace period, rungs and reduction factor."""
    if grace is None:
        grace = max(1, budget // GRACE_SHARE)
    if grace < 1 or grace >= budget:
        raise UserError(f"--asha-grace {grace}: must be at least 1 and below the budget of "
                        f"{budget:,} steps per trial")
    return {"grace": grace, "max_t": budget, "reduction_factor": REDUCTION_FACTOR,
            "rungs": rungs(budget, grace)}


def rungs(budget: int, grace: int) -> list[int]:
    """The steps at which ASHA compares trials: grace x 3^k below the budget."""
    marks, mark = [], grace
    while mark < budget:
        marks.append(mark)
        mark *= REDUCTION_FACTOR
    return marks


def budget_of(game: str, algo: str, spec: Mapping[str, Any], combo: Mapping[str, str]) -> int:
    """The steps a trial of *combo* trains, resolved as ``agentapp train`` would."""
    from agentapp.engine.plan import RunConfig, prepare

    plan = prepare(RunConfig(game=game, algo=algo, steps=spec["steps"], seed=spec["base_seed"],
                             envs=spec["envs"], overrides={**spec["fixed"], **combo},
                             eval_episodes=spec["eval_episodes"], runs_dir=spec["runs_dir"],
                             device="cpu"))
    return int(plan.total_steps)


def is_tune(spec: Mapping[str, Any]) -> bool:
    """Whether the sweep runs (or ran) under Ray Tune."""
    return bool(spec.get("asha") or spec.get("search"))


def undrawn(spec: Mapping[str, Any], trials: int) -> int:
    """Samples of a ``--search`` sweep not drawn yet (0 for a grid sweep)."""
    if not spec.get("search"):
        return 0
    return max(0, int(spec.get("samples") or 0) - trials)
