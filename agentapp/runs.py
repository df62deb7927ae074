"""Run folders: where they live, how they are named, locked, listed and found again.

A run folder holds ``config.json`` (the full resolved config), ``status.json`` (running / stopped /
done / failed, counters, evaluations, parent run), ``metrics.csv`` and ``checkpoints/``. Everything
here is plain files, so a user can read, copy or delete runs with ordinary tools.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shlex
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
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
        try:
            (path / CHECKPOINTS).mkdir()
        except OSError as exc:
            raise UserError(f"cannot create {path / CHECKPOINTS}: {system_reason(exc)}") from None
        return path
    raise UserError(f"too many runs named {base} in {root}")


def system_reason(exc: OSError) -> str:
    """The system's words for *exc* ("No space left on device"), never empty."""
    return exc.strerror or str(exc) or type(exc).__name__


def write_problem(path: str | os.PathLike[str], exc: OSError) -> str:
    """One line for a file that could not be written: ``cannot write PATH: REASON``."""
    return f"cannot write {path}: {system_reason(exc)}"


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically, so readers never see half a file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=False, default=str)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # the write's own error is the one to report
            Path(tmp).unlink(missing_ok=True)
        raise


def write_config(run: Path, config: dict[str, Any]) -> None:
    """Write the run's ``config.json``; a failure (disk full, read-only folder) is UserError:
    training has not begun, as when the run folder itself cannot be made."""
    try:
        write_json(run / CONFIG, config)
    except OSError as exc:
        raise UserError(write_problem(run / CONFIG, exc)) from None


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in *path*, or None when missing or unreadable."""
    try:
        return read_json_or_say(path)
    except (OSError, ValueError):
        return None


def read_json_or_say(path: Path) -> dict[str, Any]:
    """The JSON object in *path*; OSError when it cannot be read, ValueError saying where the
    JSON is broken (line and column) or that it holds no object."""
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path.name} is not valid JSON (line {exc.lineno}, column "
                         f"{exc.colno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path.name} holds a {type(data).__name__}, not a JSON object")
    return data


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


def _checkpoint_file(run: Path, prefer_best: bool = True) -> Path | None:
    folder = run / CHECKPOINTS
    best, latest = folder / "best.pt", folder / "latest.pt"
    if prefer_best and best.is_file():
        return best
    return latest if latest.is_file() else None


def checkpoint_of(run: Path, prefer_best: bool = True) -> Path:
    """``best.pt`` when *prefer_best* and it exists, else ``latest.pt``."""
    found = _checkpoint_file(run, prefer_best)
    if found is None:
        raise UserError(f"run {run} has no checkpoint yet")
    return found


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
    """Read a run folder's config and status; None when it is not a run (no ``config.json``).

    A config or status that cannot be read, is not valid JSON or holds a value of the wrong type
    still lists the run: its status then says what is wrong (``damaged: status.json is not valid
    JSON (line 3, column 5: ...)``, the first problem found) and the value is left out."""
    if not (path / CONFIG).is_file():
        return None
    problems: list[str] = []
    config = _json_noting(path / CONFIG, problems)
    status = _json_noting(path / STATUS, problems) if (path / STATUS).exists() else {}
    state = _text(status, "status", STATUS, problems) or "unknown"
    if state == "running" and not lock_is_live(path):
        state = "stopped"  # its trainer died without saying so
    steps = _number(status, "steps", STATUS, problems)
    total = _number(status, "total_steps", STATUS, problems)
    if total is None:
        total = _number(config, "steps", CONFIG, problems)
    info = RunInfo(
        path=path,
        name=path.name,
        game=_text(config, "game", CONFIG, problems) or "?",
        algo=_text(config, "algo", CONFIG, problems) or "?",
        status=state,
        steps=int(steps or 0),
        total_steps=int(total or 0),
        last_eval=_number(status, "last_eval", STATUS, problems),
        best_eval=_number(status, "best_eval", STATUS, problems),
        started=float(_number(config, "created", CONFIG, problems) or 0.0),
        parent=(_text(status, "parent", STATUS, problems)
                or _text(config, "parent", CONFIG, problems)),
        sweep=_text(config, "sweep", CONFIG, problems),
    )
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        info = replace(info, status=f"damaged: {problems[0]}{more}")
    return info


def _json_noting(path: Path, problems: list[str]) -> dict[str, Any]:
    """The JSON object in *path*, or ``{}`` with what is wrong added to *problems*."""
    try:
        return read_json_or_say(path)
    except OSError as exc:
        problems.append(f"cannot read {path.name}: {system_reason(exc)}")
    except ValueError as exc:
        problems.append(str(exc))
    return {}


def _number(data: dict[str, Any], key: str, source: str, problems: list[str]) -> float | None:
    """``data[key]`` when it is a finite number, None when absent or null; otherwise None with
    the problem noted."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        problems.append(f"{source}: {key} is {value!r:.40}, not a number")
        return None
    return value


def _text(data: dict[str, Any], key: str, source: str, problems: list[str]) -> str | None:
    """``data[key]`` when it is a string, None when absent, null or empty; otherwise None with
    the problem noted."""
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        problems.append(f"{source}: {key} is {value!r:.40}, not a string")
        return None
    return value


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
    over; a live one is UserError, and so is a lock file that cannot be written (disk full,
    read-only folder): training has not begun."""
    lock = run / LOCK
    try:
        _take_lock(run, lock)
    except OSError as exc:
        with contextlib.suppress(OSError):  # an empty lock file would look stale anyway
            if _lock_pid(run) in (None, 0):
                lock.unlink(missing_ok=True)
        raise UserError(write_problem(lock, exc)) from None
    try:
        yield
    finally:
        if _lock_pid(run) == os.getpid():
            with contextlib.suppress(OSError):  # left behind, it is stale once we are gone
                lock.unlink(missing_ok=True)


def _take_lock(run: Path, lock: Path) -> None:
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
        return
    raise UserError(f"cannot lock run {run}")


def newest(root: Path) -> Path:
    """The most recently started run under *root*."""
    infos = list_runs(root)
    if not infos:
        raise UserError(f"no runs in {root} yet; train one with `agentapp train`")
    return infos[-1].path


def best_of_game(root: Path, game: str) -> Path | None:
    """The run of *game* with the best evaluation (ties: the newest), or None.

    Only runs with a checkpoint to load count: a run that has not saved yet cannot be watched."""
    infos = [i for i in list_runs(root) if i.game == game and (root / i.name).is_dir()
             and _checkpoint_file(root / i.name) is not None]
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


def resume_command(game: str, run_dir: str | os.PathLike[str]) -> str:
    """The shell command that resumes the run in *run_dir*, quoted to paste as it is."""
    return f"agentapp train {shlex.quote(game)} --resume {shlex.quote(str(run_dir))}"


NO_CHECKPOINT = "this run has no checkpoint to resume from (it ended before its first save)"


def can_resume(run_dir: str | os.PathLike[str]) -> bool:
    """Whether *run_dir* holds ``checkpoints/latest.pt``, what ``--resume RUN`` continues from
    (without it the command would only be refused)."""
    return bool(run_dir) and (Path(run_dir) / CHECKPOINTS / "latest.pt").is_file()


def watch_command(run_dir: str | os.PathLike[str]) -> str:
    """The shell command that watches the agent of the run in *run_dir*."""
    return f"agentapp watch {shlex.quote(str(run_dir))}"


def names_a_file(path: Path) -> bool:
    """True when *path* is there and is not a folder (a file, a pipe, a broken or looping link):
    it is meant as a checkpoint, and loading it says what is wrong with it."""
    return os.path.lexists(path) and not path.is_dir()
