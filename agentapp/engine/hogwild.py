"""Hogwild! machinery for A3C: optimizers whose statistics live in shared memory, the worker
process loop, and a pool that starts, pauses, watches and stops the workers.

Asynchronous methods (Mnih et al. 2016) run several actor-learners that update one set of
parameters without locks (Recht et al. 2011, "Hogwild!"). Here each learner is a process started
with ``spawn`` (a fork after torch's threads have started can deadlock); the parameters and the
optimizer's moments are tensors in shared memory (``share_memory_()``), so an in-place update by
one process is seen by all. What is shared besides them is small: a step counter per worker
(each written by its worker only), the number of steps the workers may still claim, two events
(stop, go) and a queue on which the workers report what they did. Once the main process asks for
a live view (:meth:`WorkerPool.want_frames`), worker 0 adds its game's current ``Frame`` to its
reports: the main process plays no game, and a copy of one observation a tenth of a second costs
the worker next to nothing (nothing at all while no one asks).

A worker stops at an update boundary: it checks ``stop`` and ``go`` before each rollout. Pausing
the pool (:meth:`WorkerPool.paused`) clears ``go`` and waits until every worker says it is parked,
so a checkpoint copies a model no one is writing. Workers ignore SIGINT and SIGTERM: the main
process decides (it saves, then stops them). A worker that raises sends its traceback and exits;
the pool raises :class:`WorkerFailed` naming it, and so it does for a worker that vanished.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from agentapp.engine.failures import TrainingBroken
from agentapp.engine.optimizers import RMSpropTF

REPORT_INTERVAL = 0.1
"""Seconds between two reports of a worker (losses and finished episodes, summed)."""


class WorkerFailed(TrainingBroken):
    """An asynchronous worker raised or died; the message names it and its exception."""


# -- optimizers with shared statistics --------------------------------------------------------
def _share_state(optimizer: torch.optim.Optimizer) -> None:
    for state in optimizer.state.values():
        for value in state.values():
            if torch.is_tensor(value):
                value.share_memory_()


class SharedRMSprop(RMSpropTF):
    """RMSprop with one running average of squared gradients shared by all workers (the A3C
    paper's "shared RMSProp"): v <- alpha v + (1 - alpha) g^2, theta <- theta - lr g /
    sqrt(v + eps), with TensorFlow's epsilon placement and v starting at one (as ``rmsprop-tf``
    of A2C). The statistics exist before any worker starts, in shared memory; a worker's own
    lazily created state would be private to it."""

    def __init__(self, params: Iterable[torch.nn.Parameter], **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["square_avg"] = torch.ones_like(p)
        _share_state(self)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)  # new tensors: share them again
        _share_state(self)


class SharedAdam(torch.optim.Adam):
    """Adam whose moments and step count live in shared memory (every worker's step advances
    the one bias correction)."""

    def __init__(self, params: Iterable[torch.nn.Parameter], **kwargs: Any) -> None:
        super().__init__(params, foreach=False, fused=False, **kwargs)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p].update(step=torch.tensor(0.0), exp_avg=torch.zeros_like(p),
                                     exp_avg_sq=torch.zeros_like(p))
        _share_state(self)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        _share_state(self)


def snapshot(value: Any) -> Any:
    """A deep copy of nested dicts, lists and tensors, with tensors cloned out of shared memory
    (a checkpoint must not change while it is being written)."""
    if torch.is_tensor(value):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: snapshot(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(snapshot(v) for v in value)
    return value


# -- what the processes share ------------------------------------------------------------------
@dataclass
class Shared:
    """Counters and signals of one pool, built from a ``spawn`` context (picklable to workers
    only as arguments of the processes they start)."""

    workers: int
    context: Any
    steps: Any = field(init=False)
    """Steps each worker has finished (written by that worker only)."""
    parked: Any = field(init=False)
    """1 where a worker waits at an update boundary."""
    claimed: Any = field(init=False)
    """Steps claimed by rollouts begun; a rollout begins only while it is below ``limit``."""
    limit: Any = field(init=False)
    stop: Any = field(init=False)
    go: Any = field(init=False)
    reports: Any = field(init=False)
    live: Any = field(init=False)
    """1 once the main process wants live frames: worker 0 then sends its game's with its
    reports."""

    def __post_init__(self) -> None:
        ctx = self.context
        self.steps = ctx.Array("q", self.workers, lock=False)
        self.parked = ctx.Array("b", [1] * self.workers, lock=False)  # not started: idle
        self.claimed = ctx.Value("q", 0)
        self.limit = ctx.Value("q", 0, lock=False)
        self.stop, self.go = ctx.Event(), ctx.Event()
        self.go.set()
        self.live = ctx.Value("b", 0, lock=False)
        self.reports = ctx.Queue()

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "context"}

    def claim(self, n: int) -> bool:
        """Reserve a rollout of *n* steps while the budget allows one to begin."""
        with self.claimed.get_lock():
            if self.claimed.value >= self.limit.value:
                return False
            self.claimed.value += n
            return True

    def done(self) -> int:
        return sum(self.steps)


def worker_main(index: int, build: Callable[[int], Any], shared: Shared, n_steps: int,
                steps_before: int, hook: Callable[[int, int], None] | None) -> None:
    """One actor-learner process: build the learner (its game and local network), then one
    asynchronous update per rollout until told to stop. ``build(index)`` returns an object whose
    ``train_iteration(n_steps)`` does one update and returns an ``Iteration``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process saves, then stops us
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    torch.set_num_threads(1)  # one process per core does the parallelism
    parent = os.getppid()
    learner = None
    sums: dict[str, float] = {}
    updates, episodes, last = 0, [], time.monotonic()
    unseen = index == 0  # worker 0's game has moved on since its last live frame

    def report() -> None:
        nonlocal sums, updates, episodes, last, unseen
        frame = None
        if unseen and shared.live.value and learner is not None:
            frame, unseen = learner.live_frame(0), False  # the main process sets the step
        if updates or frame is not None:
            shared.reports.put(("update", index, updates, sums, episodes, frame))
        sums, updates, episodes, last = {}, 0, [], time.monotonic()

    try:
        learner = build(index)
        # a main process killed outright (SIGKILL) never says stop: leave when it is gone
        while not shared.stop.is_set() and os.getppid() == parent:
            shared.parked[index] = 0  # before looking at go: see WorkerPool.paused
            if not (shared.go.is_set() and shared.claim(n_steps)):
                report()
                shared.parked[index] = 1
                time.sleep(0.01)
                continue
            # anneal over the steps of all workers (the learner counts the global steps)
            learner.steps = steps_before + shared.done()
            it = learner.train_iteration(n_steps)
            shared.steps[index] += it.steps
            updates += 1
            unseen = index == 0
            episodes.extend(it.episodes)
            for key, value in it.metrics.items():
                sums[key] = sums.get(key, 0.0) + value
            if hook is not None:
                hook(index, shared.steps[index])
            if time.monotonic() - last >= REPORT_INTERVAL:
                report()
        report()
    except BaseException as exc:  # anything: the main process must hear of it
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        shared.reports.put(("error", index, text, traceback.format_exc()))
    finally:
        shared.parked[index] = 1
        if learner is not None:
            learner.close()


