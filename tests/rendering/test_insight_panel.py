"""The panel of what the agent thinks: bars for probabilities and for Q-values, the chosen action
highlighted, the value line, many actions, and agents with nothing to say."""

from __future__ import annotations

import io

import numpy as np
import pytest
from rich.console import Console

from agentapp.engine.insight import PROBABILITIES, Q_VALUES, Insight
from agentapp.rendering.insight import CHOSEN_STYLE, InsightPanel, bar, fractions


def text(panel: InsightPanel, width: int = 40) -> list[str]:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(panel)
    return console.export_text().splitlines()


def test_probabilities_fill_their_share_of_the_bar():
    insight = Insight(PROBABILITIES, [0.1, 0.7, 0.2], value=0.5)
    assert text(InsightPanel(insight, ("left", "right", "noop"), chosen=1)) == [
        "policy π(a|s)",
        "  left  ██▋                        10.0%",
        "▶ right ██████████████████▎        70.0%",
        "  noop  █████▎                     20.0%",
        "V(s)  +0.500",
    ]


def test_q_values_span_the_lowest_to_the_highest_of_the_step():
    insight = Insight(Q_VALUES, [-1.5, 12.25, 3.0, 12.0], value=12.25)
    assert text(InsightPanel(insight, ("NOOP", "FIRE", "UPLEFTFIRE"), chosen=np.int64(1))) == [
        "action values Q(s,a)",
        "  NOOP                             -1.50",
        "▶ FIRE       ████████████████████ +12.25",
        "  UPLEFTFIRE ██████▌               +3.00",
        "  3          ███████████████████▋ +12.00",  # an action the game does not name
        "V(s)  +12.250",
    ]


def test_equal_q_values_all_fill_their_bars():
    assert fractions(Insight(Q_VALUES, [2.0, 2.0])).tolist() == [1.0, 1.0]


def test_numbers_get_fewer_decimals_as_they_grow():
    lines = text(InsightPanel(Insight(Q_VALUES, [-113.0, -11.0]), ("down", "right")))
    assert lines[1].endswith("-113.0") and lines[2].endswith("-11.0")
    lines = text(InsightPanel(Insight(Q_VALUES, [0.01234, -0.5]), ("a", "b")))
    assert lines[1].endswith("+0.012") and lines[2].endswith("-0.500")


def test_the_chosen_action_is_styled_and_nothing_is_before_the_first_move():
    insight = Insight(PROBABILITIES, [0.5, 0.5])
    console = Console(width=40)
    lines = console.render_lines(InsightPanel(insight, ("a", "b"), chosen=1), console.options)
    assert any(seg.text == "▶ " and seg.style == console.get_style(CHOSEN_STYLE)
               for seg in lines[2])
    assert not any("▶" in line for line in text(InsightPanel(insight, ("a", "b"))))


def test_no_critic_and_no_insight_are_said_quietly():
    lines = text(InsightPanel(Insight(PROBABILITIES, [0.5, 0.5]), ("a", "b")))
    assert lines[-1] == "V(s)  none (no critic)"
    assert text(InsightPanel(None, ("a", "b"), chosen=0)) == ["no insight for this agent"]


def test_eighteen_actions_fit_a_narrow_panel():
    names = ("NOOP", "FIRE", "UP", "RIGHT", "LEFT", "DOWN", "UPRIGHT", "UPLEFT", "DOWNRIGHT",
             "DOWNLEFT", "UPFIRE", "RIGHTFIRE", "LEFTFIRE", "DOWNFIRE", "UPRIGHTFIRE",
             "UPLEFTFIRE", "DOWNRIGHTFIRE", "DOWNLEFTFIRE")
    probabilities = np.full(18, 1 / 18)
    lines = text(InsightPanel(Insight(PROBABILITIES, probabilities, 0.0), names, chosen=17),
                 width=34)
    assert len(lines) == 20 and max(len(line) for line in lines) <= 34
    assert lines[-2].startswith("▶ DOWNLEFTFIRE")


def test_width_limits_the_panel_even_when_too_narrow_for_it():
    insight = Insight(PROBABILITIES, [1.0, 0.0])
    assert max(map(len, text(InsightPanel(insight, ("a", "b"), width=20), width=80))) <= 20
    narrow = text(InsightPanel(insight, ("a", "b")), width=8)
    assert max(map(len, narrow)) <= 8 and narrow[1].startswith("  a ██")


@pytest.mark.parametrize(("fraction", "width", "drawn"), [
    (0.0, 4, "    "), (1.0, 4, "████"), (0.5, 4, "██  "), (1 / 32, 4, "▏   "),
    (2.0, 2, "██"), (float("nan"), 2, "  ")])
def test_bars_are_drawn_to_an_eighth_of_a_cell(fraction, width, drawn):
    assert bar(fraction, width) == drawn


def test_an_insight_is_read_only_and_checked():
    insight = Insight(Q_VALUES, np.array([1, 2], dtype=np.float32), value=np.float32(2))
    assert insight.values.dtype == np.float64 and isinstance(insight.value, float)
    assert insight.best == 1
    with pytest.raises(ValueError):
        insight.values[0] = 5.0
    with pytest.raises(ValueError, match="kind"):
        Insight("logits", [0.0])
