"""The neural networks the deep methods share: observation encoding, MLP torsos, Q and actor-critic.

Every deep algorithm needs the same few pieces: turn an observation (a Discrete cell index or a
vector Box; pixels go through a CNN of ``pixel_networks.py``) into a float vector, pass it through a
small MLP initialised the way CleanRL does
(orthogonal weights, zero biases, a tiny output layer for the policy so it starts near uniform),
and read off Q-values, or a policy distribution and a state value. Keeping them here means DQN,
REINFORCE, A2C and PPO differ only in their update maths, and a network's shape is determined by
its constructor arguments alone (so a checkpoint can be checked against them).

All modules work on a batch (the first dimension); a single observation is treated as a batch of
one. They follow the device of their own parameters and never call ``.cuda()``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from torch import nn
from torch.distributions import Categorical, Distribution, Independent, Normal

from agentapp.engine.pixel_networks import PIXEL_NETWORKS, is_pixels, pixel_torso

ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}
"""The activations a network may name (``--set activation=relu``)."""


def layer_init(layer: nn.Linear, std: float = math.sqrt(2), bias: float = 0.0) -> nn.Linear:
    """Orthogonal weights with gain *std* and constant biases (Saxe et al. 2014; CleanRL)."""
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer


def obs_dim(space: spaces.Space) -> int:
    """Width of the encoded observation: n for Discrete(n) (one-hot), the size of a Box."""
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    if isinstance(space, spaces.Box):
        return int(np.prod(space.shape, dtype=np.int64))
    raise TypeError(f"no encoder for {type(space).__name__} observations")


def _as_tensor(obs: Any, module: nn.Module) -> torch.Tensor:
    """*obs* as a tensor on *module*'s device (numpy arrays and lists are converted, tensors
    moved); a tensor already there passes straight through, as it does on every hot path."""
    device = _device_of(module)
    if isinstance(obs, torch.Tensor):
        return obs if obs.device == device else obs.to(device)
    return torch.as_tensor(np.asarray(obs), device=device)


def _device_of(module: nn.Module) -> torch.device:
    """The device of *module*'s parameters, remembered (looking it up anew on every call costs
    more than a small network's forward pass); :class:`_Network` forgets it when moved."""
    device = module.__dict__.get("_device")
    if device is None:
        device = module.__dict__["_device"] = next(module.parameters()).device
    return device


class _Network(nn.Module):
    """A module that remembers its device between moves (``.to``, ``.cuda``, ``.cpu``)."""

    def _apply(self, fn, recurse=True):  # type: ignore[override]
        self.__dict__.pop("_device", None)
        return super()._apply(fn, recurse)


class ObsEncoder(nn.Module):
    """Observation -> float features ``[B, obs_dim]``: one-hot for Discrete, flattened Box."""

    def __init__(self, space: spaces.Space) -> None:
        super().__init__()
        self.discrete = isinstance(space, spaces.Discrete)
        self.out_dim = obs_dim(space)
        self.obs_shape: tuple[int, ...] = () if self.discrete else tuple(space.shape)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if obs.dim() == len(self.obs_shape):  # one observation: make it a batch of one
            obs = obs.unsqueeze(0)
        if self.discrete:
            return F.one_hot(obs.long().reshape(-1), self.out_dim).float()
        return obs.float().reshape(obs.shape[0], -1)


NETWORKS = ("auto", "mlp", *PIXEL_NETWORKS)
"""Torsos a network may name (``--set network=impala``); ``auto``: ``nature`` for pixels, else
``mlp``."""


def make_encoder(space: spaces.Space, network: str = "auto") -> nn.Module:
    """The module that turns observations into features (``.out_dim`` wide): a convolutional
    torso for pixels, one-hot / flatten for everything else. Refuses a CNN on vectors."""
    if network not in NETWORKS:
        raise ValueError(f"unknown network {network!r} (expected one of {list(NETWORKS)})")
    pixels = is_pixels(space)
    if network in PIXEL_NETWORKS and not pixels:
        raise ValueError(f"network={network} needs image observations")
    if pixels and network != "mlp":
        return pixel_torso(space, "nature" if network == "auto" else network)
    return ObsEncoder(space)


