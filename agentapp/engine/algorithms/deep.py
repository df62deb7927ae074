"""What the neural-network methods share: devices, seeding, vectorised environments, episode
bookkeeping, acting for evaluation and the parts of a checkpoint that are not the method's own.

A :class:`DeepAlgorithm` steps ``n_envs`` environments at once (gymnasium vector envs with
same-step autoreset: when an episode ends, the step returns the next episode's first observation
and the true last one in ``infos["final_obs"]``). It keeps every source of randomness it uses in
its own state (a numpy generator, a torch generator, torch's global generator for sampling) and
snapshots the environments themselves, so a checkpoint resumes bitwise-identically on the CPU.
Training environments are built on first use: rebuilding an agent to evaluate or watch it never
starts them.
"""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium import spaces

from agentapp.engine.algorithms.base import PLACEMENT_KEYS, Algorithm, method_rng, placement
from agentapp.engine.device import gpu_options_on
from agentapp.engine.events import Frame
from agentapp.engine.insight import PROBABILITIES, Insight
from agentapp.engine.networks import NETWORKS, ActorCritic, make_encoder
from agentapp.engine.normalize import Normalizer
from agentapp.engine.pixel_networks import COMPILE_MODES, PRECISIONS, is_pixels, speed_up
from agentapp.engine.vector import (
    env_info,
    make_vector_env,
    reset_vector_env,
    restore_vector,
    snapshot_vector,
)
from agentapp.errors import UserError
from agentapp.games.registry import PIXELS, VECTOR_OBS
from agentapp.params import setting, shown
from agentapp.plain import plain


def adam(params: list[torch.nn.Parameter], **kwargs: Any) -> torch.optim.Adam:
    """Adam, fused into one kernel per step where this torch can (CPU and CUDA, torch >= 2.4):
    on small networks the optimizer's per-tensor loop costs as much as the maths."""
    try:
        return torch.optim.Adam(params, fused=True, **kwargs)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, **kwargs)


def sample_from(dist: torch.distributions.Distribution, rng: np.random.Generator) -> np.ndarray:
    """Draw actions from a policy's distribution with a numpy generator (reproducible
    evaluations that leave the training generators alone)."""
    if isinstance(dist, torch.distributions.Categorical):
        probs = dist.probs.cpu().numpy().astype(np.float64)
        cumulative = probs.cumsum(axis=1)
        draws = rng.random((len(probs), 1)) * cumulative[:, -1:]
        return (draws > cumulative).sum(axis=1).clip(max=probs.shape[1] - 1)
    base = dist.base_dist if isinstance(dist, torch.distributions.Independent) else dist
    mean, std = base.mean.cpu().numpy(), base.stddev.cpu().numpy()
    return mean + std * rng.standard_normal(mean.shape)


def policy_insight(model: ActorCritic, obs: torch.Tensor) -> Insight | None:
    """pi(.|s) and the critic's V(s) (when the model has one) of an ``ActorCritic`` for a batch
    of one observation, from its own forward pass; None for continuous actions."""
    if model.continuous:
        return None
    dist, value = model(obs)  # one pass through the torso for both heads
    probs = dist.probs[0].cpu().numpy()
    return Insight(PROBABILITIES, probs, None if value is None else float(value[0]))


def parse_hidden(text: str) -> tuple[int, ...]:
    """``"64,64"`` -> ``(64, 64)``: hidden layer sizes as typed in ``--set hidden=64,64``."""
    try:
        sizes = tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise UserError(f"--set hidden={shown(text)}: expected layer sizes like 64,64")
    return sizes


