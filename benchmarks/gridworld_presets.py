"""Do the gridworld presets learn? Train every (built-in map, suitable method) pair with its preset
and compare the trained greedy agent with the optimal one (value iteration on the full state).

    python benchmarks/gridworld_presets.py [--seeds 3] [--episodes 500] [--runs-dir DIR]
                                           [--methods value-iteration,q-learning,...|all]

The methods are by default the planners and the tabular control methods (the README's table);
``--methods all`` adds every other method that suits the gridworld (the deep ones: much longer).

Prints one row per pair: budget, seconds and steps per second of training, and the mean return of
the final agent over --episodes seeded greedy episodes (seeds 0..N-1, the same for every agent),
averaged over the training seeds, next to the optimal agent's mean on the same episodes. On the
aliased map the agent sees only the walls around it, so no deterministic policy reaches the
full-state optimum: that gap is the lesson of the map.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

from agentapp import checkpoints
from agentapp.engine import algorithms, train
from agentapp.engine.evaluate import evaluate
from agentapp.engine.events import RunFinished
from agentapp.engine.plan import RunConfig, restore_agent
from agentapp.games import catalogue

TABULAR = ("value-iteration", "policy-iteration", "q-learning", "sarsa", "mc-control")


def final(config: RunConfig, episodes: int) -> tuple[RunFinished, float, float]:
    """Train; return the last event, the seconds it took and the final agent's mean return."""
    start = time.perf_counter()
    *_, event = train(config)
    took = time.perf_counter() - start
    ckpt = checkpoints.load(Path(event.run_dir) / "checkpoints" / "latest.pt")
    agent, game, params = restore_agent(ckpt)
    return event, took, evaluate(agent, game, params, episodes=episodes, seed=0).mean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=500)
    parser.add_argument("--runs-dir", default=None)
    parser.add_argument("--methods", default=",".join(TABULAR),
                        help="comma-separated methods, or 'all' (default: the tabular ones)")
    args = parser.parse_args()
    wanted = None if args.methods == "all" else set(args.methods.split(","))
    if wanted and wanted - set(algorithms.ALGORITHMS):
        parser.error(f"unknown methods: {', '.join(sorted(wanted - set(algorithms.ALGORITHMS)))}")
    root = args.runs_dir or tempfile.mkdtemp(prefix="agentapp-bench-")
    print(f"machine: {platform.processor() or platform.machine()}, python "
          f"{platform.python_version()}; runs in {root}")
    header = f"{'game':20} {'method':17} {'budget':>8} {'secs':>6} {'steps/s':>9} " \
             f"{'eval':>8} {'optimum':>8} {'optimal':>7}"
    print(header)
    for game in (g for g in catalogue() if g.family == "gridworld"):
        optimum = None
        if "value-iteration" in algorithms.suitable(game, game.params.__class__(
                **{**game.params.__dict__, "obs": "index"})):
            _, _, optimum = final(RunConfig(game=game.id, algo="value-iteration", seed=0,
                                            runs_dir=root, overrides={"obs": "index"}),
                                  args.episodes)
        for algo in algorithms.suitable(game):
            if wanted is not None and algo not in wanted:
                continue
            evals, secs, steps = [], 0.0, 0
            for seed in range(args.seeds):
                done, took, score = final(
                    RunConfig(game=game.id, algo=algo, seed=seed, runs_dir=root), args.episodes)
                evals.append(score)
                secs += took
                steps += done.step
            mean = sum(evals) / len(evals)
            solved = "-" if optimum is None else \
                f"{sum(e >= optimum - 0.01 for e in evals)}/{len(evals)}"
            opt = "-" if optimum is None else f"{optimum:8.3f}"
            print(f"{game.id:20} {algo:17} {steps // args.seeds:8d} {secs / args.seeds:6.2f} "
                  f"{steps / max(secs, 1e-9):9.0f} {mean:8.3f} {opt:>8} {solved:>7}", flush=True)


if __name__ == "__main__":
    main()
