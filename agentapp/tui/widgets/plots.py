"""The dashboard's two plots: episode returns, and the method's losses.

Plotext builds a plot in Python: a wide plot costs tens of milliseconds, taken from the cores
that train. So the plots never redraw per event: the screen calls :meth:`HistoryPlot.show` on a
timer, the data are handed to plotext only when the widget is painted, thinned to about two
points per column (a plot cannot show more), and the built picture is reused until the data, the
size or the theme change. New data are drawn at most once a second, and less often when a build
is slow, so that each plot keeps to :data:`CPU_SHARE` of one core whatever the terminal's size.

Colours come from the theme through component classes, so both dark and light themes work.
"""

from __future__ import annotations

import time
from typing import ClassVar

from plotext._dict import themes as plotext_themes
from rich.text import Text
from textual.app import RenderResult
from textual.content import Content
from textual_plotext import PlotextPlot

from agentapp.tui.history import RunHistory, Series
from agentapp.tui.widgets.formatting import fmt_metric, fmt_return, label_of

LOG_SCALE_SPAN = 100.0
"""A strictly positive series whose largest value is this many times its smallest is drawn on a
log scale: two decades or more, where a linear axis flattens everything but the start."""

MIN_INTERVAL = 2.0
"""Seconds between two drawings of new data in a plot, at the least."""

CPU_SHARE = 0.01
"""The share of one core a plot may spend building itself: the next drawing of new data waits
``build time / CPU_SHARE`` seconds (1 s for a 20 ms build, 3 s for a 60 ms one)."""

LOSS_PRIORITY = ("losses/td_loss", "losses/value_loss", "losses/bellman_residual",
                 "losses/td_error", "losses/policy_loss")
"""Which loss is shown first: the one that says most about whether the method learns."""


def _rgb(color, fallback: tuple[int, int, int]) -> tuple[int, int, int]:
    """A Rich colour as an RGB triple (plotext's form), *fallback* when it has none."""
    triplet = color.get_truecolor() if color is not None else None
    return (triplet.red, triplet.green, triplet.blue) if triplet else fallback


def wants_log_scale(series: Series) -> bool:
    low, high = series.lowest, series.best
    return low is not None and high is not None and low > 0 and high / low >= LOG_SCALE_SPAN


class HistoryPlot(PlotextPlot):
    """A plot of a :class:`RunHistory`; shows *placeholder* until there is something to draw."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "plot--points", "plot--line", "plot--marks", "plot--empty",
    }
    DEFAULT_CSS = """
    HistoryPlot { background: $surface; }
    HistoryPlot > .plot--points { color: $foreground 45%; }
    HistoryPlot > .plot--line { color: $accent; }
    HistoryPlot > .plot--marks { color: $success; }
    HistoryPlot > .plot--empty { color: $text-muted; }
    """

    def __init__(self, title: str, placeholder: str, *, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = title
        self.placeholder = placeholder
        self.history: RunHistory | None = None
        self._version = 0
        self._built_key: tuple | None = None
        self._built: RenderResult | None = None
        self.waiting = False
        """New data are waiting to be drawn."""
        self.next_drawing = 0.0
        """``time.monotonic()`` before which new data wait (see :data:`CPU_SHARE`)."""

    def ended(self, nothing: str) -> None:
        """Training is over: an empty plot says *nothing* instead of waiting, and the last
        data are drawn now."""
        self.placeholder = nothing
        self.flush(now=True)
        self.refresh()

    def show(self, history: RunHistory, now: bool = False) -> None:
        """New data: drawn (titles too) when the last drawing is old enough, or at once when
        *now*; otherwise kept for :meth:`flush`."""
        self.history = history
        self.waiting = True
        self.flush(now)

    def flush(self, now: bool = False) -> bool:
        """Draw data that were waiting, if it is time (or *now*); True when it drew."""
        if not self.waiting or self.history is None or \
                (not now and time.monotonic() < self.next_drawing):
            return False
        self.waiting = False
        self._version += 1
        self.retitle(self.history)
        self.refresh()
        return True

    def retitle(self, history: RunHistory) -> None:
        """Set the border title and subtitle from *history*."""

    def has_data(self) -> bool:
        raise NotImplementedError

    def draw(self, width: int) -> None:
        """Hand the data to ``self.plt`` (already cleared) for a plot *width* cells wide."""
        raise NotImplementedError

    def _get_plotext_theme_name(self, app_theme_name: str) -> str:
        """A plotext theme made from this widget's own resolved colours, registered on first use.

        textual-plotext registers a theme when the app's theme-changed signal arrives; a plot
        built before that (or from variables not yet updated) came out in plotext's default
        black. Deriving the theme from the widget's current style at build time cannot lag."""
        style = self.rich_style
        canvas = _rgb(style.bgcolor, (0, 0, 0))
        ink = _rgb(style.color, (255, 255, 255))
        name = f"agentapp-{canvas}-{ink}"
        if name not in plotext_themes:
            plotext_themes[name] = (canvas, canvas, ink, "default",
                                    list(plotext_themes["default"][4]))
        return name

    def _register_theme(self, app_theme_name: str) -> None:
        """The theme is derived at build time (see :meth:`_get_plotext_theme_name`)."""
        self.refresh()

    def _palette(self) -> tuple:
        """The colours a drawing uses: the widget's own and its components'."""
        components = sorted(self.COMPONENT_CLASSES)
        return (str(self.rich_style),
                *(str(self.get_component_rich_style(name)) for name in components))

    def rgb(self, component: str) -> tuple[int, int, int]:
        return _rgb(self.get_component_rich_style(component).color, (128, 128, 128))

    def render(self) -> RenderResult:
        if self.history is None or not self.has_data():
            return Text(self.placeholder, style=self.get_component_rich_style("plot--empty"),
                        justify="center")
        # The colours themselves are part of the key: a theme switch restyles the widget a
        # moment after ``app.theme`` changes, and a plot built in between must not stay stale.
        key = (self.size, self._version, self._palette())
        if key != self._built_key or self._built is None:
            began = time.perf_counter()
            self.plt.clear_figure()
            self.draw(self.size.width)
            self._built, self._built_key = super().render(), key
            cost = time.perf_counter() - began
            self.next_drawing = time.monotonic() + max(MIN_INTERVAL, cost / CPU_SHARE)
        return self._built


