"""Numbers and durations as the dashboard prints them.

Metrics span many magnitudes (a learning rate of 3e-4, a replay buffer of 1,000,000, a return of
-0.05), so one rule keeps them readable: about four significant digits, scientific notation only
for the very small or very large, thousands separators for counts.
"""

from __future__ import annotations

import math


def fmt_value(value: float | None) -> str:
    """A metric value with about four significant digits; ``—`` when unknown."""
    if value is None:
        return "—"
    if not math.isfinite(value):
        return str(value)
    magnitude = abs(value)
    if magnitude == 0:
        return "0"
    if magnitude >= 1e6 or magnitude < 1e-3:
        return f"{value:.2e}"
    if magnitude >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def fmt_return(value: float | None) -> str:
    """An episode return or evaluation mean: two decimals, like the CLI's summaries."""
    return "—" if value is None else f"{value:,.2f}"


def fmt_percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def fmt_count(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def fmt_duration(seconds: float | None) -> str:
    """``1:02:03`` (or ``2d 03:04:05`` past a day); ``—`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    whole = max(round(seconds), 0)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{hours}:{minutes:02d}:{secs:02d}"


LABELS = {
    "losses/td_loss": "TD loss",
    "losses/td_error": "TD error",
    "losses/policy_loss": "policy loss",
    "losses/value_loss": "value loss",
    "losses/entropy": "entropy",
    "losses/explained_variance": "explained variance",
    "losses/q_values": "mean Q value",
    "losses/bellman_residual": "Bellman residual",
    "losses/approx_kl": "KL (approx.)",
    "losses/clip_fraction": "clip fraction",
    "losses/grad_norm": "gradient norm",
    "charts/grad_norm": "gradient norm",
    "charts/epsilon": "epsilon",
    "charts/learning_rate": "learning rate",
    "charts/replay_fill": "replay fill",
    "charts/clip_range": "clip range",
    "charts/alpha": "alpha (step size)",
    "charts/policy_changes": "policy changes",
    "charts/episode_length": "episode length",
    "charts/episode_return": "episode return",
    "charts/sps": "steps / s",
    "eval/mean_return": "last evaluation",
    "eval/std_return": "evaluation std",
}
"""Readable names of the metric keys the methods emit; any other key is shown as it is."""

FORMATS = {
    "charts/replay_fill": fmt_percent,
    "losses/clip_fraction": fmt_percent,
    "charts/policy_changes": fmt_count,
}
"""Keys that read better as a share or a count than as a plain value."""


def label_of(key: str) -> str:
    return LABELS.get(key, key)


def fmt_metric(key: str, value: float | None) -> str:
    return FORMATS.get(key, fmt_value)(value)
