"""What do Ray rollout workers (``agentapp train --workers N``) cost and give on this machine?

    python benchmarks/ray_workers.py [--seconds 20] [--workers 1,2,4] [--no-pong] [--json]

For CartPole PPO (its preset: 8 environments x 32 steps per rollout, 20 epochs) and, unless
``--no-pong``, Pong A2C (its preset: 16 environments x 5 steps, one update per rollout), the same
agent is trained as ``engine.train`` builds it: once with its environments in this process
(local), then with 1, 2 and 4 Ray workers sharing the same total number of environments. Each
mode runs whole iterations (``train_iteration``) for ``--seconds`` of wall clock after a warm-up
of ``WARMUP_ITERATIONS`` (the actors start and import torch then, not timed). Measured per mode:

* steps/s: agent steps done / wall seconds;
* collect ms: the driver's wall time per rollout (locally: stepping and acting; with workers:
  broadcasting the weights, the workers playing, the columns coming back and being stored);
* learn ms: the rest of each iteration (the updates, in this process);
* round trip ms: collect less the slowest worker's own playing time (weights loaded to result
  ready, measured inside the actor): what shipping weights out and experience back costs per
  round, and ``per worker`` that divided by the workers.

A local Ray is started in this process with this machine's cores (as ``--workers`` without
``--address`` does), and the actors ask for a share of them. On a machine with few cores the
workers compete with the learner and with each other for the same cores: the table then shows
the overhead of distribution, not its scaling. What a cluster gives follows from it: with W
workers on machines of their own, a rollout takes about max(one worker's playing time for its
N/W environments) + the round trip, and the learner's time is unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from _common import load_average, load_warning, machine, machine_line

WARMUP_ITERATIONS = 3


def build(game_id: str, algo: str) -> Any:
    """The agent ``engine.train`` would build for the preset of (*game_id*, *algo*)."""
    from agentapp.engine import algorithms
    from agentapp.engine.device import configure_threads
    from agentapp.engine.plan import preset_settings
    from agentapp.games import resolve
    from agentapp.games.registry import PIXELS

    game, cls = resolve(game_id), algorithms.get(algo)
    preset, hp = preset_settings(game, cls)
    configure_threads(None, pixels=PIXELS in game.capabilities(game.params))
    return cls(game, game.params, hp, seed=0, budget=preset.budget(cls.step_unit),
               device="cpu", n_envs=preset.env_count)


def measure(game_id: str, algo: str, workers: int, seconds: float) -> dict[str, Any]:
    agent = build(game_id, algo)
    collect_s, round_trip_s = [], []
    original = agent.collect

    def timed_collect():
        began = time.perf_counter()
        finished = original()
        collect_s.append(time.perf_counter() - began)
        if agent.remote is not None:
            round_trip_s.append(collect_s[-1] - max(agent.remote.worker_seconds))
        return finished

    agent.collect = timed_collect
    try:
        if workers:
            agent.use_workers(workers, None)
        for _ in range(WARMUP_ITERATIONS):
            agent.train_iteration(10**9)
        collect_s.clear()
        round_trip_s.clear()
        steps, began = agent.steps, time.perf_counter()
        while time.perf_counter() - began < seconds:
            agent.train_iteration(10**9)
        wall = time.perf_counter() - began
        iterations = len(collect_s)
        result = {
            "game": game_id, "algo": algo, "workers": workers, "envs": agent.n_envs,
            "steps": agent.steps - steps, "seconds": wall, "iterations": iterations,
            "sps": (agent.steps - steps) / wall,
            "collect_ms": 1000 * sum(collect_s) / iterations,
            "learn_ms": 1000 * (wall - sum(collect_s)) / iterations,
        }
        if round_trip_s:
            result["round_trip_ms"] = 1000 * sum(round_trip_s) / len(round_trip_s)
            result["round_trip_ms_per_worker"] = result["round_trip_ms"] / workers
        return result
    finally:
        agent.close()


def row(r: dict[str, Any], local_sps: float) -> str:
    mode = "local" if not r["workers"] else f"{r['workers']} worker{'s' * (r['workers'] > 1)}"
    trip = (f"{r['round_trip_ms']:8.1f} {r['round_trip_ms_per_worker']:9.1f}"
            if "round_trip_ms" in r else f"{'-':>8} {'-':>9}")
    return (f"{r['game']:<9} {r['algo']:<4} {mode:<10} {r['envs']:>4} {r['sps']:>9,.0f} "
            f"{r['sps'] / local_sps:>6.2f}x {r['collect_ms']:>10.1f} {r['learn_ms']:>9.1f} {trip}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--no-pong", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",") if w]
    load = load_average()
    from agentapp.engine.ray_cluster import connect

    connect("--workers", None)
    cases = [("cartpole", "ppo")] + ([] if args.no_pong else [("pong", "a2c")])
    results = []
    for game_id, algo in cases:
        for workers in [0, *counts]:
            results.append(measure(game_id, algo, workers, args.seconds))
            if not args.json:
                print(f"measured {game_id} {algo} workers={workers}", file=sys.stderr,
                      flush=True)
    info = machine()
    if args.json:
        print(json.dumps({"machine": info, "load_before": load, "results": results}, indent=2))
        return
    print(machine_line(info))
    print(f"Ray local, {os.cpu_count()} CPUs; {args.seconds:g} s per mode after "
          f"{WARMUP_ITERATIONS} warm-up iterations")
    print(f"{'game':<9} {'algo':<4} {'mode':<10} {'envs':>4} {'steps/s':>9} {'vs local':>7} "
          f"{'collect ms':>10} {'learn ms':>9} {'trip ms':>8} {'per worker':>9}")
    for game_id, algo in cases:
        mine = [r for r in results if (r["game"], r["algo"]) == (game_id, algo)]
        local = next(r["sps"] for r in mine if not r["workers"])
        for r in mine:
            print(row(r, local))
    warning = load_warning(load)
    if warning:
        print(warning)


if __name__ == "__main__":
    main()
