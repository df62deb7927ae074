"""Side files: what a method saves beside its checkpoint (DQN's replay buffer), and how a
resume finds the ones that belong to the checkpoint it starts from.

A side file is written after its checkpoint, so a kill between the two leaves ``latest.pt`` one
save ahead of ``replay.pt``. Naming them after their checkpoint (``step_<N>.replay.pt`` beside
``step_<N>.pt``) and linking rather than copying lets a resume go back one save, to a pair that
matches, instead of starting the buffer afresh.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

from agentapp import checkpoints, runs
from agentapp.engine.failures import TrainingBroken
from agentapp.errors import UserError


def side_path(checkpoint: Path, name: str) -> Path:
    """Where side file *name* (``replay``) of *checkpoint* lies: ``replay.pt`` beside
    ``latest.pt``, ``step_<N>.replay.pt`` beside ``step_<N>.pt`` (``<stem>.replay.pt`` in
    general), so a step checkpoint resumes exactly too."""
    if checkpoint.name == "latest.pt":
        return checkpoint.with_name(f"{name}.pt")
    return checkpoint.with_name(f"{checkpoint.stem}.{name}.pt")


def link_or_copy(source: Path, target: Path) -> None:
    """Give *target* the contents of *source* atomically: a hard link (no second copy on disk;
    it keeps these contents when *source* is later replaced), else a copy. A failure (disk
    full) is TrainingBroken, as a failed save is."""
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        tmp.unlink(missing_ok=True)
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):  # a partial copy must not linger
            tmp.unlink(missing_ok=True)
        raise TrainingBroken(runs.write_problem(target, exc)) from None


def prune_orphans(folder: Path) -> None:
    """Delete ``step_<N>.<name>.pt`` side files whose ``step_<N>.pt`` has been pruned."""
    for side in folder.glob("step_*.*.pt"):
        if not side.with_name(side.name.split(".", 1)[0] + ".pt").exists():
            side.unlink(missing_ok=True)


def load_sides(checkpoint: Path, names: tuple[str, ...],
                step: int) -> dict[str, dict[str, Any] | None]:
    """The side files of *checkpoint* by name: its own, else the run's latest one (which fits
    only when the checkpoint was the last one saved); the one saved at *step*, else the last
    that loads (the caller compares steps), else None."""
    found: dict[str, dict[str, Any] | None] = dict.fromkeys(names)
    for name in names:
        for path in dict.fromkeys((side_path(checkpoint, name), checkpoint.parent / f"{name}.pt")):
            side = checkpoints.load_side(path) if path.is_file() else None
            if side is not None:
                found[name] = side
                if side.get("step") == step:
                    break
    return found


def save_of_sides(folder: Path, sides: dict[str, dict[str, Any] | None],
                   latest: int) -> dict[str, Any] | None:
    """The checkpoint of the save before *latest* when the run's side files all come from it
    (written in step with ``latest.pt``, they are one save behind when a kill came between the
    two) and its ``step_<N>.pt`` is the newest one there; else None."""
    saved_at = {side.get("step") if side else None for side in sides.values()}
    step = saved_at.pop() if len(saved_at) == 1 else None
    if not isinstance(step, int) or step >= latest:
        return None
    newest = max((int(m.group(1)) for p in folder.iterdir()
                  if (m := checkpoints.STEP_FILE.match(p.name)) and int(m.group(1)) < latest),
                 default=None)
    try:
        earlier = checkpoints.load(checkpoints.step_path(folder, step)) if step == newest else None
    except UserError:
        return None
    return earlier if earlier is not None and earlier["step"] == step else None
