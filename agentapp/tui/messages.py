"""Messages the training runner posts to the TUI.

The runner works off the UI thread; it wraps each engine event in :class:`EngineEvent` and posts
it to the screen that started it (``post_message`` is thread-safe). Frames are coalescible: when a
newer frame is waiting, the older one is dropped, so a slow terminal never queues pictures.
"""

from __future__ import annotations

from textual.message import Message

from agentapp.engine.events import Event, Frame


class EngineEvent(Message):
    """One event of ``engine.train`` (RunStarted, Metrics, EpisodeEnded, Frame, ...)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event

    def can_replace(self, message: Message) -> bool:
        # a newer picture of the game replaces one that has not been drawn yet
        return (isinstance(message, EngineEvent) and isinstance(self.event, Frame)
                and isinstance(message.event, Frame))


class RunnerFailed(Message):
    """Training could not start or crashed: *text* is one line for the user."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class RunnerExited(Message):
    """The training thread or process has ended (after its RunFinished, if it got that far)."""
