"""The experiments' shared pieces against hand-computed cases, and the conclusions computed from
the data rather than written in advance."""

from __future__ import annotations

import math

import pytest

from agentapp.errors import UserError
from agentapp.experiments import EXPERIMENTS, get
from agentapp.experiments.common import Spread, binned, cell, run_experiment, series


def test_spread_is_mean_population_std_min_max():
    s = Spread.of([1.0, 2.0, 3.0, 6.0])
    assert (s.mean, s.min, s.max, s.n) == (3.0, 1.0, 6.0, 4)
    assert s.std == pytest.approx(math.sqrt((4 + 1 + 0 + 9) / 4))
    assert math.isnan(Spread.of([]).mean) and Spread.of([]).n == 0


def test_binned_means_each_bin_and_carries_an_empty_one_forward():
    points = [(1, 10.0), (2, 20.0), (5, 7.0), (12, 1.0)]
    assert binned(points, [4, 8, 12]) == [15.0, 7.0, 1.0]
    # an empty bin repeats the previous value; before the first point there is none
    first, second, third = binned([(5, 3.0)], [4, 8, 12])
    assert math.isnan(first) and second == third == 3.0
    # bins that begin after the run ended are empty, not carried forward
    first, second, third = binned([(1, 2.0)], [2, 4, 6], end=3)
    assert first == second == 2.0 and math.isnan(third)


def test_series_aligns_seeds_point_by_point_up_to_the_shortest():
    s = series("a", [[1, 2, 3], [1, 2]], [[0.0, 2.0, 9.0], [2.0, 4.0]])
    assert s.x == [1.0, 2.0] and s.mean == [1.0, 3.0] and s.std == [1.0, 1.0]
    assert s.lo == [0.0, 2.0] and s.hi == [2.0, 4.0] and s.seeds == 2


def test_cells_are_written_the_same_way_everywhere():
    assert [cell(500.0), cell(0.0123456), cell(3), cell(True), cell(None), cell("x")] == [
        "500", "0.01235", "3", "true", "-", "x"]
    assert cell(float("nan")) == "-"


def test_every_experiment_has_sizes_with_at_least_three_seeds_by_default():
    for entry in EXPERIMENTS.values():
        module = entry.load()
        sizes = getattr(module, "sizes_for", lambda _, m=module: m.SIZES)(module.GAMES[0])
        assert set(sizes) == {"full", "quick", "tiny"}
        assert sizes["full"].seeds >= 3 and sizes["quick"].seeds >= 3
        assert callable(module.run)


def test_unknown_names_and_games_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="nearest: pg-variance"):
        get("pg-varience")
    with pytest.raises(UserError, match="aliased-gridworld runs on gridworld:aliased"):
        next(run_experiment("aliased-gridworld", game="cartpole", runs_dir=tmp_path))
    assert not (tmp_path / "experiments").exists()


def _spreads(**means: float) -> dict[str, Spread]:
    labels = {"both": "replay + target", "replay": "replay only", "target": "target only",
              "neither": "neither"}
    return {labels[k]: Spread(v, 1.0, v - 1, v + 1, 3) for k, v in means.items()}


def test_dqn_ablation_concludes_from_the_numbers():
    from agentapp.experiments.dqn_ablation import findings

    finals = _spreads(both=300, replay=250, target=40, neither=20)
    ranked = sorted(finals, key=lambda k: -finals[k].mean)
    text = "\n".join(findings(finals, ranked))
    assert "best: replay + target" in text and "here replay matters more" in text
    assert "replay on changes the mean final return by +245 on average" in text  # (260+230)/2
    assert text.endswith("together are best holds")

    finals = _spreads(both=100, replay=400, target=30, neither=20)
    ranked = sorted(finals, key=lambda k: -finals[k].mean)
    text = "\n".join(findings(finals, ranked))
    assert "best: replay only" in text
    assert "does not hold here (replay only ranked best)" in text
    assert "here the target network matters more" not in text


def test_aliased_verdict_follows_the_data():
    from agentapp.experiments.aliased_gridworld import findings

    q = ["Q-learning", "greedy", 40.0, 5.0, 35.0, 45.0, 0.6, 0.1, 2.0, 3]
    pg = ["REINFORCE", "stochastic", 6.0, 1.0, 5.0, 7.0, 1.0, 0.0, 6.0, 3]
    assert "claim holds here" in findings([q, pg])[-1]
    slow = [*pg[:2], 60.0, *pg[3:]]
    assert "does not hold" in findings([q, slow])[-1]


def test_the_experiments_import_no_ui_package():
    import subprocess
    import sys

    modules = ", ".join(f"agentapp.experiments.{e.module}" for e in EXPERIMENTS.values())
    probe = f"import {modules}\nimport sys\nprint(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    loaded = {name.split(".")[0] for name in out.stdout.split()}
    assert not loaded & {"textual", "typer", "rich"}


def test_a2c_vs_a3c_says_plainly_how_much_the_cores_gave():
    from agentapp.experiments.a2c_vs_a3c import findings

    # method, actors, seconds mean/std, steps/s mean/std, running, final mean/std, late, n
    a2c = ["A2C", 2, 30.0, 1.0, 600.0, 50.0, 600.0, 270.0, 100.0, 250.0, 50.0, 3]
    slow = ["A3C", 2, 90.0, 5.0, 220.0, 10.0, 280.0, 250.0, 70.0, 260.0, 40.0, 3]
    text = "\n".join(findings([a2c, slow], 2))
    assert "ran on 2 CPU cores" in text and "no asynchronous advantage here" in text
    assert "A2C ended higher" in text
    fast = ["A3C", 8, 10.0, 1.0, 3000.0, 10.0, 3100.0, 300.0, 70.0, 260.0, 40.0, 3]
    text = "\n".join(findings([[*a2c[:1], 8, *a2c[2:]], fast], 8))
    assert "advantage" not in text and "A3C ended higher" in text


def test_dqn_ablation_says_when_variants_tie():
    from agentapp.experiments.dqn_ablation import findings

    finals = _spreads(both=9.5, replay=9.5, target=9.5, neither=9.5)
    text = "\n".join(findings(finals, list(finals)))
    assert "replay + target = replay only = target only = neither" in text
    assert "cannot be decided here" in text and "neither switch changed" in text
