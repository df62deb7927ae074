"""The engine: algorithms and the training loop. Imports no textual, typer or rich.

``train(config, control)`` is the one entry point both front ends use: it takes a
:class:`RunConfig` (or an already prepared :class:`Plan`) and yields events.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentapp.engine.control import Control
    from agentapp.engine.events import Event
    from agentapp.engine.plan import Plan, RunConfig


def train(config: RunConfig | Plan, control: Control | None = None) -> Iterator[Event]:
    """Prepare (when given a RunConfig) and run a training session, yielding its events."""
    from agentapp.engine import loop, plan

    prepared = plan.prepare(config) if isinstance(config, plan.RunConfig) else config
    return loop.train(prepared, control)


__all__ = ["train"]
