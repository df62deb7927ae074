"""The CLI end to end through Typer's CliRunner: train, runs, eval, inspect, watch, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

TABULAR = ["value-iteration", "policy-iteration", "q-learning", "sarsa", "mc-control"]


def _train(cli, *args: str):
    result = cli("train", *args)
    assert result.exit_code == 0, result.output + result.stderr
    run = Path(result.stdout.strip().splitlines()[-1])
    assert run.is_dir(), f"last line must be the run folder, got {run}"
    return result, run


@pytest.mark.parametrize("algo", TABULAR)
def test_train_each_tabular_method_writes_a_complete_run(cli, runs_dir, algo):
    result, run = _train(cli, "gridworld", "--algo", algo, "--steps", "2000", "--seed", "3")
    assert "final evaluation" in result.stdout
    config = json.loads((run / "config.json").read_text())
    assert config["algo"] == algo and config["game"] == "gridworld:classic"
    assert config["seed"] == 3
    assert "hyperparameters" in config and "versions" in config
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "done"
    assert status["last_eval"] is not None
    assert (run / "checkpoints" / "latest.pt").is_file()
    header = (run / "metrics.csv").read_text().splitlines()[0]
    assert header == "step,time,key,value"
    assert run.name.startswith(f"gridworld-classic-{algo}-")


def test_planning_logs_one_bellman_residual_per_sweep(cli, runs_dir):
    _, run = _train(cli, "gridworld", "--algo", "value-iteration", "--seed", "0")
    rows = [line.split(",") for line in (run / "metrics.csv").read_text().splitlines()[1:]]
    residual_steps = [int(r[0]) for r in rows if r[2] == "losses/bellman_residual"]
    assert residual_steps == list(range(1, len(residual_steps) + 1))
    assert json.loads((run / "status.json").read_text())["steps"] == len(residual_steps)


def test_q_learning_solves_the_cliff_and_eval_reports_it(cli, runs_dir):
    _, run = _train(cli, "gridworld:cliff", "--algo", "q-learning", "--seed", "1")
    result = cli("eval", run, "--episodes", "5", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) >= {"mean", "std", "min", "max", "episodes", "returns", "protocol",
                           "checkpoint"}
    assert report["mean"] == -13.0 and report["episodes"] == 5 and len(report["returns"]) == 5
    human = cli("eval", run.name, "--episodes", "3")
    assert human.exit_code == 0 and "mean -13.000" in human.stdout


def test_runs_lists_runs_as_table_and_json(cli, runs_dir):
    _, run = _train(cli, "gridworld", "--algo", "q-learning", "--steps", "1000", "--seed", "0")
    listed = json.loads(cli("runs", "--json").stdout)
    assert [r["name"] for r in listed] == [run.name]
    assert listed[0]["game"] == "gridworld:classic" and listed[0]["steps"] == 1000
    assert listed[0]["last_eval"] is not None and listed[0]["best_eval"] is not None
    assert run.name in cli("runs").stdout


def test_inspect_shows_value_and_policy_grids(cli, runs_dir):
    _, run = _train(cli, "gridworld", "--algo", "value-iteration", "--seed", "0",
                    "--set", "gamma=1")
    data = json.loads(cli("inspect", run, "--json").stdout)
    assert data["algo"] == "value-iteration"
    assert data["values"][2][0] == pytest.approx(0.705, abs=1e-3)
    assert data["values"][1][1] is None  # the wall
    assert data["policy"][2][0] == "up"
    text = cli("inspect", run).stdout
    assert "0.705" in text and "V(s)" in text and "↑" in text


def test_watch_plays_episodes_without_a_terminal(cli, runs_dir):
    _, run = _train(cli, "gridworld:cliff", "--algo", "q-learning", "--seed", "1")
    result = cli("watch", run, "--episodes", "2", "--fps", "1000")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("return -13.000 in 13 steps") == 2
    assert "●" in result.stdout and "→" in result.stdout
    by_game = cli("watch", "gridworld:cliff", "--fps", "1000")
    assert by_game.exit_code == 0 and "return -13.000" in by_game.stdout


def _q_table(checkpoint: Path) -> torch.Tensor:
    state = torch.load(checkpoint, weights_only=True)["algorithm"]
    return state["q"]


def test_resume_in_place_continues_exactly(cli, runs_dir):
    # constant schedules, so that the 1300-step run anneals nothing differently from the 3000-step
    # one (schedules follow the budget a run started with; the loop tests cover that case)
    args = ["gridworld:cliff", "--algo", "sarsa", "--seed", "5", "--save-every", "700",
            "--set", "alpha_schedule=constant"]
    _, straight = _train(cli, *args, "--steps", "3000")
    _, split = _train(cli, *args, "--steps", "1300")
    _, resumed = _train(cli, "gridworld:cliff", "--resume", split, "--steps", "3000")
    assert resumed == split
    a = _q_table(straight / "checkpoints" / "latest.pt")
    b = _q_table(split / "checkpoints" / "latest.pt")
    assert torch.equal(a, b)
    status = json.loads((split / "status.json").read_text())
    assert status["steps"] == 3000 and status["total_steps"] == 3000


def test_resume_from_a_checkpoint_file_starts_a_new_run_with_its_parent(cli, runs_dir):
    _, first = _train(cli, "gridworld", "--algo", "q-learning", "--steps", "2000", "--seed", "0",
                      "--save-every", "500")
    step_file = sorted((first / "checkpoints").glob("step_*.pt"))[0]
    before = step_file.read_bytes()
    _, second = _train(cli, "gridworld", "--resume", step_file, "--steps", "3000")
    assert second != first
    assert step_file.read_bytes() == before
    status = json.loads((second / "status.json").read_text())
    assert status["parent"] == str(step_file.resolve()) and status["steps"] == 3000


def test_resume_last_picks_the_newest_run_of_that_game_and_method(cli, runs_dir):
    _, run = _train(cli, "gridworld", "--algo", "q-learning", "--steps", "1000", "--seed", "0")
    _, again = _train(cli, "gridworld", "--algo", "q-learning", "--resume", "last",
                      "--steps", "1500")
    assert again == run


def test_default_seed_is_random_and_recorded(cli, runs_dir):
    _, a = _train(cli, "gridworld", "--algo", "q-learning", "--steps", "300")
    _, b = _train(cli, "gridworld", "--algo", "q-learning", "--steps", "300")
    seeds = [json.loads((r / "config.json").read_text())["seed"] for r in (a, b)]
    assert all(isinstance(s, int) for s in seeds) and seeds[0] != seeds[1]


def test_same_seed_gives_the_same_tables(cli, runs_dir):
    _, a = _train(cli, "gridworld", "--algo", "mc-control", "--steps", "3000", "--seed", "9")
    _, b = _train(cli, "gridworld", "--algo", "mc-control", "--steps", "3000", "--seed", "9")
    assert torch.equal(_q_table(a / "checkpoints" / "latest.pt"),
                       _q_table(b / "checkpoints" / "latest.pt"))


def test_list_shows_games_and_suitability(cli):
    data = json.loads(cli("list", "--json").stdout)
    ids = {g["id"]: g for g in data["games"]}
    assert {"gridworld:classic", "gridworld:cliff", "gridworld:aliased",
            "gridworld:maze"} <= set(ids)
    assert "value-iteration" in ids["gridworld:classic"]["algorithms"]
    assert "value-iteration" not in ids["gridworld:aliased"]["algorithms"]
    assert "model" in ids["gridworld:aliased"]["unsuitable"]["value-iteration"]
    assert {a["name"] for a in data["algorithms"]} >= set(TABULAR)
    assert "gridworld:cliff" in cli("list").stdout


def test_own_map_file_runs_are_usable_from_any_folder(cli, runs_dir, tmp_path, monkeypatch):
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "tiny.txt").write_text("title: tiny\nS..G\n")
    _, run = _train(cli, "gridworld:maps/tiny.txt", "--algo", "value-iteration", "--seed", "0")
    assert run.name.startswith("gridworld-tiny-value-iteration-")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = cli("eval", run.resolve(), "--json", "--episodes", "2")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["returns"] == [1.0, 1.0]


def test_list_shows_presets_as_data_and_table(cli):
    data = json.loads(cli("list", "--json").stdout)
    cartpole = next(g for g in data["games"] if g["id"] == "cartpole")
    ppo = cartpole["presets"]["ppo"]
    assert ppo["envs"] == 8 and ppo["steps"] == 100_000
    assert ppo["hyperparameters"]["n_steps"] == 32
    assert {"dqn", "reinforce", "a2c", "ppo"} <= set(cartpole["algorithms"])
    assert "q-learning" in cartpole["unsuitable"]
    table = cli("list", "--presets").stdout
    assert "cartpole" in table and "n_steps=32" in table.replace("\n", "")


def test_watch_draws_a_neural_agent_on_the_gridworld_without_tables(cli, runs_dir):
    _, run = _train(cli, "gridworld:cliff", "--algo", "dqn", "--steps", "500", "--seed", "0")
    result = cli("watch", run, "--fps", "1000")
    assert result.exit_code == 0, result.output
    assert "●" in result.stdout and "episode 1: return" in result.stdout


def test_watch_a_game_picks_its_best_run_else_the_shipped_agent(cli, runs_dir):
    # no cliff run yet: the agent that ships with the package, said so on stderr
    shipped = cli("watch", "gridworld:cliff", "--fps", "1000")
    assert shipped.exit_code == 0, shipped.output
    assert "watching the value-iteration agent that ships with agentapp" in shipped.stderr
    assert "gridworld-cliff-value-iteration.pt" in shipped.stderr
    assert "return -13.000 in 13 steps" in shipped.stdout
    # with a run of the game, that run is watched instead
    _, run = _train(cli, "gridworld:cliff", "--algo", "sarsa", "--seed", "1", "--steps", "3000")
    own = cli("watch", "gridworld:cliff", "--fps", "1000")
    assert own.exit_code == 0 and f"watching the best gridworld:cliff run: {run}" in own.stderr
    # a game with neither: one clear line, exit 2
    none = cli("watch", "acrobot")
    assert none.exit_code == 2
    assert "no trained acrobot agent" in none.stderr and "agentapp train acrobot" in none.stderr


def _set_best_eval(run: Path, value: float) -> None:
    status = json.loads((run / "status.json").read_text())
    status["best_eval"] = value
    (run / "status.json").write_text(json.dumps(status))


def test_watch_a_game_takes_the_best_evaluated_run_that_has_a_checkpoint(cli, runs_dir):
    _, better = _train(cli, "gridworld:cliff", "--algo", "value-iteration", "--seed", "1")
    _, worse = _train(cli, "gridworld:cliff", "--algo", "value-iteration", "--seed", "2")
    # the best evaluation wins, not the newest run
    _set_best_eval(worse, -13.0)
    _set_best_eval(better, -12.0)
    picked = cli("watch", "gridworld:cliff", "--fps", "1000")
    assert picked.exit_code == 0, picked.output
    assert f"watching the best gridworld:cliff run: {better}" in picked.stderr
    # a run that evaluated better but has no checkpoint to load is passed over
    _, unsaved = _train(cli, "gridworld:cliff", "--algo", "value-iteration", "--seed", "3")
    _set_best_eval(unsaved, 0.0)
    for file in (unsaved / "checkpoints").iterdir():
        file.unlink()
    again = cli("watch", "gridworld:cliff", "--fps", "1000")
    assert again.exit_code == 0, again.output
    assert f"watching the best gridworld:cliff run: {better}" in again.stderr
    # with no run that can be watched, the shipped agent
    for run in (worse, better):
        for file in (run / "checkpoints").iterdir():
            file.unlink()
    shipped = cli("watch", "gridworld:cliff", "--fps", "1000")
    assert shipped.exit_code == 0, shipped.output
    assert "watching the value-iteration agent that ships with agentapp" in shipped.stderr
