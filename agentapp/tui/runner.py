"""Running training off the UI thread: a thread for cheap games, a process for pixel games.

The dashboard needs the events of ``engine.train`` and a way to pause, save, evaluate and stop;
it must never wait on training. A :class:`ThreadRunner` runs the loop in a background thread (the
games whose steps are cheap Python: gridworld, CartPole, ...). Pixel games would hold the
interpreter's lock for most of every step, so a :class:`ProcessRunner` trains them in a child
process that sends its events back through a queue and takes requests through another; the UI's
process then only draws. :class:`ScriptedRunner` replays a list of events, for tests and demos.

Every runner writes the run's ``metrics.csv`` (and TensorBoard files) exactly as headless training
does: the sinks run beside the loop, never in the UI.

A runner calls ``post(item)`` from its own thread for each engine event, then for a failure to
start or a crash a :class:`Failure` (one line for the user), and finally :data:`EXITED`.
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import os
import queue
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from agentapp.engine.events import Event
from agentapp.errors import UserError


@dataclass(frozen=True)
class Failure:
    """Training could not start (bad settings) or crashed: *text* says why, in one line."""

    text: str


EXITED = "exited"
"""The last item a runner posts: its thread or process is gone."""

Post = Callable[[Any], None]


def _train_events(config: Any, control: Any) -> Iterable[Event]:
    """Prepare *config* and yield its events, each also fed to the run's CSV / TensorBoard
    sinks (the same ones headless training uses; one that cannot write stops training as
    failed, and RunFinished says why)."""
    from agentapp.engine import loop
    from agentapp.engine.plan import prepare
    from agentapp.engine.sinks import recorded

    plan = prepare(config)
    yield from recorded(loop.train(plan, control), control)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, UserError):
        return str(exc)
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" ({last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno})" if last else ""
    return f"training crashed: {type(exc).__name__}: {exc}{where}"


class Runner:
    """What the dashboard drives: start once, then pause / save / evaluate / stop requests."""

    def start(self, post: Post) -> None:
        raise NotImplementedError

    def toggle_pause(self) -> bool:
        """Pause or resume; returns True when now paused."""
        raise NotImplementedError

    def request_save(self) -> None:
        raise NotImplementedError

    def request_eval(self) -> None:
        raise NotImplementedError

    def stop(self, reason: str = "interrupted") -> None:
        """Ask training to save and end (it posts RunFinished, then EXITED)."""
        raise NotImplementedError

    @property
    def alive(self) -> bool:
        raise NotImplementedError

    def join(self, timeout: float | None = None) -> None:
        raise NotImplementedError


class _OnAThread(Runner):
    """A runner whose work is one thread of this process (``self._thread``)."""

    _thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


class ThreadRunner(_OnAThread):
    """Trains *config* (a ``RunConfig``) in a background thread of this process."""

    def __init__(self, config: Any) -> None:
        from agentapp.engine.control import Control

        self.config = config
        self.control = Control()
        self._thread: threading.Thread | None = None

    def start(self, post: Post) -> None:
        def work() -> None:
            try:
                for event in _train_events(self.config, self.control):
                    post(event)
            except BaseException as exc:  # the UI shows it; the run stays resumable
                post(Failure(_describe(exc)))
            finally:
                post(EXITED)

        self._thread = threading.Thread(target=work, name="agentapp-training", daemon=True)
        self._thread.start()

    def toggle_pause(self) -> bool:
        self.control.toggle_pause()
        return self.control.paused

    def request_save(self) -> None:
        self.control.request_save()

    def request_eval(self) -> None:
        self.control.request_eval()

    def stop(self, reason: str = "interrupted") -> None:
        self.control.stop(reason)


def _end_if_alive(process: Any) -> None:
    if process.is_alive():
        process.terminate()
        process.join(5)


def _watch_parent(control: Any) -> None:
    """Stop training (which saves) when the process that started this one is gone."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(1.0)
    control.stop("interrupted")


def _child(config: Any, events: Any, requests: Any) -> None:
    """The training process: runs the loop, sends events, obeys requests from the UI."""
    import signal

    from agentapp.engine.control import Control

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the UI decides; it sends "stop"
    control = Control()

    def obey() -> None:
        while True:
            request = requests.get()
            if request is None:
                return
            if request == "pause":
                control.toggle_pause()
            elif request == "save":
                control.request_save()
            elif request == "eval":
                control.request_eval()
            elif request.startswith("stop:"):
                control.stop(request.split(":", 1)[1])

    threading.Thread(target=obey, daemon=True).start()
    threading.Thread(target=_watch_parent, args=(control,), daemon=True).start()
    try:
        for event in _train_events(config, control):
            events.put(event)
    except BaseException as exc:
        events.put(Failure(_describe(exc)))
    finally:
        events.put(EXITED)


