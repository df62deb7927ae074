"""How long does agentapp take, wall clock, to learn Pong: a mean score of 18, and of 20?

    python benchmarks/pong_solve.py [--algo ppo] [--seeds 1] [--eval-every 100000]
                                    [--device auto|cpu|cuda] [--max-minutes 60] [--steps N]
                                    [--envs N] [--set key=value ...] [--runs-dir DIR] [--json]

The goals: on a 2-core CPU, a mean score of 18 within 45 minutes; on one GPU with 16 CPU cores,
20 within 5 minutes. For each seed (0..N-1) one whole process runs

    python -m agentapp train pong --algo A --seed S --target-return 20 --eval-every N --headless
                                  --runs-dir DIR [--device D] [--steps N] [--envs N] [--set k=v ...]

with the preset's settings, its output streamed to ``DIR/pong-<algo>-seed<S>.log``. Training stops
at the first 10-episode evaluation whose mean real score (whole games, unclipped) reaches 20, at
the end of the budget, or after ``--max-minutes`` (SIGINT, so the run saves and stays resumable,
then SIGTERM and SIGKILL if it does not stop; 0: no limit): what was not reached by then counts as
'not reached'. From the run's ``metrics.csv`` (``step,time,key,value``, ``time`` being seconds of
training since the run started; the run folder is the last line the command prints) come the
first evaluations at or above 18 and 20: their steps, training minutes and whole-process minutes
(launch to the evaluation's end: the training time plus the start-up seen while polling for
``metrics.csv``, to within half a second). Evaluation time counts, as it does for a user.

Printed: every evaluation of every run (the learning curve), one row per seed, the medians over
the seeds (a run that did not get there counts as infinitely slow), the goal that fits the device
the runs used, and published anchors for context. ``--json`` prints one JSON object instead.
The run folders are kept (in a new temporary folder unless ``--runs-dir``): they can be resumed,
watched and evaluated. The machine should be otherwise idle: the output warns when the 1-minute
load average exceeded 0.5 before starting, and when other processes took more than a tenth of a
core while a run trained.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import busy_cpu_s, contended, load_average, load_warning, machine, machine_line

GAME = "pong"
THRESHOLDS = (18.0, 20.0)
EVAL_KEY = "eval/mean_return"
POLL_S = 0.5
SAVE_GRACE_S = 120.0  # after SIGINT: time to save a checkpoint and exit
# (device kind, threshold, minutes, hardware the goal is stated for)
GOALS = {"cpu": (18.0, 45.0, "a 2-core CPU"), "cuda": (20.0, 5.0, "one GPU with 16 CPU cores")}
ANCHORS = """\
published anchors (context, not measured here):
  RL Zoo PPO (PongNoFrameskip-v4): mean score first reaches 18 at about 2.1M steps, 20 at about
    2.8M steps;
  SB3 PPO trains at 406-438 steps/s on a 2-core CPU: about 85 minutes for those 2.1M steps;
  CleanRL ppo_atari: 20.4 after 10M steps in 281 minutes on 1 GPU + 10 CPUs."""


def train_command(args: argparse.Namespace, seed: int, root: Path) -> list[str]:
    """The ``agentapp train`` command line for one seed."""
    cmd = [sys.executable, "-m", "agentapp", "train", GAME, "--algo", args.algo,
           "--seed", str(seed), "--target-return", f"{max(THRESHOLDS):g}",
           "--eval-every", str(args.eval_every), "--headless", "--runs-dir", str(root)]
    if args.device:
        cmd += ["--device", args.device]
    if args.steps:
        cmd += ["--steps", str(args.steps)]
    if args.envs:
        cmd += ["--envs", str(args.envs)]
    for assignment in args.set or []:
        cmd += ["--set", assignment]
    return cmd


def read_evaluations(path: Path) -> list[tuple[int, float, float]]:
    """``(step, training seconds, mean score)`` of every evaluation in a metrics.csv, skipping
    the header and malformed or torn lines."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    evaluations = []
    for line in text.splitlines():
        fields = line.strip().split(",")
        if len(fields) != 4 or fields[2] != EVAL_KEY:
            continue
        try:
            evaluations.append((int(fields[0]), float(fields[1]), float(fields[3])))
        except ValueError:
            continue
    return evaluations


def first_reaching(evaluations: list[dict[str, Any]], threshold: float) -> dict[str, Any] | None:
    """The first evaluation whose mean score is at least *threshold*, None if none is."""
    return next((e for e in evaluations if e["score"] >= threshold), None)


