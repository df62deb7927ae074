"""How many training steps per second do agentapp's PPO, A2C and DQN make on Pong, next to
Stable-Baselines3, and where does the time go?

    python benchmarks/atari_throughput.py [--seconds 60] [--only ppo,a2c,dqn] [--no-sb3]
                                          [--device auto|cpu|cuda] [--warmup 5] [--threads N]
                                          [--envs N] [--set key=value ...] [--json]

Solving Pong is a matter of millions of steps, so the training speed decides how long it takes.
Measured, one after another in the same run:

* env-only ceiling: ale-py's C++ ``AtariVectorEnv("pong", 8, num_threads=<cores>)`` stepped with
  random actions for ~10 s: the steps per second (summed over the 8 environments) that no agent
  with 8 environments can beat on this machine;
* ours: each method with its Atari preset (``agentapp/presets/atari.py``), built in this process
  as ``engine.train`` builds it (``prepare``, ``configure_threads(pixels=True)``, the algorithm
  class), then ``train_iteration`` called in a loop: a few iterations of warm-up (at least
  ``WARMUP_ITERATIONS`` and ``--warmup`` seconds, not timed), then whole iterations for
  ``--seconds`` of wall clock. steps/s = agent steps done / wall seconds (an agent step is 4
  frames); the split comes from the agent's own clocks (``agent.timings``): env = stepping the
  environments, act = choosing actions and filling the rollout (collecting less the
  environments), learn = the rest of the wall time (the updates);
* SB3 (when ``stable_baselines3`` is importable and not ``--no-sb3``): the same method with RL
  Zoo's Atari settings (``SB3_ZOO`` below; ``make_atari_env("PongNoFrameskip-v4")`` +
  ``VecFrameStack(4)``, as RL Zoo trains Atari) in a process of its own, so it keeps its own torch
  thread default (``--threads N`` sets both sides' torch threads instead); a callback marks the
  start of every rollout (an iteration boundary, as on our side), skips the same warm-up and stops
  training ``--seconds`` later. Its split is not measured.

``--envs N`` and ``--set key=value`` change our side only (a candidate preset, or the GPU options
``precision=bf16`` and ``compile=reduce-overhead``), as ``agentapp train`` takes them; the table
then says so.

DQN's presets (ours and RL Zoo's) collect 100,000 random steps before learning starts; both sides
are measured with ``learning_starts=1000`` instead, so that the figure is the speed of training
with learning active. Schedules are those of the presets' 10M-step budgets, as in a real run.

The issue's target (2-core CPU): our PPO makes at least 2x SB3 PPO's steps per second; it is
checked at the end. ``--json`` prints everything as one JSON object instead of the table.

Other load spoils the figures: the output warns when the 1-minute load average exceeded 0.5 before
starting, and when other processes took more than a tenth of a core during a measurement
(``/proc/stat`` less the measuring process's own CPU time). About 2 x 3 x (``--seconds`` + ~15 s)
plus 10 s in all; the machine should be otherwise idle. SB3 is not a dependency of agentapp
(``pip install "agentapp[bench]"``); its Atari wrappers need ``opencv-python-headless``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Any

import numpy as np
from _common import (
    busy_cpu_s,
    contended,
    load_average,
    load_warning,
    machine,
    machine_line,
    settings_from,
)

METHODS = ("ppo", "a2c", "dqn")
GAME = "pong"
CEILING_ENVS = 8
CEILING_SECONDS = 10.0
WARMUP_ITERATIONS = 3
DQN_LEARNING_STARTS = 1000  # both sides: measure DQN with learning active (presets: 100,000)
PPO_SPEED_RATIO = 2.0  # target: our PPO at least this many times SB3 PPO's steps/s
SB3_BUDGET = 10_000_000  # RL Zoo's Atari budget: the schedules anneal over it

# RL Zoo's hyperparams/{ppo,a2c,dqn}.yml, ``atari`` entries (lin_X: linear from X down to 0 over
# the budget). "rmsprop_tf_like": policy_kwargs=dict(optimizer_class=RMSpropTFLike,
# optimizer_kwargs=dict(eps=1e-5)), built in SB3_SCRIPT.
SB3_ZOO: dict[str, dict[str, Any]] = {
    "ppo": {
        "n_envs": 8, "policy": "CnnPolicy",
        "kwargs": {"n_steps": 128, "n_epochs": 4, "batch_size": 256,
                   "learning_rate": "lin_2.5e-4", "clip_range": "lin_0.1", "vf_coef": 0.5,
                   "ent_coef": 0.01},
    },
    "a2c": {
        "n_envs": 16, "policy": "CnnPolicy", "rmsprop_tf_like": True,
        "kwargs": {"ent_coef": 0.01, "vf_coef": 0.25},
    },
    "dqn": {
        "n_envs": 1, "policy": "CnnPolicy",
        "kwargs": {"buffer_size": 100_000, "learning_rate": 1e-4, "batch_size": 32,
                   "learning_starts": DQN_LEARNING_STARTS, "target_update_interval": 1000,
                   "train_freq": 4, "gradient_steps": 1, "exploration_fraction": 0.1,
                   "exploration_final_eps": 0.01, "optimize_memory_usage": False},
    },
}

# Run as its own process:  python -c SB3_SCRIPT ALGO ZOO_JSON DEVICE WARMUP_S SECONDS WARMUP_ITS
# BUDGET THREADS (0: torch's default). Its last stdout line is a JSON object with the figures.
SB3_SCRIPT = r"""
import json, os, sys, time
import ale_py, gymnasium as gym, torch
import stable_baselines3 as sb3
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_atari_env
from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike
from stable_baselines3.common.vec_env import VecFrameStack