def physical_memory() -> int | None:
    """Bytes of memory this machine has, or None where the system does not say."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def obs_bytes(space: spaces.Space) -> int:
    """Bytes one observation of *space* takes in a buffer (a Discrete index: an int64)."""
    shape = space.shape or ()
    itemsize = np.dtype(space.dtype).itemsize if space.dtype is not None else 8
    return int(np.prod(shape, dtype=object)) * itemsize


def mlp_bytes(space: spaces.Space, hidden: str, copies: int) -> int:
    """Float32 parameters of the hidden layers on *space* (pixels: after a 512-wide torso), times
    *copies* (weights, gradients, optimizer moments, target networks)."""
    widths = [512 if is_pixels(space) else spaces.flatdim(space), *parse_hidden(hidden)]
    return 4 * copies * sum(a * b + b for a, b in itertools.pairwise(widths))


def check_memory(needs: list[tuple[str, int]]) -> None:
    """UserError when the allocations *needs* add up to more than this machine's memory."""
    total = physical_memory()
    if total is None or not needs or sum(n for _, n in needs) <= total:
        return
    what, need = max(needs, key=lambda item: item[1])
    gib = 2**30
    raise UserError(f"{what} would need about {need / gib:.3g} GiB of memory, and this machine "
                    f"has {total / gib:.3g} GiB")


@dataclass(frozen=True)
class DeepSettings:
    """Settings every neural method has (each method's settings add their own)."""

    async_envs: bool = setting(False, "Step the environments in worker processes (gymnasium's "
                               "AsyncVectorEnv) instead of one after another in this one.")
    normalize_obs: bool = setting(False, "Normalise observations by their running mean and "
                                  "standard deviation (Box observations).")
    normalize_reward: bool = setting(False, "Divide rewards by the running standard deviation "
                                     "of the discounted return.")
    network: str = setting("auto", "Torso: mlp (vector observations), nature (the Nature-DQN "
                           "CNN), small (the 2013 DQN paper's CNN, A3C's: a third of the "
                           "arithmetic) or impala (IMPALA's ResNet); auto: nature for pixels, "
                           "else mlp.",
                           choices=NETWORKS)
    precision: str = setting("fp32", "GPU option: bf16 runs the pixel network's torso under "
                             "bfloat16 autocast (heads, losses and optimizer stay float32).",
                             choices=PRECISIONS)
    compile: str = setting("off", "GPU option: torch.compile the pixel network's torso "
                           "(reduce-overhead adds CUDA graphs); tens of seconds at the start.",
                           choices=COMPILE_MODES)


