"""Feature maps x(s) for linear function approximation: the lectures' bridge from tables to nets.

A linear method values an observation through a feature vector x(s), Q(s, a) = w_a · x(s). The
features here are *binary and sparse*: a handful of them are 1 and the rest 0, so a map answers
with the indices of its active features instead of a dense vector, and Q(s, a) is the sum of the
weights at those indices (the product with a dense 0/1 vector, without the zeros).

- :class:`OneHot` gives each observation of a Discrete space its own feature. A linear method on
  one-hot features *is* its tabular method: w is the Q-table.
- :class:`TileCoding` covers a box of real vectors with ``tilings`` overlapping grids of
  ``tiles_per_dim`` tiles per dimension, each grid shifted by a fraction of a tile with Sutton &
  Barto's asymmetric displacement (1, 3, 5, ...) (§9.5.4): each point lies in one tile of every
  tiling, nearby points share most tiles, and points a tile width apart share none. A shifted grid
  needs one more tile per dimension to cover the box, so a tiling has ``(tiles_per_dim + 1) ** d``
  tiles. No hashing: the table grows with the dimension (see :data:`MAX_FEATURES`).

Tile coding needs finite ranges. A Box's own bounds are used unless :data:`RANGES` gives the game
its own: CartPole's velocities are unbounded and its position and angle bounds are twice the range
an episode can reach before it ends. Values outside a range are clipped to it.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from gymnasium import spaces

from agentapp.errors import UserError

RANGES: dict[str, tuple[tuple[float, float], ...]] = {
    # CartPole: cart position (the episode ends beyond ±2.4), cart velocity (unbounded; a
    # balancing cart stays well inside ±3 m/s), pole angle (ends beyond ±12° = ±0.2095 rad), pole
    # angular velocity (unbounded; inside ±3.5 rad/s until the pole has already fallen).
    "CartPole": ((-2.4, 2.4), (-3.0, 3.0), (-0.2095, 0.2095), (-3.5, 3.5)),
}
"""Tile-coding ranges per gymnasium environment name (``env.spec.name``), one (low, high) per
dimension, for games whose Box bounds are infinite or wider than what an episode visits.
MountainCar (position [-1.2, 0.6], velocity [-0.07, 0.07]) and Acrobot (cos and sin in [-1, 1],
angular velocities ±4π and ±9π) use their own finite bounds."""

MAX_FEATURES = 2**24
"""The most features a tile coding may have (16.8M; times the actions, 8 bytes each): eight
tilings of 8 tiles on a 6-dimensional Box (Acrobot) make 4.3M, on LunarLander's 8 dimensions 344M,
which is refused with a hint to use fewer tiles."""


class FeatureMap(Protocol):
    """What a linear method needs of a feature map."""

    n_features: int
    """Length of the (never built) dense feature vector x(s)."""
    n_active: int
    """How many features are 1 for any observation (the rest are 0)."""

    def active(self, obs: Any) -> np.ndarray:
        """Indices of the active features: shape ``(n_active,)`` for one observation,
        ``(batch, n_active)`` for a batch."""


def dense(features: FeatureMap, obs: Any) -> np.ndarray:
    """x(s) as a dense 0/1 vector (for tests and teaching; the methods use :meth:`active`)."""
    x = np.zeros(features.n_features)
    x[features.active(obs)] = 1.0
    return x


class OneHot:
    """One feature per observation of a ``Discrete(n)`` space: x(s) = e_s."""

    n_active = 1

    def __init__(self, n: int) -> None:
        if n < 1:
            raise ValueError(f"one-hot features need at least one observation, got {n}")
        self.n_features = int(n)

    def active(self, obs: Any) -> np.ndarray:
        return np.asarray(obs, dtype=np.int64)[..., None]

    def __repr__(self) -> str:
        return f"OneHot({self.n_features})"


class TileCoding:
    """Grid tilings with asymmetric offsets over the box ``[low, high]`` (Sutton & Barto §9.5.4).

    Each dimension is divided into ``tiles_per_dim`` tiles of width (high - low) / tiles_per_dim.
    Tiling i is shifted by ``i * (2j + 1) / tilings`` tile widths (mod 1) in dimension j: the
    displacement vector (1, 3, 5, ...), whose tilings do not all line up along the diagonal, as
    uniform offsets would. The active feature of tiling i is its tile's index plus
    ``i * tiles_per_tiling``, so one observation activates exactly ``tilings`` distinct features.
    """

    def __init__(self, low: Any, high: Any, tilings: int = 8, tiles_per_dim: int = 8) -> None:
        low = np.asarray(low, dtype=np.float64).ravel()
        high = np.asarray(high, dtype=np.float64).ravel()
        if low.shape != high.shape or not len(low):
            raise ValueError(f"tile coding needs matching low and high, got {low} and {high}")
        if not (np.isfinite(low).all() and np.isfinite(high).all() and (high > low).all()):
            raise ValueError(f"tile coding needs finite ranges with high > low: {low}, {high}")
        if tilings < 1 or tiles_per_dim < 1:
            raise ValueError(f"tilings ({tilings}) and tiles_per_dim ({tiles_per_dim}) must be "
                             "at least 1")
        self.low, self.high = low, high
        self.tilings, self.tiles_per_dim = int(tilings), int(tiles_per_dim)
        dims = len(low)
        side = self.tiles_per_dim + 1  # the extra tile covers the box once the grid is shifted
        self.tiles_per_tiling = side**dims
        self.n_features = self.tilings * self.tiles_per_tiling
        self.n_active = self.tilings
        self.scale = self.tiles_per_dim / (high - low)
        displacement = 2 * np.arange(dims) + 1  # 1, 3, 5, ...
        # offsets[i, j]: how far tiling i is shifted in dimension j, in tile widths, in [0, 1)
        self.offsets = (np.arange(self.tilings)[:, None] * displacement % self.tilings
                        ) / self.tilings
        self.strides = side ** np.arange(dims - 1, -1, -1, dtype=np.int64)  # row-major tile index
        self.bases = np.arange(self.tilings, dtype=np.int64) * self.tiles_per_tiling

    def active(self, obs: Any) -> np.ndarray:
        x = np.asarray(obs, dtype=np.float64)
        scaled = (np.clip(x, self.low, self.high) - self.low) * self.scale  # in [0, tiles]
        # tile coordinates in every tiling: (..., tilings, dims), each in [0, tiles_per_dim]
        coords = np.floor(scaled[..., None, :] + self.offsets).astype(np.int64)
        return coords @ self.strides + self.bases

    def __repr__(self) -> str:
        return (f"TileCoding({self.tilings} tilings of {self.tiles_per_dim} tiles per dimension "
                f"over {len(self.low)} dimensions: {self.n_features:,} features)")


def ranges_for(space: spaces.Box, env_name: str | None) -> tuple[np.ndarray, np.ndarray]:
    """The (low, high) a game's observations are tile-coded over: :data:`RANGES` for the game,
    else the Box's bounds; UserError names a dimension left unbounded."""
    if env_name in RANGES:
        low, high = (np.array(bound, dtype=np.float64) for bound in zip(*RANGES[env_name],
                                                                         strict=True))
    else:
        low, high = space.low.astype(np.float64).ravel(), space.high.astype(np.float64).ravel()
    if len(low) != int(np.prod(space.shape)):
        raise UserError(f"{env_name}: {len(low)} tile-coding ranges for {space}")
    unbounded = [int(i) for i in np.flatnonzero(~(np.isfinite(low) & np.isfinite(high)))]
    if unbounded:
        raise UserError(f"tile coding needs a finite range for every observation dimension; "
                        f"{env_name or 'this game'} leaves dimension(s) "
                        f"{', '.join(map(str, unbounded))} unbounded (ranges are in "
                        f"agentapp/engine/features.py RANGES)")
    return low, high


def feature_map(space: spaces.Space, env_name: str | None, tilings: int,
                tiles_per_dim: int) -> OneHot | TileCoding:
    """One-hot features for a Discrete space, tile coding for a flat Box; UserError otherwise
    or when the tiling would be too large."""
    if isinstance(space, spaces.Discrete):
        return OneHot(int(space.n))
    if not isinstance(space, spaces.Box) or len(space.shape) != 1:
        raise UserError(f"linear features need Discrete or flat Box observations, got {space}")
    size = tilings * (tiles_per_dim + 1) ** space.shape[0]
    if size > MAX_FEATURES:
        raise UserError(f"--set tilings={tilings} --set tiles_per_dim={tiles_per_dim}: "
                        f"{space.shape[0]} dimensions make {size:,} features, more than "
                        f"{MAX_FEATURES:,}; use fewer tiles per dimension")
    low, high = ranges_for(space, env_name)
    return TileCoding(low, high, tilings, tiles_per_dim)
