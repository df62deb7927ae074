"""Headless progress for ``agentapp train``: a Rich live bar in a terminal, plain lines otherwise.

Consumes the engine's events like any other sink. In a terminal it shows a progress bar with steps,
speed, elapsed time and ETA, and a line of the latest figures (recent return, evaluation, losses).
Without a terminal (CI, a pipe, a log file) it prints one plain line every few seconds.
"""

from __future__ import annotations

import time
from collections import deque

from rich.console import Console, Group
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from agentapp.engine.events import (
    CheckpointSaved,
    EpisodeEnded,
    Event,
    Message,
    Metrics,
    RunFinished,
    RunStarted,
)

PLAIN_INTERVAL = 3.0
"""Seconds between two plain progress lines when stdout is not a terminal."""

SHOWN = ("losses/bellman_residual", "losses/td_error", "charts/epsilon", "charts/policy_changes")


class HeadlessProgress:
    """Shows training progress from events; call :meth:`close` when the stream ends."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = console.is_terminal
        self.returns: deque[float] = deque(maxlen=100)
        self.latest: dict[str, float] = {}
        self.unit = "steps"
        self.total = 0
        self.step = 0
        self.last_plain = 0.0
        self.progress: Progress | None = None
        self.display: Live | None = None
        self.task = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._start(event)
        elif isinstance(event, EpisodeEnded):
            self.returns.append(event.ret)
            self._advance(event.step)
        elif isinstance(event, Metrics):
            self.latest.update(event.values)
            self._advance(event.step)
        elif isinstance(event, Message):
            style = "yellow" if event.level == "warning" else "dim"
            self._print(f"[{style}]{event.text}[/]", event.text)
        elif isinstance(event, CheckpointSaved) and event.kind == "best":
            self._print(f"[dim]new best agent saved: {event.path}[/]", None)
        elif isinstance(event, RunFinished):
            self._advance(event.step, force=True)
            self.close()

    def _start(self, event: RunStarted) -> None:
        config = event.config
        self.unit = config.get("step_unit", "steps")
        self.total, self.step = event.total_steps, event.start_step
        resumed = f", resuming at {event.start_step:,}" if event.start_step else ""
        note = f" ({config['device_note']})" if config.get("device_note") else ""
        self.console.print(
            f"[bold]{config['algo']}[/] on [bold]{config['game']}[/] · {event.total_steps:,} "
            f"{self.unit} · seed {config['seed']} · device {event.device}{note}{resumed}",
            highlight=False,
        )
        self.console.print(f"[dim]run folder: {event.run_dir}[/]", highlight=False)
        if self.live:
            self.progress = Progress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(f"{self.unit} · {{task.fields[speed]}}"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.task = self.progress.add_task(
                "training", total=event.total_steps, completed=event.start_step, speed="",
            )
            self.display = Live(Group(self.progress, _Figures(self)), console=self.console,
                                refresh_per_second=8)
            self.display.start()

    def figures(self) -> str:
        parts = []
        if self.returns:
            mean = sum(self.returns) / len(self.returns)
            parts.append(f"return(last {len(self.returns)}) {mean:.3f}")
        if "eval/mean_return" in self.latest:
            parts.append(f"eval {self.latest['eval/mean_return']:.3f}")
        for key in SHOWN:
            if key in self.latest:
                parts.append(f"{key.split('/')[-1]} {self.latest[key]:.3g}")
        return " · ".join(parts)

    def _advance(self, step: int, force: bool = False) -> None:
        self.step = step
        speed = self.latest.get("charts/sps")
        speed_text = f"{speed:,.0f}/s" if speed is not None else ""
        if self.progress is not None:
            self.progress.update(self.task, completed=step, speed=speed_text)
            return
        now = time.monotonic()
        if force or now - self.last_plain >= PLAIN_INTERVAL:
            self.last_plain = now
            share = 100.0 * step / max(self.total, 1)
            line = (f"{step:,}/{self.total:,} {self.unit} ({share:.0f}%) {speed_text} "
                    f"{self.figures()}")
            self.console.print(line.strip(), highlight=False, markup=False)

    def _print(self, rich_text: str, plain: str | None) -> None:
        if self.display is not None:
            self.display.console.print(rich_text, highlight=False)
        elif plain is not None:
            self.console.print(plain, highlight=False, markup=False)

    def close(self) -> None:
        if self.display is not None:
            self.display.stop()
        self.display, self.progress = None, None


class _Figures:
    """The line of latest figures under the bar, rendered afresh at every refresh."""

    def __init__(self, owner: HeadlessProgress) -> None:
        self.owner = owner

    def __rich__(self) -> str:
        return f"[dim]{self.owner.figures()}[/]"
