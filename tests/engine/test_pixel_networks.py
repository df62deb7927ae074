"""The CNN torsos for pixel games, how networks choose them, and TensorFlow-style RMSprop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from gymnasium import spaces

from agentapp.engine.networks import ActorCritic, ObsEncoder, QNetwork, make_encoder
from agentapp.engine.optimizers import RMSpropTF
from agentapp.engine.pixel_networks import ImpalaCNN, NatureCNN, SmallCNN, is_pixels, speed_up

FRAMES = spaces.Box(0, 255, (4, 84, 84), np.uint8)
VECTOR = spaces.Box(-1.0, 1.0, (4,), np.float32)


def test_pixels_are_told_from_vectors():
    assert is_pixels(FRAMES)
    assert not is_pixels(VECTOR)
    assert not is_pixels(spaces.Box(0, 255, (84, 84), np.uint8))
    assert not is_pixels(spaces.Discrete(5))


@pytest.mark.parametrize(("cls", "width"), [(NatureCNN, 512), (SmallCNN, 256), (ImpalaCNN, 256)])
def test_cnn_torsos_take_bytes_and_scale_them_on_the_device(cls, width):
    torch.manual_seed(0)
    net = cls(FRAMES)
    frames = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    out = net(frames)
    assert out.shape == (3, width)
    assert (out >= 0).all()  # ends in a ReLU
    # uint8 frames are scaled to [0, 1]: the same as giving the scaled floats
    torch.testing.assert_close(out, net(frames.float() / 255.0))
    # one observation is a batch of one
    assert net(frames[0]).shape == (1, width)


def test_nature_cnn_has_the_papers_shape():
    net = NatureCNN(FRAMES)
    convs = [m for m in net.convs if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs] == [
        (32, 8, 4), (64, 4, 2), (64, 3, 1)]
    assert net.linear[0].in_features == 64 * 7 * 7
    # the weights keep the names that saved agents were written with
    assert list(net.state_dict()) == ["convs.0.weight", "convs.0.bias", "convs.2.weight",
                                      "convs.2.bias", "convs.4.weight", "convs.4.bias",
                                      "linear.0.weight", "linear.0.bias"]


def test_small_cnn_has_the_2013_papers_shape_and_a_third_of_the_arithmetic():
    net = SmallCNN(FRAMES)
    convs = [m for m in net.convs if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs] == [
        (16, 8, 4), (32, 4, 2)]
    assert net.linear[0].in_features == 32 * 9 * 9 and net.out_dim == 256

    def multiply_adds(torso):
        total, shape = 0, torch.Size([1, 4, 84, 84])
        for layer in torso.convs:
            if isinstance(layer, torch.nn.Conv2d):
                out = layer(torch.zeros(shape))
                total += out[0].numel() * layer.weight[0].numel()
                shape = out.shape
        return total + torso.linear[0].weight.numel()

    assert multiply_adds(net) < multiply_adds(NatureCNN(FRAMES)) / 3


def test_auto_picks_a_cnn_for_pixels_and_an_mlp_encoder_for_vectors():
    assert isinstance(make_encoder(FRAMES), NatureCNN)
    assert isinstance(make_encoder(FRAMES, "impala"), ImpalaCNN)
    assert isinstance(make_encoder(FRAMES, "small"), SmallCNN)
    assert isinstance(make_encoder(VECTOR), ObsEncoder)
    assert isinstance(make_encoder(FRAMES, "mlp"), ObsEncoder)
    with pytest.raises(ValueError, match="image observations"):
        make_encoder(VECTOR, "nature")
    with pytest.raises(ValueError, match="unknown network"):
        make_encoder(VECTOR, "transformer")


def test_pixel_q_network_and_actor_critic_read_the_cnn_features_directly():
    q = QNetwork(FRAMES, 6, hidden=(64, 64))
    assert isinstance(q.encoder, NatureCNN)
    frames = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    assert q(frames).shape == (2, 6)
    dueling = QNetwork(FRAMES, 6, dueling=True, network="impala")
    assert dueling(frames).shape == (2, 6)
    ac = ActorCritic(FRAMES, spaces.Discrete(6), hidden=(64, 64), shared=False)
    # one CNN serves both heads; the heads are single linear layers on its 512 features
    assert isinstance(ac.actor, torch.nn.Linear) and ac.actor.in_features == 512
    assert isinstance(ac.critic, torch.nn.Linear)
    dist, value = ac(frames)
    assert dist.probs.shape == (2, 6) and value.shape == (2,)
    # the policy starts near uniform (actor gain 0.01)
    assert torch.allclose(dist.probs, torch.full((2, 6), 1 / 6), atol=0.02)


@pytest.mark.parametrize("cls", [NatureCNN, ImpalaCNN])
def test_bf16_torsos_hand_float32_features_close_to_the_float32_ones(cls):
    torch.manual_seed(0)
    net = cls(FRAMES)
    frames = torch.randint(0, 256, (4, 4, 84, 84), dtype=torch.uint8)
    exact = net(frames)
    assert speed_up(ActorCriticLike(net), precision="bf16") == 1
    mixed = net(frames)
    assert mixed.dtype == torch.float32  # the heads and the losses see float32
    assert not torch.equal(mixed, exact)  # the torso did run in bfloat16 ...
    # ... to bfloat16's precision (8 bits of mantissa), as a whole
    assert ((mixed - exact).norm() / exact.norm()).item() < 0.02
    mixed.sum().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and g.dtype == torch.float32 and g.abs().sum() > 0 for g in grads)
    speed_up(net, precision="fp32")
    torch.testing.assert_close(net(frames), exact, rtol=0, atol=0)


class ActorCriticLike(torch.nn.Module):
    """A network holding a torso one level down, as QNetwork and ActorCritic do."""

    def __init__(self, torso: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = torso


def test_speed_up_keeps_the_weights_and_their_names():
    ac = ActorCritic(FRAMES, spaces.Discrete(6))
    before = {key: value.clone() for key, value in ac.state_dict().items()}
    assert speed_up(ac, precision="bf16", compile_mode="default") == 1
    after = ac.state_dict()
    assert list(after) == list(before)  # checkpoints load either way
    assert all(torch.equal(after[key], before[key]) for key in before)
    assert speed_up(QNetwork(VECTOR, 2), precision="bf16") == 0  # no pixel torso: nothing


@pytest.mark.slow
def test_a_compiled_torso_computes_what_the_eager_one_does():
    torch.manual_seed(0)
    net = NatureCNN(FRAMES)
    frames = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    eager = net(frames)
    speed_up(net, compile_mode="default")
    torch.testing.assert_close(net(frames), eager, rtol=1e-4, atol=1e-5)


def test_rmsprop_tf_follows_its_formula():
    theta = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = RMSpropTF([theta], lr=0.1, alpha=0.9, eps=1e-5)
    v = np.ones(2)
    expected = np.array([1.0, -2.0])
    for grad in ([0.5, -1.0], [2.0, 0.25]):
        theta.grad = torch.tensor(grad)
        opt.step()
        g = np.array(grad)
        v = 0.9 * v + 0.1 * g * g
        expected = expected - 0.1 * g / np.sqrt(v + 1e-5)
    np.testing.assert_allclose(theta.detach().numpy(), expected, rtol=1e-6)


def test_rmsprop_tf_first_step_is_small_where_pytorchs_is_not():
    """The reason it exists: with v starting at 1, the first step is about lr * g, while
    PyTorch's (v from 0) is about lr / sqrt(1 - alpha) whatever the gradient's size."""
    def first_step(make):
        theta = torch.nn.Parameter(torch.zeros(1))
        opt = make([theta])
        theta.grad = torch.tensor([1e-3])
        opt.step()
        return abs(float(theta.detach()))

    tf = first_step(lambda p: RMSpropTF(p, lr=7e-4, alpha=0.99, eps=1e-5))
    pt = first_step(lambda p: torch.optim.RMSprop(p, lr=7e-4, alpha=0.99, eps=1e-5))
    assert tf == pytest.approx(7e-4 * 1e-3 / math.sqrt(0.99 + 0.01 * 1e-6 + 1e-5), rel=1e-3)
    assert pt > 1000 * tf


def test_q_network_can_keep_pytorchs_own_initialisation():
    torch.manual_seed(0)
    default = QNetwork(VECTOR, 3, hidden=(256, 256), orthogonal=False)
    torch.manual_seed(0)
    orthogonal = QNetwork(VECTOR, 3, hidden=(256, 256))
    first, last = default.torso[0], default.torso[-1]
    # PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) weights and biases
    assert first.weight.abs().max() <= 1 / math.sqrt(4) and first.bias.abs().max() > 0
    assert last.weight.abs().max() <= 1 / math.sqrt(256)
    # orthogonal rows with gain sqrt(2), zero biases
    w = orthogonal.torso[2].weight.detach()
    torch.testing.assert_close(w @ w.T, 2 * torch.eye(256), atol=1e-4, rtol=0)
    assert not orthogonal.torso[0].bias.any()
