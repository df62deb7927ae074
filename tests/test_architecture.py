"""The dependency direction of DESIGN.md, checked in fresh interpreters."""

from __future__ import annotations

import re
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


# -- Ray is an optional extra: only `sweep` and `train --workers` may import it, when they run --

ENGINE_AND_FRONT_ENDS = (
    "import agentapp.engine, agentapp.engine.loop, agentapp.engine.plan, "
    "agentapp.engine.algorithms, agentapp.games, agentapp.runs, agentapp.checkpoints, "
    "agentapp.cli, agentapp.tui.app, agentapp.tui.screens.runs\n"
    "from agentapp.games import resolve; resolve('gridworld:cliff').make()"
)


def _modules_after(code: str) -> set[str]:
    """Top-level packages loaded after *code*, which may print (the CLI does): the list comes on
    a last line of its own."""
    probe = f"{code}\nimport sys\nprint('\\nMODULES', ' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    names = out.stdout.rstrip().splitlines()[-1].split()
    assert names[0] == "MODULES", out.stdout[-500:]
    return {name.split(".")[0] for name in names[1:]}


def _cli_calls(*commands: list[str]) -> str:
    """Code that runs each CLI command line in turn in one interpreter."""
    lines = ["from agentapp.cli import app"]
    for argv in commands:
        lines.append(f"try:\n    app({argv!r})\nexcept SystemExit:\n    pass")
    return "\n".join(lines)


def test_engine_games_runs_and_front_ends_do_not_import_ray():
    assert "ray" not in _modules_after(ENGINE_AND_FRONT_ENDS)


def test_help_and_list_do_not_import_ray():
    loaded = _modules_after(_cli_calls(["--help"], ["list"], ["list", "--json"],
                                      ["train", "--help"], ["sweep", "--help"]))
    assert "ray" not in loaded


def test_without_ray_the_app_trains_and_lists_as_before(tmp_path):
    # `sys.modules["ray"] = None` makes any `import ray` fail as if Ray were not installed
    code = "import sys\nsys.modules['ray'] = None\n" + _cli_calls(
        ["train", "gridworld", "--algo", "q-learning", "--steps", "200", "--seed", "0",
         "--headless", "--runs-dir", str(tmp_path)],
        ["runs", "--runs-dir", str(tmp_path)],
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert "Traceback" not in out.stderr and not re.search(r"\bray\b", out.stderr, re.I), (
        out.stderr)
    assert "gridworld-classic-q-learning" in out.stdout  # trained, then listed
