"""Pixel agents on real Atari ROMs: short training runs of each method, checkpoints that load back
to identical actions, and evaluations that count the real, unclipped score of whole games."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from agentapp import checkpoints
from agentapp.engine import loop as loop_module
from agentapp.engine import train
from agentapp.engine.evaluate import _play_side_by_side, evaluate
from agentapp.engine.events import EpisodeEnded, Frame, Metrics, RunFinished, RunStarted
from agentapp.engine.frame_replay import FrameReplayBuffer
from agentapp.engine.plan import RunConfig, prepare, restore_agent
from agentapp.games import resolve

NEVER = 10**9
SHORT_GAMES = {"max_frames": "3000"}
"""Games cut off after 750 steps: an untrained greedy agent may never serve again after losing a
life, and would otherwise play the 27,000 steps of a whole game's cap in every evaluation."""

SMALL = {
    "ppo": ({"n_steps": "32", "batch_size": "64", "n_epochs": "1"}, 2),
    "a2c": ({"n_steps": "5"}, 4),
    "dqn": ({"learning_starts": "64", "batch_size": "16", "buffer_size": "2000",
             "target_update_interval": "64", "train_freq": "4"}, 2),
}
"""Settings for a run of a few hundred steps (seconds on a small CPU), and environments."""


def _config(runs_dir: Path, algo: str, steps: int = 384, **kw) -> RunConfig:
    overrides, envs = SMALL[algo]
    return RunConfig(game="breakout", algo=algo, steps=steps, seed=0, envs=envs, device="cpu",
                     overrides={**overrides, **SHORT_GAMES, **kw.pop("set", {})},
                     eval_every=NEVER,
                     eval_episodes=1, runs_dir=str(runs_dir), **kw)


@pytest.mark.parametrize("algo", ["ppo", "a2c", "dqn"])
def test_short_breakout_run_learns_from_pixels_and_reports_whole_games(runs_dir, algo):
    events = list(train(_config(runs_dir, algo, steps=1536)))
    started, finished = events[0], events[-1]
    assert isinstance(started, RunStarted) and isinstance(finished, RunFinished)
    assert finished.reason == "budget" and finished.step >= 1536
    values: dict[str, list[float]] = {}
    for event in events:
        if isinstance(event, Metrics):
            for key, value in event.values.items():
                values.setdefault(key, []).append(value)
    loss = "losses/td_loss" if algo == "dqn" else "losses/policy_loss"
    assert values[loss] and all(np.isfinite(values[loss]))
    # episodes are whole games (five lives), scored in points, not one per lost life
    games = [e for e in events if isinstance(e, EpisodeEnded)]
    assert games, "random play loses a game of Breakout within a few hundred steps"
    assert all(e.length > 50 for e in games)
    config = checkpoints.load(Path(started.run_dir) / "checkpoints" / "latest.pt")["config"]
    assert config["game_params"]["clip_rewards"] and config["game_params"]["life_loss_terminal"]
    assert config["protocol"].startswith("no sticky actions")


def test_dqn_keeps_frames_once_in_its_replay(runs_dir):
    plan = prepare(_config(runs_dir, "dqn"))
    agent = plan.algo_cls(plan.game, plan.game_params, plan.hp, seed=0, budget=384,
                          device="cpu", n_envs=plan.envs)
    assert isinstance(agent.buffer, FrameReplayBuffer)
    agent.close()


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_pixel_checkpoint_loads_back_to_identical_actions(runs_dir, algo):
    events = list(train(_config(runs_dir, algo)))
    run_dir = Path(events[0].run_dir)
    again, _, _ = restore_agent(checkpoints.load(run_dir / "checkpoints" / "latest.pt"))
    other, _, _ = restore_agent(checkpoints.load(run_dir / "checkpoints" / "latest.pt"))
    env = resolve("breakout").make()
    obs, _ = env.reset(seed=3)
    frames = [obs]
    for action in [1, 2, 3, 0, 2, 2, 3]:
        obs, *_ = env.step(action)
        frames.append(obs)
    batch = np.stack(frames)
    assert batch.dtype == np.uint8 and batch.shape == (8, 4, 84, 84)
    np.testing.assert_array_equal(again.act_batch(batch), other.act_batch(batch))
    for a, b in zip(again.state_dict().values(), other.state_dict().values(), strict=False):
        if isinstance(a, dict) and a and isinstance(next(iter(a.values())), torch.Tensor):
            for key in a:
                assert torch.equal(a[key], b[key]), key
    # the copy the shelf ships (no optimizer moments, no environments) plays the same actions
    latest = run_dir / "checkpoints" / "latest.pt"
    slim = checkpoints.save(checkpoints.for_playing(checkpoints.load(latest)),
                            run_dir / "playing.pt")
    assert slim.stat().st_size < 0.6 * latest.stat().st_size
    player, _, _ = restore_agent(checkpoints.load(slim))
    np.testing.assert_array_equal(player.act_batch(batch), again.act_batch(batch))


