"""The one exception type that means "the user asked for something we cannot do".

Engine, games and run-folder code raise :class:`UserError` for bad input (unknown names, invalid
values, unreadable files). The front ends turn it into one clear line on stderr and exit code 2;
anything else is a bug and keeps its traceback. It lives outside every package so that the engine
can raise it without importing a UI.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """Bad input: shown to the user as one line, exit code 2."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return `` (did you mean: a, b?)`` for the nearest of *choices*, or an empty string."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    return f" (did you mean: {', '.join(close)}?)" if close else ""
