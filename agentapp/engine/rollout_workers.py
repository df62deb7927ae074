"""Distributed rollouts for one run (``agentapp train GAME --workers N [--address ADDR]``): Ray
actors step the environments and act, the learner stays in this process on its device.

One machine's cores cap how many environments one run can step; a Ray cluster does not. Each
actor holds a CPU copy of the run's method (the same class, one torch thread) with its share of
the environments and plays with the weights the driver broadcast (one ``ray.put`` per round, read
by every actor); experience comes back as numpy arrays (frames stay uint8) and the driver learns
from it exactly as it learns locally. What a user should know:

- ``--envs N`` stays the TOTAL number of environments, so ``--steps``, ``n_steps x n_envs``
  batches and every hyperparameter mean what they mean locally. They are split over the W workers
  as evenly as possible (the first ``N mod W`` get one more); global environment i is seeded
  ``seed + i``, as locally. W > N is refused.
- A2C / PPO stay on-policy: each iteration the driver broadcasts its weights, every actor
  collects ``n_steps`` steps of its environments with them (truncated episodes already
  bootstrapped with the value of their true last observation, as locally), and returns the
  rollout's columns (observations, actions, rewards, dones, values, log-probabilities) with the
  value of its last observation and the episodes that ended. The driver writes them into its
  rollout buffer's columns and computes GAE itself: the same maths as local training.
- DQN: the actors play a chunk of steps epsilon-greedily with the weights and the epsilon of the
  chunk's start and return the transitions (first observations, then each step's observation,
  with the true last observation only where an episode ended: half the bytes of obs + next_obs).
  The driver adds them to its replay buffer step by step and runs ``gradient_steps`` updates per
  ``train_freq`` steps of each environment (local training's replay ratio) and target updates by
  step count. The chunk is a whole number of ``train_freq`` rounds covering about
  :data:`DQN_ROUND_TRIP_STEPS` steps of all environments together (never much past the budget),
  so the acting policy lags the learner by up to one chunk: that many more steps than locally,
  where it lags by one round of ``train_freq`` steps.
- Actors run on the CPU with one torch thread and ask Ray for ``cpus_per_actor`` CPUs (a share
  of a small machine's cores, one each on a cluster). On a cluster every node needs agentapp and
  its games installed, in the same versions.
- A lost actor (its process killed, its node gone) is replaced by a new one whose episodes start
  afresh (seeds ``seed + steps done + its first environment's index``), and its share of the
  round is played again with the same weights; ``charts/workers_replaced`` counts replacements.
  An actor lost :data:`LOSSES_IN_A_ROW` times in one round, or an exception raised by the
  actor's own code (a bug, a broken game), ends the run as failed (exit 3) with that error.
- Checkpoints are those of a local run. The environments' states are not fetched from the
  actors: on resume, with or without workers, episodes start afresh. A run trained with
  ``--workers`` resumes locally and vice versa, and ``--workers`` may change on resume. Runs
  with workers are reproducible only up to Ray's scheduling: the actors sample actions with
  their own generators, so a worker run is not bitwise the same as a local one.
- ``normalize_obs`` / ``normalize_reward`` are refused with ``--workers``: their running
  statistics would have to be merged from every actor each round.

The actors are closed (``ray.kill``) when training ends; the Ray session itself is left to the
process that started it.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from agentapp.engine.algorithms.base import PLACEMENT_KEYS
from agentapp.engine.failures import TrainingBroken
from agentapp.engine.vector import infos_for

DQN_ROUND_TRIP_STEPS = 512
"""Steps of all environments together that one DQN round trip aims at: a local round trip
(weights out, transitions back) costs a few milliseconds, which 512 CartPole steps repay."""

START_SECONDS = 120.0
"""How long new actors may take to start (a cluster may have to find or add CPUs for them)
before the run fails with a clear line instead of waiting for ever."""

LOSSES_IN_A_ROW = 3
"""Replacements of one actor within one round before the run gives up (a game that kills its
process every time would otherwise loop for ever)."""


class WorkerFailed(TrainingBroken):
    """A rollout worker raised, or was lost too often; the message names it and its error."""


def split_envs(n_envs: int, workers: int) -> list[tuple[int, int]]:
    """``(first global index, count)`` of each worker's environments: as even as possible,
    the first ``n_envs mod workers`` workers one more."""
    base, extra = divmod(n_envs, workers)
    shares, start = [], 0
    for index in range(workers):
        count = base + (1 if index < extra else 0)
        shares.append((start, count))
        start += count
    return shares


def cpu_weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The module's parameters and buffers as CPU tensors, for broadcasting."""
    return {key: value.detach().cpu() for key, value in module.state_dict().items()}


