"""The driver side of a sweep under Ray Tune: ``--asha`` (early stopping) and ``--search``.

Each Tune trial is still a normal run: :mod:`.tune_trainable` trains it with the same
:func:`~agentapp.sweep.trial.run_trial` as the Ray-task path, in a run folder this driver makes
and records in ``sweep.json`` when Tune starts the trial (a Tune callback, before the trial's
function runs). Progress comes from the same board, so the table and ``sweep.json`` look the
same as without Tune; Tune's own experiment folder is ``<sweep>/tune/`` and it prints nothing.

ASHA's decision to stop a trial is not carried out by Tune, which would end the trial's actor in
the middle of its run: :func:`_scheduler` hands it to the board instead, and the trial stops
itself at once, saving its checkpoint (status ``stopped early``). Ctrl+C asks every trial to
save and stop, as on the task path; Tune is told to end the experiment only once no trial is
running (or at once on a second Ctrl+C). :func:`run` is a generator like
:func:`agentapp.sweep.runner.run`: Tune runs in a thread, and the generator yields about once a
second so the front end can draw.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from agentapp.sweep import board as board_module
from agentapp.sweep import runner
from agentapp.sweep.state import FAILED, PENDING, RUNNING, STOPPED, Sweep, Trial
from agentapp.sweep.trial import EARLY
from agentapp.sweep.tune_options import undrawn

NEW_OUTPUT = "RAY_AIR_NEW_OUTPUT"

FINAL = ("status", "steps", "total_steps", "started_at", "score", "score_source",
         "last_return", "recent_mean", "error")
"""A trial's fields its last board post settles."""


LINKS: dict[int, Link] = {}
"""The live links of this process, by key: what a pickled :class:`Link` stands for."""


def link_of(key: int) -> Link:
    return LINKS[key]


class Link:
    """What the driver knows of Tune's trials; shared by Tune's thread (callbacks, scheduler)
    and the generator's, under :attr:`lock`.

    Tune pickles its configuration (callbacks, scheduler, stopper) into its folder; a link
    pickles as its key in :data:`LINKS`, since its lock and the live sweep cannot be pickled.
    """

    def __init__(self, ray: Any, sweep: Sweep, board: Any, res: runner.Resources) -> None:
        self.ray, self.sweep, self.board, self.res = ray, sweep, board, res
        self.lock = threading.Lock()
        self.trials: dict[str, Trial] = {}
        """Sweep trials by Tune trial id."""
        self.running: set[str] = set()
        LINKS[id(self)] = self

    def __reduce__(self) -> tuple[Any, tuple[int]]:
        return link_of, (id(self),)

    def start(self, tune_trial: Any) -> None:
        """Tune is starting *tune_trial*: give it its run folder and its job."""
        with self.lock:
            trial = self._trial_for(tune_trial.config)
            runner.launch(self.sweep, trial)
            self.trials[tune_trial.trial_id] = trial
            self.running.add(tune_trial.trial_id)
            job = runner.job(self.sweep, trial, self.res.gpus, self.res.cpus)
        asha = self.sweep.spec.get("asha") or {}
        job["rungs"] = asha.get("rungs", [])
        self.ray.get(self.board.assign.remote(tune_trial.trial_id, job), timeout=60)

    def _trial_for(self, config: dict[str, Any]) -> Trial:
        """The sweep trial a Tune config stands for: by id on a grid, or a new sample (its own
        seed: base seed + sample index) with the values the search algorithm chose."""
        if "trial" in config:
            return next(t for t in self.sweep.trials if t.id == int(config["trial"]))
        spec = self.sweep.spec
        new_id = max((t.id for t in self.sweep.trials), default=0) + 1
        trial = Trial(new_id, spec["games"][0], {k: str(config[k]) for k in spec["grid"]},
                      int(spec["base_seed"]) + new_id - 1)
        self.sweep.trials.append(trial)
        return trial

    def end(self, tune_trial: Any, error: str | None) -> None:
        """Tune says the trial ended: record its outcome from its last post."""
        posts = runner.snapshot(self.ray, self.board) or {}
        with self.lock:
            self.running.discard(tune_trial.trial_id)
            trial = self.trials.get(tune_trial.trial_id)
            if trial is None:
                return
            settle(trial, posts.get(trial.id, {}), error)
            self.sweep.save()

    def merge(self, posts: dict[int, dict[str, Any]]) -> None:
        """Copy the board's figures into the running trials (the table shows them)."""
        with self.lock:
            runner._merge(self.sweep, posts)


