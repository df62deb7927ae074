"""How fast do agentapp's deep RL methods solve CartPole, next to Stable-Baselines3?

    python benchmarks/cartpole.py [--seeds 3] [--methods ppo,a2c,dqn,reinforce] [--no-sb3]
                                  [--sb3-threads N] [--json] [--timeout S] [--runs-dir DIR]

For each method and seed (seeds 0..N-1) one whole process runs

    python -m agentapp train cartpole --algo A --target-return 475 --eval-every 2000 --seed S

with the preset's budget and settings. Training stops at the first 10-episode greedy evaluation
whose mean return reaches 475 (or when the budget is spent: then the run counts as not solved).
Measured per run:

* steps to 475: the environment steps when training stopped (``status.json`` ``steps``);
* training s: the run's own training clock (``status.json`` ``elapsed``, evaluations included);
* whole-process s: launch to exit of the process (``time.perf_counter``): interpreter start,
  imports, setup, training, evaluations, checkpoints and shutdown.

When ``stable_baselines3`` is importable (``--sb3``, the default), the same run also measures SB3's
PPO, A2C and DQN, each as its own process with RL Zoo's CartPole-v1 hyperparameters (written out
in ``SB3_ZOO`` below), an ``EvalCallback`` (10 deterministic episodes every 2,000 total steps) and
``StopTrainingOnRewardThreshold(475)``: the same stopping rule. SB3 keeps its own defaults (device,
torch threads; ``--sb3-threads N`` overrides the latter); the thread counts of both sides are
printed, and so are ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` when set, since they change torch's
speed. Runs alternate between the two sides seed by seed, so slow drift of the machine affects
both alike. SB3's runs also record ``eval_s`` (in ``--json``): the part of their training seconds
spent in the evaluations, which play one episode at a time and cost about as much as training.

Each figure in the table is the median over the seeds of the time (or steps) to solve, an unsolved
run counting as infinitely slow: with 3 seeds, one failure gives the slower of the two solved
runs, two failures give no median ("-"). ``ours/SB3`` is the ratio of the whole-process medians.
The issue's targets (2-core CPU): our PPO takes at most half of SB3 PPO's whole-process time, and
each of our four methods solves CartPole within 60 s (whole process); they are checked at the end.
``--json`` prints everything, every single run included, as one JSON object instead.

Other load spoils the figures, SB3's most (its default is one torch thread per core, and on a
2-core machine a single foreign busy process can slow it several times over): every run records
the CPU seconds that other processes took while it ran (``/proc/stat`` less the run's own), and
the output warns when that exceeded a tenth of a core.

SB3 is not a dependency of agentapp: ``pip install stable-baselines3`` into the same environment.
Mind that the machine should be otherwise idle while this runs (several minutes).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

METHODS = ("ppo", "a2c", "dqn", "reinforce")
SB3_METHODS = ("ppo", "a2c", "dqn")
TARGET = 475.0
EVAL_EVERY = 2000
EVAL_EPISODES = 10
PPO_PROCESS_RATIO = 0.5  # target: our PPO's whole process at most half of SB3 PPO's
SOLVE_SECONDS = 60.0  # target: every method solves CartPole within this (whole process)
CONTENDED = 0.1  # a run shared the machine when others took more than this share of one core

# RL Zoo's hyperparams/{ppo,a2c,dqn}.yml for CartPole-v1. "lin_X" is RL Zoo's linear schedule
# from X down to 0 over the budget.
SB3_ZOO: dict[str, dict[str, Any]] = {
    "ppo": {
        "n_envs": 8, "n_timesteps": 100_000, "policy": "MlpPolicy",
        "kwargs": {"n_steps": 32, "batch_size": 256, "gae_lambda": 0.8, "gamma": 0.98,
                   "n_epochs": 20, "ent_coef": 0.0, "learning_rate": "lin_0.001",
                   "clip_range": "lin_0.2"},
    },
    "a2c": {
        "n_envs": 8, "n_timesteps": 500_000, "policy": "MlpPolicy",
        "kwargs": {"ent_coef": 0.0},
    },
    "dqn": {
        "n_envs": 1, "n_timesteps": 50_000, "policy": "MlpPolicy",
        "kwargs": {"learning_rate": 2.3e-3, "batch_size": 64, "buffer_size": 100_000,
                   "learning_starts": 1_000, "gamma": 0.99, "target_update_interval": 10,
                   "train_freq": 256, "gradient_steps": 128, "exploration_fraction": 0.16,
                   "exploration_final_eps": 0.04, "policy_kwargs": {"net_arch": [256, 256]}},
    },
}

# Run as its own process:
#   python -c SB3_SCRIPT ALGO SEED CONFIG_JSON TARGET EVAL_EVERY EPISODES THREADS
# (THREADS 0: torch's default). Its last stdout line is a JSON object with the figures.
SB3_SCRIPT = r"""
import json, sys, time
import torch
import stable_baselines3 as sb3
from stable_baselines3.common.callbacks import EvalCallback, StopTrainingOnRewardThreshold
from stable_baselines3.common.env_util import make_vec_env

