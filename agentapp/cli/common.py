"""Options and helpers shared by the commands."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

RunsDir = Annotated[
    Path | None,
    typer.Option("--runs-dir", help="Where runs live (default: $AGENTAPP_RUNS or ./runs).",
                 show_default=False),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a setting: key=value (repeatable).", show_default=False),
]


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def overrides(pairs: list[str] | None) -> dict[str, str]:
    from agentapp.params import parse_assignments

    return parse_assignments(pairs or [])


def load_agent(ref: str, runs_dir: Path | None, set_pairs: list[str] | None = None,
               prefer_best: bool = True):
    """Resolve ``RUN|CHECKPOINT|last`` and rebuild its agent on the CPU.

    Returns ``(checkpoint path, checkpoint dict, agent, game, game params)``.
    """
    from agentapp import checkpoints, runs
    from agentapp.engine.device import configure_threads
    from agentapp.engine.plan import restore_agent
    from agentapp.games.registry import PIXELS

    path = runs.resolve_checkpoint(ref, runs.runs_root(runs_dir), prefer_best)
    ckpt = checkpoints.load(path)
    agent, game, params = restore_agent(ckpt, overrides(set_pairs))
    # the thread count training uses: on a small machine torch's default (every core) makes
    # a small network's forward passes several times slower as soon as anything else runs
    configure_threads(None, pixels=PIXELS in game.capabilities(params))
    return path, ckpt, agent, game, params


@contextlib.contextmanager
def on_signals(on_sigint, on_sigterm) -> Iterator[None]:
    """Handle SIGINT and SIGTERM with these functions inside the block, and restore the previous
    handlers after it (outside the main thread, as under a test runner, nothing is installed)."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        signal.signal(signal.SIGINT, on_sigint)
        signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # not the main thread
        previous = {}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def signals_stop(control) -> Iterator[None]:
    """Route SIGINT / SIGTERM to ``control.stop``; a second SIGINT interrupts immediately."""

    def on_sigint(signum, frame):
        if control.stop_reason:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        control.stop("interrupted")

    def on_sigterm(signum, frame):
        control.stop("terminated")

    with on_signals(on_sigint, on_sigterm):
        yield
