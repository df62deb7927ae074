"""The deep methods (DQN, REINFORCE, A2C, PPO): the DQN target by hand, short runs through
``engine.train`` with every switch, one-hot gridworld observations, time-limit bootstrapping in the
vectorised rollouts, and exact resume from a step checkpoint."""

from __future__ import annotations

import dataclasses
import math
import pickle
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from agentapp import checkpoints
from agentapp.engine import train
from agentapp.engine.algorithms.a2c import A2C, A2CSettings
from agentapp.engine.algorithms.dqn import DQN, DQNSettings
from agentapp.engine.algorithms.ppo import PPO, PPOSettings
from agentapp.engine.algorithms.reinforce import Reinforce, ReinforceSettings
from agentapp.engine.buffers import ReplayBatch
from agentapp.engine.events import (
    CheckpointSaved,
    EpisodeEnded,
    Message,
    Metrics,
    RunFinished,
    RunStarted,
)
from agentapp.engine.plan import RunConfig, restore_agent
from agentapp.games import resolve
from tests.engine.test_tabular_algorithms import assert_separate_streams

NEVER = 10**9
"""An --eval-every that leaves only the final evaluation."""

SMALL: dict[str, tuple[dict[str, str], int]] = {
    "ppo": ({"n_steps": "16", "batch_size": "32", "n_epochs": "2"}, 4),
    "a2c": ({"n_steps": "5"}, 4),
    "dqn": ({"learning_starts": "200", "train_freq": "4", "gradient_steps": "1",
             "batch_size": "32", "buffer_size": "2000", "target_update_interval": "100",
             "hidden": "32,32"}, 2),
    "reinforce": ({"batch_episodes": "2"}, 1),
}
"""Settings small enough for a run of a few thousand steps in about a second, and envs."""

LOSSES = {
    "ppo": {"losses/policy_loss", "losses/value_loss", "losses/entropy", "losses/approx_kl",
            "losses/clip_fraction"},
    "a2c": {"losses/policy_loss", "losses/value_loss", "losses/entropy"},
    "dqn": {"losses/td_loss", "charts/epsilon", "charts/replay_fill"},
    "reinforce": {"losses/policy_loss", "losses/entropy"},
}


def _config(runs_dir: Path, algo: str, steps: int = 2000, game: str = "cartpole",
            **kw: Any) -> RunConfig:
    overrides, envs = SMALL[algo]
    base: dict[str, Any] = {
        "game": game, "algo": algo, "steps": steps, "seed": 0, "envs": envs, "device": "cpu",
        "overrides": dict(overrides), "eval_every": NEVER, "eval_episodes": 2,
        "runs_dir": str(runs_dir),
    }
    extra = kw.pop("set", {})
    base.update(kw)
    base["overrides"] = {**base["overrides"], **extra}
    return RunConfig(**base)


def _metrics(events: list) -> dict[str, list[float]]:
    seen: dict[str, list[float]] = {}
    for event in events:
        if isinstance(event, Metrics):
            for key, value in event.values.items():
                seen.setdefault(key, []).append(value)
    return seen


def _assert_finished_with_finite_metrics(events: list, steps: int) -> dict[str, list[float]]:
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    assert events[-1].reason == "budget" and events[-1].step >= steps
    metrics = _metrics(events)
    bad = {k: v for k, v in metrics.items() if not all(math.isfinite(x) for x in v)}
    assert not bad
    assert math.isfinite(events[-1].eval_mean)
    return metrics


# -- the DQN target, by hand ------------------------------------------------------------------


class _TableQ(nn.Module):
    """Q(s, .) looked up in a table: observation [s, ...] -> row s."""

    def __init__(self, rows: list[list[float]]) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.tensor(rows))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.table[obs[:, 0].long()]


ONLINE = [[1.0, 2.0], [0.5, -1.0], [3.0, 0.0], [4.0, 10.0], [-2.0, -3.0]]
TARGET = [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [7.0, 5.0], [1.0, 6.0]]
GAMMA = 0.9


def _batch() -> ReplayBatch:
    """Three transitions from distinct (s, a): a 1-step one into s3, a terminal one into s4 and
    a 3-step one into s4 (its discount gamma^3)."""

    def obs(ids: list[int]) -> torch.Tensor:
        return torch.tensor([[i, 0.0, 0.0, 0.0] for i in ids])

    return ReplayBatch(
        obs=obs([0, 1, 2]), actions=torch.tensor([0, 1, 0]),
        rewards=torch.tensor([1.0, -1.0, 0.5]), next_obs=obs([3, 4, 4]),
        dones=torch.tensor([0.0, 1.0, 0.0]), discounts=torch.tensor([GAMMA, GAMMA, GAMMA**3]),
    )