algo, zoo, device = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
warmup_s, seconds, warmup_its, budget = (float(sys.argv[4]), float(sys.argv[5]),
                                         int(sys.argv[6]), int(sys.argv[7]))
gym.register_envs(ale_py)
if int(sys.argv[8]) > 0:
    torch.set_num_threads(int(sys.argv[8]))

def busy():
    try:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return None
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")

def linear(start):
    return lambda progress_remaining: progress_remaining * start

kwargs = {k: linear(float(v[4:])) if isinstance(v, str) and v.startswith("lin_") else v
          for k, v in zoo["kwargs"].items()}
if zoo.get("rmsprop_tf_like"):
    kwargs["policy_kwargs"] = dict(optimizer_class=RMSpropTFLike,
                                   optimizer_kwargs=dict(eps=1e-5))
learning_starts = kwargs.get("learning_starts", 0)

class Clock(BaseCallback):
    # marks (wall, steps, own CPU, machine busy CPU) at the start of rollouts: iteration bounds
    def _on_training_start(self):
        self.began, self.rollouts, self.window, self.stop = time.perf_counter(), 0, [], False

    def mark(self):
        return (time.perf_counter(), self.num_timesteps, time.process_time(), busy())

    def _on_rollout_start(self):
        self.rollouts += 1
        now = time.perf_counter()
        if not self.window:
            if (self.rollouts > warmup_its and now - self.began >= warmup_s
                    and self.num_timesteps > learning_starts):
                self.window.append(self.mark())
        elif now - self.window[0][0] >= seconds:
            self.window.append(self.mark())
            self.stop = True

    def _on_step(self):
        return not self.stop

env = VecFrameStack(make_atari_env("PongNoFrameskip-v4", n_envs=zoo["n_envs"], seed=0),
                    n_stack=4)
