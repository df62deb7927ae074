"""Choosing the compute device and the number of threads.

``--device auto`` takes CUDA when torch sees a GPU and the CPU otherwise; naming a CUDA device that
is not there is bad input. Torch's intra-op threads default to half the machine's cores (at most
8): on a small machine, more threads make environment stepping and the learner fight.
"""

from __future__ import annotations

import os
import re

from agentapp.errors import UserError

_CUDA = re.compile(r"^cuda(:\d+)?$")

GPU_SETTINGS = (("precision", "fp32"), ("compile", "off"))
"""The deep methods' GPU-only settings with their off values (``pixel_networks.speed_up``)."""


def gpu_options_on(hp: object) -> list[str]:
    """``name=value`` of each GPU-only setting of *hp* that is not off."""
    return [f"{name}={getattr(hp, name)}" for name, off in GPU_SETTINGS
            if getattr(hp, name, off) != off]


def resolve_device(spec: str) -> str:
    """``auto`` | ``cpu`` | ``cuda`` | ``cuda:i`` -> the device string training will use."""
    spec = (spec or "auto").strip().lower()
    if spec == "cpu":
        return "cpu"
    if spec != "auto" and not _CUDA.match(spec):
        raise UserError(f"--device {spec}: expected auto, cpu, cuda or cuda:<index>")
    import torch

    available = torch.cuda.is_available()
    if spec == "auto":
        return "cuda" if available else "cpu"
    index = int(spec.partition(":")[2] or 0)
    if not available:
        raise UserError(f"--device {spec}: no CUDA device is available (try --device cpu)")
    if index >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise UserError(f"--device {spec}: only {count} CUDA device(s) are present")
    return spec


def default_threads(pixels: bool = False) -> int:
    """Half the cores (at most 8): the other half steps the environments. On a 2-core machine one
    intra-op thread is also what small networks run fastest with. A CNN on pixels is the other
    way round: the learner dominates, and ale-py's C++ environments step while it waits, so it
    gets every core (at most 8)."""
    cores = os.cpu_count() or 1
    return max(1, min(8, cores if pixels else cores // 2))


def configure_threads(threads: int | None, pixels: bool = False) -> int:
    """Set torch's intra-op threads (when torch is loaded) and return the number used."""
    count = threads or default_threads(pixels)
    import torch

    torch.set_num_threads(count)
    return count


def device_choices() -> list[tuple[str, str]]:
    """``(value, label)`` for every ``--device`` worth offering on this machine, for a front
    end's picker: ``auto`` saying what it would pick, ``cpu``, and each CUDA device torch sees,
    named. Only values :func:`resolve_device` accepts here are listed."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if not count:
        return [("auto", "auto (CPU: no CUDA device)"), ("cpu", "cpu")]
    names = []
    for index in range(count):
        try:
            names.append(torch.cuda.get_device_name(index))
        except RuntimeError:  # a device torch counts but cannot query: still offer it
            names.append("CUDA device")
    choices = [("auto", f"auto (CUDA: {names[0]})"), ("cpu", "cpu"), ("cuda", f"cuda ({names[0]})")]
    choices += [(f"cuda:{i}", f"cuda:{i} ({name})") for i, name in enumerate(names)]
    return choices