def _learned_targets(**settings: Any) -> tuple[list[float], DQN]:
    """One update of a table DQN on ``_batch()``: with MSE over B samples and plain SGD of step
    size B/2, Q(s, a) lands exactly on its target y, so the table after the step shows y."""
    game = resolve("cartpole")
    hp = DQNSettings(gamma=GAMMA, loss="mse", max_grad_norm=1e6, **settings)
    agent = DQN(game, game.params, hp, seed=0, budget=1000)
    agent.q, agent.q_target = _TableQ(ONLINE), _TableQ(TARGET)
    agent.optimizer = torch.optim.SGD(agent.q.parameters(), lr=len(_batch().obs) / 2)
    agent._learn(_batch())
    table = agent.q.table.detach()
    return [float(table[0, 0]), float(table[1, 1]), float(table[2, 0])], agent


def test_dqn_target_is_reward_plus_discounted_max_of_the_target_network():
    y, agent = _learned_targets()
    # y = r + gamma^k (1 - done) max_a Q_target(s', a)
    assert y == pytest.approx([1.0 + 0.9 * 7.0, -1.0, 0.5 + 0.729 * 6.0], rel=1e-6)
    assert torch.equal(agent.q_target.table, torch.tensor(TARGET))  # only the online net learns
    untouched = agent.q.table.detach().clone()
    untouched[0, 0], untouched[1, 1], untouched[2, 0] = ONLINE[0][0], ONLINE[1][1], ONLINE[2][0]
    assert torch.equal(untouched, torch.tensor(ONLINE))


def test_double_dqn_values_the_online_networks_choice_with_the_target_network():
    y, _ = _learned_targets(double=True)
    # a* = argmax_a Q_online(s', a): a1 in s3 (10 > 4), a0 in s4 (-2 > -3); valued by Q_target
    assert y == pytest.approx([1.0 + 0.9 * 5.0, -1.0, 0.5 + 0.729 * 1.0], rel=1e-6)


@pytest.mark.parametrize("double", [False, True])
def test_without_a_target_network_dqn_bootstraps_from_the_online_network(double):
    y, _ = _learned_targets(target=False, double=double)
    assert y == pytest.approx([1.0 + 0.9 * 10.0, -1.0, 0.5 + 0.729 * -2.0], rel=1e-6)


def test_soft_target_update_moves_the_target_a_fraction_tau_towards_the_online_net():
    game = resolve("cartpole")
    agent = DQN(game, game.params, DQNSettings(tau=0.25, target_update_interval=10), seed=0,
                budget=1000)
    agent.q, agent.q_target = _TableQ(ONLINE), _TableQ(TARGET)
    agent.steps = 9
    agent._update_target()
    assert torch.equal(agent.q_target.table, torch.tensor(TARGET))  # not due yet
    agent.steps = 10
    agent._update_target()
    expected = 0.25 * torch.tensor(ONLINE) + 0.75 * torch.tensor(TARGET)
    assert torch.allclose(agent.q_target.table, expected)


# -- short runs of every method through the loop ------------------------------------------------


@pytest.mark.parametrize("algo", ["ppo", "a2c", "dqn", "reinforce"])
def test_short_cartpole_run_is_well_formed(runs_dir, monkeypatch, algo):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    events = list(train(_config(runs_dir, algo, device="auto")))
    metrics = _assert_finished_with_finite_metrics(events, 2000)
    started = events[0]
    assert started.device == "cpu" and started.config["device"] == "cpu"  # auto without a GPU
    assert LOSSES[algo] | {"charts/sps", "eval/mean_return"} <= set(metrics)
    for event in events:
        assert pickle.loads(pickle.dumps(event)) == event or isinstance(event, RunStarted)
    steps = [e.step for e in events if hasattr(e, "step")]
    assert steps == sorted(steps)
    ended = [e for e in events if isinstance(e, EpisodeEnded)]
    assert [e.episode for e in ended] == list(range(1, len(ended) + 1))
    assert all(e.ret == e.length and 1 <= e.length <= 500 for e in ended)  # +1 per step
    latest = Path(started.run_dir) / "checkpoints" / "latest.pt"
    payload = torch.load(latest, weights_only=True)
    assert payload["algo"] == algo and payload["step"] == events[-1].step
    agent, game, _ = restore_agent(payload)
    obs, _ = game.make().reset(seed=0)
    assert agent.act(obs) in (0, 1)


