"""``a2c-vs-a3c``: synchronous and asynchronous advantage actor-critic on one step budget.

The lecture presents A3C's asynchronous actor-learners as a way to use many CPU cores at once,
and A2C as the synchronous form that does as well per step. Here both learn CartPole over several
seeds with the same network, loss, optimizer and rollout length, and as many parallel actors
(A2C's environments, A3C's worker processes) as the machine has cores; only the synchronous
batch against the asynchronous updates differs. The study reports wall-clock time, steps per
second, and training returns against steps and against seconds, and says how many cores it had:
with two, the workers share the cores with the main process and the asynchronous advantage is
small at best.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from agentapp.engine import algorithms
from agentapp.errors import UserError
from agentapp.experiments.common import (
    Plot,
    Progress,
    Result,
    RunRecord,
    Spread,
    Study,
    Table,
    binned,
    run_line,
    series,
    train_run,
)


@dataclass(frozen=True)
class Size:
    seeds: int
    steps: int
    """Agent steps per run, summed over the parallel actors."""
    points: int
    """Points of the learning curves."""


SIZES = {
    "full": Size(seeds=3, steps=100_000, points=20),
    "quick": Size(seeds=3, steps=20_000, points=10),
    "tiny": Size(seeds=2, steps=600, points=3),
}
GAMES = ("cartpole",)
SHARED = {"optimizer": "adam", "learning_rate": 1e-3, "n_steps": 5, "ent_coef": 0.0}
"""The settings both methods learn with (A3C's CartPole preset)."""


def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def check(game: str) -> None:
    if "a3c" not in algorithms.ALGORITHMS:
        raise UserError("a3c is not available in this version of agentapp")


def run(study: Study) -> Iterator[Progress]:
    size: Size = study.settings
    actors = cores()
    methods = (("A2C", "a2c", {**SHARED}, actors), ("A3C", "a3c", {**SHARED, "workers": actors},
                                                     None))
    done: dict[str, list[RunRecord]] = {label: [] for label, *_ in methods}
    total, count = len(methods) * len(study.seeds), 0
    for seed in study.seeds:
        for label, algo, settings, envs in methods:
            if study.stopped:
                break
            record = train_run(study, label, seed, algo=algo, steps=size.steps,
                               settings=settings, envs=envs, eval_every=size.steps,
                               eval_episodes=10)
            count += 1
            yield run_line(record, count, total)
            if record.finished:
                done[label].append(record)
    return summarise(study, done, actors)


def summarise(study: Study, done: dict[str, list[RunRecord]], actors: int) -> Result:
    size: Size = study.settings
    rows = []
    by_steps, by_time = [], []
    step_edges = np.linspace(size.steps / size.points, size.steps, size.points).tolist()
    longest = max((r.seconds for recs in done.values() for r in recs), default=1.0)
    time_edges = np.linspace(longest / size.points, longest, size.points).tolist()
    for label, recs in done.items():
        seconds = Spread.of([r.seconds for r in recs])
        sps = Spread.of([r.steps / r.seconds for r in recs if r.seconds > 0])
        final = Spread.of([r.final_eval for r in recs if r.final_eval is not None])
        late = Spread.of([late_return(r) for r in recs])
        running = Spread.of([running_speed(r) for r in recs])
        rows.append([label, actors, seconds.mean, seconds.std, sps.mean, sps.std, running.mean,
                     final.mean, final.std, late.mean, late.std, seconds.n])
        if recs:
            by_steps.append(series(label, [step_edges] * len(recs), [
                binned([(e[0], e[2]) for e in r.episodes], step_edges) for r in recs]))
            by_time.append(series(label, [time_edges] * len(recs), [
                binned([(e[1], e[2]) for e in r.episodes], time_edges, end=r.seconds)
                for r in recs]))
    table = Table(
        "results", f"A2C and A3C on {study.game}, {size.steps:,} steps each, {actors} parallel "
        f"actors on {actors} CPU cores, over seeds",
        ["method", "actors", "seconds mean", "seconds std", "steps/s mean", "steps/s std",
         "steps/s running", "final eval mean", "final eval std", "last 10% return mean",
         "last 10% return std", "seeds"], rows)
    plots = [Plot("returns_by_steps", f"Training episode return against steps ({study.game})",
                  "steps", "episode return", by_steps),
             Plot("returns_by_seconds", f"Training episode return against wall-clock seconds "
                  f"({study.game})", "seconds", "episode return", by_time)]
    return Result(study.name, study.folder, [table], plots, findings=findings(rows, actors))


def running_speed(record: RunRecord) -> float:
    """Steps per second between the first and the last training episode: the speed once the
    run has started (A3C's worker processes take a few seconds to start)."""
    if len(record.episodes) < 2 or record.episodes[-1][1] <= record.episodes[0][1]:
        return float("nan")
    (s0, t0, *_), (s1, t1, *_) = record.episodes[0], record.episodes[-1]
    return (s1 - s0) / (t1 - t0)


def late_return(record: RunRecord) -> float:
    """Mean return of the training episodes that ended in the last tenth of the budget."""
    cut = 0.9 * record.steps
    late = [e[2] for e in record.episodes if e[0] >= cut]
    return float(np.mean(late)) if late else float("nan")


def findings(rows: list[list], actors: int) -> list[str]:
    a2c, a3c = rows
    if not (a2c[-1] and a3c[-1]):
        return [f"ran on {actors} CPU cores; not both methods finished a run: nothing to "
                "compare"]
    speed = a3c[4] / a2c[4] if a2c[4] else float("nan")
    lines = [f"ran on {actors} CPU cores: A2C {a2c[4]:.4g} steps/s, A3C {a3c[4]:.4g} steps/s "
             f"(A3C x{speed:.3g}; once running: {a2c[6]:.4g} against {a3c[6]:.4g}); "
             f"wall-clock {a2c[2]:.4g} s against {a3c[2]:.4g} s (start-up included)"]
    if not speed >= 1.0:
        lines.append(f"no asynchronous advantage here: A3C ran at x{speed:.3g} the speed of A2C "
                     f"on {actors} cores (its workers share them with the main process); the "
                     "case for A3C is a machine with many cores")
    elif actors <= 2 or speed < 1.25:
        lines.append(f"the asynchronous advantage is small here ({actors} cores, A3C x"
                     f"{speed:.3g} the speed of A2C); the case for A3C is many cores")
    better = "A3C" if a3c[7] > a2c[7] else "A2C"
    lines.append(f"on the same budget, {better} ended higher: final greedy evaluation A2C "
                 f"{a2c[7]:.4g} ± {a2c[8]:.4g}, A3C {a3c[7]:.4g} ± {a3c[8]:.4g}")
    return lines
