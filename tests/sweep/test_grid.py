"""``--grid`` and ``--games`` parsing and the expansion into trials (no Ray needed)."""

from __future__ import annotations

import pytest

from agentapp.errors import UserError
from agentapp.sweep.grid import combinations, expand, params_text, parse_games, parse_grid


def test_grid_keeps_keys_and_values_in_order():
    grid = parse_grid(["learning_rate=1e-4, 3e-4", "ent_coef=0,0.01,0.1"])
    assert grid == {"learning_rate": ["1e-4", "3e-4"], "ent_coef": ["0", "0.01", "0.1"]}


@pytest.mark.parametrize(("pair", "says"), [
    ("learning_rate", "expected key=value1,value2"),
    ("=1,2", "expected key=value1,value2"),
    ("learning_rate=", "every value must be non-empty"),
    ("learning_rate=1e-4,,3e-4", "every value must be non-empty"),
    ("learning_rate=1e-4,", "every value must be non-empty"),
    ("learning_rate=1,1", "given twice"),
])
def test_malformed_grid_is_bad_input(pair, says):
    with pytest.raises(UserError, match=says):
        parse_grid([pair])


def test_a_key_given_twice_is_bad_input():
    with pytest.raises(UserError, match="given twice"):
        parse_grid(["gamma=0.9", "gamma=0.99"])


def test_trials_are_games_times_combinations_times_seeds():
    grid = {"a": ["1", "2"], "b": ["x", "y", "z"]}
    assert len(combinations(grid)) == 6
    assert combinations({}) == [{}]
    specs = expand(["cartpole", "acrobot"], grid, seeds=3, base_seed=10)
    assert len(specs) == 2 * 6 * 3
    assert [s.id for s in specs] == list(range(1, 37))
    first = specs[:3]  # one configuration's seeds follow each other: base seed + index
    assert [(s.game, s.params, s.seed) for s in first] == [
        ("cartpole", {"a": "1", "b": "x"}, 10), ("cartpole", {"a": "1", "b": "x"}, 11),
        ("cartpole", {"a": "1", "b": "x"}, 12)]
    assert specs[18].game == "acrobot" and specs[18].params == {"a": "1", "b": "x"}
    assert params_text({"a": "1", "b": "x"}) == "a=1 b=x" and params_text({}) == "-"


def test_games_add_up_without_repeats():
    assert parse_games("cartpole", None) == ["cartpole"]
    assert parse_games(None, "cartpole, acrobot") == ["cartpole", "acrobot"]
    assert parse_games("cartpole", "acrobot,cartpole") == ["cartpole", "acrobot"]
    with pytest.raises(UserError, match="no game"):
        parse_games(None, None)
    with pytest.raises(UserError, match="--games"):
        parse_games(None, "cartpole,,acrobot")
