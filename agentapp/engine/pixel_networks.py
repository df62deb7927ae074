"""Convolutional torsos for pixel observations: the Nature-DQN CNN, its smaller 2013 predecessor
and an IMPALA-style ResNet.

Atari agents see a stack of 84x84 grayscale frames. The frames travel to the device as uint8 (a
quarter of the bytes of float32) and are scaled to [0, 1] there, inside the network, so the host
never makes a float copy. Both torsos end in a ReLU feature vector (``out_dim`` wide) that the Q,
policy and value heads of ``networks.py`` read.

- ``nature``: Mnih et al. (2015), "Human-level control through deep reinforcement learning":
  32 8x8/4, 64 4x4/2, 64 3x3/1 convolutions and a 512-unit layer; the standard for DQN, A2C and PPO
  on Atari, and cheap enough for a small CPU.
- ``small``: Mnih et al. (2013), "Playing Atari with deep reinforcement learning": 16 8x8/4 and
  32 4x4/2 convolutions and a 256-unit layer, the network the A3C paper (Mnih et al. 2016)
  trained its Atari agents with (OpenAI Baselines' ``cnn_small``). A third of the Nature CNN's
  arithmetic per frame: on a small CPU, where the learner bounds the speed, it trains 2-2.5x as
  many samples per second (``benchmarks/cnn_speed.py --network small``).
- ``impala``: Espeholt et al. (2018), IMPALA's residual network (three stages of 16, 32, 32
  channels, each a convolution, a 3x3/2 max-pool and two residual blocks) with a 256-unit layer:
  slower per sample, often better per sample on harder games.

Two GPU options act on these torsos only, since they hold nearly all of a pixel agent's arithmetic
(:func:`speed_up`; ``DeepAlgorithm`` applies them when it trains on a CUDA device):

- ``precision=bf16``: the torso runs under bfloat16 autocast and hands float32 features on, so
  the heads, the losses (PPO's probability ratio) and the optimizer stay float32.
- ``compile``: ``torch.compile`` of the torso (``reduce-overhead`` adds CUDA graphs, which cut
  the kernel launches that bound a small CNN on a large GPU).

Both are GPU-only: on the 2-core CPU here (``benchmarks/cnn_speed.py``) bfloat16 trained 10x
slower and the compiled torso trained and acted no faster than the eager one beyond the
run-to-run spread.
"""

from __future__ import annotations

import math

import torch
from gymnasium import spaces
from torch import nn

PIXEL_NETWORKS = ("nature", "small", "impala")
PRECISIONS = ("fp32", "bf16")
COMPILE_MODES = ("off", "default", "reduce-overhead", "max-autotune")


def is_pixels(space: spaces.Space) -> bool:
    """True for image observations: a uint8 Box of (channels or stacked frames, height, width)."""
    return isinstance(space, spaces.Box) and space.dtype == "uint8" and len(space.shape) == 3


def _init(layer: nn.Conv2d | nn.Linear, gain: float = math.sqrt(2)) -> nn.Module:
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


def _scaled(obs: torch.Tensor, frame_dims: int = 3) -> torch.Tensor:
    """A batch of frames as float in [0, 1] (one observation becomes a batch of one)."""
    if obs.dim() == frame_dims:
        obs = obs.unsqueeze(0)
    return obs.float() / 255.0 if obs.dtype == torch.uint8 else obs.float()


class PixelTorso(nn.Module):
    """Base of the CNN torsos (``convs`` then a ``linear`` layer): scales the frames, then runs
    :meth:`features` (under bfloat16 autocast when ``bf16`` is set, returning float32)."""

    bf16 = False
    convs: nn.Module
    linear: nn.Module

    def prepare(self, frames: torch.Tensor) -> torch.Tensor:
        """The scaled frames as the first layer wants them (their memory layout)."""
        return frames

    def features(self, frames: torch.Tensor) -> torch.Tensor:
        return self.linear(self.convs(frames))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        frames = self.prepare(_scaled(obs))
        if not self.bf16:
            return self.features(frames)
        with torch.autocast(frames.device.type, dtype=torch.bfloat16):
            return self.features(frames).float()


def speed_up(module: nn.Module, precision: str = "fp32", compile_mode: str = "off") -> int:
    """Apply ``precision`` and ``compile_mode`` to every pixel torso in *module* (its weights and
    their names stay as they are, so checkpoints do not change); returns how many it found."""
    torsos = [part for part in module.modules() if isinstance(part, PixelTorso)]
    for torso in torsos:
        torso.bf16 = precision == "bf16"
        if compile_mode != "off":
            torso.compile(mode=compile_mode)
    return len(torsos)


class _ConvStack(PixelTorso):
    """Strided convolutions, each followed by a ReLU, then one ReLU layer of *features* units;
    *convs* lists each convolution as (channels out, kernel, stride)."""

    def __init__(self, space: spaces.Box, convs: tuple[tuple[int, int, int], ...],
                 features: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = space.shape[0]
        for out, kernel, stride in convs:
            layers += [_init(nn.Conv2d(channels, out, kernel, stride=stride)), nn.ReLU()]
            channels = out
        self.convs = nn.Sequential(*layers, nn.Flatten())
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, *space.shape)).shape[1]
        self.linear = nn.Sequential(_init(nn.Linear(flat, features)), nn.ReLU())
        self.out_dim = features
        # Channels-last convolutions: on a 2-core CPU a training step of a 256-frame batch takes
        # 143 ms instead of 172 (the 8x8/4 first layer alone: 28 ms instead of 76).
        self.convs.to(memory_format=torch.channels_last)

    def prepare(self, frames: torch.Tensor) -> torch.Tensor:
        return frames.contiguous(memory_format=torch.channels_last)


class NatureCNN(_ConvStack):
    """Stacked frames ``[B, C, 84, 84]`` -> 512 features (Mnih et al. 2015)."""

    def __init__(self, space: spaces.Box, features: int = 512) -> None:
        super().__init__(space, ((32, 8, 4), (64, 4, 2), (64, 3, 1)), features)


class SmallCNN(_ConvStack):
    """Stacked frames -> 256 features (Mnih et al. 2013; the A3C paper's network)."""

    def __init__(self, space: spaces.Box, features: int = 256) -> None:
        super().__init__(space, ((16, 8, 4), (32, 4, 2)), features)


class _Residual(nn.Module):
    """x + conv(relu(conv(relu(x)))) at a fixed number of channels."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv0 = _init(nn.Conv2d(channels, channels, 3, padding=1))
        self.conv1 = _init(nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv1(torch.relu(self.conv0(torch.relu(x))))


class ImpalaCNN(PixelTorso):
    """Stacked frames -> 256 features through IMPALA's three residual stages."""

    def __init__(self, space: spaces.Box, stages: tuple[int, ...] = (16, 32, 32),
                 features: int = 256) -> None:
        super().__init__()
        channels = space.shape[0]
        layers: list[nn.Module] = []
        for out in stages:
            layers += [_init(nn.Conv2d(channels, out, 3, padding=1)),
                       nn.MaxPool2d(3, stride=2, padding=1), _Residual(out), _Residual(out)]
            channels = out
        layers += [nn.ReLU(), nn.Flatten()]
        self.convs = nn.Sequential(*layers)
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, *space.shape)).shape[1]
        self.linear = nn.Sequential(_init(nn.Linear(flat, features)), nn.ReLU())
        self.out_dim = features


def pixel_torso(space: spaces.Box, network: str) -> nn.Module:
    """The named convolutional torso for *space*."""
    if network == "impala":
        return ImpalaCNN(space)
    if network == "small":
        return SmallCNN(space)
    return NatureCNN(space)
