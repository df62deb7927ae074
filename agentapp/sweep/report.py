"""The sweep's result: configurations ranked by their mean score over seeds.

A configuration is a game and one combination of the grid's values; its seeds are its trials.
Only trials that went to the end of their budget count (``finished``); a trial stopped early by
ASHA or by the user, or one that failed, does not. Trials ASHA stopped are counted in their own
column (``stopped early``): their recent mean return stays in ``sweep.json`` and the JSON report,
but a configuration is never ranked on them. Returns of different games are not comparable, so
configurations are ranked within each game, best mean first. ``report.csv`` holds the same rows
as the terminal table, one column per grid key.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agentapp.sweep.grid import params_text
from agentapp.sweep.state import DONE, EARLY, REPORT, Sweep, Trial

SCORE_TEXT = {
    "final evaluation": "the mean return of the run's final evaluation ({episodes} greedy "
                        "episodes)",
    "last 10 episodes": "the mean of the run's last 10 training episode returns",
}


@dataclass
class Row:
    """One configuration: its scores over the seeds that finished."""

    game: str
    params: dict[str, str]
    scores: list[float] = field(default_factory=list)
    early: list[float | None] = field(default_factory=list)
    """Recent mean returns of the seeds ASHA stopped early (not ranked)."""
    seeds: int = 0
    rank: int | None = None

    @property
    def stats(self) -> tuple[float, float, float, float]:
        """Mean, population std, min and max of the scores (NaN when none finished)."""
        if not self.scores:
            return (math.nan,) * 4
        a = np.asarray(self.scores, dtype=float)
        return float(a.mean()), float(a.std()), float(a.min()), float(a.max())


def rows(sweep: Sweep) -> list[Row]:
    """The configurations in ranking order: game by game (the sweep's order), best mean first,
    unscored configurations last."""
    by_key: dict[tuple[str, tuple[tuple[str, str], ...]], Row] = {}
    for trial in sweep.trials:
        key = (trial.game, tuple(trial.params.items()))
        row = by_key.setdefault(key, Row(trial.game, dict(trial.params)))
        row.seeds += 1
        if _counts(trial):
            row.scores.append(float(trial.score))
        elif trial.status == EARLY:
            row.early.append(trial.score)
    games = list(dict.fromkeys(t.game for t in sweep.trials))
    ranked: list[Row] = []
    for game in games:
        mine = [r for r in by_key.values() if r.game == game]
        mine.sort(key=lambda r: (not r.scores, -r.stats[0] if r.scores else 0.0))
        for i, row in enumerate(mine):
            row.rank = i + 1 if row.scores else None
        ranked += mine
    return ranked


def _counts(trial: Trial) -> bool:
    return trial.status == DONE and trial.score is not None


def score_sources(sweep: Sweep) -> str:
    """What the scores are, in words (both sources when the trials differ)."""
    sources = dict.fromkeys(t.score_source for t in sweep.trials if _counts(t) and t.score_source)
    texts = [SCORE_TEXT.get(s, s).format(episodes=sweep.spec.get("eval_episodes", "?"))
             for s in sources]
    return "; ".join(texts) or "no trial has finished yet"


def columns(sweep: Sweep) -> list[str]:
    return ["rank", "game", *sweep.spec["grid"], "mean", "std", "min", "max", "finished",
            "stopped early", "seeds"]


def table(sweep: Sweep) -> list[list[Any]]:
    """The report's cells: rank (None: no finished seed), game, the grid's values, the spread
    of the scores, and how many seeds finished and were stopped early, out of how many."""
    keys = list(sweep.spec["grid"])
    return [[row.rank, row.game, *(row.params.get(k) for k in keys), *row.stats,
             len(row.scores), len(row.early), row.seeds] for row in rows(sweep)]


def write_csv(sweep: Sweep) -> Path:
    """``<sweep folder>/report.csv`` (numbers written in full; empty cells where none)."""
    path = sweep.folder / REPORT
    tmp = path.with_name(f".{REPORT}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns(sweep))
        for cells in table(sweep):
            writer.writerow(["" if _missing(c) else repr(c) if isinstance(c, float) else c
                             for c in cells])
    tmp.replace(path)
    return path


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def as_json(sweep: Sweep, exit_code: int) -> dict[str, Any]:
    """The whole result as one object: the ranking, the trials and where the files are."""
    from dataclasses import asdict

    ranking = []
    for row in rows(sweep):
        mean, std, low, high = row.stats
        ranking.append({"rank": row.rank, "game": row.game, "params": row.params,
                        "params_text": params_text(row.params),
                        "mean": None if math.isnan(mean) else mean,
                        "std": None if math.isnan(std) else std,
                        "min": None if math.isnan(low) else low,
                        "max": None if math.isnan(high) else high,
                        "finished": len(row.scores), "stopped_early": len(row.early),
                        "early_scores": row.early, "seeds": row.seeds, "scores": row.scores})
    return {"sweep": sweep.name, "folder": str(sweep.folder),
            "report": str(sweep.folder / REPORT), "score": score_sources(sweep),
            "counts": sweep.counts(), "exit_code": exit_code, "ranking": ranking,
            "trials": [asdict(t) for t in sweep.trials], "spec": sweep.spec}
