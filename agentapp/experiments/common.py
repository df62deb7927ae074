"""What the experiments share: the study request, running a plan to completion over seeds, the
spread over seeds, result tables and curves, and the files they are written to.

An experiment is a module with ``SIZES`` (its budgets as data: ``full``, ``quick`` and ``tiny``, the
last for tests), ``GAMES`` (the games it accepts, its default first) and a generator ``run(study)``
that yields :class:`Progress` lines and returns a :class:`Result`. :func:`run_experiment` checks
the request, makes the experiment folder ``<runs root>/experiments/<name>-<YYYYmmdd-HHMMSS>/``,
runs the experiment and writes its tables and curves there as CSV (and PNG when matplotlib is
installed). The training runs of an experiment are ordinary run folders under its ``runs/``
folder, named ``<variant>-seed<k>``, so ``agentapp watch``, ``eval`` and ``inspect`` take them.

A stop request (Ctrl+C) ends the run in progress as training does (saved, resumable); the
experiment then reports and writes what the runs that did finish show, marked incomplete.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import re
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agentapp import checkpoints, runs
from agentapp.engine import loop
from agentapp.engine.control import Control
from agentapp.engine.events import EpisodeEnded, Metrics, RunFinished
from agentapp.engine.plan import RunConfig, prepare, restore_agent
from agentapp.engine.sinks import recorded
from agentapp.errors import UserError
from agentapp.experiments import get
from agentapp.games import resolve

SIZES = ("full", "quick", "tiny")
DONE = ("budget", "converged", "target")
"""``RunFinished`` reasons of a run that went to its end."""


@dataclass
class Study:
    """One experiment being run: what the user asked for and where it goes."""

    name: str
    size: str
    seeds: list[int]
    game: str
    folder: Path
    control: Control
    settings: Any
    """The experiment's settings at this size (one entry of its ``SIZES``)."""

    @property
    def stopped(self) -> bool:
        return self.control.stop_reason is not None


@dataclass(frozen=True)
class Progress:
    """One line for the user: a run (or a stage) has finished."""

    text: str
    done: int = 0
    total: int = 0


@dataclass(frozen=True)
class Table:
    """A result table; the terminal shows it and ``<name>.csv`` holds the same cells."""

    name: str
    title: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass(frozen=True)
class Series:
    """One curve: its mean over seeds at each x, with the spread (std, min, max) over seeds."""

    label: str
    x: list[float]
    mean: list[float]
    std: list[float]
    lo: list[float]
    hi: list[float]
    seeds: int


@dataclass(frozen=True)
class Plot:
    """Curves to draw in the terminal and in ``<name>.png``; ``<name>.csv`` holds them."""

    name: str
    title: str
    xlabel: str
    ylabel: str
    series: list[Series]


@dataclass(frozen=True)
class Heat:
    """Values on a gridworld's cells (None where there is no value), shown as a heat grid."""

    title: str
    values: list[list[float | None]]


@dataclass
class Result:
    """What an experiment found: tables, curves, heat grids and plain sentences."""

    name: str
    folder: Path
    tables: list[Table] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    heats: list[Heat] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    complete: bool = True
    files: list[Path] = field(default_factory=list)


def cell(value: Any) -> str:
    """How a table cell is written, in the terminal and in the CSV alike (4 significant digits)."""
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value).lower()
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return "-" if math.isnan(value) else f"{float(value):.4g}"
    return str(value)


@dataclass(frozen=True)
class Spread:
    """Mean, population std, min and max of one number over seeds."""

    mean: float
    std: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        a = np.asarray(values, dtype=float)
        if not len(a):
            return cls(math.nan, math.nan, math.nan, math.nan, 0)
        return cls(float(a.mean()), float(a.std()), float(a.min()), float(a.max()), len(a))

    def cells(self) -> list[float]:
        return [self.mean, self.std, self.min, self.max]


SPREAD_COLUMNS = ["mean", "std", "min", "max"]


