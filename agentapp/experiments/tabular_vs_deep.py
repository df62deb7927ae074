"""``tabular-vs-deep``: how close Q-learning's table and DQN's network come to the exact V*.

Value iteration computes V* from the map's model (in memory: it takes a fraction of a second);
Q-learning learns a table and DQN a network
from play alone (DQN sees the cell as a one-hot vector, so the network could represent the table
exactly). For every cell the agent can stand on, V(s) = max_a Q(s, a) of each learned agent is
compared with V*(s), over several seeds: the per-cell error shows where each one is wrong (cells
the behaviour policy rarely visits, mostly) and the RMS error over cells sums it up. Both learners
use the map's own discount, so their V* is value iteration's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from agentapp.engine.algorithms.value_iteration import ValueIteration
from agentapp.experiments.common import (
    SPREAD_COLUMNS,
    Heat,
    Progress,
    Result,
    Spread,
    Study,
    Table,
    run_line,
    train_run,
    trained_agent,
)
from agentapp.games import resolve


@dataclass(frozen=True)
class Size:
    seeds: int
    q_steps: int
    """Q-learning's training steps (its gridworld preset otherwise)."""
    dqn_steps: int
    dqn: dict[str, Any] = field(default_factory=dict)
    """DQN's settings on top of its defaults (and the map's discount)."""


_DQN = {"hidden": "64,64", "learning_rate": 1e-3, "learning_starts": 500, "batch_size": 64,
        "train_freq": 4, "target_update_interval": 250, "exploration_fraction": 0.5,
        "epsilon_end": 0.1}
SIZES = {
    "full": Size(seeds=5, q_steps=50_000, dqn_steps=30_000, dqn=_DQN),
    "quick": Size(seeds=3, q_steps=20_000, dqn_steps=10_000, dqn=_DQN),
    "tiny": Size(seeds=2, q_steps=300, dqn_steps=300, dqn={**_DQN, "learning_starts": 50}),
}
GAMES = ("gridworld:classic", "gridworld:cliff", "gridworld:maze")
METHODS = ("Q-learning", "DQN")


def run(study: Study) -> Iterator[Progress]:
    size: Size = study.settings
    game = resolve(study.game)
    v_star, grid = optimal_values(game), map_of(game)
    cells = [s for s in range(len(v_star)) if grid.kind(s) in ("floor", "start")]
    estimates: dict[str, list[np.ndarray]] = {m: [] for m in METHODS}
    total, count = len(METHODS) * len(study.seeds), 0
    discount = game.params.discount
    for seed in study.seeds:
        for method in METHODS:
            if study.stopped:
                break
            if method == "Q-learning":
                record = train_run(study, method, seed, algo="q-learning", steps=size.q_steps,
                                   settings={}, eval_every=size.q_steps, eval_episodes=10)
            else:
                record = train_run(study, method, seed, algo="dqn", steps=size.dqn_steps,
                                   settings={**size.dqn, "gamma": discount},
                                   eval_every=size.dqn_steps, eval_episodes=10)
            count += 1
            yield run_line(record, count, total)
            if record.finished:
                estimates[method].append(learned_values(record.run_dir, len(v_star)))
    return summarise(study, grid, v_star, cells, estimates)


def map_of(game):
    env = game.make()
    try:
        return env.unwrapped.grid
    finally:
        env.close()


def optimal_values(game) -> np.ndarray:
    """V* by value iteration on the map's model, to its default tolerance."""
    planner = ValueIteration(game, game.params, ValueIteration.Hyperparameters(), seed=0,
                             budget=100_000)
    try:
        while not planner.train_iteration(1).converged:
            pass
        return planner.v.copy()
    finally:
        planner.close()


def learned_values(run_dir, n_cells: int) -> np.ndarray:
    """max_a Q(s, a) for every cell: the table's rows, or the network on each one-hot cell."""
    agent, _, _ = trained_agent(run_dir)
    try:
        view = agent.tabular_view()
        if view is not None:
            return np.asarray(view.values, dtype=float)
        with torch.no_grad():
            q = agent.q(agent.as_tensor(np.arange(n_cells)))
        return q.max(dim=1).values.numpy().astype(float)
    finally:
        agent.close()


def summarise(study: Study, grid, v_star: np.ndarray, cells: list[int],
              estimates: dict[str, list[np.ndarray]]) -> Result:
    rows, heats = [], [Heat(f"V* (value iteration) on {study.game}",
                            grid_of(grid, {s: float(v_star[s]) for s in cells}))]
    errors = {}
    for method in METHODS:
        diffs = np.array([v[cells] - v_star[cells] for v in estimates[method]]).reshape(
            len(estimates[method]), len(cells))
        errors[method] = np.abs(diffs)
        rms = Spread.of(np.sqrt((diffs ** 2).mean(axis=1)) if len(diffs) else [])
        worst = float(np.abs(diffs).max(axis=1).mean()) if len(diffs) else float("nan")
        rows.append([method, *rms.cells(), worst, rms.n])
        if len(diffs):
            mean_error = errors[method].mean(axis=0)
            heats.append(Heat(f"{method}: |V - V*| per cell, mean over {len(diffs)} seeds",
                              grid_of(grid, dict(zip(cells, mean_error.tolist(), strict=True)))))
    table = Table("results", f"Distance of max_a Q(s,a) from V* over the {len(cells)} cells "
                  f"of {study.game}: RMS over cells, spread over seeds",
                  ["method", *[f"rms {c}" for c in SPREAD_COLUMNS], "max error (mean)",
                   "seeds"], rows)
    state_rows = []
    for i, s in enumerate(cells):
        row, col = grid.row_col(s)
        line: list[Any] = [s, row, col, float(v_star[s])]
        for method in METHODS:
            values = [v[s] for v in estimates[method]]
            line += [float(np.mean(values)) if values else float("nan"),
                     float(errors[method][:, i].mean()) if values else float("nan")]
        state_rows.append(line)
    states = Table("states", "Per cell: V*, each method's mean V over seeds and its mean |V - V*|",
                   ["cell", "row", "col", "V*", "Q-learning V", "Q-learning error", "DQN V",
                    "DQN error"], state_rows)
    return Result(study.name, study.folder, [table, states], heats=heats,
                  findings=findings(rows))


def grid_of(grid, values: dict[int, float]) -> list[list[float | None]]:
    return [[values.get(r * grid.cols + c) for c in range(grid.cols)] for r in range(grid.rows)]


def findings(rows: list[list]) -> list[str]:
    done = [r for r in rows if r[-1]]
    if not done:
        return ["no run finished: nothing to compare"]
    lines = [f"{r[0]}: RMS error {r[1]:.4g} ± {r[2]:.4g} over {r[-1]} seeds, largest cell "
             f"error {r[5]:.4g} on average" for r in done]
    if len(done) == 2:
        closer, other = sorted(done, key=lambda r: r[1])
        within = " (within the spread over seeds)" if other[1] - closer[1] <= closer[2] + \
            other[2] else ""
        lines.append(f"{closer[0]} comes closer to V* on these budgets{within}")
    return lines