cls = {"ppo": sb3.PPO, "a2c": sb3.A2C, "dqn": sb3.DQN}[algo]
model = cls(zoo["policy"], env, seed=0, device=device, verbose=0, **kwargs)
clock = Clock()
model.learn(total_timesteps=budget, callback=clock)
env.close()
(t0, n0, c0, b0), (t1, n1, c1, b1) = clock.window
other = None if b0 is None or b1 is None else round(max(0.0, b1 - b0 - (c1 - c0)), 2)
print(json.dumps({
    "steps": n1 - n0, "seconds": round(t1 - t0, 3), "steps_per_s": (n1 - n0) / (t1 - t0),
    "warmup_steps": n0, "threads": torch.get_num_threads(), "device": str(model.device),
    "envs": zoo["n_envs"], "other_cpu_s": other, "sb3": sb3.__version__,
}))
"""


class Window:
    """Wall clock, this process's CPU time and the machine's busy CPU time over a measurement;
    ``other_cpu_s`` is what the rest of the machine took meanwhile."""

    def __init__(self) -> None:
        self.wall, self.cpu, self.busy = time.perf_counter(), time.process_time(), busy_cpu_s()

    def elapsed(self) -> float:
        return time.perf_counter() - self.wall

    def close(self) -> dict[str, Any]:
        wall, cpu, busy = self.elapsed(), time.process_time() - self.cpu, busy_cpu_s()
        other = None if busy is None or self.busy is None else max(0.0, busy - self.busy - cpu)
        return {"seconds": round(wall, 3), "cpu_s": round(cpu, 2),
                "other_cpu_s": None if other is None else round(other, 2)}


def env_ceiling(seconds: float, n_envs: int = CEILING_ENVS) -> dict[str, Any]:
    """Steps per second of ale-py's vectorised Pong alone, random actions, summed over envs."""
    from ale_py.vector_env import AtariVectorEnv

    env = AtariVectorEnv(GAME, n_envs, num_threads=os.cpu_count())
    try:
        env.reset(seed=0)
        rng = np.random.default_rng(0)
        n_actions = int(env.single_action_space.n)
        for _ in range(20):  # untimed: first frames, thread start-up
            env.step(rng.integers(n_actions, size=n_envs, dtype=np.int64))
        window, steps = Window(), 0
        while window.elapsed() < seconds:
            env.step(rng.integers(n_actions, size=n_envs, dtype=np.int64))
            steps += n_envs
        result = window.close()
    finally:
        env.close()
    return {**result, "envs": n_envs, "steps": steps, "steps_per_s": steps / result["seconds"],
            "threads": os.cpu_count()}


def build_ours(algo: str, device: str, root: str, threads: int | None = None,
               envs: int | None = None, settings: dict[str, str] | None = None):
    """Our agent for *algo* on Pong, as ``engine.train`` builds it (no run folder)."""
    from agentapp.engine.device import configure_threads
    from agentapp.engine.plan import RunConfig, prepare

    overrides = {"learning_starts": str(DQN_LEARNING_STARTS)} if algo == "dqn" else {}
    plan = prepare(RunConfig(game=GAME, algo=algo, seed=0, device=device, runs_dir=root,
                             envs=envs, overrides={**overrides, **(settings or {})}))
    threads = configure_threads(threads, pixels=True)
    agent = plan.algo_cls(plan.game, plan.game_params, plan.hp, seed=plan.seed,
                          budget=plan.schedule_budget, device=plan.device, n_envs=plan.envs)
    return plan, agent, threads


