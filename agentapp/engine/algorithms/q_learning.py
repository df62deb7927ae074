"""Q-learning: off-policy temporal-difference control (Watkins, 1989).

Why it is here: it is the method of the lectures that learns the optimal action values while
behaving exploratively (Sutton & Barto §6.5, David Silver lecture 5), and the tabular ancestor of
DQN. It bootstraps from the best next action, whatever action the epsilon-greedy behaviour policy
takes next, so on the cliff it learns the short path along the edge (and falls while exploring).

It learns from observations only (the cell, or the wall pattern on aliased maps) and never reads
the model. One training iteration runs the environment until the episode ends or ``max_steps``
steps are spent; the episode in progress is kept in the instance and in checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agentapp.engine.algorithms.base import Iteration
from agentapp.engine.algorithms.tabular import QTableMethod, TDControlSettings, epsilon_greedy


@dataclass(frozen=True)
class QLearningSettings(TDControlSettings):
    """Settings of Q-learning (the fields shared by the tabular control methods)."""


class QLearning(QTableMethod):
    """Tabular Q-learning with an epsilon-greedy behaviour policy (Sutton & Barto §6.5)."""

    name = "q-learning"
    title = "Q-learning"
    summary = "Off-policy TD control: Q(s,a) moves toward r + gamma max_a' Q(s',a')."
    Hyperparameters = QLearningSettings

    def train_iteration(self, max_steps: int) -> Iteration:
        if max_steps < 1:
            raise ValueError("Q-learning needs at least one step")
        td_errors: list[float] = []
        episodes: list[tuple[float, int]] = []
        for _ in range(max_steps):
            s = self.obs
            a = epsilon_greedy(self.q[s], self.epsilon_at(self.steps), self.rng)
            alpha = self.alpha_at(self.steps)
            s_next, r, terminated, truncated = self._step(a)

            # Q(s,a) <- Q(s,a) + alpha [r + gamma max_a' Q(s',a') - Q(s,a)]  (S&B eq. 6.8)
            # A terminal state has value 0; a truncated episode still bootstraps from s'.
            target = r if terminated else r + self.gamma * float(np.max(self.q[s_next]))
            delta = target - self.q[s, a]
            self.q[s, a] += alpha * delta
            td_errors.append(abs(delta))

            if terminated or truncated:
                episodes.append(self._finish_episode())
                break
            self.obs = s_next

        metrics = {"losses/td_error": float(np.mean(td_errors)), **self.schedule_metrics()}
        return Iteration(steps=len(td_errors), metrics=metrics, episodes=episodes)
