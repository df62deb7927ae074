"""Is the dashboard responsive while it trains, and does it cost training speed?

Two measurements, for a cheap game trained in a thread (CartPole, PPO) and a pixel game trained
in a child process (Pong, A2C), each for ``--seconds``:

* **key latency**: while training runs on the dashboard, ``p`` is pressed every half second (it
  pauses, the next press resumes); the latency is the time from the key press to the moment the
  dashboard's handler reached the runner. Target: under 100 ms.
* **speed**: agent steps per second of the same training headless (the engine loop and the run's
  CSV / TensorBoard sinks, as ``agentapp train --headless`` runs them) and on the dashboard with
  the live view on (under Textual's headless driver, which lays out and renders every frame but
  sends it nowhere), counted over the same seconds of unpaused training. Target: the dashboard
  within 10% of headless.

    python benchmarks/tui_latency.py [--seconds 30] [--repeats 2] [--only cartpole|pong]

It exits 0 when both targets are met and 1 when one is missed (for scripts and CI).

Run it on an otherwise idle machine. The two sides are timed one after the other, alternately,
``--repeats`` times each, and the medians are compared: a single pair is at the mercy of the
machine's moods (a 2-core VM's speed drifts by 10-20% from minute to minute).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from _common import load_average, load_warning, machine, machine_line

from agentapp.engine import loop
from agentapp.engine.control import Control
from agentapp.engine.events import Metrics, RunStarted
from agentapp.engine.plan import RunConfig, prepare
from agentapp.engine.sinks import default_sinks
from agentapp.tui.app import AgentApp
from agentapp.tui.runner import Runner, runner_for

CASES = {
    "cartpole": RunConfig(game="cartpole", algo="ppo", steps=10_000_000, seed=0),
    "pong": RunConfig(game="pong", algo="a2c", steps=10_000_000, seed=0),
}
LATENCY_TARGET_MS = 100.0
SPEED_TOLERANCE = 0.10


def headless_speed(config: RunConfig, seconds: float) -> float:
    """Steps per second of headless training over *seconds*, after its first Metrics event (the
    environments and networks are up by then): the loop feeding the same CSV and TensorBoard
    sinks as ``agentapp train --headless`` (the dashboard's runners feed them too)."""
    control, first, sinks = Control(), None, default_sinks()
    for event in loop.train(prepare(config), control):
        for sink in sinks:
            sink(event)
        if isinstance(event, Metrics):
            if first is None:
                first = (time.perf_counter(), event.step)
            elif time.perf_counter() - first[0] >= seconds:
                control.stop("interrupted")
                last = (time.perf_counter(), event.step)
    return (last[1] - first[1]) / (last[0] - first[0])


class TimedRunner(Runner):
    """A real runner that notes when a pause request reaches it, and the steps it reports."""

    def __init__(self, inner: Runner) -> None:
        self.inner = inner
        self.reached: list[float] = []
        self.steps: list[tuple[float, int]] = []

    def start(self, post) -> None:
        def seen(item) -> None:
            if isinstance(item, Metrics | RunStarted):
                step = item.step if isinstance(item, Metrics) else item.start_step
                self.steps.append((time.perf_counter(), step))
            post(item)

        self.inner.start(seen)

    def toggle_pause(self) -> bool:
        self.reached.append(time.perf_counter())
        return self.inner.toggle_pause()

    def request_save(self) -> None:
        self.inner.request_save()

    def request_eval(self) -> None:
        self.inner.request_eval()

    def stop(self, reason: str = "interrupted") -> None:
        self.inner.stop(reason)

    @property
    def alive(self) -> bool:
        return self.inner.alive

    def join(self, timeout: float | None = None) -> None:
        self.inner.join(timeout)


async def on_dashboard(config: RunConfig, seconds: float) -> tuple[list[float], float]:
    """Key latencies (ms) and steps per second of *config* trained on the dashboard."""
    runner = TimedRunner(runner_for(replace(config, live_view=True)))
    app = AgentApp(runner=runner, runs_dir=config.runs_dir)
    latencies: list[float] = []
    async with app.run_test(size=(160, 50)) as pilot:
        while len(runner.steps) < 2:  # training is up when its second Metrics arrives
            await asyncio.sleep(0.1)
        began, began_step = runner.steps[-1]
        await asyncio.sleep(seconds)  # speed: undisturbed
        ended, ended_step = runner.steps[-1]
        for _ in range(10):  # latency: pause and resume, while the live view keeps drawing
            pressed = time.perf_counter()
            await pilot.press("p")
            while len(runner.reached) <= len(latencies):
                await asyncio.sleep(0.001)
            latencies.append(1000 * (runner.reached[-1] - pressed))
            await asyncio.sleep(0.5)
        app.stop_training_and_exit("interrupted")
        while runner.alive:
            await asyncio.sleep(0.1)
    return latencies, (ended_step - began_step) / (ended - began)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=2,
                        help="headless / dashboard pairs per game (medians are compared)")
    parser.add_argument("--only", choices=sorted(CASES))
    args = parser.parse_args()
    load = load_average()
    print(machine_line(machine()))
    if load_warning(load):
        print(load_warning(load))
    rows, ok = [], True
    with tempfile.TemporaryDirectory() as tmp:
        for name, config in CASES.items():
            if args.only and name != args.only:
                continue
            config = replace(config, runs_dir=str(Path(tmp) / name))
            headless_runs, tui_runs, latencies = [], [], []
            for _ in range(args.repeats):
                headless_runs.append(headless_speed(config, args.seconds))
                pressed, speed = asyncio.run(on_dashboard(config, args.seconds))
                tui_runs.append(speed)
                latencies += pressed
            headless, tui = statistics.median(headless_runs), statistics.median(tui_runs)
            worst, median = max(latencies), statistics.median(latencies)
            ratio = tui / headless
            ok &= worst < LATENCY_TARGET_MS and ratio >= 1 - SPEED_TOLERANCE
            rows.append(f"{name:<9} {config.algo:<4} {headless:>9.0f} {tui:>9.0f} {ratio:>6.2f}"
                        f" {median:>8.1f} {worst:>8.1f}")
    print(f"{'game':<9} {'algo':<4} {'headless':>9} {'tui':>9} {'ratio':>6} "
          f"{'key p50':>8} {'key max':>8}   (steps/s; ms)")
    print("\n".join(rows))
    print(f"targets: key press handled within {LATENCY_TARGET_MS:.0f} ms; dashboard speed within "
          f"{SPEED_TOLERANCE:.0%} of headless -> {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
