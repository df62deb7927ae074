"""Sinks: consumers of the event stream that record a run (``metrics.csv``, TensorBoard).

Sinks are called by the front end for every event it pulls from ``engine.train``; methods never
call them. ``metrics.csv`` is in long format, ``step,time,key,value``, where ``time`` is seconds of
training since the run began (summed over resumed sessions). On resume, rows past the checkpoint's
step (written after the last save of a session that then died) and a torn last line are dropped, so
the file always describes the run the checkpoint continues.

A sink that cannot write its file (disk full, read-only folder) closes it and raises
:class:`SinkFailed`, one line naming the file and the system's reason; :func:`recorded`, which both
front ends use to feed the sinks, then stops training as failed, as a failed checkpoint save does.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from agentapp.engine.control import Control
from agentapp.engine.events import EpisodeEnded, Event, Metrics, RunFinished, RunStarted
from agentapp.runs import METRICS, STATUS, read_json, write_json, write_problem

HEADER = ["step", "time", "key", "value"]


class SinkFailed(OSError):
    """A sink could not write its file; the message is one line naming the file and why."""


def read_metrics(path: Path) -> list[tuple[int, float, str, float]]:
    """Rows of a metrics.csv, skipping the header and any malformed or torn line."""
    rows: list[tuple[int, float, str, float]] = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return rows
    if text and not text.endswith("\n"):
        # a process killed mid-write leaves a last line without its end, which may still parse
        # ("12" of "12.75"): a line counts only once it is whole
        text = text[: text.rfind("\n") + 1]
    for fields in csv.reader(io.StringIO(text)):
        if len(fields) != 4 or fields[0] == "step":
            continue
        try:
            rows.append((int(fields[0]), float(fields[1]), fields[2], float(fields[3])))
        except ValueError:
            continue
    return rows


class MetricsCsv:
    """Writes Metrics and EpisodeEnded events to ``<run>/metrics.csv``."""

    def __init__(self) -> None:
        self.handle: io.TextIOWrapper | None = None
        self.writer: Any = None
        self.path: Path | None = None
        self.clock_start = 0.0
        self.elapsed_before = 0.0

    def __call__(self, event: Event) -> None:
        try:
            self._record(event)
        except OSError as exc:  # disk full, read-only folder: stop writing, say which file
            self._abandon()
            raise SinkFailed(write_problem(self.path, exc)) from None

    def _record(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.path = Path(event.run_dir) / METRICS
            self._open(self.path, event.start_step)
            self.clock_start, self.elapsed_before = time.monotonic(), event.elapsed
        elif self.writer is None:
            return
        elif isinstance(event, Metrics):
            t = self._time()
            for key, value in event.values.items():
                self.writer.writerow([event.step, t, key, repr(float(value))])
            self.handle.flush()
        elif isinstance(event, EpisodeEnded):
            t = self._time()
            self.writer.writerow([event.step, t, "charts/episode_return", repr(event.ret)])
            self.writer.writerow([event.step, t, "charts/episode_length", event.length])
        elif isinstance(event, RunFinished):
            self.close()

    def _time(self) -> str:
        return f"{self.elapsed_before + time.monotonic() - self.clock_start:.3f}"

    def _open(self, path: Path, start_step: int) -> None:
        if path.exists():
            kept = [r for r in read_metrics(path) if r[0] <= start_step]
            tmp = path.with_suffix(".csv.tmp")
            try:
                with tmp.open("w", newline="", encoding="utf-8") as out:
                    writer = csv.writer(out)
                    writer.writerow(HEADER)
                    writer.writerows([s, f"{t:.3f}", k, repr(v)] for s, t, k, v in kept)
                os.replace(tmp, path)
            except OSError:
                with contextlib.suppress(OSError):  # metrics.csv itself is still whole
                    tmp.unlink(missing_ok=True)
                raise
            self.handle = path.open("a", newline="", encoding="utf-8")
            self.writer = csv.writer(self.handle)
        else:
            self.handle = path.open("w", newline="", encoding="utf-8")
            self.writer = csv.writer(self.handle)
            self.writer.writerow(HEADER)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
        self.handle, self.writer = None, None

    def _abandon(self) -> None:
        """Close after a failed write, whose unwritten rows make closing fail too."""
        with contextlib.suppress(OSError):
            self.close()
        self.handle, self.writer = None, None


class TensorBoardSink:
    """Mirrors metrics into TensorBoard event files beside metrics.csv, when tensorboard is
    installed (``pip install agentapp[tensorboard]``); otherwise :meth:`create` returns None."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer
        self.folder = ""

    @classmethod
    def create(cls) -> TensorBoardSink | None:
        try:
            from torch.utils.tensorboard import SummaryWriter  # noqa: F401
        except ImportError:
            return None
        return cls(None)

    def __call__(self, event: Event) -> None:
        try:
            self._record(event)
        except OSError as exc:  # its files are written by a thread; errors surface here
            if self.writer is not None:
                with contextlib.suppress(OSError):
                    self.writer.close()
            self.writer = None
            raise SinkFailed(write_problem(f"TensorBoard files in {self.folder}", exc)) from None

    def _record(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            from torch.utils.tensorboard import SummaryWriter

            self.folder = event.run_dir
            self.writer = SummaryWriter(log_dir=event.run_dir)
        elif self.writer is None:
            return
        elif isinstance(event, Metrics):
            for key, value in event.values.items():
                self.writer.add_scalar(key, value, event.step)
        elif isinstance(event, EpisodeEnded):
            self.writer.add_scalar("charts/episode_return", event.ret, event.step)
            self.writer.add_scalar("charts/episode_length", event.length, event.step)
        elif isinstance(event, RunFinished):
            self.writer.close()
            self.writer = None


def recorded(events: Iterable[Event], control: Control,
             sinks: list[Any] | None = None) -> Iterator[Event]:
    """*events* (``engine.train``'s), each recorded by *sinks* (:func:`default_sinks`) before it
    is passed on. When a sink cannot write, training is stopped as failed with the sink's line as
    the reason (the loop then saves if it can, marks the run failed and keeps its last good
    checkpoint), so a full disk ends a run the same way whether a checkpoint or metrics.csv met
    it first."""
    sinks = default_sinks() if sinks is None else sinks
    failure = ""
    stream = iter(events)
    try:
        for event in stream:
            for sink in sinks:
                try:
                    sink(event)
                except OSError as exc:
                    failure = failure or _failure_line(exc)
                    control.stop("failed", failure)
            if failure and isinstance(event, RunFinished) and event.reason != "failed":
                event = replace(event, reason="failed", detail=failure)  # the last write failed
                _mark_failed(Path(event.run_dir), failure)
            yield event
    finally:  # left early (a second Ctrl+C): the loop closes now and releases the run's lock
        getattr(stream, "close", lambda: None)()


def _mark_failed(run_dir: Path, detail: str) -> None:
    """The loop wrote status.json ("done", "stopped") before the run's last write failed: it
    now says failed, and why, as the exit code does."""
    status = read_json(run_dir / STATUS)
    if status is not None:
        with contextlib.suppress(OSError):
            write_json(run_dir / STATUS, {**status, "status": "failed", "detail": detail})


def _failure_line(exc: OSError) -> str:
    if isinstance(exc, SinkFailed):
        return str(exc)
    return write_problem(exc.filename or "a file of the run", exc)


def default_sinks() -> list[Any]:
    """The sinks every front end attaches: CSV always, TensorBoard when installed."""
    sinks: list[Any] = [MetricsCsv()]
    board = TensorBoardSink.create()
    if board is not None:
        sinks.append(board)
    return sinks
