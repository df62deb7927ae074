"""A small live picture of the game the agent is learning, from the engine's ``Frame`` events.

The engine sends a few frames a second (throttled at the source) and the messages coalesce, so
each frame is simply drawn when it comes, shrunk to the panel with
:class:`~agentapp.rendering.pixels.PixelFrame`. Games that send no pictures get a sentence
instead of an empty box.
"""

from __future__ import annotations

from rich.align import Align
from textual.app import RenderResult
from textual.content import Content
from textual.widget import Widget

from agentapp.engine.events import Frame
from agentapp.rendering.pixels import PixelFrame, as_rgb

NOT_AVAILABLE = "The live view is not available for this game."


class LiveView(Widget):
    """The latest frame, centred, with its step underneath."""

    DEFAULT_CSS = """
    LiveView { height: 1fr; width: 1fr; }
    LiveView.-empty { color: $text-muted; content-align: center middle; text-align: center; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.frame: Frame | None = None
        self.frames = 0
        self.add_class("-empty")

    def show_frame(self, frame: Frame) -> bool:
        """Draw *frame*; False (and nothing drawn) when its image is not an RGB picture."""
        try:
            as_rgb(frame.image)
        except ValueError:
            return False
        self.frame = frame
        self.frames += 1
        self.remove_class("-empty")
        self.refresh()
        return True

    def render(self) -> RenderResult:
        if self.frame is None:
            return Content(NOT_AVAILABLE)
        width, height = self.content_size
        picture = PixelFrame(self.frame.image, max_width=max(width, 1),
                             max_height=max(height, 2), caption=f"step {self.frame.step:,}")
        return Align.center(picture, vertical="middle")
