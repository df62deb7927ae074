"""Checkpoint files: one file each, written atomically, loaded without ever running code.

A checkpoint is a dict of plain data and tensors (format version, game, method, resolved config,
spaces, the method's state, loop counters). :func:`save` writes it to a temporary file in the same
folder, flushes and fsyncs it, then ``os.replace``s it over the target, so a crash or a kill never
leaves a half-written ``latest.pt``. :func:`load` uses ``torch.load(weights_only=True)``, which
refuses any pickle that would construct arbitrary objects, and turns every failure into one clear
:class:`~agentapp.errors.UserError` that says what is wrong: a checkpoint may come from elsewhere
(a download, a colleague, a newer agentapp), so the file is judged by its first bytes before torch
reads it, checked field by field after, and an older format is migrated where that is simple.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import stat
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentapp.errors import UserError
from agentapp.plain import plain

FORMAT_VERSION = 1
"""Bumped when the layout of a checkpoint changes in a way old code cannot read; when the change
is simple, a step in :data:`MIGRATIONS` lets this version read the older files."""

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
        with contextlib.suppress(OSError):  # a failed removal must not hide why the save failed
            Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and validate a checkpoint on the CPU, or raise UserError saying what is wrong.

    Checkpoints of an older format are migrated (see :data:`MIGRATIONS`)."""
    source = Path(path)
    _check_regular_file(source)
    problem = _sniff(source)
    if problem is None:
        try:
            payload = _torch_load(source)
        except Exception as exc:  # every failure becomes one line
            problem = _reason(exc)
    if problem is not None:
        raise UserError(f"cannot load {source}: not a valid agentapp checkpoint; {problem}")
    return _validated(_migrated(payload, source), source)


def for_playing(payload: dict[str, Any]) -> dict[str, Any]:
    """A copy of a deep agent's checkpoint that plays exactly as *payload* does, in about a third
    of the space: the optimizer's per-parameter state (Adam's two moments, twice the network) and
    the training environments' snapshot and last observations are left out. It loads wherever the
    original does (``watch``, ``eval``, ``inspect``); training resumed from it starts the
    optimizer's moments and the environments afresh. The shelf ships its pixel agents this way."""
    state = dict(payload["algorithm"])
    optimizer = state.get("optimizer")
    if isinstance(optimizer, dict) and "state" in optimizer:
        state["optimizer"] = {**optimizer, "state": {}}
    for key in ("obs", "envs"):
        if key in state:
            state[key] = None
    return {**payload, "algorithm": state}


def _check_regular_file(source: Path) -> None:
    """Refuse what is not a plain file before opening it (a FIFO would block, /dev/zero never
    ends, a symlink loop cannot be followed)."""
    try:
        mode = source.stat().st_mode
    except FileNotFoundError:
        raise UserError(f"checkpoint not found: {source}") from None
    except OSError as exc:
        raise UserError(f"cannot read {source}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise UserError(f"cannot load {source}: it is a folder, not a checkpoint file")
    if not stat.S_ISREG(mode):
        raise UserError(f"cannot load {source}: not a regular file (a pipe or a device?), "
                        f"not a checkpoint file")


_ZIP = b"PK"
_LEGACY_TORCH = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
"""How a file from ``torch.save(..., _use_new_zipfile_serialization=False)`` begins."""


def _sniff(source: Path) -> str | None:
    """Why the bytes of *source* cannot be a torch file, or None when torch should try them.

    Judging the first bytes gives a precise reason where torch's own errors would be vague, and a
    bare pickle never reaches an unpickler at all."""
    try:
        with source.open("rb") as handle:
            head = handle.read(len(_LEGACY_TORCH))
    except OSError as exc:
        raise UserError(f"cannot read {source}: {exc.strerror or exc}") from None
    if not head:
        return "the file is empty"
    if head.startswith(_ZIP):
        return _zip_problem(source)
    if head.startswith(_LEGACY_TORCH):
        return None
    if head.startswith(b"\x80"):
        return "refused: a bare Python pickle, not a torch file (unpickling it could run code)"
    if _is_text(head):
        return "not a torch file: it holds text"
    return f"not a torch file: it starts with the bytes {head[:4].hex(' ')}"


def _is_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch.isspace() for ch in text)


