"""Checkpoints from elsewhere: code-running pickles, broken files, other format versions and
agents of other games. Each is refused with one line that says what is wrong (exit code 2), and
nothing runs, nothing saved changes.

``tests/cli/test_bad_input.py`` covers the basic corrupt files and resume rules; these add the
hostile and the cross-game cases.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import zipfile
from pathlib import Path

import pytest
import torch

from agentapp import checkpoints
from agentapp.errors import UserError


class RunsCode:
    """Pickles as "call exec(code)": unpickling it without weights_only creates *marker*."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


def refusal(path: Path) -> str:
    with pytest.raises(UserError) as info:
        checkpoints.load(path)
    message = str(info.value)
    assert "\n" not in message and "()" not in message, message
    return message


# -- (a) a pickle that would run code ---------------------------------------------------------


@pytest.fixture
def code_running(tmp_path, shipped):
    """Three crafted files whose loading (without weights_only) would create ``marker``."""
    marker = tmp_path / "marker"
    real = torch.load(shipped("cartpole-ppo"), weights_only=True)
    folder = tmp_path / "hostile"
    folder.mkdir()
    torch.save({**real, "config": RunsCode(marker)}, folder / "inside.pt")  # a real checkpoint
    torch.save(RunsCode(marker), folder / "torch.pt")  # a torch file holding only the payload
    (folder / "bare.pt").write_bytes(pickle.dumps(RunsCode(marker)))  # a plain pickle
    return marker, sorted(folder.iterdir())


def test_code_running_pickles_are_refused_and_do_not_run(code_running):
    marker, files = code_running
    for path in files:
        message = refusal(path)
        assert "refused" in message and "code" in message, message
    assert not marker.exists()
    torch_file = next(p for p in files if p.name == "torch.pt")
    assert "(exec;" in refusal(torch_file)  # names what it would have called
    # the control: the files really are hostile, an unsafe load does run their code
    torch.load(torch_file, weights_only=False)
    assert marker.exists()


def test_code_running_pickles_are_refused_by_every_command(code_running, rejects, runs_dir):
    marker, files = code_running
    for path in files:
        for command in ("eval", "watch", "inspect"):
            rejects(command, path, says="refused")
        rejects("train", "cartpole", "--resume", path, says="refused")
    # --resume of a run whose latest.pt was replaced: refused, the run left as it was
    run = runs_dir / "cartpole-ppo-planted"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"game": "cartpole", "algo": "ppo"}))
    (run / "checkpoints" / "latest.pt").write_bytes(files[0].read_bytes())
    rejects("train", "cartpole", "--resume", run.name, says="refused")
    rejects("eval", run.name, says="refused")
    assert not marker.exists()


# -- (b) files that are not checkpoints --------------------------------------------------------


