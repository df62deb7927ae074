"""One environment, stepped by hand: the episode bookkeeping of the tabular and linear methods.

Q-learning, SARSA, Monte-Carlo control, the policy evaluators and linear Q-learning learn from one
environment, one step at a time, and must resume mid-episode exactly. They share this: starting
and stepping the episode while counting its return and length, finishing it, and taking and
putting back the environment's own state for a checkpoint (the gridworld's ``get_state``, else a
generic snapshot of any gymnasium environment), and showing that episode to a live view.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agentapp.engine.algorithms.base import placement
from agentapp.engine.events import Frame
from agentapp.games.snapshot import restore, snapshot
from agentapp.plain import plain


class OneEnvEpisodes:
    """Mixin for an algorithm with ``self.env``, ``self.rng``, ``self.seed`` and the counters
    ``steps``, ``episodes``, ``obs``, ``episode_return`` and ``episode_length``."""

    env: Any
    rng: Any
    seed: int
    steps: int
    episodes: int
    obs: Any
    episode_return: float
    episode_length: int

    def _as_obs(self, obs: Any) -> Any:
        """An observation as the method keeps it (a state index by default)."""
        return int(obs)

    def _reset(self, seed: int | None = None) -> Any:
        obs, _ = self.env.reset(seed=seed)
        self.episode_return = 0.0
        self.episode_length = 0
        return self._as_obs(obs)

    def _step(self, action: int) -> tuple[Any, float, bool, bool]:
        """Take *action* in the training env and count the step.

        Returns ``(obs, reward, terminated, truncated)``.
        """
        obs, reward, terminated, truncated, _ = self.env.step(action)
        self.steps += 1
        self.episode_return += float(reward)
        self.episode_length += 1
        return self._as_obs(obs), float(reward), bool(terminated), bool(truncated)

    def _finish_episode(self) -> tuple[float, int]:
        """Record the episode that just ended and start the next one (``self.obs`` is set)."""
        done = (self.episode_return, self.episode_length)
        self.episodes += 1
        self.obs = self._reset()
        return done

    def _env_state(self) -> dict[str, Any] | None:
        """The environment mid-episode: the gridworld's own state, else a generic snapshot of
        any gymnasium environment (None when it cannot be taken)."""
        if hasattr(self.env.unwrapped, "get_state"):
            return plain(self.env.unwrapped.get_state())
        return snapshot(self.env)

    def _restore_env(self, saved: dict[str, Any] | None) -> bool:
        """Put the environment back as :meth:`_env_state` took it; False when it cannot be."""
        if hasattr(self.env.unwrapped, "set_state"):
            self.env.unwrapped.set_state(saved)
            return True
        return restore(self.env, saved)

    def episode_state(self) -> dict[str, Any]:
        """The checkpoint entries of the episode in progress: the generator, the environment,
        the counters and the current observation (a method adds what it learned)."""
        return {
            "rng": plain(self.rng.bit_generator.state),
            "env": self._env_state(),
            "steps": self.steps,
            "episodes": self.episodes,
            "obs": plain(self.obs),
            "episode_return": self.episode_return,
            "episode_length": self.episode_length,
        }

    def load_episode_state(self, state: dict[str, Any]) -> None:
        """Put back what :meth:`episode_state` saved; an environment that cannot be put back
        mid-episode starts a new episode instead."""
        self.rng.bit_generator.state = state["rng"]
        self.steps = int(state["steps"])
        self.episodes = int(state["episodes"])
        if self._restore_env(state["env"]):
            self.obs = self._as_obs(state["obs"])
            self.episode_return = float(state["episode_return"])
            self.episode_length = int(state["episode_length"])
        else:
            self.obs = self._reset(seed=self.seed + self.steps)

    def live_frame(self, step: int) -> Frame | None:
        """The episode in progress for a live view: a copy of the current observation (a state
        index, or a vector for linear Q on CartPole) and the gridworld's cell."""
        return Frame(step, observation=np.array(self.obs, copy=True), info=placement(self.env))

    def close(self) -> None:
        self.env.close()
