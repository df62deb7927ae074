"""Policy iteration: evaluate a policy, make it greedy on its own values, repeat until stable.

Why it is here: generalised policy iteration is the pattern behind every control method of the
lectures (Sutton & Barto §4.3, David Silver lecture 3); in its exact, model-based form it reaches an
optimal policy in a handful of improvements. It needs the full model ``P``.

One training iteration is one sweep of policy evaluation, so that progress (and the Bellman
residual) is reported sweep by sweep; the sweep that completes an evaluation is followed by an
improvement:

- evaluation sweeps V(s) <- E_pi[r + gamma V(s')] until the largest change is below ``theta`` or
  ``max_eval_sweeps`` sweeps have run. Each evaluation sweep is one step of the budget
  (``step_unit = "sweeps"``). Evaluation starts from the previous policy's values (warm start).
- improvement makes the policy greedy on the evaluated values, changing a state's action only when
  another action is better by more than ``theta`` so that ties cannot make it flip for ever.

An evaluation in progress is kept in the instance (and in checkpoints), so where iteration
boundaries and checkpoints fall never changes the result. The method has converged once an
improvement changes no action after an evaluation that reached ``theta``; later calls do no work
and report ``steps=0``.

The initial policy takes action 0 everywhere. With gamma = 1 that policy may never end an episode
(its values then only fall); ``max_eval_sweeps`` bounds such an evaluation and the improvement
moves away from it, as in modified policy iteration.
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
class PolicyIterationSettings:
    """Settings of policy iteration."""

    gamma: float | None = setting(
        None, "Discount factor; empty means the game's own discount (else 0.99).", low=0.0, high=1.0
    )
    theta: float = setting(
        1e-10,
        "Policy evaluation stops once a sweep changes no value by more than this.",
        low=0.0,
        low_open=True,
    )
    max_eval_sweeps: int = setting(100, "At most this many sweeps per policy evaluation.", low=1)


class PolicyIteration(Planner):
    """Policy iteration on the game's transition table (Sutton & Barto §4.3)."""

    name = "policy-iteration"
    title = "Policy iteration"
    summary = "Dynamic programming: evaluate the policy, make it greedy, repeat until it is stable."
    Hyperparameters = PolicyIterationSettings
    requires = frozenset({MODEL})
    step_unit = "sweeps"

    def __init__(self, game, game_params, hp, **kwargs) -> None:
        super().__init__(game, game_params, hp, **kwargs)
        self.pi = np.zeros(self.n_states, dtype=np.int64)
        """The current deterministic policy: pi[s] is the action taken in state s."""
        self.eval_sweeps = 0
        """Sweeps done so far in the evaluation in progress."""
        self.residual = float("inf")
        self.policy_changes = 0

    def greedy_at(self, s: int) -> int:
        return int(self.pi[s])

    def policy(self) -> np.ndarray:
        return self.pi.copy()

    def train_iteration(self, max_steps: int) -> Iteration:
        if self.converged:
            return Iteration(steps=0, metrics=self._metrics(), converged=True)
        if max_steps < 1:
            raise ValueError("policy iteration needs at least one sweep")
        steps = self._evaluate(1)
        evaluated = self.residual < self.hp.theta
        if not evaluated and self.eval_sweeps < self.hp.max_eval_sweeps:
            # The evaluation goes on in the next iteration before the policy improves.
            return Iteration(steps=steps, metrics={"losses/bellman_residual": self.residual})
        self.eval_sweeps = 0
        self.policy_changes = self._improve()
        self.converged = evaluated and self.policy_changes == 0
        return Iteration(steps=steps, metrics=self._metrics(), converged=self.converged)

    def _evaluate(self, limit: int) -> int:
        """Run up to *limit* sweeps of iterative policy evaluation; return how many ran."""
        states = np.arange(self.n_states)
        reward = self.model.reward[states, self.pi]  # R(s, pi(s))
        continuation = self.model.continuation[states, self.pi]  # C(s, pi(s), s')
        for sweep in range(1, limit + 1):
            # V_{k+1}(s) = sum_{s',r} p(s',r|s,pi(s)) [r + gamma V_k(s')]   (Sutton & Barto eq. 4.5)
            v_new = reward + self.gamma * continuation @ self.v
            self.residual = float(np.max(np.abs(v_new - self.v))) if self.n_states else 0.0
            self.v = v_new
            self.sweeps += 1
            self.eval_sweeps += 1
            if self.residual < self.hp.theta:
                return sweep
        return limit

    def _improve(self) -> int:
        """Make the policy greedy on V; return how many states changed their action."""
        # pi'(s) = argmax_a sum_{s',r} p(s',r|s,a) [r + gamma V(s')]   (Sutton & Barto eq. 4.9)
        q = action_values(self.model, self.v, self.gamma)
        current = q[np.arange(self.n_states), self.pi]
        better = q.max(axis=1) > current + self.hp.theta
        self.pi = np.where(better, q.argmax(axis=1), self.pi)
        return int(better.sum())

    def _metrics(self) -> dict[str, float]:
        return {
            "losses/bellman_residual": self.residual,
            "charts/policy_changes": float(self.policy_changes),
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            "v": to_tensor(self.v),
            "pi": to_tensor(self.pi),
            "sweeps": self.sweeps,
            "eval_sweeps": self.eval_sweeps,
            "converged": self.converged,
            "residual": self.residual,
            "policy_changes": self.policy_changes,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        v = to_array(state["v"])
        if v.shape != self.v.shape:
            raise UserError(f"checkpoint V has shape {v.shape}, this game needs {self.v.shape}")
        self.v = v
        self.pi = to_array(state["pi"], np.int64)
        self.sweeps = int(state["sweeps"])
        self.eval_sweeps = int(state["eval_sweeps"])
        self.converged = bool(state["converged"])
        self.residual = float(state["residual"])
        self.policy_changes = int(state["policy_changes"])
