"""Do the classic-control presets learn on every seed? Train each (game, method) preset on several
seeds, stopping at gymnasium's "solved" threshold, and report how many seeds got there.

    python benchmarks/classic_presets.py [--seeds 3] [--only mountaincar:dqn,acrobot:ppo]
                                         [--set key=value ...] [--steps N] [--per-seed]

For each pair and seed: ``agentapp train GAME --algo A --seed S --target-return R`` in-process,
with the preset's budget (or ``--steps``) and a greedy 10-episode evaluation every
``--eval-every`` steps (R: -100 for Acrobot-v1, -110 for MountainCar-v0, 200 for
LunarLander-v3). One row per pair: seeds solved,
median steps and seconds to the threshold over the solved seeds, and the best evaluation of each
unsolved seed; ``--per-seed`` adds a line for each seed (steps, seconds, best evaluation).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time

import torch
from _common import settings_from

from agentapp.engine import train
from agentapp.engine.events import Metrics, RunFinished
from agentapp.engine.plan import RunConfig

SOLVED = {"acrobot": -100.0, "mountaincar": -110.0, "lunarlander": 200.0}
PAIRS = ("acrobot:a2c", "acrobot:ppo", "acrobot:dqn", "mountaincar:dqn", "mountaincar:ppo",
         "lunarlander:dqn", "lunarlander:ppo")


def run_one(game: str, algo: str, seed: int, eval_every: int, root: str,
            overrides: dict[str, str], steps: int | None = None) -> dict:
    """Train one seed to the threshold (or the preset's budget); return what happened."""
    start, best = time.perf_counter(), float("-inf")
    finished: RunFinished | None = None
    for event in train(RunConfig(game=game, algo=algo, seed=seed, runs_dir=root, steps=steps,
                                 eval_every=eval_every, target_return=SOLVED[game],
                                 overrides=overrides)):
        if isinstance(event, Metrics) and "eval/mean_return" in event.values:
            best = max(best, event.values["eval/mean_return"])
        elif isinstance(event, RunFinished):
            finished = event
    assert finished is not None
    return {"solved": finished.reason == "target", "steps": finished.step,
            "secs": time.perf_counter() - start, "best": best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", default=",".join(PAIRS),
                        help="comma-separated game:method pairs")
    parser.add_argument("--eval-every", type=int, default=10_000)
    parser.add_argument("--runs-dir", default=None)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="change a setting of every pair (repeatable)")
    parser.add_argument("--steps", type=int, default=None,
                        help="every pair's budget instead of its preset's (schedules stretch)")
    parser.add_argument("--per-seed", action="store_true", help="a line for each seed as well")
    args = parser.parse_args()
    root = args.runs_dir or tempfile.mkdtemp(prefix="agentapp-bench-")
    overrides = settings_from(args.set, parser.error)
    print(f"machine: {platform.processor() or platform.machine()}, python "
          f"{platform.python_version()}, torch {torch.__version__}; runs in {root}")
    print(f"{'game':12} {'method':6} {'solved':>6} {'steps':>9} {'secs':>7}  unsolved seeds (best)")
    for pair in args.only.split(","):
        game, algo = pair.strip().split(":")
        results = [run_one(game, algo, seed, args.eval_every, root, overrides, args.steps)
                   for seed in range(args.seeds)]
        solved = [r for r in results if r["solved"]]
        steps = f"{statistics.median(r['steps'] for r in solved):9,.0f}" if solved else " " * 9
        secs = f"{statistics.median(r['secs'] for r in solved):7.1f}" if solved else " " * 7
        misses = ", ".join(f"seed {seed}: {r['best']:.1f} at {r['steps']:,}"
                           for seed, r in enumerate(results) if not r["solved"])
        print(f"{game:12} {algo:6} {len(solved):>4}/{len(results)} {steps} {secs}  {misses}",
              flush=True)
        if not args.per_seed:
            continue
        for seed, r in enumerate(results):
            verdict = "reached" if r["solved"] else "did not reach"
            print(f"    seed {seed}: {verdict} {SOLVED[game]:g} at {r['steps']:,} steps in "
                  f"{r['secs']:.1f} s (best evaluation {r['best']:.1f})", flush=True)


if __name__ == "__main__":
    main()
