"""``agentapp train --workers N [--address ADDR]`` from the command line: bad input is refused
before anything is written (these tests need no Ray), a missing Ray says how to install it, and
(with Ray installed) Ctrl+C during a worker run saves and exits 130 as a local run does."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agentapp import checkpoints
from tests.conftest import refused, wait_for_file

HAS_RAY = importlib.util.find_spec("ray") is not None


@pytest.mark.parametrize(("args", "says"), [
    (("gridworld", "--algo", "q-learning", "--workers", "2"), "a2c, ppo can"),
    (("cartpole", "--algo", "reinforce", "--workers", "2"), "reinforce cannot use rollout"),
    (("cartpole", "--algo", "ppo", "--workers", "4", "--envs", "2"),
     "--workers 4 needs at least 4 environments: add --envs 4"),
    (("cartpole", "--algo", "ppo", "--address", "auto"), "add --workers"),
    (("cartpole", "--algo", "ppo", "--workers", "0"), "--workers 0: must be at least 1"),
    (("cartpole", "--algo", "dqn", "--workers", "-1"), "must be at least 1"),
    (("cartpole", "--algo", "ppo", "--workers", "2", "--envs", "2", "--set",
      "normalize_obs=true"), "normalize_obs"),
])
def test_bad_worker_settings_are_refused_before_anything_is_written(cli, runs_dir, args, says):
    refused(cli, runs_dir, "train", *args, says=says)
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def _env(runs_dir: Path) -> dict[str, str]:
    return {**os.environ, "AGENTAPP_RUNS": str(runs_dir), "PYTHONUNBUFFERED": "1"}


def test_without_ray_the_command_says_how_to_install_it(runs_dir):
    code = "import sys\nsys.modules['ray'] = None\nfrom agentapp.cli import main\nmain()"
    out = subprocess.run(
        [sys.executable, "-c", code, "train", "cartpole", "--algo", "ppo", "--workers", "2",
         "--envs", "2", "--steps", "64", "--headless"],
        capture_output=True, text=True, env=_env(runs_dir), timeout=120)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'agentapp[ray]'" in lines[0], out.stderr
    assert "--workers" in lines[0]
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_nothing_but_the_worker_modules_import_ray():
    probe = ("import agentapp.engine.loop, agentapp.engine.plan, agentapp.engine.algorithms, "
             "agentapp.engine.rollout_workers, agentapp.cli, agentapp.tui.runner, sys\n"
             "print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_the_dashboard_trains_worker_runs_in_a_thread_of_its_process():
    from agentapp.engine.plan import RunConfig
    from agentapp.tui.runner import ProcessRunner, ThreadRunner, runner_for

    # a pixel game would train in a child process, which would start a second Ray
    assert isinstance(runner_for(RunConfig(game="pong", algo="ppo")), ProcessRunner)
    assert isinstance(runner_for(RunConfig(game="pong", algo="ppo", workers=2)), ThreadRunner)


@pytest.mark.slow  # about 20 s: a real --workers run interrupted in a subprocess
@pytest.mark.skipif(not HAS_RAY, reason="needs the ray extra")
def test_ctrl_c_during_a_worker_run_saves_and_exits_130(runs_dir):
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentapp", "train", "cartpole", "--algo", "ppo", "--workers",
         "2", "--envs", "2", "--steps", "100000000", "--seed", "0", "--save-every", "256",
         "--set", "n_steps=32", "--set", "n_epochs=1", "--headless"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(runs_dir))
    try:
        run = wait_for_file(runs_dir, "*/checkpoints/step_*.pt", proc, seconds=120).parent.parent
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "Ctrl+C" in out and f"--resume {run}" in out
    assert json.loads((run / "config.json").read_text())["workers"] == 2
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "stopped"
    assert checkpoints.load(run / "checkpoints" / "latest.pt")["step"] == status["steps"] > 0
    assert not (run / "lock").exists()


@pytest.mark.skipif(not HAS_RAY, reason="needs the ray extra")
def test_an_address_where_no_cluster_answers_is_one_line_within_seconds(runs_dir):
    import socket

    with socket.socket() as probe:  # a port nothing listens on once this socket is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = subprocess.run(
        [sys.executable, "-m", "agentapp", "train", "cartpole", "--algo", "ppo", "--workers",
         "2", "--envs", "2", "--steps", "64", "--headless", "--address", f"127.0.0.1:{port}"],
        capture_output=True, text=True, env=_env(runs_dir), timeout=120)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "no Ray cluster answers there" in lines[0], out.stderr
    assert not runs_dir.exists() or not any(runs_dir.iterdir())