@pytest.mark.parametrize(
    "switch",
    [{"double": "true"}, {"dueling": "true"}, {"n_step": "3"}, {"replay": "false"},
     {"target": "false"}, {"tau": "0.5", "target_update_interval": "20"}, {"loss": "mse"}],
    ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()),
)
def test_each_dqn_switch_trains(runs_dir, switch):
    events = list(train(_config(runs_dir, "dqn", steps=800, set=switch)))
    metrics = _assert_finished_with_finite_metrics(events, 800)
    assert metrics["losses/td_loss"]
    if switch.get("replay") == "false":  # only the latest transitions are kept
        assert metrics["charts/replay_fill"][-1] == 1.0


def test_dqn_explores_with_numbers_no_cartpole_copy_starts_from():
    # copy i of the training envs is reset with seed + i (CartPole's start state comes from its
    # np_random): DQN's own generator (epsilon, replay sampling) must be none of those streams
    game = resolve("cartpole")
    agent = DQN(game, game.params, DQNSettings(hidden="8", buffer_size=100), seed=3,
                budget=1000, n_envs=2)
    try:
        copies = agent.envs.envs  # built and reset on first use
        assert len(copies) == 2
        for copy in copies:
            assert_separate_streams(agent.rng, copy)
    finally:
        agent.close()


@pytest.mark.parametrize("returns", ["total", "reward_to_go"])
@pytest.mark.parametrize("baseline", ["none", "mean", "value"])
def test_each_reinforce_variant_trains(runs_dir, returns, baseline):
    events = list(train(_config(runs_dir, "reinforce", steps=600,
                                set={"returns": returns, "baseline": baseline})))
    metrics = _assert_finished_with_finite_metrics(events, 600)
    assert LOSSES["reinforce"] <= set(metrics)
    assert ("losses/value_loss" in metrics) == (baseline == "value")


def test_reinforce_with_parallel_envs_restarts_the_episodes_it_cuts(runs_dir):
    events = list(train(_config(runs_dir, "reinforce", steps=1500, envs=4)))
    _assert_finished_with_finite_metrics(events, 1500)
    game = resolve("cartpole")
    agent = Reinforce(game, game.params, ReinforceSettings(batch_episodes=2), seed=1,
                      budget=10_000, n_envs=4)
    cut = 0
    for _ in range(3):
        it = agent.train_iteration(10_000)
        cut += it.steps - sum(length for _, length in it.episodes)
        # every environment is at the start of an episode: just reset, or cut and reset
        assert (agent.ep_length == 0).all() and (agent.ep_return == 0).all()
        assert np.abs(agent.obs).max() <= 0.05  # CartPole starts within +-0.05
        assert [env.get_wrapper_attr("_elapsed_steps") for env in agent.envs.envs] == [0] * 4
    assert cut > 0  # some episodes were running at an update and were cut
    agent.close()


@pytest.mark.parametrize(("algo", "game"), [("ppo", "gridworld:classic"),
                                            ("dqn", "gridworld:cliff")])
def test_neural_methods_train_on_gridworld_cell_indices(runs_dir, algo, game):
    events = list(train(_config(runs_dir, algo, steps=1500, game=game)))
    _assert_finished_with_finite_metrics(events, 1500)
    assert [e for e in events if isinstance(e, EpisodeEnded)]
    payload = checkpoints.load(Path(events[0].run_dir) / "checkpoints" / "latest.pt")
    agent, resolved, _ = restore_agent(payload)
    n_cells = resolved.make().observation_space.n
    actions = agent.act_batch(np.arange(n_cells))
    assert actions.shape == (n_cells,) and set(actions.tolist()) <= {0, 1, 2, 3}


# -- time limits are bootstrapped, terminations are not -----------------------------------------