def _zip_problem(source: Path) -> str | None:
    """What is wrong with a zip file as a torch checkpoint (torch writes ``<name>/data.pkl``)."""
    try:
        with zipfile.ZipFile(source) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile as exc:
        if "not a zip file" in str(exc):
            return "truncated: the end of its zip archive is missing (an incomplete copy?)"
        return f"a damaged zip archive ({exc})"
    except OSError as exc:
        return f"an unreadable zip archive ({exc.strerror or exc})"
    if not any(name.endswith("/data.pkl") for name in names):
        return "a zip archive, but not a torch file (no data.pkl inside)"
    return None


def _torch_load(source: Path) -> Any:
    import torch

    with warnings.catch_warnings():  # torch warns on stderr about odd pickles: one line only
        warnings.simplefilter("ignore")
        return torch.load(source, map_location="cpu", weights_only=True)


def _reason(exc: Exception) -> str:
    """Say in a few words why torch could not load a file; never empty.

    torch's errors span many lines and advise ``weights_only=False``, which is the one thing never
    to do with a file from elsewhere."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    found = re.search(r"GLOBAL ([\w.]+)", text)
    if isinstance(exc, pickle.UnpicklingError) and (found or "weights only" in text.lower()):
        what = f"{found.group(1)}; " if found else ""
        return ("refused: the file holds a pickled object that is not plain data "
                f"({what}a code-running pickle?)")
    if isinstance(exc, EOFError):
        return "truncated: its data ends early"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0].split(". This is an internal")[0] if lines else ""
    return f"damaged: {first[:160]}" if first else f"damaged: {type(exc).__name__}"


def _migrated(payload: Any, source: Path) -> dict[str, Any]:
    """*payload* brought up to :data:`FORMAT_VERSION`, or UserError when it cannot be."""
    if not isinstance(payload, dict):
        kind = type(payload).__name__
        raise UserError(f"cannot load {source}: not an agentapp checkpoint (it holds a {kind}, "
                        f"not a dict)")
    version = payload.get("format", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise UserError(f"cannot load {source}: not an agentapp checkpoint (format {version!r})")
    if version > FORMAT_VERSION:
        raise UserError(f"cannot load {source}: made by a newer agentapp (format {version}); "
                        f"this one reads format {FORMAT_VERSION} — upgrade agentapp")
    while version < FORMAT_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise UserError(f"cannot load {source}: made by an older agentapp (format {version}) "
                            f"that this one cannot convert; it reads format {FORMAT_VERSION}")
        payload = step(payload)
        version = payload["format"]
    return payload


def _from_format_0(payload: dict[str, Any]) -> dict[str, Any]:
    """Format 0: the layout of format 1 before checkpoints carried a ``format`` field."""
    return {**payload, "format": 1}


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _from_format_0}
"""Format N -> a function turning a format-N payload into a format-N+1 payload."""

FIELDS: dict[str, type] = {
    "game": str, "algo": str, "config": dict, "step": int, "algorithm": dict,
}
CONFIG_FIELDS: dict[str, type] = {
    "hyperparameters": dict, "game_params": dict, "seed": int, "steps": int,
    "schedule_budget": int,
}
"""The fields (and their types) that ``eval``, ``watch`` and ``--resume`` rely on."""


def _validated(payload: dict[str, Any], source: Path) -> dict[str, Any]:
    problem = _field_problem(payload, FIELDS, "") or _field_problem(
        payload["config"], CONFIG_FIELDS, "config.")
    if not problem and not isinstance(payload.get("spaces", {}), dict):
        problem = f"spaces is {type(payload['spaces']).__name__}, expected dict"
    if problem:
        raise UserError(f"cannot load {source}: not an agentapp checkpoint ({problem})")
    return payload


def _field_problem(data: dict[str, Any], fields: dict[str, type], prefix: str) -> str | None:
    for name, kind in fields.items():
        if name not in data:
            return f"no {prefix}{name} field"
        value = data[name]
        if isinstance(value, bool) or not isinstance(value, kind):
            return f"{prefix}{name} is {type(value).__name__}, expected {kind.__name__}"
    return None


def load_side(path: Path) -> dict[str, Any] | None:
    """A side file (``replay.pt``) written beside a checkpoint, or None when it cannot be read."""
    try:
        side = _torch_load(path)
    except Exception:
        return None
    return side if isinstance(side, dict) and "state" in side else None


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
