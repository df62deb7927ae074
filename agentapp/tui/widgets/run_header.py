"""The dashboard's header: which run this is, how far it has got, how fast, and how long to go.

Everything shown comes from the events (steps, ``charts/sps``, ``RunStarted.elapsed``), so the
header can be refreshed as often as wanted and draws the same for the same events.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import ProgressBar, Static

from agentapp.tui.history import RunHistory
from agentapp.tui.widgets.formatting import fmt_duration, fmt_value

STATES = {
    "starting": ("starting…", "$text-muted"),
    "training": ("● training", "bold $success"),
    "paused": (" PAUSED ", "bold reverse $warning"),
    "stopping": ("stopping: saving…", "bold $warning"),
    "finished": ("finished", "bold $success"),
    "stopped": ("stopped", "bold $warning"),
    "failed": (" FAILED ", "bold reverse $error"),
}
"""How each state of the run is shown at the header's right."""


def describe_run(history: RunHistory) -> str:
    """``game cartpole · method ppo · device cpu · seed 7``, from the run's config."""
    config = history.config
    parts = [f"game {config.get('game', '?')}", f"method {config.get('algo', '?')}",
             f"device {history.started.device if history.started else '?'}"]
    if config.get("seed") is not None:
        parts.append(f"seed {config['seed']}")
    if history.started and history.started.start_step:
        parts.append(f"resumed at {history.started.start_step:,}")
    return " · ".join(parts)


def progress_figures(history: RunHistory) -> str:
    """``1,234 / 10,000 steps · 2,345 steps/s · elapsed 0:00:03 · ETA 0:00:04``."""
    unit = history.unit
    speed = f"{fmt_value(history.speed)} {unit}/s" if history.speed else f"— {unit}/s"
    parts = [f"{history.step:,} / {history.total:,} {unit}", speed,
             f"elapsed {fmt_duration(history.elapsed)}"]
    if history.finished is None:
        parts.append(f"ETA {fmt_duration(history.eta)}")
    return " · ".join(parts)


class RunHeader(Vertical):
    """Run name in the border; game, method, device and state; a progress bar with figures."""

    DEFAULT_CSS = """
    RunHeader { height: auto; }
    RunHeader Horizontal { height: 1; }
    RunHeader Static { text-wrap: nowrap; text-overflow: ellipsis; }
    RunHeader #run-what { width: 1fr; }
    RunHeader #run-state { width: auto; margin-left: 1; }
    RunHeader ProgressBar { width: auto; margin-right: 2; }
    RunHeader #run-figures { width: 1fr; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "training"
        self._shown: tuple = ()

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Static("waiting for training to start…", id="run-what")
            yield Static("", id="run-state")
        with Horizontal():
            bar = ProgressBar(total=1, show_eta=False, id="run-bar")
            bar.display = False  # until the budget is known
            yield bar
            yield Static("", id="run-figures")

    def show(self, history: RunHistory, state: str) -> None:
        """Redraw from *history*; *state* is a key of :data:`STATES`."""
        if history.started:
            what = describe_run(history)
        else:
            what = "training did not start" if state == "failed" else \
                "waiting for training to start…"
        figures = progress_figures(history) if history.started else ""
        shown = (history.run_name, what, state, figures, history.step, history.total)
        if shown == self._shown:
            return
        before, self._shown = self._shown, shown
        if history.run_name and history.run_name != self.border_title:
            self.border_title = history.run_name
        # the figures change several times a second: their fixed-size lines are repainted
        # alone; only a new state label (its width is its text's) lays the header out again
        self.query_one("#run-what", Static).update(what, layout=False)
        if not before or before[2] != state:
            label, style = STATES.get(state, (state, ""))
            self.query_one("#run-state", Static).update(Content.styled(label, style))
        self.query_one("#run-figures", Static).update(figures, layout=False)
        if history.total > 0:
            bar = self.query_one("#run-bar", ProgressBar)
            if not bar.display:
                bar.display = True
            bar.update(total=history.total, progress=min(history.step, history.total))

    @property
    def figures(self) -> str:
        """The progress line as shown (steps, speed, elapsed, ETA)."""
        return self._shown[3] if self._shown else ""

    @property
    def state_label(self) -> str:
        return self._shown[2] if self._shown else ""
