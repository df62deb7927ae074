"""The banner that tells how training ended, and what to do next.

It stays above the panels (which keep the whole run on screen) until the user closes the
dashboard; the exit code it announces is the one the shell gets, as with headless training.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from agentapp import runs
from agentapp.engine.events import EXIT_CODES, RunFinished
from agentapp.tui.widgets.formatting import fmt_duration, fmt_return

VERDICTS = {"budget": "done", "converged": "converged", "target": "target reached",
            "interrupted": "stopped", "terminated": "stopped (SIGTERM)", "failed": "FAILED"}

CLOSE_HINT = "press Enter or q to close"

NO_CHECKPOINT = runs.NO_CHECKPOINT


def exit_code_for(reason: str) -> int:
    """The shell's exit code for a run that ended for *reason* (any other stop: interrupted)."""
    return EXIT_CODES.get(reason, 130)


def verdict_for(reason: str) -> str:
    return VERDICTS.get(reason, "stopped")


def resume_line(game: str, run_dir: str) -> Content:
    """"resume with: COMMAND" when *run_dir* can be resumed, else that it cannot."""
    if not runs.can_resume(run_dir):
        return Content.styled(NO_CHECKPOINT, "$text-muted")
    return Content.assemble(("resume with: ", "$text-muted"),
                            (runs.resume_command(game, run_dir), "bold"))


class ResultBanner(Static):
    """Hidden while training; :meth:`show_result` or :meth:`show_failure` make it appear."""

    DEFAULT_CSS = """
    ResultBanner {
        display: none; height: auto; padding: 0 1;
        border: heavy $success; background: $success 10%;
    }
    ResultBanner.-shown { display: block; }
    ResultBanner.-stopped { border: heavy $warning; background: $warning 10%; }
    ResultBanner.-failed { border: heavy $error; background: $error 15%; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.text = ""

    def show_result(self, finished: RunFinished, unit: str, game: str) -> None:
        verdict = verdict_for(finished.reason)
        headline = f"{verdict} · {finished.step:,} {unit} in {fmt_duration(finished.elapsed)}"
        if finished.eval_mean is not None:
            headline += f" · final evaluation mean {fmt_return(finished.eval_mean)}"
        lines = [Content.styled(headline, "bold")]
        if finished.detail:
            lines.append(Content(finished.detail))
        if exit_code_for(finished.reason):  # stopped or failed: carry on from its checkpoint
            lines.append(resume_line(game, finished.run_dir))
        else:
            lines.append(Content.assemble(
                ("watch it: ", "$text-muted"),
                (runs.watch_command(finished.run_dir), "bold")))
        lines.append(Content.styled(CLOSE_HINT, "$text-muted"))
        kind = {"failed": "-failed", "budget": "", "converged": "", "target": ""}
        self._show(lines, kind.get(finished.reason, "-stopped"), f"training {verdict}")

    def show_failure(self, text: str, game: str = "", run_dir: str | None = None) -> None:
        """*text*: why; *game* and *run_dir*: the run that failed (None: it never started)."""
        what = "training could not start" if run_dir is None else "training failed"
        lines = [Content.styled(f"{what}: {text}", "bold")]
        if run_dir is not None:
            lines.append(resume_line(game, run_dir))
        lines.append(Content.styled(CLOSE_HINT, "$text-muted"))
        self._show(lines, "-failed", what)

    def show_stopped(self, step: int, unit: str, game: str, run_dir: str | None) -> None:
        """Training stopped on request before it could report a result (*run_dir* None: it
        stopped before it started)."""
        lines = [Content.styled(f"stopped at {step:,} {unit}", "bold")]
        if run_dir is not None:
            lines.append(resume_line(game, run_dir))
        lines.append(Content.styled(CLOSE_HINT, "$text-muted"))
        self._show(lines, "-stopped", "training stopped")

    def _show(self, lines: list[Content], kind: str, title: str) -> None:
        self.text = "\n".join(line.plain for line in lines)
        self.border_title = title
        self.remove_class("-stopped", "-failed")
        self.add_class("-shown", *([kind] if kind else []))
        self.update(Content("\n").join(lines))
