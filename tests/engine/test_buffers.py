"""Rollout and replay buffers: n-step sums by hand, coverage of minibatches, exact round trips."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from agentapp.engine.buffers import Batch, ReplayBatch, ReplayBuffer, RolloutBuffer
from agentapp.engine.returns import gae

# -- RolloutBuffer ------------------------------------------------------------------------------


def filled_rollout(n_steps: int = 4, n_envs: int = 3) -> RolloutBuffer:
    """Obs of step t, env n is 10*t + n, so every sample is identifiable; action = 2*obs."""
    buf = RolloutBuffer(n_steps, n_envs, (2,), torch.float32)
    gen = torch.Generator().manual_seed(1)
    for step in range(n_steps):
        ids = np.arange(n_envs) + 10 * step
        obs = np.stack([ids, ids], axis=1).astype(np.float32)
        done = np.zeros(n_envs, dtype=bool)
        done[step % n_envs] = step == 1  # one episode ends inside the rollout
        buf.add(obs, torch.as_tensor(2 * ids), torch.rand(n_envs, generator=gen), done,
                torch.rand(n_envs, 1, generator=gen), torch.as_tensor(-ids / 100.0))
    return buf


def test_rollout_buffer_fills_then_refuses_until_reset():
    buf = filled_rollout()
    assert buf.full
    with pytest.raises(RuntimeError, match="full"):
        buf.add(np.zeros((3, 2)), np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(3))
    buf.reset()
    assert not buf.full and buf.pos == 0


def test_rollout_compute_matches_returns_gae():
    buf = filled_rollout()
    last = torch.tensor([0.5, -1.0, 2.0])
    buf.compute(last, gamma=0.9, lam=0.8)
    advantages, returns = gae(buf.rewards, buf.values, buf.dones, last, 0.9, 0.8)
    torch.testing.assert_close(buf.advantages, advantages)
    torch.testing.assert_close(buf.returns, returns)
    assert buf.dones[1].tolist() == [0.0, 1.0, 0.0]


def test_minibatches_cover_every_sample_exactly_once_per_epoch():
    buf = filled_rollout()
    buf.compute(torch.zeros(3), 0.99, 0.95)
    batches = list(buf.minibatches(5, torch.Generator().manual_seed(0)))
    assert [len(b.obs) for b in batches] == [5, 5, 2]  # 12 samples; the last batch is smaller
    assert all(isinstance(b, Batch) for b in batches)
    seen = torch.cat([b.obs[:, 0] for b in batches])
    assert sorted(seen.tolist()) == sorted(buf.obs[..., 0].flatten().tolist())
    assert seen.tolist() != sorted(seen.tolist())  # shuffled
    for b in batches:  # fields stay aligned with their sample
        ids = b.obs[:, 0]
        assert b.actions.tolist() == (2 * ids).long().tolist()
        torch.testing.assert_close(b.old_log_probs, -ids / 100.0)
        step, env = (ids // 10).long(), (ids % 10).long()
        torch.testing.assert_close(b.advantages, buf.advantages[step, env])
        torch.testing.assert_close(b.returns, buf.returns[step, env])
        torch.testing.assert_close(b.old_values, buf.values[step, env])


def test_minibatch_order_follows_the_generator():
    buf = filled_rollout()
    buf.compute(torch.zeros(3), 0.99, 0.95)

    def order(seed: int) -> list[float]:
        gen = torch.Generator().manual_seed(seed)
        return torch.cat([b.obs[:, 0] for b in buf.minibatches(4, gen)]).tolist()

    assert order(3) == order(3)
    assert order(3) != order(4)


def test_whole_batch_is_time_major_and_needs_compute_first():
    buf = filled_rollout(n_steps=2, n_envs=2)
    with pytest.raises(RuntimeError, match="compute"):
        buf.batch()
    buf.compute(torch.zeros(2), 0.99, 0.95)
    assert buf.batch().obs[:, 0].tolist() == [0.0, 1.0, 10.0, 11.0]


# -- ReplayBuffer -------------------------------------------------------------------------------


def add_episode(buf: ReplayBuffer, rewards, end: str) -> None:
    """One env: obs t -> t+1 with the given rewards; the last step terminates or truncates."""
    for step, reward in enumerate(rewards):
        last = step == len(rewards) - 1
        buf.add(np.array([[step]]), np.array([step]), np.array([reward]),
                np.array([last and end == "terminated"]), np.array([last and end == "truncated"]),
                np.array([[step + 1]]))


def rows(buf: ReplayBuffer) -> list[tuple]:
    n = len(buf)
    return list(zip(buf.obs[:n, 0].tolist(), buf.rewards[:n].tolist(), buf.next_obs[:n, 0].tolist(),
                    buf.dones[:n].tolist(), buf.discounts[:n].tolist(), strict=True))


def test_three_step_returns_across_a_termination():
    buf = ReplayBuffer(10, (1,), n_step=3, gamma=0.5)
    add_episode(buf, [1, 2, 4, 8], "terminated")
    # (s, R, s', done, gamma^k):
    # s0: 1 + 0.5*2 + 0.25*4 = 3, bootstraps from s3 with 0.5^3
    # s1: 2 + 0.5*4 + 0.25*8 = 6, window reaches the terminal step: done
    # s2: 4 + 0.5*8 = 8 (2 steps), s3: 8 (1 step), both done
    assert rows(buf) == [(0, 3.0, 3, 0.0, 0.125), (1, 6.0, 4, 1.0, 0.125),
                         (2, 8.0, 4, 1.0, 0.25), (3, 8.0, 4, 1.0, 0.5)]
    assert buf.actions[:4].tolist() == [0, 1, 2, 3]
    assert all(len(w) == 0 for w in buf.windows)


def test_three_step_returns_across_a_truncation_bootstrap_from_the_final_observation():
    buf = ReplayBuffer(10, (1,), n_step=3, gamma=0.5)
    add_episode(buf, [1, 2, 4, 8], "truncated")
    # the same sums, but no step is terminal: the cut windows bootstrap from s4 with gamma^k
    assert rows(buf) == [(0, 3.0, 3, 0.0, 0.125), (1, 6.0, 4, 0.0, 0.125),
                         (2, 8.0, 4, 0.0, 0.25), (3, 8.0, 4, 0.0, 0.5)]


def test_episodes_shorter_than_n_and_parallel_envs_keep_separate_windows():
    buf = ReplayBuffer(10, (), obs_dtype=np.int64, n_envs=2, n_step=3, gamma=0.5)
    # env 0 terminates after 2 steps, env 1 keeps going
    buf.add([0, 10], [0, 1], [1.0, 100.0], [False, False], [False, False], [1, 11])
    buf.add([1, 11], [0, 1], [2.0, 200.0], [True, False], [False, False], [2, 12])
    assert len(buf) == 2  # env 0's two windows were flushed; env 1 has 2 < 3 steps open
    assert buf.rewards[:2].tolist() == [2.0, 2.0]  # 1 + 0.5*2, then 2
    assert buf.discounts[:2].tolist() == [0.25, 0.5]
    buf.add([0, 12], [0, 1], [0.0, 400.0], [False, False], [False, False], [1, 13])
    assert len(buf) == 3
    assert (buf.obs[2], buf.rewards[2], buf.next_obs[2]) == (10, 300.0, 13)  # 100+100+100


def test_one_step_buffer_stores_plain_transitions():
    buf = ReplayBuffer(4, (1,), n_step=1, gamma=0.9)
    add_episode(buf, [1, 2], "terminated")
    assert rows(buf) == [(0, 1.0, 1, 0.0, pytest.approx(0.9)), (1, 2.0, 2, 1.0, pytest.approx(0.9))]


def test_wraparound_keeps_the_newest_transitions():
    buf = ReplayBuffer(3, (1,), n_step=1)
    add_episode(buf, [0, 1, 2, 3, 4], "truncated")
    assert len(buf) == 3
    assert buf.pos == 2
    assert buf.obs[:, 0].tolist() == [3.0, 4.0, 2.0]
    sampled = buf.sample(50, np.random.default_rng(0)).obs[:, 0]
    assert set(sampled.tolist()) == {2.0, 3.0, 4.0}


def test_sampling_is_reproducible_with_a_seeded_generator():
    buf = ReplayBuffer(100, (1,), n_step=2, gamma=0.5)
    for _ in range(5):
        add_episode(buf, [1, 2, 3, 4, 5, 6], "terminated")
    a = buf.sample(16, np.random.default_rng(7))
    b = buf.sample(16, np.random.default_rng(7))
    assert isinstance(a, ReplayBatch)
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x, y)
    assert a.obs.dtype == torch.float32 and a.actions.dtype == torch.int64
    assert a.rewards.dtype == a.dones.dtype == a.discounts.dtype == torch.float32
    assert a.obs.shape == a.next_obs.shape == (16, 1) and a.rewards.shape == (16,)
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(4, (1,)).sample(1, np.random.default_rng(0))


def test_state_dict_round_trip_through_torch_save_gives_identical_samples():
    buf = ReplayBuffer(8, (2,), n_envs=2, n_step=3, gamma=0.5)
    rng = np.random.default_rng(0)
    for step in range(7):  # wraps around, and leaves n-step windows open
        buf.add(rng.random((2, 2)), rng.integers(0, 4, 2), rng.random(2),
                [step == 3, False], [False, step == 5], rng.random((2, 2)))
    assert any(len(w) > 0 for w in buf.windows)
    saved = io.BytesIO()
    torch.save(buf.state_dict(), saved)
    saved.seek(0)
    copy = ReplayBuffer(8, (2,), n_envs=2, n_step=3, gamma=0.5)
    copy.load_state_dict(torch.load(saved, weights_only=True))
    assert (len(copy), copy.pos) == (len(buf), buf.pos)
    for x, y in zip(buf.sample(32, np.random.default_rng(1)),
                    copy.sample(32, np.random.default_rng(1)), strict=True):
        assert torch.equal(x, y)
    # the open windows came back too: the next step emits the same rows in both
    step = (rng.random((2, 2)), np.array([1, 2]), np.array([0.5, 0.25]), [True, True],
            [False, False], rng.random((2, 2)))
    buf.add(*step)
    copy.add(*step)
    for name in ("obs", "actions", "rewards", "next_obs", "dones", "discounts"):
        np.testing.assert_array_equal(getattr(buf, name), getattr(copy, name))


def test_loading_into_a_buffer_of_another_shape_is_refused():
    state = ReplayBuffer(8, (1,), n_step=3).state_dict()
    with pytest.raises(ValueError, match="n_step"):
        ReplayBuffer(8, (1,), n_step=1).load_state_dict(state)
