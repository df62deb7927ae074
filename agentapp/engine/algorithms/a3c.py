"""Asynchronous advantage actor-critic (A3C; Mnih et al. 2016), the method A2C is the synchronous
form of.

Why it is here: the policy-gradient lecture puts the two side by side. A2C waits for every
environment and takes one gradient step on the whole batch; A3C runs ``workers`` actor-learners,
each with its own game and a local copy of the network, that update one shared network whenever
they like, without locks ("Hogwild!"). The parallel, decorrelated experience of many learners
plays the part of DQN's replay memory. Compare them with ``--algo a2c --envs N`` and ``--algo a3c
--set workers=N`` on the same budget.

Each worker, in a loop (``engine/hogwild.py`` runs the processes):
    theta' <- theta                              (sync the local copy from the shared network)
    play n_steps (t_max) steps of its game with pi(.|s; theta')
    R_t = r_t + gamma r_{t+1} + ... + gamma^(n-t) V(s_{t+n}; theta')    (n-step returns)
    d theta' = grad of the A2C loss on the rollout, computed locally, clipped
    theta <- optimizer step with d theta'        (no lock; the optimizer's moments are shared)

Decisions (what a user should know):
- One process per worker (``spawn``), one game and one torch thread each; ``workers`` defaults to
  the machine's CPU count. ``--envs`` is refused: a worker steps one environment (use
  ``--set workers=N``). The loop's step budget counts the steps of all workers together; a
  rollout begins only while the budget is not used up, so a run ends at most ``n_steps - 1``
  steps per worker past it.
- The loss is A2C's (mean over the rollout, advantages with ``gae_lambda``, 1 = n-step returns);
  the optimizer is RMSprop with statistics shared by all workers (the paper's choice, with
  TensorFlow's epsilon placement) or Adam with shared moments.
- Evaluation, watching and insight use the shared network in the main process while the workers
  go on training (an evaluation sees a network that changes under it, as in the paper).
- The live view shows worker 0's game, as that worker plays it: the main process plays none, so
  once a front end asks, worker 0 sends a copy of its current observation (and the gridworld's
  cell, or the newest frame of a pixel game) with its reports, ten times a second at most.
- Checkpoints pause the workers at an update boundary and copy the shared network and optimizer.
  A resume continues from them, but not bitwise: the order in which asynchronous updates land is
  up to the operating system, so no two A3C runs (resumed or not) are identical, even with one
  seed. The workers' games start afresh on resume. ``normalize_obs`` is refused (each worker would
  keep its own statistics).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from agentapp.engine.algorithms.actor_critic import ActorCriticMethod, ActorCriticSettings
from agentapp.engine.algorithms.base import Iteration
from agentapp.engine.device import gpu_options_on
from agentapp.engine.events import Frame
from agentapp.engine.hogwild import SharedAdam, SharedRMSprop, WorkerPool, snapshot
from agentapp.errors import UserError
from agentapp.params import setting

GATHER_SECONDS = 0.2
"""How long one ``train_iteration`` collects the workers' reports before it returns to the loop
(so stop, pause, checkpoints and evaluations take effect within a fraction of a second)."""


@dataclass(frozen=True)
class A3CSettings(ActorCriticSettings):
    """Settings of A3C (the paper's t_max=5, RMSprop alpha=0.99 shared by the workers), beside
    the actor-critic ones."""

    workers: int = setting(max(1, os.cpu_count() or 1), "Actor-learner processes, each with "
                           "its own game (default: this machine's CPU count).", low=1, high=256)
    learning_rate: float = setting(7e-4, "Optimizer step size.", low=0.0, low_open=True)
    anneal_lr: bool = setting(False, "Anneal the learning rate linearly to 0 over the budget "
                              "(counting the steps of all workers).")
    n_steps: int = setting(5, "Steps (t_max) a worker plays between two updates.", low=1)
    gae_lambda: float = setting(1.0, "1: n-step returns; below 1: GAE(lambda).",
                                low=0.0, high=1.0)
    optimizer: str = setting("rmsprop", "Optimizer, its statistics shared by all workers: "
                             "rmsprop (TensorFlow's epsilon placement) or adam.",
                             choices=("rmsprop", "adam"))
    rms_alpha: float = setting(0.99, "RMSprop smoothing constant.", low=0.0, high=1.0)
    eps: float = setting(1e-5, "Optimizer epsilon.", low=0.0, low_open=True)


def shared_optimizer(params: list[nn.Parameter], hp: A3CSettings) -> torch.optim.Optimizer:
    if hp.optimizer == "adam":
        return SharedAdam(params, lr=hp.learning_rate, eps=hp.eps)
    return SharedRMSprop(params, lr=hp.learning_rate, alpha=hp.rms_alpha, eps=hp.eps)


class A3CLearner(ActorCriticMethod):
    """One actor-learner, inside a worker process: its own game, its own local network, and the
    shared network and optimizer it updates."""

    Hyperparameters = A3CSettings

    def __init__(self, game, game_params, hp, *, shared: nn.Module,
                 optimizer: torch.optim.Optimizer, **kwargs) -> None:
        super().__init__(game, game_params, hp, **kwargs)
        self.shared, self.optimizer = shared, optimizer
        self.shared_params = list(shared.parameters())

    def train_iteration(self, max_steps: int) -> Iteration:
        """One asynchronous update; ``self.steps`` is set to the global step count before it."""
        hp = self.hp
        start = self.steps
        # theta' <- theta: act and learn with the newest shared parameters
        with torch.no_grad():
            torch._foreach_copy_(self.params, self.shared_params)
        finished = self.collect()  # n_steps of the worker's game, R_t and A_t = R_t - V(s_t)
        batch = self.buffer.batch()
        dist, value = self.model(batch.obs)
        # grad J = E[grad log pi(a|s) A(s,a)]   (policy gradient theorem, actor-critic form)
        policy_loss = -(dist.log_prob(batch.actions) * batch.advantages).mean()
        # the critic regresses V(s) on the n-step return
        value_loss = (batch.returns - value).pow(2).mean()
        entropy = dist.entropy().mean()
        loss = policy_loss + hp.vf_coef * value_loss - hp.ent_coef * entropy
        for p in self.params:
            p.grad = None
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(self.params, hp.max_grad_norm)  # before clipping
        self.hogwild_step()
        return Iteration(steps=self.steps - start, episodes=finished, metrics={
            "losses/policy_loss": float(policy_loss.detach()),
            "losses/value_loss": float(value_loss.detach()),
            "losses/entropy": float(entropy.detach()),
            "losses/explained_variance": self.explained_variance(),
            "charts/grad_norm": float(grad_norm),
        })

    def hogwild_step(self) -> None:
        """theta <- step(theta, d theta'): the local gradients become the shared parameters'
        gradients (in this process only: ``.grad`` is not shared) and the shared optimizer
        updates the shared parameters in place, without a lock."""
        lr = self.annealed(self.hp.learning_rate, self.hp.anneal_lr)
        for group in self.optimizer.param_groups:  # this process's copy of the groups
            group["lr"] = lr
        for shared, local in zip(self.shared_params, self.params, strict=True):
            shared.grad = local.grad
        self.optimizer.step()


def build_learner(game_id: str, game_params: Any, hp: A3CSettings, seed: int, budget: int,
                  shared: nn.Module, optimizer: torch.optim.Optimizer,
                  index: int) -> A3CLearner:
    """Build worker *index*'s learner (in the worker: the game is looked up again by its id,
    and the worker's seed is drawn from the run's seed and its index)."""
    from agentapp.games import resolve

    worker_seed = int(np.random.SeedSequence([seed, index]).generate_state(1)[0])
    return A3CLearner(resolve(game_id), game_params, hp, shared=shared, optimizer=optimizer,
                      seed=worker_seed, budget=budget)


class A3C(ActorCriticMethod):
    """Asynchronous advantage actor-critic: Hogwild workers on one shared network."""

    name = "a3c"
    title = "A3C"
    summary = ("Asynchronous actor-critic: worker processes update one shared network "
               "without locks (Hogwild).")
    Hyperparameters = A3CSettings
    supports_envs: ClassVar[bool] = False
    parallel_hint: ClassVar[str] = "each worker plays its own: set how many with --set workers=N"
    worker_hook: ClassVar[Any] = None
    """Called in each worker after each update as ``hook(index, its steps)``; a test sets it to
    a module-level function to make a worker fail. None in normal use."""

    @classmethod
    def check_settings(cls, hp: Any, game, game_params: Any, n_envs: int = 1) -> None:
        if hp.normalize_obs:
            raise UserError("--set normalize_obs=true: a3c cannot normalise observations (each "
                            "worker would keep its own statistics)")
        if hp.async_envs:
            raise UserError("--set async_envs=true: a3c's workers are processes already, one "
                            "game each (use --set workers=N)")
        if chosen := gpu_options_on(hp):
            raise UserError(f"--set {chosen[0]}: a GPU option, and a3c's workers "
                            "train on the CPU")
        super().check_settings(hp, game, game_params, n_envs)

    @classmethod
    def memory_needed(cls, hp: Any, space, n_envs: int) -> list[tuple[str, int]]:
        return super().memory_needed(hp, space, hp.workers)  # a rollout and a network each

    def __init__(self, game, game_params, hp, **kwargs) -> None:
        kwargs["device"] = "cpu"  # CPU workers, as in the paper; shared memory is host memory
        super().__init__(game, game_params, hp, **kwargs)
        self.model.share_memory()  # the workers update these very tensors
        self.optimizer = shared_optimizer(self.params, hp)
        self.pool: WorkerPool | None = None

    def train_iteration(self, max_steps: int) -> Iteration:
        """Let the workers run on (starting them on first use) until *max_steps* more steps are
        done, and return what they reported within ``GATHER_SECONDS``."""
        if self.pool is None:
            self.pool = self.start_workers()
        self.pool.allow(max_steps)
        steps, updates, sums, episodes = self.pool.gather(GATHER_SECONDS)
        self.steps += steps
        self.episodes += len(episodes)
        metrics = {key: value / updates for key, value in sums.items()} if updates else {}
        metrics["charts/learning_rate"] = self.annealed(self.hp.learning_rate, self.hp.anneal_lr)
        return Iteration(steps=steps, metrics=metrics, episodes=episodes)

    def live_frame(self, step: int) -> Frame | None:
        """Worker 0's game (see the module's decisions): the first call asks the workers for
        frames, later ones take the newest that came, each once."""
        if self.pool is None:
            return None
        self.pool.want_frames()
        frame, self.pool.frame = self.pool.frame, None
        return None if frame is None else replace(frame, step=step)

    def start_workers(self) -> WorkerPool:
        game_id, hp = self.game.id, self.hp
        build = functools.partial(build_learner, game_id, self.game_params, hp, self.seed,
                                  self.budget, self.model, self.optimizer)
        return WorkerPool(hp.workers, build, hp.n_steps, self.steps, self.worker_hook)

    def state_dict(self) -> dict[str, Any]:
        """The shared network and optimizer, copied while the workers wait at an update
        boundary."""
        if self.pool is None:
            return self._state()
        with self.pool.paused():
            return self._state()

    def _state(self) -> dict[str, Any]:
        return {
            **self.common_state(),
            "model": snapshot(self.model.state_dict()),
            "optimizer": snapshot(self.optimizer.state_dict()),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.close()  # workers would keep the old tensors: they start again on next use
        self.model.load_state_dict(state["model"])  # copied into the shared tensors
        self.optimizer.load_state_dict(state["optimizer"])  # shared again by the optimizer
        self.load_common_state(state)

    def close(self) -> None:
        if self.pool is not None:
            pool, self.pool = self.pool, None
            pool.close()
        super().close()
