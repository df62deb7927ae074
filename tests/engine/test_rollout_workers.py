"""Distributed rollouts (``--workers``) on a real local Ray: PPO and DQN learn from what Ray
actors play, the columns they send are the ones local training would have, a killed actor is
replaced, and a worker run resumes locally.

One Ray instance serves the whole module (starting one costs seconds); actors ask for a share of
its 2 CPUs (``cpus_per_actor``), so two of them fit on a 2-core machine."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

ray = pytest.importorskip("ray")

from agentapp.engine import loop  # noqa: E402
from agentapp.engine.algorithms.dqn import DQN, DQNSettings  # noqa: E402
from agentapp.engine.algorithms.ppo import PPO  # noqa: E402
from agentapp.engine.events import EpisodeEnded, Metrics, RunFinished  # noqa: E402
from agentapp.engine.plan import RunConfig, prepare, preset_settings  # noqa: E402
from agentapp.engine.rollout_workers import (  # noqa: E402
    RolloutWorker,
    WorkerFailed,
    split_envs,
)
from agentapp.games import resolve  # noqa: E402

PPO_SETTINGS = {"n_steps": "32", "n_epochs": "2", "batch_size": "64"}


pytestmark = pytest.mark.usefixtures("local_ray")  # one local Ray for the module


def _run(config: RunConfig, on_event=None) -> list:
    events = []
    for event in loop.train(prepare(config)):
        events.append(event)
        if on_event is not None:
            on_event(event)
    return events


def _rollout_actors() -> list[str]:
    return sorted(n for n in ray.util.list_named_actors() if n.startswith("agentapp-rollout-"))


def _reset_obs(seed: int) -> np.ndarray:
    game = resolve("cartpole")
    env = game.make(game.params)
    try:
        return env.reset(seed=seed)[0]
    finally:
        env.close()


def test_envs_are_split_as_evenly_as_possible():
    assert split_envs(4, 2) == [(0, 2), (2, 2)]
    assert split_envs(5, 3) == [(0, 2), (2, 2), (4, 1)]
    assert split_envs(3, 3) == [(0, 1), (1, 1), (2, 1)]


def test_ppo_with_two_workers_runs_its_budget_and_resumes_locally(runs_dir: Path):
    config = RunConfig(game="cartpole", algo="ppo", steps=1024, envs=4, workers=2, seed=3,
                       overrides=PPO_SETTINGS, eval_every=1024, eval_episodes=1)
    events = _run(config)
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.reason == "budget"
    assert finished.step == 1024  # 8 rollouts of 32 steps x 4 environments
    assert any(isinstance(e, EpisodeEnded) for e in events)
    run = Path(finished.run_dir)
    assert json.loads((run / "config.json").read_text())["workers"] == 2
    assert (run / "checkpoints" / "latest.pt").is_file()

    resumed = _run(RunConfig(game="cartpole", resume=str(run), steps=1536, eval_episodes=1))
    assert resumed[-1].reason == "budget" and resumed[-1].step == 1536
    assert resumed[-1].run_dir == str(run)
    assert json.loads((run / "config.json").read_text())["workers"] == 0


def test_the_workers_rollout_is_the_one_local_training_would_collect():
    game = resolve("cartpole")
    _, hp = preset_settings(game, PPO)
    seed, n_envs = 7, 3  # 3 environments on 2 workers: shares of 2 and 1
    agent = PPO(game, game.params, hp, seed=seed, budget=10_000, n_envs=n_envs)
    local = PPO(game, game.params, hp, seed=seed, budget=10_000, n_envs=n_envs)
    try:
        agent.use_workers(2, None)
        first_obs = None
        for _ in range(2):  # the second rollout is played with the updated weights
            agent.collect()
            buffer = agent.buffer
            assert buffer.obs.shape[:2] == (hp.n_steps, n_envs) and buffer.computed
            first_obs = buffer.obs[0].clone() if first_obs is None else first_obs
            with torch.no_grad():  # on-policy: the workers acted with the learner's weights
                dist, values = agent.model(buffer.obs.flatten(0, 1))
                log_probs = dist.log_prob(buffer.actions.flatten(0, 1))
            torch.testing.assert_close(log_probs, buffer.log_probs.flatten(), atol=1e-5, rtol=0)
            torch.testing.assert_close(values, buffer.values.flatten(), atol=1e-5, rtol=0)
            agent.train_iteration(10_000)
        assert agent.steps == 4 * hp.n_steps * n_envs  # two collects, two iterations
        # global environment i is seeded seed + i, as in local training
        local.collect()
        torch.testing.assert_close(first_obs, local.buffer.obs[0])
        for i in range(n_envs):
            np.testing.assert_array_equal(first_obs[i].numpy(), _reset_obs(seed + i))
        # an exception in the worker's own code ends the run, naming the worker and the error
        with pytest.raises(WorkerFailed, match="rollout worker 0 failed: RuntimeError"):
            agent.remote._gather("rollout", {"no_such_weight": torch.zeros(1)})
    finally:
        agent.close()
        local.close()


def test_dqn_workers_fill_the_replay_buffer_from_every_environment_and_it_learns():
    game = resolve("cartpole")
    hp = DQNSettings(learning_starts=64, batch_size=32, train_freq=4, gradient_steps=1)
    agent = DQN(game, game.params, hp, seed=11, budget=50_000, n_envs=4)
    before = [p.detach().clone() for p in agent.params]
    try:
        agent.use_workers(2, None)
        it = agent.train_iteration(10**6)
        # one round trip: 4 x ceil(512 / 16) = 128 steps of each of the 4 environments
        assert it.steps == agent.steps == 512 and len(agent.buffer) == 512
        rows = agent.buffer  # n_step=1: row t * 4 + j is step t of environment j
        for j in range(4):
            np.testing.assert_array_equal(rows.obs[j], _reset_obs(11 + j))
            steps = np.arange(j, 512, 4)
            ended = rows.dones[steps[:-1]] > 0
            follows = (rows.next_obs[steps[:-1]] == rows.obs[steps[1:]]).all(axis=1)
            assert follows[~ended].mean() > 0.9  # an episode's next obs is its next step's obs
        # updates after every train_freq steps once 64 transitions are in: rounds 4..32
        assert agent.updates == 29
        assert any(not torch.equal(a, b) for a, b in zip(before, agent.params, strict=True))
        assert it.metrics["charts/workers_replaced"] == 0
    finally:
        agent.close()


def test_a_killed_worker_is_replaced_and_the_run_completes_its_budget(runs_dir: Path):
    killed = []

    def kill_one(event) -> None:
        if not killed and isinstance(event, Metrics) and "losses/policy_loss" in event.values:
            names = _rollout_actors()
            assert len(names) == 2
            ray.kill(ray.get_actor(names[0]))
            killed.append(names[0])

    config = RunConfig(game="cartpole", algo="ppo", steps=2048, envs=4, workers=2, seed=5,
                       overrides=PPO_SETTINGS, eval_every=2048, eval_episodes=1)
    events = _run(config, kill_one)
    assert killed
    assert events[-1].reason == "budget" and events[-1].step == 2048
    replaced = [e.values["charts/workers_replaced"] for e in events
                if isinstance(e, Metrics) and "charts/workers_replaced" in e.values]
    assert replaced[0] == 0 and replaced[-1] >= 1
    # the pool closed its actors, the replacement included (ray.kill takes effect shortly)
    deadline = time.monotonic() + 30
    while _rollout_actors() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _rollout_actors()



def test_the_live_view_puts_the_first_environments_agent_on_its_cell():
    # the aliased map observes only the walls around the agent: the workers' infos say the cell
    game = resolve("gridworld:aliased")
    env = game.make(game.params).unwrapped
    agent = PPO(game, game.params, PPO.Hyperparameters(n_steps=8, batch_size=16, n_epochs=1),
                seed=3, budget=10_000, n_envs=2)
    try:
        agent.use_workers(1, None)
        assert agent.live_frame(0) is None  # nothing played yet
        agent.train_iteration(10_000)
        frame = agent.live_frame(agent.steps)
        assert int(frame.observation) == int(agent.obs[0])  # global environment 0
        assert env.observe(frame.info["cell"]) == int(frame.observation)
    finally:
        agent.close()
    # a DQN worker sends its infos' cells too (its body, played here without an actor)
    spec = {"algo": "dqn", "game": game.id, "game_params": game.params, "seed": 3,
            "hp": DQNSettings(), "budget": 10_000}
    worker = RolloutWorker(spec, 0, 2, 0)
    try:
        weights = {k: v.clone() for k, v in worker._ready().q.state_dict().items()}
        chunk = worker.transitions(weights, 1.0, 16)
        cells = chunk["placement"]["cell"]
        assert chunk["placement"]["_cell"].all() and cells.shape == (2,)
        assert [env.observe(int(c)) for c in cells] == list(chunk["stepped"][-1])
    finally:
        worker.agent.close()