# -- the pool ----------------------------------------------------------------------------------
class WorkerPool:
    """The worker processes of one training session, seen from the main process."""

    def __init__(self, workers: int, build: Callable[[int], Any], n_steps: int,
                 steps_before: int, hook: Callable[[int, int], None] | None = None) -> None:
        if mp.current_process().daemon:
            raise WorkerFailed("A3C cannot start its worker processes from a daemonic process "
                               "(train it with `agentapp train ... --headless`)")
        context = mp.get_context("spawn")
        self.shared = Shared(workers, context)
        self.counted = 0
        """Steps already handed to the loop (``Shared.done()`` at the last :meth:`gather`)."""
        self.frame: Any = None
        """The newest ``Frame`` worker 0 sent (after :meth:`want_frames`), until taken."""
        self.processes = [
            context.Process(target=worker_main, name=f"a3c-worker-{i}", daemon=True,
                            args=(i, build, self.shared, n_steps, steps_before, hook))
            for i in range(workers)
        ]
        with _ignoring_interrupts():  # children inherit SIG_IGN until they set it themselves
            for process in self.processes:
                process.start()

    def want_frames(self) -> None:
        """From now on let worker 0 send its game's frames with its reports (into
        :attr:`frame`)."""
        self.shared.live.value = 1

    def allow(self, steps: int) -> None:
        """Let the workers begin rollouts until *steps* more than counted so far are claimed."""
        self.shared.limit.value = self.counted + steps

    def gather(self, seconds: float) -> tuple[int, int, dict[str, float], list]:
        """Read reports for up to *seconds* (less once the allowed steps are done): ``(new steps,
        updates, summed metrics, finished episodes)``. Raises WorkerFailed."""
        deadline = time.monotonic() + seconds
        updates, sums, episodes = 0, {}, []
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or self.shared.done() >= self.shared.limit.value:
                break
            try:
                message = self.shared.reports.get(timeout=min(left, 0.05))
            except queue.Empty:
                self.check_alive()
                continue
            updates += self._take(message, sums, episodes)
        while True:  # what has arrived already
            try:
                updates += self._take(self.shared.reports.get_nowait(), sums, episodes)
            except queue.Empty:
                break
        self.check_alive()
        done = self.shared.done()
        steps, self.counted = done - self.counted, done
        return steps, updates, sums, episodes

    def _take(self, message: tuple, sums: dict[str, float], episodes: list) -> int:
        if message[0] == "error":
            _, index, text, trace = message
            raise WorkerFailed(f"A3C worker {index} failed: {text}\n{trace}")
        _, _, updates, values, finished, frame = message
        if frame is not None:
            self.frame = frame
        for key, value in values.items():
            sums[key] = sums.get(key, 0.0) + value
        episodes.extend(finished)
        return updates

    def check_alive(self) -> None:
        for i, process in enumerate(self.processes):
            if process.exitcode not in (None, 0) or (process.exitcode == 0
                                                     and not self.shared.stop.is_set()):
                self._raise_reported()
                raise WorkerFailed(f"A3C worker {i} ended unexpectedly (exit code "
                                   f"{process.exitcode})")

    def _raise_reported(self) -> None:
        """Raise the error a dead worker reported, if it did (it is the better message)."""
        with contextlib.suppress(queue.Empty):
            while True:
                self._take(self.shared.reports.get(timeout=0.2), {}, [])

    @contextlib.contextmanager
    def paused(self, timeout: float = 120.0) -> Iterator[None]:
        """Hold every worker at an update boundary (none is writing the shared model)."""
        shared = self.shared
        shared.go.clear()
        try:
            deadline = time.monotonic() + timeout
            while not all(shared.parked):
                self.check_alive()
                if time.monotonic() > deadline:
                    raise WorkerFailed(f"A3C workers did not pause within {timeout:.0f} s")
                time.sleep(0.005)
            yield
        finally:
            shared.go.set()

    def close(self, timeout: float = 10.0) -> None:
        """Stop and join every worker; terminate (then kill) those that do not end in time."""
        self.shared.stop.set()
        self.shared.go.set()
        deadline = time.monotonic() + timeout
        for process in self.processes:
            while process.is_alive() and time.monotonic() < deadline:
                self._drain()  # a worker cannot exit while its reports fill the pipe
                process.join(0.05)
        for process in self.processes:
            if process.is_alive():
                process.terminate()
                process.join(2.0)
            if process.is_alive():
                process.kill()
                process.join(2.0)
        self._drain()
        self.shared.reports.close()
        self.shared.reports.join_thread()

    def _drain(self) -> None:
        with contextlib.suppress(queue.Empty, OSError, EOFError, ValueError):
            while True:
                self.shared.reports.get_nowait()


@contextlib.contextmanager
def _ignoring_interrupts() -> Iterator[None]:
    """SIGINT and SIGTERM ignored while workers start (a Ctrl+C in the terminal reaches the
    whole process group, and a worker still importing torch would die of it); only the main
    thread may change signal handlers, so elsewhere (the dashboard's thread) this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, signal.SIG_IGN)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
