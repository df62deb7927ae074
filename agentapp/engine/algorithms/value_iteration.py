"""Value iteration: dynamic programming with the Bellman optimality equation as an update.

Why it is here: it is the first control method of the lectures (Sutton & Barto §4.4, David Silver
lecture 3) and the reference every learned agent on a gridworld is compared with. Given the full
model ``P`` it computes the optimal state values V* and, from them, an optimal policy, with no
interaction with the game at all.

One training iteration is one synchronous sweep over all states. Each sweep is one "step" of the
budget (``step_unit = "sweeps"``). The sweep whose largest change max_s |V_new(s) - V(s)| (the
Bellman residual) falls below ``theta`` counts as a step and reports ``converged=True``; any later
call does no work and reports ``steps=0, converged=True``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from agentapp.engine.algorithms.base import Iteration
from agentapp.engine.algorithms.tabular import Planner, action_values, to_array, to_tensor
from agentapp.errors import UserError
from agentapp.games.registry import MODEL
from agentapp.params import setting


@dataclass(frozen=True)
class ValueIterationSettings:
    """Settings of value iteration."""

    gamma: float | None = setting(
        None, "Discount factor; empty means the game's own discount (else 0.99).", low=0.0, high=1.0
    )
    theta: float = setting(
        1e-10,
        "Stop once a sweep changes no state value by more than this (max Bellman residual).",
        low=0.0,
        low_open=True,
    )


class ValueIteration(Planner):
    """Value iteration on the game's transition table (Sutton & Barto §4.4)."""

    name = "value-iteration"
    title = "Value iteration"
    summary = "Dynamic programming: sweep V(s) <- max_a E[r + gamma V(s')] until it stops changing."
    Hyperparameters = ValueIterationSettings
    requires = frozenset({MODEL})
    step_unit = "sweeps"

    def __init__(self, game, game_params, hp, **kwargs) -> None:
        super().__init__(game, game_params, hp, **kwargs)
        self.residual = float("inf")
        """The Bellman residual of the last sweep (infinite before the first)."""

    def train_iteration(self, max_steps: int) -> Iteration:
        if self.converged:
            return Iteration(steps=0, metrics=self._metrics(), converged=True)
        if max_steps < 1:
            raise ValueError("value iteration needs at least one sweep")

        # One synchronous sweep of the Bellman optimality backup:
        # V_{k+1}(s) = max_a sum_{s',r} p(s',r|s,a) [r + gamma V_k(s')]   (Sutton & Barto eq. 4.10)
        q = action_values(self.model, self.v, self.gamma)
        v_new = q.max(axis=1)

        # The Bellman residual ||V_{k+1} - V_k||_inf: for gamma < 1, V_{k+1} is then within
        # theta * gamma / (1 - gamma) of V*, so the policy greedy on it is (near-)optimal.
        self.residual = float(np.max(np.abs(v_new - self.v))) if self.n_states else 0.0
        self.v = v_new
        self.sweeps += 1
        self.converged = self.residual < self.hp.theta
        return Iteration(steps=1, metrics=self._metrics(), converged=self.converged)

    def _metrics(self) -> dict[str, float]:
        return {"losses/bellman_residual": self.residual}

    def state_dict(self) -> dict[str, Any]:
        return {
            "v": to_tensor(self.v),
            "sweeps": self.sweeps,
            "converged": self.converged,
            "residual": self.residual,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        v = to_array(state["v"])
        if v.shape != self.v.shape:
            raise UserError(f"checkpoint V has shape {v.shape}, this game needs {self.v.shape}")
        self.v = v
        self.sweeps = int(state["sweeps"])
        self.converged = bool(state["converged"])
        self.residual = float(state["residual"])
