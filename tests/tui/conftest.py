"""Scripted training streams for the dashboard tests, and a robust way to wait for them.

The streams are written by hand (no training, no randomness), so what the dashboard shows is
known exactly; ``wait_for`` polls a condition instead of sleeping a fixed time, because the
runner's thread delivers its events at its own pace. ``async def`` tests (Textual's ``run_test``)
run in a fresh event loop each, without needing an asyncio plugin for pytest.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable

import numpy as np
import pytest

from agentapp.engine.events import (
    CheckpointSaved,
    EpisodeEnded,
    Frame,
    Message,
    Metrics,
    RunFinished,
    RunStarted,
)

RUN_NAME = "cartpole-ppo-20260101-000000"
TOTAL = 100_000
EPISODES = 60
STEPS_PER_EPISODE = 500
SPS = 2000.0


def episode_return(i: int) -> float:
    """A deterministic learning curve with some spread: rises from ~10 towards ~200."""
    return round(10 + 190 * (1 - 0.96 ** i) + (i % 5) * 4 - 8, 2)


def ppo_events(run_dir: str, finish: str | None = None) -> list:
    """A PPO run on CartPole: 60 episodes to step 30,000, losses, a checkpoint, an evaluation,
    a warning and a frame; *finish* (a RunFinished reason) ends it."""
    config = {"game": "cartpole", "algo": "ppo", "step_unit": "steps", "seed": 7}
    events: list = [RunStarted(run_dir, config, 0, TOTAL, "cpu", 0.0)]
    for i in range(1, EPISODES + 1):
        step = i * STEPS_PER_EPISODE
        events.append(EpisodeEnded(step, i, episode_return(i), 100 + i))
        if i % 5 == 0:
            events.append(Metrics(step, {
                "charts/sps": SPS,
                "losses/value_loss": 100.0 * 0.8 ** i,
                "losses/policy_loss": -0.01 * ((i % 7) - 3),
                "losses/entropy": 0.69 - i / 200,
                "losses/approx_kl": 0.0125,
                "losses/clip_fraction": 0.125,
                "losses/explained_variance": 0.5,
                "charts/learning_rate": 3e-4,
                "charts/clip_range": 0.2,
            }))
        if i == 20:
            events.append(CheckpointSaved(step, f"{run_dir}/checkpoints/latest.pt", "latest"))
        if i == 40:
            events.append(Metrics(step, {"eval/mean_return": 150.0, "eval/std_return": 10.0}))
            events.append(Message(step, f"evaluation at step {step}: mean return 150.000 "
                                        f"± 10.000"))
            events.append(Message(step, "replay buffer smaller than asked", "warning"))
    image = np.zeros((40, 60, 3), dtype=np.uint8)
    image[:, :, 2] = 200
    image[10:30, 25:35] = (250, 200, 0)
    events.append(Frame(EPISODES * STEPS_PER_EPISODE, image))
    if finish is not None:
        step = EPISODES * STEPS_PER_EPISODE
        events.append(RunFinished(step, finish, run_dir, step / SPS, 180.5,
                                  "target return 180 reached" if finish == "target" else ""))
    return events


def dqn_events(run_dir: str) -> list:
    """A DQN run on gridworld: epsilon, replay fill and a TD loss falling over four decades."""
    config = {"game": "gridworld:cliff", "algo": "dqn", "step_unit": "steps", "seed": 1}
    events: list = [RunStarted(run_dir, config, 5_000, 20_000, "cuda:0", 12.0)]
    for i in range(1, 21):
        step = 5_000 + i * 100
        events.append(EpisodeEnded(step, 40 + i, -100.0 + 4 * i, 20 + i))
        events.append(Metrics(step, {"charts/sps": 1000.0, "charts/epsilon": 0.5 - i / 100,
                                     "charts/replay_fill": i / 40, "losses/td_loss": 10 ** -(i / 5),
                                     "losses/q_values": -3.5, "custom/thing": 42.0}))
    return events


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests here with ``asyncio.run`` (no pytest-asyncio installed)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True


async def wait_until(pilot, condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Let the app run until *condition()* holds (failing after *timeout* seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for the condition")
        await pilot.pause(0.01)


@pytest.fixture
def wait_for():
    """``await wait_for(pilot, condition)``: :func:`wait_until` as a fixture."""
    return wait_until


@pytest.fixture
def make_app(tmp_path):
    """``make_app(events, hold=True)``: an AgentApp on a dashboard fed by a ScriptedRunner; the
    runners' threads are released when the test ends."""
    from agentapp.tui.app import AgentApp
    from agentapp.tui.runner import ScriptedRunner

    runners: list[ScriptedRunner] = []

    def make(events: list, hold: bool = True) -> AgentApp:
        runner = ScriptedRunner(events, hold=hold)
        runners.append(runner)
        return AgentApp(runner=runner, runs_dir=tmp_path)

    yield make
    for runner in runners:
        runner.stop()  # releases a held script's thread
        runner.join(2)


async def settle(pilot, timeout: float = 10.0) -> None:
    """Wait until two screenshots 0.15 s apart are identical: timers, theme changes and
    redraws in flight have finished, so a snapshot taken now is the same on every run."""
    deadline = time.monotonic() + timeout
    before = pilot.app.export_screenshot()
    while True:
        await pilot.pause(0.15)
        now = pilot.app.export_screenshot()
        if now == before or time.monotonic() > deadline:
            return
        before = now


def snap_matches(snap_compare, make_app, **kwargs) -> bool:
    """``snap_compare`` of a fresh app from *make_app*. One comparison only: a second
    ``snap_compare`` in the same test is checked against a second stored snapshot (syrupy numbers
    them), so a retry could never pass; the screens are drawn deterministically instead."""
    return snap_compare(make_app(), **kwargs)
