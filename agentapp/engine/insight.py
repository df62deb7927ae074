"""What an agent thinks of one observation, for a viewer to show beside the game.

Watching an agent play says what it did; its numbers say why. A value method ranks the actions by
their estimated return Q(s, a); a policy method gives each action a probability pi(a|s), and an
actor-critic adds its critic's V(s). :meth:`Algorithm.insight` answers with one small, immutable
:class:`Insight` per observation (plain numpy, no tensors), so the renderers in
``agentapp.rendering`` can draw it without knowing the method or touching torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PROBABILITIES = "probabilities"
"""``Insight.kind`` of a policy: ``values`` are pi(a|s), non-negative, summing to 1."""
Q_VALUES = "q-values"
"""``Insight.kind`` of a value method: ``values`` are the estimated returns Q(s, a)."""
KINDS = (PROBABILITIES, Q_VALUES)


@dataclass(frozen=True, eq=False)
class Insight:
    """What the agent thinks of one observation: one number per discrete action, and its
    estimate of the state's value when it has one."""

    kind: str
    """:data:`PROBABILITIES` or :data:`Q_VALUES`."""
    values: np.ndarray
    """One float64 per action, in action-index order (read-only)."""
    value: float | None = None
    """The state-value estimate V(s) (max Q for value methods; the critic for actor-critics);
    None when the method has none (REINFORCE without a learned baseline)."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"insight kind {self.kind!r}: expected one of {KINDS}")
        values = np.array(self.values, dtype=np.float64).ravel()
        values.flags.writeable = False  # shared between threads: nobody may change it
        object.__setattr__(self, "values", values)
        if self.value is not None:
            object.__setattr__(self, "value", float(self.value))

    @property
    def best(self) -> int:
        """The action the numbers favour (the first, on ties): the greedy choice."""
        return int(np.argmax(self.values))
