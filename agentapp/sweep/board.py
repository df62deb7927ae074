"""The progress board: one small Ray actor where running trials post their progress.

Trials run as Ray tasks, possibly on other machines, so they cannot call back into the driver. Each
posts a few numbers (status, steps, last return, recent mean) about once a second; the driver reads
the whole board once a second to draw its table. The board also carries the driver's stop request:
a trial reads it in the answer to each post and stops its run (saving a checkpoint). Under Ray
Tune (:mod:`.tune`) the board also hands each Tune trial its job and carries ASHA's decision to
stop one trial early, so that the trial stops itself and saves instead of being killed by Tune.
"""

from __future__ import annotations

from typing import Any


class Board:
    """The actor's state: the latest post of each trial, and the stop request (None: go on)."""

    def __init__(self) -> None:
        self.posts: dict[int, dict[str, Any]] = {}
        self.stop: str | None = None
        self.stops: dict[int, str] = {}
        """Stop requests for one trial (``stopped early``), ahead of the sweep's own."""
        self.jobs: dict[str, dict[str, Any]] = {}
        """Jobs by Tune trial id, given by the driver before the trial starts training."""

    def post(self, trial_id: int, info: dict[str, Any]) -> str | None:
        """Record *info* for the trial; the answer is the stop request (``interrupted``...)."""
        self.posts[trial_id] = {**self.posts.get(trial_id, {}), **info}
        return self.stop_of(trial_id)

    def stop_of(self, trial_id: int) -> str | None:
        return self.stops.get(trial_id) or self.stop

    def stop_trial(self, trial_id: int, reason: str) -> None:
        self.stops.setdefault(trial_id, reason)

    def assign(self, key: str, job: dict[str, Any]) -> None:
        self.jobs[key] = job

    def job(self, key: str) -> dict[str, Any] | None:
        return self.jobs.get(key)

    def snapshot(self) -> dict[int, dict[str, Any]]:
        return {k: dict(v) for k, v in self.posts.items()}

    def request_stop(self, reason: str) -> None:
        self.stop = self.stop or reason


def start(ray: Any) -> Any:
    """A new board actor on the connected Ray, on the driver's node when Ray allows it (a lost
    worker node then takes no board with it). It asks for no CPU, so it never takes the place
    of a trial on a small machine."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
    return ray.remote(num_cpus=0, max_restarts=0)(Board).options(
        scheduling_strategy=here).remote()
