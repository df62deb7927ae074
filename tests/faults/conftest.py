"""Shared by the fault tests: how a refusal must look (one line on stderr, exit code 2, no
traceback, nothing saved touched) and the trained agents that ship with agentapp, copied out so
that no test can change the originals."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import agentapp
from tests.conftest import refused

SHIPPED = Path(agentapp.__file__).parent / "models"


@pytest.fixture
def rejects(cli, runs_dir, tmp_path):
    """``rejects(*args, says=...)`` runs the CLI and checks the refusal; returns the line."""

    def check(*args: str, says: str) -> str:
        line = refused(cli, tmp_path, *args, says=says)  # runs and the offending files alike
        assert not any(runs_dir.glob("*/lock"))
        return line

    return check


@pytest.fixture
def shipped(tmp_path: Path):
    """``shipped("cartpole-ppo")``: a copy of a shipped checkpoint under *tmp_path*."""

    def copy(name: str) -> Path:
        target = tmp_path / "agents" / f"{name}.pt"
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(SHIPPED / f"{name}.pt", target)
        return target

    return copy
