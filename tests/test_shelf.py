"""The shelf of shipped agents: every file is intact, plays as well as its manifest says, is found
per game, and is part of the installed package (not only of a source checkout)."""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from agentapp import shelf
from agentapp.errors import UserError
from agentapp.games.gridmap import BUILTIN_MAPS

AGENTS = shelf.load_manifest()
ROOT = Path(__file__).resolve().parents[1]


def _ids(agent: shelf.ShippedAgent) -> str:
    return agent.file


def test_the_shelf_has_every_gridworld_map_cartpole_ppo_and_dqn_and_pong():
    shipped = {(a.game, a.algo) for a in AGENTS}
    games = {game for game, _ in shipped}
    assert {f"gridworld:{name}" for name in BUILTIN_MAPS} <= games
    assert {("cartpole", "ppo"), ("cartpole", "dqn"), ("pong", "ppo")} <= shipped
    assert len({a.file for a in AGENTS}) == len(AGENTS)


def _is_atari(agent: shelf.ShippedAgent) -> bool:
    from agentapp.games import resolve

    return resolve(agent.game).family == "atari"


@pytest.mark.parametrize("agent", AGENTS, ids=_ids)
def test_each_file_is_present_small_and_matches_its_checksum(agent):
    path = shelf.verify(agent)
    assert path == shelf.SHELF_DIR / agent.file
    # a Nature CNN is 1.7M parameters: 6.8 MB shipped without its optimizer's moments
    assert path.stat().st_size < (8_000_000 if _is_atari(agent) else 500_000)
    assert agent.command.startswith(f"agentapp train {agent.game} --algo {agent.algo} ")
    assert "--seed " in agent.command
    assert {"agentapp", "torch"} <= set(agent.trained_with)


