"""Requests from outside the training loop: stop, pause, save now, evaluate now.

A front end (a key press, a signal handler, another thread) sets flags on a :class:`Control`; the
loop polls it between updates, which for every method here is a small fraction of a second. Setting
a flag only assigns attributes, so it is safe from a signal handler.
"""

from __future__ import annotations

import threading


class Control:
    """Thread-safe flags the training loop checks between updates."""

    def __init__(self) -> None:
        self._stop_reason: str | None = None
        self._stop_detail = ""
        self._resume = threading.Event()
        self._resume.set()
        self.save_requested = False
        self.eval_requested = False

    # -- requests -------------------------------------------------------------------------
    def stop(self, reason: str = "stopped", detail: str = "") -> None:
        """Ask the loop to save and end; ``reason`` ends up in ``RunFinished.reason`` and
        ``detail`` (why, for a front end's "failed") in its ``detail``."""
        if self._stop_reason is None:
            self._stop_reason = reason
            self._stop_detail = detail
        self._resume.set()  # a paused loop must wake up to stop

    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    def toggle_pause(self) -> None:
        self.resume() if self.paused else self.pause()

    def request_save(self) -> None:
        self.save_requested = True

    def request_eval(self) -> None:
        self.eval_requested = True

    # -- what the loop reads ----------------------------------------------------------------
    @property
    def stop_reason(self) -> str | None:
        return self._stop_reason

    @property
    def stop_detail(self) -> str:
        return self._stop_detail

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    def wait_while_paused(self, timeout: float = 0.1) -> bool:
        """Block up to *timeout* seconds while paused; return True when not paused."""
        return self._resume.wait(timeout)
