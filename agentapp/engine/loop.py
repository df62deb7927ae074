"""The training loop: ``train(plan, control)`` runs a method on a game and yields events.

The loop owns what every method shares: the step budget, stop / pause / save / evaluate requests,
checkpoints (``latest``, ``best``, the last K ``step_<N>``), periodic evaluations, ``status.json``
and the run folder's lock. It knows nothing about how a method learns: it calls
``Algorithm.train_iteration`` and passes on what comes back as events. Being a generator, it does
work only while a consumer pulls, so a front end that stops iterating stops training.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentapp import checkpoints, runs
from agentapp.engine import side_files
from agentapp.engine.algorithms.base import Algorithm, Iteration
from agentapp.engine.control import Control
from agentapp.engine.device import configure_threads
from agentapp.engine.evaluate import TRAINING_EVAL_SEED, evaluate
from agentapp.engine.events import (
    CheckpointSaved,
    EpisodeEnded,
    Event,
    Message,
    Metrics,
    RunFinished,
    RunStarted,
)
from agentapp.engine.failures import TrainingBroken
from agentapp.engine.plan import Plan, spaces_of
from agentapp.games.registry import PIXELS

METRICS_INTERVAL = 0.25
"""Seconds between two Metrics events of a fast method (planners emit one per sweep)."""

FRAME_INTERVAL = 0.2
"""Seconds between two Frame events when a front end asked for a live view: five pictures a
second are enough to see the agent play and cost the training next to nothing."""


@dataclass
class Progress:
    """Loop counters, saved in every checkpoint so a resumed run carries on where it was."""

    step: int = 0
    episodes: int = 0
    elapsed: float = 0.0
    last_save: int = 0
    last_eval_step: int = -1
    last_eval: float | None = None
    best_eval: float | None = None


class _Averager:
    """Averages the metrics of the iterations between two Metrics events, and adds the speed
    (``charts/sps``) since the previous one."""

    def __init__(self, step: int) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.since, self.since_step = time.monotonic(), step

    def due(self) -> bool:
        return time.monotonic() - self.since >= METRICS_INTERVAL

    def add(self, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(value)
            self.counts[key] = self.counts.get(key, 0) + 1

    def pop(self, step: int) -> dict[str, float]:
        now = time.monotonic()
        means = {k: self.sums[k] / self.counts[k] for k in self.sums}
        means["charts/sps"] = (step - self.since_step) / max(now - self.since, 1e-9)
        self.sums, self.counts = {}, {}
        self.since, self.since_step = now, step
        return means


class _Session:
    """One training session of a run: the agent, its counters and the run folder."""

    def __init__(self, plan: Plan, run_dir: Path, config: dict[str, Any]) -> None:
        self.plan, self.run_dir, self.config = plan, run_dir, config
        self.ckpt_dir = run_dir / runs.CHECKPOINTS
        self.ckpt_dir.mkdir(exist_ok=True)
        for stale in self.ckpt_dir.glob(".*.tmp"):  # a killed session's unfinished save; the
            stale.unlink(missing_ok=True)  # run is locked, so no other writer owns it
        self.spaces = spaces_of(plan.game, plan.game_params)
        self.agent: Algorithm = plan.algo_cls(
            plan.game, plan.game_params, plan.hp,
            seed=plan.seed, budget=plan.schedule_budget, device=plan.device, n_envs=plan.envs,
        )
        self.progress = Progress()
        self.notes: list[str] = []
        if plan.resume_from is not None:
            resume_from, sides = self._resume_point()
            self.agent.load_state_dict(resume_from["algorithm"])
            self.progress = Progress(**resume_from.get("loop", {}))
            self.progress.step = int(resume_from["step"])
            self._load_side_files(sides)
        if plan.workers:  # after a resume's state is loaded: the workers start at its step
            self.agent.use_workers(plan.workers, plan.address)
        self.started = time.monotonic()
        self.elapsed_before = self.progress.elapsed

    def _resume_point(self) -> tuple[dict[str, Any], dict[str, dict[str, Any] | None]]:
        """The checkpoint to resume from, and its side files by name (None where none fits).

        That is the checkpoint asked for, unless it is a ``latest.pt`` whose side files were
        never written (a kill between its save and theirs): the run's side files are then those
        of the save before, and when that save's ``step_<N>.pt`` is there, resuming from it is
        exact, for the price of one save interval, where ``latest.pt`` would start the replay
        buffer afresh."""
        plan, names = self.plan, self.agent.side_file_names()
        source = plan.resume_path or self.ckpt_dir / "latest.pt"
        step = int(plan.resume_from["step"])
        sides = side_files.load_sides(source, names, step)
        earlier = (side_files.save_of_sides(source.parent, sides, step)
                   if source.name == "latest.pt" else None)
        if earlier is not None:
            self.notes.append(f"{source.name} (step {step}) was saved without its "
                              f"{' and '.join(names)} file; resuming from "
                              f"step_{earlier['step']}.pt, which has it")
            return earlier, sides
        return plan.resume_from, {name: side if side is not None and side.get("step") == step
                                  else None for name, side in sides.items()}

    def _load_side_files(self, sides: dict[str, dict[str, Any] | None]) -> None:
        for name, side in sides.items():
            if side is None:
                self.notes.append(f"no {name} file matches the checkpoint's step "
                                  f"{self.progress.step}; starting it afresh")
                continue
            try:
                self.agent.load_side_file(name, side["state"])
            except ValueError as exc:  # e.g. --envs or buffer_size changed on resume
                self.notes.append(f"the saved {name} does not fit this run ({exc}); "
                                  f"starting it afresh")

    @property
    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.started

    def payload(self) -> dict[str, Any]:
        self.progress.elapsed = self.elapsed
        return {
            "format": checkpoints.FORMAT_VERSION,
            "game": self.plan.game.id,
            "algo": self.plan.algo_cls.name,
            "config": self.config,
            "spaces": self.spaces,
            "step": self.progress.step,
            "loop": dict(self.progress.__dict__),
            "algorithm": self.agent.state_dict(),
        }

    def check_parameters(self) -> None:
        """TrainingBroken when a learned parameter has become NaN or infinite."""
        bad = self.agent.broken_parameter()
        if bad is not None:
            raise TrainingBroken(f"{bad} is no longer a finite number at step "
                                 f"{self.progress.step}")

    def write_checkpoint(self, payload: dict[str, Any], path: Path, check: bool = True) -> Path:
        """``checkpoints.save``, with a write failure turned into TrainingBroken (the file it
        would have replaced is untouched: the save writes a temporary file first)."""
        try:
            return checkpoints.save(payload, path, check=check)
        except OSError as exc:
            why = exc.strerror or str(exc) or type(exc).__name__
            raise TrainingBroken(f"cannot save {path.name} in {path.parent}: {why}") from None

    def save(self, with_step_file: bool) -> Iterator[Event]:
        self.check_parameters()  # never overwrite a good checkpoint with a broken state
        self.progress.last_save = self.progress.step  # part of the payload: set it first
        payload = self.payload()
        path = self.write_checkpoint(payload, self.ckpt_dir / "latest.pt")
        side_names = []
        for name, state in self.agent.side_files().items():
            side = {"step": self.progress.step, "state": state}
            self.write_checkpoint(side, side_files.side_path(path, name), check=False)
            side_names.append(name)
        yield CheckpointSaved(self.progress.step, str(path), "latest")
        if with_step_file:
            step_file = checkpoints.step_path(self.ckpt_dir, self.progress.step)
            self.write_checkpoint(payload, step_file)
            for name in side_names:
                side_files.link_or_copy(side_files.side_path(path, name),
                                        side_files.side_path(step_file, name))
            try:
                checkpoints.prune_steps(self.ckpt_dir, self.plan.keep_checkpoints)
                side_files.prune_orphans(self.ckpt_dir)
            except OSError as exc:  # a folder turned read-only: stop as a failed save does
                raise TrainingBroken(f"cannot delete {exc.filename or 'old checkpoints'}: "
                                     f"{runs.system_reason(exc)}") from None
            yield CheckpointSaved(self.progress.step, str(step_file), "step")
        self.write_status("running")

    def evaluate(self) -> Iterator[Event]:
        plan, p = self.plan, self.progress
        result = evaluate(
            self.agent, plan.game, plan.game_params,
            episodes=plan.eval_episodes, seed=TRAINING_EVAL_SEED, greedy=True,
        )
        p.last_eval_step, p.last_eval = p.step, result.mean
        yield Metrics(p.step, {"eval/mean_return": result.mean, "eval/std_return": result.std})
        text = f"evaluation at step {p.step}: mean return {result.mean:.3f} ± {result.std:.3f}"
        yield Message(p.step, text)
        new_best = p.best_eval is None or result.mean > p.best_eval
        if new_best and plan.algo_cls.improves_policy:
            self.check_parameters()
            p.best_eval = result.mean  # part of the payload: set it first
            path = self.write_checkpoint(self.payload(), self.ckpt_dir / "best.pt")
            yield CheckpointSaved(p.step, str(path), "best")
        elif new_best:  # a fixed policy's evaluations differ only by chance: no best.pt
            p.best_eval = result.mean
        self.write_status("running")

    def write_status(self, status: str, detail: str = "") -> None:
        """Rewrite ``status.json``; a failure to write it is not worth stopping for (it is a
        summary; the checkpoints and metrics are the record), so it is let pass."""
        with contextlib.suppress(OSError):
            self._write_status(status, detail)

    def _write_status(self, status: str, detail: str) -> None:
        p = self.progress
        runs.write_json(self.run_dir / runs.STATUS, {
            "status": status,
            "steps": p.step,
            "total_steps": self.plan.total_steps,
            "episodes": p.episodes,
            "elapsed": round(self.elapsed, 3),
            "last_eval": p.last_eval,
            "best_eval": p.best_eval,
            "parent": self.plan.parent,
            "detail": detail,
            "updated": time.time(),
        })


LEFT_AT_ONCE = "left at once (a second Ctrl+C): the last checkpoint is kept, later steps are not"


def _not_finite(values: dict[str, float]) -> str | None:
    return next((k for k, v in values.items() if not math.isfinite(v)), None)


def train(plan: Plan, control: Control | None = None) -> Iterator[Event]:
    """Run *plan*, yielding events; see the module docstring."""
    control = control or Control()
    pixels = PIXELS in plan.game.capabilities(plan.game_params)
    threads = configure_threads(plan.threads, pixels=pixels)
    run_dir = plan.run_dir or runs.new_run_dir(
        plan.runs_root, plan.game.slug, plan.algo_cls.name
    )
    with runs.locked(run_dir):
        config = plan.config_dict()
        config["threads"] = threads  # the number in use, not just what was asked
        if plan.run_dir is not None:  # resuming in place keeps the run's creation time
            previous = runs.read_json(run_dir / runs.CONFIG) or {}
            config["created"] = previous.get("created", config["created"])
        runs.write_config(run_dir, config)  # UserError when it cannot be written
        session = _Session(plan, run_dir, config)
        finished = False
        try:
            for event in _run(session, control):
                finished = isinstance(event, RunFinished)
                yield event
        except (GeneratorExit, KeyboardInterrupt):  # left at once: a second Ctrl+C
            if not finished:
                session.write_status("stopped", LEFT_AT_ONCE)
            raise
        finally:
            session.agent.close()


def _run(s: _Session, control: Control) -> Iterator[Event]:
    plan, p = s.plan, s.progress
    s.write_status("running")
    yield RunStarted(str(s.run_dir), s.config, p.step, plan.total_steps, plan.device, s.elapsed)
    for note in s.notes:
        yield Message(p.step, note, "warning")
    averager = _Averager(p.step)
    last_frame = 0.0
    reason, detail, asked = "budget", "", False
    every_iteration = plan.algo_cls.step_unit == "sweeps"
    while True:
        if control.stop_reason:
            reason, detail, asked = control.stop_reason, control.stop_detail, True
            break
        if control.paused:
            control.wait_while_paused(0.1)
            continue
        if p.step >= plan.total_steps:
            break
        try:
            it: Iteration = s.agent.train_iteration(plan.total_steps - p.step)
        except TrainingBroken as exc:  # the method's own machinery failed (an A3C worker)
            reason, detail = "failed", str(exc)
            break
        p.step += it.steps
        for ret, length in it.episodes:
            p.episodes += 1
            yield EpisodeEnded(p.step, p.episodes, float(ret), int(length))
        bad = _not_finite(it.metrics)
        if bad:
            reason, detail = "failed", f"{bad} became {it.metrics[bad]} at step {p.step}"
            break
        averager.add(it.metrics)
        if every_iteration or averager.due():
            yield Metrics(p.step, averager.pop(p.step))
            try:
                s.check_parameters()
            except TrainingBroken as exc:
                reason, detail = "failed", str(exc)
                break
        if plan.live_view and time.monotonic() - last_frame >= FRAME_INTERVAL:
            last_frame = time.monotonic()
            frame = s.agent.live_frame(p.step)
            if frame is not None:
                yield frame
        if it.converged:
            reason = "converged"
            break
        try:
            if control.save_requested or p.step - p.last_save >= plan.save_every:
                control.save_requested = False
                yield from s.save(with_step_file=True)
            if control.eval_requested or p.step - max(p.last_eval_step, 0) >= plan.eval_every:
                control.eval_requested = False
                yield from s.evaluate()
                if plan.target_return is not None and p.last_eval >= plan.target_return:
                    reason = "target"
                    break
        except TrainingBroken as exc:
            reason, detail = "failed", str(exc)
            break
    yield from _finish(s, averager, reason, detail, asked)


def _finish(s: _Session, averager: _Averager, reason: str, detail: str,
            asked: bool = False) -> Iterator[Event]:
    """Last metrics, evaluation and save, then status.json and RunFinished. *asked*: the front
    end stopped the run (a failure it *asked* for, such as a full disk meeting metrics.csv, leaves
    a sound model, which gets a last save when one is possible)."""
    plan, p = s.plan, s.progress
    if averager.sums:
        yield Metrics(p.step, averager.pop(p.step))
    if reason == "failed":
        if asked:
            with contextlib.suppress(TrainingBroken):  # a save that fails keeps the last one
                if p.last_save != p.step:
                    yield from s.save(with_step_file=False)
        s.write_status("failed", detail)
        yield Message(p.step, f"training failed: {detail}; the last good checkpoint is kept",
                      "warning")
        yield RunFinished(p.step, reason, str(s.run_dir), s.elapsed, p.last_eval, detail)
        return
    stopped = reason not in ("budget", "converged", "target")
    try:
        if not stopped and p.last_eval_step != p.step:
            yield from s.evaluate()
        if p.last_save != p.step or not (s.ckpt_dir / "latest.pt").exists():
            yield from s.save(with_step_file=not stopped)
    except TrainingBroken as exc:
        yield from _finish(s, averager, "failed", str(exc))
        return
    if reason == "budget" and plan.target_return is not None:
        detail = f"target return {plan.target_return} not reached within the budget"
    elif reason == "target":
        detail = f"target return {plan.target_return} reached"
    s.write_status("stopped" if stopped else "done", detail)
    yield RunFinished(p.step, reason, str(s.run_dir), s.elapsed, p.last_eval, detail)