@pytest.fixture
def one_torch_thread():
    """Tiny MLPs run fastest on one thread; two fight over a busy 2-core machine (10x slower)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _slow_if_atari(agent: shelf.ShippedAgent):
    """Ten whole games of Pong by a good player take minutes on a small CPU: the slow checks."""
    marks = [pytest.mark.slow] if _is_atari(agent) else []
    return pytest.param(agent, id=agent.file, marks=marks)


@pytest.mark.parametrize("agent", [_slow_if_atari(a) for a in AGENTS])
def test_each_agent_plays_as_well_as_its_manifest_says(agent, one_torch_thread):
    from agentapp.engine import algorithms
    from agentapp.engine.algorithms.deep import DeepAlgorithm

    result = shelf.evaluate(agent)
    assert result["protocol"] == agent.protocol
    assert result["episodes"] == agent.eval_episodes
    if issubclass(algorithms.get(agent.algo), DeepAlgorithm):
        # float32 matrix products may differ in the last bits on another CPU or torch, which can
        # flip a near-tie action; a shipped agent must still play about as well
        tolerance = max(0.02 * abs(agent.eval_mean), 1.0)
    else:
        # a table's greedy actions and a seeded gridworld are the same everywhere
        tolerance = 1e-9
    assert abs(result["mean"] - agent.eval_mean) <= tolerance, result
    assert abs(result["std"] - agent.eval_std) <= max(tolerance, 1e-9), result


def test_shipped_for_picks_the_best_agent_of_each_game():
    for game in {a.game for a in AGENTS}:
        best = shelf.shipped_for(game)
        assert best is not None and best.game == game
        assert best.eval_mean == max(a.eval_mean for a in AGENTS if a.game == game)
    assert shelf.shipped_for("cartpole").algo == "ppo"  # a tie at 500: the first listed
    assert shelf.shipped_for("gridworld:maze").file == "gridworld-maze-value-iteration.pt"
    assert shelf.shipped_for("pong").file == "pong-ppo.pt"
    assert shelf.shipped_for("breakout") is None


def test_the_pong_agent_wins_its_first_evaluation_game():
    """The quick check of the showcase in the default run (its ten games are a slow check): the
    manifest's first seeded game, played from the shipped file, is won against the built-in
    player."""
    pong = shelf.shipped_for("pong")
    one_game = shelf.ShippedAgent(**{**pong.as_json(), "eval_episodes": 1})
    result = shelf.evaluate(one_game)
    assert "no sticky actions" in result["protocol"] and result["episodes"] == 1
    assert result["mean"] > 0, result


def _entry(file: str, mean: float, std: float) -> dict:
    return {"file": file, "game": "g", "algo": "a", "steps": 1, "protocol": "p",
            "eval_mean": mean, "eval_std": std, "eval_episodes": 1, "eval_seed": 0,
            "sha256": "0" * 64, "command": "agentapp train g", "trained_with": {}}


def test_shipped_for_prefers_the_higher_mean_then_the_smaller_spread_then_the_first(tmp_path):
    entries = [_entry("a.pt", 1.0, 0.5), _entry("b.pt", 2.0, 0.5), _entry("c.pt", 2.0, 0.1),
               _entry("d.pt", 2.0, 0.1)]
    (tmp_path / shelf.MANIFEST).write_text(json.dumps({"format": 1, "agents": entries}))
    assert shelf.shipped_for("g", root=tmp_path).file == "c.pt"
    assert shelf.shipped_for("h", root=tmp_path) is None
    assert shelf.load_manifest(tmp_path / "nowhere") == []


def test_a_bad_manifest_is_a_clear_user_error(tmp_path):
    (tmp_path / shelf.MANIFEST).write_text("{not json")
    with pytest.raises(UserError, match="manifest"):
        shelf.load_manifest(tmp_path)
    (tmp_path / shelf.MANIFEST).write_text(json.dumps({"format": 99, "agents": []}))
    with pytest.raises(UserError, match="format 99"):
        shelf.load_manifest(tmp_path)


def _copy_shelf(tmp_path: Path) -> Path:
    copy = tmp_path / "models"
    shutil.copytree(shelf.SHELF_DIR, copy)
    return copy


def test_a_damaged_copy_is_refused_before_it_is_loaded(tmp_path):
    copy = _copy_shelf(tmp_path)
    agent = shelf.shipped_for("cartpole", root=copy)
    assert shelf.verify(agent, root=copy) == copy / agent.file
    data = bytearray((copy / agent.file).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / agent.file).write_bytes(bytes(data))
    with pytest.raises(UserError, match="does not match its manifest checksum"):
        shelf.verify(agent, root=copy)
    with pytest.raises(UserError, match="checksum"):
        shelf.evaluate(agent, root=copy)
    (copy / agent.file).unlink()
    with pytest.raises(UserError, match="missing"):
        shelf.verify(agent, root=copy)


def test_the_shelf_is_package_data_of_the_installed_distribution():
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["agentapp"]
    shipped = [shelf.MANIFEST, *(a.file for a in AGENTS)]
    for name in shipped:
        assert any(fnmatch.fnmatch(f"models/{name}", g) for g in globs), (name, globs)
    manifest = resources.files("agentapp").joinpath("models", shelf.MANIFEST)
    assert json.loads(manifest.read_text(encoding="utf-8"))["agents"]
    assert (Path(str(resources.files("agentapp"))) / "models").resolve() == shelf.SHELF_DIR


def test_importing_the_shelf_is_cheap():
    probe = ("import sys, agentapp.shelf as s\ns.shipped_for('cartpole')\n"
             "print(' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    loaded = {name.split(".")[0] for name in out.stdout.split()}
    assert not loaded & {"torch", "gymnasium", "textual", "typer", "rich"}


def test_agentapp_models_lists_the_shelf(cli):
    result = cli("models", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["file"] for r in rows] == [a.file for a in AGENTS]
    assert all(r["checksum"] == "ok" and Path(r["path"]).is_file() for r in rows)
    table = cli("models")
    assert table.exit_code == 0 and "cartpole" in table.stdout