def mlp(
    in_dim: int,
    hidden: Sequence[int],
    activation: str = "tanh",
    out_dim: int | None = None,
    out_std: float = 1.0,
) -> nn.Sequential:
    """Linear+activation per hidden size (orthogonal, gain sqrt 2), then an optional linear
    output layer with gain *out_std*. Without *out_dim* the last hidden layer is the output."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r} (expected one of {list(ACTIVATIONS)})")
    layers: list[nn.Module] = []
    width = in_dim
    for size in hidden:
        layers += [layer_init(nn.Linear(width, size)), ACTIVATIONS[activation]()]
        width = size
    if out_dim is not None:
        layers.append(layer_init(nn.Linear(width, out_dim), std=out_std))
    return nn.Sequential(*layers)


class QNetwork(_Network):
    """Action values Q(s, ·) for a discrete action space (DQN, Mnih et al. 2015).

    With ``dueling=True`` the torso feeds a state-value head and an advantage head, combined as
    Q(s, a) = V(s) + A(s, a) - mean_a' A(s, a') (Wang et al. 2016, eq. 9), which keeps V and A
    identifiable.
    """

    def __init__(
        self,
        obs_space: spaces.Space,
        n_actions: int,
        hidden: Sequence[int] = (64, 64),
        activation: str = "relu",
        dueling: bool = False,
        network: str = "auto",
        orthogonal: bool = True,
    ) -> None:
        super().__init__()
        self.n_actions = int(n_actions)
        self.dueling = dueling
        self.encoder = make_encoder(obs_space, network)
        if not isinstance(self.encoder, ObsEncoder):
            hidden = ()  # a CNN torso ends in its own feature layer: the heads read it directly
        width = hidden[-1] if hidden else self.encoder.out_dim
        if dueling:
            self.torso = mlp(self.encoder.out_dim, hidden, activation)
            self.value_head = layer_init(nn.Linear(width, 1), std=1.0)
            self.advantage_head = layer_init(nn.Linear(width, self.n_actions), std=1.0)
        else:
            self.torso = mlp(self.encoder.out_dim, hidden, activation, self.n_actions, 1.0)
        if not orthogonal:  # PyTorch's own init of the MLP layers (as SB3's and CleanRL's DQN)
            for part in (self.torso, getattr(self, "value_head", None),
                         getattr(self, "advantage_head", None)):
                for layer in part.modules() if part is not None else ():
                    if isinstance(layer, nn.Linear):
                        layer.reset_parameters()

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        features = self.torso(self.encoder(_as_tensor(obs, self)))
        if not self.dueling:
            return features
        value = self.value_head(features)
        advantage = self.advantage_head(features)
        return value + advantage - advantage.mean(dim=1, keepdim=True)  # Wang et al. eq. 9


class ActorCritic(_Network):
    """A policy pi(a|s) and (optionally) a state value V(s), for REINFORCE, A2C and PPO.

    By default the actor and the critic have separate torsos (CleanRL's PPO): the actor's output
    layer has gain 0.01, so the first policy is nearly uniform, and the critic's gain 1.0.
    ``shared=True`` puts both heads on one torso. ``value=False`` builds no critic (REINFORCE
    without a baseline). Discrete actions get a categorical policy over logits; Box actions a
    diagonal Gaussian whose log standard deviation is a learned, state-independent parameter
    (initially *log_std_init*, 0 by default: a standard deviation of 1). Gaussian actions are not
    squashed: the algorithm clips them to the bounds when it steps the environment, and learns
    from the unclipped sample.
    """

    def __init__(
        self,
        obs_space: spaces.Space,
        action_space: spaces.Space,
        hidden: Sequence[int] = (64, 64),
        activation: str = "tanh",
        shared: bool = False,
        value: bool = True,
        network: str = "auto",
        log_std_init: float = 0.0,
    ) -> None:
        super().__init__()
        self.encoder = make_encoder(obs_space, network)
        if not isinstance(self.encoder, ObsEncoder):
            # One CNN for both heads, read directly (CleanRL's and SB3's Atari policies): two
            # CNNs would double the cost of every forward pass for little gain.
            hidden, shared = (), True
        self.continuous = isinstance(action_space, spaces.Box)
        if self.continuous:
            self.action_shape: tuple[int, ...] = tuple(action_space.shape)
            n_out = int(np.prod(self.action_shape, dtype=np.int64))
            self.log_std = nn.Parameter(torch.full((n_out,), float(log_std_init)))
        elif isinstance(action_space, spaces.Discrete):
            self.action_shape = ()
            n_out = int(action_space.n)
        else:
            raise TypeError(f"no policy head for {type(action_space).__name__} actions")
        in_dim = self.encoder.out_dim
        self.critic: nn.Module | None = None
        if shared:
            width = hidden[-1] if hidden else in_dim
            self.torso: nn.Module = mlp(in_dim, hidden, activation)
            self.actor: nn.Module = layer_init(nn.Linear(width, n_out), std=0.01)
            if value:
                self.critic = layer_init(nn.Linear(width, 1), std=1.0)
        else:
            self.torso = nn.Identity()
            self.actor = mlp(in_dim, hidden, activation, n_out, out_std=0.01)
            if value:
                self.critic = mlp(in_dim, hidden, activation, 1, out_std=1.0)

    @property
    def has_value(self) -> bool:
        return self.critic is not None

    def _features(self, obs: Any) -> torch.Tensor:
        return self.torso(self.encoder(_as_tensor(obs, self)))

    def _distribution(self, features: torch.Tensor) -> Distribution:
        out = self.actor(features)
        if not self.continuous:
            # Arguments are valid by construction: skip torch's checks, which cost more than the
            # small networks themselves on the CPU.
            return Categorical(logits=out, validate_args=False)
        mean = out.reshape(out.shape[0], *self.action_shape)
        std = self.log_std.exp().reshape(self.action_shape).expand_as(mean)
        # Independent sums log-probs and entropies over the action dimensions: one per sample.
        return Independent(Normal(mean, std, validate_args=False), len(self.action_shape),
                           validate_args=False)

    def _value(self, features: torch.Tensor) -> torch.Tensor:
        if self.critic is None:
            raise RuntimeError("this ActorCritic was built with value=False: it has no critic")
        return self.critic(features).squeeze(-1)

    def distribution(self, obs: torch.Tensor) -> Distribution:
        """pi(·|s) for a batch of observations."""
        return self._distribution(self._features(obs))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """V(s) as a ``[B]`` tensor; raises when the network has no critic."""
        return self._value(self._features(obs))

    def forward(self, obs: torch.Tensor) -> tuple[Distribution, torch.Tensor | None]:
        """``(pi(·|s), V(s) or None)``, computing a shared torso once."""
        features = self._features(obs)
        return self._distribution(features), (self._value(features) if self.has_value else None)

    def evaluate_actions(
        self, obs: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``(log pi(a|s), entropy, V(s) or None)`` for stored actions (the PPO/A2C update)."""
        dist, value = self(obs)
        return dist.log_prob(actions), dist.entropy(), value

    @torch.no_grad()
    def act(
        self, obs: torch.Tensor, greedy: bool, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Actions for a batch: the most likely action (the mean for Gaussians) when *greedy*,
        else a sample (drawn from *generator* when given, torch's global generator otherwise)."""
        if greedy and not self.continuous:  # argmax of the logits: no distribution needed
            return self.actor(self._features(obs)).argmax(dim=-1)
        dist = self.distribution(obs)
        if self.continuous:
            mean = dist.base_dist.loc
            if greedy:
                return mean
            if generator is None:
                noise = torch.randn_like(mean)
            else:
                noise = torch.randn(mean.shape, generator=generator, device=generator.device)
            return mean + dist.base_dist.scale * noise.to(mean.device)
        if greedy:
            return dist.logits.argmax(dim=-1)
        if generator is None:
            return dist.sample()
        probs = dist.probs.to(generator.device)
        return torch.multinomial(probs, 1, generator=generator).squeeze(-1).to(dist.probs.device)