def measure_ours(algo: str, device: str, warmup_s: float, seconds: float,
                 threads: int | None = None, envs: int | None = None,
                 settings: dict[str, str] | None = None) -> dict[str, Any]:
    """Warm up, then time whole ``train_iteration`` calls for *seconds*."""
    with tempfile.TemporaryDirectory(prefix="agentapp-throughput-") as root:
        plan, agent, threads = build_ours(algo, device, root, threads, envs, settings)
        try:
            starts = int(getattr(plan.hp, "learning_starts", 0))
            began, iterations = time.perf_counter(), 0
            while (iterations < WARMUP_ITERATIONS or time.perf_counter() - began < warmup_s
                   or agent.steps <= starts):
                agent.train_iteration(plan.total_steps - agent.steps)
                iterations += 1
            warmup_steps, before = agent.steps, dict(agent.timings)
            window, steps, iterations = Window(), 0, 0
            while window.elapsed() < seconds:
                steps += agent.train_iteration(plan.total_steps - agent.steps).steps
                iterations += 1
            result = window.close()
            spent = {k: agent.timings.get(k, 0.0) - before.get(k, 0.0) for k in ("env", "act")}
        finally:
            agent.close()
    wall = result["seconds"]
    split = {"env": spent["env"], "act": spent["act"],
             "learn": max(0.0, wall - spent["env"] - spent["act"])}
    return {**result, "steps": steps, "steps_per_s": steps / wall, "iterations": iterations,
            "warmup_steps": warmup_steps, "envs": plan.envs, "threads": threads,
            "device": plan.device, "split_s": {k: round(v, 3) for k, v in split.items()},
            "fractions": {k: round(v / wall, 4) for k, v in split.items()}}


def measure_sb3(algo: str, device: str, warmup_s: float, seconds: float,
                threads: int | None = None) -> dict[str, Any]:
    """RL Zoo's settings for *algo* in a process of its own, timed the same way."""
    cmd = [sys.executable, "-c", SB3_SCRIPT, algo, json.dumps(SB3_ZOO[algo]), device,
           str(warmup_s), str(seconds), str(WARMUP_ITERATIONS), str(SB3_BUDGET),
           str(threads or 0)]
    timeout = warmup_s + seconds + 600
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = proc.stdout.strip().splitlines()
    try:
        if proc.returncode != 0 or not lines:
            raise ValueError
        return json.loads(lines[-1])
    except ValueError:
        tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-3:]
        return {"error": " | ".join(tail) or f"exit code {proc.returncode}, no output"}


def failure(error: BaseException) -> dict[str, Any]:
    """An error as one line: its type, message and the innermost frame of ours that raised it."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if "agentapp" in f.filename]
    where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return {"error": f"{type(error).__name__}: {error}{where}"}


def fmt(value: float | None, spec: str = ",.0f") -> str:
    return "-" if value is None else format(value, spec)


def percent(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.0f}"


def table(results: dict[str, dict[str, Any]], with_sb3: bool) -> list[str]:
    head = f"{'method':7} {'envs':>5} {'ours steps/s':>12} {'env%':>5} {'act%':>5} {'learn%':>6}"
    if with_sb3:
        head += f" | {'SB3 steps/s':>11} {'envs':>4} | {'ours/SB3':>8}"
    lines = [head, "-" * len(head)]
    for method, row in results.items():
        ours, sb3 = row["agentapp"], row.get("sb3") or {}
        share = ours.get("fractions", {})
        line = (f"{method:7} {fmt(ours.get('envs'), 'd'):>5} {fmt(ours.get('steps_per_s')):>12} "
                + " ".join(f"{percent(share.get(k)):>{w}}"
                           for k, w in (("env", 5), ("act", 5), ("learn", 6))))
        if with_sb3:
            line += (f" | {fmt(sb3.get('steps_per_s')):>11} {fmt(sb3.get('envs'), 'd'):>4} | "
                     f"{fmt(row.get('ratio'), '.2f'):>8}")
        lines.append(line)
    return lines


def ratio(row: dict[str, Any]) -> float | None:
    ours, sb3 = row["agentapp"].get("steps_per_s"), (row.get("sb3") or {}).get("steps_per_s")
    return round(ours / sb3, 3) if ours and sb3 else None


def target(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The issue's target: None where this run cannot tell (PPO or SB3 PPO not measured)."""
    value = results.get("ppo", {}).get("ratio")
    return {"ppo_ratio": value,
            "ppo_at_least_2x_sb3": None if value is None else value >= PPO_SPEED_RATIO}


