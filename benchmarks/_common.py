"""Helpers shared by the benchmarks (the Atari ones, ``cnn_speed.py``, ``classic_presets.py``).

Timings are only worth as much as the machine was quiet while they ran, so both scripts describe
the machine in one line, warn when it was already busy before they started (the 1-minute load
average) and measure the CPU time other processes took during each measurement (``/proc/stat``
less the measured process's own). Not a script: the two benchmarks import it (they run as
``python benchmarks/<name>.py``, which puts this folder on ``sys.path``).
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

BUSY_LOAD = 0.5
"""A 1-minute load average above this before starting means other work shares the machine."""
CONTENDED = 0.1
"""A measurement shared the machine when other processes took more than this share of a core."""


def version(name: str) -> str | None:
    """The installed version of distribution *name*, None when it is not installed."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, ``platform`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_name() -> str | None:
    """The first NVIDIA GPU's name (``nvidia-smi``; no CUDA context is created), else None."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    names = out.stdout.strip().splitlines() if out.returncode == 0 else []
    return names[0].strip() if names else None


def machine() -> dict[str, Any]:
    """CPU model and cores, GPU, Python and library versions, thread-related environment."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        usable = os.cpu_count()
    return {
        "cpu": cpu_model(), "cores": os.cpu_count(), "usable_cores": usable,
        "gpu": gpu_name(), "python": platform.python_version(),
        "platform": platform.platform(), "torch": version("torch"),
        "gymnasium": version("gymnasium"), "ale_py": version("ale-py"),
        "agentapp": version("agentapp"), "stable_baselines3": version("stable-baselines3"),
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
                if k in os.environ},
    }


def machine_line(info: dict[str, Any]) -> str:
    """One line describing *info* (from :func:`machine`)."""
    line = (f"machine: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable)"
            f"{'; GPU ' + info['gpu'] if info['gpu'] else '; no GPU'}; "
            f"python {info['python']}; torch {info['torch']}; ale-py {info['ale_py']}; "
            f"agentapp {info['agentapp']}")
    return line + (f"; {info['env']}" if info["env"] else "")


def load_average() -> float | None:
    """The 1-minute load average, None where the platform has none."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def load_warning(load: float | None) -> str | None:
    """A warning when the machine was busy before the benchmark started, else None."""
    if load is None or load <= BUSY_LOAD:
        return None
    return (f"WARNING: the 1-minute load average was {load:.2f} before starting: other work "
            f"shares this machine and distorts the figures; measure on an idle machine")


def busy_cpu_s() -> float | None:
    """CPU seconds the whole machine has been busy since boot (/proc/stat), None elsewhere."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    ticks = [int(f) for f in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def contended(other_cpu_s: float | None, seconds: float) -> bool:
    """Did other processes take more than CONTENDED of a core, on average, over *seconds*?"""
    return other_cpu_s is not None and other_cpu_s > CONTENDED * max(seconds, 1e-9)


def settings_from(items: list[str], error) -> dict[str, str]:
    """``--set key=value`` items as a dict; *error* (a parser's ``error``) for one without ``=``."""
    bad = [item for item in items if "=" not in item]
    if bad:
        error(f"--set {bad[0]}: expected key=value")
    return dict(item.split("=", 1) for item in items)
