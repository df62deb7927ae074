"""The driver side of a sweep: Ray tasks started, watched and recorded in ``sweep.json``.

:func:`run` is a generator that does one round of work per call (start trials while there is room,
collect those that ended, read the progress board) and yields about once a second, so the front end
draws between rounds, as it does between the events of ``engine.train``. A :class:`Stop` set from a
signal handler is acted on at the next round: the first asks every trial to stop and save, the
second (``force``) cancels the Ray tasks at once; checkpoints on disk stay whole either way since
they are only ever replaced atomically.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentapp import runs
from agentapp.errors import UserError
from agentapp.games.registry import slugify
from agentapp.sweep import board as board_module
from agentapp.sweep.state import FAILED, RUNNING, STOPPED, Sweep, Trial, to_resume
from agentapp.sweep.trial import run_trial

POLL = 1.0
"""Seconds between two rounds: how fresh the table is and how soon a stop is passed on."""


@dataclass
class Stop:
    """Set by the front end (a signal handler: plain assignments only)."""

    reason: str | None = None
    """``interrupted`` (Ctrl+C) or ``terminated`` (SIGTERM): the trials are asked to stop."""
    force: bool = False
    """A second Ctrl+C: cancel the running tasks without waiting for them."""


@dataclass(frozen=True)
class Resources:
    """What each trial asks Ray for, and how many run at once."""

    cpus: float
    gpus: float
    concurrent: int


def resources(ray: Any, cpus: float | None, gpus: float, max_concurrent: int | None,
              trials: int) -> Resources:
    """Each trial's share of the connected Ray and how many run at once (default: as many as
    its CPUs and GPUs hold). A request no node could ever meet is bad input, not a sweep that
    waits for ever."""
    total = ray.cluster_resources()
    have_cpus, have_gpus = float(total.get("CPU", 0)), float(total.get("GPU", 0))
    cpus = 1.0 if cpus is None else cpus  # a trial runs torch on one thread: one core
    if cpus > have_cpus:
        raise UserError(f"--cpus-per-run {cpus:g}: the Ray cluster has {have_cpus:g} CPUs")
    if gpus > have_gpus:
        raise UserError(f"--gpus-per-run {gpus:g}: the Ray cluster has {have_gpus:g} GPUs")
    fit = int(have_cpus // cpus) if cpus > 0 else trials
    if gpus > 0:
        fit = min(fit, int(have_gpus // gpus))
    concurrent = max_concurrent or max(1, fit)
    return Resources(cpus, gpus, max(1, min(concurrent, trials)))


def job(sweep: Sweep, trial: Trial, gpus: float, cpus: float) -> dict[str, Any]:
    """The plain data a trial task needs (it may run on another machine)."""
    spec = sweep.spec
    return {"id": trial.id, "sweep": sweep.name, "game": trial.game, "algo": spec["algo"],
            "params": dict(trial.params), "fixed": dict(spec["fixed"]), "seed": trial.seed,
            "steps": spec["steps"], "envs": spec["envs"], "eval_episodes": spec["eval_episodes"],
            "runs_dir": spec["runs_dir"], "run_dir": trial.run_dir,
            "device": "auto" if gpus > 0 else "cpu", "threads": max(1, int(cpus))}


def run(ray: Any, sweep: Sweep, stop: Stop, res: Resources) -> Iterator[None]:
    """Run the sweep's unfinished trials; yields after every round (see the module docstring)."""
    board = board_module.start(ray)
    task = ray.remote(run_trial).options(num_cpus=res.cpus, num_gpus=res.gpus, max_retries=0)
    queue = deque(to_resume(sweep))
    inflight: dict[Any, Trial] = {}
    asked = False
    while inflight or (queue and not stop.reason):
        if stop.force:
            _cancel(ray, sweep, inflight)
            return
        if stop.reason and not asked:
            board.request_stop.remote(stop.reason)
            asked = True
        while queue and len(inflight) < res.concurrent and not stop.reason:
            trial = queue.popleft()
            launch(sweep, trial)
            inflight[task.remote(job(sweep, trial, res.gpus, res.cpus), board)] = trial
        ready, _ = ray.wait(list(inflight), num_returns=len(inflight), timeout=POLL)
        posts = snapshot(ray, board)
        if posts is None and stop.reason:  # the board is lost: the trials cannot hear a stop
            stop.force = True
        _merge(sweep, posts or {})
        for ref in ready:
            _collect(ray, sweep, inflight.pop(ref), ref)
        yield
    _merge(sweep, snapshot(ray, board) or {})
    sweep.save()


def snapshot(ray: Any, board: Any) -> dict[int, dict[str, Any]] | None:
    """The board's posts; None when the board is lost (its node went down): the trials' own
    results still come back with their tasks, only the live figures are missing."""
    try:
        return ray.get(board.snapshot.remote(), timeout=30)
    except (ray.exceptions.RayError, TimeoutError):
        return None


def launch(sweep: Sweep, trial: Trial) -> None:
    """Give the trial its run folder (made here, so that sweep.json names it before the task
    starts: a sweep killed at any moment knows where each trial's checkpoints are)."""
    if trial.run_dir is None or not Path(trial.run_dir).is_dir():
        root = runs.runs_root(sweep.spec["runs_dir"])
        trial.run_dir = str(runs.new_run_dir(root, slugify(trial.game), sweep.spec["algo"]))
    trial.status, trial.error = RUNNING, None
    sweep.save()


def _merge(sweep: Sweep, posts: dict[int, dict[str, Any]]) -> None:
    """Copy the board's figures into the running trials (the table shows them)."""
    for trial in sweep.trials:
        info = posts.get(trial.id)
        if info and trial.status == RUNNING:
            trial.steps = int(info.get("steps") or trial.steps)
            trial.total_steps = info.get("total_steps", trial.total_steps)
            trial.started_at = info.get("started_at", trial.started_at)
            trial.last_return = info.get("last_return", trial.last_return)
            trial.recent_mean = info.get("recent_mean", trial.recent_mean)


def _collect(ray: Any, sweep: Sweep, trial: Trial, ref: Any) -> None:
    """Record how a trial's task ended: its own outcome, or the error that ended it (an
    exception in the trial, a worker or a node lost)."""
    try:
        result = ray.get(ref)
    except ray.exceptions.TaskCancelledError:
        result = {"status": STOPPED}
    except ray.exceptions.RayError as error:
        result = {"status": FAILED, "error": error_line(error)}
    for key in ("status", "steps", "started_at", "score", "score_source", "last_return",
                "recent_mean", "error"):
        if key in result:
            setattr(trial, key, result[key])
    sweep.save()


def _cancel(ray: Any, sweep: Sweep, inflight: dict[Any, Trial]) -> None:
    """Cancel the running tasks now (a second Ctrl+C); their last checkpoints stay."""
    for ref, trial in inflight.items():
        ray.cancel(ref, force=True)
        trial.status = STOPPED
    inflight.clear()
    sweep.save()


def error_line(error: BaseException) -> str:
    """One line saying why a task failed: the trial's own exception when it raised one."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        error = cause
    text = " ".join(str(error).strip().splitlines()[:1]) or "no message"
    return f"{type(error).__name__}: {text}"[:300]