def _zip_of_text(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes/readme.txt", "hello")


BROKEN = {
    "empty": (lambda p, real: p.write_bytes(b""), "the file is empty"),
    "half": (lambda p, real: p.write_bytes(real[: len(real) // 2]), "truncated"),
    "head": (lambda p, real: p.write_bytes(real[:100]), "truncated"),
    "random": (lambda p, real: p.write_bytes(b"\x17" + random.Random(0).randbytes(4095)),
               "not a torch file: it starts with the bytes 17"),
    "zip": (lambda p, real: _zip_of_text(p), "a zip archive, but not a torch file"),
    "json": (lambda p, real: p.write_text(json.dumps({"format": 1, "game": "cartpole"})),
             "not a torch file: it holds text"),
    "list": (lambda p, real: torch.save([1, 2, 3], p), "it holds a list, not a dict"),
    "dict": (lambda p, real: torch.save({"weights": torch.zeros(3)}, p), "no game field"),
    "array": (lambda p, real: torch.save({"x": __import__("numpy").zeros(2)}, p), "refused"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_files_say_what_is_wrong(case, tmp_path, shipped, rejects):
    make, says = BROKEN[case]
    path = tmp_path / f"{case}.pt"
    make(path, shipped("cartpole-ppo").read_bytes())
    assert says in refusal(path)
    rejects("eval", path, says=says)
    rejects("train", "cartpole", "--resume", path, says=says)


def test_fields_of_the_wrong_kind(tmp_path, shipped):
    real = torch.load(shipped("cartpole-ppo"), weights_only=True)
    cases = {
        "step is str, expected int": {**real, "step": "ten"},
        "config.seed is float, expected int": {**real, "config": {**real["config"], "seed": 0.5}},
        "no config.hyperparameters field": {
            **real, "config": {k: v for k, v in real["config"].items() if k != "hyperparameters"}
        },
        "spaces is list, expected dict": {**real, "spaces": []},
    }
    for says, payload in cases.items():
        path = tmp_path / "odd.pt"
        torch.save(payload, path)
        assert says in refusal(path)


def test_what_is_not_a_plain_file(tmp_path, rejects):
    folder = tmp_path / "x.pt"
    folder.mkdir()
    assert "it is a folder" in refusal(folder)
    rejects("eval", folder, says="nor a checkpoint file")
    rejects("train", "cartpole", "--resume", folder, says="nor a checkpoint file")
    fifo = tmp_path / "pipe.pt"
    os.mkfifo(fifo)  # opening it would block forever
    loop = tmp_path / "loop.pt"
    loop.symlink_to(tmp_path / "loop2.pt")
    (tmp_path / "loop2.pt").symlink_to(loop)
    dangling = tmp_path / "gone.pt"
    dangling.symlink_to(tmp_path / "nowhere.pt")
    cases = {fifo: "not a regular file", Path("/dev/zero"): "not a regular file",
             loop: "cannot read", dangling: "checkpoint not found"}
    for path, says in cases.items():
        assert says in refusal(path)
        rejects("eval", path, says=says)
        rejects("train", "cartpole", "--resume", path, says=says)


# -- (c) format versions ------------------------------------------------------------------------


def _with_format(real: dict, version) -> dict:
    payload = dict(real)
    if version is None:
        del payload["format"]
    else:
        payload["format"] = version
    return payload


def test_a_newer_format_asks_for_an_upgrade(tmp_path, shipped, rejects):
    real = torch.load(shipped("cartpole-ppo"), weights_only=True)
    newer = tmp_path / "newer.pt"
    now = checkpoints.FORMAT_VERSION
    torch.save(_with_format(real, now + 1), newer)
    says = (f"made by a newer agentapp (format {now + 1}); this one reads format {now} "
            f"— upgrade agentapp")
    assert says in refusal(newer)
    rejects("eval", newer, says=says)
    rejects("train", "cartpole", "--resume", newer, says="upgrade agentapp")


def test_an_older_format_is_migrated(tmp_path, shipped, cli, runs_dir):
    real = torch.load(shipped("cartpole-ppo"), weights_only=True)
    older = tmp_path / "format0.pt"
    torch.save(_with_format(real, None), older)  # format 0: before the field existed
    loaded = checkpoints.load(older)
    assert loaded["format"] == checkpoints.FORMAT_VERSION
    assert loaded["config"] == real["config"]
    result = cli("eval", older, "--episodes", "1", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["episodes"] == 1


def test_formats_that_cannot_be_read(tmp_path, shipped, monkeypatch):
    real = torch.load(shipped("cartpole-ppo"), weights_only=True)
    path = tmp_path / "odd.pt"
    torch.save(_with_format(real, "1"), path)
    assert "not an agentapp checkpoint (format '1')" in refusal(path)
    torch.save(_with_format(real, None), path)
    monkeypatch.setattr(checkpoints, "MIGRATIONS", {})
    assert "made by an older agentapp (format 0) that this one cannot convert" in refusal(path)


# -- (d) agents of other games ------------------------------------------------------------------


def _edited(source: Path, target: Path, **changes) -> Path:
    """A copy of the checkpoint *source* with fields changed (``game`` in the config too)."""
    payload = torch.load(source, weights_only=True)
    payload.update(changes)
    if "game" in changes:
        payload["config"] = {**payload["config"], "game": changes["game"]}
    torch.save(payload, target)
    return target


def test_resume_of_another_games_agent(shipped, rejects):
    cartpole = shipped("cartpole-ppo")
    rejects("train", "acrobot", "--resume", cartpole, says="is a cartpole agent, not acrobot")
    grid = shipped("gridworld-classic-value-iteration")
    rejects("train", "gridworld:maze", "--resume", grid, says="not gridworld:maze")


def test_an_agent_whose_observations_do_not_fit(tmp_path, shipped, rejects):
    fake = _edited(shipped("cartpole-ppo"), tmp_path / "fake-acrobot.pt", game="acrobot")
    says = ("does not fit acrobot: it was trained on observations Box(4,) and actions "
            "Discrete(2), and acrobot has observations Box(6,) and actions Discrete(3)")
    for command in ("eval", "watch", "inspect"):
        rejects(command, fake, says=says)
    rejects("train", "acrobot", "--resume", fake, says=says)
    maze = _edited(shipped("gridworld-classic-value-iteration"), tmp_path / "fake-maze.pt",
                   game="gridworld:maze")
    rejects("eval", maze, says="does not fit gridworld:maze")
    rejects("train", "gridworld:maze", "--resume", maze, says="does not fit gridworld:maze")


def test_an_unknown_game_method_or_state(tmp_path, shipped, rejects):
    source = shipped("cartpole-ppo")
    nogame = _edited(source, tmp_path / "nogame.pt", game="nosuchgame")
    for command in ("eval", "watch", "inspect"):
        rejects(command, nogame, says="cannot play the checkpoint's game 'nosuchgame'")
    rejects("train", "cartpole", "--resume", nogame, says="is a nosuchgame agent, not cartpole")
    noalgo = _edited(source, tmp_path / "noalgo.pt", algo="nosuchalgo")
    rejects("eval", noalgo, says="cannot rebuild the checkpoint's agent")
    nostate = _edited(source, tmp_path / "nostate.pt", algorithm={"model": {}})
    rejects("eval", nostate, says="the checkpoint's ppo state does not fit a ppo agent")
