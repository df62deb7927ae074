"""What a sweep trains: ``--grid key=v1,v2`` parsed, expanded into trials and checked up front.

Trials are games x the product of the grid's values x seeds; trial seed = base seed + seed index.
Every (game, combination) is resolved with :func:`agentapp.engine.plan.prepare` before anything is
started or written, so a misspelt key or a bad value is one line and exit 2, never a sweep of
failed trials.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from agentapp.errors import UserError
from agentapp.params import shown


@dataclass(frozen=True)
class TrialSpec:
    """One run of the sweep, before it is started."""

    id: int
    game: str
    params: dict[str, str] = field(default_factory=dict)
    """The grid's values for this trial (``--set`` keys as typed)."""
    seed: int = 0


def parse_grid(pairs: Sequence[str]) -> dict[str, list[str]]:
    """``["lr=1e-4,3e-4", "ent_coef=0,0.01"]`` -> ``{"lr": ["1e-4", "3e-4"], ...}``, in order.

    A pair without ``=``, an empty key, an empty value or a key or value given twice is bad input.
    """
    grid: dict[str, list[str]] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"--grid {shown(pair)}: expected key=value1,value2,...")
        if key in grid:
            raise UserError(f"--grid {key}: given twice; list all its values in one --grid")
        values = [v.strip() for v in text.split(",")]
        if not text.strip() or any(not v for v in values):
            raise UserError(f"--grid {shown(pair)}: every value must be non-empty "
                            f"(values are separated by commas)")
        repeated = next((v for i, v in enumerate(values) if v in values[:i]), None)
        if repeated is not None:
            raise UserError(f"--grid {key}: the value {shown(repeated)} is given twice")
        grid[key] = values
    return grid


def parse_games(game: str | None, games: str | None) -> list[str]:
    """The games to sweep: GAME followed by those of ``--games g1,g2`` (either may be left out;
    together they add up), as typed and without repeats."""
    names = [game.strip()] if game and game.strip() else []
    if games is not None:
        extra = [g.strip() for g in games.split(",")]
        if any(not g for g in extra):
            raise UserError(f"--games {shown(games)}: expected game names separated by commas")
        names += extra
    if not names:
        raise UserError("no game to sweep: give GAME or --games g1,g2")
    return list(dict.fromkeys(names))


def combinations(grid: Mapping[str, Sequence[str]]) -> list[dict[str, str]]:
    """Every combination of the grid's values (one empty combination for an empty grid)."""
    keys = list(grid)
    return [dict(zip(keys, values, strict=True))
            for values in itertools.product(*(grid[k] for k in keys))]


def expand(games: Sequence[str], grid: Mapping[str, Sequence[str]], seeds: int,
           base_seed: int) -> list[TrialSpec]:
    """Trials in the order they start: game by game, combination by combination, seed by seed."""
    specs = []
    for game in games:
        for combo in combinations(grid):
            for index in range(seeds):
                specs.append(TrialSpec(len(specs) + 1, game, combo, base_seed + index))
    return specs


def check_overlap(grid: Mapping[str, object], fixed: Mapping[str, object]) -> None:
    """A key both swept (``--grid``) and fixed (``--set``) is ambiguous: bad input."""
    both = [k for k in grid if k in fixed]
    if both:
        raise UserError(f"--grid {both[0]}: also given with --set; sweep it or fix it, not both")


def grid_message(error: UserError, grid: Mapping[str, object]) -> UserError:
    """*error* from ``prepare`` about a grid key, said as ``--grid`` instead of ``--set``."""
    text = str(error)
    for key in grid:
        if re.match(rf"--set {re.escape(key)}\b", text):
            return UserError("--grid" + text[len("--set"):])
    return error


def params_text(params: Mapping[str, str]) -> str:
    """``learning_rate=1e-3 ent_coef=0``: a combination as one short string."""
    return " ".join(f"{k}={v}" for k, v in params.items()) or "-"


@dataclass(frozen=True)
class Checked:
    """What :func:`validate` resolved: canonical game ids and the method's name."""

    games: list[str]
    algo: str


def validate(games: Sequence[str], grid: Mapping[str, Sequence[str]],
             fixed: Mapping[str, str], *, algo: str | None, steps: int | None,
             envs: int | None, eval_episodes: int, base_seed: int, seeds: int,
             runs_dir: str | None) -> Checked:
    """Resolve every (game, combination) as ``agentapp train`` would, writing nothing; the
    first problem is a UserError. Games given twice under two names count once."""
    from agentapp.engine.plan import RunConfig, check_seed, prepare

    if seeds < 1:
        raise UserError(f"--seeds {seeds}: must be at least 1")
    check_seed(base_seed)
    check_seed(base_seed + seeds - 1, f"--seed {base_seed} with --seeds {seeds}: the last seed")
    check_overlap(grid, fixed)
    ids: list[str] = []
    names: set[str] = set()
    for game in games:
        for combo in combinations(grid):
            config = RunConfig(game=game, algo=algo, steps=steps, seed=base_seed, envs=envs,
                               overrides={**fixed, **combo}, eval_episodes=eval_episodes,
                               runs_dir=runs_dir, device="cpu")
            try:
                plan = prepare(config)
            except UserError as error:
                raise grid_message(error, grid) from None
            names.add(plan.algo_cls.name)
        if plan.game.id not in ids:
            ids.append(plan.game.id)
    if len(names) > 1:  # each game's default method differs: say which one to sweep
        raise UserError(f"the games' default methods differ ({', '.join(sorted(names))}); "
                        f"choose one with --algo")
    return Checked(ids, names.pop())
