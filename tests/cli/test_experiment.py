"""``agentapp experiment``: the listing, bad input, and every experiment end to end at its tiny
size (the hidden ``--tiny``: seconds, figures meaningless), checking the files it writes against
what the terminal shows."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agentapp.experiments import EXPERIMENTS
from tests.conftest import refused

# name -> {csv file: (columns, number of rows)}
EXPECTED = {
    "dqn-ablation": {
        "results.csv": (["variant", "replay", "target", "mean", "std", "min", "max", "seeds",
                         "rank", "seconds per run"], 4),
    },
    "pg-variance": {
        "variance.csv": (["policy", "estimator", "episode length", "mean", "std", "min", "max",
                          "vs total return", "seeds"], 6),
        "learning.csv": (["estimator", "mean", "std", "min", "max", "curve mean", "curve std",
                          "seeds"], 3),
    },
    "aliased-gridworld": {
        "results.csv": (["agent", "policy", "steps mean", "steps std", "steps min", "steps max",
                         "success mean", "success std", "steps when reached", "seeds"], 2),
    },
    "tabular-vs-deep": {
        "results.csv": (["method", "rms mean", "rms std", "rms min", "rms max",
                         "max error (mean)", "seeds"], 2),
        "states.csv": (["cell", "row", "col", "V*", "Q-learning V", "Q-learning error", "DQN V",
                        "DQN error"], 9),  # the 4x3 world: 12 cells, one wall, two terminal
    },
    "a2c-vs-a3c": {
        "results.csv": (["method", "actors", "seconds mean", "seconds std", "steps/s mean",
                         "steps/s std", "steps/s running", "final eval mean", "final eval std",
                         "last 10% return mean", "last 10% return std", "seeds"], 2),
    },
}
CURVES = {"dqn-ablation": ["curves.csv"], "pg-variance": ["curves.csv"],
          "a2c-vs-a3c": ["returns_by_steps.csv", "returns_by_seconds.csv"]}


def _read(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _terminal_rows(stdout: str, first: str) -> list[list[str]]:
    """The cells of the Rich table rows in *stdout* that begin with *first*."""
    rows = []
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if len(cells) > 1 and cells[0] == first:
            rows.append(cells)
    return rows


def test_without_a_name_it_lists_every_experiment_one_line_each(cli, runs_dir):
    for args in (("experiment",), ("experiment", "--list")):
        result = cli(*args)
        assert result.exit_code == 0, result.output
        lines = result.stdout.strip().splitlines()
        assert [line.split()[0] for line in lines] == list(EXPERIMENTS)
    assert not runs_dir.exists()


def test_an_unknown_name_is_one_line_naming_the_nearest(cli, runs_dir):
    line = refused(cli, runs_dir, "experiment", "dqn-ablaton", says="nearest: dqn-ablation")
    assert "unknown experiment" in line
    refused(cli, runs_dir, "experiment", "zzz", says="nearest:")


def test_bad_options_are_refused_before_anything_is_written(cli, runs_dir):
    # --quick is taken; the seed count is what is refused
    refused(cli, runs_dir, "experiment", "dqn-ablation", "--quick", "--seeds", "1",
            says="--seeds 1")
    refused(cli, runs_dir, "experiment", "pg-variance", "--game", "breakout",
            says="pg-variance runs on cartpole")
    refused(cli, runs_dir, "experiment", "tabular-vs-deep", "--game", "gridworld:aliased",
            says="tabular-vs-deep runs on gridworld:classic")


@pytest.mark.parametrize("name", [n for n in EXPECTED if n != "a2c-vs-a3c"])
def test_each_experiment_runs_end_to_end_at_the_tiny_size(cli, runs_dir, name):
    _check_end_to_end(cli, runs_dir, name)


@pytest.mark.slow  # A3C starts worker processes (each imports torch): about 20 s on 2 cores
def test_a2c_vs_a3c_runs_end_to_end_at_the_tiny_size(cli, runs_dir):
    _check_end_to_end(cli, runs_dir, "a2c-vs-a3c")


def _check_end_to_end(cli, runs_dir: Path, name: str) -> None:
    result = cli("experiment", name, "--tiny")
    assert result.exit_code == 0, result.output + result.stderr
    folder = Path(result.stdout.strip().splitlines()[-1])
    assert folder.parent == runs_dir / "experiments" and folder.name.startswith(f"{name}-")
    study = json.loads((folder / "study.json").read_text())
    assert study["experiment"] == name and study["size"] == "tiny" and study["seeds"] == [0, 1]
    for file, (columns, count) in EXPECTED[name].items():
        header, *rows = _read(folder / file)
        assert header == columns
        assert len(rows) == count
        for row in rows:  # the CSV holds exactly what the terminal's table shows
            assert row in _terminal_rows(result.stdout, row[0]), (row, result.stdout)
    for file in CURVES.get(name, []):
        header, *rows = _read(folder / file)
        assert header == ["series", "x", "mean", "std", "min", "max", "seeds"]
        assert rows and all(r[-1] == "2" for r in rows)
    assert (folder / "summary.txt").read_text().strip()
    runs = sorted(p.name for p in (folder / "runs").iterdir())
    assert runs and all(p.endswith(("-seed0", "-seed1")) for p in runs)
    for run in (folder / "runs").iterdir():
        assert json.loads((run / "status.json").read_text())["status"] == "done"
        assert (run / "checkpoints" / "latest.pt").is_file()


def test_ctrl_c_stops_keeps_what_finished_and_exits_130(tmp_path):
    env = {**os.environ, "AGENTAPP_RUNS": str(tmp_path / "runs"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentapp", "experiment", "aliased-gridworld", "--tiny",
         "--seeds", "3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    first = proc.stdout.readline()  # one run has finished
    assert first.startswith("[1/6]"), first + proc.stderr.read()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err
    folder = Path(out.strip().splitlines()[-1])
    _, *rows = _read(folder / "results.csv")
    assert "stopped before the end" in (folder / "summary.txt").read_text()
    finished = sum(int(r[-1]) for r in rows)
    assert 1 <= finished < 6


def test_no_figure_is_cut_in_a_narrow_terminal_or_a_log(tmp_path):
    """A table wider than the terminal is shown one block per row; a log gets the whole table."""
    from rich.console import Console

    from agentapp.cli.experiment_cmd import show
    from agentapp.experiments.common import Result, Table

    columns = ["method", "seeds", "mean", "std", "steps/s", "seconds", "cores", "more", "last"]
    row = ["A2C", 2, 0.3885, 0.004554, 1545, 18.11, 2, 1.5, 3.25]
    result = Result("speed", tmp_path, tables=[Table("speed", "Speed", columns, [row])])
    figures = ["0.3885", "0.004554", "1545", "18.11", "3.25"]
    narrow = Console(force_terminal=True, width=50, no_color=True, record=True)
    show(narrow, result)
    text = narrow.export_text()
    assert "┏" not in text and all(f in text for f in figures) and "…" not in text
    log = Console(width=50, record=True)
    show(log, result)
    text = log.export_text()
    assert "┏" in text and all(f in text for f in figures) and "…" not in text
