"""The Textual application: ``agentapp`` with no arguments, and ``agentapp train`` in a terminal.

The app is only a switchboard: it opens on the home screen (or straight on a training dashboard
when the command line asked to train) and gives every screen the same few ways to move on:
start training, show the runs, watch an agent. The screens do the work; the engine does the
training, off the UI thread (``runner.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from agentapp.tui.runner import Runner


class AgentApp(App[int]):
    """agentapp's terminal interface. ``App.run()`` returns the exit code for the shell: the
    training's (0 done, 130 stopped, 3 failed) when it opened on a dashboard, else 0."""

    CSS_PATH = "app.tcss"
    TITLE = "agentapp"
    SUB_TITLE = "reinforcement learning in the terminal"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        # the footer shows the first key: "?" is the one people look for; F1 works as well
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("ctrl+t", "toggle_theme", "Theme", show=False),
    ]

    def __init__(
        self,
        runs_dir: str | Path | None = None,
        *,
        config: Any = None,
        runner: Runner | None = None,
        exit_when_done: bool | None = None,
        graphics: str = "cells",
    ) -> None:
        """*config* (a ``RunConfig``) or *runner* open the app on that run's dashboard; without
        either it opens on the home screen. *exit_when_done*: leave the app when the dashboard
        is dismissed after training (default: when it opened on the dashboard). *graphics*: how
        the watch screen draws pixel games, ``cells``, ``kitty`` or ``sixel``, decided before the
        app starts (``rendering.graphics.choose_for_app``)."""
        super().__init__()
        self.graphics = graphics
        from agentapp import runs

        self.runs_root = runs.runs_root(runs_dir)
        self.runs_dir = str(runs_dir) if runs_dir is not None else None
        self._start_config, self._start_runner = config, runner
        opened_on_run = config is not None or runner is not None
        self.exit_when_done = opened_on_run if exit_when_done is None else exit_when_done
        self._stopping = False
        self.last_finished: Any = None
        """The ``RunFinished`` of the last training shown (for ``agentapp train`` to repeat in
        the shell once the app has closed: the result, and how to resume or watch)."""
        self.last_failure: str | None = None
        """A stop-and-quit was asked for and training is saving: a second one leaves at once."""

    def on_mount(self) -> None:
        if self._start_runner is not None or self._start_config is not None:
            self.start_training(self._start_config, runner=self._start_runner)
        else:
            from agentapp.tui.screens.home import HomeScreen

            self.push_screen(HomeScreen())

    # -- where a screen can take the user ----------------------------------------------------
    def start_training(self, config: Any, runner: Runner | None = None) -> None:
        """Open a dashboard training *config* (a ``RunConfig``), or driven by *runner*."""
        from dataclasses import replace

        from agentapp.tui.runner import runner_for
        from agentapp.tui.screens.dashboard import DashboardScreen

        if runner is None:
            if self.runs_dir is not None and getattr(config, "runs_dir", None) is None:
                config = replace(config, runs_dir=self.runs_dir)
            # the dashboard shows the game being played (pixel games; throttled at the source)
            config = replace(config, live_view=True)
            runner = runner_for(config)
        self.push_screen(DashboardScreen(runner), callback=self._dashboard_closed)

    def _dashboard_closed(self, exit_code: int | None) -> None:
        if self.exit_when_done:
            self.exit(exit_code or 0, return_code=exit_code or 0)

    def show_runs(self) -> None:
        from agentapp.tui.screens.runs import RunsScreen

        self.push_screen(RunsScreen(self.runs_root))

    def show_watch(self, ref: str | Path) -> None:
        """Watch the agent of *ref*: a run folder (its best, else latest, checkpoint) or a
        checkpoint file."""
        from agentapp.tui.screens.watch import WatchScreen

        self.push_screen(WatchScreen(ref, self.runs_root))

    # -- leaving --------------------------------------------------------------------------------
    def _live_dashboards(self) -> list[Any]:
        from agentapp.tui.screens.dashboard import DashboardScreen

        return [screen for screen in self.screen_stack
                if isinstance(screen, DashboardScreen) and screen.training_alive]

    async def action_quit(self) -> None:
        """Quit; training in progress is stopped first, after it saves a checkpoint."""
        self.stop_training_and_exit("interrupted")

    def stop_training_and_exit(self, reason: str = "interrupted") -> None:
        """Ask every live training to save and stop, then leave (130 for Ctrl+C / quit, 143
        for SIGTERM) once they have; with nothing training, leave at once. Asked a second time
        while saving, leave at once: the checkpoints on disk are whole (each is written to a
        temporary file and renamed), so the last one saved is intact."""
        live = self._live_dashboards()
        if not live:
            self.exit(0)
            return
        code = 143 if reason == "terminated" else 130
        if self._stopping:
            self.exit(code, return_code=code)
            return
        self._stopping = True
        for dashboard in live:
            dashboard.finish_training(reason)
        self.notify("Saving a checkpoint, then quitting… (again to quit at once)",
                    title="Stopping")

        def leave_when_saved() -> None:
            if not self._live_dashboards():
                self.exit(code, return_code=code)

        self.set_interval(0.1, leave_when_saved)

    # -- actions ------------------------------------------------------------------------------
    def action_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"