algo, seed = sys.argv[1], int(sys.argv[2])
zoo, target = json.loads(sys.argv[3]), float(sys.argv[4])
eval_every, episodes = int(sys.argv[5]), int(sys.argv[6])
if int(sys.argv[7]) > 0:
    torch.set_num_threads(int(sys.argv[7]))

def linear(start):
    return lambda progress_remaining: progress_remaining * start

class TimedEval(EvalCallback):
    eval_s = 0.0  # seconds spent in the evaluations themselves

    def _on_step(self):
        start = time.perf_counter()
        go_on = super()._on_step()
        if self.eval_freq > 0 and self.n_calls % self.eval_freq == 0:
            self.eval_s += time.perf_counter() - start
        return go_on

kwargs = {k: linear(float(v[4:])) if isinstance(v, str) and v.startswith("lin_") else v
          for k, v in zoo["kwargs"].items()}
n_envs = zoo["n_envs"]
env = make_vec_env("CartPole-v1", n_envs=n_envs, seed=seed)
eval_env = make_vec_env("CartPole-v1", n_envs=1, seed=seed + 10_000)
cls = {"ppo": sb3.PPO, "a2c": sb3.A2C, "dqn": sb3.DQN}[algo]
model = cls(zoo["policy"], env, seed=seed, verbose=0, **kwargs)
stop = StopTrainingOnRewardThreshold(reward_threshold=target, verbose=0)
evaluate = TimedEval(eval_env, callback_on_new_best=stop, n_eval_episodes=episodes,
                     eval_freq=max(eval_every // n_envs, 1), deterministic=True, verbose=0)
start = time.perf_counter()
model.learn(total_timesteps=int(zoo["n_timesteps"]), callback=evaluate)
elapsed = time.perf_counter() - start
best = float(evaluate.best_mean_reward)
print(json.dumps({
    "steps": int(model.num_timesteps), "elapsed": round(elapsed, 3), "solved": best >= target,
    "eval_s": round(evaluate.eval_s, 3),
    "best_eval": best if best > float("-inf") else None, "threads": torch.get_num_threads(),
    "device": str(model.device), "sb3": sb3.__version__,
}))
"""


def machine() -> dict[str, Any]:
    """CPU model and cores, Python, torch and SB3 versions, thread-related environment."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()

    def version(name: str) -> str | None:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {
        "cpu": cpu, "cores": os.cpu_count(), "usable_cores": usable,
        "python": platform.python_version(), "platform": platform.platform(),
        "torch": version("torch"), "gymnasium": version("gymnasium"),
        "agentapp": version("agentapp"), "stable_baselines3": version("stable-baselines3"),
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
                if k in os.environ},
    }


def our_threads(config: dict[str, Any]) -> int | None:
    """The torch threads an agentapp run used: its config's, else agentapp's default."""
    if config.get("threads"):
        return int(config["threads"])
    try:
        from agentapp.engine.device import default_threads  # light: no torch import
    except ImportError:
        return None
    return default_threads()


def busy_cpu_s() -> float | None:
    """CPU seconds the whole machine has been busy since boot (/proc/stat), None elsewhere."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    ticks = [int(f) for f in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], timeout: float, result: dict[str, Any]) \
        -> subprocess.CompletedProcess[str] | None:
    """Run *cmd* as a whole process; put its wall seconds (``process_s``), its own CPU seconds
    (``cpu_s``) and the CPU seconds that other processes of the machine took meanwhile
    (``other_cpu_s``: load that was not ours, so the figures are unreliable) in *result*. None when
    it timed out (then *result* says so)."""
    busy, mine = busy_cpu_s(), children_cpu_s()
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc = None
    result["process_s"] = round(time.perf_counter() - start, 3)
    cpu = children_cpu_s() - mine
    result["cpu_s"] = round(cpu, 2)
    after = busy_cpu_s()
    if busy is not None and after is not None:
        result["other_cpu_s"] = round(max(0.0, after - busy - cpu), 2)
    if proc is None:
        result.update(solved=False, error=f"timed out after {timeout:.0f} s")
        return None
    result["exit_code"] = proc.returncode
    return proc


def run_ours(algo: str, seed: int, root: Path, timeout: float) -> dict[str, Any]:
    """One whole ``agentapp train`` process; its figures from the run's status.json."""
    cmd = [sys.executable, "-m", "agentapp", "train", "cartpole", "--algo", algo,
           "--target-return", str(TARGET), "--eval-every", str(EVAL_EVERY),
           "--eval-episodes", str(EVAL_EPISODES), "--seed", str(seed),
           "--runs-dir", str(root), "--headless"]
    result: dict[str, Any] = {"side": "agentapp", "method": algo, "seed": seed}
    proc = timed(cmd, timeout, result)
    if proc is None:
        return result
    lines = proc.stdout.strip().splitlines()
    run_dir = Path(lines[-1]) if lines else None
    if proc.returncode != 0 or run_dir is None or not (run_dir / "status.json").is_file():
        tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-3:]
        return {**result, "solved": False, "error": " | ".join(tail) or "no output"}
    status = json.loads((run_dir / "status.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    best = status.get("best_eval")
    return {
        **result, "steps": int(status["steps"]), "train_s": float(status["elapsed"]),
        "solved": status.get("status") == "done" and best is not None and best >= TARGET,
        "best_eval": best, "budget": config.get("steps"), "envs": config.get("envs"),
        "threads": our_threads(config), "device": config.get("device"),
        "detail": status.get("detail"), "run_dir": str(run_dir),
    }


def run_sb3(algo: str, seed: int, timeout: float, threads: int | None) -> dict[str, Any]:
    """One whole SB3 process with RL Zoo's settings and the same stopping rule."""
    zoo = SB3_ZOO[algo]
    cmd = [sys.executable, "-c", SB3_SCRIPT, algo, str(seed), json.dumps(zoo), str(TARGET),
           str(EVAL_EVERY), str(EVAL_EPISODES), str(threads or 0)]
    result: dict[str, Any] = {"side": "sb3", "method": algo, "seed": seed}
    proc = timed(cmd, timeout, result)
    if proc is None:
        return result
    lines = proc.stdout.strip().splitlines()
    try:
        if proc.returncode != 0 or not lines:
            raise ValueError
        figures = json.loads(lines[-1])
    except ValueError:
        tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-3:]
        return {**result, "solved": False, "error": " | ".join(tail) or "no output"}
    return {**result, "steps": figures["steps"], "train_s": figures["elapsed"],
            "solved": bool(figures["solved"]), "best_eval": figures["best_eval"],
            "eval_s": figures.get("eval_s"),
            "budget": zoo["n_timesteps"], "envs": zoo["n_envs"], "threads": figures["threads"],
            "device": figures["device"]}


def contended(run: dict[str, Any]) -> bool:
    """Did other processes take more than CONTENDED of a core, on average, during *run*?"""
    return run.get("other_cpu_s", 0.0) > CONTENDED * max(run["process_s"], 1e-9)


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Medians of steps / training s / whole-process s to solve (unsolved = infinitely slow)."""
    if not runs:
        return None

    def median(key: str) -> float | None:
        value = statistics.median(r[key] if r["solved"] else math.inf for r in runs)
        return None if math.isinf(value) else value

    return {
        "steps": median("steps"), "train_s": median("train_s"), "process_s": median("process_s"),
        "solved": sum(r["solved"] for r in runs), "runs": len(runs),
        "threads": sorted({r["threads"] for r in runs if r.get("threads") is not None}),
        "contended": sum(contended(r) for r in runs),
    }


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if digits == 0 else f"{value:.{digits}f}"


def table(summary: dict[str, Any], with_sb3: bool) -> list[str]:
    head = f"{'method':10} {'steps':>8} {'train s':>8} {'proc s':>7} {'solved':>6}"
    if with_sb3:
        head += f" | {'SB3 steps':>9} {'train s':>8} {'proc s':>7} {'solved':>6} | " \
                f"{'ours/SB3':>8}"
    lines = [head, "-" * len(head)]
    for method, row in summary.items():
        ours, sb3 = row["agentapp"], row.get("sb3")
        line = f"{method:10} {fmt(ours['steps'], 0):>8} {fmt(ours['train_s']):>8} " \
               f"{fmt(ours['process_s']):>7} {ours['solved']:>4}/{ours['runs']}"
        if with_sb3:
            if sb3 is None:
                line += f" | {'':>9} {'':>8} {'':>7} {'':>6} | {'':>8}"
            else:
                ratio = row.get("process_ratio")
                line += f" | {fmt(sb3['steps'], 0):>9} {fmt(sb3['train_s']):>8} " \
                        f"{fmt(sb3['process_s']):>7} {sb3['solved']:>4}/{sb3['runs']} | " \
                        f"{fmt(ratio, 2):>8}"
        lines.append(line)
    return lines


def targets(summary: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets: None where this run cannot tell (method or SB3 not measured)."""
    ppo = summary.get("ppo", {})
    ratio = ppo.get("process_ratio")
    within = {m: (row["agentapp"]["process_s"] is not None
                  and row["agentapp"]["process_s"] <= SOLVE_SECONDS)
              for m, row in summary.items()}
    return {
        "ppo_process_ratio": ratio,
        "ppo_at_most_half_of_sb3": None if ratio is None else ratio <= PPO_PROCESS_RATIO,
        "solved_within_60s": within,
        "all_four_within_60s": all(within.get(m, False) for m in METHODS)
        if all(m in within for m in METHODS) else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"comma-separated subset of {','.join(METHODS)}")
    parser.add_argument("--sb3", action=argparse.BooleanOptionalAction, default=True,
                        help="also measure SB3 PPO/A2C/DQN when stable_baselines3 is importable")
    parser.add_argument("--sb3-threads", type=int, default=None,
                        help="torch threads for SB3 (default: SB3's / torch's own default)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds before one run is killed and counted unsolved (900)")
    parser.add_argument("--runs-dir", default=None,
                        help="keep agentapp's run folders here (default: a temporary folder)")
    args = parser.parse_args()
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        parser.error(f"--methods: unknown {','.join(unknown) or '(none)'}; "
                     f"choose from {','.join(METHODS)}")
    have_sb3 = importlib.util.find_spec("stable_baselines3") is not None
    with_sb3 = args.sb3 and have_sb3 and any(m in SB3_METHODS for m in methods)
    info = machine()

    def say(text: str) -> None:  # progress and header: stderr under --json
        print(text, file=sys.stderr if args.json else sys.stdout, flush=True)

    say(f"machine: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable); "
        f"python {info['python']}; torch {info['torch']}; agentapp {info['agentapp']}; "
        f"stable-baselines3 {info['stable_baselines3'] if with_sb3 else 'not measured'}"
        + (f"; {info['env']}" if info["env"] else ""))
    if args.sb3 and not have_sb3:
        say("stable_baselines3 is not importable: measuring agentapp only "
            "(pip install stable-baselines3)")
    say(f"target: mean return >= {TARGET:g} over a {EVAL_EPISODES}-episode greedy evaluation "
        f"every {EVAL_EVERY} steps; {args.seeds} seed(s); whole processes")

    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="agentapp-cartpole-") as tmp:
        root = Path(args.runs_dir or tmp)
        for seed in range(args.seeds):
            for method in methods:
                sides = ["agentapp"] + (["sb3"] if with_sb3 and method in SB3_METHODS else [])
                for side in sides:
                    run = run_ours(method, seed, root, args.timeout) if side == "agentapp" \
                        else run_sb3(method, seed, args.timeout, args.sb3_threads)
                    runs.append(run)
                    figures = (f"{run['steps']:>7,} steps, {run['train_s']:6.1f} s training"
                               if "steps" in run else run.get("error", "?"))
                    other = (f", other processes took {run['other_cpu_s']:.1f} CPU s"
                             if contended(run) else "")
                    say(f"  seed {seed} {method:9} {side:8} "
                        f"{'solved' if run['solved'] else 'NOT solved':10} {figures}, "
                        f"{run['process_s']:6.1f} s process{other}")
        if not args.runs_dir:
            for run in runs:
                run.pop("run_dir", None)

    summary: dict[str, Any] = {}
    for method in methods:
        row: dict[str, Any] = {"agentapp": summarise(
            [r for r in runs if r["method"] == method and r["side"] == "agentapp"])}
        sb3 = summarise([r for r in runs if r["method"] == method and r["side"] == "sb3"])
        if sb3 is not None:
            row["sb3"] = sb3
            ours_s, sb3_s = row["agentapp"]["process_s"], sb3["process_s"]
            row["process_ratio"] = (round(ours_s / sb3_s, 3)
                                    if ours_s is not None and sb3_s else None)
        summary[method] = row
    verdict = targets(summary)
    busy = sum(contended(r) for r in runs)
    threads_ours = sorted({t for r in summary.values() for t in r["agentapp"]["threads"]})
    threads_sb3 = sorted({t for r in summary.values() if "sb3" in r for t in r["sb3"]["threads"]})

    if args.json:
        print(json.dumps({
            "machine": info, "target_return": TARGET, "eval_every": EVAL_EVERY,
            "eval_episodes": EVAL_EPISODES, "seeds": args.seeds, "methods": methods,
            "sb3_settings": {m: SB3_ZOO[m] for m in methods if with_sb3 and m in SB3_ZOO},
            "threads": {"agentapp": threads_ours, "sb3": threads_sb3,
                        "sb3_forced": args.sb3_threads},
            "summary": summary, "targets": verdict, "contended_runs": busy, "runs": runs,
        }, indent=2))
        return
    print()
    print(f"medians over {args.seeds} seed(s) (unsolved = infinitely slow); steps and training s "
          f"to the first evaluation >= {TARGET:g}; proc s = whole process, launch to exit")
    print(f"torch threads: agentapp {threads_ours or '?'}"
          + (f", SB3 {threads_sb3 or '?'}"
             + (" (--sb3-threads)" if args.sb3_threads else " (its default)")
             if with_sb3 else ""))
    for line in table(summary, with_sb3):
        print(line)
    print()
    ratio = verdict["ppo_process_ratio"]
    if ratio is not None:
        print(f"target: our PPO at most {PPO_PROCESS_RATIO:g}x SB3 PPO's whole process: "
              f"{ratio:.2f}x -> {'met' if verdict['ppo_at_most_half_of_sb3'] else 'NOT met'}")
    slow = [m for m, ok in verdict["solved_within_60s"].items() if not ok]
    print(f"target: each method solves within {SOLVE_SECONDS:g} s (whole process): "
          + ("met" if not slow else f"NOT met by {', '.join(slow)}")
          + ("" if verdict["all_four_within_60s"] is not None
             else " (not all four methods measured)"))
    if busy:
        print(f"WARNING: during {busy} of {len(runs)} runs other processes kept more than "
              f"{CONTENDED:.0%} of a core busy: their times are unreliable (SB3's default of one "
              "torch thread per core suffers most); measure on an idle machine")


if __name__ == "__main__":
    main()
