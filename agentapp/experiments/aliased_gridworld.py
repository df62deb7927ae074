"""``aliased-gridworld``: a deterministic value-based policy against a stochastic policy gradient
where two states look the same (David Silver, lecture 7).

In the ``aliased`` corridor the agent sees only the walls around it, so the second and fourth
cells of the top row look alike. Any deterministic policy moves the same way in both and, from
some starts, walks back and forth between a corner and an aliased cell until the episode is cut
off; a stochastic policy can move left or right at random there and gets through. The lecture
claims the stochastic policy reaches the gold in far fewer steps.

Q-learning and REINFORCE are each trained over several seeds (in run folders); then each agent
plays with its own acting policy: greedy for Q-learning, sampled from pi(a|s) for REINFORCE. A
run's steps to the goal are the mean episode length (an episode cut off at the cap counts the
cap), its success rate the share of episodes that end in the gold.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from agentapp.engine.evaluate import evaluate
from agentapp.experiments.common import (
    SPREAD_COLUMNS,
    Progress,
    Result,
    Spread,
    Study,
    Table,
    run_line,
    train_run,
    trained_agent,
)


@dataclass(frozen=True)
class Size:
    seeds: int
    q_steps: int
    """Q-learning's training steps (its gridworld preset: step size annealed to a tenth)."""
    pg_steps: int
    """REINFORCE's training steps."""
    episodes: int
    """Episodes each trained agent plays with its own acting policy."""


SIZES = {
    "full": Size(seeds=5, q_steps=20_000, pg_steps=30_000, episodes=200),
    "quick": Size(seeds=3, q_steps=10_000, pg_steps=15_000, episodes=100),
    "tiny": Size(seeds=2, q_steps=300, pg_steps=300, episodes=10),
}
GAMES = ("gridworld:aliased",)
AGENTS = (
    # (label, method, its settings, acting policy: greedy?)
    ("Q-learning", "q-learning", {}, True),
    # a small entropy bonus (a common REINFORCE setting) keeps the policy from settling on one
    # direction in the aliased cells before it has found the gold from both of them
    ("REINFORCE", "reinforce", {"ent_coef": 0.01}, False),
)
PLAY_SEED = 2_000_000
"""Seed of the episodes the trained agents are measured on (start cells, sampled actions)."""


def run(study: Study) -> Iterator[Progress]:
    size: Size = study.settings
    measured: dict[str, list[tuple[float, float, float]]] = {label: [] for label, *_ in AGENTS}
    total, count = len(AGENTS) * len(study.seeds), 0
    for seed in study.seeds:
        for label, algo, settings, greedy in AGENTS:
            if study.stopped:
                break
            steps = size.q_steps if algo == "q-learning" else size.pg_steps
            record = train_run(study, label, seed, algo=algo, steps=steps, settings=settings,
                               eval_every=steps, eval_episodes=10)
            count += 1
            if not record.finished:
                yield run_line(record, count, total)
                continue
            steps_to_goal, success, on_success = play(record.run_dir, greedy, size.episodes)
            measured[label].append((steps_to_goal, success, on_success))
            policy = "greedy" if greedy else "stochastic"
            yield Progress(f"{label} · seed {seed} · {policy} policy: {steps_to_goal:.4g} steps "
                           f"to the goal, {success:.0%} reach it · {record.seconds:.1f} s",
                           count, total)
    return summarise(study, measured)


def play(run_dir, greedy: bool, episodes: int) -> tuple[float, float, float]:
    """``(mean steps, success rate, mean steps of the successful episodes)`` of a trained run's
    agent acting with its own policy."""
    agent, game, params = trained_agent(run_dir)
    try:
        result = evaluate(agent, game, params, episodes=episodes, seed=PLAY_SEED, greedy=greedy)
    finally:
        agent.close()
    lengths, returns = np.array(result.lengths, dtype=float), np.array(result.returns)
    reached = returns > 0  # the gold pays +1, a pit -1, and every other step 0
    on_success = float(lengths[reached].mean()) if reached.any() else float("nan")
    return float(lengths.mean()), float(reached.mean()), on_success


def summarise(study: Study, measured: dict[str, list[tuple[float, float, float]]]) -> Result:
    rows = []
    for label, _, _, greedy in AGENTS:
        values = measured[label]
        steps = Spread.of([v[0] for v in values])
        success = Spread.of([v[1] for v in values])
        on_success = [v[2] for v in values if not np.isnan(v[2])]
        rows.append([label, "greedy" if greedy else "stochastic", *steps.cells(),
                     success.mean, success.std,
                     float(np.mean(on_success)) if on_success else float("nan"), steps.n])
    table = Table(
        "results", f"Steps to the goal on {study.game} with each agent's own acting policy "
        f"({study.settings.episodes} episodes per run, capped episodes count the cap), over seeds",
        ["agent", "policy", *[f"steps {c}" for c in SPREAD_COLUMNS], "success mean",
         "success std", "steps when reached", "seeds"], rows)
    return Result(study.name, study.folder, [table], findings=findings(rows))


def findings(rows: list[list]) -> list[str]:
    q, pg = rows[0], rows[1]
    if not (q[-1] and pg[-1]):
        return ["not every agent finished a run: nothing to compare"]
    lines = [f"{r[0]} ({r[1]} policy): {r[2]:.4g} ± {r[3]:.4g} steps to the goal, "
             f"{r[6]:.0%} of episodes reach it" for r in (q, pg)]
    if pg[2] < q[2]:
        verdict = (f"the stochastic policy takes {q[2] / pg[2]:.3g}x fewer steps: the lecture's "
                   "claim holds here")
    else:
        verdict = "the stochastic policy is not faster here: the lecture's claim does not hold"
    if abs(pg[2] - q[2]) <= pg[3] + q[3]:
        verdict += " (but the gap is within the spread over seeds)"
    return [*lines, verdict]
