"""Sinks: consumers of the event stream that record a run (``metrics.csv``, TensorBoard).

Sinks are called by the front end for every event it pulls from ``engine.train``; methods never
call them. ``metrics.csv`` is in long format, ``step,time,key,value``, where ``time`` is seconds of
training since the run began (summed over resumed sessions). On resume, rows past the checkpoint's
step (written after the last save of a session that then died) and a torn last line are dropped, so
the file always describes the run the checkpoint continues.
"""

from __future__ import annotations

import csv
import io
import os
import time
from pathlib import Path
from typing import Any

from agentapp.engine.events import EpisodeEnded, Event, Metrics, RunFinished, RunStarted
from agentapp.runs import METRICS

HEADER = ["step", "time", "key", "value"]


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
        self.clock_start = 0.0
        self.elapsed_before = 0.0

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._open(Path(event.run_dir) / METRICS, event.start_step)
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
            with tmp.open("w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out)
                writer.writerow(HEADER)
                writer.writerows([s, f"{t:.3f}", k, repr(v)] for s, t, k, v in kept)
            os.replace(tmp, path)
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


class TensorBoardSink:
    """Mirrors metrics into TensorBoard event files beside metrics.csv, when tensorboard is
    installed (``pip install agentapp[tensorboard]``); otherwise :meth:`create` returns None."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer

    @classmethod
    def create(cls) -> TensorBoardSink | None:
        try:
            from torch.utils.tensorboard import SummaryWriter  # noqa: F401
        except ImportError:
            return None
        return cls(None)

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            from torch.utils.tensorboard import SummaryWriter

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


def default_sinks() -> list[Any]:
    """The sinks every front end attaches: CSV always, TensorBoard when installed."""
    sinks: list[Any] = [MetricsCsv()]
    board = TensorBoardSink.create()
    if board is not None:
        sinks.append(board)
    return sinks
