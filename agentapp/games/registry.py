"""The game registry: friendly names -> :class:`Game` descriptions that can build environments.

Each family of games (gridworld, classic control, Atari, ...) registers a *resolver* that turns a
name such as ``gridworld:cliff`` into a :class:`Game`, and a *listing* of the games it wants
``agentapp list`` to show. The CLI and TUI only ever talk to :func:`resolve` and :func:`catalogue`,
so new families slot in here without touching a front end.

Which algorithm suits which game is decided by *capabilities*: a game states what it offers
(``model`` for a full transition table, ``discrete-obs``, ``box-obs``, ``discrete-actions``, ...),
each algorithm states what it requires, and the registry of algorithms compares the two.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import gymnasium as gym

from agentapp.errors import UserError, did_you_mean

# Capabilities a game may offer.
MODEL = "model"  # env.unwrapped.P: the full transition table, for planning methods
DISCRETE_OBS = "discrete-obs"  # gymnasium Discrete observation space (a table index)
BOX_OBS = "box-obs"  # flat Box observations (vectors)
VECTOR_OBS = "vector-obs"  # what a multilayer perceptron can take: a flat Box, or Discrete one-hot
PIXELS = "pixels"  # image observations
DISCRETE_ACTIONS = "discrete-actions"
CONTINUOUS_ACTIONS = "continuous-actions"


@dataclass(frozen=True)
class Game:
    """A playable game: how to build it, what it offers, and which settings it takes."""

    id: str
    """Canonical name, as typed on the command line (``gridworld:classic``)."""
    family: str
    """The family of games it belongs to (``gridworld``, ``classic``, ``atari``)."""
    description: str
    """One line for listings."""
    params: Any
    """Frozen settings dataclass instance with the game's defaults (settable with ``--set``)."""
    make_env: Callable[..., gym.Env] = field(repr=False, compare=False)
    """``make_env(params, render_mode=None) -> gym.Env``."""
    capabilities_of: Callable[[Any], frozenset[str]] = field(repr=False, compare=False)
    """``capabilities_of(params) -> capabilities`` (settings may change them, e.g. ``obs``)."""
    default_algo: str = ""
    """The method a user gets without ``--algo``."""
    default_gamma: Callable[[Any], float | None] = field(
        default=lambda params: None, repr=False, compare=False
    )
    """The discount the game itself defines (gridworld maps do), else None."""
    observation: str = ""
    """Human summary of the observation space."""
    actions: tuple[str, ...] = ()
    """Names of the actions, in action-index order."""
    make_vector: Callable[..., Any] | None = field(default=None, repr=False, compare=False)
    """``make_vector(params, n_envs, seed, threads) -> vector env`` for families with their own
    fast batched environments (Atari: ale-py's C++ AtariVectorEnv); None: the engine batches
    ``make_env`` copies with gymnasium."""
    describe_protocol: Callable[[Any], str] = field(
        default=lambda params: "", repr=False, compare=False
    )
    """Words that say how this game is scored and played (sticky actions, no-op starts), added to
    every evaluation report; empty when there is nothing to say."""

    @property
    def slug(self) -> str:
        """The game's name as used in run folder names: ``[a-z0-9-]`` only."""
        return slugify(self.id)

    def capabilities(self, params: Any = None) -> frozenset[str]:
        return self.capabilities_of(self.params if params is None else params)

    def make(self, params: Any = None, render_mode: str | None = None) -> gym.Env:
        return self.make_env(self.params if params is None else params, render_mode=render_mode)


def slugify(text: str) -> str:
    """Lower-case *text* and squeeze everything outside ``[a-z0-9]`` into single dashes; a file
    path after the family (``gridworld:/maps/tiny.txt``) is shortened to its stem (``tiny``)."""
    family, sep, arg = text.partition(":")
    if sep and ("/" in arg or "\\" in arg or arg.endswith(".txt")):
        text = f"{family}-{PurePath(arg.replace(chr(92), '/')).stem}"
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "game"


Resolver = Callable[[str], Game]
"""``resolver(argument) -> Game``; argument is the text after ``family:`` (may be empty)."""

_RESOLVERS: dict[str, Resolver] = {}
_LISTINGS: dict[str, Callable[[], list[Game]]] = {}
_ALIASES: dict[str, str] = {}


def register_family(
    prefix: str,
    resolver: Resolver,
    listing: Callable[[], list[Game]],
    aliases: dict[str, str] | None = None,
) -> None:
    """Register a family under ``prefix`` (``gridworld`` answers ``gridworld`` and
    ``gridworld:<arg>``); *aliases* map plain names (``cliff``) to full names."""
    _RESOLVERS[prefix] = resolver
    _LISTINGS[prefix] = listing
    _ALIASES.update(aliases or {})


def _load_families() -> None:
    # Imported here, not at module top, so that each family registers itself once on first use;
    # `agentapp list` shows the families in this order.
    from agentapp.games import gridworld  # noqa: F401, I001
    from agentapp.games import classic  # noqa: F401
    from agentapp.games import atari  # noqa: F401


def resolve(name: str) -> Game:
    """Turn a game name from the command line into a :class:`Game`, or raise UserError."""
    _load_families()
    name = name.strip()
    name = _ALIASES.get(name.lower(), name)
    prefix, _, arg = name.partition(":")
    resolver = _RESOLVERS.get(prefix.lower())
    if resolver is None:
        known = dict.fromkeys([g.id for g in catalogue()] + list(_RESOLVERS) + list(_ALIASES))
        raise UserError(f"unknown game {name!r}{did_you_mean(name, known)}; see `agentapp list`")
    return resolver(arg)


def catalogue() -> list[Game]:
    """Every game ``agentapp list`` shows, family by family."""
    _load_families()
    games: list[Game] = []
    for listing in _LISTINGS.values():
        games.extend(listing())
    return games