def settle(trial: Trial, post: dict[str, Any], error: str | None) -> None:
    """A trial's outcome: its final post (done, stopped early, stopped, failed, or ``pending``
    when the sweep stopped before it trained), else *error*, else stopped."""
    final = post.get("status") not in (None, RUNNING)
    if final:
        for key in FINAL:
            if key in post:
                setattr(trial, key, post[key])
        if trial.status == PENDING and trial.steps == 0:
            trial.started_at = None
    elif error:
        trial.status, trial.error = FAILED, error
    elif trial.status == RUNNING:
        trial.status = STOPPED


def run(ray: Any, sweep: Sweep, stop: runner.Stop, res: runner.Resources) -> Iterator[None]:
    """Run the sweep's Tune experiment: the grid's pending trials (with ``--asha``), or the
    samples not drawn yet (``--search``). Yields after every round."""
    from ray import tune

    space, samples = _space(tune, sweep)
    if samples == 0:
        return
    board = board_module.start(ray)
    link = Link(ray, sweep, board, res)
    try:
        with _quiet():
            yield from _experiment(tune, ray, sweep, stop, res, board, link, space, samples)
    finally:
        LINKS.pop(id(link), None)


def _experiment(tune: Any, ray: Any, sweep: Sweep, stop: runner.Stop, res: runner.Resources,
                board: Any, link: Link, space: dict[str, Any], samples: int) -> Iterator[None]:
    searcher = _searcher(sweep, res.concurrent)
    # Tune's own generator takes the limit itself; other searchers through Tune's option.
    limit = None if type(searcher).__name__ == "BasicVariantGenerator" else res.concurrent
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(_trainable(), board=board),
                            {"cpu": res.cpus, "gpu": res.gpus}),
        param_space=space,
        tune_config=tune.TuneConfig(scheduler=_scheduler(ray, sweep, board, link),
                                    search_alg=searcher, num_samples=samples,
                                    max_concurrent_trials=limit, reuse_actors=False),
        run_config=tune.RunConfig(
            name=time.strftime("%Y%m%d-%H%M%S"), storage_path=str(sweep.folder / "tune"),
            verbose=0, callbacks=[_recorder(link)], stop=_stopper(stop, link),
            failure_config=tune.FailureConfig(max_failures=0)),
    )
    failure: list[BaseException] = []
    thread = threading.Thread(target=_fit, args=(tuner, failure), name="sweep-tune",
                              daemon=True)
    thread.start()
    asked = False
    while thread.is_alive():
        thread.join(runner.POLL)
        if stop.reason and not asked:
            board.request_stop.remote(stop.reason)
            asked = True
        posts = runner.snapshot(ray, board)
        if posts is None and stop.reason:  # the board is lost: the trials cannot hear a stop
            stop.force = True
        link.merge(posts or {})
        yield
    posts = runner.snapshot(ray, board) or {}
    error = runner.error_line(failure[0]) if failure else None
    with link.lock:
        for trial in link.trials.values():
            if trial.status == RUNNING:  # Tune ended without saying how (a forced stop)
                settle(trial, posts.get(trial.id, {}), error)
        sweep.save()


def _fit(tuner: Any, failure: list[BaseException]) -> None:
    try:
        tuner.fit()
    except Exception as error:  # the driver records it on the running trials
        failure.append(error)


