"""Run folders: where they live, how they are named, locked, listed and found again.

A run folder holds ``config.json`` (the full resolved config), ``status.json`` (running / stopped /
done / failed, counters, evaluations, parent run), ``metrics.csv`` and ``checkpoints/``. Everything
here is plain files, so a user can read, copy or delete runs with ordinary tools.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentapp.errors import UserError

ENV_VAR = "AGENTAPP_RUNS"
CONFIG = "config.json"
STATUS = "status.json"
METRICS = "metrics.csv"
LOCK = "lock"
CHECKPOINTS = "checkpoints"
SWEEPS = "sweeps"
"""``<runs_dir>/sweeps/<name>/``: a sweep's own state, beside its trials; not a run folder."""


def runs_root(runs_dir: str | os.PathLike[str] | None = None) -> Path:
    """``--runs-dir``, else ``$AGENTAPP_RUNS``, else ``./runs``."""
    return Path(runs_dir or os.environ.get(ENV_VAR) or "runs")


def check_root(root: Path) -> Path:
    """*root*, when it is a folder or is not there yet (training creates it); UserError when a
    file stands where the runs folder should be."""
    if root.exists() and not root.is_dir():
        raise UserError(f"runs folder {root} is not a folder (from --runs-dir or ${ENV_VAR})")
    return root


def new_run_dir(root: Path, game_slug: str, algo: str, now: float | None = None) -> Path:
    """Create and return ``<root>/<game>-<algo>-<YYYYmmdd-HHMMSS>[-n]``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    base = f"{game_slug}-{algo}-{stamp}"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create runs folder {root}: {exc.strerror or exc}") from None
    for n in range(1, 10_000):
        path = root / (base if n == 1 else f"{base}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise UserError(f"cannot create run folder {path}: {exc.strerror or exc}") from None
        (path / CHECKPOINTS).mkdir()
        return path
    raise UserError(f"too many runs named {base} in {root}")


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically, so readers never see half a file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=False, default=str)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in *path*, or None when missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_run_dir(path: Path) -> bool:
    return (path / CONFIG).is_file()


def find_run(ref: str, root: Path) -> Path:
    """A run folder given as a path or as a name under *root*; UserError when there is none."""
    for candidate in (Path(ref), root / ref):
        if candidate.is_dir() and is_run_dir(candidate):
            return candidate
    for candidate in (Path(ref), root / ref):  # a folder by path, or by name in the root
        if candidate.is_dir():
            raise UserError(f"{candidate} is a folder but not a run folder (no {CONFIG}), "
                            f"nor a checkpoint file")
    raise UserError(f"no run named {ref!r} (looked in {root}); see `agentapp runs`")


def checkpoint_of(run: Path, prefer_best: bool = True) -> Path:
    """``best.pt`` when *prefer_best* and it exists, else ``latest.pt``."""
    folder = run / CHECKPOINTS
    best, latest = folder / "best.pt", folder / "latest.pt"
    if prefer_best and best.is_file():
        return best
    if latest.is_file():
        return latest
    raise UserError(f"run {run} has no checkpoint yet")


@dataclass(frozen=True)
class RunInfo:
    """One row of ``agentapp runs``."""

    path: Path
    name: str
    game: str
    algo: str
    status: str
    steps: int
    total_steps: int
    last_eval: float | None
    best_eval: float | None
    started: float
    parent: str | None
    sweep: str | None = None
    """The sweep this run is a trial of (``config.json``'s ``sweep``), else None."""

    def as_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["path"] = str(self.path)
        return data


def run_info(path: Path) -> RunInfo | None:
    """Read a run folder's config and status; None when it is not a readable run."""
    config = read_json(path / CONFIG)
    if config is None:
        return None
    status = read_json(path / STATUS) or {}
    if status.get("status") == "running" and not lock_is_live(path):
        status["status"] = "stopped"  # its trainer died without saying so
    return RunInfo(
        path=path,
        name=path.name,
        game=str(config.get("game", "?")),
        algo=str(config.get("algo", "?")),
        status=str(status.get("status", "unknown")),
        steps=int(status.get("steps", 0)),
        total_steps=int(status.get("total_steps", config.get("steps", 0)) or 0),
        last_eval=status.get("last_eval"),
        best_eval=status.get("best_eval"),
        started=float(config.get("created", 0.0)),
        parent=status.get("parent") or config.get("parent"),
        sweep=str(config["sweep"]) if config.get("sweep") else None,
    )


def list_runs(root: Path) -> list[RunInfo]:
    """Every readable run under *root*, oldest first (the sweeps folder is not a run)."""
    if not root.is_dir():
        return []
    infos = [info for p in root.iterdir()
             if p.name != SWEEPS and p.is_dir() and (info := run_info(p)) is not None]
    return sorted(infos, key=lambda i: (i.started, i.name))


def newest_run(root: Path, game: str, algo: str) -> Path:
    """The newest run of *game* and *algo* (for ``--resume last``)."""
    matches = [i for i in list_runs(root) if i.game == game and i.algo == algo]
    if not matches:
        raise UserError(f"--resume last: no earlier {game} {algo} run in {root}")
    return matches[-1].path


# -- locking ------------------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lock_pid(run: Path) -> int | None:
    try:
        return int((run / LOCK).read_text().strip() or "0")
    except (OSError, ValueError):
        return None


def lock_is_live(run: Path) -> bool:
    pid = _lock_pid(run)
    return pid is not None and pid != os.getpid() and _pid_alive(pid)


@contextlib.contextmanager
def locked(run: Path) -> Iterator[None]:
    """Hold the run's lock file (our pid) while training; a stale lock of a dead process is taken
    over; a live one is UserError."""
    lock = run / LOCK
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            pid = _lock_pid(run)
            if pid is not None and _pid_alive(pid) and pid != os.getpid():
                raise UserError(f"run {run} is in use by another trainer (pid {pid})") from None
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(str(os.getpid()))
        break
    else:
        raise UserError(f"cannot lock run {run}")
    try:
        yield
    finally:
        if _lock_pid(run) == os.getpid():
            lock.unlink(missing_ok=True)


def newest(root: Path) -> Path:
    """The most recently started run under *root*."""
    infos = list_runs(root)
    if not infos:
        raise UserError(f"no runs in {root} yet; train one with `agentapp train`")
    return infos[-1].path


def best_of_game(root: Path, game: str) -> Path | None:
    """The run of *game* with the best evaluation (ties: the newest), or None."""
    infos = [i for i in list_runs(root) if i.game == game and (root / i.name).is_dir()]
    if not infos:
        return None
    return max(infos, key=lambda i: (i.best_eval is not None, i.best_eval or 0.0, i.started)).path


def resolve_checkpoint(ref: str, root: Path, prefer_best: bool = True) -> Path:
    """A checkpoint file from ``RUN|CHECKPOINT|last``: a file is itself, ``last`` the newest run,
    a run folder (path or name) gives ``best.pt`` when *prefer_best* and present, else
    ``latest.pt``."""
    if ref == "last":
        return checkpoint_of(newest(root), prefer_best)
    path = Path(ref)
    if names_a_file(path):
        return path
    return checkpoint_of(find_run(ref, root), prefer_best)


def names_a_file(path: Path) -> bool:
    """True when *path* is there and is not a folder (a file, a pipe, a broken or looping link):
    it is meant as a checkpoint, and loading it says what is wrong with it."""
    return os.path.lexists(path) and not path.is_dir()
