"""Single key presses for ``agentapp watch``, read without Enter and without echo.

Watching runs in a plain terminal (Rich ``Live``, no Textual), yet pause, step and speed keys
must act at once. :class:`KeyReader` puts the terminal in cbreak mode (keys arrive one by one,
unechoed; Ctrl+C still interrupts) for the length of a ``with`` block and always puts back the
exact settings it found, whatever ends the block: the end of the episodes, ``q``, Ctrl+C or an
error. When stdin is not a terminal (piped, CI) it reads nothing and changes nothing.
"""

from __future__ import annotations

import os
import select
import sys
from typing import Any, TextIO

ESCAPE = "\x1b"


class KeyReader:
    """``with KeyReader() as keys: key = keys.read(timeout)``: one key, or None after *timeout*
    seconds without one."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdin
        self._fd: int | None = None
        self._saved: list[Any] | None = None

    @property
    def active(self) -> bool:
        """True when keys are being read (stdin is a terminal)."""
        return self._saved is not None

    def __enter__(self) -> KeyReader:
        try:
            fd = self.stream.fileno()
        except (AttributeError, OSError, ValueError):  # a StringIO, a closed stream
            return self
        if not os.isatty(fd):
            return self
        import termios
        import tty

        self._fd, self._saved = fd, termios.tcgetattr(fd)
        tty.setcbreak(fd)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._saved is not None and self._fd is not None:
            import termios

            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
            self._saved = None

    def read(self, timeout: float) -> str | None:
        """The next key pressed within *timeout* seconds (sleeps that long when inactive). An
        escape sequence (arrow keys and the like) comes back whole."""
        if self._fd is None or self._saved is None:
            if timeout > 0:
                select.select([], [], [], timeout)
            return None
        ready, _, _ = select.select([self._fd], [], [], max(0.0, timeout))
        if not ready:
            return None
        key = os.read(self._fd, 1).decode(errors="replace")
        if key == ESCAPE:  # a lone Escape, or the start of a sequence: take what follows at once
            while select.select([self._fd], [], [], 0.01)[0]:
                key += os.read(self._fd, 1).decode(errors="replace")
        return key