def series(label: str, xs: Sequence[Sequence[float]], ys: Sequence[Sequence[float]]) -> Series:
    """The curve of several seeds' curves, point by point (as far as the shortest one goes)."""
    n = min((len(y) for y in ys), default=0)
    if n == 0:
        return Series(label, [], [], [], [], [], len(ys))
    points = np.array([list(y[:n]) for y in ys], dtype=float)
    x_at = np.mean(np.array([list(x[:n]) for x in xs], dtype=float), axis=0)
    with warnings.catch_warnings():  # a point no seed has yet (NaN everywhere) stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        stats = [np.nanmean(points, 0), np.nanstd(points, 0), np.nanmin(points, 0),
                 np.nanmax(points, 0)]
    return Series(label, x_at.tolist(), *(a.tolist() for a in stats), len(ys))


def binned(points: Sequence[tuple[float, float]], edges: Sequence[float],
           end: float = math.inf) -> list[float]:
    """The mean y of the points whose x falls in each bin ``(edges[k-1], edges[k]]`` (the first
    bin starts at -inf); an empty bin repeats the previous value (NaN before the first), and a
    bin that begins at or after *end* (where the run had ended) is NaN."""
    out, last = [], math.nan
    lower = -math.inf
    for upper in edges:
        inside = [y for x, y in points if lower < x <= upper]
        last = float(np.mean(inside)) if inside else last
        out.append(last if lower < end else math.nan)
        lower = upper
    return out


# -- training runs ---------------------------------------------------------------------------

@dataclass
class RunRecord:
    """What one training run did, collected from its events."""

    label: str
    seed: int
    run_dir: Path
    reason: str = ""
    steps: int = 0
    seconds: float = 0.0
    episodes: list[tuple[int, float, float, int]] = field(default_factory=list)
    """``(step, seconds since start, return, length)`` of each training episode."""
    evals: list[tuple[int, float, float]] = field(default_factory=list)
    """``(step, seconds since start, mean return)`` of each evaluation."""
    final_eval: float | None = None

    @property
    def finished(self) -> bool:
        return self.reason in DONE


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "run"


def train_run(study: Study, label: str, seed: int, *, algo: str, steps: int,
              settings: dict[str, Any], eval_every: int, eval_episodes: int,
              game: str | None = None, envs: int | None = None) -> RunRecord:
    """Train *algo* with *settings* (``--set`` values) into ``runs/<label>-seed<seed>`` of the
    experiment folder, like ``agentapp train`` does (checkpoints, metrics.csv, status.json)."""
    overrides = {k: str(v).lower() if isinstance(v, bool) else str(v)
                 for k, v in settings.items()}
    plan = prepare(RunConfig(
        game=game or study.game, algo=algo, steps=steps, seed=seed, envs=envs, device="cpu",
        overrides=overrides, save_every=steps, eval_every=eval_every,
        eval_episodes=eval_episodes, runs_dir=str(study.folder), keep_checkpoints=1,
    ))
    run_dir = study.folder / "runs" / f"{slug(label)}-seed{seed}"
    (run_dir / runs.CHECKPOINTS).mkdir(parents=True)
    # a folder made here for a new run: the loop writes its config.json as for any run
    plan = dataclasses.replace(plan, run_dir=run_dir)
    record = RunRecord(label, seed, run_dir)
    began = time.monotonic()
    for event in recorded(loop.train(plan, study.control), study.control):
        now = time.monotonic() - began
        if isinstance(event, EpisodeEnded):
            record.episodes.append((event.step, now, event.ret, event.length))
        elif isinstance(event, Metrics) and "eval/mean_return" in event.values:
            record.evals.append((event.step, now, event.values["eval/mean_return"]))
        elif isinstance(event, RunFinished):
            record.reason, record.steps, record.seconds = event.reason, event.step, event.elapsed
            record.final_eval = event.eval_mean
    return record


def trained_agent(run_dir: Path):
    """The agent a run ended with (``latest.pt``, not a best one picked by evaluations):
    ``(agent, game, game params)``."""
    ckpt = checkpoints.load(run_dir / runs.CHECKPOINTS / "latest.pt")
    return restore_agent(ckpt)