class ProcessRunner(Runner):
    """Trains *config* in a child process (``spawn``: no forked threads or torch state)."""

    def __init__(self, config: Any) -> None:
        context = mp.get_context("spawn")
        self.config = config
        self._events = context.Queue()
        self._requests = context.Queue()
        # not daemonic: a daemonic process may not start processes of its own (A3C's
        # workers); :meth:`start` makes sure it still ends with the app
        self._process = context.Process(target=_child, args=(config, self._events, self._requests),
                                        name="agentapp-training", daemon=False)
        self._reader: threading.Thread | None = None
        self._paused = False

    def start(self, post: Post) -> None:
        self._process.start()
        # run before multiprocessing's own exit handler, which would wait for the process:
        # an app that leaves at once (a second Ctrl+C) ends its training process too, as a
        # daemonic one would be (every checkpoint on disk is whole: they are written atomically)
        atexit.register(_end_if_alive, self._process)

        def read() -> None:
            while True:
                try:
                    item = self._events.get(timeout=0.5)
                except queue.Empty:
                    if not self._process.is_alive():  # killed without a word
                        post(Failure(f"the training process ended (exit code "
                                     f"{self._process.exitcode})"))
                        post(EXITED)
                        return
                    continue
                post(item)
                if item == EXITED:
                    return

        self._reader = threading.Thread(target=read, name="agentapp-events", daemon=True)
        self._reader.start()

    def _send(self, request: str) -> None:
        if self._process.is_alive():
            self._requests.put(request)

    def toggle_pause(self) -> bool:
        self._paused = not self._paused
        self._send("pause")
        return self._paused

    def request_save(self) -> None:
        self._send("save")

    def request_eval(self) -> None:
        self._send("eval")

    def stop(self, reason: str = "interrupted") -> None:
        self._paused = False
        self._send(f"stop:{reason}")

    @property
    def alive(self) -> bool:
        return self._process.is_alive() or bool(self._reader and self._reader.is_alive())

    def join(self, timeout: float | None = None) -> None:
        if self._reader is not None:
            self._reader.join(timeout)
        self._process.join(timeout)


class ScriptedRunner(_OnAThread):
    """Replays *events* (``delay`` seconds apart) as if training produced them; requests are
    recorded in ``self.requests``. Used by the tests and snapshot tests of the dashboard."""

    def __init__(self, events: Iterable[Any], delay: float = 0.0, hold: bool = False) -> None:
        self.events = list(events)
        self.delay = delay
        self.hold = hold
        """Keep the runner "alive" after the last event until ``stop`` (a run in progress)."""
        self.requests: list[str] = []
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.paused = False

    def start(self, post: Post) -> None:
        def play() -> None:
            for event in self.events:
                if self._stopped.is_set():
                    break
                post(event)
                if self.delay:
                    time.sleep(self.delay)
            if self.hold:
                self._stopped.wait()
            post(EXITED)

        self._thread = threading.Thread(target=play, name="agentapp-script", daemon=True)
        self._thread.start()

    def toggle_pause(self) -> bool:
        self.paused = not self.paused
        self.requests.append("pause" if self.paused else "resume")
        return self.paused

    def request_save(self) -> None:
        self.requests.append("save")

    def request_eval(self) -> None:
        self.requests.append("eval")

    def stop(self, reason: str = "interrupted") -> None:
        self.requests.append(f"stop:{reason}")
        self._stopped.set()


def runner_for(config: Any) -> Runner:
    """A process for pixel games (their steps hold the interpreter), a thread otherwise."""
    from agentapp.games import resolve
    from agentapp.games.registry import PIXELS

    if getattr(config, "workers", None):
        # Ray actors step the games, so they cannot hold this interpreter; and a thread uses
        # the Ray this process already joined, where a child process would start another
        return ThreadRunner(config)
    try:
        game = resolve(config.game)
        pixels = PIXELS in game.capabilities(game.params)
    except UserError:
        pixels = False  # the runner reports the bad game name when it starts
    return ProcessRunner(config) if pixels else ThreadRunner(config)
