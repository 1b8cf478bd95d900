"""lenet.StripNet: the whole-strip frame classifier (SDNN frame interface, context from an LSTM)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from data import to_lenet_input
from lenet.models import BACKGROUND
from lenet.strip import StripNet, StripNetConfig, strip_config

TINY = dict(channels=(3, 4, 4), hidden=3, layers=1, dropout=0.0)


def _field(mnist_test, n_digits: int, seed: int) -> torch.Tensor:
    """``(1, 32, W)``: real test digits side by side, touching (16 px apart)."""
    rng = np.random.default_rng(seed)
    images = mnist_test[0][rng.choice(len(mnist_test[0]), n_digits, replace=False)]
    canvas = np.zeros((28, 16 * n_digits + 24), dtype=np.uint8)
    for i, im in enumerate(images):
        canvas[:, 16 * i + 6: 16 * i + 34] = np.maximum(canvas[:, 16 * i + 6: 16 * i + 34], im)
    return to_lenet_input(canvas[None], pad=2)[0]


def _padded(strips: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    widths = torch.tensor([s.shape[-1] for s in strips])
    x = torch.full((len(strips), 1, 32, int(widths.max()) + 7), BACKGROUND, dtype=strips[0].dtype)
    for b, s in enumerate(strips):
        x[b, :, :, : s.shape[-1]] = s
    return x, widths


def test_frames_follow_the_sdnn_interface_and_are_log_probabilities():
    torch.manual_seed(0)
    net = StripNet().eval()
    x = torch.rand(2, 1, 32, 93) * 1.275 - 0.1
    out = net(x)
    assert out.shape == (2, (93 - 32) // 4 + 1, 17)
    assert torch.allclose(torch.logsumexp(-out, dim=-1), torch.zeros(2, out.shape[1]), atol=1e-5)
    assert net.num_classes == 17


def test_padded_batch_equals_each_strip_alone(mnist_test):
    torch.manual_seed(1)
    net = StripNet(channels=(8, 8, 16), hidden=8).eval()
    strips = [_field(mnist_test, n, seed=n) for n in (1, 3, 6, 2)]
    x, widths = _padded(strips)
    with torch.no_grad():
        batch = net(x, widths)
        assert batch.shape[1] == int((widths.max() - 32) // 4 + 1)
        for b, s in enumerate(strips):
            alone = net(s[None])
            t = alone.shape[1]
            assert t == (s.shape[-1] - 32) // 4 + 1
            assert torch.allclose(batch[b, :t], alone[0], atol=1e-5), b


def test_context_reaches_every_frame():
    # the LSTM makes frame 0 depend on ink far to its right (an SDNN frame sees 32 columns only)
    torch.manual_seed(2)
    net = StripNet(**TINY).double().eval()
    x = torch.full((1, 1, 32, 200), BACKGROUND, dtype=torch.float64, requires_grad=True)
    net(x)[0, 0].sum().backward()
    assert x.grad[..., 150:].abs().sum() > 0


def test_gradcheck_float64():
    torch.manual_seed(3)
    net = StripNet(**TINY).double().train()  # batch norm with batch statistics, as in training
    x = (torch.rand(2, 1, 32, 44, dtype=torch.float64) * 1.275 - 0.1).requires_grad_()
    widths = torch.tensor([44, 36])
    assert torch.autograd.gradcheck(lambda v: net(v, widths), (x,), eps=1e-6, atol=1e-4, fast_mode=True)
    names = [n for n, _ in net.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in net.parameters())

    def with_params(*ps):
        return torch.func.functional_call(net, dict(zip(names, ps)), (x.detach(), widths))

    assert torch.autograd.gradcheck(with_params, params, eps=1e-6, atol=1e-4, fast_mode=True)


def test_config_roundtrip_and_errors():
    net = StripNet(**TINY)
    again = StripNet(**strip_config(net))
    assert strip_config(again) == strip_config(net)
    assert sum(p.numel() for p in again.parameters()) == sum(p.numel() for p in net.parameters())
    with pytest.raises(ValueError, match="channels"):
        StripNet(channels=(4, 4))
    with pytest.raises(ValueError, match="dropout"):
        StripNetConfig(dropout=1.0).validate()
    with pytest.raises(ValueError, match=r"\(B, 1, 32, W>=32\)"):
        net(torch.zeros(1, 1, 28, 64))
    with pytest.raises(ValueError, match=r"\(B, 1, 32, W>=32\)"):
        net(torch.zeros(1, 1, 32, 20))
    with pytest.raises(ValueError, match="widths"):
        net(torch.zeros(2, 1, 32, 64), torch.tensor([64, 70]))
    with pytest.raises(ValueError, match="widths"):
        net(torch.zeros(2, 1, 32, 64), torch.tensor([64]))