def run_line(record: RunRecord, done: int, total: int) -> Progress:
    """The progress line of a finished (or stopped) run."""
    final = "-" if record.final_eval is None else f"{record.final_eval:.4g}"
    state = "" if record.finished else f" ({record.reason}: not counted)"
    return Progress(f"{record.label} · seed {record.seed} · {record.steps:,} steps · "
                    f"final evaluation {final} · {record.seconds:.1f} s{state}", done, total)


# -- the study as a whole --------------------------------------------------------------------

def experiment_folder(root: Path, name: str) -> Path:
    """Create ``<root>/experiments/<name>-<YYYYmmdd-HHMMSS>[-n]``."""
    base = root / "experiments"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {base}: {exc.strerror or exc}") from None
    for n in range(1, 1000):
        path = base / (f"{name}-{stamp}" if n == 1 else f"{name}-{stamp}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise UserError(f"too many experiments named {name}-{stamp} in {base}")


def run_experiment(name: str, *, size: str = "full", seeds: int | None = None,
                   game: str | None = None, runs_dir: str | Path | None = None,
                   control: Control | None = None) -> Iterator[Progress | Result]:
    """Check the request, run experiment *name* and write its files; yields progress lines and
    then the :class:`Result`. Bad input is a UserError before anything is written."""
    module = get(name).load()
    if size not in SIZES:
        raise UserError(f"size {size!r}: expected one of {', '.join(SIZES)}")
    game_id = module.GAMES[0] if game is None else resolve(game).id
    if game_id not in module.GAMES:
        raise UserError(f"--game {game}: {name} runs on {', '.join(module.GAMES)}")
    sized = getattr(module, "sizes_for", lambda _: module.SIZES)(game_id)[size]
    count = sized.seeds if seeds is None else seeds
    if count < 2:
        raise UserError(f"--seeds {count}: a spread needs at least 2 seeds")
    check = getattr(module, "check", None)
    if check is not None:
        check(game_id)
    root = runs.check_root(runs.runs_root(runs_dir))
    study = Study(name, size, list(range(count)), game_id, experiment_folder(root, name),
                  control or Control(), sized)
    runs.write_json(study.folder / "study.json", {
        "experiment": name, "size": size, "seeds": study.seeds, "game": game_id,
        "settings": dataclasses.asdict(sized), "created": time.time(),
    })
    result = yield from module.run(study)
    result.complete = result.complete and not study.stopped
    if not result.complete:
        result.findings.append("stopped before the end: these figures cover only the runs "
                               "that finished")
    result.files = write_files(result)
    yield result


def write_files(result: Result) -> list[Path]:
    """Each table and plot as CSV, each plot as PNG when matplotlib is installed, and the
    findings as ``summary.txt``."""
    written = []
    for table in result.tables:
        path = result.folder / f"{table.name}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(table.columns)
            writer.writerows([cell(v) for v in row] for row in table.rows)
        written.append(path)
    for plot in result.plots:
        path = result.folder / f"{plot.name}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["series", "x", "mean", "std", "min", "max", "seeds"])
            for s in plot.series:
                for row in zip(s.x, s.mean, s.std, s.lo, s.hi, strict=True):
                    writer.writerow([s.label, *(repr(float(v)) for v in row), s.seeds])
        written.append(path)
        png = write_png(plot, result.folder / f"{plot.name}.png")
        if png is not None:
            written.append(png)
    summary = result.folder / "summary.txt"
    summary.write_text("\n".join(result.findings) + "\n", encoding="utf-8")
    written.append(summary)
    return written


def write_png(plot: Plot, path: Path) -> Path | None:
    """The plot's mean curves with their min-max band over seeds; None without matplotlib
    (``pip install agentapp[plot]``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
    for s in plot.series:
        (line,) = ax.plot(s.x, s.mean, label=f"{s.label} (mean of {s.seeds})")
        ax.fill_between(s.x, s.lo, s.hi, alpha=0.2, color=line.get_color())
    ax.set(title=plot.title, xlabel=plot.xlabel, ylabel=plot.ylabel)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
