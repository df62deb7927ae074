"""``sweep.json``: a sweep's definition and the state of each trial, the record it resumes from.

The file lives in ``<runs root>/sweeps/<name>/`` beside ``report.csv`` and is rewritten atomically
(a temporary file, then ``os.replace``) whenever a trial changes state, so a sweep killed at any
moment leaves a readable record: trials that were done stay done, and every other trial continues
from its run folder's ``latest.pt`` on ``agentapp sweep --resume NAME``.
"""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentapp import runs
from agentapp.errors import UserError
from agentapp.runs import SWEEPS

STATE = "sweep.json"
REPORT = "report.csv"
FORMAT = 1

PENDING, RUNNING, DONE, STOPPED, EARLY, FAILED = (
    "pending", "running", "done", "stopped", "stopped early", "failed")
KEPT = (DONE, EARLY)
"""Statuses a resumed sweep keeps as they are; every other trial runs (again)."""


@dataclass
class Trial:
    """One run of the sweep and what it has done so far."""

    id: int
    game: str
    params: dict[str, str]
    seed: int
    status: str = PENDING
    run_dir: str | None = None
    steps: int = 0
    total_steps: int | None = None
    started_at: int | None = None
    """The step its latest session began at: 0 for a new run, the checkpoint's on resume."""
    last_return: float | None = None
    recent_mean: float | None = None
    """Mean of the last (up to) 10 training episode returns."""
    score: float | None = None
    score_source: str | None = None
    """``final evaluation`` or ``last 10 episodes``: where :attr:`score` comes from."""
    error: str | None = None


@dataclass
class Sweep:
    """A sweep on disk: its folder, its definition (``spec``) and its trials."""

    name: str
    folder: Path
    spec: dict[str, Any]
    trials: list[Trial] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.folder / STATE

    def save(self) -> None:
        runs.write_json(self.path, {"format": FORMAT, "name": self.name, "spec": self.spec,
                                    "updated": time.time(),
                                    "trials": [dataclasses.asdict(t) for t in self.trials]})

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for trial in self.trials:
            counts[trial.status] = counts.get(trial.status, 0) + 1
        return counts


def sweeps_root(root: Path) -> Path:
    return root / SWEEPS


NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_name(name: str) -> str:
    """A ``--name`` usable as a folder name on every platform."""
    if not NAME.match(name) or len(name) > 100:
        raise UserError(f"--name {name!r}: use letters, digits, '.', '_' and '-' "
                        f"(starting with a letter or digit)")
    return name


def create(root: Path, name: str | None, default: str, spec: dict[str, Any],
           trials: list[Trial]) -> Sweep:
    """Make ``<root>/sweeps/<name>/`` and write its first ``sweep.json``. An explicit *name*
    that is taken is bad input; the *default* name gets ``-n`` on a collision."""
    base = sweeps_root(root)
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {base}: {exc.strerror or exc}") from None
    candidates = [name] if name else [default] + [f"{default}-{n}" for n in range(2, 1000)]
    for candidate in candidates:
        folder = base / candidate
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise UserError(f"cannot create {folder}: {exc.strerror or exc}") from None
        sweep = Sweep(candidate, folder, spec, trials)
        sweep.save()
        return sweep
    if name:
        raise UserError(f"--name {name}: a sweep of that name exists in {base}; resume it with "
                        f"--resume {name} or choose another name")
    raise UserError(f"too many sweeps named {default} in {base}")


def find(ref: str, root: Path) -> Path:
    """The folder of sweep *ref*: a path (to the folder or its sweep.json) or a name."""
    for candidate in (Path(ref), sweeps_root(root) / ref):
        if candidate.is_file() and candidate.name == STATE:
            candidate = candidate.parent
        if (candidate / STATE).is_file():
            return candidate
    raise UserError(f"--resume {ref}: no sweep of that name or path "
                    f"(looked in {sweeps_root(root)})")


def load(folder: Path) -> Sweep:
    """Read a sweep folder; an unreadable or foreign ``sweep.json`` is bad input."""
    data = runs.read_json(folder / STATE)
    try:
        if data is None or data.get("format") != FORMAT:
            raise ValueError("not a sweep.json this version writes")
        fields = {f.name for f in dataclasses.fields(Trial)}
        trials = [Trial(**{k: v for k, v in t.items() if k in fields}) for t in data["trials"]]
        return Sweep(str(data["name"]), folder, dict(data["spec"]), trials)
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"cannot read {folder / STATE}: {exc}") from None


def to_resume(sweep: Sweep) -> list[Trial]:
    """The trials a resumed sweep runs: all but those done or stopped early; a trial left
    ``running`` (its sweep was killed) continues from its checkpoint like a stopped one."""
    return [t for t in sweep.trials if t.status not in KEPT]