def new_run_dir(root: Path, before: set[Path]) -> Path | None:
    """The run folder that appeared under *root* since *before* (the newest, if several)."""
    try:
        fresh = [p for p in root.iterdir() if p.is_dir() and p not in before]
    except OSError:
        return None
    return max(fresh, key=lambda p: p.stat().st_mtime) if fresh else None


def last_line(path: Path) -> str:
    try:
        lines = [x.strip() for x in path.read_text(errors="replace").splitlines() if x.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def stop(proc: subprocess.Popen, signalled: bool = False) -> None:
    """Ask *proc* to save and stop (SIGINT unless it already got one), then insist."""
    steps = ([] if signalled else [signal.SIGINT]) + [signal.SIGTERM, signal.SIGKILL]
    waits = {signal.SIGINT: SAVE_GRACE_S, signal.SIGTERM: 30.0, signal.SIGKILL: 10.0}
    if signalled:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(SAVE_GRACE_S)
    for sig in steps:
        if proc.poll() is not None:
            return
        proc.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(waits[sig])


class Watch:
    """Follows one training process: when its metrics.csv appears (the start-up time) and each
    new evaluation, which it reports through *say* as it comes."""

    def __init__(self, root: Path, label: str, say) -> None:
        self.root, self.label, self.say = root, label, say
        self.before = set(root.iterdir()) if root.exists() else set()
        self.start = time.perf_counter()
        self.run_dir: Path | None = None
        self.startup_s: float | None = None
        self.seen = 0
        self.last_read = 0.0

    def poll(self) -> None:
        now = time.perf_counter()
        if self.startup_s is None:
            run = new_run_dir(self.root, self.before)
            if run is not None and (run / "metrics.csv").exists():
                self.run_dir, self.startup_s = run, now - self.start
        if self.run_dir is not None and now - self.last_read >= 5.0:
            self.last_read = now
            self.report(read_evaluations(self.run_dir / "metrics.csv"))

    def report(self, evaluations: list[tuple[int, float, float]]) -> None:
        for step, train_s, score in evaluations[self.seen:]:
            self.say(f"  {self.label}: step {step:>10,}  {train_s / 60:6.1f} min training  "
                     f"mean score {score:6.2f}")
        self.seen = max(self.seen, len(evaluations))


def run_one(cmd: list[str], root: Path, log_path: Path, max_s: float | None, label: str,
            say) -> dict[str, Any]:
    """Run *cmd* (a train command writing under *root*) as a whole process, its output going to
    *log_path*, stopping it after *max_s* seconds; return what happened and every evaluation."""
    root.mkdir(parents=True, exist_ok=True)
    watch = Watch(root, label, say)
    busy, cpu, own = busy_cpu_s(), children_cpu_s(), time.process_time()
    stopped = None
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        try:
            while proc.poll() is None:
                time.sleep(POLL_S)
                watch.poll()
                if max_s and time.perf_counter() - watch.start > max_s and stopped is None:
                    stopped = "max-minutes"
                    stop(proc)
        except KeyboardInterrupt:  # Ctrl+C reached the child too (same process group)
            stopped = "interrupted"
            stop(proc, signalled=True)
    process_s = time.perf_counter() - watch.start
    used = children_cpu_s() - cpu + time.process_time() - own
    after = busy_cpu_s()
    printed = Path(last_line(log_path))
    run_dir = printed if (printed / "metrics.csv").is_file() else watch.run_dir
    run_dir = run_dir or new_run_dir(root, watch.before)
    return {
        "exit_code": proc.returncode, "stopped": stopped, "process_s": round(process_s, 2),
        "startup_s": None if watch.startup_s is None else round(watch.startup_s, 2),
        "other_cpu_s": None if busy is None or after is None
        else round(max(0.0, after - busy - used), 1),
        "run_dir": str(run_dir) if run_dir else None, "log": str(log_path),
        "command": cmd, "watch": watch,
    }


def analyse(result: dict[str, Any], thresholds: tuple[float, ...] = THRESHOLDS) -> dict[str, Any]:
    """Add the evaluations, the first ones reaching each threshold, the device and the ending."""
    watch: Watch = result.pop("watch")
    run_dir = Path(result["run_dir"]) if result["run_dir"] else None
    raw = read_evaluations(run_dir / "metrics.csv") if run_dir else []
    watch.report(raw)
    startup = result["startup_s"] or 0.0
    evaluations = [{"step": s, "train_s": round(t, 2), "process_s": round(t + startup, 2),
                    "score": v} for s, t, v in raw]
    result["evaluations"] = evaluations
    result["reached"] = {f"{t:g}": first_reaching(evaluations, t) for t in thresholds}
    result["best"] = max((e["score"] for e in evaluations), default=None)
    status, config = {}, {}
    if run_dir:
        for name, target in (("status.json", status), ("config.json", config)):
            with contextlib.suppress(OSError, ValueError):
                target.update(json.loads((run_dir / name).read_text()))
    result["device"] = config.get("device")
    result["steps"], result["budget"] = status.get("steps"), config.get("steps")
    result["train_s"] = status.get("elapsed")
    result["ended"] = result["stopped"] or ending(result["exit_code"], status, result)
    if result["ended"] == "failed":
        result["error"] = last_line(Path(result["log"])) or f"exit {result['exit_code']}"
    return result


def ending(exit_code: int | None, status: dict[str, Any], result: dict[str, Any]) -> str:
    top = f"{max(THRESHOLDS):g}"
    if exit_code == 0 and result["reached"].get(top):
        return "target"
    if exit_code == 0:
        return "budget"
    return {130: "interrupted", 143: "terminated"}.get(exit_code or 0, "failed")


def minutes(value: float | None) -> str:
    return "-" if value is None else f"{value / 60:.1f}"


def median_of(runs: list[dict[str, Any]], threshold: str, key: str) -> float | None:
    """Median over runs of *key* seconds to *threshold*, not reached counting as infinite."""
    if not runs:
        return None
    value = statistics.median((r["reached"][threshold] or {}).get(key, math.inf) for r in runs)
    return None if math.isinf(value) else value


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    summary = {}
    for t in (f"{x:g}" for x in THRESHOLDS):
        summary[t] = {
            "reached": sum(r["reached"][t] is not None for r in runs), "runs": len(runs),
            "median_steps": median_of(runs, t, "step"),
            "median_train_s": median_of(runs, t, "train_s"),
            "median_process_s": median_of(runs, t, "process_s"),
        }
    return summary


def goal(summary: dict[str, Any], runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The goal for the device the runs trained on, and whether the median met it."""
    devices = {str(r["device"]).split(":")[0] for r in runs if r.get("device")}
    if len(devices) != 1:
        return None
    kind = devices.pop()
    threshold, limit, hardware = GOALS["cuda" if kind == "cuda" else "cpu"]
    seconds = summary[f"{threshold:g}"]["median_process_s"]
    return {"device": kind, "threshold": threshold, "minutes": limit, "hardware": hardware,
            "median_minutes": None if seconds is None else round(seconds / 60, 2),
            "met": seconds is not None and seconds <= limit * 60}


def curve_lines(runs: list[dict[str, Any]]) -> list[str]:
    lines = [f"{'seed':>4} {'step':>11} {'min':>6} {'score':>6}"]
    for run in runs:
        lines += [f"{run['seed']:>4} {e['step']:>11,} {minutes(e['process_s']):>6} "
                  f"{e['score']:>6.2f}" for e in run["evaluations"]]
        if not run["evaluations"]:
            lines.append(f"{run['seed']:>4} {'(no evaluation)':>25}")
    return lines


def table(runs: list[dict[str, Any]], summary: dict[str, Any]) -> list[str]:
    head = f"{'seed':>4}"
    for t in summary:
        head += f" | {'to ' + t + ': steps':>15} {'train min':>9} {'proc min':>8}"
    head += f" | {'best':>6} {'whole min':>9}  ended"
    lines = [head, "-" * len(head)]
    for run in runs:
        line = f"{run['seed']:>4}"
        for t in summary:
            hit = run["reached"][t]
            line += (f" | {hit['step']:>15,} {minutes(hit['train_s']):>9} "
                     f"{minutes(hit['process_s']):>8}" if hit else f" | {'not reached':>34}")
        best = "-" if run["best"] is None else f"{run['best']:.2f}"
        lines.append(line + f" | {best:>6} {minutes(run['process_s']):>9}  {run['ended']}")
    line = f"{'med':>4}"
    for row in summary.values():
        steps = "-" if row["median_steps"] is None else f"{row['median_steps']:,.0f}"
        line += (f" | {steps:>15} {minutes(row['median_train_s']):>9} "
                 f"{minutes(row['median_process_s']):>8}")
    lines.append(line + f" | {'':>6} {'':>9}  ({', '.join(reached_counts(summary))})")
    return lines


def reached_counts(summary: dict[str, Any]) -> list[str]:
    return [f"{t}: {row['reached']}/{row['runs']} reached" for t, row in summary.items()]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", default="ppo", help="method (default ppo)")
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 (default 1)")
    parser.add_argument("--eval-every", type=int, default=100_000,
                        help="steps between evaluations (default 100,000)")
    parser.add_argument("--device", default=None,
                        help="auto, cpu, cuda or cuda:<i> (default: agentapp's, auto)")
    parser.add_argument("--max-minutes", type=float, default=60.0,
                        help="stop a run after this many minutes, whole process (default 60; "
                             "0: no limit)")
    parser.add_argument("--steps", type=int, default=None,
                        help="budget in agent steps (default: the preset's)")
    parser.add_argument("--envs", type=int, default=None,
                        help="parallel environments (default: the preset's)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="passed on to agentapp train (repeatable)")
    parser.add_argument("--runs-dir", default=None,
                        help="where the run folders and logs go (default: a new temporary "
                             "folder, kept)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args()
    if args.seeds < 1 or args.eval_every < 1 or args.max_minutes < 0:
        parser.error("--seeds and --eval-every must be at least 1, --max-minutes at least 0")
    return args


def train_all(args: argparse.Namespace, root: Path, say) -> list[dict[str, Any]]:
    """One run per seed, one after another; Ctrl+C ends the series after saving the run."""
    runs: list[dict[str, Any]] = []
    max_s = args.max_minutes * 60 or None
    for seed in range(args.seeds):
        label = f"seed {seed}"
        cmd = train_command(args, seed, root)
        say(f"{label}: {' '.join(cmd[1:])}")
        log = root / f"{GAME}-{args.algo}-seed{seed}.log"
        run = analyse({"seed": seed, **run_one(cmd, root, log, max_s, label, say)})
        other = (f"; other processes took {run['other_cpu_s']:.0f} CPU s"
                 if contended(run["other_cpu_s"], run["process_s"]) else "")
        say(f"{label}: {run['ended']} after {minutes(run['process_s'])} min, best mean score "
            f"{run['best'] if run['best'] is not None else '-'}; run {run['run_dir']}; "
            f"log {run['log']}{other}" + (f"; error: {run['error']}" if "error" in run else ""))
        runs.append(run)
        if run["ended"] == "interrupted":
            break
    return runs


def report(runs: list[dict[str, Any]], summary: dict[str, Any], verdict: dict[str, Any] | None,
           info: dict[str, Any], warnings: list[str]) -> None:
    print()
    print("learning curve: every evaluation (mean real score of 10 whole games; min = whole "
          "process minutes at the evaluation's end)")
    for line in curve_lines(runs):
        print(line)
    print()
    print("first evaluation reaching each score; steps = agent steps (4 frames each); train min "
          "= the run's training clock; proc min = whole process; med = median over the seeds "
          "(not reached = infinitely slow)")
    for line in table(runs, summary):
        print(line)
    print()
    if verdict is None:
        print("goal: not measured (no run reported its device)")
    else:
        median = verdict["median_minutes"]
        print(f"goal ({verdict['hardware']}): mean score {verdict['threshold']:g} within "
              f"{verdict['minutes']:g} minutes: "
              f"{'not reached' if median is None else f'{median:.1f} min'} -> "
              f"{'met' if verdict['met'] else 'NOT met'} (runs on {verdict['device']}; this "
              f"machine: {info['cores']} cores, {info['gpu'] or 'no GPU'})")
    print(ANCHORS)
    for warning in warnings:
        print(warning)


def main() -> None:
    args = parse_args()
    info, load = machine(), load_average()
    root = Path(args.runs_dir) if args.runs_dir else Path(tempfile.mkdtemp(prefix="agentapp-pong-"))

    def say(text: str) -> None:  # progress and header: stderr under --json
        print(text, file=sys.stderr if args.json else sys.stdout, flush=True)

    say(machine_line(info))
    warnings = [w for w in (load_warning(load),) if w]
    for warning in warnings:
        say(warning)
    say(f"Pong, {args.algo}, {args.seeds} seed(s), 10-episode evaluation every "
        f"{args.eval_every:,} steps, stop at {max(THRESHOLDS):g} or after "
        f"{f'{args.max_minutes:g} min' if args.max_minutes else 'the budget'}; runs in {root}")
    runs = train_all(args, root, say)
    summary = summarise(runs)
    verdict = goal(summary, runs)
    busy = sum(contended(r["other_cpu_s"], r["process_s"]) for r in runs)
    if busy:
        warnings.append(f"WARNING: during {busy} of {len(runs)} runs other processes kept more "
                        "than a tenth of a core busy: their times are unreliable; measure on an "
                        "idle machine")
    if args.json:
        print(json.dumps({
            "machine": info, "load_average_1min": load, "game": GAME, "algo": args.algo,
            "seeds": args.seeds, "eval_every": args.eval_every, "max_minutes": args.max_minutes,
            "thresholds": list(THRESHOLDS), "runs_dir": str(root), "runs": runs,
            "summary": summary, "goal": verdict, "anchors": ANCHORS, "warnings": warnings,
        }, indent=2))
        return
    report(runs, summary, verdict, info, warnings)


if __name__ == "__main__":
    main()
