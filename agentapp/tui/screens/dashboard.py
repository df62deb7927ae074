"""The training dashboard: one run, live, from start to result.

The screen starts a :class:`~agentapp.tui.runner.Runner` (training off the UI thread) and turns
what it posts into messages. Events only update :class:`~agentapp.tui.history.RunHistory`, which
is cheap; the panels are redrawn from it by a timer a few times a second, and only the parts that
changed, so a flood of short episodes never makes a key press wait. When training ends the
panels stay and a banner says how it ended; closing the screen returns the exit code the shell
gets (0 done, 130 stopped, 143 SIGTERM, 3 failed, 2 bad settings).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Static

from agentapp import runs
from agentapp.engine.events import CheckpointSaved, Frame, Message, RunFinished, RunStarted
from agentapp.tui.history import RunHistory
from agentapp.tui.messages import EngineEvent, RunnerExited, RunnerFailed
from agentapp.tui.runner import EXITED, Failure, Runner
from agentapp.tui.screens.confirm import ConfirmScreen
from agentapp.tui.widgets.event_log import EventLog
from agentapp.tui.widgets.live_view import LiveView
from agentapp.tui.widgets.plots import LossPlot, ReturnPlot
from agentapp.tui.widgets.result_banner import ResultBanner, exit_code_for, verdict_for
from agentapp.tui.widgets.run_header import RunHeader
from agentapp.tui.widgets.stats import StatsPanel

FULL_LAYOUT = (100, 30)
"""Columns and lines the plots need; a smaller window gets the compact layout (no plots)."""

REDRAW_INTERVAL = 0.5
"""Seconds between two redraws of the panels: smooth enough to watch, cheap while training."""

STOP_QUESTION = "Stop training? A checkpoint is saved first."


class DashboardScreen(Screen[int]):
    """Trains with *runner* and shows it; dismisses with the exit code once the user closes it.

    For the app: :attr:`training_alive` and :meth:`finish_training` (stop without asking).
    """

    # priority: the app handles these keys from its own queue, so a backlog of engine events
    # in the screen's queue never delays them (no widget here takes letters or Enter)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pause", "Pause/resume", priority=True),
        Binding("s", "save", "Save now", priority=True),
        Binding("e", "evaluate", "Evaluate", priority=True),
        Binding("w", "watch", "Watch", priority=True),
        Binding("l", "next_loss", "Next loss", priority=True),
        Binding("q", "stop", "Stop", priority=True),
        Binding("q", "close", "Close", priority=True),
        Binding("enter", "close", "Close", show=False, priority=True),
        Binding("escape", "close", "Close", show=False, priority=True),
    ]

    DEFAULT_CSS = """
    DashboardScreen { layout: vertical; }
    DashboardScreen #small-note { display: none; height: 1; padding: 0 1; color: $warning; }
    DashboardScreen #plots { height: 1fr; min-height: 8; }
    DashboardScreen #plots > .panel { width: 1fr; height: 1fr; }
    DashboardScreen #bottom { height: 14; }
    DashboardScreen #stats { width: 42; max-width: 50%; }
    DashboardScreen #live { width: 30; }
    DashboardScreen #log { width: 1fr; }
    DashboardScreen .panel { background: $surface; border-subtitle-color: $text-muted; }
    DashboardScreen.-compact #plots, DashboardScreen.-compact #live { display: none; }
    DashboardScreen.-compact #small-note { display: block; }
    DashboardScreen.-compact #bottom { height: 1fr; }
    DashboardScreen.-compact RunHeader Bar { width: 12; }
    """

    def __init__(self, runner: Runner) -> None:
        super().__init__()
        self.runner = runner
        self.history = RunHistory()
        self.paused = False
        self.stop_reason: str | None = None
        """The stop asked for (``interrupted``, ``terminated``), None while none was."""
        self.exit_code: int | None = None
        """Set once training has ended (or could not start): what closing the screen returns."""
        self.failure: str | None = None
        self.events_seen = 0
        self._saw_checkpoint = False
        self._loss_count = 0

    # -- layout -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield RunHeader(id="header", classes="panel")
        yield ResultBanner(id="banner")
        yield Static(f"The window is too small for the plots: they need at least "
                     f"{FULL_LAYOUT[0]}×{FULL_LAYOUT[1]}.", id="small-note")
        with Horizontal(id="plots"):
            yield ReturnPlot(id="returns", classes="panel")
            yield LossPlot(id="losses", classes="panel")
        with Horizontal(id="bottom"):
            yield StatsPanel(id="stats", classes="panel")
            yield LiveView(id="live", classes="panel")
            yield EventLog(id="log", classes="panel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#stats").border_title = "statistics"
        self.query_one("#live").border_title = "live view"
        self.query_one("#log").border_title = "events"
        self._fit(self.app.size.width, self.app.size.height)
        self.refresh_panels()
        self.set_interval(REDRAW_INTERVAL, lambda: self.refresh_panels(now=False))
        try:
            self.runner.start(self._post)
        except Exception as exc:  # e.g. no process could be started: say so, never go blank
            self._fail(f"training could not be started: {type(exc).__name__}: {exc}")

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width, event.size.height)

    def _fit(self, width: int, height: int) -> None:
        compact = width < FULL_LAYOUT[0] or height < FULL_LAYOUT[1]
        if compact != self.compact:
            self.set_class(compact, "-compact")
            self.refresh_bindings()

    @property
    def compact(self) -> bool:
        """True when the window is too small for the plots and they are hidden."""
        return self.has_class("-compact")

    # -- from the runner's thread ---------------------------------------------------------------
    def _post(self, item: Any) -> None:
        """Called by the runner from its own thread; ``post_message`` is thread-safe."""
        if isinstance(item, Failure):
            self.post_message(RunnerFailed(item.text))
        elif isinstance(item, str) and item == EXITED:
            self.post_message(RunnerExited())
        else:
            self.post_message(EngineEvent(item))

    # -- events: update the model, log what the user should know ------------------------------
    def on_engine_event(self, message: EngineEvent) -> None:
        message.stop()
        event = message.event
        self.events_seen += 1
        if isinstance(event, Frame):
            self.query_one(LiveView).show_frame(event)
            return
        self.history.consume(event)
        if isinstance(event, CheckpointSaved):
            self._saw_checkpoint = True
            self._log_checkpoint(event)
        elif isinstance(event, Message):
            level = "warning" if event.level == "warning" else (
                "good" if event.text.startswith("evaluation") else "info")
            self.log_event(event.text, event.step, level)
        elif isinstance(event, RunStarted):
            self.query_one(LiveView).prepare(event.config)  # the game its frames will show
            where = f"resumed at step {event.start_step:,}" if event.start_step else "started"
            self.log_event(f"training {where} in {event.run_dir}", event.start_step, "info")
            self.refresh_panels()
        elif isinstance(event, RunFinished):
            self._finished(event)

    def _log_checkpoint(self, event: CheckpointSaved) -> None:
        path = Path(event.path)
        run_dir = Path(self.history.run_dir) if self.history.run_dir else None
        if run_dir is not None and path.is_relative_to(run_dir):
            path = path.relative_to(run_dir)  # short, and the run folder is in the header
        text = (f"new best agent saved: {path}" if event.kind == "best"
                else f"checkpoint saved ({event.kind}): {path}")
        self.log_event(text, event.step, "good")

    def _finished(self, event: RunFinished) -> None:
        self.app.last_finished = event  # type: ignore[attr-defined]
        self.exit_code = exit_code_for(event.reason)
        self.paused = False
        level = "error" if event.reason == "failed" else (
            "good" if self.exit_code == 0 else "warning")
        self.log_event(f"training {verdict_for(event.reason)}", event.step, level)
        game = str(self.history.config.get("game", "GAME"))
        self.query_one(ResultBanner).show_result(event, self.history.unit, game)
        self._ended()

    def on_runner_failed(self, message: RunnerFailed) -> None:
        message.stop()
        self._fail(message.text)

    def _fail(self, text: str) -> None:
        self.failure = text
        self.app.last_failure = text  # type: ignore[attr-defined]
        self.log_event(text, None, "error")
        if self.exit_code is not None:
            return  # the run had already ended; the log says what went wrong after
        started = self.history.started is not None
        self.exit_code = 3 if started else 2  # never started: a bad setting
        self.query_one(ResultBanner).show_failure(text, *self._run_ref())
        self._ended()

    def _run_ref(self) -> tuple[str, str | None]:
        """The game and run folder the banner offers to resume (whose ``latest.pt`` it checks);
        no folder while training never started."""
        run_dir = self.history.run_dir if self.history.started is not None else None
        return str(self.history.config.get("game", "GAME")), run_dir

    def on_runner_exited(self, message: RunnerExited) -> None:
        message.stop()
        if self.exit_code is not None:
            return
        if self.stop_reason is None:  # it vanished without a word: the user must hear of it
            self._fail("training ended without reporting a result")
            return
        # stopped before the loop could report (e.g. while starting): the stop is the result
        self.exit_code = exit_code_for(self.stop_reason)
        self.log_event("training stopped", self.history.step, "warning")
        self.query_one(ResultBanner).show_stopped(self.history.step, self.history.unit,
                                                  *self._run_ref())
        self._ended()

    def _ended(self) -> None:
        self.query_one(ReturnPlot).ended("no episodes ended")
        self.query_one(LossPlot).ended("no losses reported")
        self.refresh_panels()
        self.refresh_bindings()

    def log_event(self, text: str, step: int | None = None, level: str = "info") -> None:
        """Add a line to the event log (levels: info, good, warning, error, request)."""
        self.query_one(EventLog).add(text, step, level)

    # -- drawing ---------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """starting, training, paused, stopping, finished, stopped or failed."""
        if self.exit_code is not None:
            if self.exit_code == 0:
                return "finished"
            return "failed" if self.exit_code in (2, 3) else "stopped"
        if self.stop_reason is not None:
            return "stopping"
        if self.history.started is None:
            return "starting"
        return "paused" if self.paused else "training"

    def refresh_panels(self, now: bool = True) -> None:
        """Redraw what changed since the last redraw. The timer passes ``now=False``: the plots
        then draw new data only as often as their CPU budget allows (tests and state changes
        draw everything at once)."""
        history = self.history
        changes = history.take_changes()
        self.query_one(RunHeader).show(history, self.state)
        if "stats" in changes:
            self.query_one(StatsPanel).show(history)
        for plot, what in ((self.query_one(ReturnPlot), "returns"),
                           (self.query_one(LossPlot), "losses")):
            if what in changes:
                plot.show(history, now)
            else:
                plot.flush(now)
        if "losses" in changes and len(history.losses) != self._loss_count:
            self._loss_count = len(history.losses)
            self.refresh_bindings()

    # -- keys -----------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("pause", "save", "evaluate"):
            return self.training_alive and self.stop_reason is None
        if action == "stop":
            return self.exit_code is None
        if action == "close":
            return self.exit_code is not None
        if action == "watch":
            return True if self.history.started else None
        if action == "next_loss":
            return not self.compact and self._loss_count > 1
        return True

    @property
    def training_alive(self) -> bool:
        """True while training runs (its thread or process is alive and it has not ended)."""
        return self.runner.alive and self.exit_code is None

    def finish_training(self, reason: str = "interrupted") -> None:
        """Ask training to save and stop, without asking the user (the app's quit uses it)."""
        if not self.training_alive or self.stop_reason is not None:
            return
        self.stop_reason = reason
        self.paused = False  # a stop wakes a paused loop
        self.runner.stop(reason)
        self.log_event("stop requested: saving a checkpoint first", self.history.step, "request")
        self.refresh_panels()
        self.refresh_bindings()

    def action_pause(self) -> None:
        self.paused = self.runner.toggle_pause()
        text = "paused (p to resume)" if self.paused else "resumed"
        self.log_event(text, self.history.step, "request")
        self.refresh_panels()

    def action_save(self) -> None:
        self.runner.request_save()
        self.log_event(f"checkpoint requested{self._when_resumed}", self.history.step, "request")

    def action_evaluate(self) -> None:
        self.runner.request_eval()
        self.log_event(f"evaluation requested{self._when_resumed}", self.history.step, "request")

    @property
    def _when_resumed(self) -> str:
        # the loop takes requests between updates, and a paused loop makes none
        return " (done when training resumes)" if self.paused else ""

    def action_watch(self) -> None:
        run_dir = self.history.run_dir
        if not run_dir:
            return
        if self.has_checkpoint:
            self.app.show_watch(run_dir)  # type: ignore[attr-defined]
        elif self.training_alive:
            self.runner.request_save()
            self.log_event("checkpoint requested (to watch)", self.history.step, "request")
            self.notify("No checkpoint yet: saving one now. Press w again in a moment.",
                        title="Watch")
        else:
            self.notify("This run has no checkpoint to watch.", severity="warning")

    @property
    def has_checkpoint(self) -> bool:
        """A checkpoint of this run exists (saved during this session, or resumed from)."""
        if self._saw_checkpoint:
            return True
        folder = Path(self.history.run_dir) / runs.CHECKPOINTS if self.history.run_dir else None
        return folder is not None and any(
            (folder / name).is_file() for name in ("latest.pt", "best.pt"))

    def action_next_loss(self) -> None:
        self.query_one(LossPlot).next_series()

    def action_stop(self) -> None:
        if self.stop_reason is not None:
            self.notify("Already stopping: a checkpoint is being saved.")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.finish_training("interrupted")

        self.app.push_screen(ConfirmScreen(STOP_QUESTION), callback=answered)

    def action_close(self) -> None:
        if self.exit_code is not None:
            self.dismiss(self.exit_code)
