"""Game frames at full resolution through the terminal's own image protocols (kitty, sixel).

Half-block cells (:mod:`agentapp.rendering.pixels`) work in every terminal but show at most two
pixels per cell. Terminals that speak an image protocol can show the frame's real pixels:
kitty's graphics protocol (kitty, Ghostty) or sixel (foot, WezTerm, Konsole, xterm -ti vt340,
mlterm, iTerm2). The escape sequences come from the textual-image library (``pip install
'agentapp[graphics]'``); agentapp encodes no protocol itself.

How to draw is chosen with ``agentapp watch --graphics`` or the ``AGENTAPP_GRAPHICS`` variable:

* ``cells`` (the default): half blocks, as always. Nothing asks the terminal anything.
* ``auto``: ask the terminal, sixel first, then kitty (textual-image's order: kitty does not
  speak sixel, and WezTerm and Konsole answer kitty's query but draw textual-image's kitty
  pictures wrongly); half blocks when it speaks neither, when textual-image is missing, or when
  stdin or stdout is not a terminal (a pipe, a log, CI). Never an error.
* ``kitty`` / ``sixel``: that protocol or one clear error (exit 2) saying why not.

The terminal app (``agentapp`` with no command, ``agentapp train`` in a terminal) reads
``AGENTAPP_GRAPHICS`` only, asks before it starts (:func:`choose_for_app`), and draws half blocks
when the protocol asked for cannot be used: it has no line to print an error on.

``cells`` stays the default because asking is not free: textual-image writes a query to the
terminal and reads the answer from stdin for up to 0.1 s per protocol (a key typed meanwhile can
be lost), and a multiplexer (tmux, screen) answers for itself, not for the terminal around it.

textual-image queries the terminal when it is *imported*, so it is imported here only, and only
after a protocol was asked for and both stdin and stdout are terminals; ``import agentapp`` and
the default path never load it.

Each frame is fitted to the room it is given keeping its aspect ratio: a small frame (Atari's
160x210) grows by a whole factor with nearest-neighbour pixels, so the pixel art stays sharp; a
big one (CartPole's 600x400) shrinks by area averaging, like the half blocks. The picture is
centred on black in whole cells (the protocols place images cell by cell).

With kitty every frame is a new image held by the terminal; they are not deleted one by one
(textual-image's delete removes every visible placement), and kitty drops the oldest images
when its storage quota (320 MB by default) is full.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import sys
from typing import TYPE_CHECKING, Any

from agentapp.errors import UserError
from agentapp.rendering.pixels import as_rgb

if TYPE_CHECKING:
    import numpy as np
    from rich.console import Console, ConsoleOptions, RenderResult

CELLS, AUTO, KITTY, SIXEL = "cells", "auto", "kitty", "sixel"
CHOICES = (CELLS, AUTO, KITTY, SIXEL)
PROTOCOLS = (KITTY, SIXEL)
ENV_VAR = "AGENTAPP_GRAPHICS"
INSTALL = "pip install 'agentapp[graphics]'"


def check_choice(value: str | None) -> str:
    """*value* as one of :data:`CHOICES` (None or empty: ``cells``); UserError otherwise."""
    choice = (value or CELLS).strip().lower()
    if choice not in CHOICES:
        raise UserError(f"unknown graphics {value!r}: choose one of {', '.join(CHOICES)} "
                        f"(from --graphics or {ENV_VAR})")
    return choice


def installed() -> bool:
    """True when textual-image can be imported (it is not imported here)."""
    return importlib.util.find_spec("textual_image") is not None


def on_a_terminal() -> bool:
    """True when stdin and stdout are both terminals: the only case where a terminal can be
    asked what it speaks (the question goes out on stdout, the answer comes back on stdin)."""
    for stream in (sys.stdin, sys.stdout, sys.__stdin__, sys.__stdout__):
        try:
            if stream is None or not stream.isatty():
                return False
        except (AttributeError, ValueError):  # a closed or a fake stream
            return False
    return True


def _library() -> Any:
    """``textual_image.renderable``, imported (which asks the terminal, once per process)."""
    # textual-image logs a warning when a terminal does not say its cell size; a library's log
    # lines are not the user's business unless the application sets up logging
    logging.getLogger("textual_image").addHandler(logging.NullHandler())
    from textual_image import renderable

    return renderable


def _speaks(protocol: str) -> bool:
    lib = _library()
    if protocol == SIXEL:
        return lib.Image is lib.SixelImage
    if lib.Image is lib.TGPImage:
        return True
    # textual-image stops at sixel; a terminal that speaks both is asked about kitty too
    return lib.Image is lib.SixelImage and lib.tgp.query_terminal_support()


def _found() -> str | None:
    lib = _library()
    return {lib.SixelImage: SIXEL, lib.TGPImage: KITTY}.get(lib.Image)


def choose(choice: str) -> str:
    """The way to draw frames for *choice* (see the module docstring): ``cells``, ``kitty`` or
    ``sixel``. Asks the terminal only for ``auto``, ``kitty`` and ``sixel``; UserError when an
    explicitly asked protocol cannot be used."""
    choice = check_choice(choice)
    if choice == CELLS:
        return CELLS
    if choice == AUTO:
        if not (installed() and on_a_terminal()):
            return CELLS
        found = _found()
        protocol = found or CELLS
    else:
        if not installed():
            raise UserError(f"{choice} graphics need the textual-image library: {INSTALL}")
        if not on_a_terminal():
            raise UserError(f"{choice} graphics need a terminal on stdin and stdout; "
                            "use --graphics cells (the default) in pipes and logs")
        if not _speaks(choice):
            raise UserError(f"this terminal does not answer to {choice} graphics; "
                            "use --graphics cells (the default) or --graphics auto")
        protocol = choice
    if protocol != CELLS:
        cell_pixels()  # asked now, while nothing else reads stdin (and then remembered)
    return protocol


def choose_for_app(value: str | None) -> str:
    """How the terminal app draws pixel games for *value* (``AGENTAPP_GRAPHICS``), asked before
    the app starts (Textual then reads all of stdin, answers included). An unknown *value* is a
    UserError; a protocol that cannot be used is half blocks (``cells``), never an error: the
    app has no line to print one on."""
    choice = check_choice(value)
    try:
        return choose(choice)
    except UserError:
        return CELLS


def cell_pixels() -> tuple[int, int]:
    """``(width, height)`` of one terminal cell in pixels, as textual-image measures it (asked
    once; 10x20 when the terminal does not say)."""
    _library()
    # textual-image 0.12 keeps this in a private module; its renderables call the same function
    from textual_image._terminal import get_cell_size

    size = get_cell_size()
    return size.width, size.height


def fit_pixels(height: int, width: int, room: tuple[int, int]) -> tuple[int, int]:
    """``(pixel rows, pixel columns)`` of a *height* x *width* frame fitted into *room*
    (``(width, height)`` in pixels): grown by a whole factor (sharp pixels) or shrunk, one factor
    for both axes."""
    scale = min(room[0] / width, room[1] / height)
    if scale >= 1:
        scale = math.floor(scale)
    return max(1, math.floor(height * scale + 1e-9)), max(1, math.floor(width * scale + 1e-9))


def fitted_image(image: np.ndarray, cols: int, lines: int, cell: tuple[int, int]) -> Any:
    """*image* as a PIL image of exactly *cols* x *lines* cells: scaled to fit (see
    :func:`fit_pixels`) and centred on black."""
    from PIL import Image

    height, width = image.shape[:2]
    box = (cols * cell[0], lines * cell[1])
    rows, columns = fit_pixels(height, width, box)
    picture = Image.fromarray(image)
    if (rows, columns) != (height, width):
        shrink = rows < height
        picture = picture.resize((columns, rows), Image.Resampling.BOX if shrink
                                 else Image.Resampling.NEAREST)
    canvas = Image.new("RGB", box)
    canvas.paste(picture, ((box[0] - columns) // 2, (box[1] - rows) // 2))
    return canvas


def _room(limit: int | None, offered: int | None) -> int | None:
    if limit is None:
        return offered
    return limit if offered is None else min(limit, offered)


class ImageFrame:
    """An RGB frame drawn with *protocol* (``kitty`` or ``sixel``) in a Rich console, fitted
    to the room like :class:`~agentapp.rendering.pixels.PixelFrame`, with an optional caption.

    Args:
        protocol: ``kitty`` or ``sixel`` (what :func:`choose` returned).
        image: ``H x W x 3`` uint8 (grey and RGBA accepted).
        max_width: the widest the picture may be, in cells (None: the console's width).
        max_height: the tallest the whole renderable may be, in lines, caption included.
        caption: one line under the picture.
    """

    def __init__(self, protocol: str, image: np.ndarray, max_width: int | None = None,
                 max_height: int | None = None, caption: str = "") -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be kitty or sixel, got {protocol!r}")
        self.protocol = protocol
        self.image = as_rgb(image).copy()  # the env reuses its frame buffer
        self.max_width, self.max_height, self.caption = max_width, max_height, caption
        self._drawn: tuple[tuple[int, int], Any] | None = None

    def cells(self, width: int | None, height: int | None) -> tuple[int, int]:
        """``(cells wide, lines tall)`` of the picture in *width* x *height* cells (None: no
        limit). Sixel needs one line more than its picture (see :meth:`__rich_console__`)."""
        cell = cell_pixels()
        lines = _room(self.max_height, height)
        if lines is not None:
            lines -= (1 if self.caption else 0) + (1 if self.protocol == SIXEL else 0)
        cols = _room(self.max_width, width)
        frame_h, frame_w = self.image.shape[:2]
        room = (cols * cell[0] if cols else frame_w, max(1, lines) * cell[1] if lines
                else frame_h)
        rows, columns = fit_pixels(frame_h, frame_w, room)
        return max(1, math.ceil(columns / cell[0])), max(1, math.ceil(rows / cell[1]))

    def _renderable(self, cols: int, lines: int) -> Any:
        """textual-image's renderable for this size, made once (a redraw of the same frame
        sends nothing new to the terminal)."""
        if self._drawn is None or self._drawn[0] != (cols, lines):
            picture = fitted_image(self.image, cols, lines, cell_pixels())
            if self.protocol == SIXEL:
                from textual_image.renderable.sixel import Image
            else:
                from textual_image.renderable.tgp import Image
            self._drawn = ((cols, lines), Image(picture, width=cols, height=lines))
        return self._drawn[1]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.text import Text

        height = options.height
        if height is None and console.is_terminal:
            height = options.max_height
        cols, lines = self.cells(options.max_width, height)
        # sixel: blank lines, then (in an extra line) the image drawn over them from below;
        # kitty: placeholder characters the terminal replaces with the image sent beforehand
        yield self._renderable(cols, lines)
        if self.caption:
            yield Text(self.caption, no_wrap=True, overflow="ellipsis")

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Any:
        from rich.measure import Measurement

        cols, _ = self.cells(options.max_width, None)
        return Measurement(cols, min(options.max_width, max(cols, len(self.caption))))
