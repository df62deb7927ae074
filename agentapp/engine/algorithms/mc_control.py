"""Monte Carlo control: learn Q from whole-episode returns, act epsilon-greedily on it.

Why it is here: it is the first model-free control method of the lectures (Sutton & Barto §5.4,
David Silver lecture 5, "GLIE Monte Carlo control"). It does not bootstrap during the episode:
every visited pair (s, a) moves toward the return G that actually followed it. With ``alpha = 0``
the step is 1/N(s,a), so Q(s,a) is the plain average of the returns seen (Sutton & Barto §5.1,
incremental form §2.4); with ``alpha > 0`` it is constant-alpha MC (eq. 6.1), which tracks a
changing policy faster.

The episode so far is kept in ``self.trajectory`` (and in checkpoints), and Q is updated only when
the episode ends, so one training iteration normally spans one episode; an iteration cut short by
``max_steps`` just extends the trajectory. An episode cut off by the step limit (truncated, not
terminated) has its return completed with the current estimate max_a Q(s_T, a) of the state it
stopped in, since the game itself had not ended there (partial-episode bootstrapping, Pardo et
al. 2018); otherwise states visited just before the time limit would look deceptively good.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from agentapp.engine.algorithms.base import Iteration
from agentapp.engine.algorithms.tabular import (
    QTableMethod,
    TDControlSettings,
    epsilon_greedy,
    to_array,
    to_tensor,
)
from agentapp.params import setting


@dataclass(frozen=True)
class MonteCarloSettings(TDControlSettings):
    """Settings of Monte Carlo control: sample averages by default, and first or every visit."""

    alpha: float = setting(
        0.0, "Step size; 0 means sample averages (step 1/N(s,a)).", low=0.0, high=1.0
    )
    first_visit: bool = setting(
        True, "Update each (s, a) once per episode, from its first visit (else every visit)."
    )


class MonteCarloControl(QTableMethod):
    """On-policy epsilon-greedy Monte Carlo control (Sutton & Barto §5.4)."""

    name = "mc-control"
    title = "Monte Carlo control"
    summary = "Model-free control from complete episodes: Q(s,a) moves toward the return G."
    Hyperparameters = MonteCarloSettings

    def __init__(self, game, game_params, hp, **kwargs) -> None:
        super().__init__(game, game_params, hp, **kwargs)
        self.visits = np.zeros_like(self.q, dtype=np.int64)
        """N(s, a): how many returns Q(s, a) has averaged."""
        self.trajectory: list[tuple[int, int, float]] = []
        """(S_t, A_t, R_{t+1}) of the episode in progress."""

    def train_iteration(self, max_steps: int) -> Iteration:
        if max_steps < 1:
            raise ValueError("Monte Carlo control needs at least one step")
        errors: list[float] = []
        episodes: list[tuple[float, int]] = []
        taken = 0
        while taken < max_steps:
            taken += 1
            s = self.obs
            a = epsilon_greedy(self.q[s], self.epsilon_at(self.steps), self.rng)
            s_next, r, terminated, truncated = self._step(a)
            self.trajectory.append((s, a, r))
            if terminated or truncated:
                tail = 0.0 if terminated else float(np.max(self.q[s_next]))
                errors = self._learn_from_episode(tail)
                episodes.append(self._finish_episode())
                break
            self.obs = s_next

        metrics = self.schedule_metrics()
        if self.hp.alpha == 0:
            del metrics["charts/alpha"]  # the step is 1/N(s,a), different for every pair
        if errors:
            metrics["losses/td_error"] = float(np.mean(errors))
        return Iteration(steps=taken, metrics=metrics, episodes=episodes)

    def _learn_from_episode(self, tail: float) -> list[float]:
        """Update Q from the finished trajectory; *tail* is the value after its last step.

        Returns |G - Q(s,a)| of each update, before it was made.
        """
        first_seen: dict[tuple[int, int], int] = {}
        for t, (s, a, _) in enumerate(self.trajectory):
            first_seen.setdefault((s, a), t)
        errors = []
        g = tail
        for t in reversed(range(len(self.trajectory))):
            s, a, r = self.trajectory[t]
            # G_t = R_{t+1} + gamma G_{t+1}, accumulated backwards   (Sutton & Barto eq. 3.9)
            g = r + self.gamma * g
            if self.hp.first_visit and first_seen[(s, a)] != t:
                continue
            self.visits[s, a] += 1
            step = self.alpha_at(self.steps) if self.hp.alpha > 0 else 1.0 / self.visits[s, a]
            # Q(s,a) <- Q(s,a) + step [G_t - Q(s,a)],  step = 1/N(s,a) or alpha
            # (Sutton & Barto §5.1 with the incremental mean of eq. 2.3; constant alpha: eq. 6.1)
            errors.append(abs(g - self.q[s, a]))
            self.q[s, a] += step * (g - self.q[s, a])
        self.trajectory = []
        return errors

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "visits": to_tensor(self.visits),
            "trajectory": {
                "states": [s for s, _, _ in self.trajectory],
                "actions": [a for _, a, _ in self.trajectory],
                "rewards": [r for _, _, r in self.trajectory],
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.visits = to_array(state["visits"], np.int64)
        trajectory = state["trajectory"]
        self.trajectory = [
            (int(s), int(a), float(r))
            for s, a, r in zip(
                trajectory["states"], trajectory["actions"], trajectory["rewards"], strict=True
            )
        ]
