"""A replay buffer for stacked-frame (Atari) observations that stores each frame once.

Why it exists: DQN on Atari sees observations of k = 4 stacked 84x84 frames. The plain
:class:`~agentapp.engine.buffers.ReplayBuffer` keeps ``obs`` and ``next_obs`` whole, 2 * 4 * 7,056
bytes per transition, so a 1M-transition replay needs 56 GB. Consecutive stacks share k - 1
frames, so here every frame is stored once and the stacks are rebuilt when sampling: about
7,066 bytes per transition, and a 1M replay fits in 7.5 GB. The interface (``add``, ``sample``
to a :class:`~agentapp.engine.buffers.ReplayBatch`, ``state_dict``) and the n-step semantics are
those of ``ReplayBuffer``, so DQN can use either.

Layout. Every environment has its own ring of ``slots`` frames, written in time order: a slot
holds the newest frame of one observation (``obs[-1]``) and, once the agent has acted from that
observation, the step's action, reward and flags (``_STEP``, ``_TERMINATED``, ``_TRUNCATED``).
``ages`` holds how many of the k - 1 older frames of that slot's stack are real; the rest are
zeros, which is what ale-py's ``AtariVectorEnv`` puts in front of the first frame of an episode
(a reset gives ``[0, 0, 0, f0]``, newest last; the tests check this against the real env). So
the stack of slot ``p`` is the frames of slots ``p-k+1 .. p`` with the ``k-1-age`` oldest zeroed.
Rings are per environment, not one interleaved ring, because the environments' episodes end at
different steps and an ended episode takes one extra slot (below), so their write heads drift.

Each ``add`` writes the frame of ``next_obs`` right away (the slot then waits, without
``_STEP``, for the action the next ``add`` brings), so a 1-step transition can be sampled as soon
as it is added, as with ``ReplayBuffer``. When an episode ends:

* by termination: nothing more is written; the next ``add``'s ``obs`` is the first observation
  of the next episode (SAME_STEP autoreset) and starts a slot of age 0. A terminated transition
  never bootstraps, so its ``next_obs`` is (arbitrarily) the observation of its own last step.
* by truncation: the frame of the true last observation stays in its slot, never marked
  ``_STEP``. That costs one slot per truncated episode (Atari truncates after 27,000 steps) but
  keeps every window of an episode contiguous: an n-step transition from slot ``p`` that ends
  ``m`` steps later always bootstraps from slot ``p + m``.

The first ``add`` of an environment (and the first after a checkpoint whose environment did not
continue where it left off) cannot know the observation's older frames, so it stores all k of
them, as slots without ``_STEP``: k - 1 extra slots once per environment, and no assumption about
how that observation was padded.

Sampling draws ``(env, slot)`` uniformly over each ring's written slots and redraws the ones that
are not a usable transition: slots without ``_STEP``, the first k - 1 slots of a ring whose stack
reaches frames already overwritten, and the last steps whose n-step window is still open. The
redraw is a loop over rounds of vectorised numpy, not over the batch; the rejected share is tiny
once the buffer holds more than a few hundred steps. The n-step sums are computed when sampling,
with this buffer's ``gamma``, from the rewards stored as float32.

Consistency of the ``obs`` given to ``add`` with the stored frames (the first observation of an
episode is zero-padded, the others continue the last one) is checked only where ``check=True``
(tests), and once after ``load_state_dict``, where a mismatch starts that environment afresh.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from agentapp.engine.buffers import ReplayBatch

# Bits of ``flags``: the slot's step has been taken (action, reward set), how it ended, and
# whether no transition may start there (its n-step window can never close, see
# ``_drop_open_windows``; its reward still counts in the windows of earlier steps).
_STEP, _TERMINATED, _TRUNCATED, _ORPHAN = 1, 2, 4, 8
_ENDED = _TERMINATED | _TRUNCATED

# What the next ``add`` of an environment does with its ``obs``: store all k frames (history
# unknown), store its newest frame as an episode's first (the last step ended the episode), or
# nothing (the last ``add`` already stored it from ``next_obs``).
_FRESH, _NEW_EPISODE, _OPEN = 0, 1, 2

_STATE_ARRAYS = ("frames", "actions", "rewards", "flags", "ages")


class FrameReplayBuffer:
    """A ring of the last *capacity* n-step transitions of stacked uint8 frames, sampled to
    *device*; *obs_shape* is ``(k, height, width)``, the newest frame last."""

    def __init__(
        self,
        capacity: int,
        obs_shape: Sequence[int],
        n_envs: int = 1,
        n_step: int = 1,
        gamma: float = 0.99,
        device: str | torch.device = "cpu",
        *,
        check: bool = False,
    ) -> None:
        if len(obs_shape) != 3:
            raise ValueError(f"FrameReplayBuffer needs obs_shape (k, height, width), not "
                             f"{tuple(obs_shape)}")
        k, height, width = (int(x) for x in obs_shape)
        if capacity < 1 or n_envs < 1 or n_step < 1 or not 1 <= k <= 255:
            raise ValueError("FrameReplayBuffer needs capacity, n_envs, n_step >= 1 and "
                             "1 <= k <= 255")
        self.capacity, self.n_envs, self.n_step, self.gamma = capacity, n_envs, n_step, gamma
        self.obs_shape, self.k = (k, height, width), k
        self.device = torch.device(device)
        self.check = check
        # Each env's share of the capacity, plus the k - 1 slots at the old end whose stacks
        # reach overwritten frames and the n slots at the new end (open windows and the waiting
        # frame), so that a ring holds its share of usable transitions when no episode ends.
        self.slots = -(-capacity // n_envs) + k - 1 + n_step
        rings = (n_envs, self.slots)
        self.frames = np.zeros((*rings, height, width), dtype=np.uint8)
        self.actions = np.zeros(rings, dtype=np.int32)
        self.rewards = np.zeros(rings, dtype=np.float32)
        self.flags = np.zeros(rings, dtype=np.uint8)
        self.ages = np.zeros(rings, dtype=np.uint8)
        self.count = np.zeros(n_envs, dtype=np.int64)  # slots ever written: next slot's number
        self.steps_held = np.zeros(n_envs, dtype=np.int64)  # _STEP slots, less _ORPHAN ones
        self.next_add = np.full(n_envs, _FRESH, dtype=np.int8)
        self.verify_next = False  # set by load_state_dict: check the next add's obs once
        self._envs = np.arange(n_envs)
        self._powers = gamma ** np.arange(n_step + 1, dtype=np.float64)

    # -- sizes ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        """Transitions that :meth:`sample` can return. Only step slots near the two ends of a
        ring can be unusable (old stacks overwritten, open windows), so only those are looked
        at: a few slots per environment, whatever the capacity."""
        lo = self._oldest()
        head_from = np.maximum(self.count - self.n_step - 1, lo)
        tail_to = np.minimum(lo + self.k - 1, head_from)
        tail = lo[:, None] + np.arange(self.k - 1)
        head = head_from[:, None] + np.arange(self.n_step + 1)
        positions = np.concatenate([tail, head], axis=1)
        inside = np.concatenate([tail < tail_to[:, None], head < self.count[:, None]], axis=1)
        envs = np.broadcast_to(self._envs[:, None], positions.shape)[inside]
        positions = positions[inside]
        counted = self.flags[envs, positions % self.slots] & (_STEP | _ORPHAN) == _STEP
        usable = self._windows(envs, positions)[0]
        return int(self.steps_held.sum() - np.count_nonzero(counted & ~usable))

    def nbytes(self) -> int:
        """Bytes held by the storage arrays (the per-environment counters are not counted)."""
        return sum(getattr(self, name).nbytes for name in _STATE_ARRAYS)

    def _oldest(self) -> np.ndarray:
        """Number of each ring's oldest slot still held."""
        return np.maximum(self.count - self.slots, 0)

    # -- adding --------------------------------------------------------------------------------
    def add(self, obs, actions, rewards, terminated, truncated, next_obs) -> None:
        """Add one step of every environment (arrays with leading dim ``n_envs``). *obs* is the
        stacked observation the action was taken from; *next_obs* the true observation the step
        led to (for a truncated episode its real last one, not the next episode's first; for a
        terminated step it is not used). Only the newest frame of each is read, except where
        an environment's history is unknown (its first add)."""
        n = self.n_envs
        obs, next_obs = np.asarray(obs), np.asarray(next_obs)
        actions = np.asarray(actions).reshape(n)
        rewards = np.asarray(rewards, dtype=np.float32).reshape(n)
        terminated = np.asarray(terminated, dtype=bool).reshape(n)
        # a step that is both is a termination: nothing to bootstrap from (as ReplayBuffer)
        truncated = np.asarray(truncated, dtype=bool).reshape(n) & ~terminated
        if self.verify_next:
            self._restart_diverged(obs)
        for env in np.flatnonzero(self.next_add == _FRESH):
            self._write_whole(int(env), obs[env])
        new = np.flatnonzero(self.next_add == _NEW_EPISODE)
        if new.size:
            self._write(new, obs[new, -1], 0)
        head = self.count - 1  # every env's slot of obs
        if self.check:
            self._expect(self._envs, head, obs, "obs")
        slot = head % self.slots
        self.actions[self._envs, slot] = actions
        self.rewards[self._envs, slot] = rewards
        self.flags[self._envs, slot] = (_STEP | np.where(terminated, _TERMINATED, 0)
                                        | np.where(truncated, _TRUNCATED, 0))
        self.steps_held += 1
        going = np.flatnonzero(~terminated)
        if going.size:
            ages = np.minimum(self.ages[going, slot[going]].astype(np.int64) + 1, self.k - 1)
            self._write(going, next_obs[going, -1], ages)
            if self.check:
                self._expect(going, self.count[going] - 1, next_obs[going], "next_obs")
        self.next_add = np.where(terminated | truncated, _NEW_EPISODE, _OPEN).astype(np.int8)

    def _write(self, envs: np.ndarray, frames: np.ndarray, ages: Any) -> None:
        """Write one new frame (a slot without ``_STEP``) at the head of each of *envs*
        (distinct), overwriting the oldest slot once a ring is full."""
        pos = self.count[envs]
        slot = pos % self.slots
        lost = (pos >= self.slots) & (self.flags[envs, slot] & (_STEP | _ORPHAN) == _STEP)
        self.steps_held[envs[lost]] -= 1
        self.frames[envs, slot] = frames
        self.ages[envs, slot] = ages
        self.flags[envs, slot] = 0
        self.count[envs] += 1

    def _write_whole(self, env: int, stack: np.ndarray) -> None:
        """Start an environment whose history is unknown: store all k frames of *stack*, so the
        stack rebuilt for its newest frame is exactly the one given."""
        for age, frame in enumerate(stack):
            self._write(np.array([env]), frame[None], age)

    def _restart_diverged(self, obs: np.ndarray) -> None:
        """After a load: an environment that does not go on from the stored observation (it was
        reset, not restored) starts afresh, and the steps whose n-step window it left open are
        dropped (their remaining rewards will never come)."""
        self.verify_next = False
        waiting = np.flatnonzero(self.next_add == _OPEN)
        if not waiting.size:
            return
        same = self._stacks(waiting, self.count[waiting] - 1) == obs[waiting]
        for env in waiting[~same.reshape(len(waiting), -1).all(axis=1)]:
            self._drop_open_windows(int(env))
            self.next_add[env] = _FRESH

    def _drop_open_windows(self, env: int) -> None:
        """Mark ``_ORPHAN`` the last steps of *env* whose window reaches its waiting frame: the
        steps that would close them will not come. Earlier windows still use their rewards."""
        head = int(self.count[env]) - 1
        stop = max(head - self.n_step, int(self._oldest()[env]) - 1)
        for pos in range(head - 1, stop, -1):
            slot = pos % self.slots
            if not self.flags[env, slot] & _STEP or self.flags[env, slot] & _ENDED:
                break  # an ended step closed every window before it
            self.flags[env, slot] |= _ORPHAN
            self.steps_held[env] -= 1

    def _expect(self, envs: np.ndarray, pos: np.ndarray, want: np.ndarray, what: str) -> None:
        """Tests only (``check=True``): the stacks rebuilt at *pos* must equal *want*."""
        got = self._stacks(envs, pos)
        wrong = ~(got == want).reshape(len(envs), -1).all(axis=1)
        if wrong.any():
            raise ValueError(f"{what} of env(s) {envs[wrong].tolist()} differs from the stack "
                             "rebuilt from the stored frames")

    # -- sampling ------------------------------------------------------------------------------
    def sample(self, batch_size: int, rng: np.random.Generator) -> ReplayBatch:
        """*batch_size* transitions drawn uniformly (with replacement) using *rng*."""
        envs, pos = self._draw(batch_size, rng)
        return self._batch(envs, pos)

    def _draw(self, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Uniform usable ``(env, slot number)`` pairs: uniform over all held slots, redrawing
        the unusable ones (few) in rounds; each round draws a little more than it expects to
        miss, so one round is the rule. The share of usable slots is estimated from the step
        count (exact ``len`` only when a round finds none: it is the costlier count)."""
        empty = ValueError("cannot sample from a FrameReplayBuffer without a complete transition")
        expected = int(self.steps_held.sum())
        if expected == 0:
            raise empty
        lo = self._oldest()
        held = self.count - lo
        ends = np.cumsum(held)
        total = int(ends[-1])
        found_envs, found_pos, missing = [], [], batch_size
        while missing > 0:
            draws = math.ceil(missing * total / expected * 1.1) + 4
            flat = rng.integers(0, total, size=draws)
            envs = np.searchsorted(ends, flat, side="right")
            pos = lo[envs] + flat - (ends[envs] - held[envs])
            keep = np.flatnonzero(self._windows(envs, pos)[0])[:missing]
            if not keep.size:
                expected = len(self)
                if expected == 0:
                    raise empty
            found_envs.append(envs[keep])
            found_pos.append(pos[keep])
            missing -= len(keep)
        return np.concatenate(found_envs), np.concatenate(found_pos)

    def _windows(
        self, envs: np.ndarray, pos: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For slots *pos* of *envs* (held slots): whether each is a usable transition, its
        number of steps m (n, or fewer where the episode ended) and whether it terminated."""
        offsets = np.arange(self.n_step)
        at = pos[:, None] + offsets
        flags = self.flags[envs[:, None], at % self.slots]
        step = (at < self.count[envs][:, None]) & (flags & _STEP != 0)
        ended = step & (flags & _ENDED != 0)
        has_end = ended.any(axis=1)
        last = np.where(has_end, ended.argmax(axis=1), self.n_step - 1)
        # every step up to the window's last must have been taken (not the waiting frame, not
        # unwritten), and the stack's oldest real frame must still be held
        usable = (step | (offsets > last[:, None])).all(axis=1) & (flags[:, 0] & _ORPHAN == 0)
        usable &= pos - self.ages[envs, pos % self.slots] >= self._oldest()[envs]
        terminated = has_end & (flags[np.arange(len(pos)), last] & _TERMINATED != 0)
        return usable, last + 1, terminated

    def _batch(self, envs: np.ndarray, pos: np.ndarray) -> ReplayBatch:
        """The transitions at usable slots *pos* of *envs* as tensors on the device."""
        _, steps, terminated = self._windows(envs, pos)
        offsets = np.arange(self.n_step)
        rewards = self.rewards[envs[:, None], (pos[:, None] + offsets) % self.slots]
        rewards = np.where(offsets < steps[:, None], rewards, 0.0) @ self._powers[:-1]
        # a terminated transition's next observation is never used: take its last step's own
        next_pos = pos + steps - terminated
        stacks = self._stacks(np.concatenate([envs, envs]), np.concatenate([pos, next_pos]))
        size = len(pos)

        def to(array: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(array).to(self.device)

        return ReplayBatch(
            obs=to(stacks[:size]),
            actions=to(self.actions[envs, pos % self.slots].astype(np.int64)),
            rewards=to(rewards.astype(np.float32)),
            next_obs=to(stacks[size:]),
            dones=to(terminated.astype(np.float32)),
            discounts=to(self._powers[steps].astype(np.float32)),
        )

    def _stacks(self, envs: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """The stacked observations ``[len(pos), k, H, W]`` whose newest frames are at *pos*:
        the k - 1 previous slots' frames, oldest first, zeros where before the episode."""
        offsets = np.arange(self.k - 1, -1, -1)
        real = offsets <= self.ages[envs, pos % self.slots][:, None]
        index = envs[:, None] * self.slots + (pos[:, None] - offsets) % self.slots
        stacks = np.take(self.frames.reshape(-1, *self.obs_shape[1:]), index, axis=0)
        stacks[~real] = 0
        return stacks

    # -- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The written slots and the counters, as tensors and plain numbers (loadable with
        ``torch.load(..., weights_only=True)``). A full buffer's tensors share memory with the
        buffer, to spare a copy of gigabytes: save them before the next ``add``."""
        filled = min(int(self.count.max()), self.slots)
        state: dict[str, Any] = {}
        for name in _STATE_ARRAYS:
            array = getattr(self, name)
            array = array if filled == self.slots else np.ascontiguousarray(array[:, :filled])
            state[name] = torch.from_numpy(array)
        state.update(
            capacity=self.capacity, n_envs=self.n_envs, n_step=self.n_step, gamma=self.gamma,
            obs_shape=list(self.obs_shape), slots=self.slots,
            count=torch.from_numpy(self.count.copy()),
            steps_held=torch.from_numpy(self.steps_held.copy()),
            next_add=torch.from_numpy(self.next_add.copy()),
        )
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned into a buffer built with the same settings.
        The next ``add`` checks once that each environment goes on from where it was."""
        mine = {"capacity": self.capacity, "n_envs": self.n_envs, "n_step": self.n_step,
                "obs_shape": list(self.obs_shape), "slots": self.slots}
        for key, value in mine.items():
            theirs = list(state[key]) if isinstance(value, list) else int(state[key])
            if theirs != value:
                raise ValueError(f"frame replay buffer {key} {theirs} does not match this "
                                 f"buffer's {value}")
        for name in _STATE_ARRAYS:
            array = getattr(self, name)
            saved = state[name].numpy()
            array[:, : saved.shape[1]] = saved
            array[:, saved.shape[1]:] = 0
        # gamma stays this buffer's own: the n-step sums are made when sampling
        self.count[:] = state["count"].numpy()
        self.steps_held[:] = state["steps_held"].numpy()
        self.next_add[:] = state["next_add"].numpy()
        self.verify_next = True
