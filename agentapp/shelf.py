"""The shelf: trained agents shipped inside the package, so a fresh install has something to watch.

``agentapp/models/`` holds ordinary run checkpoints (the same format ``agentapp train`` writes) and
``manifest.json``, which says for each file what it is (game, method, steps), how well it plays
(mean and population std of the return over seeded greedy episodes, with the protocol string
``agentapp eval`` prints), its sha256, and how it was made: the exact ``agentapp train`` command and
the versions that ran it. ``scripts/build_shelf.py`` rebuilds the shelf; ``tests/test_shelf.py``
re-evaluates every agent against its manifest.

The files live inside the ``agentapp`` package (declared as package data), so a plain
``pip install`` has them, not only a source checkout. This module is cheap to import (no torch, no
UI): ``agentapp watch GAME`` and ``agentapp models`` read the manifest before deciding to load
anything.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentapp.errors import UserError

SHELF_DIR = Path(__file__).resolve().parent / "models"
"""Where the shipped checkpoints and their manifest are installed."""

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
"""Bumped when the manifest's layout changes in a way old code cannot read."""


@dataclass(frozen=True)
class ShippedAgent:
    """One manifest entry: a shipped checkpoint and what is known about it."""

    file: str
    """File name inside the shelf folder (``cartpole-ppo.pt``)."""
    game: str
    """Game id as the registry resolves it (``cartpole``, ``gridworld:cliff``)."""
    algo: str
    """The ``--algo`` name it was trained with."""
    steps: int
    """Training steps (sweeps for planners) in the checkpoint."""
    protocol: str
    """What the evaluation measured, as ``agentapp eval`` words it."""
    eval_mean: float
    """Mean return over the evaluation episodes."""
    eval_std: float
    """Population standard deviation of those returns."""
    eval_episodes: int
    """How many episodes: ``agentapp eval FILE --episodes N``."""
    eval_seed: int
    """Episode i was seeded ``eval_seed + i``: ``agentapp eval FILE --seed S``."""
    sha256: str
    """Checksum of the file, checked before it is loaded."""
    command: str
    """The exact ``agentapp train ...`` command that produced it."""
    trained_with: dict[str, str] = field(default_factory=dict, hash=False)
    """Versions that trained it (agentapp, torch, gymnasium, numpy, python)."""

    def as_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _root(root: Path | None) -> Path:
    return SHELF_DIR if root is None else Path(root)


def load_manifest(root: Path | None = None) -> list[ShippedAgent]:
    """The shelf's agents in manifest order; empty when there is no manifest."""
    path = _root(root) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read the shipped agents' manifest {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise UserError(f"{path}: not a manifest this agentapp reads "
                        f"(format {data.get('format') if isinstance(data, dict) else '?'})")
    known = set(ShippedAgent.__dataclass_fields__)
    try:
        return [ShippedAgent(**{k: v for k, v in entry.items() if k in known})
                for entry in data.get("agents", [])]
    except (TypeError, AttributeError) as exc:
        raise UserError(f"{path}: malformed entry ({exc})") from None


def shipped_for(game_id: str, root: Path | None = None) -> ShippedAgent | None:
    """The best shipped agent for *game_id* (``resolve(name).id``), or None.

    Best: the highest evaluation mean, then the smallest spread, then the first in the manifest
    (the builder lists the game's default method first)."""
    found = [a for a in load_manifest(root) if a.game == game_id]
    if not found:
        return None
    return min(enumerate(found), key=lambda ia: (-ia[1].eval_mean, ia[1].eval_std, ia[0]))[1]


def path_of(agent: ShippedAgent, root: Path | None = None) -> Path:
    """Where *agent*'s checkpoint file is (it may be missing: see :func:`verify`)."""
    return _root(root) / agent.file


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(agent: ShippedAgent, root: Path | None = None) -> Path:
    """Check that *agent*'s file is present and matches its checksum; return its path.

    UserError otherwise: a damaged or replaced file is never loaded as the shipped agent."""
    path = path_of(agent, root)
    if not path.is_file():
        raise UserError(f"shipped agent {agent.file} is missing from {path.parent}; reinstall "
                        "agentapp (or rebuild the shelf: python scripts/build_shelf.py)")
    actual = sha256_of(path)
    if actual != agent.sha256:
        raise UserError(f"shipped agent {path} does not match its manifest checksum "
                        f"(sha256 {actual[:12]}..., expected {agent.sha256[:12]}...): the file "
                        "is damaged or was changed; reinstall agentapp")
    return path


def evaluate(agent: ShippedAgent, root: Path | None = None) -> dict[str, Any]:
    """Verify and re-evaluate *agent* with its manifest's protocol (greedy, ``eval_episodes``
    episodes from ``eval_seed``): what ``agentapp eval FILE --episodes N --seed S --json``
    prints. Imports torch."""
    from agentapp import checkpoints
    from agentapp.engine.evaluate import evaluate as play
    from agentapp.engine.plan import restore_agent

    path = verify(agent, root)
    policy, game, params = restore_agent(checkpoints.load(path))
    result = play(policy, game, params, episodes=agent.eval_episodes, seed=agent.eval_seed,
                  greedy=True)
    summary = result.summary()
    summary["checkpoint"] = str(path)
    return summary