class ReturnPlot(HistoryPlot):
    """Every training episode's return as points, their moving mean as a line, and the mean
    return of each evaluation as diamonds."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("episode return", "waiting for the first episode…", id=id,
                         classes=classes)

    def has_data(self) -> bool:
        h = self.history
        return h is not None and (h.returns.count > 0 or h.evals.count > 0)

    def retitle(self, history: RunHistory) -> None:
        returns = history.returns
        title = "episode return"
        if returns.count:
            title += f" · last {fmt_return(returns.last)} · best {fmt_return(returns.best)}"
        self.border_title = title
        # the legend, with the latest of each line, sits in the frame: no room lost inside
        mean = f": {fmt_return(history.mean_return)}" if returns.count else ""
        evaluation = f": {fmt_return(history.evals.last)}" if history.evals.count else ""
        self.border_subtitle = Content.assemble(
            ("•", "$foreground 45%"), " episodes  ", ("━", "$accent"),
            f" mean of {history.window}{mean}  ", ("◆", "$success"), f" eval{evaluation}",
        )

    def draw(self, width: int) -> None:
        h, plt = self.history, self.plt
        assert h is not None
        most = max(2 * width, 16)
        if h.returns.count:
            xs, ys = h.returns.points(most)
            plt.scatter(xs, ys, marker="braille", color=self.rgb("plot--points"))
            xs, ys = h.returns_mean.points(most)
            plt.plot(xs, ys, marker="braille", color=self.rgb("plot--line"))
        if h.evals.count:
            xs, ys = h.evals.points(most)
            plt.scatter(xs, ys, marker="◆", color=self.rgb("plot--marks"))
        plt.xlabel(h.unit)


class LossPlot(HistoryPlot):
    """One of the method's ``losses/`` series at a time (they differ in scale by decades);
    :meth:`next_series` moves to the next one."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("losses", "no losses reported yet", id=id, classes=classes)
        self.selected: str | None = None

    def keys(self) -> list[str]:
        if self.history is None:
            return []
        present = self.history.losses
        first = [key for key in LOSS_PRIORITY if key in present]
        return first + sorted(key for key in present if key not in first)

    def next_series(self) -> str | None:
        """Show the next loss; returns its key (None when there is none)."""
        keys = self.keys()
        if not keys:
            return None
        index = keys.index(self.selected) + 1 if self.selected in keys else 0
        self.selected = keys[index % len(keys)]
        if self.history is not None:
            self.show(self.history, now=True)  # the user asked: draw it at once
        return self.selected

    def has_data(self) -> bool:
        return self.selected is not None

    def retitle(self, history: RunHistory) -> None:
        keys = self.keys()
        if self.selected not in keys:
            self.selected = keys[0] if keys else None
        if self.selected is None:
            self.border_title, self.border_subtitle = "losses", ""
            return
        series = history.losses[self.selected]
        self.border_title = (f"losses · {label_of(self.selected)} "
                             f"{fmt_metric(self.selected, series.last)}")
        scale = "log scale" if wants_log_scale(series) else "linear"
        more = f" · l: next loss ({keys.index(self.selected) + 1}/{len(keys)})" \
            if len(keys) > 1 else ""
        self.border_subtitle = f"{scale}{more}"

    def draw(self, width: int) -> None:
        h, plt = self.history, self.plt
        assert h is not None and self.selected is not None
        series = h.losses[self.selected]
        xs, ys = series.points(max(2 * width, 16))
        plt.plot(xs, ys, marker="braille", color=self.rgb("plot--line"))
        if wants_log_scale(series):
            plt.yscale("log")
        plt.xlabel(h.unit)