def _space(tune: Any, sweep: Sweep) -> tuple[dict[str, Any], int]:
    """Tune's parameter space and how many trials it makes."""
    spec = sweep.spec
    if spec.get("search"):
        space = {key: tune.choice(values) for key, values in spec["grid"].items()}
        return space, undrawn(spec, len(sweep.trials))
    ids = [t.id for t in sweep.trials if t.status == PENDING]
    return {"trial": tune.grid_search(ids)}, 1 if ids else 0


def _trainable() -> Any:
    from agentapp.sweep.tune_trainable import trainable

    return trainable


def _searcher(sweep: Sweep, concurrent: int) -> Any:
    """The search algorithm over the grid's values (``score``: higher is better); Tune's own
    random sampling (seeded from the sweep's base seed) for ``random`` and for a grid."""
    name = sweep.spec.get("search")
    seed = int(sweep.spec["base_seed"]) + len(sweep.trials)
    if name == "optuna":
        from ray.tune.search.optuna import OptunaSearch

        return OptunaSearch(metric="score", mode="max", seed=seed)
    if name == "hyperopt":
        from ray.tune.search.hyperopt import HyperOptSearch

        return HyperOptSearch(metric="score", mode="max", random_state_seed=seed)
    if name == "hebo":
        from ray.tune.search.hebo import HEBOSearch

        return HEBOSearch(metric="score", mode="max", random_state_seed=seed)
    if name == "ax":
        from ray.tune.search.ax import AxSearch

        return AxSearch(metric="score", mode="max")
    from ray.tune.search.basic_variant import BasicVariantGenerator

    return BasicVariantGenerator(random_state=seed, max_concurrent=concurrent)


def _scheduler(ray: Any, sweep: Sweep, board: Any, link: Link) -> Any:
    """ASHA on ``recent_mean`` over ``steps`` whose stop decisions go to the board (see the
    module docstring); FIFO (no early stopping) without ``--asha``."""
    from ray.tune.schedulers import AsyncHyperBandScheduler, FIFOScheduler, TrialScheduler

    asha = sweep.spec.get("asha")
    if not asha:
        return FIFOScheduler()

    class StopBySaving(AsyncHyperBandScheduler):
        def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
            decision = super().on_trial_result(tune_controller, trial, result)
            mine = link.trials.get(trial.trial_id)
            if decision != TrialScheduler.STOP or mine is None:
                return decision
            # On the board before Tune resumes the trial, so its report sees it at once.
            ray.get(board.stop_trial.remote(mine.id, EARLY), timeout=60)
            return TrialScheduler.CONTINUE

    return StopBySaving(time_attr="steps", metric="recent_mean", mode="max",
                        max_t=asha["max_t"], grace_period=asha["grace"],
                        reduction_factor=asha["reduction_factor"])


def _recorder(link: Link) -> Any:
    from ray.tune import Callback

    class Recorder(Callback):
        def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            link.start(trial)

        def on_trial_complete(self, iteration: int, trials: list, trial: Any,
                              **info: Any) -> None:
            link.end(trial, None)

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            link.end(trial, "the trial's Ray worker was lost or raised (see "
                            f"{trial.error_file or 'the Tune folder'})")

    return Recorder()


def _stopper(stop: runner.Stop, link: Link) -> Any:
    """Ends the experiment on a second Ctrl+C at once, on the first once no trial runs (each
    saved and stopped on its own), so that no new trial starts."""
    from ray.tune.stopper import Stopper

    class SweepStopper(Stopper):
        def __call__(self, trial_id: str, result: dict) -> bool:
            return False

        def stop_all(self) -> bool:
            return stop.force or (bool(stop.reason) and not link.running)

    return SweepStopper()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Tune's own warnings and progress stay out of the sweep's table: its loggers at ERROR,
    and its older output engine, which is silent at ``verbose=0`` (the newer one still prints
    a banner), for as long as the experiment runs."""
    for name in ("ray.tune", "ray.train", "ray.air"):
        logging.getLogger(name).setLevel(logging.ERROR)
    before = os.environ.get(NEW_OUTPUT)
    os.environ[NEW_OUTPUT] = "0"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(NEW_OUTPUT, None)
        else:
            os.environ[NEW_OUTPUT] = before
