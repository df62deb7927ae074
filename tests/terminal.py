"""A program on a pseudo terminal, for tests that need a real terminal: keys typed into it,
what it draws read back, and its terminal settings compared before and after."""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time


def _default_sigint() -> None:
    """In the child, before exec: SIGINT back to its default. A process that ignores SIGINT
    passes that on to the programs it starts (a pytest-xdist worker after a local Ray has run in
    it does), and Python then never raises KeyboardInterrupt: Ctrl+C tests would hang."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Terminal:
    """``agentapp ARGS...`` running on a fresh pseudo terminal (100x30 by default)."""

    def __init__(self, *args: str, size: tuple[int, int] = (100, 30),
                 env: dict[str, str] | None = None) -> None:
        self.master, self.slave = os.openpty()
        columns, lines = size
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        self.before = termios.tcgetattr(self.slave)
        env = {**os.environ, "TERM": "xterm-256color", "PYTHONUNBUFFERED": "1",
               "COLUMNS": str(columns), "LINES": str(lines), **(env or {})}
        env.pop("NO_COLOR", None)
        self.proc = subprocess.Popen([sys.executable, "-m", "agentapp", *args],
                                     stdin=self.slave, stdout=self.slave, stderr=self.slave,
                                     env=env, start_new_session=True,
                                     preexec_fn=_default_sigint)
        self.output = ""

    def read_until(self, pattern: str, timeout: float = 60.0) -> str:
        """Read what the program draws until *pattern* (a regex) appears in the new output."""
        deadline, start = time.monotonic() + timeout, len(self.output)
        while not re.search(pattern, self.output[start:]):
            assert time.monotonic() < deadline, f"no {pattern!r} in: {self.output[-2000:]!r}"
            self._pump(0.1)
            if self.proc.poll() is not None:
                self._pump(0.2)
                assert re.search(pattern, self.output[start:]), self.output[-2000:]
        return self.output[start:]

    def _pump(self, timeout: float) -> None:
        while select.select([self.master], [], [], timeout)[0]:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # the slave side closed
                return
            if not chunk:
                return
            self.output += chunk.decode(errors="replace")
            timeout = 0.0

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def finish(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            assert time.monotonic() < deadline, "watch did not exit"
            self._pump(0.1)
        self._pump(0.2)
        return self.proc.returncode

    def restored(self) -> bool:
        """The terminal's settings are the ones found at the start (echo, line mode, ...)."""
        return termios.tcgetattr(self.slave) == self.before

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
        os.close(self.slave)
