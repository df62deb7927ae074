"""The home screen's pickers: every game by family (with a filter), and the methods for one game.

About a hundred games are listed (the Atari ROMs), so the game list takes a filter and shows a
heading per family. The method list shows every method the app has: those that suit the game
can be chosen, the others are greyed out with the reason, which is the reason ``agentapp list``
gives (``algorithms.unsuitable_reason``), so the user learns why rather than wondering where
a method went.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option, OptionDoesNotExist

FAMILY_TITLES = {
    "gridworld": "Gridworld maps",
    "classic": "Classic control",
    "atari": "Atari 2600",
}
"""Headings of the families; others are shown by their own name."""


def family_title(family: str) -> str:
    return FAMILY_TITLES.get(family, family.title())


def matches(game: Any, text: str) -> bool:
    """Whether *game* answers the filter *text* (its id, description or family, any case)."""
    needle = text.strip().lower()
    if not needle:
        return True
    haystack = f"{game.id} {game.description} {game.family} {family_title(game.family)}"
    return needle in haystack.lower()


class GameList(OptionList):
    """Games grouped under their family's heading; option ids are the game ids."""

    def __init__(self, games: list[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.games = {game.id: game for game in games}
        self.filter_text = ""

    def apply_filter(self, text: str, keep: str | None = None) -> None:
        """Show the games that match *text*, highlighting *keep* if it is among them, else the
        first one shown."""
        self.filter_text = text
        options: list[Option] = []
        family = None
        for game in self.games.values():
            if not matches(game, text):
                continue
            if game.family != family:
                family = game.family
                heading = Text(f"── {family_title(family)} ", style="bold")
                options.append(Option(heading, disabled=True))
            prompt = Text.assemble((game.id, "bold"), "  ", (game.description, "dim"),
                                   no_wrap=True, overflow="ellipsis")
            options.append(Option(prompt, id=game.id))
        self.set_options(options)
        shown = [o.id for o in options if o.id is not None]
        target = keep if keep in shown else (shown[0] if shown else None)
        if target is not None:
            self.highlighted = self.get_option_index(target)

    @property
    def shown(self) -> list[str]:
        """Ids of the games the filter lets through, in order."""
        return [o.id for o in self.options if o.id is not None]

    @property
    def game(self) -> Any | None:
        """The highlighted game."""
        option = self.highlighted_option
        return None if option is None or option.id is None else self.games[option.id]


class MethodList(OptionList):
    """The methods for one game: suitable ones first (the game's default at the top, starred),
    then the unsuitable ones, disabled, each with its reason. Option ids are the ``--algo``
    names."""

    def show_game(self, game: Any) -> None:
        from agentapp.engine import algorithms

        fits = algorithms.suitable(game)
        ordered = sorted(fits, key=lambda name: name != game.default_algo)
        options: list[Option | None] = []
        for name in ordered:
            cls = algorithms.ALGORITHMS[name]
            mark = "★ " if name == game.default_algo else "  "  # the game's default method
            options.append(Option(Text.assemble(mark, (name, "bold"), "  ", (cls.title, "dim")),
                                  id=name))
        unsuitable = [(n, c) for n, c in algorithms.ALGORITHMS.items() if n not in fits]
        if unsuitable and options:
            options.append(None)
        for name, cls in unsuitable:
            # the reason `agentapp list` gives, less the method's name, shown just above it
            reason = (algorithms.unsuitable_reason(cls, game) or "").removeprefix(f"{name} ")
            options.append(Option(Text.assemble("  ", (name, "bold"), "\n",
                                                (f"  ✗ {reason}", "italic")),
                                  id=name, disabled=True))
        self.set_options(options)
        if ordered:
            self.highlighted = self.get_option_index(ordered[0])

    def select_method(self, name: str) -> bool:
        """Highlight method *name*; False when it is not there or not suitable."""
        try:
            option = self.get_option(name)
        except OptionDoesNotExist:
            return False
        if option.disabled:
            return False
        self.highlighted = self.get_option_index(name)
        return True

    @property
    def method(self) -> str | None:
        option = self.highlighted_option
        return None if option is None or option.disabled else option.id

    def reason(self, name: str) -> str | None:
        """The text shown for method *name* (its reason when disabled)."""
        option = self.get_option(name)
        return str(option.prompt) if option.disabled else None
