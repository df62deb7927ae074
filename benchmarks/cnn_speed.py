"""How fast does the pixel network train and act, and do the GPU options pay?

    python benchmarks/cnn_speed.py [--device auto|cpu|cuda] [--seconds 10] [--batch 256]
                                   [--act-batch 8] [--threads N] [--variants eager,bf16,compile]
                                   [--network nature|small|impala] [--json]

The learner bounds a pixel agent's speed on a small machine (``atari_throughput.py`` splits the
time), so this measures the learner alone: the actor-critic that PPO and A2C build for Pong
(``ActorCritic`` on 4 stacked 84x84 frames: the Nature CNN, or the torso ``--network`` names, a
policy and a value head), on random uint8 frames already on the device.

* train: one PPO-shaped step on a minibatch of ``--batch`` frames (forward, a policy-gradient,
  value and entropy loss, backward, gradient clipping, fused Adam), in samples per second;
* act: the forward pass that picks actions for ``--act-batch`` environments, in observations
  per second.

Each variant builds the network afresh: ``eager`` (float32, as training runs by default),
``bf16`` (the torso under bfloat16 autocast: ``--set precision=bf16``) and ``compile``
(``torch.compile`` of the torso: ``--set compile=default``; ``reduce-overhead`` on CUDA, where
CUDA graphs are the point). Both options are refused on the CPU in training; measuring them here
on a CPU says why. A variant warms up (compiling included) for a few steps before the clock
starts; the warm-up time is reported. Other load spoils the figures: the output warns when the
1-minute load average was high before starting.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np
import torch
from _common import load_average, load_warning, machine, machine_line
from gymnasium import spaces

from agentapp.engine.algorithms.deep import adam
from agentapp.engine.device import configure_threads, resolve_device
from agentapp.engine.networks import ActorCritic
from agentapp.engine.pixel_networks import PIXEL_NETWORKS, speed_up

FRAMES = spaces.Box(0, 255, (4, 84, 84), np.uint8)
ACTIONS = spaces.Discrete(6)  # Pong's action set
VARIANTS = ("eager", "bf16", "compile")
WARMUP_STEPS = 3


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(step, device: torch.device, seconds: float) -> tuple[int, float]:
    """Call *step* until *seconds* of wall clock have passed; ``(calls, seconds)``."""
    _sync(device)
    began, calls = time.perf_counter(), 0
    while time.perf_counter() - began < seconds:
        step()
        calls += 1
    _sync(device)
    return calls, time.perf_counter() - began


def measure(variant: str, device: torch.device, seconds: float, batch: int,
            act_batch: int, network: str = "nature") -> dict[str, Any]:
    """Train and act with one variant of the network; samples and observations per second."""
    torch.manual_seed(0)
    model = ActorCritic(FRAMES, ACTIONS, network=network).to(device)
    mode = "reduce-overhead" if device.type == "cuda" else "default"
    speed_up(model, precision="bf16" if variant == "bf16" else "fp32",
             compile_mode=mode if variant == "compile" else "off")
    optimizer = adam(list(model.parameters()), lr=2.5e-4, eps=1e-5)
    frames = torch.randint(0, 256, (batch, *FRAMES.shape), dtype=torch.uint8, device=device)
    actions = torch.randint(0, ACTIONS.n, (batch,), device=device)
    returns = torch.randn(batch, device=device)
    acting = frames[:act_batch].clone()

    def train_step() -> None:
        dist, value = model(frames)
        loss = (-dist.log_prob(actions).mean() + 0.5 * (value - returns).pow(2).mean()
                - 0.01 * dist.entropy().mean())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        optimizer.step()

    @torch.no_grad()
    def act_step() -> None:
        model.act(acting, greedy=False)

    began = time.perf_counter()
    for _ in range(WARMUP_STEPS):
        train_step()
        act_step()
    _sync(device)
    warmup = time.perf_counter() - began
    steps, train_s = _timed(train_step, device, seconds)
    calls, act_s = _timed(act_step, device, seconds / 2)
    return {"variant": variant, "warmup_s": round(warmup, 1),
            "train_samples_per_s": steps * batch / train_s,
            "act_obs_per_s": calls * act_batch / act_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="timed training seconds per variant (acting: half)")
    parser.add_argument("--batch", type=int, default=256, help="minibatch (default 256)")
    parser.add_argument("--act-batch", type=int, default=8,
                        help="environments acted for at once (default 8, the PPO preset's)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: agentapp's for pixel games)")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--network", default="nature", choices=PIXEL_NETWORKS,
                        help="the torso (default nature, the Atari presets')")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if not variants or set(variants) - set(VARIANTS):
        parser.error(f"--variants: choose from {','.join(VARIANTS)}")
    device = torch.device(resolve_device(args.device))
    threads = configure_threads(args.threads, pixels=True)
    info, load = machine(), load_average()
    out = sys.stderr if args.json else sys.stdout
    print(f"{machine_line(info)}; device {device}, {threads} torch threads, {args.network} "
          "torso", file=out)
    warning = load_warning(load)
    if warning:
        print(warning, file=out)
    results = []
    for variant in variants:
        try:
            result = measure(variant, device, args.seconds, args.batch, args.act_batch,
                             args.network)
        except Exception as error:  # report and go on: the other variants still count
            result = {"variant": variant, "error": f"{type(error).__name__}: {error}"[:300]}
        results.append(result)
        if "error" in result:
            print(f"{variant:8} FAILED: {result['error']}", file=out, flush=True)
        else:
            print(f"{variant:8} train {result['train_samples_per_s']:8,.0f} samples/s (batch "
                  f"{args.batch})   act {result['act_obs_per_s']:8,.0f} obs/s (batch "
                  f"{args.act_batch})   warm-up {result['warmup_s']:g} s", file=out, flush=True)
    if args.json:
        print(json.dumps({"machine": info, "load_average_1min": load, "device": str(device),
                          "threads": threads, "network": args.network, "batch": args.batch,
                          "act_batch": args.act_batch,
                          "results": results, "warnings": [warning] if warning else []},
                         indent=2))


if __name__ == "__main__":
    main()
