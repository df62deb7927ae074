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
