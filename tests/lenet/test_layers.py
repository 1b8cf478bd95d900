"""lenet.layers: squashing, trainable subsampling, C3 partial convolution, initialisation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from lenet.layers import (C3_TABLE, Conv2d, Linear, PartialConv2d, Subsampling, scaled_tanh,
                          scaled_tanh_derivative)


def test_scaled_tanh_fixed_points():
    x = torch.tensor([1.0, -1.0, 0.0], dtype=torch.float64)
    y = scaled_tanh(x)
    assert torch.allclose(y, torch.tensor([1.0, -1.0, 0.0], dtype=torch.float64), atol=2e-4)
    assert abs(float(scaled_tanh(torch.tensor(50.0))) - 1.7159) < 1e-6


def test_scaled_tanh_gradcheck_and_derivative():
    a = torch.randn(20, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(scaled_tanh, (a,))
    (g,) = torch.autograd.grad(scaled_tanh(a).sum(), a)
    assert torch.allclose(g, scaled_tanh_derivative(a.detach()))
    assert torch.autograd.gradcheck(scaled_tanh_derivative, (a,))


def test_subsampling_is_coef_times_block_sum_plus_bias():
    torch.manual_seed(0)
    layer = Subsampling(3).double()
    x = torch.randn(2, 3, 6, 8, dtype=torch.float64)
    out = layer(x)
    assert out.shape == (2, 3, 3, 4)
    for b in range(2):
        for c in range(3):
            for i in range(3):
                for j in range(4):
                    block = x[b, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2].sum()
                    want = layer.coef[c] * block + layer.bias[c]
                    assert torch.allclose(out[b, c, i, j], want)


def test_subsampling_with_sources_reads_pairs():
    layer = Subsampling(4, sources=(0, 0, 1, 1)).double()
    x = torch.randn(1, 2, 4, 4, dtype=torch.float64)
    out = layer(x)
    for c, src in enumerate((0, 0, 1, 1)):
        want = layer.coef[c] * F.avg_pool2d(x[:, src:src + 1], 2)[0, 0] * 4 + layer.bias[c]
        assert torch.allclose(out[0, c], want)
    with pytest.raises(ValueError, match="Subsampling"):
        layer(torch.randn(1, 4, 4, 4, dtype=torch.float64))


def test_subsampling_gradcheck():
    layer = Subsampling(2, sources=(1, 0)).double()
    x = torch.randn(2, 2, 4, 6, dtype=torch.float64, requires_grad=True)
    coef = layer.coef.detach().clone().requires_grad_(True)
    bias = layer.bias.detach().clone().requires_grad_(True)
    fn = lambda inp, c, b: functional_call(layer, {"coef": c, "bias": b}, (inp,))  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, coef, bias))


def test_c3_has_1516_parameters_and_matches_table():
    c3 = PartialConv2d(6, C3_TABLE, 5)
    assert sum(p.numel() for p in c3.parameters()) == 1516
    dense = c3.dense_weight()
    for o, row in enumerate(C3_TABLE):
        for i in range(6):
            nonzero = bool(dense[o, i].abs().sum() > 0)
            assert nonzero == (i in row), (o, i)


def test_partial_conv_equals_per_connection_convolutions():
    torch.manual_seed(1)
    table = ((0, 2), (1,), (0, 1, 2))
    layer = PartialConv2d(3, table, 3).double()
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64)
    out = layer(x)
    dense = layer.dense_weight()
    for o, row in enumerate(table):
        want = layer.bias[o] + sum(F.conv2d(x[:, i:i + 1], dense[o:o + 1, i:i + 1]) for i in row)
        assert torch.allclose(out[:, o:o + 1], want)


def test_partial_conv_gradcheck():
    torch.manual_seed(2)
    table = ((0, 1), (1,))
    layer = PartialConv2d(2, table, 3).double()
    x = torch.randn(2, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inp: layer(inp), (x,))
    # and with respect to the compact weight vector and the biases
    w = layer.weight.detach().clone().requires_grad_(True)
    b = layer.bias.detach().clone().requires_grad_(True)
    fn = lambda wv, bv: functional_call(layer, {"weight": wv, "bias": bv}, (x.detach(),))  # noqa: E731
    assert torch.autograd.gradcheck(fn, (w, b))


def test_partial_conv_rejects_bad_table():
    with pytest.raises(ValueError, match="PartialConv2d"):
        PartialConv2d(3, ((0, 3),), 3)
    with pytest.raises(ValueError, match="PartialConv2d"):
        PartialConv2d(3, ((1, 1),), 3)


def test_square_linear_uses_squared_weights_and_no_bias():
    torch.manual_seed(3)
    for layer, x in ((Conv2d(2, 3, 3).double(), torch.randn(1, 2, 5, 5, dtype=torch.float64)),
                     (Linear(4, 3).double(), torch.randn(2, 4, dtype=torch.float64)),
                     (Subsampling(2).double(), torch.randn(1, 2, 4, 4, dtype=torch.float64)),
                     (PartialConv2d(2, ((0,), (0, 1)), 3).double(), torch.randn(1, 2, 5, 5, dtype=torch.float64))):
        sq = layer.linear(x, square=True)
        with torch.no_grad():
            for name, p in layer.named_parameters():
                if name == "bias":
                    p.zero_()
                else:
                    p.pow_(2)
        assert torch.allclose(sq, layer.linear(x)), type(layer).__name__
        xg = x.clone().requires_grad_(True)
        assert torch.autograd.gradcheck(lambda inp: layer.linear(inp, square=True), (xg,))


def test_initialisation_bounds_follow_fan_in():
    torch.manual_seed(4)
    conv = Conv2d(16, 120, 5)
    bound = 2.4 / (16 * 25)
    assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.9 * bound
    lin = Linear(120, 84)
    assert lin.weight.abs().max() <= 2.4 / 120
    c3 = PartialConv2d(6, C3_TABLE, 5)
    dense = c3.dense_weight()
    for o, row in enumerate(C3_TABLE):
        assert dense[o].abs().max() <= 2.4 / (len(row) * 25) + 1e-9
    sub = Subsampling(6)
    assert sub.coef.abs().max() <= 0.6
