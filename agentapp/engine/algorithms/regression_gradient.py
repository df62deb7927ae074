"""Policy gradient by linear regression on random perturbations (the lectures' general
finite-difference estimator).

Why it is here: one-parameter-at-a-time differences (``finite_difference.py``) cost 2n estimates of
J per gradient; perturbing all parameters at once, m times, and fitting the slope by least squares
uses every estimate for every coordinate, and lets m be chosen independently of n. With Delta Theta
the m x n matrix of perturbations and Delta J_i = J(theta + Delta theta_i) - J(theta),

    g = (Delta Theta^T Delta Theta)^-1 Delta Theta^T Delta J = pinv(Delta Theta) Delta J,

the least-squares solution of Delta J ~ Delta Theta g (exact when J is linear). Perturbations are
Gaussian, delta times N(0, I); every J of one iteration is played from the same episode seeds
(common random numbers), and the step is theta <- theta + alpha g (see ``engine/policy_search.py``).
After an estimate of exactly 0 (a flat spot) the next is made with delta doubled, as in
``finite_difference.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from agentapp.engine.algorithms.finite_difference import PolicySearchMethod, PolicySearchSettings
from agentapp.engine.policy_search import Objective, regression_gradient
from agentapp.params import setting


@dataclass(frozen=True)
class RegressionGradientSettings(PolicySearchSettings):
    """Settings of the regression estimator, beside the shared policy-search ones."""

    delta: float = setting(0.3, "Standard deviation of each parameter's perturbation (smaller "
                           "than finite differences' default: all n parameters move at once, a "
                           "perturbation of length about delta sqrt(n)).", low=0.0, low_open=True)
    perturbations: int = setting(0, "Random perturbations m per gradient (0: twice the number of "
                                 "parameters). Below the number of parameters the fit is "
                                 "underdetermined and pinv takes its smallest solution.",
                                 low=0, high=100_000)
    antithetic: bool = setting(True, "Perturb in pairs +-Delta theta (m/2 directions, each both "
                               "ways): the curvature of J cancels from the fit, as it does in "
                               "central differences.")


class RegressionGradient(PolicySearchMethod):
    """Gradient ascent on the least-squares fit of return changes to random perturbations."""

    name = "regression-gradient"
    title = "Regression policy gradient"
    summary = ("Gradient-free policy search: m random perturbations, the gradient as the "
               "least-squares slope of the returns.")
    Hyperparameters = RegressionGradientSettings

    @classmethod
    def memory_needed(cls, hp: Any, n_params: int) -> list[tuple[str, int]]:
        """The m x n perturbation matrix and its pseudo-inverse, beside the policy."""
        m = hp.perturbations or 2 * n_params
        return [*super().memory_needed(hp, n_params),
                (f"--set perturbations={m} with {n_params} parameters: the regression",
                 8 * 3 * m * n_params)]

    def gradient(self, J: Objective, reference: float,
                 delta: float) -> tuple[np.ndarray, dict[str, float]]:
        hp = self.hp
        m = hp.perturbations or 2 * self.theta.size
        # Delta Theta: m rows of delta * N(0, I), or m/2 such rows and their negatives
        rows = (m + 1) // 2 if hp.antithetic else m
        d_theta = delta * self.rng.standard_normal((rows, self.theta.size))
        if hp.antithetic:
            d_theta = np.concatenate([d_theta, -d_theta])
        g = regression_gradient(J, self.theta, d_theta, reference=reference)
        return g, {"charts/perturbations": float(len(d_theta))}