def progress(side: str, method: str, result: dict[str, Any]) -> str:
    if "error" in result:
        return f"  {method:4} {side:8} FAILED: {result['error']}"
    other = (f"; other processes took {result['other_cpu_s']:.1f} CPU s"
             if contended(result.get("other_cpu_s"), result["seconds"]) else "")
    split = result.get("fractions")
    split = (" env/act/learn " + "/".join(percent(split[k]) for k in ("env", "act", "learn"))
             + " %;" if split else "")
    return (f"  {method:4} {side:8} {result['steps_per_s']:8,.0f} steps/s ({result['steps']:,} "
            f"steps in {result['seconds']:.1f} s;{split} {result['envs']} envs, "
            f"{result['threads']} torch threads, {result['device']}){other}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="timed wall clock per method and side (default 60)")
    parser.add_argument("--warmup", type=float, default=5.0,
                        help=f"untimed warm-up seconds (and at least {WARMUP_ITERATIONS} "
                             "iterations) before each measurement (default 5)")
    parser.add_argument("--only", default=",".join(METHODS),
                        help=f"comma-separated subset of {','.join(METHODS)}")
    parser.add_argument("--no-sb3", action="store_true", help="measure agentapp only")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="device for both sides (default auto)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads for both sides (default: agentapp's pixel default, "
                             "SB3's own)")
    parser.add_argument("--envs", type=int, default=None,
                        help="our side's environments (default: each preset's)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting of our side (repeatable), as agentapp train --set")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args()
    if args.threads is not None and args.threads < 1:
        parser.error("--threads: must be at least 1")
    if args.envs is not None and args.envs < 1:
        parser.error("--envs: must be at least 1")
    args.settings = settings_from(args.set, parser.error)
    args.methods = [m.strip() for m in args.only.split(",") if m.strip()]
    unknown = [m for m in args.methods if m not in METHODS]
    if unknown or not args.methods:
        parser.error(f"--only: unknown {','.join(unknown) or '(none)'}; "
                     f"choose from {','.join(METHODS)}")
    return args


def measure_all(args: argparse.Namespace, with_sb3: bool, say) -> dict[str, dict[str, Any]]:
    """Ours then SB3, method by method, so slow drift of the machine affects both alike."""
    results: dict[str, dict[str, Any]] = {}
    for method in args.methods:
        try:
            ours = measure_ours(method, args.device, args.warmup, args.seconds, args.threads,
                                args.envs, args.settings)
        except Exception as error:  # report and go on: the other measurements still count
            ours = failure(error)
        say(progress("agentapp", method, ours))
        row: dict[str, Any] = {"agentapp": ours}
        if with_sb3:
            row["sb3"] = measure_sb3(method, args.device, args.warmup, args.seconds,
                                     args.threads)
            say(progress("sb3", method, row["sb3"]))
            row["ratio"] = ratio(row)
        results[method] = row
    return results


def threads(results: dict[str, dict[str, Any]], side: str) -> str:
    counts = sorted({r[side]["threads"] for r in results.values()
                     if "threads" in (r.get(side) or {})})
    return ",".join(map(str, counts)) or "?"


def report(results: dict[str, dict[str, Any]], ceiling: dict[str, Any], with_sb3: bool,
           forced: int | None, warnings: list[str]) -> None:
    print()
    for line in table(results, with_sb3):
        print(line)
    if "dqn" in results:
        print(f"dqn: measured with learning_starts={DQN_LEARNING_STARTS:,} on both sides (the "
              "presets collect 100,000 random steps first), so learning is active")
    print("env% act% learn%: shares of our wall time stepping the environments, choosing "
          "actions / filling the rollout, and learning (the rest); SB3's split is not measured")
    if "error" in ceiling:
        print(f"env-only ceiling: FAILED: {ceiling['error']}")
    else:
        print(f"env-only ceiling ({ceiling['envs']} envs, random actions, {ceiling['threads']} "
              f"env threads): {ceiling['steps_per_s']:,.0f} steps/s")
    print(f"torch threads: agentapp {threads(results, 'agentapp')}"
          + (f", SB3 {threads(results, 'sb3')}" if with_sb3 else "")
          + (" (--threads)" if forced else " (their defaults)"))
    verdict = target(results)
    if verdict["ppo_ratio"] is not None:
        print(f"target: our PPO at least {PPO_SPEED_RATIO:g}x SB3 PPO's steps/s: "
              f"{verdict['ppo_ratio']:.2f}x -> "
              f"{'met' if verdict['ppo_at_least_2x_sb3'] else 'NOT met'}")
    else:
        print(f"target: our PPO at least {PPO_SPEED_RATIO:g}x SB3 PPO's steps/s: not measured")
    for warning in warnings:
        print(warning)


