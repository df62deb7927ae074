"""Monte-Carlo policy evaluation: learn V^pi of a fixed policy from the returns that followed.

Why it is here: it is the lectures' first model-free prediction method (Sutton & Barto §5.1,
David Silver lecture 4). V(s) is the average of the returns G observed after visits to s: no
bootstrapping, so no bias from wrong estimates, but each target is a whole episode's worth of noise.
First-visit MC averages one return per episode and state (the first visit's); every-visit MC
(``every_visit=true``) averages them all. With ``alpha = 0`` the step is 1/N(s), so V(s) is the
plain mean of the returns (incremental form, Sutton & Barto §2.4); ``alpha > 0`` is constant-alpha
MC (eq. 6.1), which forgets old returns.

It acts with the evaluated policy and never changes it. The episode so far is kept in
``self.trajectory`` (and in checkpoints) and V is updated when the episode ends. An episode cut
off by the step limit (truncated, not terminated) has its return completed with the current
estimate V(s_T) of the state it stopped in, as ``mc-control`` does (Pardo et al. 2018), since the
game had not ended there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from agentapp.engine.algorithms.base import Iteration
from agentapp.engine.algorithms.policy_evaluation import EvaluationSettings, PolicyEvaluator
from agentapp.engine.algorithms.tabular import to_array, to_tensor
from agentapp.params import setting


@dataclass(frozen=True)
class MCEvaluationSettings(EvaluationSettings):
    """Settings of Monte-Carlo evaluation: sample averages by default, first or every visit."""

    alpha: float = setting(
        0.0, "Step size; 0 means sample averages (step 1/N(s)).", low=0.0, high=1.0
    )
    every_visit: bool = setting(
        False, "Average the return after every visit to s (else only the first per episode)."
    )


class MCEvaluation(PolicyEvaluator):
    """Tabular Monte-Carlo prediction of a given policy (Sutton & Barto §5.1)."""

    name = "mc-evaluation"
    title = "Monte-Carlo policy evaluation"
    summary = "Prediction: V(s) is the average return observed after s while following a policy."
    Hyperparameters = MCEvaluationSettings

    def __init__(self, game, game_params, hp, **kwargs) -> None:
        super().__init__(game, game_params, hp, **kwargs)
        self.visits = np.zeros(self.n_obs, dtype=np.int64)
        """N(s): how many returns V(s) has averaged."""
        self.trajectory: list[tuple[int, float]] = []
        """(S_t, R_{t+1}) of the episode in progress."""

    def train_iteration(self, max_steps: int) -> Iteration:
        if max_steps < 1:
            raise ValueError("Monte-Carlo evaluation needs at least one step")
        errors: list[float] = []
        episodes: list[tuple[float, int]] = []
        taken = 0
        while taken < max_steps:
            taken += 1
            s = self.obs
            s_next, r, terminated, truncated = self._step(self.sample_action(s, self.rng))
            self.trajectory.append((s, r))
            if terminated or truncated:
                errors = self._learn_from_episode(0.0 if terminated else float(self.v[s_next]))
                episodes.append(self._finish_episode())
                break
            self.obs = s_next

        metrics = self.error_metrics()
        if self.hp.alpha > 0:
            metrics["charts/alpha"] = self.hp.alpha
        if errors:
            metrics["losses/td_error"] = float(np.mean(errors))
        return Iteration(steps=taken, metrics=metrics, episodes=episodes)

    def _learn_from_episode(self, tail: float) -> list[float]:
        """Update V from the finished trajectory; *tail* is the value after its last step.

        Returns |G - V(s)| of each update, before it was made.
        """
        first_seen: dict[int, int] = {}
        for t, (s, _) in enumerate(self.trajectory):
            first_seen.setdefault(s, t)
        errors = []
        g = tail
        for t in reversed(range(len(self.trajectory))):
            s, r = self.trajectory[t]
            # G_t = R_{t+1} + gamma G_{t+1}, accumulated backwards   (Sutton & Barto eq. 3.9)
            g = r + self.gamma * g
            if not self.hp.every_visit and first_seen[s] != t:
                continue
            self.visits[s] += 1
            step = self.hp.alpha if self.hp.alpha > 0 else 1.0 / self.visits[s]
            # V(s) <- V(s) + step [G_t - V(s)],  step = 1/N(s) or alpha
            # (Sutton & Barto §5.1 with the incremental mean of eq. 2.3; constant alpha: eq. 6.1)
            errors.append(abs(g - self.v[s]))
            self.v[s] += step * (g - self.v[s])
        self.trajectory = []
        return errors

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "visits": to_tensor(self.visits),
            "trajectory": {
                "states": [s for s, _ in self.trajectory],
                "rewards": [r for _, r in self.trajectory],
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.visits = to_array(state["visits"], np.int64)
        trajectory = state["trajectory"]
        self.trajectory = [
            (int(s), float(r))
            for s, r in zip(trajectory["states"], trajectory["rewards"], strict=True)
        ]
