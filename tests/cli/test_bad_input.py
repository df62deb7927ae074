"""Bad input: one clear line on stderr, exit code 2, no traceback, nothing saved touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import refused


@pytest.fixture
def trained(cli, runs_dir) -> Path:
    result = cli("train", "gridworld", "--algo", "q-learning", "--steps", "1500", "--seed", "0",
                 "--save-every", "500")
    assert result.exit_code == 0, result.output
    return Path(result.stdout.strip().splitlines()[-1])


def _rejects(cli, runs_dir: Path, *args: str, says: str) -> str:
    return refused(cli, runs_dir, *args, says=says)


def test_unknown_game_suggests_the_nearest(cli, runs_dir):
    _rejects(cli, runs_dir, "train", "gridwrld", says="did you mean: gridworld")


def test_unknown_algorithm_suggests_the_nearest(cli, runs_dir):
    _rejects(cli, runs_dir, "train", "gridworld", "--algo", "q-lerning",
             says="did you mean: q-learning")


def test_algorithm_that_does_not_suit_the_game(cli, runs_dir):
    line = _rejects(cli, runs_dir, "train", "gridworld:aliased", "--algo", "value-iteration",
                    says="model")
    assert "q-learning" in line


def test_missing_map_file(cli, runs_dir, tmp_path):
    _rejects(cli, runs_dir, "train", f"gridworld:{tmp_path / 'nope.txt'}", says="nope.txt")


def test_malformed_map_names_line_and_column(cli, runs_dir, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("S..\n.?G\n")
    line = _rejects(cli, runs_dir, "train", f"gridworld:{bad}", says="bad.txt:2:2")
    assert "expected" in line


@pytest.mark.parametrize(
    ("setting", "says"),
    [("alpah=0.1", "did you mean: alpha"), ("alpha=fast", "expected float"),
     ("slip=1.5", "slip"), ("obs=pixels", "must be one of"), ("gamma", "key=value")],
)
def test_bad_settings(cli, runs_dir, setting, says):
    _rejects(cli, runs_dir, "train", "gridworld", "--algo", "q-learning", "--set", setting,
             says=says)


def test_usage_errors_are_one_line_too(cli, runs_dir):
    _rejects(cli, runs_dir, "train", "gridworld", "--steps", "many", says="--steps")
    _rejects(cli, runs_dir, "train", "gridworld", "--steps", "0", says="--steps")


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:1"])
@pytest.mark.parametrize("algo", ["q-learning", "ppo"])
def test_missing_cuda_device(cli, runs_dir, monkeypatch, device, algo):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # whatever this machine has
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    _rejects(cli, runs_dir, "train", "gridworld", "--algo", algo, "--device", device,
             says="no CUDA device")


@pytest.mark.parametrize(
    ("game", "algo", "setting", "says"),
    [("pong", "ppo", "precision=bf16", "this run trains on the CPU"),
     ("pong", "dqn", "compile=reduce-overhead", "this run trains on the CPU"),
     ("cartpole", "ppo", "compile=default", "for the pixel networks"),
     ("pong", "a3c", "precision=bf16", "a3c's workers train on the CPU")],
)
def test_gpu_options_are_refused_where_they_would_do_nothing(cli, runs_dir, game, algo,
                                                            setting, says):
    _rejects(cli, runs_dir, "train", game, "--algo", algo, "--device", "cpu", "--set", setting,
             says=says)


def test_unknown_device(cli, runs_dir):
    _rejects(cli, runs_dir, "train", "gridworld", "--device", "tpu", says="expected auto, cpu")


@pytest.mark.parametrize("command", ["eval", "watch", "inspect"])
def test_missing_run(cli, runs_dir, command):
    _rejects(cli, runs_dir, command, "no-such-run", says="no-such-run")


@pytest.mark.parametrize("content", [b"", b"\x00garbage\xff" * 10, b"PK\x03\x04truncated"])
def test_corrupt_checkpoints_are_refused(cli, runs_dir, trained, tmp_path, content):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    for command in ("eval", "watch", "inspect"):
        _rejects(cli, runs_dir, command, str(bad), says="not a valid agentapp checkpoint")
    _rejects(cli, runs_dir, "train", "gridworld", "--resume", str(bad),
             says="not a valid agentapp checkpoint")


def test_truncated_latest_checkpoint_of_a_run(cli, runs_dir, trained, tmp_path):
    latest = trained / "checkpoints" / "latest.pt"
    copy = tmp_path / "cut.pt"
    copy.write_bytes(latest.read_bytes()[: latest.stat().st_size // 2])
    _rejects(cli, runs_dir, "eval", str(copy), says="cut.pt")


def test_resume_rules(cli, runs_dir, trained):
    _rejects(cli, runs_dir, "train", "gridworld", "--resume", trained, "--steps", "1500",
             says="already done 1500")
    _rejects(cli, runs_dir, "train", "gridworld:cliff", "--resume", trained,
             says="not gridworld:cliff")
    _rejects(cli, runs_dir, "train", "gridworld", "--algo", "sarsa", "--resume", trained,
             says="trained with q-learning")
    _rejects(cli, runs_dir, "train", "gridworld", "--resume", trained, "--set", "obs=walls",
             "--steps", "3000", says="observation")
    _rejects(cli, runs_dir, "train", "gridworld", "--resume", "last", "--algo", "sarsa",
             says="no earlier")


def test_a_live_lock_refuses_a_second_trainer(cli, runs_dir, trained):
    import os
    import subprocess
    import sys

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (trained / "lock").write_text(str(sleeper.pid))
        _rejects(cli, runs_dir, "train", "gridworld", "--resume", trained, "--steps", "3000",
                 says="in use")
    finally:
        sleeper.kill()
        sleeper.wait()
    # the lock of a dead process is stale and is taken over
    result = cli("train", "gridworld", "--resume", trained, "--steps", "3000")
    assert result.exit_code == 0, result.output
    assert not (trained / "lock").exists()
    assert os.environ.get("AGENTAPP_RUNS")
