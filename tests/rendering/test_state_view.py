"""The named-state table fits its bars to the room it has, and never cuts a name or a number."""

from __future__ import annotations

from rich.console import Console

from agentapp.rendering.state_view import StateView

NAMES = ["cart position", "cart velocity", "pole angle", "pole angular velocity"]
VALUES = [0.0123, -1.5, 0.2095, 2.0]
SCALES = [2.4, 3.0, 0.2095, 3.5]


def drawn(width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    console.print(StateView(VALUES, NAMES, SCALES))
    return console.export_text().splitlines()


def test_a_wide_panel_gets_full_bars_with_the_zero_mark():
    lines = drawn(100)
    assert len(lines) == 4
    assert all("│" in line for line in lines)
    assert "█" * 10 in lines[2]  # the pole angle at its scale fills half a bar (10 of 21)


def test_a_narrow_panel_keeps_every_name_and_number_and_drops_the_bars():
    lines = drawn(36)
    for line, name, value in zip(lines, NAMES, VALUES, strict=True):
        assert name in line and f"{value:+.4f}" in line
        assert "│" not in line and "…" not in line


def test_a_middling_panel_gets_shorter_bars():
    lines = drawn(48)
    assert all("│" in line and len(line.rstrip()) <= 48 for line in lines)
    assert "-1.5000" in lines[1]