class DeepAlgorithm(Algorithm):
    """Base of the neural methods; subclasses build networks and implement ``train_iteration``."""

    requires: ClassVar[frozenset[str]] = frozenset()
    requires_any: ClassVar[frozenset[str]] = frozenset({VECTOR_OBS, PIXELS})
    step_unit: ClassVar[str] = "steps"
    supports_envs: ClassVar[bool] = True

    @classmethod
    def check_settings(cls, hp: Any, game, game_params: Any, n_envs: int = 1) -> None:
        """The torso must fit the observations (no CNN on vectors); hidden sizes must parse; the
        buffers and networks must fit in this machine's memory (``buffer_size=1e12`` is refused
        here, with one line, rather than failing to allocate inside a new run folder)."""
        probe = game.make(game_params)
        space = probe.observation_space
        try:
            make_encoder(space, hp.network)
        except ValueError as error:
            raise UserError(f"--set network={hp.network}: {error} ({game.id} gives "
                            f"{game.observation or space})") from None
        finally:
            probe.close()
        if (chosen := gpu_options_on(hp)) and not is_pixels(space):
            raise UserError(f"--set {chosen[0]}: a GPU option for the pixel "
                            f"networks, and {game.id} gives {game.observation or space}")
        if hasattr(hp, "hidden"):
            parse_hidden(hp.hidden)
        check_memory(cls.memory_needed(hp, space, n_envs))

    @classmethod
    def memory_needed(cls, hp: Any, space: spaces.Space, n_envs: int) -> list[tuple[str, int]]:
        """``(what, bytes)`` of the large allocations the method makes up front: buffers and
        networks. An estimate for refusing what cannot fit, not an exact account."""
        return []

    def __init__(self, game, game_params, hp, **kwargs) -> None:
        super().__init__(game, game_params, hp, **kwargs)
        self.timings = {"env": 0.0, "act": 0.0, "learn": 0.0}
        """Seconds spent stepping environments, choosing actions (collecting, minus the
        environments) and learning: what ``benchmarks/atari_throughput.py`` reports."""
        self.torch_device = torch.device(self.device)
        torch.manual_seed(self.seed)  # network initialisation and action sampling
        self.rng = method_rng(self.seed)  # epsilon, replay sampling: not the envs' streams
        self.generator = torch.Generator().manual_seed(self.seed)  # minibatch order
        probe = game.make(game_params)
        self.observation_space: spaces.Space = probe.observation_space
        self.action_space: spaces.Space = probe.action_space
        probe.close()
        self.steps = 0
        self.episodes = 0
        self._envs = None
        self.obs: np.ndarray | None = None
        self.stepped: tuple[Any, dict] = (None, {})
        """``(obs, infos)`` of the last step of every environment, kept (not copied) for the live
        view to read the agent's place from when the environments are in other processes; it
        belongs to ``self.obs`` only while that is the very same ``obs``."""
        self.ep_return = np.zeros(self.n_envs)
        self.ep_length = np.zeros(self.n_envs, dtype=np.int64)
        self._snapshots: list | None = None
        self.remote: Any = None
        """The Ray rollout workers that play for this agent (``--workers``), else None."""
        box = isinstance(self.observation_space, spaces.Box)
        self.normalizer = Normalizer(
            self.observation_space.shape or (), self.n_envs, getattr(hp, "gamma", 0.99),
            observations=hp.normalize_obs and box, rewards=hp.normalize_reward,
        )

    # -- environments ------------------------------------------------------------------------
    @property
    def envs(self):
        """The training environments, started (and reset, or restored) on first use."""
        if self._envs is None:
            if self.game.make_vector is not None:  # the family's own batched environments
                self._envs = self.game.make_vector(self.game_params, self.n_envs, self.seed,
                                                   os.cpu_count() or 1)
            else:
                self._envs = make_vector_env(self.game, self.game_params, self.n_envs,
                                             self.seed, asynchronous=self.hp.async_envs)
            # episodes that cannot be restored after a resume start from new seeds, not again
            # from the games the run began with
            fresh = reset_vector_env(self._envs, self.seed + self.steps)
            # restored: self.obs and the episode counters came from the checkpoint
            restored = self._snapshots is not None and restore_vector(self._envs, self._snapshots)
            if not restored:
                self.obs = fresh
                self.ep_return[:] = 0.0
                self.ep_length[:] = 0
                self.normalizer.update_obs(fresh)
            self._snapshots = None
        return self._envs

    def use_gpu_options(self, *modules: torch.nn.Module) -> None:
        """Apply ``precision`` and ``compile`` to the pixel torsos of *modules* when training on
        a CUDA device. On the CPU (evaluating, watching, rollout workers) the torsos stay eager
        float32: bfloat16 and compiling were both slower on the CPUs measured."""
        if self.torch_device.type == "cuda":
            for module in modules:
                speed_up(module, self.hp.precision, self.hp.compile)

    def start_envs(self) -> None:
        """Start (or restore) the training environments now, so that ``self.obs`` is current."""
        _ = self.envs

    def use_workers(self, workers: int, address: str | None) -> None:
        """From now on let *workers* Ray actors step the environments and act, and learn here
        from what they send (``engine/rollout_workers.py``; the actors start on first use)."""
        from agentapp.engine.rollout_workers import RolloutPool

        # the workers' episodes start afresh: a checkpoint must not keep a local run's
        # environment snapshots beside observations that no longer belong to them
        self._snapshots = None
        self.remote = RolloutPool(self, workers, address)

    def worker_metrics(self) -> dict[str, float]:
        """``charts/workers_replaced``: rollout workers lost and replaced so far this session
        (nothing without ``--workers``)."""
        return {} if self.remote is None else {"charts/workers_replaced": self.remote.replaced}

    def step_envs(self, actions: np.ndarray):
        """Step every environment; returns ``(next_obs, rewards, terminated, truncated, infos,
        finished)`` where ``finished`` lists ``(return, length)`` of episodes that ended."""
        envs = self.envs
        if isinstance(self.action_space, spaces.Box):
            actions = np.clip(actions, self.action_space.low, self.action_space.high)
        started = time.perf_counter()
        next_obs, rewards, terminated, truncated, infos = envs.step(actions)
        self.timings["env"] += time.perf_counter() - started
        self.stepped = (next_obs, infos)  # where the agents are, for the live view
        # Games that learn from a transformed signal (Atari: clipped rewards, a lost life as an
        # episode end) report the real score and the real game ends beside it: episode returns
        # are always the game's own.
        self.ep_return += infos.get("score", rewards)
        self.ep_length += 1
        finished = []
        for i in np.flatnonzero(infos.get("game_over", terminated | truncated)):
            finished.append((float(self.ep_return[i]), int(self.ep_length[i])))
            self.ep_return[i], self.ep_length[i] = 0.0, 0
        self.episodes += len(finished)
        self.steps += self.n_envs
        # learning sees normalised rewards and observations; the episode returns stay raw
        self.normalizer.update_obs(next_obs)
        rewards = self.normalizer.reward(rewards, terminated | truncated)
        return next_obs, rewards, terminated, truncated, infos, finished

    @staticmethod
    def final_observations(infos: dict, truncated: np.ndarray) -> list[tuple[int, Any]]:
        """``(env index, true last observation)`` of each episode ended where *truncated*, for
        bootstrapping; pass ``truncated & ~terminated``: a step that is both is a termination."""
        mask = infos.get("_final_obs")
        if mask is None:
            return []
        return [(int(i), infos["final_obs"][i]) for i in np.flatnonzero(truncated & mask)]

    @staticmethod
    def true_next_obs(next_obs: np.ndarray, infos: dict) -> np.ndarray:
        """The observation each step really led to: ``next_obs`` with the true last observation
        in place of the next episode's first one wherever an episode ended."""
        mask = infos.get("_final_obs")
        if mask is None or not mask.any():
            return next_obs
        real = np.array(next_obs, copy=True)
        for i in np.flatnonzero(mask):
            real[i] = infos["final_obs"][i]
        return real

    def broken_parameter(self) -> str | None:
        params = getattr(self, "params", None)
        if not params:
            return None
        with torch.no_grad():  # one device round trip for the whole network
            finite = torch.stack([torch.isfinite(t).all() for t in params])
            if bool(finite.all()):
                return None
        index = int((~finite).nonzero()[0, 0])
        return f"network parameter {index} (shape {tuple(params[index].shape)})"

    def live_frame(self, step: int) -> Frame | None:
        """What the first environment's agent sees: for pixel games the newest of its stacked
        84x84 frames (as grey RGB), else a copy of its observation, with the gridworld's cell:
        from the environment itself when it lives in this process, else from the infos of the
        step that gave ``self.obs`` (``async_envs``; rollout workers send theirs)."""
        if self.obs is None:
            return None
        if is_pixels(self.observation_space):
            frame = np.asarray(self.obs[0, -1], dtype=np.uint8)
            return Frame(step, image=np.repeat(frame[:, :, None], 3, axis=2))
        local = getattr(self._envs, "envs", None)  # SyncVectorEnv's copies
        if local:
            info = placement(local[0])
        else:  # a reset since that step (REINFORCE's cut episodes) leaves the place unknown
            obs, infos = self.stepped
            info = env_info(infos, 0, PLACEMENT_KEYS) if obs is self.obs else {}
        return Frame(step, observation=np.array(self.obs[0], copy=True), info=info)

    def as_tensor(self, obs: Any) -> torch.Tensor:
        """Observations as a tensor on the learner's device (int64 for Discrete, else float32)."""
        obs = np.asarray(obs)
        if obs.dtype == np.uint8:  # frames travel as bytes; the network scales them on the device
            return torch.as_tensor(obs).to(self.torch_device, non_blocking=True)
        discrete = isinstance(self.observation_space, spaces.Discrete)
        dtype = torch.int64 if discrete else torch.float32
        return self.normalizer.obs(torch.as_tensor(obs, dtype=dtype, device=self.torch_device))

    # -- acting --------------------------------------------------------------------------------
    def policy_actions(self, obs: torch.Tensor, greedy: bool) -> torch.Tensor:
        """Actions for a batch of observations (subclasses: the method's own acting rule)."""
        raise NotImplementedError

    def act(self, obs: Any, greedy: bool = True, rng: np.random.Generator | None = None) -> Any:
        return self.act_batch(np.asarray(obs)[None], greedy, rng)[0]

    def act_batch(self, obs: Any, greedy: bool = True, rng: np.random.Generator | None = None):
        """Actions for a batch of observations, for evaluation and watching. Stochastic choices
        draw from *rng* (numpy), never from the training generators."""
        with torch.no_grad():
            if greedy or rng is None:
                actions = self.policy_actions(self.as_tensor(obs), greedy=True)
                return actions.cpu().numpy()
            return self.sample_with(self.as_tensor(obs), rng)

    def sample_with(self, obs: torch.Tensor, rng: np.random.Generator) -> np.ndarray:
        """Stochastic actions drawn with a numpy generator (overridden by policy methods)."""
        return self.policy_actions(obs, greedy=False).cpu().numpy()

    def insight(self, obs: Any) -> Insight | None:
        """What the network says of one observation, prepared as :meth:`act` prepares it."""
        with torch.no_grad():
            return self.batch_insight(self.as_tensor(np.asarray(obs)[None]))

    def batch_insight(self, obs: torch.Tensor) -> Insight | None:
        """The insight of a batch of one observation, already a tensor (subclasses: the
        method's own heads)."""
        return None

    # -- checkpoints ---------------------------------------------------------------------------
    def common_state(self) -> dict[str, Any]:
        state = {
            "steps": self.steps,
            "episodes": self.episodes,
            "rng": plain(self.rng.bit_generator.state),
            "torch_rng": torch.get_rng_state(),
            "generator": self.generator.get_state(),
            "ep_return": torch.from_numpy(self.ep_return.copy()),
            "ep_length": torch.from_numpy(self.ep_length.copy()),
            "obs": None if self.obs is None else torch.from_numpy(np.asarray(self.obs).copy()),
            "envs": snapshot_vector(self._envs) if self._envs is not None else self._snapshots,
            "normalizer": self.normalizer.state_dict(),
        }
        if torch.cuda.is_available() and self.torch_device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.torch_device)
        return state

    def load_common_state(self, state: dict[str, Any]) -> None:
        self.steps = int(state["steps"])
        self.episodes = int(state["episodes"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        self.generator.set_state(state["generator"])
        if "normalizer" in state:
            self.normalizer.load_state_dict(state["normalizer"])
        if "cuda_rng" in state and self.torch_device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"], self.torch_device)
        if len(state["ep_return"]) != self.n_envs:  # --envs changed on resume: new episodes
            self._snapshots, self.obs = None, None
        else:
            self.ep_return = state["ep_return"].numpy().copy()
            self.ep_length = state["ep_length"].numpy().copy()
            self.obs = None if state["obs"] is None else state["obs"].numpy().copy()
            self._snapshots = state["envs"]
        if self._envs is not None:  # already running: put them where the checkpoint was
            self._envs.close()
            self._envs = None

    def close(self) -> None:
        if self._envs is not None:
            self._envs.close()
            self._envs = None
        if self.remote is not None:
            self.remote.close()
            self.remote = None
