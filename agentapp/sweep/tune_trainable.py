"""The Ray Tune side of one sweep trial: a function trainable around the normal run.

Tune runs :func:`trainable` in a trial actor. It fetches the trial's job from the progress board
(the driver made the run folder and recorded it in ``sweep.json`` before the trial started) and
trains it with :func:`agentapp.sweep.trial.run_trial`, exactly as the Ray-task path does: same run
folder, checkpoints, metrics and board posts. What Tune adds is :class:`Gate`, which reports to
Tune from the training thread: once at each ASHA rung the run crosses, and once at the end.

Tune stops a trial by ending its actor, which would cut a run short without saving. So ASHA's
"stop" is not given to Tune (see :mod:`.tune`): the driver puts it on the board, and the gate
reads it as soon as its report returns and turns it into ``control.stop("stopped early")``; the
loop then saves ``latest.pt`` and writes ``status.json`` as ``stopped``, and the function returns.
"""

from __future__ import annotations

import time
from typing import Any

from agentapp.sweep.trial import EARLY, run_trial

JOB_WAIT = 30.0
"""Seconds a trial waits for its job on the board (the driver assigns it as the trial starts)."""


class Gate:
    """Sees the trial's events; reports to Tune at each rung and asks the board about a stop."""

    def __init__(self, tune: Any, ray: Any, board: Any, job: dict[str, Any], control: Any):
        self.tune, self.ray, self.board, self.job, self.control = tune, ray, board, job, control
        self.rungs = sorted(int(r) for r in job.get("rungs") or [])

    def see(self, event: Any, info: dict[str, Any]) -> None:
        if type(event).__name__ not in ("EpisodeEnded", "Metrics") or not self.rungs:
            return
        step = int(event.step)
        if step < self.rungs[0] or info.get("recent_mean") is None:
            return
        while self.rungs and self.rungs[0] <= step:  # several rungs crossed in one update
            self.rungs.pop(0)
        self.tune.report(metrics(step, info.get("recent_mean"), info.get("recent_mean")))
        # Tune has handled the result (a function trainable's report waits for that): an ASHA
        # decision to stop this trial is on the board by now.
        stop = self.ray.get(self.board.stop_of.remote(int(self.job["id"])), timeout=30)
        if stop:
            self.control.stop(stop)


def metrics(steps: int, recent_mean: float | None, score: float | None) -> dict[str, float]:
    """One Tune result: ``steps`` (ASHA's time), ``recent_mean`` (ASHA's measure: the mean of
    the last 10 training episodes) and ``score`` (the searcher's: the final evaluation at the
    end of a finished run, else the recent mean). NaN where there is none yet."""
    nan = float("nan")
    return {"steps": int(steps), "recent_mean": nan if recent_mean is None else recent_mean,
            "score": nan if score is None else float(score)}


def trainable(config: dict[str, Any], board: Any) -> None:
    """Tune's function: train this Tune trial's job, reporting as :class:`Gate` says."""
    import ray
    from ray import tune

    from agentapp.engine.control import Control

    key = tune.get_context().get_trial_id()
    job = _wait_for_job(ray, board, key)
    if job is None:  # the driver is gone
        return
    if ray.get(board.stop_of.remote(int(job["id"]))):
        # The sweep is stopping: leave this trial, not started, to a resume.
        ray.get(board.post.remote(int(job["id"]), {"status": "pending"}))
        return
    control = Control()
    gate = Gate(tune, ray, board, job, control)
    try:
        result = run_trial(job, board, control, on_event=gate.see)
    except Exception as error:  # recorded as this trial's failure
        from agentapp.sweep.runner import error_line

        result = {"status": "failed", "error": error_line(error)}
        ray.get(board.post.remote(int(job["id"]), result), timeout=30)
    score = result.get("score")
    recent = result.get("recent_mean")
    tune.report(metrics(int(result.get("steps") or 0), recent,
                        score if result.get("status") in ("done", EARLY) else recent))


def _wait_for_job(ray: Any, board: Any, key: str) -> dict[str, Any] | None:
    deadline = time.monotonic() + JOB_WAIT
    while time.monotonic() < deadline:
        job = ray.get(board.job.remote(key), timeout=30)
        if job is not None:
            return job
        time.sleep(0.05)
    return None

