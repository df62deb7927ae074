"""The statistics panel: the latest value of every figure the run reports, one per line.

Methods report different things (epsilon and the replay fill for DQN, KL and the clip fraction
for PPO, a Bellman residual for the planners), so the panel lists whatever keys arrive: the
well-known ones first under readable names, then any other key under its own name.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from agentapp.tui.history import RunHistory
from agentapp.tui.widgets.formatting import fmt_count, fmt_metric, fmt_return, label_of

ORDER = (
    "charts/epsilon", "losses/entropy", "charts/learning_rate", "charts/clip_range",
    "charts/alpha", "losses/approx_kl", "losses/clip_fraction", "charts/grad_norm",
    "losses/grad_norm", "losses/explained_variance", "charts/replay_fill",
    "charts/policy_changes",
)
"""The figures that say how exploration and optimisation are going, in the order shown."""

NOT_LISTED = frozenset({"charts/sps", "eval/mean_return", "eval/std_return",
                        "charts/episode_return", "charts/episode_length"})
"""Keys shown elsewhere: the speed in the header, returns and lengths in their own lines."""


def stat_rows(history: RunHistory) -> list[tuple[str, str]]:
    """``(label, value)`` lines for *history*, in display order."""
    latest = history.latest
    rows = [("episodes", fmt_count(history.episodes) if history.episodes else "—")]
    length = history.last_length if history.last_length is not None else \
        latest.get("charts/episode_length")
    if length is not None:
        rows.append(("episode length", fmt_count(length)))
    if history.mean_length is not None:
        rows.append((f"mean length ({history.window})", f"{history.mean_length:,.1f}"))
    if "eval/mean_return" in latest:
        text = fmt_return(latest["eval/mean_return"])
        if "eval/std_return" in latest:
            text += f" ± {fmt_return(latest['eval/std_return'])}"
        rows.append(("last evaluation", text))
    known = [key for key in ORDER if key in latest]
    losses = sorted(k for k in latest if k.startswith("losses/") and k not in known)
    others = sorted(k for k in latest if k not in NOT_LISTED and k not in known
                    and k not in losses)
    rows += [(label_of(key), fmt_metric(key, latest[key])) for key in (*known, *losses, *others)]
    return rows


class StatsPanel(Static):
    """Label / value lines, labels muted, values right-aligned in a column."""

    DEFAULT_CSS = """
    StatsPanel { height: 1fr; overflow-y: auto; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes)
        self._shown: list[tuple[str, str]] = []

    def show(self, history: RunHistory) -> None:
        rows = stat_rows(history)
        if rows == self._shown:
            return  # nothing new: spare the repaint
        # the same lines with new values: repaint in place; new lines: lay out (scrollbar)
        same_lines = len(rows) == len(self._shown)
        self._shown = rows
        width = max(len(label) for label, _ in rows) + 2
        lines = []
        for label, value in rows:
            lines.append(Content.assemble((label.ljust(width), "$text-muted"), (value, "bold")))
        self.update(Content("\n").join(lines), layout=not same_lines)

    @property
    def rows(self) -> list[tuple[str, str]]:
        """What is shown, for tests and screen readers of the model."""
        return list(self._shown)