def placement_infos(agent: Any) -> dict[str, Any]:
    """The entries of the last step's infos that place *agent*'s players (the gridworld's
    ``cell`` with its mask), a few bytes that let the driver's live view put its first
    environment's agent on its cell; empty when ``agent.obs`` is not that step's."""
    obs, infos = agent.stepped
    return infos_for(infos, PLACEMENT_KEYS) if obs is agent.obs else {}


def one_line(error: BaseException) -> str:
    """The error a worker raised, in one line: its own exception when Ray wrapped it."""
    cause = getattr(error, "cause", None) or error
    text = " ".join(str(cause).split()) or type(cause).__name__
    return f"{type(cause).__name__}: {text}"[:300]


class RolloutWorker:
    """The body of one Ray actor: a CPU copy of the run's method playing its share of the
    environments. Built on the first call, so that a failure to build (a broken game) is the
    worker's own error, reported as such, not a lost actor."""

    def __init__(self, spec: dict[str, Any], start: int, count: int, steps: int) -> None:
        torch.set_num_threads(1)  # several actors share a machine's cores
        self.spec, self.start, self.count, self.steps = spec, start, count, steps
        self.agent: Any = None

    def _ready(self) -> Any:
        if self.agent is None:
            from agentapp.engine import algorithms
            from agentapp.games import resolve

            spec = self.spec
            # global environment i = start + j is seeded seed + steps + i, as reset_vector_env
            # seeds it locally (steps: 0 for a new run; the steps done for a replacement)
            self.agent = algorithms.get(spec["algo"])(
                resolve(spec["game"]), spec["game_params"], spec["hp"],
                seed=spec["seed"] + self.start, budget=spec["budget"], device="cpu",
                n_envs=self.count)
            self.agent.steps = self.steps
        return self.agent

    def pid(self) -> int:
        return os.getpid()

    @torch.no_grad()
    def rollout(self, weights: dict[str, torch.Tensor]) -> dict[str, Any]:
        """A2C / PPO: ``n_steps`` steps of every environment with *weights*, as the columns of
        a rollout buffer (``[n_steps, count, ...]``) and the values of the last observations."""
        began = time.perf_counter()
        agent = self._ready()
        agent.model.load_state_dict(weights)
        episodes = agent.fill_rollout()
        buffer, t = agent.buffer, agent.buffer.pos
        columns = {name: getattr(buffer, name)[:t].numpy().copy()
                   for name in ("obs", "actions", "rewards", "dones", "values", "log_probs")}
        columns["last_values"] = agent.model.value(agent.as_tensor(agent.obs)).numpy()
        columns["last_obs"] = np.asarray(agent.obs)
        columns["placement"] = placement_infos(agent)
        columns["episodes"] = episodes
        columns["seconds"] = time.perf_counter() - began  # the benchmark's round-trip cost
        return columns

    def transitions(self, weights: dict[str, torch.Tensor], epsilon: float,
                    steps: int) -> dict[str, Any]:
        """DQN: *steps* epsilon-greedy steps of every environment with *weights*."""
        began = time.perf_counter()
        agent = self._ready()
        agent.q.load_state_dict(weights)
        agent.start_envs()
        first = np.array(agent.obs, copy=True)
        stepped, actions, rewards, terminated, truncated = [], [], [], [], []
        finals, episodes = [], []
        for t in range(steps):
            action = agent._explore(agent.obs, epsilon)
            next_obs, reward, term, trunc, infos, ended = agent.step_envs(action)
            mask = infos.get("_final_obs")
            if mask is not None:
                finals.extend((t, int(j), infos["final_obs"][j]) for j in np.flatnonzero(mask))
            for items, value in ((stepped, next_obs), (actions, action), (rewards, reward),
                                 (terminated, term), (truncated, trunc)):
                items.append(np.asarray(value))
            agent.obs = next_obs
            episodes.extend(ended)
        return {"first": first, "stepped": np.stack(stepped), "actions": np.stack(actions),
                "rewards": np.stack(rewards).astype(np.float32),
                "terminated": np.stack(terminated), "truncated": np.stack(truncated),
                "finals": finals, "episodes": episodes, "placement": placement_infos(agent),
                "seconds": time.perf_counter() - began}


