"""Returns and GAE against numbers worked out by hand (gamma = 0.5 keeps the arithmetic exact)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agentapp.engine.returns import discounted_returns, episode_returns, gae


def t(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


def test_discounted_returns_of_one_episode():
    # G2 = 4, G1 = 2 + 0.5*4 = 4, G0 = 1 + 0.5*4 = 3
    assert discounted_returns(t([1, 2, 4]), 0.5).tolist() == [3.0, 4.0, 4.0]
    assert discounted_returns(t([1, 2, 4]), 1.0).tolist() == [7.0, 6.0, 4.0]
    assert discounted_returns(t([]), 0.5).shape == (0,)


def test_episode_returns_cut_at_an_episode_end_and_bootstrap_at_the_batch_end():
    # env 0 ends its episode at t=1, env 1 runs past the end of the batch.
    rewards = t([[1, 0], [2, 0], [4, 4]])
    dones = t([[0, 0], [1, 0], [0, 0]])
    last_values = t([8, 4])
    # env 0: G2 = 4 + 0.5*8 = 8, G1 = 2 (episode over), G0 = 1 + 0.5*2 = 2
    # env 1: G2 = 4 + 0.5*4 = 6, G1 = 0 + 0.5*6 = 3, G0 = 0 + 0.5*3 = 1.5
    expected = [[2.0, 1.5], [2.0, 3.0], [8.0, 6.0]]
    assert episode_returns(rewards, dones, 0.5, last_values).tolist() == expected
    # without last values the batch end is treated as the end of the episode:
    # env 1: G2 = 4, G1 = 0.5*4 = 2, G0 = 0.5*2 = 1
    assert episode_returns(rewards, dones, 0.5).tolist() == [[2.0, 1.0], [2.0, 2.0], [4.0, 4.0]]


def test_truncation_is_bootstrapped_by_the_caller_through_the_reward():
    # The episode is truncated at t=1; V(final_obs) = 6. The caller adds gamma*6 = 3 to r1 and
    # marks done, so the return is as if the episode had gone on and been worth 6 from there:
    # G0 = 1 + 0.5*(2 + 0.5*6) = 3.5. Step 2 belongs to the next episode.
    rewards = t([[1], [2 + 0.5 * 6], [4]])
    dones = t([[0], [1], [0]])
    returns = episode_returns(rewards, dones, 0.5, t([8]))
    assert returns[:, 0].tolist() == [3.5, 5.0, 8.0]
    # GAE sees the same bootstrap: delta1 = (2 + 3) - V(s1) with no V(s2) term.
    values = t([[1], [1], [1]])
    advantages, _ = gae(rewards, values, dones, t([8]), 0.5, 0.0)
    assert advantages[1, 0].item() == pytest.approx(4.0)


REWARDS = [[1, 1], [2, 2], [4, 4]]
VALUES = [[1, 1], [1, 1], [1, 1]]
DONES = [[0, 0], [1, 0], [0, 0]]  # env 0 ends at t=1
LAST = [4, 4]


def test_gae_by_hand_with_an_episode_boundary():
    # gamma = lam = 0.5
    # deltas: d2 = 4 + 0.5*4 - 1 = 5 (both envs); env 0: d1 = 2 - 1 = 1 (no bootstrap),
    #         env 1: d1 = 2 + 0.5*1 - 1 = 1.5; d0 = 1 + 0.5*1 - 1 = 0.5 (both)
    # env 0: A2 = 5, A1 = 1 (cut), A0 = 0.5 + 0.25*1 = 0.75
    # env 1: A2 = 5, A1 = 1.5 + 0.25*5 = 2.75, A0 = 0.5 + 0.25*2.75 = 1.1875
    advantages, returns = gae(t(REWARDS), t(VALUES), t(DONES), t(LAST), 0.5, 0.5)
    assert advantages.tolist() == [[0.75, 1.1875], [1.0, 2.75], [5.0, 5.0]]
    assert returns.tolist() == [[1.75, 2.1875], [2.0, 3.75], [6.0, 6.0]]


def test_gae_with_lambda_zero_is_the_one_step_td_error():
    advantages, returns = gae(t(REWARDS), t(VALUES), t(DONES), t(LAST), 0.5, 0.0)
    assert advantages.tolist() == [[0.5, 0.5], [1.0, 1.5], [5.0, 5.0]]
    # the critic's target is then the one-step TD target r + gamma V(s')
    assert returns.tolist() == [[1.5, 1.5], [2.0, 2.5], [6.0, 6.0]]


def test_gae_with_lambda_one_is_the_bootstrapped_n_step_return_of_a2c():
    gen = torch.Generator().manual_seed(0)
    rewards = torch.randn(16, 4, generator=gen, dtype=torch.float64)
    values = torch.randn(16, 4, generator=gen, dtype=torch.float64)
    dones = (torch.rand(16, 4, generator=gen) < 0.2).double()
    last = torch.randn(4, generator=gen, dtype=torch.float64)
    advantages, returns = gae(rewards, values, dones, last, 0.9, 1.0)
    n_step = episode_returns(rewards, dones, 0.9, last)
    torch.testing.assert_close(advantages, n_step - values)
    torch.testing.assert_close(returns, n_step)


def test_numpy_arrays_work_too():
    advantages, returns = gae(
        np.array(REWARDS), np.array(VALUES), np.array(DONES, dtype=bool), np.array(LAST), 0.5, 0.5
    )
    assert isinstance(advantages, np.ndarray)
    np.testing.assert_allclose(advantages, [[0.75, 1.1875], [1.0, 2.75], [5.0, 5.0]])
    np.testing.assert_allclose(returns, advantages + 1.0)
    np.testing.assert_allclose(discounted_returns(np.array([1, 2, 4]), 0.5), [3, 4, 4])


def test_results_keep_the_dtype_and_device_of_the_inputs():
    values = t(VALUES)
    advantages, _ = gae(t(REWARDS), values, t(DONES), t(LAST), 0.5, 0.5)
    assert advantages.dtype == torch.float32 and advantages.device == values.device
