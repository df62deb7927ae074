"""What can be done to a saved run, from the runs table and from a run's detail alike.

Continue training (``c``), watch the agent (``w``), evaluate it (``v``) and delete the run
(``d``) behave the same on both screens, so they live in one mixin; each screen only says which
run is meant (:meth:`RunActions.current_run`) and what to do once a run is gone or evaluated.
Evaluating plays ten episodes, which takes a while for big agents: it runs in a thread worker
and reports back, and the UI never waits. Deleting asks first, and refuses while something is
training in the run (its lock is held by a live process).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static
from textual.worker import Worker, WorkerState

from agentapp import runs
from agentapp.errors import UserError
from agentapp.tui.screens.confirm import ConfirmScreen
from agentapp.tui.widgets.settings_form import count_check, short_reason

EVAL_EPISODES = 10
EVAL_SEED = 0
"""``agentapp eval``'s defaults: the same run evaluated here and there gives the same numbers."""

Clock = Callable[[float], time.struct_time]


def format_return(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def format_started(timestamp: float, clock: Clock = time.localtime) -> str:
    return "–" if not timestamp else time.strftime("%Y-%m-%d %H:%M", clock(timestamp))


def evaluate_run(run_dir: Path, root: Path) -> Any:
    """Evaluate the agent of *run_dir* (best.pt, else latest.pt) as ``agentapp eval`` does."""
    from agentapp.engine.evaluate import evaluate
    from agentapp.rendering.playback import load_agent

    loaded = load_agent(str(run_dir), root)
    try:
        return evaluate(loaded.agent, loaded.game, loaded.params, episodes=EVAL_EPISODES,
                        seed=EVAL_SEED)
    finally:
        loaded.agent.close()


class ExtendScreen(ModalScreen[int | None]):
    """Asks for a larger budget to continue a run that has spent its own."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]
    DEFAULT_CSS = """
    ExtendScreen { align: center middle; }
    ExtendScreen > Vertical {
        width: 64; height: auto; padding: 1 2; border: thick $accent; background: $surface;
    }
    ExtendScreen Input { margin-top: 1; }
    ExtendScreen #extend-error { color: $text-error; height: auto; }
    """

    def __init__(self, info: runs.RunInfo) -> None:
        super().__init__()
        self.info = info

    def compose(self) -> ComposeResult:
        info = self.info
        with Vertical():
            yield Label(f"{info.name} has done all {info.steps:,} steps of its budget.\n"
                        "Continue it up to how many steps? (Enter: continue, Escape: cancel)")
            yield Input(str(max(info.total_steps, info.steps) * 2), id="extend-steps")
            yield Static("", id="extend-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            steps = count_check("--steps", event.value, low=self.info.steps + 1)
        except UserError as exc:
            self.query_one("#extend-error", Static).update(short_reason(str(exc)))
            return
        self.dismiss(steps)


class RunActions:
    """Mixin for a Screen showing runs: ``c`` continue, ``w`` watch, ``v`` evaluate, ``d``
    delete. The screen sets ``runs_root`` and implements :meth:`current_run`."""

    runs_root: Path
    evaluations: dict[str, str]
    """Result lines of the evaluations made here, by run folder."""

    RUN_BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "continue_run", "Continue"),
        Binding("w", "watch", "Watch"),
        Binding("v", "evaluate", "Evaluate"),
        Binding("d", "delete", "Delete"),
    ]

    def current_run(self) -> runs.RunInfo | None:
        raise NotImplementedError

    def run_deleted(self, info: runs.RunInfo) -> None:
        """Called once *info*'s folder is gone."""

    def evaluation_done(self, info_path: str, line: str) -> None:
        """Called with a finished evaluation's result line."""

    # -- actions -------------------------------------------------------------------------------
    def action_continue_run(self) -> None:
        info = self.current_run()
        if info is None:
            return
        if runs.lock_is_live(info.path):
            self.notify(f"{info.name} is training right now", severity="warning")
            return
        if not (info.path / runs.CHECKPOINTS / "latest.pt").is_file():
            self.notify(f"{info.name} has no checkpoint to continue from", severity="error")
            return
        if info.total_steps and info.steps >= info.total_steps:
            self.app.push_screen(ExtendScreen(info),
                                 lambda steps: self._resume(info, steps) if steps else None)
        else:
            self._resume(info, None)

    def _resume(self, info: runs.RunInfo, steps: int | None) -> None:
        from agentapp.engine.plan import RunConfig

        self.app.start_training(RunConfig(game=info.game, resume=str(info.path), steps=steps,
                                          runs_dir=str(self.runs_root)))

    def action_watch(self) -> None:
        info = self.current_run()
        if info is not None:
            self.app.show_watch(info.path)

    def action_evaluate(self) -> None:
        info = self.current_run()
        if info is None:
            return
        key = str(info.path)
        if any(w.name == key and w.is_running for w in self.workers):
            self.notify(f"{info.name} is already being evaluated")
            return
        self.notify(f"evaluating {info.name} over {EVAL_EPISODES} episodes…")
        self.evaluations[key] = "evaluating…"
        self.evaluation_done(key, "evaluating…")
        self.run_worker(lambda: evaluate_run(info.path, self.runs_root), name=key,
                        group="evaluate", thread=True, exit_on_error=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != "evaluate" or event.state not in (WorkerState.SUCCESS,
                                                             WorkerState.ERROR):
            return
        name = Path(worker.name).name
        if event.state == WorkerState.SUCCESS:
            result = worker.result
            line = (f"mean {result.mean:.2f} ± {result.std:.2f} over {len(result.returns)} "
                    f"episodes (seeds {EVAL_SEED}..{EVAL_SEED + len(result.returns) - 1})")
            self.notify(line, title=f"Evaluated {name}")
        else:
            error = worker.error
            text = str(error) if isinstance(error, UserError) else (
                f"{type(error).__name__}: {error}")
            line = f"evaluation failed: {text.splitlines()[0] if text else '?'}"
            self.notify(line, title=name, severity="error")
        self.evaluations[worker.name] = line
        self.evaluation_done(worker.name, line)

    def action_delete(self) -> None:
        info = self.current_run()
        if info is None:
            return
        if runs.lock_is_live(info.path):
            self.notify(f"{info.name} is training right now: stop it before deleting it",
                        severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._delete(info)

        self.app.push_screen(ConfirmScreen(f"Delete run {info.name}?\nIts checkpoints and "
                                           "metrics are removed for good.", yes="Delete",
                                           no="Keep"), answered)

    def _delete(self, info: runs.RunInfo) -> None:
        if runs.lock_is_live(info.path):  # training may have started while the question was up
            self.notify(f"{info.name} is training right now", severity="warning")
            return
        if not runs.is_run_dir(info.path):
            self.notify(f"{info.path} is not a run folder; nothing deleted", severity="error")
            return
        try:
            shutil.rmtree(info.path)
        except OSError as exc:
            self.notify(f"cannot delete {info.name}: {exc.strerror or exc}", severity="error")
            return
        self.notify(f"deleted {info.name}")
        self.run_deleted(info)