@dataclass
class Transitions:
    """A chunk of DQN steps of all environments, ``[steps, n_envs, ...]``."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    next_obs: np.ndarray
    """The observation each step really led to (an episode's true last one where it ended)."""


class RolloutPool:
    """The W actors of one run: started on first use, replaced when lost, killed on close."""

    def __init__(self, agent: Any, workers: int, address: str | None) -> None:
        from agentapp.engine.ray_cluster import connect, cpus_per_actor

        self.ray = connect("--workers", address)
        self.agent = agent
        self.shares = split_envs(agent.n_envs, workers)
        self.cpus = cpus_per_actor(workers, address)
        self.spec = {"algo": agent.name, "game": agent.game.id, "game_params": agent.game_params,
                     "hp": agent.hp, "seed": agent.seed, "budget": agent.budget}
        self.tag = uuid.uuid4().hex[:8]
        self.actors: list[Any] = []
        self.replaced = 0
        self.worker_seconds: list[float] = []
        """How long each worker took to play the last round (weights loaded to result ready)."""
        self._started = 0
        self._actor_class: Any = None

    # -- actors ------------------------------------------------------------------------------
    def _new_actor(self, index: int) -> Any:
        if self._actor_class is None:
            self._actor_class = self.ray.remote(RolloutWorker)
        start, count = self.shares[index]
        self._started += 1
        # named, so a person (or a test) can find them: ray.util.list_named_actors()
        options = {"num_cpus": self.cpus, "max_restarts": 0,
                   "name": f"agentapp-rollout-{self.tag}-{index}-{self._started}"}
        return self._actor_class.options(**options).remote(
            self.spec, start, count, int(self.agent.steps))

    def _ensure_started(self) -> None:
        if not self.actors:
            self.actors = [self._new_actor(i) for i in range(len(self.shares))]
            self._await_ready(self.actors)

    def _await_ready(self, actors: list[Any]) -> None:
        """Wait until *actors* run; WorkerFailed when Ray cannot place them in time."""
        refs = [actor.pid.remote() for actor in actors]
        ready, _ = self.ray.wait(refs, num_returns=len(refs), timeout=START_SECONDS)
        if len(ready) < len(refs):
            raise WorkerFailed(
                f"{len(refs) - len(ready)} rollout worker(s) did not start within "
                f"{START_SECONDS:.0f} s: the Ray cluster has no room for them "
                f"({self.cpus:g} CPU each); ask for fewer --workers or free its CPUs")

    def _replace(self, index: int) -> None:
        with contextlib.suppress(Exception):  # already gone: nothing left to free
            self.ray.kill(self.actors[index], no_restart=True)
        self.actors[index] = self._new_actor(index)
        self.replaced += 1
        self._await_ready([self.actors[index]])

    def _gather(self, method: str, *args: Any) -> list[Any]:
        """Call *method* on every actor at once and return the results in worker order; a lost
        actor is replaced and asked again, a worker's own exception is WorkerFailed."""
        self._ensure_started()
        exceptions = self.ray.exceptions
        refs = [getattr(actor, method).remote(*args) for actor in self.actors]
        results = []
        for index, ref in enumerate(refs):
            losses = 0
            while True:
                try:
                    results.append(self.ray.get(ref))
                    break
                except exceptions.RayTaskError as error:
                    raise WorkerFailed(f"rollout worker {index} failed: "
                                       f"{one_line(error)}") from None
                except exceptions.RayActorError as error:
                    losses += 1
                    if losses > LOSSES_IN_A_ROW:
                        raise WorkerFailed(f"rollout worker {index} was lost {losses} times in "
                                           f"a row: {one_line(error)}") from None
                    self._replace(index)
                    ref = getattr(self.actors[index], method).remote(*args)
        return results

    def close(self) -> None:
        """Kill the actors (the Ray session stays: it may be a sweep's or a test's)."""
        if self.actors and self.ray.is_initialized():
            for actor in self.actors:
                with contextlib.suppress(Exception):  # gone already
                    self.ray.kill(actor, no_restart=True)
        self.actors = []

    # -- what the methods ask for ----------------------------------------------------------------
    def collect_rollout(self, agent: Any) -> tuple[list[tuple[float, int]], torch.Tensor]:
        """A2C / PPO: fill *agent*'s rollout buffer from the workers with its current weights;
        returns the episodes that ended and V of the observations after the last step."""
        weights = self.ray.put(cpu_weights(agent.model))
        parts = self._gather("rollout", weights)
        self.worker_seconds = [p["seconds"] for p in parts]
        joined = {name: np.concatenate([p[name] for p in parts], axis=1)
                  for name in ("obs", "actions", "rewards", "dones", "values", "log_probs")}
        agent.buffer.reset()
        for t in range(len(joined["obs"])):
            agent.buffer.add(*(joined[name][t] for name in
                               ("obs", "actions", "rewards", "dones", "values", "log_probs")))
        # for the live view: global environment 0 is the first of worker 0's
        agent.obs = np.concatenate([p["last_obs"] for p in parts])
        agent.stepped = (agent.obs, parts[0]["placement"])
        agent.steps += agent.buffer.pos * agent.n_envs
        episodes = [e for p in parts for e in p["episodes"]]
        agent.episodes += len(episodes)
        return episodes, torch.as_tensor(np.concatenate([p["last_values"] for p in parts]))

    def chunk_steps(self, train_freq: int, max_steps: int) -> int:
        """Steps of each environment in one DQN round trip: whole ``train_freq`` rounds, about
        :data:`DQN_ROUND_TRIP_STEPS` in all, no more rounds than the budget left needs."""
        per_round = train_freq * self.agent.n_envs
        rounds = max(1, math.ceil(DQN_ROUND_TRIP_STEPS / per_round))
        return train_freq * min(rounds, max(1, math.ceil(max_steps / per_round)))

    def collect_transitions(self, agent: Any, epsilon: float,
                            steps: int) -> tuple[Transitions, list[tuple[float, int]]]:
        """DQN: *steps* steps of every environment played by the workers with *agent*'s current
        weights and *epsilon*; the transitions and the episodes that ended."""
        weights = self.ray.put(cpu_weights(agent.q))
        parts = self._gather("transitions", weights, epsilon, steps)
        self.worker_seconds = [p["seconds"] for p in parts]
        stepped = np.concatenate([p["stepped"] for p in parts], axis=1)
        first = np.concatenate([p["first"] for p in parts])
        next_obs = stepped.copy()
        for (start, _), part in zip(self.shares, parts, strict=True):
            for t, j, final in part["finals"]:
                next_obs[t, start + j] = final
        chunk = Transitions(
            obs=np.concatenate([first[None], stepped[:-1]]),
            next_obs=next_obs,
            **{name: np.concatenate([p[name] for p in parts], axis=1)
               for name in ("actions", "rewards", "terminated", "truncated")})
        agent.obs = stepped[-1]  # for the live view; DQN counts the steps and episodes
        agent.stepped = (agent.obs, parts[0]["placement"])
        return chunk, [e for p in parts for e in p["episodes"]]
