"""Running normalisation: statistics against numpy, reward scaling by hand, state round trips."""

from __future__ import annotations

import numpy as np
import torch

from agentapp.engine.normalize import Normalizer, RunningMeanStd


def test_running_statistics_match_numpy_over_uneven_batches():
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(1000, 3))
    rms = RunningMeanStd((3,))
    for start, stop in ((0, 7), (7, 300), (300, 301), (301, 1000)):
        rms.update(data[start:stop])
    np.testing.assert_allclose(rms.mean, data.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(rms.var, data.var(axis=0), rtol=1e-5)


def test_observations_are_standardised_and_clipped():
    norm = Normalizer((2,), 1, 0.99, observations=True, rewards=False, clip=5.0)
    norm.update_obs(np.array([[0.0, 10.0], [2.0, 10.0], [4.0, 10.0]]))
    out = norm.obs(torch.tensor([[2.0, 10.0], [100.0, 10.0]]))
    assert torch.allclose(out[0], torch.zeros(2), atol=1e-2)
    assert out[1, 0] == 5.0  # clipped
    off = Normalizer((2,), 1, 0.99, observations=False, rewards=False)
    obs = torch.tensor([[7.0, 8.0]])
    assert torch.equal(off.obs(obs), obs)


def test_rewards_are_divided_by_the_spread_of_the_discounted_return():
    norm = Normalizer((1,), 2, 0.5, observations=False, rewards=True, eps=0.0)
    first = norm.reward(np.array([1.0, 3.0]), np.array([False, True]))
    # returns so far [1, 3] (mean 2, variance 1) merged with the prior (mean 0, variance 1,
    # count 1e-4):  M2 = 1e-4 * 1 + 2 * 1 + 2^2 * 1e-4 * 2 / n,  n = 2 + 1e-4
    n = 2 + 1e-4
    expected_var = (1e-4 + 2.0 + 4.0 * 1e-4 * 2 / n) / n
    np.testing.assert_allclose(first, np.array([1.0, 3.0]) / np.sqrt(expected_var), rtol=1e-4)
    assert norm.returns.tolist() == [1.0, 0.0]  # env 1's episode ended: its return restarts
    second = norm.reward(np.array([2.0, 2.0]), np.array([False, False]))
    assert norm.returns.tolist() == [2.5, 2.0]  # R <- 0.5 R + r
    assert second.dtype == np.float32


def test_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    norm = Normalizer((3,), 2, 0.9, observations=True, rewards=True)
    norm.update_obs(np.arange(6.0).reshape(2, 3))
    norm.reward(np.array([1.0, -1.0]), np.array([False, False]))
    torch.save(norm.state_dict(), tmp_path / "n.pt")
    other = Normalizer((3,), 2, 0.9, observations=True, rewards=True)
    other.load_state_dict(torch.load(tmp_path / "n.pt", weights_only=True))
    obs = torch.tensor([[1.0, 2.0, 3.0]])
    assert torch.equal(norm.obs(obs), other.obs(obs))
    rewards, dones = np.array([0.5, 2.0]), np.array([True, False])
    np.testing.assert_array_equal(norm.reward(rewards, dones), other.reward(rewards, dones))
