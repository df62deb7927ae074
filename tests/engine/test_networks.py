"""Networks: encodings, initialisation, shapes, dueling maths and policy distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from gymnasium import spaces
from torch import nn

from agentapp.engine.networks import (
    ActorCritic,
    ObsEncoder,
    QNetwork,
    layer_init,
    mlp,
    obs_dim,
)

BOX4 = spaces.Box(-1.0, 1.0, (4,), np.float32)


def test_layer_init_is_orthogonal_with_the_given_gain_and_constant_bias():
    layer = layer_init(nn.Linear(8, 3), std=2.0, bias=0.5)
    w = layer.weight.detach()
    torch.testing.assert_close(w @ w.T, 4.0 * torch.eye(3), atol=1e-5, rtol=0)
    assert layer.bias.tolist() == [0.5, 0.5, 0.5]


def test_obs_dim_and_encoder():
    assert obs_dim(spaces.Discrete(5)) == 5
    assert obs_dim(BOX4) == 4
    assert obs_dim(spaces.Box(0, 1, (2, 3))) == 6
    with pytest.raises(TypeError):
        obs_dim(spaces.Text(4))
    one_hot = ObsEncoder(spaces.Discrete(3))(torch.tensor([2, 0]))
    assert one_hot.tolist() == [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    flat = ObsEncoder(spaces.Box(0, 1, (2, 3)))(torch.ones(5, 2, 3, dtype=torch.float64))
    assert flat.shape == (5, 6) and flat.dtype == torch.float32
    assert ObsEncoder(BOX4)(torch.zeros(4)).shape == (1, 4)  # one observation -> batch of one
    assert ObsEncoder(spaces.Discrete(3))(torch.tensor(1)).tolist() == [[0.0, 1.0, 0.0]]


def test_mlp_layers_activation_and_output_gain():
    net = mlp(4, (16, 8), "relu", out_dim=2, out_std=0.01)
    linears = [m for m in net if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(4, 16), (16, 8), (8, 2)]
    assert sum(isinstance(m, nn.ReLU) for m in net) == 2
    assert linears[-1].weight.abs().max() < 0.05  # tiny output layer
    assert net(torch.zeros(3, 4)).shape == (3, 2)
    torso = mlp(4, (16,), "tanh")
    assert isinstance(torso[-1], nn.Tanh) and torso(torch.zeros(1, 4)).shape == (1, 16)
    with pytest.raises(ValueError, match="activation"):
        mlp(4, (8,), "gelu")


@pytest.mark.parametrize("dueling", [False, True])
def test_q_network_shapes_on_discrete_and_box_observations(dueling):
    q = QNetwork(spaces.Discrete(6), 4, hidden=(32,), dueling=dueling)
    assert q(torch.tensor([0, 5, 3])).shape == (3, 4)
    q = QNetwork(BOX4, 2, dueling=dueling)
    assert q(torch.zeros(7, 4)).shape == (7, 2)
    assert q(np.zeros((2, 4), dtype=np.float32)).shape == (2, 2)  # numpy is accepted too


def test_dueling_q_is_value_plus_mean_centred_advantage():
    q = QNetwork(BOX4, 3, hidden=(16,), dueling=True)
    obs = torch.randn(5, 4)
    features = q.torso(q.encoder(obs))
    value = q.value_head(features).squeeze(-1)
    advantage = q.advantage_head(features)
    out = q(obs)
    torch.testing.assert_close(out.mean(dim=1), value)  # Wang et al. eq. 9: mean_a Q = V
    torch.testing.assert_close(out - value[:, None], advantage - advantage.mean(1, keepdim=True))


def test_actor_critic_discrete_starts_near_uniform_and_acts_greedily():
    net = ActorCritic(spaces.Discrete(5), spaces.Discrete(3))
    obs = torch.tensor([0, 4, 2, 1])
    dist, value = net(obs)
    assert isinstance(dist, torch.distributions.Categorical)
    assert dist.probs.shape == (4, 3) and value.shape == (4,)
    torch.testing.assert_close(dist.probs, torch.full((4, 3), 1 / 3), atol=0.02, rtol=0)
    assert net.act(obs, greedy=True).tolist() == dist.logits.argmax(-1).tolist()
    actions = torch.tensor([0, 1, 2, 0])
    log_prob, entropy, v = net.evaluate_actions(obs, actions)
    assert log_prob.shape == entropy.shape == v.shape == (4,)
    torch.testing.assert_close(net.value(obs), value)


def test_stochastic_actions_follow_a_given_generator():
    net = ActorCritic(BOX4, spaces.Discrete(4))
    obs = torch.randn(64, 4)
    a = net.act(obs, greedy=False, generator=torch.Generator().manual_seed(5))
    b = net.act(obs, greedy=False, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.dtype == torch.int64 and len(set(a.tolist())) > 1


def test_actor_critic_gaussian_policy_on_box_actions():
    action_space = spaces.Box(-2.0, 2.0, (2,), np.float32)
    net = ActorCritic(BOX4, action_space, hidden=(32, 32))
    assert net.log_std.tolist() == [0.0, 0.0]
    obs = torch.randn(6, 4)
    dist = net.distribution(obs)
    assert isinstance(dist, torch.distributions.Independent)
    sample = dist.sample()
    assert sample.shape == (6, 2)
    assert dist.log_prob(sample).shape == (6,) and dist.entropy().shape == (6,)
    # entropy of a unit-variance 2-d Gaussian: 2 * 0.5 * log(2 pi e)
    torch.testing.assert_close(dist.entropy(), torch.full((6,), math.log(2 * math.pi * math.e)))
    torch.testing.assert_close(net.act(obs, greedy=True), dist.mean)
    g = torch.Generator().manual_seed(1)
    noisy = net.act(obs, greedy=False, generator=g)
    assert noisy.shape == (6, 2) and not torch.equal(noisy, dist.mean)
    # log_std is learned: the log-likelihood has a gradient with respect to it
    dist.log_prob(sample).sum().backward()
    assert net.log_std.grad is not None and net.log_std.grad.abs().sum() > 0


def test_separate_and_shared_torsos():
    separate = ActorCritic(BOX4, spaces.Discrete(2), hidden=(8,))
    shared = ActorCritic(BOX4, spaces.Discrete(2), hidden=(8,), shared=True)

    def count(module: nn.Module) -> int:
        return sum(p.numel() for p in module.parameters())

    # separate: two 4->8->out MLPs; shared: one 4->8 torso, two heads
    assert count(separate) == (4 * 8 + 8 + 8 * 2 + 2) + (4 * 8 + 8 + 8 + 1)
    assert count(shared) == (4 * 8 + 8) + (8 * 2 + 2) + (8 + 1)
    _, value = shared(torch.randn(3, 4))
    value.sum().backward()
    assert shared.torso[0].weight.grad is not None  # the critic trains the shared torso
    assert shared.actor.weight.grad is None


def test_no_critic_when_value_is_false():
    net = ActorCritic(BOX4, spaces.Discrete(2), value=False)
    dist, value = net(torch.zeros(2, 4))
    assert value is None and dist.probs.shape == (2, 2)
    with pytest.raises(RuntimeError, match="value=False"):
        net.value(torch.zeros(2, 4))
    assert not any("critic" in name for name, _ in net.named_parameters())


def test_state_dict_round_trip_gives_identical_outputs():
    a = ActorCritic(spaces.Discrete(4), spaces.Discrete(2))
    b = ActorCritic(spaces.Discrete(4), spaces.Discrete(2))
    b.load_state_dict(a.state_dict())
    obs = torch.arange(4)
    torch.testing.assert_close(a.distribution(obs).logits, b.distribution(obs).logits)
    torch.testing.assert_close(a.value(obs), b.value(obs))
