"""TD(0) policy evaluation: learn V^pi of a fixed policy from one step of experience at a time.

Why it is here: it is the first temporal-difference method of the lectures (Sutton & Barto §6.1,
David Silver lecture 4). After every step it moves V(s) toward the one-step target r + gamma V(s'),
an estimate built from another estimate (bootstrapping), so it learns before the episode ends and
with less variance than Monte Carlo, at the price of a bias while V(s') is still wrong. Set beside
``mc-evaluation`` on the same policy and budget it shows that trade-off; the exact V^pi, solved from
the model, measures both.

It acts with the evaluated policy and never changes it. One training iteration runs the
environment until the episode ends or ``max_steps`` steps are spent; the episode in progress is
kept in the instance and in checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agentapp.engine import schedules
from agentapp.engine.algorithms.base import Iteration
from agentapp.engine.algorithms.policy_evaluation import EvaluationSettings, PolicyEvaluator
from agentapp.engine.algorithms.tabular import _alpha_schedule
from agentapp.params import setting


@dataclass(frozen=True)
class TD0Settings(EvaluationSettings):
    """Settings of TD(0): the policy and discount, and the step size."""

    alpha: float = setting(
        0.1, "Step size: how far each update moves V(s).", low=0.0, high=1.0, low_open=True
    )
    alpha_end: float = setting(
        0.01,
        "Final step size, reached at the end of the budget (unless alpha_schedule is constant).",
        low=0.0,
        high=1.0,
    )
    alpha_schedule: str = setting(
        "constant",
        "How the step size moves from alpha to alpha_end over the budget.",
        choices=schedules.KINDS,
    )


class TD0(PolicyEvaluator):
    """Tabular TD(0) prediction of a given policy (Sutton & Barto §6.1)."""

    name = "td0"
    title = "TD(0) policy evaluation"
    summary = "Prediction: V(s) moves toward r + gamma V(s') while following a given policy."
    Hyperparameters = TD0Settings

    @classmethod
    def check_settings(cls, hp, game, game_params, n_envs: int = 1) -> None:
        _alpha_schedule(hp, 1)
        super().check_settings(hp, game, game_params, n_envs)

    def __init__(self, game, game_params, hp, **kwargs) -> None:
        super().__init__(game, game_params, hp, **kwargs)
        self.alpha_at = _alpha_schedule(hp, self.budget)

    def train_iteration(self, max_steps: int) -> Iteration:
        if max_steps < 1:
            raise ValueError("TD(0) needs at least one step")
        td_errors: list[float] = []
        episodes: list[tuple[float, int]] = []
        for _ in range(max_steps):
            s = self.obs
            a = self.sample_action(s, self.rng)
            alpha = self.alpha_at(self.steps)
            s_next, r, terminated, truncated = self._step(a)

            # V(s) <- V(s) + alpha [r + gamma V(s') - V(s)]   (Sutton & Barto eq. 6.2)
            # A terminal state has value 0; a truncated episode still bootstraps from s'.
            target = r if terminated else r + self.gamma * self.v[s_next]
            delta = target - self.v[s]
            self.v[s] += alpha * delta
            td_errors.append(abs(delta))

            if terminated or truncated:
                episodes.append(self._finish_episode())
                break
            self.obs = s_next

        metrics = {
            "losses/td_error": float(np.mean(td_errors)),
            "charts/alpha": self.alpha_at(self.steps),
            **self.error_metrics(),
        }
        return Iteration(steps=len(td_errors), metrics=metrics, episodes=episodes)
