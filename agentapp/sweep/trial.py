"""One trial of a sweep, as a Ray task: a normal run, trained where Ray placed the task.

The task receives a plain ``job`` dict (what to train, and the run folder the driver made for it),
builds the same :class:`~agentapp.engine.plan.RunConfig` that ``agentapp train`` would, and runs
``engine.loop.train`` with the default sinks, so the folder has the usual config.json (with
``"sweep": NAME``), checkpoints and metrics.csv. A folder that already holds a ``latest.pt``
continues from it (``--resume`` in place), and one whose run is done is only read. A thread posts
progress to the board about once a second and turns the board's stop request into
``control.stop``, so a stopped trial saves a checkpoint like a stopped ``train``.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentapp import runs
from agentapp.errors import UserError

DONE = ("budget", "converged", "target")
"""``RunFinished`` reasons of a run that went to its end."""

EARLY = "stopped early"
"""The stop reason (and the trial's status) of a trial that ASHA stopped before its budget."""

POST_INTERVAL = 1.0
"""Seconds between two progress posts of a trial to the board."""

RECENT = 10
"""Training episodes in the recent mean (the score when a run has no final evaluation)."""


class Reporter:
    """Follows a trial's events and posts the figures to the board from its own thread."""

    def __init__(self, board: Any, trial_id: int, control: Any,
                 on_post: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.board, self.trial_id, self.control, self.on_post = board, trial_id, control, on_post
        self.returns: deque[float] = deque(maxlen=RECENT)
        self.info: dict[str, Any] = {"status": "running", "steps": 0, "last_return": None,
                                     "recent_mean": None}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sweep-reporter", daemon=True)

    def see(self, event: Any) -> None:
        kind = type(event).__name__
        if kind == "RunStarted":
            self.info.update(steps=event.start_step, total_steps=event.total_steps,
                             started_at=event.start_step)
        elif kind == "EpisodeEnded":
            self.returns.append(float(event.ret))
            self.info.update(steps=event.step, last_return=float(event.ret),
                             recent_mean=sum(self.returns) / len(self.returns))
        elif kind == "Metrics":
            self.info["steps"] = event.step

    def start(self) -> None:
        self._thread.start()

    def close(self, final: dict[str, Any]) -> None:
        self._done.set()
        self._thread.join(timeout=5)
        self.info.update(final)
        self.post()

    def _loop(self) -> None:
        while not self._done.wait(POST_INTERVAL):
            self.post()

    def post(self) -> None:
        info = dict(self.info)
        if self.on_post is not None:
            self.on_post(info)
        if self.board is None:
            return
        import ray

        try:
            stop = ray.get(self.board.post.remote(self.trial_id, info), timeout=30)
        except Exception:  # the board went with its driver: nothing to tell
            return
        if stop:
            self.control.stop(stop)


def run_trial(job: dict[str, Any], board: Any, control: Any = None,
              on_post: Callable[[dict[str, Any]], None] | None = None,
              on_event: Callable[[Any, dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Train the trial *job* describes; return its outcome as plain data (see :func:`_outcome`).

    *on_event* sees every training event with the trial's figures so far, in the training
    thread (Ray Tune's reports are made there, see :mod:`agentapp.sweep.tune_trainable`).

    Bad input met here (the run folder locked by another trainer, a checkpoint that no longer
    fits) fails this trial only, with its message; anything else is raised, and the driver
    records the trial as failed with the error's line.
    """
    from agentapp.engine.control import Control

    control = control or Control()
    reporter = Reporter(board, int(job["id"]), control, on_post)
    reporter.start()
    result: dict[str, Any] = {"status": "failed", "error": "the trial ended without a result"}
    try:
        result = _train(job, control, reporter, on_event)
    except UserError as error:
        result = {"status": "failed", "error": str(error)}
    finally:
        reporter.close(result)
    return result


def _train(job: dict[str, Any], control: Any, reporter: Reporter,
           on_event: Callable[[Any, dict[str, Any]], None] | None = None) -> dict[str, Any]:
    from agentapp.engine import loop
    from agentapp.engine.plan import RunConfig, prepare
    from agentapp.engine.sinks import recorded

    run_dir = Path(job["run_dir"])
    latest = run_dir / runs.CHECKPOINTS / "latest.pt"
    status = runs.read_json(run_dir / runs.STATUS) or {}
    if status.get("status") == "done" and latest.is_file():  # done before its sweep was stopped
        return _from_status(status)
    config = RunConfig(
        game=job["game"], algo=job["algo"], steps=job["steps"], seed=int(job["seed"]),
        envs=job["envs"], device=job["device"], overrides={**job["fixed"], **job["params"]},
        eval_episodes=int(job["eval_episodes"]), threads=job["threads"],
        runs_dir=job["runs_dir"], sweep=job["sweep"],
        resume=str(run_dir) if latest.is_file() else None,
    )
    plan = prepare(config)
    if plan.run_dir is None:  # a new run, in the folder the driver made and recorded for it
        plan = dataclasses.replace(plan, run_dir=run_dir)
    finished = None
    for event in recorded(loop.train(plan, control), control):
        reporter.see(event)
        if on_event is not None:
            on_event(event, reporter.info)
        if type(event).__name__ == "RunFinished":
            finished = event
    assert finished is not None
    return _outcome(finished, reporter)


def _outcome(finished: Any, reporter: Reporter) -> dict[str, Any]:
    """``status`` (done / stopped early / stopped / failed), ``steps``, ``score`` and its
    ``score_source`` (the final evaluation of a run that went to its end, else the recent
    training mean: also for a trial stopped early, whose budget was not spent),
    ``last_return``, ``recent_mean`` and ``error``."""
    info = reporter.info
    result: dict[str, Any] = {"steps": finished.step, "started_at": info.get("started_at"),
                              "last_return": info["last_return"],
                              "recent_mean": info["recent_mean"], "score": None,
                              "score_source": None, "error": None}
    if finished.reason == "failed":
        result.update(status="failed", error=finished.detail or "training failed")
    elif finished.reason in DONE:
        result["status"] = "done"
        if finished.eval_mean is not None:
            result.update(score=float(finished.eval_mean), score_source="final evaluation")
        elif info["recent_mean"] is not None:
            result.update(score=info["recent_mean"], score_source=f"last {RECENT} episodes")
    elif finished.reason == EARLY:
        result["status"] = EARLY
        if info["recent_mean"] is not None:
            result.update(score=info["recent_mean"], score_source=f"last {RECENT} episodes")
    else:
        result["status"] = "stopped"
    return result


def _from_status(status: dict[str, Any]) -> dict[str, Any]:
    """The outcome of a run that is already done, read from its status.json (its last
    evaluation is the final one: the loop evaluates at the end of the budget)."""
    score = status.get("last_eval")
    return {"status": "done", "steps": int(status.get("steps", 0)), "error": None,
            "score": score, "score_source": "final evaluation" if score is not None else None}
