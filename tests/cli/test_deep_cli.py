"""The deep methods from the command line: train then eval each one, the device it picks, bad
resumes, and (slow) that each solves CartPole with its preset."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

DEEP = ["ppo", "a2c", "dqn", "reinforce"]
SMALL = {
    "ppo": ["--envs", "4", "--set", "n_steps=16", "--set", "batch_size=32", "--set", "n_epochs=2"],
    "a2c": ["--envs", "4", "--set", "n_steps=5"],
    "dqn": ["--envs", "2", "--set", "learning_starts=200", "--set", "train_freq=4",
            "--set", "gradient_steps=1", "--set", "batch_size=32", "--set", "hidden=32,32"],
    "reinforce": ["--set", "batch_episodes=2"],
}


@pytest.fixture
def no_gpu(monkeypatch):
    """A machine without CUDA, whatever this one has."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


def _train(cli, *args: str):
    result = cli("train", *args, "--headless")
    assert result.exit_code == 0, result.output + result.stderr
    run = Path(result.stdout.strip().splitlines()[-1])
    assert run.is_dir(), f"last line must be the run folder, got {run}"
    return result, run


@pytest.mark.parametrize("algo", DEEP)
def test_train_then_eval_each_deep_method_on_the_cpu_picked_by_auto(cli, runs_dir, no_gpu, algo):
    result, run = _train(cli, "cartpole", "--algo", algo, "--steps", "1500", "--seed", "0",
                         "--device", "auto", "--eval-episodes", "2", *SMALL[algo])
    assert "device cpu" in result.stdout
    config = json.loads((run / "config.json").read_text())
    assert config["device"] == "cpu" and config["algo"] == algo and config["game"] == "cartpole"
    assert json.loads((run / "status.json").read_text())["status"] == "done"
    report = cli("eval", run, "--episodes", "3", "--json")
    assert report.exit_code == 0, report.output
    data = json.loads(report.stdout)
    assert data["episodes"] == 3 and len(data["returns"]) == 3
    assert all(1 <= r <= 500 for r in data["returns"]) and math.isfinite(data["mean"])
    assert data["checkpoint"].endswith(".pt")


def _rejected(cli, *args: str, says: str) -> None:
    result = cli(*args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert says in lines[0], lines[0]


def test_resume_that_changes_the_network_is_bad_input_and_leaves_the_run_alone(cli, runs_dir):
    _, run = _train(cli, "cartpole", "--algo", "ppo", "--steps", "256", "--seed", "0",
                    "--eval-episodes", "1", *SMALL["ppo"])
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    _rejected(cli, "train", "cartpole", "--resume", run, "--steps", "512",
              "--set", "hidden=32", says="--set hidden=32")
    _rejected(cli, "train", "cartpole", "--resume", run, "--steps", "512",
              "--set", "shared=true", says="network")
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    _, again = _train(cli, "cartpole", "--resume", run, "--steps", "512",
                      "--set", "ent_coef=0.01")  # a safe change is fine
    assert again == run


@pytest.mark.slow
@pytest.mark.parametrize("algo", DEEP)
def test_each_method_solves_cartpole_with_its_preset(cli, runs_dir, algo):
    result, run = _train(cli, "cartpole", "--algo", algo, "--seed", "0", "--device", "cpu",
                         "--target-return", "475")
    assert "target return 475.0 reached" in result.stdout
    status = json.loads((run / "status.json").read_text())
    assert status["last_eval"] >= 475  # greedy, 10 episodes
