"""The events that ``engine.train`` yields: the one stream every front end and sink consumes.

Events are small, frozen and picklable (plain numbers, strings, dicts and numpy images; never
tensors), so they can cross a thread or a process boundary unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class RunStarted:
    """Training is about to start (or resume) in ``run_dir``."""

    run_dir: str
    config: dict[str, Any]
    """The resolved config, as written to ``config.json``."""
    start_step: int = 0
    """Steps already done (non-zero on resume)."""
    total_steps: int = 0
    """The run's budget of agent steps (sweeps for planning methods)."""
    device: str = "cpu"
    elapsed: float = 0.0
    """Training seconds already spent on this run (non-zero on resume)."""


@dataclass(frozen=True)
class Metrics:
    """Namespaced scalar metrics at ``step`` (``losses/td_error``, ``charts/epsilon``, ...)."""

    step: int
    values: dict[str, float]


@dataclass(frozen=True)
class EpisodeEnded:
    """A training episode ended (terminated or truncated)."""

    step: int
    episode: int
    ret: float
    length: int


@dataclass(frozen=True)
class Frame:
    """The game being played by the training agent, for a front end's live view: what the first
    training environment shows now.

    Pixel games send a picture (``image``); every other game sends its current ``observation``
    (CartPole's state vector, the gridworld's cell index or wall pattern) and the ``info`` a
    front end needs beside it to draw the game as its watch screen does (the gridworld's
    ``cell``, since with ``obs=walls`` different cells look alike). A front end draws the
    observation itself: the engine never renders.
    """

    step: int
    image: np.ndarray | None = field(default=None, repr=False)
    """RGB uint8, H x W x 3 (pixel games), else None."""
    observation: Any = field(default=None, repr=False)
    """A copy of the first environment's current observation (games without an image)."""
    info: dict[str, Any] = field(default_factory=dict)
    """Plain values that place the agent where the observation cannot (``{"cell": 7}``)."""


@dataclass(frozen=True)
class CheckpointSaved:
    """A checkpoint file was written atomically. ``kind``: latest, best or step."""

    step: int
    path: str
    kind: str = "latest"


@dataclass(frozen=True)
class Message:
    """Something worth telling the user (evaluation result, warning). ``level``: info or warning."""

    step: int
    text: str
    level: str = "info"


@dataclass(frozen=True)
class RunFinished:
    """Training ended. ``reason``: budget, converged, target, stopped, failed."""

    step: int
    reason: str
    run_dir: str = ""
    elapsed: float = 0.0
    eval_mean: float | None = None
    """Mean return of the final evaluation, when one ran."""
    detail: str = ""
    """A sentence for the summary (e.g. why it failed, whether the target was reached)."""


EXIT_CODES = {"budget": 0, "converged": 0, "target": 0, "interrupted": 130, "terminated": 143,
              "failed": 3}
"""The shell's exit code for each ``RunFinished.reason`` (DESIGN.md's exit codes), the same for
headless training and the dashboard."""

Event = RunStarted | Metrics | EpisodeEnded | Frame | CheckpointSaved | Message | RunFinished
