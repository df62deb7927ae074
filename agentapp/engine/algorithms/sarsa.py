"""SARSA: on-policy temporal-difference control.

Why it is here: it is the on-policy counterpart of Q-learning in the lectures (Sutton & Barto §6.4,
David Silver lecture 5). It bootstraps from the action the epsilon-greedy policy really takes next,
so it learns the value of behaving exploratively; on the cliff that makes it prefer the safe path
away from the edge, where an exploratory step cannot fall (Sutton & Barto Example 6.6).

The update needs the quintuple (S, A, R, S', A'), so the next action is chosen before the update
and kept for the next step: ``self.action`` is part of the episode in progress and is saved in
checkpoints. One training iteration runs until the episode ends or ``max_steps`` are spent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from agentapp.engine.algorithms.base import Iteration
from agentapp.engine.algorithms.tabular import QTableMethod, TDControlSettings, epsilon_greedy


@dataclass(frozen=True)
class SarsaSettings(TDControlSettings):
    """Settings of SARSA (the fields shared by the tabular control methods)."""


class Sarsa(QTableMethod):
    """Tabular SARSA with an epsilon-greedy policy (Sutton & Barto §6.4)."""

    name = "sarsa"
    title = "SARSA"
    summary = "On-policy TD control: Q(s,a) moves toward r + gamma Q(s',a') for the next action a'."
    Hyperparameters = SarsaSettings

    def __init__(self, game, game_params, hp, **kwargs) -> None:
        super().__init__(game, game_params, hp, **kwargs)
        self.action = self._choose(self.obs)
        """The action already chosen for the current observation (the A of the next update)."""

    def _choose(self, obs: int) -> int:
        return epsilon_greedy(self.q[obs], self.epsilon_at(self.steps), self.rng)

    def train_iteration(self, max_steps: int) -> Iteration:
        if max_steps < 1:
            raise ValueError("SARSA needs at least one step")
        td_errors: list[float] = []
        episodes: list[tuple[float, int]] = []
        for _ in range(max_steps):
            s, a = self.obs, self.action
            alpha = self.alpha_at(self.steps)
            s_next, r, terminated, truncated = self._step(a)

            # Q(s,a) <- Q(s,a) + alpha [r + gamma Q(s',a') - Q(s,a)]  (Sutton & Barto eq. 6.7)
            # A terminal state has value 0, so no a' is needed; a truncated episode still
            # bootstraps from the action the policy would take in s'.
            if terminated:
                target = r
            else:
                a_next = self._choose(s_next)
                target = r + self.gamma * self.q[s_next, a_next]
            delta = target - self.q[s, a]
            self.q[s, a] += alpha * delta
            td_errors.append(abs(delta))

            if terminated or truncated:
                episodes.append(self._finish_episode())
                self.action = self._choose(self.obs)
                break
            self.obs, self.action = s_next, a_next

        metrics = {"losses/td_error": float(np.mean(td_errors)), **self.schedule_metrics()}
        return Iteration(steps=len(td_errors), metrics=metrics, episodes=episodes)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "action": self.action}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.action = int(state["action"])
