"""Finite-difference policy gradient: perturb one parameter at a time, watch the return move.

Why it is here: it is the lectures' first way to follow the policy gradient, and the one that
needs nothing of the policy but the returns it earns: no likelihood ratio, no differentiable
policy, no value function. The policy may even be deterministic (CartPole's argmax of linear
scores, as in the lectures). Its price is plain in the step counter: each gradient costs 2n (or
n + 1) estimates of J for n parameters, every one of them whole episodes.

One iteration (see ``engine/policy_search.py``): draw ``episodes_per_estimate`` episode seeds,
estimate J(theta) from them, then for each parameter k
g_k = (J(theta + delta e_k) - J(theta - delta e_k)) / (2 delta)   (central differences), or
g_k = (J(theta + delta e_k) - J(theta)) / delta                    (forward differences),
every J played from the same seeds (common random numbers), and step theta <- theta + alpha g.

Flat spots: the policy is deterministic, so J is piecewise constant in theta. Where no perturbation
of +-delta changes a single action of the episodes played (CartPole's policy that always pushes one
way, its bias far from the others), every J is equal, g is exactly 0 and the step is 0: the
search would stay there for ever. An estimate that is exactly 0 carries no information about the
slope, so the next one is made with twice the delta (up to 2**flat_doublings delta), and the set
delta returns as soon as an estimate is non-zero: wherever the gradient is non-zero, the estimator
is the lectures' one. ``--set flat_doublings=0`` turns this off.

What this method shares with ``regression_gradient.py`` (everything but the estimator) is
:class:`PolicySearchMethod` below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from agentapp.engine.algorithms.base import Algorithm, Iteration, method_rng
from agentapp.engine.algorithms.deep import check_memory
from agentapp.engine.insight import PROBABILITIES, Insight
from agentapp.engine.policy_search import (
    BudgetSpent,
    EpisodeRunner,
    Objective,
    ParametricPolicy,
    finite_difference_gradient,
    parse_layers,
)
from agentapp.games.registry import CONTINUOUS_ACTIONS, DISCRETE_ACTIONS, VECTOR_OBS
from agentapp.params import setting
from agentapp.plain import plain


@dataclass(frozen=True)
class PolicySearchSettings:
    """Settings the finite-difference methods share."""

    delta: float = setting(0.5, "Perturbation size (per parameter, or the standard deviation of "
                           "the random perturbations).", low=0.0, low_open=True)
    step_size: float = setting(0.5, "Step size alpha of theta <- theta + alpha g (of the step "
                               "length itself with normalize_step).", low=0.0, low_open=True)
    normalize_step: bool = setting(True, "Step along g / ||g||: a step of length step_size, "
                                   "whatever the scale of the returns.")
    anneal_step: bool = setting(True, "Shrink the step size linearly to 0 over the budget, so "
                                "the policy settles instead of wandering off a good one.")
    episodes_per_estimate: int = setting(2, "Episodes (from the same seeds for every "
                                         "perturbation) behind each estimate of J.", low=1,
                                         high=10_000)
    hidden: str = setting("", "Hidden tanh layers of the policy: empty for a linear policy, or "
                          "sizes like 8 or 8,8.")
    flat_doublings: int = setting(4, "After a gradient estimate of exactly 0 (no perturbation "
                                  "changed the return: a flat spot), double delta for the next "
                                  "one, at most this many times; the set delta returns after a "
                                  "non-zero estimate. 0: never widen.", low=0, high=30)


class PolicySearchMethod(Algorithm):
    """A deterministic parametric policy improved by gradient ascent on finite-difference
    estimates of grad J. Subclasses give :meth:`gradient`.

    Each iteration draws ``episodes_per_estimate`` episode seeds, estimates J(theta) from them,
    estimates the gradient from perturbations played from the same seeds, and steps. Every step
    played counts toward the budget (perturbation rollouts included); the episodes reported as
    training episodes are only those of the unperturbed policy, J(theta)'s, since the perturbed
    ones belong to policies the agent never adopts. One gradient costs many episodes, so the
    budget is kept exactly: when it runs out inside an iteration, play stops there and the
    unfinished gradient is dropped (theta keeps its last step)."""

    requires: ClassVar[frozenset[str]] = frozenset()
    requires_any: ClassVar[frozenset[str]] = frozenset({VECTOR_OBS})  # no pixels
    action_kinds = frozenset({DISCRETE_ACTIONS, CONTINUOUS_ACTIONS})

    @classmethod
    def check_settings(cls, hp: Any, game, game_params: Any, n_envs: int = 1) -> None:
        probe = game.make(game_params)
        policy = ParametricPolicy(probe.observation_space, probe.action_space,
                                  parse_layers(hp.hidden))
        probe.close()
        check_memory(cls.memory_needed(hp, policy.size))

    @classmethod
    def memory_needed(cls, hp: Any, n_params: int) -> list[tuple[str, int]]:
        """A few float64 copies of theta (subclasses add their perturbations)."""
        return [(f"--set hidden={hp.hidden}: the policy", 8 * 4 * n_params)]

    def __init__(self, game, game_params, hp, **kwargs) -> None:
        super().__init__(game, game_params, hp, **kwargs)
        probe = game.make(game_params)
        self.policy = ParametricPolicy(probe.observation_space, probe.action_space,
                                       parse_layers(hp.hidden))
        probe.close()
        self.rng = method_rng(self.seed)
        self.theta = self.policy.initial(self.rng)
        self.runner = EpisodeRunner(game, game_params, self.policy)
        self.iterations = 0
        self.doublings = 0
        """How many times delta is doubled for the next estimate (0 but after flat ones)."""

    def gradient(self, J: Objective, reference: float,
                 delta: float) -> tuple[np.ndarray, dict[str, float]]:
        """The method's estimate of grad J(self.theta) (and metrics), given J(theta), with
        perturbations of size *delta*."""
        raise NotImplementedError

    def train_iteration(self, max_steps: int) -> Iteration:
        hp, start = self.hp, self.runner.steps
        count = hp.episodes_per_estimate
        seeds = self.rng.integers(0, 2**31 - 1, size=count).tolist()

        def J(theta: np.ndarray) -> float:  # common random numbers: the same seeds throughout
            return self.runner.estimate_return(theta, count, seeds)

        self.runner.stop_at, episodes = start + max_steps, []
        delta = hp.delta * 2.0**self.doublings
        try:
            reference = J(self.theta)
            episodes = self.runner.last_episodes
            g, metrics = self.gradient(J, reference, delta)
        except BudgetSpent:  # the budget ends inside this gradient: no step, budget kept exactly
            return Iteration(steps=self.runner.steps - start, episodes=episodes)
        finally:
            self.runner.stop_at = None
        norm = float(np.linalg.norm(g))
        # a flat spot (g exactly 0) says nothing of the slope: look further next time
        self.doublings = min(self.doublings + 1, hp.flat_doublings) if norm == 0 else 0
        alpha = hp.step_size * (max(0.0, 1.0 - start / self.budget) if hp.anneal_step else 1.0)
        # gradient ascent: theta <- theta + alpha g, or theta + alpha g / ||g||
        if hp.normalize_step:
            step = alpha * g / norm if norm > 0 else np.zeros_like(g)
        else:
            step = alpha * g
        self.theta = self.theta + step
        self.iterations += 1
        metrics |= {"charts/estimated_return": reference, "charts/gradient_norm": norm,
                    "charts/delta": delta, "charts/step_size": alpha,
                    "charts/step_norm": float(np.linalg.norm(step)),
                    "charts/parameter_norm": float(np.linalg.norm(self.theta))}
        return Iteration(steps=self.runner.steps - start, metrics=metrics, episodes=episodes)

    def act(self, obs: Any, greedy: bool = True, rng: np.random.Generator | None = None) -> Any:
        action = self.act_batch(np.asarray(obs)[None])[0]
        return int(action) if self.policy.discrete else action

    def act_batch(self, obs: Any, greedy: bool = True,
                  rng: np.random.Generator | None = None) -> np.ndarray:
        """The policy is deterministic: *greedy* and *rng* change nothing."""
        return self.policy.actions(self.theta, obs)

    def insight(self, obs: Any) -> Insight | None:
        """pi(.|s) of a deterministic policy: one on the argmax of the scores."""
        if not self.policy.discrete:
            return None
        chosen = self.act(obs)
        return Insight(PROBABILITIES, np.eye(int(self.policy.action_space.n))[chosen])

    def broken_parameter(self) -> str | None:
        bad = np.flatnonzero(~np.isfinite(self.theta))
        return f"policy parameter {int(bad[0])}" if bad.size else None

    def state_dict(self) -> dict[str, Any]:
        return {"theta": torch.from_numpy(self.theta.copy()), "iterations": self.iterations,
                "steps": self.runner.steps, "rng": plain(self.rng.bit_generator.state),
                "doublings": self.doublings}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        theta = state["theta"].numpy().astype(np.float64)
        if theta.shape != self.theta.shape:
            raise ValueError(f"the policy has {self.theta.size} parameters and the checkpoint "
                             f"{theta.size}")
        self.theta = theta.copy()
        self.iterations = int(state["iterations"])
        self.runner.steps = int(state["steps"])
        self.rng.bit_generator.state = state["rng"]
        # absent from checkpoints made before it; a resume may lower flat_doublings
        self.doublings = min(int(state.get("doublings", 0)), self.hp.flat_doublings)

    def close(self) -> None:
        self.runner.close()


@dataclass(frozen=True)
class FiniteDifferenceSettings(PolicySearchSettings):
    """Settings of the finite-difference method, beside the shared policy-search ones."""

    central: bool = setting(True, "Central differences (2n estimates of J per gradient, error "
                            "O(delta^2)) instead of forward ones (n + 1, error O(delta)).")


class FiniteDifference(PolicySearchMethod):
    """Gradient ascent on one-parameter-at-a-time finite differences of the return."""

    name = "finite-difference"
    title = "Finite-difference policy gradient"
    summary = ("Gradient-free policy search: perturb each parameter, difference the returns "
               "(common random numbers), step uphill.")
    Hyperparameters = FiniteDifferenceSettings

    def gradient(self, J: Objective, reference: float,
                 delta: float) -> tuple[np.ndarray, dict[str, float]]:
        hp = self.hp
        g = finite_difference_gradient(J, self.theta, delta, central=hp.central,
                                       reference=reference)
        estimates = 2 * self.theta.size if hp.central else self.theta.size
        return g, {"charts/perturbations": float(estimates)}