def contention_warning(results: dict[str, dict[str, Any]], ceiling: dict[str, Any]) -> str | None:
    measured = [ceiling] + [r for row in results.values()
                            for r in (row["agentapp"], row.get("sb3")) if r]
    busy = [r for r in measured if "seconds" in r and contended(r.get("other_cpu_s"),
                                                                 r["seconds"])]
    if not busy:
        return None
    return (f"WARNING: during {len(busy)} of {len(measured)} measurements other processes kept "
            "more than a tenth of a core busy: those figures are unreliable; measure on an idle "
            "machine")


def main() -> None:
    args = parse_args()
    have_sb3 = importlib.util.find_spec("stable_baselines3") is not None
    with_sb3 = have_sb3 and not args.no_sb3
    info, load = machine(), load_average()
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: torch sees no CUDA device here (SB3 would quietly use the CPU)")

    def say(text: str) -> None:  # progress and header: stderr under --json
        print(text, file=sys.stderr if args.json else sys.stdout, flush=True)

    say(f"{machine_line(info)}; torch threads by default {torch.get_num_threads()}; "
        f"stable-baselines3 {info['stable_baselines3'] if with_sb3 else 'not measured'}")
    warnings = [w for w in (load_warning(load),) if w]
    for warning in warnings:
        say(warning)
    if not have_sb3 and not args.no_sb3:
        say("stable_baselines3 is not importable: measuring agentapp only "
            '(pip install "agentapp[bench]" opencv-python-headless)')
    say(f"Pong, {args.seconds:g} s timed per method and side after >= {args.warmup:g} s and "
        f">= {WARMUP_ITERATIONS} iterations of warm-up; device {args.device}")
    if args.envs or args.settings:
        changed = ([f"--envs {args.envs}"] if args.envs else []) + [
            f"--set {key}={value}" for key, value in args.settings.items()]
        say(f"ours: the presets with {' '.join(changed)}")
    try:
        ceiling = env_ceiling(CEILING_SECONDS)
        say(f"  env-only ceiling: {ceiling['steps_per_s']:,.0f} steps/s ({ceiling['envs']} envs)")
    except Exception as error:
        ceiling = failure(error)
        say(f"  env-only ceiling: FAILED: {ceiling['error']}")
    results = measure_all(args, with_sb3, say)
    warnings += [w for w in (contention_warning(results, ceiling),) if w]
    if args.json:
        print(json.dumps({
            "machine": info, "load_average_1min": load, "game": GAME, "seconds": args.seconds,
            "warmup_s": args.warmup, "warmup_iterations": WARMUP_ITERATIONS,
            "device": args.device, "threads": args.threads, "envs": args.envs,
            "settings": args.settings, "dqn_learning_starts": DQN_LEARNING_STARTS,
            "sb3_settings": {m: SB3_ZOO[m] for m in args.methods} if with_sb3 else None,
            "env_ceiling": ceiling, "results": results, "target": target(results),
            "warnings": warnings,
        }, indent=2))
        return
    report(results, ceiling, with_sb3, args.threads, warnings)


if __name__ == "__main__":
    main()
