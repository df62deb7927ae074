"""Checkpoint files: one file each, written atomically, loaded without ever running code.

A checkpoint is a dict of plain data and tensors (format version, game, method, resolved config,
spaces, the method's state, loop counters). :func:`save` writes it to a temporary file in the same
folder, flushes and fsyncs it, then ``os.replace``s it over the target, so a crash or a kill never
leaves a half-written ``latest.pt``. :func:`load` uses ``torch.load(weights_only=True)``, which
refuses any pickle that would construct arbitrary objects, and turns every failure into one clear
:class:`~agentapp.errors.UserError`.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from agentapp.errors import UserError
from agentapp.plain import plain

FORMAT_VERSION = 1
"""Bumped when the layout of a checkpoint changes in a way old code cannot read."""

REQUIRED_KEYS = ("format", "game", "algo", "config", "step", "algorithm")
STEP_FILE = re.compile(r"^step_(\d+)\.pt$")


def save(payload: dict[str, Any], path: str | os.PathLike[str], check: bool = True) -> Path:
    """Write *payload* to *path* atomically (temp file + flush + fsync + ``os.replace``).

    ``check`` reduces the payload to plain data first (skipped for large side files such as a
    replay buffer, which are built from tensors and plain numbers already)."""
    import torch

    if check:
        payload = plain(payload)

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and validate a checkpoint on the CPU, or raise UserError saying what is wrong."""
    import torch

    source = Path(path)
    if not source.exists():
        raise UserError(f"checkpoint not found: {source}")
    if not source.is_file():
        raise UserError(f"not a checkpoint file: {source}")
    try:
        payload = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, random bytes, code-running pickle, ...
        reason = _reason(exc)
        raise UserError(
            f"cannot load {source}: not a valid agentapp checkpoint ({reason[:160]})"
        ) from None
    if not isinstance(payload, dict) or any(key not in payload for key in REQUIRED_KEYS):
        raise UserError(f"cannot load {source}: not an agentapp checkpoint (missing fields)")
    version = payload["format"]
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        hint = "upgrade agentapp to load it" if newer else "it predates this version"
        raise UserError(
            f"cannot load {source}: checkpoint format {version}, this agentapp reads "
            f"{FORMAT_VERSION} ({hint})"
        )
    return payload


def load_side(path: Path) -> dict[str, Any] | None:
    """A side file (``replay.pt``) written beside a checkpoint, or None when it cannot be read."""
    import torch

    try:
        side = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return None
    return side if isinstance(side, dict) and "state" in side else None


def _reason(exc: Exception) -> str:
    """The informative line of a loading error (torch's weights-only errors span many lines)."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(exc).splitlines()]
    lines = [line for line in lines if line]
    for line in lines:
        if "Unpickler error" in line:
            return line.split("error:", 1)[-1].strip().split(". Please use")[0]
    return lines[0] if lines else type(exc).__name__


def step_path(folder: Path, step: int) -> Path:
    return folder / f"step_{step}.pt"


def prune_steps(folder: Path, keep: int) -> None:
    """Delete all but the newest *keep* ``step_<N>.pt`` files in *folder*."""
    found = sorted(
        (int(m.group(1)), p)
        for p in folder.iterdir()
        if (m := STEP_FILE.match(p.name)) is not None
    )
    for _, old in found[: max(0, len(found) - keep)]:
        old.unlink(missing_ok=True)
