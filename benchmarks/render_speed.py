"""How many pictures a second can the terminal renderers make, on one core?

    python benchmarks/render_speed.py [--seconds 3] [--json]

Watching draws every step: Pong at its natural 15 steps a second (60 when every emulated frame is
shown), CartPole at 50. A renderer that takes most of a frame's time leaves the terminal, the
agent and the emulator fighting for the rest. Measured, one after another in this one thread:

* ``PixelFrame`` on real Pong screens (``resolve("pong").make(render_mode="rgb_array")``, random
  actions, 210x160 RGB) fitted to 80 x 52 cells (79 x 52: the aspect is kept), printed to a
  Rich ``Console`` that writes to an in-memory file, once as truecolor and once as 256 colours
  (Rich finds each colour's nearest palette entry). Target: at least 60 frames a second;
* ``CartPolePicture`` of the states of real CartPole episodes (played by a simple balancing
  rule), 60 cells wide, the same two consoles. Target: at least 2,000 pictures a second (500 us
  each: a few hundred microseconds of the 20 ms a step has at 50 steps a second).

Each case cycles through its frames for ``--seconds`` after one untimed pass (the style caches
warm, as in the second frame of a real game). The figures are pictures per second of wall time;
``cpu us`` is this process's CPU time per picture (what the picture costs even when other work
slows the wall clock) and ``cpu/wall`` near 1 shows the work stayed on one core (numpy runs these
small arrays on one thread). ``KB`` is what one picture writes to the terminal. Other load spoils
the figures: the output warns when the load average was high before starting, and marks a
measurement during which other processes took more than a tenth of a core.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from _common import busy_cpu_s, contended, load_average, load_warning, machine, machine_line
from rich.console import Console, RenderableType

from agentapp.games import resolve
from agentapp.rendering.cartpole import CartPolePicture
from agentapp.rendering.pixels import PixelFrame

PONG_CELLS = (80, 52)
"""Cells wide and lines tall the Pong picture is fitted to."""
CARTPOLE_WIDTH = 60
COLOUR_SYSTEMS = ("truecolor", "256")
TARGETS = {"pong": 60.0, "cartpole": 2000.0}
"""Pictures per second each renderer must reach on one core."""


def pong_frames(count: int = 240, seed: int = 0) -> list[np.ndarray]:
    """*count* colour screens of Pong played with random actions."""
    game = resolve("pong")
    env = game.make(game.params, render_mode="rgb_array")
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    frames = []
    while len(frames) < count:
        _, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
        frames.append(np.array(env.render(), copy=True))
        if terminated or truncated:
            env.reset()
    env.close()
    return frames


def cartpole_states(count: int = 240, seed: int = 0) -> list[tuple[float, float]]:
    """``(cart position, pole angle)`` along CartPole episodes of a policy that pushes the cart
    the way the pole leans (it balances for a while and drifts, so positions vary)."""
    env = resolve("cartpole").make()
    obs, _ = env.reset(seed=seed)
    states = []
    while len(states) < count:
        states.append((float(obs[0]), float(obs[2])))
        obs, _, terminated, truncated, _ = env.step(int(obs[2] + 0.3 * obs[3] > 0))
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()
    return states


def measure(pictures: list[Callable[[], RenderableType]], color_system: str, width: int,
            height: int | None, seconds: float) -> dict[str, Any]:
    """Print the pictures made by *pictures* in turn for *seconds*; pictures per second."""
    out = io.StringIO()
    console = Console(file=out, width=width, height=height, color_system=color_system,
                      force_terminal=True, legacy_windows=False, soft_wrap=False)
    for make in pictures:  # warm-up: style caches, first-use costs
        console.print(make())
    out.seek(0)
    out.truncate()
    count, written = 0, 0
    busy, cpu, wall = busy_cpu_s(), time.process_time(), time.perf_counter()
    while time.perf_counter() - wall < seconds:
        for make in pictures:
            console.print(make())
            written += out.tell()
            out.seek(0)
            out.truncate()
        count += len(pictures)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    after = busy_cpu_s()
    other = None if busy is None or after is None else max(0.0, after - busy - cpu)
    return {"pictures": count, "seconds": round(wall, 3), "fps": count / wall,
            "us": 1e6 * wall / count, "cpu_us": 1e6 * cpu / count, "cpu_per_wall": cpu / wall,
            "kb": written / count / 1024, "other_cpu_s": other}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--json", action="store_true", help="one JSON object, no table")
    args = parser.parse_args()
    load = load_average()
    info = machine()
    frames, states = pong_frames(), cartpole_states()
    width, lines = PONG_CELLS
    cols, rows = PixelFrame(frames[0]).size_for(width, lines)
    cases = {
        "pong": ([lambda f=f: PixelFrame(f, max_width=width, max_height=lines) for f in frames],
                 width, lines, f"PixelFrame {cols}x{rows} of 210x160"),
        "cartpole": ([lambda s=s: CartPolePicture(*s, width=CARTPOLE_WIDTH) for s in states],
                     CARTPOLE_WIDTH + 20, None, f"CartPolePicture {CARTPOLE_WIDTH} wide"),
    }
    results = []
    for name, (pictures, console_width, height, what) in cases.items():
        for system in COLOUR_SYSTEMS:
            result = measure(pictures, system, console_width, height, args.seconds)
            result.update(case=name, what=what, colours=system, target_fps=TARGETS[name],
                          met=result["fps"] >= TARGETS[name])
            results.append(result)
    if args.json:
        print(json.dumps({"machine": info, "load_average": load, "results": results}))
        return 0
    print(machine_line(info))
    if load_warning(load):
        print(load_warning(load))
    print(f"{'renderer':<30} {'colours':<9} {'pics/s':>7} {'us/pic':>7} {'cpu us':>7} "
          f"{'cpu/wall':>8} {'KB':>5} {'target':>12}")
    for r in results:
        shared = "  (shared the machine)" if contended(r["other_cpu_s"], r["seconds"]) else ""
        target = f">={r['target_fps']:.0f}/s " + ("met" if r["met"] else "NOT met")
        print(f"{r['what']:<30} {r['colours']:<9} {r['fps']:>7.0f} {r['us']:>7.0f} "
              f"{r['cpu_us']:>7.0f} {r['cpu_per_wall']:>8.2f} {r['kb']:>5.1f} {target:>12}"
              f"{shared}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
