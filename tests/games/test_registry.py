"""The gridworld family in the game registry: names, files, listings and capabilities."""

from __future__ import annotations

import dataclasses

import pytest

from agentapp.errors import UserError
from agentapp.games import catalogue, resolve
from agentapp.games.gridworld import ACTION_NAMES, GridWorldEnv, GridworldParams
from agentapp.games.registry import DISCRETE_ACTIONS, DISCRETE_OBS, MODEL, VECTOR_OBS
from agentapp.params import apply_overrides, describe


def test_plain_gridworld_is_classic():
    game = resolve("gridworld")
    assert game.id == "gridworld:classic" and game.family == "gridworld"
    assert game.default_algo == "value-iteration"
    assert game.actions == ACTION_NAMES
    assert game.observation == "Discrete(12) cell index"
    assert "Russell & Norvig" in game.description and "3 rows x 4 cols" in game.description
    assert game.params == GridworldParams(0.2, -0.04, 1.0, 200, "index")
    assert game.default_gamma(game.params) == 1.0
    env = game.make()
    assert isinstance(env, GridWorldEnv) and env.slip == 0.2


def test_named_map_and_params_reach_the_env():
    game = resolve("gridworld:cliff")
    assert game.id == "gridworld:cliff"
    assert game.slug == "gridworld-cliff"
    params = apply_overrides(game.params, {"slip": "0.1", "max_steps": "50"})
    env = game.make(params, render_mode="ansi")
    assert (env.slip, env.max_steps, env.living_reward, env.render_mode) == (0.1, 50, -1.0, "ansi")
    assert env.grid.name == "cliff"


def test_map_file_by_path(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("title: Mine\nobs: walls\nS..G\n", encoding="utf-8")
    game = resolve(f"gridworld:{path}")
    assert game.id == f"gridworld:{path}"
    assert game.description.startswith("Mine")
    assert game.observation == "Discrete(16) wall pattern"
    assert game.default_algo == "q-learning"
    assert game.make().grid.cols == 4


def test_aliased_defaults_to_a_model_free_method():
    game = resolve("gridworld:aliased")
    assert game.default_algo == "q-learning"
    assert game.default_gamma(game.params) == 0.99


def test_unknown_names_suggest():
    with pytest.raises(UserError, match=r"did you mean: .*gridworld"):
        resolve("gridwrld")
    with pytest.raises(UserError, match="did you mean: cliff"):
        resolve("gridworld:clif")
    with pytest.raises(UserError, match="no such file"):
        resolve("gridworld:/nonexistent-dir-for-agentapp/x.txt")


def test_bad_map_file_names_file_line_and_column(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("S?G\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"bad\.txt:1:2: unknown cell symbol '\?'"):
        resolve(f"gridworld:{path}")


def test_catalogue_lists_the_four_maps():
    ids = [g.id for g in catalogue() if g.family == "gridworld"]
    assert ids == [
        "gridworld:classic",
        "gridworld:cliff",
        "gridworld:aliased",
        "gridworld:maze",
    ]


def test_capabilities_follow_obs():
    game = resolve("gridworld")
    assert game.capabilities() == {MODEL, DISCRETE_OBS, VECTOR_OBS, DISCRETE_ACTIONS}
    walls = dataclasses.replace(game.params, obs="walls")
    assert game.capabilities(walls) == {DISCRETE_OBS, VECTOR_OBS, DISCRETE_ACTIONS}
    aliased = resolve("gridworld:aliased")
    assert MODEL not in aliased.capabilities()
    assert MODEL in aliased.capabilities(dataclasses.replace(aliased.params, obs="index"))


def test_params_are_validated_by_the_settings_machinery():
    game = resolve("gridworld")
    fields = {f.name: f for f in describe(game.params)}
    assert list(fields) == ["slip", "living_reward", "discount", "max_steps", "obs"]
    assert fields["slip"].default == 0.2 and fields["obs"].choices == ("index", "walls")
    for bad in ({"slip": "2"}, {"discount": "0"}, {"max_steps": "0"}, {"obs": "rgb"}):
        with pytest.raises(UserError):
            apply_overrides(game.params, bad)