class Countdown(gym.Env):
    """Observation: the steps taken so far; reward 1 per step; the episode terminates after
    ``end`` steps (a time limit may cut it first)."""

    def __init__(self, end: int = 3, render_mode: str | None = None) -> None:
        self.end, self.render_mode = end, render_mode
        self.observation_space = gym.spaces.Box(0.0, 100.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([float(self.t)], np.float32), 1.0, self.t >= self.end, False, {}


COUNTDOWN = "AgentappTest/Countdown-v0"


def _countdown(limit: int):
    if COUNTDOWN not in gym.registry:
        gym.register(id=COUNTDOWN, entry_point=Countdown)
    game = resolve(f"gym:{COUNTDOWN}")
    return game, dataclasses.replace(game.params, max_episode_steps=limit)


# (time limit, steps at which an episode ends, whether those ends are time-limit cuts);
# episodes terminate after 3 steps
CUT_AT_2 = (2, [1, 3, 5], True)
ENDS_AT_3 = (10, [2, 5], False)
BOTH_AT_3 = (3, [2, 5], False)  # terminated and truncated on the same step: a termination


@pytest.mark.parametrize("cls", [A2C, PPO])
@pytest.mark.parametrize("case", [CUT_AT_2, ENDS_AT_3, BOTH_AT_3],
                         ids=["truncated", "terminated", "both"])
def test_rollout_adds_gamma_v_of_the_last_observation_only_at_a_time_limit(cls, case):
    limit, ends, cut = case
    game, params = _countdown(limit)
    settings = (A2CSettings if cls is A2C else PPOSettings)(n_steps=6, gamma=0.5)
    agent = cls(game, params, settings, seed=0, budget=1000, n_envs=2)
    agent.collect()
    with torch.no_grad():
        v_last = float(agent.model.value(torch.tensor([[float(limit)]]))[0])
    expected = torch.ones(6)
    if cut:
        expected[ends] += 0.5 * v_last
    dones = torch.zeros(6)
    dones[ends] = 1.0
    for env in range(2):
        assert torch.allclose(agent.buffer.rewards[:, env], expected)
        assert torch.equal(agent.buffer.dones[:, env], dones)
    agent.close()


@pytest.mark.parametrize("case", [CUT_AT_2, ENDS_AT_3, BOTH_AT_3],
                         ids=["truncated", "terminated", "both"])
def test_reinforce_value_baseline_bootstraps_only_at_a_time_limit(case):
    limit, _, cut = case
    game, params = _countdown(limit)
    settings = ReinforceSettings(batch_episodes=2, gamma=0.5, baseline="value")
    agent = Reinforce(game, params, settings, seed=0, budget=1000, n_envs=1)
    episodes, _ = agent._play()
    with torch.no_grad():
        v_last = float(agent.model.value(torch.tensor([[float(limit)]]))[0])
    length = min(limit, 3)
    expected = [1.0] * (length - 1) + [1.0 + 0.5 * v_last if cut else 1.0]
    for episode in episodes:
        assert episode["rewards"] == pytest.approx(expected)
    agent.close()


@pytest.mark.parametrize("case", [CUT_AT_2, ENDS_AT_3, BOTH_AT_3],
                         ids=["truncated", "terminated", "both"])
def test_dqn_stores_the_true_last_observation_and_done_only_for_terminations(case):
    limit, ends, cut = case
    game, params = _countdown(limit)
    settings = DQNSettings(train_freq=6, learning_starts=10**6)
    agent = DQN(game, params, settings, seed=0, budget=1000, n_envs=1)
    agent.train_iteration(6)
    buffer = agent.buffer
    assert len(buffer) == 6
    ended = np.zeros(6, dtype=bool)
    ended[ends] = True
    assert buffer.dones[:6].tolist() == [0.0 if cut else float(e) for e in ended]
    assert (buffer.next_obs[:6, 0] == buffer.obs[:6, 0] + 1).all()  # never a reset observation
    agent.close()


# -- exact resume from a step checkpoint ---------------------------------------------------------

RESUME: dict[str, tuple[dict[str, str], int, int, int]] = {
    # settings, envs, budget N, save_every (a step checkpoint near N/2)
    "ppo": ({"n_steps": "16", "batch_size": "32", "n_epochs": "2"}, 4, 1024, 512),
    "a2c": ({"n_steps": "5"}, 4, 1000, 500),
    "dqn": ({"learning_starts": "100", "train_freq": "4", "gradient_steps": "2",
             "batch_size": "16", "buffer_size": "300", "target_update_interval": "40",
             "n_step": "3", "hidden": "32,32", "save_buffer": "true"}, 2, 800, 400),
    "reinforce": ({"batch_episodes": "2"}, 2, 1500, 700),
    # the same with the environments in worker processes: their snapshots cross the pipe
    "ppo-normalized": ({"n_steps": "16", "batch_size": "32", "n_epochs": "2",
                        "normalize_obs": "true", "normalize_reward": "true"}, 4, 1024, 512),
    "dqn-normalized": ({"learning_starts": "100", "train_freq": "4", "gradient_steps": "2",
                        "batch_size": "16", "buffer_size": "300", "hidden": "32,32",
                        "save_buffer": "true", "normalize_obs": "true"}, 2, 800, 400),
    "ppo-async": ({"n_steps": "16", "batch_size": "32", "n_epochs": "2", "async_envs": "true"},
                  2, 512, 256),
}


def assert_identical(a: Any, b: Any, where: str = "algorithm") -> None:
    """Every tensor bitwise equal (same dtype), every plain value equal, recursively."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype, where
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            assert_identical(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_identical(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


@pytest.mark.parametrize("case", list(RESUME))
def test_resume_from_a_step_checkpoint_is_bitwise_exact(runs_dir, case):
    overrides, envs, budget, every = RESUME[case]
    algo = case.split("-")[0]
    common = {"device": "cpu", "eval_every": NEVER, "eval_episodes": 1,
              "runs_dir": str(runs_dir)}
    straight = list(train(RunConfig(game="cartpole", algo=algo, steps=budget, seed=3,
                                    envs=envs, overrides=overrides, save_every=every,
                                    **common)))
    run = Path(straight[0].run_dir)
    final = straight[-1].step
    first = min(e.step for e in straight if isinstance(e, CheckpointSaved) and e.kind == "step")
    assert budget // 3 < first < final
    step_file = run / "checkpoints" / f"step_{first}.pt"

    resumed = list(train(RunConfig(game="cartpole", resume=str(step_file), **common)))
    assert resumed[0].start_step == first
    assert not [e for e in resumed if isinstance(e, Message) and e.level == "warning"]
    new_run = Path(resumed[0].run_dir)
    assert new_run != run and resumed[-1].step == final
    assert resumed[0].config["parent"] == str(step_file.resolve())

    def episodes_after_first(events: list) -> list[tuple[int, int, float, int]]:
        return [(e.step, e.episode, e.ret, e.length) for e in events
                if isinstance(e, EpisodeEnded) and e.step > first]

    assert episodes_after_first(resumed) == episodes_after_first(straight)

    a = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    b = torch.load(new_run / "checkpoints" / "latest.pt", weights_only=True)
    assert a["step"] == b["step"] == final
    assert_identical(a["algorithm"], b["algorithm"])
    if algo == "dqn":
        replay_a = torch.load(run / "checkpoints" / "replay.pt", weights_only=True)
        replay_b = torch.load(new_run / "checkpoints" / "replay.pt", weights_only=True)
        assert replay_a["step"] == replay_b["step"] == final
        assert_identical(replay_a["state"], replay_b["state"], "replay")


def test_replay_side_files_follow_their_step_checkpoints(runs_dir):
    events = list(train(_config(runs_dir, "dqn", steps=600, save_every=100, keep_checkpoints=2,
                                set={"save_buffer": "true"})))
    folder = Path(events[0].run_dir) / "checkpoints"
    steps = sorted(int(p.stem.split("_")[1]) for p in folder.glob("step_*[0-9].pt"))
    sides = sorted(int(p.name.split(".")[0].split("_")[1])
                   for p in folder.glob("step_*.replay.pt"))
    assert len(steps) == 2 and sides == steps  # pruned together
    for step in steps:
        side = checkpoints.load_side(folder / f"step_{step}.replay.pt")
        assert side["step"] == step == checkpoints.load(folder / f"step_{step}.pt")["step"]
    assert checkpoints.load_side(folder / "replay.pt")["step"] == events[-1].step
    (folder / f"step_{steps[0]}.replay.pt").unlink()  # lost: the buffer starts afresh, said so
    again = list(train(RunConfig(game="cartpole", resume=str(folder / f"step_{steps[0]}.pt"),
                                 device="cpu", runs_dir=str(runs_dir))))
    warnings = [e.text for e in again if isinstance(e, Message) and e.level == "warning"]
    assert any("replay" in text and "afresh" in text for text in warnings)
    assert again[-1].reason == "budget"


def test_replay_that_no_longer_fits_is_started_afresh_with_a_warning(runs_dir):
    first = list(train(_config(runs_dir, "dqn", steps=400, set={"save_buffer": "true"})))
    run = first[0].run_dir
    again = list(train(RunConfig(game="cartpole", resume=run, steps=600, envs=4, device="cpu",
                                 runs_dir=str(runs_dir))))
    warnings = [e.text for e in again if isinstance(e, Message) and e.level == "warning"]
    assert any("replay" in text and "afresh" in text for text in warnings)
    assert again[-1].reason == "budget" and again[-1].step >= 600
