"""``dqn-ablation``: DQN with and without its two stabilisers, over several seeds.

The lecture's table (after Mnih et al. 2015, extended data table 3) claims that experience replay
matters most and that replay with a target network is best. Here DQN learns CartPole four times
per seed, with the preset's settings and only ``replay`` and ``target`` changed, and the final
greedy evaluation of each run is compared. Nothing is concluded in advance: the variant ranked
best, and which switch adds more, are computed from the runs.

With ``replay=false`` every step makes one update from that step's transition alone, so those
variants make more (and much noisier) updates than the replay ones; the step budget is the same.
``--game breakout`` is the long study (hours per run on a CPU).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agentapp.experiments.common import (
    SPREAD_COLUMNS,
    Plot,
    Progress,
    Result,
    RunRecord,
    Spread,
    Study,
    Table,
    run_line,
    series,
    train_run,
)


@dataclass(frozen=True)
class Size:
    seeds: int
    """Seeds per variant, unless ``--seeds`` says otherwise."""
    steps: int
    """Agent steps per run."""
    evaluations: int
    """Greedy evaluations per run (the points of the learning curves)."""
    eval_episodes: int
    settings: dict[str, Any] = field(default_factory=dict)
    """DQN settings on top of the game's preset (the tiny size shrinks the warm-up)."""


SIZES = {
    "full": Size(seeds=3, steps=30_000, evaluations=10, eval_episodes=10),
    "quick": Size(seeds=3, steps=5_000, evaluations=5, eval_episodes=5),
    "tiny": Size(seeds=2, steps=200, evaluations=2, eval_episodes=2,
                 settings={"learning_starts": 50, "train_freq": 50, "gradient_steps": 5}),
}
BREAKOUT_SIZES = {  # the long study: DQN on Atari learns for millions of frames
    "full": Size(seeds=3, steps=1_000_000, evaluations=10, eval_episodes=5,
                 settings={"learning_starts": 50_000}),
    # the smaller sizes only check that the study runs: their games are cut off early, since an
    # untrained agent that never presses FIRE again would play to the 108,000-frame cap
    "quick": Size(seeds=3, steps=5_000, evaluations=1, eval_episodes=2,
                  settings={"learning_starts": 1_000, "buffer_size": 5_000,
                            "max_frames": 20_000}),
    "tiny": Size(seeds=2, steps=400, evaluations=1, eval_episodes=1,
                 settings={"learning_starts": 100, "buffer_size": 400, "batch_size": 8,
                           "max_frames": 2_000}),
}
GAMES = ("cartpole", "breakout")
VARIANTS = (
    ("replay + target", {"replay": True, "target": True}),
    ("replay only", {"replay": True, "target": False}),
    ("target only", {"replay": False, "target": True}),
    ("neither", {"replay": False, "target": False}),
)


def sizes_for(game: str) -> dict[str, Size]:
    return BREAKOUT_SIZES if game == "breakout" else SIZES


def run(study: Study) -> Iterator[Progress]:
    size: Size = study.settings
    done: dict[str, list[RunRecord]] = {label: [] for label, _ in VARIANTS}
    total, count = len(VARIANTS) * len(study.seeds), 0
    for seed in study.seeds:  # seed by seed, so a stopped study still compares every variant
        for label, switches in VARIANTS:
            if study.stopped:
                break
            record = train_run(study, label, seed, algo="dqn", steps=size.steps,
                               settings={**size.settings, **switches},
                               eval_every=max(1, size.steps // size.evaluations),
                               eval_episodes=size.eval_episodes)
            count += 1
            yield run_line(record, count, total)
            if record.finished:
                done[label].append(record)
    return summarise(study, done)


def summarise(study: Study, done: dict[str, list[RunRecord]]) -> Result:
    finals = {label: Spread.of([r.final_eval for r in recs if r.final_eval is not None])
              for label, recs in done.items()}
    ranked = sorted((label for label in finals if finals[label].n),
                    key=lambda label: -finals[label].mean)
    rows = []
    for label, switches in VARIANTS:
        spread, recs = finals[label], done[label]
        rank = ranked.index(label) + 1 if label in ranked else None
        seconds = float(np.mean([r.seconds for r in recs])) if recs else float("nan")
        rows.append([label, switches["replay"], switches["target"], *spread.cells(), spread.n,
                     rank, seconds])
    table = Table("results", f"DQN on {study.game}: final greedy evaluation return over seeds",
                  ["variant", "replay", "target", *SPREAD_COLUMNS, "seeds", "rank",
                   "seconds per run"], rows)
    curves = [series(label, [[e[0] for e in r.evals] for r in done[label]],
                     [[e[2] for e in r.evals] for r in done[label]])
              for label, _ in VARIANTS if done[label]]
    plot = Plot("curves", f"DQN on {study.game}: greedy evaluation return (mean over seeds)",
                "steps", "evaluation return", curves)
    return Result(study.name, study.folder, [table], [plot], findings=findings(finals, ranked))


def findings(finals: dict[str, Spread], ranked: list[str]) -> list[str]:
    """What the runs say about the lecture's two claims, in plain sentences."""
    if not ranked:
        return ["no run finished: nothing to compare"]
    best = finals[ranked[0]]
    order = ranked[0] + "".join(
        f" {'=' if finals[b].mean == finals[a].mean else '>'} {b}"
        for a, b in itertools.pairwise(ranked))
    lines = [f"best: {ranked[0]} (mean final return {best.mean:.4g} ± {best.std:.4g} over "
             f"{best.n} seeds); ranking by mean: {order}"]
    tied = len(ranked) > 1 and finals[ranked[1]].mean == best.mean
    close = False
    if len(ranked) > 1:
        second = finals[ranked[1]]
        close = best.mean - second.mean <= best.std + second.std
        if close:
            lines.append(f"the gap to {ranked[1]} ({second.mean:.4g}) is within the spread "
                         "over seeds: more seeds would be needed to separate them")
    m = {label: finals[label].mean for label in finals}
    if all(finals[label].n for label in m):
        replay = ((m["replay + target"] - m["target only"]) + (m["replay only"] - m["neither"])) / 2
        target = ((m["replay + target"] - m["replay only"]) + (m["target only"] - m["neither"])) / 2
        if replay == target == 0:
            more = "neither switch changed the mean final return"
        else:
            more = f"{'replay' if abs(replay) >= abs(target) else 'the target network'} " \
                   "matters more"
        lines.append(f"turning replay on changes the mean final return by {replay:+.4g} on "
                     f"average, the target network by {target:+.4g}: here {more}")
    if tied:
        claim = "cannot be decided here: the best variants tie"
    elif ranked[0] != "replay + target":
        claim = f"does not hold here ({ranked[0]} ranked best)"
    elif close:
        claim = "holds on the means only, not beyond the spread over seeds"
    else:
        claim = "holds"
    lines.append(f"the lecture's claim that replay and a target network together are best "
                 f"{claim}")
    return lines
