"""Save what ``agentapp watch`` shows: the env's RGB frames as an animated GIF or an MP4 video.

A recording is the environment's own ``rgb_array`` frames at the game's natural speed, not the
terminal picture, so it can be shared and looks the same everywhere. imageio writes the file; it
is an optional dependency, imported only when a recording is asked for, and its absence is one
clear line for the user rather than a traceback. GIFs go through Pillow (which imageio always
brings); videos need imageio's PyAV plugin (``pip install av``).

Pillow writes a GIF only when it is closed, so every frame is held until then; frames are reduced
to a 256-colour palette as they arrive (all a GIF can hold anyway), a third of the memory of RGB.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from agentapp.errors import UserError

GIF = (".gif",)
VIDEO = (".mp4", ".mkv", ".webm", ".mov", ".avi")


class FrameRecorder:
    """Collects frames and writes them to *path* at *fps* frames per second.

    Use it as a context manager, or call :meth:`close`; the file is complete only after that.
    """

    def __init__(self, path: str | Path, fps: float) -> None:
        self.path = Path(path)
        self.fps = float(fps)
        self.frames = 0
        suffix = self.path.suffix.lower()
        if suffix not in GIF + VIDEO:
            raise UserError(f"--record {self.path}: the file must end in .gif or .mp4")
        if importlib.util.find_spec("imageio") is None:
            raise UserError('--record needs imageio, which is not installed: pip install imageio')
        if suffix in VIDEO and importlib.util.find_spec("av") is None:
            raise UserError(f"--record {suffix} needs PyAV, which is not installed: pip install av"
                            " (or record a .gif)")
        if not self.path.parent.is_dir():
            raise UserError(f"--record {self.path}: folder {self.path.parent} does not exist")
        self._video = suffix in VIDEO
        self._file: Any = None

    def add(self, frame: np.ndarray) -> None:
        """Append one ``H x W x 3`` uint8 frame."""
        frame = np.asarray(frame)
        if self._file is None:
            self._file = self._open()
        if self._video:
            self._file.write_frame(_even(frame))
        else:
            # bits=8 quantises to a palette now instead of keeping RGB until the file is closed
            self._file.write(frame, duration=1000.0 / self.fps, loop=0, bits=8, is_batch=False)
        self.frames += 1

    def _open(self) -> Any:
        import imageio.v3 as iio

        try:
            if self._video:
                file = iio.imopen(self.path, "w", plugin="pyav")
                file.init_video_stream("libx264", fps=self.fps)
                return file
            return iio.imopen(self.path, "w", plugin="pillow", extension=".gif")
        except OSError as exc:
            raise UserError(f"--record {self.path}: cannot write: {exc}") from None

    def close(self) -> None:
        """Write out the file (nothing is written when no frame was added)."""
        if self._file is not None:
            file, self._file = self._file, None
            file.close()

    def __enter__(self) -> FrameRecorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _even(frame: np.ndarray) -> np.ndarray:
    """*frame* padded by repeating its last row and column to even sides, which H.264's 4:2:0
    colour subsampling requires."""
    height, width = frame.shape[:2]
    pad = ((0, height % 2), (0, width % 2), (0, 0))
    return np.pad(frame, pad, mode="edge") if height % 2 or width % 2 else frame
