"""Shared fixtures: an isolated runs folder and a CLI runner that keeps stdout and stderr apart."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner


@pytest.fixture
def runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "runs"
    monkeypatch.setenv("AGENTAPP_RUNS", str(root))
    monkeypatch.chdir(tmp_path)
    return root


@pytest.fixture
def cli():
    from agentapp.cli import app

    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(app, [str(a) for a in args], input=input)

    return invoke


def tree_digest(root: Path) -> dict[str, str]:
    """Content hash of every file under *root*, to prove that nothing saved was touched."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file()
    }


def refused(cli, folder: Path, *args: str, says: str) -> str:
    """Run the CLI with *args* and check it refuses as bad input must: exit 2, one line on
    stderr containing *says*, no traceback or usage text, nothing under *folder* changed.
    Returns the line."""
    before = tree_digest(folder)
    result = cli(*args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output and "Usage:" not in result.stderr
    assert says.lower() in lines[0].lower(), lines[0]
    assert tree_digest(folder) == before
    return lines[0]


def wait_for_file(root: Path, pattern: str, proc, seconds: float = 120) -> Path:
    """The first file under *root* matching *pattern* (a glob), waiting while the subprocess
    *proc* runs; fails when it ends first or after *seconds*."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = next(iter(root.glob(pattern)), None)
        if found is not None:
            return found
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError(f"no {pattern} under {root} within {seconds:g} s")


@pytest.fixture(scope="module")
def local_ray():
    """One small local Ray for a test module (2 CPUs: two 1-CPU trials or a learner and
    fractional workers fit side by side), shut down after the module. Modules that use it skip
    themselves when Ray is not installed (``pytest.importorskip("ray")``)."""
    import logging

    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.ERROR)
    yield ray
    ray.shutdown()
