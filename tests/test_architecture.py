"""The dependency direction of DESIGN.md, checked in fresh interpreters."""

from __future__ import annotations

import subprocess
import sys

UI = ("textual", "typer", "rich")


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in out.stdout.split()}


def test_engine_and_games_import_no_ui_package():
    loaded = _loaded_after(
        "import agentapp.engine, agentapp.engine.loop, agentapp.engine.plan, "
        "agentapp.engine.algorithms, agentapp.games, agentapp.runs, agentapp.checkpoints\n"
        "from agentapp.games import resolve; resolve('gridworld:cliff').make()"
    )
    assert not loaded & set(UI), loaded & set(UI)


def test_help_does_not_import_torch():
    loaded = _loaded_after(
        "import sys\nfrom agentapp.cli import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass"
    )
    assert "torch" not in loaded
    assert "gymnasium" not in loaded


def test_python_dash_m_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "agentapp", "--help"], capture_output=True,
                         text=True)
    assert out.returncode == 0 and "train" in out.stdout
