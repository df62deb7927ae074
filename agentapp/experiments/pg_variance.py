"""``pg-variance``: how much the REINFORCE gradient estimate scatters with the total return, the
reward-to-go, and the reward-to-go minus a learned value baseline, and how fast each one learns.

The lecture's claim: all three estimate the same gradient, and causality (reward-to-go) and a
baseline only remove noise. (a) At fixed policy parameters (the initial policy, and that policy
after some REINFORCE training with its preset: reward-to-go and a value baseline), many batches
of episodes are drawn and the same episodes give all three estimates, so the comparison is
paired. The spread of an estimator is the mean squared distance of its batch estimates from
their mean, divided by the squared norm of the gradient (the mean of all estimates):
E||g_batch - g||^2 / ||g||^2, the trace of its covariance relative to the gradient. Here the
return is undiscounted (gamma = 1), so the three really have one expectation; the baseline V(s)
is fitted to the policy's returns on separate episodes first. This part runs in memory: its
agents are probes, not runs worth watching. (b) Each estimator then trains REINFORCE on CartPole
over several seeds (in run folders), with the greedy evaluation return as the learning curve.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from agentapp.engine.algorithms.reinforce import Reinforce
from agentapp.engine.plan import preset_settings
from agentapp.experiments.common import (
    SPREAD_COLUMNS,
    Plot,
    Progress,
    Result,
    RunRecord,
    Spread,
    Study,
    Table,
    run_line,
    series,
    train_run,
)
from agentapp.games import resolve


@dataclass(frozen=True)
class Size:
    seeds: int
    """Seeds, unless ``--seeds`` says otherwise (each: its own policies, episodes and runs)."""
    partial_steps: int
    """REINFORCE steps that make the partly trained policy of part (a)."""
    batches: int
    """Gradient batches drawn at each fixed policy."""
    batch_episodes: int
    """Episodes per batch (REINFORCE's default batch)."""
    fit_episodes: int
    """Episodes the value baseline is fitted on (not used for the gradients)."""
    fit_updates: int
    """Full-batch Adam steps of that fit."""
    steps: int
    """Agent steps of each learning-curve run of part (b)."""
    evaluations: int
    eval_episodes: int


SIZES = {
    "full": Size(seeds=3, partial_steps=10_000, batches=100, batch_episodes=4, fit_episodes=100,
                 fit_updates=400, steps=50_000, evaluations=10, eval_episodes=10),
    "quick": Size(seeds=3, partial_steps=5_000, batches=40, batch_episodes=4, fit_episodes=40,
                  fit_updates=200, steps=10_000, evaluations=5, eval_episodes=5),
    "tiny": Size(seeds=2, partial_steps=200, batches=4, batch_episodes=2, fit_episodes=4,
                 fit_updates=10, steps=300, evaluations=2, eval_episodes=2),
}
GAMES = ("cartpole",)
ESTIMATORS = (
    ("total return", {"returns": "total", "baseline": "none"}),
    ("reward-to-go", {"returns": "reward_to_go", "baseline": "none"}),
    ("reward-to-go - V(s)", {"returns": "reward_to_go", "baseline": "value"}),
)
EPISODE_SEEDS = 10_000_000
"""Environment seeds of part (a)'s episodes start here, away from the training seeds."""


@dataclass
class Episode:
    obs: torch.Tensor
    actions: torch.Tensor
    rewards: np.ndarray

    @property
    def to_go(self) -> torch.Tensor:
        """G_t = r_t + r_{t+1} + ... (undiscounted reward-to-go)."""
        return torch.as_tensor(self.rewards[::-1].cumsum()[::-1].copy(), dtype=torch.float32)


def run(study: Study) -> Iterator[Progress]:
    size: Size = study.settings
    spreads: dict[tuple[str, str], list[float]] = {}
    ratios: dict[tuple[str, str], list[float]] = {}
    lengths: dict[str, list[float]] = {}
    total, count = len(study.seeds) * (1 + len(ESTIMATORS)), 0
    curves: dict[str, list[RunRecord]] = {label: [] for label, _ in ESTIMATORS}
    for seed in study.seeds:
        if study.stopped:
            break
        for point, (spread, length) in fixed_policy_spreads(study, seed).items():
            lengths.setdefault(point, []).append(length)
            for label, value in spread.items():
                spreads.setdefault((point, label), []).append(value)
                ratios.setdefault((point, label), []).append(value / spread["total return"])
        count += 1
        yield Progress(f"gradient spread at fixed policies · seed {seed}", count, total)
        for label, settings in ESTIMATORS:
            if study.stopped:
                break
            record = train_run(study, label, seed, algo="reinforce", steps=study.settings.steps,
                               settings=settings, eval_every=max(1, size.steps // size.evaluations),
                               eval_episodes=size.eval_episodes)
            count += 1
            yield run_line(record, count, total)
            if record.finished:
                curves[label].append(record)
    return summarise(study, spreads, ratios, lengths, curves)


def fixed_policy_spreads(study: Study, seed: int) -> dict[str, tuple[dict[str, float], float]]:
    """``{policy: ({estimator: relative spread}, mean episode length)}`` for the initial and the
    partly trained policy of one seed."""
    size: Size = study.settings
    game = resolve(study.game)
    _, hp = preset_settings(game, Reinforce)
    agent = Reinforce(game, game.params, hp, seed=seed, budget=size.partial_steps)
    out = {}
    try:
        out["initial"] = spreads_at(agent, seed, size)
        while agent.steps < size.partial_steps and not study.stopped:
            agent.train_iteration(size.partial_steps - agent.steps)
        if not study.stopped:
            name = f"after {size.partial_steps:,} steps"
            out[name] = spreads_at(agent, seed, size)
    finally:
        agent.close()
    return out


def spreads_at(agent: Reinforce, seed: int, size: Size) -> tuple[dict[str, float], float]:
    """``({estimator: relative spread}, mean episode length)`` at the agent's current policy,
    from the same episodes for every estimator."""
    generator = torch.Generator().manual_seed(seed)
    base = EPISODE_SEEDS + seed * 100_000
    fitting = play(agent, size.fit_episodes, base, generator)
    critic = fit_baseline(agent, fitting, size.fit_updates)
    episodes = play(agent, size.batches * size.batch_episodes, base + 50_000, generator)
    params = [p for p in agent.model.actor.parameters() if p.requires_grad]
    grads = {label: [] for label, _ in ESTIMATORS}
    for e in episodes:
        log_prob = agent.model.distribution(e.obs).log_prob(e.actions)
        to_go = e.to_go
        with torch.no_grad():
            baseline = critic(agent.model.encoder(e.obs)).squeeze(-1)
        weights = {"total return": to_go[:1].expand(len(to_go)), "reward-to-go": to_go,
                   "reward-to-go - V(s)": to_go - baseline}
        for label, w in weights.items():
            # g = sum_t grad log pi(a_t|s_t) w_t   (one episode's REINFORCE estimate)
            g = torch.autograd.grad((log_prob * w).sum(), params, retain_graph=True)
            grads[label].append(torch.cat([x.flatten() for x in g]).numpy())
    per_episode = {label: np.stack(g) for label, g in grads.items()}
    truth = np.mean([g.mean(0) for g in per_episode.values()], axis=0)  # one expectation
    spread = {}
    for label, g in per_episode.items():
        batches = g.reshape(size.batches, size.batch_episodes, -1).mean(1)
        spread[label] = float(((batches - batches.mean(0)) ** 2).sum(1).mean()
                              / max(float(truth @ truth), 1e-12))
    return spread, float(np.mean([len(e.rewards) for e in episodes]))


@torch.no_grad()
def play(agent: Reinforce, n: int, seed: int, generator: torch.Generator) -> list[Episode]:
    """*n* whole episodes of the agent's stochastic policy, played side by side."""
    envs = [agent.game.make(agent.game_params) for _ in range(n)]
    obs = [env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]
    trace: list[tuple[list, list, list]] = [([], [], []) for _ in range(n)]
    active = list(range(n))
    try:
        while active:
            batch = agent.as_tensor(np.stack([obs[i] for i in active]))
            actions = agent.model.act(batch, greedy=False, generator=generator).numpy()
            still = []
            for i, action in zip(active, actions, strict=True):
                trace[i][0].append(obs[i])
                trace[i][1].append(action)
                obs[i], reward, terminated, truncated, _ = envs[i].step(action)
                trace[i][2].append(float(reward))
                if not (terminated or truncated):
                    still.append(i)
            active = still
    finally:
        for env in envs:
            env.close()
    return [Episode(agent.as_tensor(np.stack(o)), torch.as_tensor(np.array(a)), np.array(r))
            for o, a, r in trace]


def fit_baseline(agent: Reinforce, episodes: list[Episode], updates: int) -> torch.nn.Module:
    """A copy of the agent's critic regressed on the undiscounted reward-to-go of *episodes*."""
    critic = copy.deepcopy(agent.model.critic)
    features = agent.model.encoder(torch.cat([e.obs for e in episodes]))
    targets = torch.cat([e.to_go for e in episodes])
    optimizer = torch.optim.Adam(critic.parameters(), lr=1e-2)
    for _ in range(updates):
        loss = (critic(features).squeeze(-1) - targets).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return critic


def summarise(study: Study, spreads, ratios, lengths, curves) -> Result:
    size: Size = study.settings
    rows = []
    for point in lengths:
        for label, _ in ESTIMATORS:
            s = Spread.of(spreads[(point, label)])
            rows.append([point, label, float(np.mean(lengths[point])), *s.cells(),
                         float(np.mean(ratios[(point, label)])), s.n])
    variance = Table(
        "variance", f"Spread of the gradient estimate from a batch of {size.batch_episodes} "
        f"episodes ({size.batches} batches per policy, gamma = 1): E||g - mean g||^2 / ||mean "
        f"g||^2 over seeds", ["policy", "estimator", "episode length", *SPREAD_COLUMNS,
                              "vs total return", "seeds"], rows)
    learning_rows, plotted = [], []
    for label, _ in ESTIMATORS:
        recs = curves[label]
        final = Spread.of([r.final_eval for r in recs if r.final_eval is not None])
        area = Spread.of([np.mean([e[2] for e in r.evals]) for r in recs if r.evals])
        learning_rows.append([label, *final.cells(), area.mean, area.std, final.n])
        if recs:
            plotted.append(series(label, [[e[0] for e in r.evals] for r in recs],
                                  [[e[2] for e in r.evals] for r in recs]))
    learning = Table("learning", f"REINFORCE on {study.game}: greedy evaluation return over "
                     "seeds (final, and mean over the curve: how fast it learns)",
                     ["estimator", *SPREAD_COLUMNS, "curve mean", "curve std", "seeds"],
                     learning_rows)
    plot = Plot("curves", f"REINFORCE on {study.game}: greedy evaluation return (mean over "
                "seeds)", "steps", "evaluation return", plotted)
    return Result(study.name, study.folder, [variance, learning], [plot],
                  findings=findings(rows, learning_rows))


def findings(variance_rows: list[list], learning_rows: list[list]) -> list[str]:
    lines = []
    for point in dict.fromkeys(r[0] for r in variance_rows):
        at = {r[1]: r for r in variance_rows if r[0] == point}
        order = sorted(at, key=lambda label: at[label][3])
        lines.append(f"{point} policy: smallest spread {order[0]}, then "
                     + ", then ".join(order[1:]) + "; relative to the total return: "
                     + ", ".join(f"{label} x{at[label][7]:.3g}" for label in at))
    learned = [r for r in learning_rows if r[-1]]
    if learned:
        order = sorted(learned, key=lambda r: -r[5])
        lines.append("learning speed (mean evaluation return over the curve): "
                     + " > ".join(f"{r[0]} ({r[5]:.4g} ± {r[6]:.4g})" for r in order))
    return lines