def test_evaluation_counts_the_real_score_of_whole_games():
    """Batched evaluation (ale-py's C++ environments) plays exactly the games the one-by-one
    single environments play for the same seeds, and scores them in points, unclipped: in Space
    Invaders every alien is worth at least 5."""
    game = resolve("space-invaders")
    plan = prepare(RunConfig(game=game.id, algo="ppo", steps=1000, seed=0, device="cpu"))
    agent = plan.algo_cls(game, plan.game_params, plan.hp, seed=0, budget=1000, device="cpu",
                          n_envs=1)
    batched = evaluate(agent, game, plan.game_params, episodes=2, seed=7)
    rng = np.random.default_rng(7)
    returns, lengths = _play_side_by_side(agent, game, plan.game_params, 2, 7, True, rng)
    assert batched.returns == returns.tolist() and batched.lengths == lengths.tolist()
    assert max(batched.returns) >= 5 and all(r % 5 == 0 for r in batched.returns)
    assert "no sticky actions" in batched.protocol and "space-invaders" in batched.protocol
    sticky = evaluate(agent, game, plan.game_params.__class__(sticky=0.25), episodes=1, seed=7)
    assert "Machado" in sticky.protocol


def test_a_live_view_gets_the_agents_frames_only_when_asked(runs_dir, monkeypatch):
    monkeypatch.setattr(loop_module, "FRAME_INTERVAL", 0.0)  # every update, for a short run
    events = train(_config(runs_dir, "a2c", steps=60, live_view=True))
    frames = [e for e in events if isinstance(e, Frame)]
    assert frames, "a pixel game with live_view on sends pictures"
    image = frames[-1].image
    assert image.shape == (84, 84, 3) and image.dtype == np.uint8
    assert np.array_equal(image[..., 0], image[..., 2]) and image.std() > 0  # grey, not blank
    quiet = list(train(_config(runs_dir, "a2c", steps=60)))
    assert not any(isinstance(e, Frame) for e in quiet)


@pytest.mark.parametrize(("algo", "networks"), [("ppo", ["model"]), ("a2c", ["model"]),
                                                ("dqn", ["q", "q_target"])])
def test_the_gpu_options_reach_every_network_and_stay_off_on_the_cpu(runs_dir, monkeypatch,
                                                                    algo, networks):
    from dataclasses import replace

    from agentapp.engine.algorithms.deep import DeepAlgorithm
    from agentapp.engine.pixel_networks import PixelTorso

    plan = prepare(_config(runs_dir, algo))  # the CPU refuses the options: set them past it
    hp = replace(plan.hp, precision="bf16", compile="reduce-overhead")
    agent = plan.algo_cls(plan.game, plan.game_params, hp, seed=0, budget=plan.schedule_budget,
                          device="cpu", n_envs=plan.envs)
    torsos = [m for m in agent.__dict__.values() if isinstance(m, torch.nn.Module)
              for m in m.modules() if isinstance(m, PixelTorso)]
    assert torsos and not any(t.bf16 or t._compiled_call_impl for t in torsos)  # eager float32
    given = []
    monkeypatch.setattr(DeepAlgorithm, "use_gpu_options", lambda self, *mods: given.extend(mods))
    agent = plan.algo_cls(plan.game, plan.game_params, hp, seed=0, budget=plan.schedule_budget,
                          device="cpu", n_envs=plan.envs)
    assert given == [getattr(agent, name) for name in networks]
