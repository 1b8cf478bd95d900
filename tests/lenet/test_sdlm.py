"""lenet.sdlm: the Gauss-Newton diagonal (App. C) against brute force, the optimiser, the schedule."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import functional_call, jacrev

from data import to_lenet_input
from lenet.layers import (Conv2d, Linear, PartialConv2d, Subsampling, scaled_tanh,
                          scaled_tanh_derivative)
from lenet.losses import mse_loss
from lenet.models import FaithfulNet, LeNet5
from lenet.sdlm import SDLM, gauss_newton_diagonal, paper_eta


class TinyNet(FaithfulNet):
    """conv 3x3 (2 maps) - subsampling - partial conv 2x2 (3 maps, a table) - full (4 units)."""

    TABLE = ((0,), (0, 1), (1,))

    def __init__(self):
        super().__init__()
        self.c1 = Conv2d(1, 2, 3)
        self.s2 = Subsampling(2)
        self.c3 = PartialConv2d(2, self.TABLE, 2)
        self.f4 = Linear(12, 4)

    def stages(self):
        return [self.c1, self.s2, self.c3, self.f4]


def _brute_force_gn(net: TinyNet, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The paper's recursion written unit by unit and connection by connection (float64)."""
    h = {name: torch.zeros_like(p) for name, p in net.named_parameters()}
    for img in x:
        # ---- build units: each unit = (list of (src_index, param_name, flat_index), bias ref)
        values = [float(v) for v in img.reshape(-1)]  # input pixels 8x8
        layers = []
        prev_shape = (1, 8, 8)

        def idx(c, i, j, shape):
            return c * shape[1] * shape[2] + i * shape[2] + j

        # c1: conv 3x3, 1 -> 2 maps, 6x6
        units = []
        for o in range(2):
            for i in range(6):
                for j in range(6):
                    conns = [(idx(0, i + di, j + dj, prev_shape), "c1.weight", o * 9 + di * 3 + dj)
                             for di in range(3) for dj in range(3)]
                    units.append((conns, ("c1.bias", o)))
        layers.append(units)
        prev_shape = (2, 6, 6)
        # s2: 2x2 blocks
        units = []
        for c in range(2):
            for i in range(3):
                for j in range(3):
                    conns = [(idx(c, 2 * i + di, 2 * j + dj, prev_shape), "s2.coef", c)
                             for di in range(2) for dj in range(2)]
                    units.append((conns, ("s2.bias", c)))
        layers.append(units)
        prev_shape = (2, 3, 3)
        # c3: partial conv 2x2 -> 3 maps of 2x2; compact weight position via the layer's index
        units = []
        dense_to_compact = net.c3.index.view(3, 2, 4)
        for o, row in enumerate(TinyNet.TABLE):
            for i in range(2):
                for j in range(2):
                    conns = [(idx(c, i + di, j + dj, prev_shape), "c3.weight",
                              int(dense_to_compact[o, c, di * 2 + dj]))
                             for c in row for di in range(2) for dj in range(2)]
                    units.append((conns, ("c3.bias", o)))
        layers.append(units)
        # f4: full, 12 -> 4 (flatten order = c, i, j)
        units = [([(j, "f4.weight", o * 12 + j) for j in range(12)], ("f4.bias", o)) for o in range(4)]
        layers.append(units)

        params = {name: p.detach().reshape(-1) for name, p in net.named_parameters()}
        # ---- forward, unit by unit
        acts, inputs = [], [values]
        for units in layers:
            xs = inputs[-1]
            a = [sum(params[pn][k] * xs[s] for s, pn, k in conns) + params[b[0]][b[1]]
                 for conns, b in units]
            acts.append(a)
            inputs.append([float(scaled_tanh(torch.as_tensor(v, dtype=torch.float64))) for v in a])
        # ---- backward of second derivatives
        s_x = [2.0] * len(layers[-1])
        for li in range(len(layers) - 1, -1, -1):
            units, a, xs = layers[li], acts[li], inputs[li]
            s_prev = [0.0] * len(xs)
            for u, (conns, b) in enumerate(units):
                fprime = float(scaled_tanh_derivative(torch.as_tensor(float(a[u]), dtype=torch.float64)))
                s_a = fprime ** 2 * s_x[u]
                for s, pn, k in conns:
                    h[pn].view(-1)[k] += xs[s] ** 2 * s_a
                    s_prev[s] += float(params[pn][k]) ** 2 * s_a
                h[b[0]].view(-1)[b[1]] += s_a
            s_x = s_prev
    return {k: v / x.shape[0] for k, v in h.items()}


def test_gauss_newton_matches_brute_force_recursion():
    torch.manual_seed(0)
    net = TinyNet().double()
    with torch.no_grad():  # larger weights than the paper's init so every term matters
        for p in net.parameters():
            p.mul_(6.0)
    x = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    fast = gauss_newton_diagonal(net, x)
    slow = _brute_force_gn(net, x)
    for name, p in net.named_parameters():
        assert torch.allclose(fast[p], slow[name], rtol=1e-9, atol=1e-12), name
        assert (fast[p] >= 0).all()


def test_gauss_newton_is_exact_for_the_last_layer(mnist_test):
    """For F6 the recursion has no dropped cross terms: it equals the exact Gauss-Newton diagonal
    ``2 sum_m (d x_m / d w)^2`` (x = F6's outputs), checked with the full Jacobian on real digits."""
    torch.manual_seed(1)
    model = LeNet5().double()
    x = to_lenet_input(mnist_test[0][:4]).double()
    h = gauss_newton_diagonal(model, x)
    f6 = {"f6.weight": model.f6.weight.detach(), "f6.bias": model.f6.bias.detach()}
    jac = jacrev(lambda p: _f6_features(model, x, p))(f6)  # (P, 84, ...) per parameter
    for name, param in (("f6.weight", model.f6.weight), ("f6.bias", model.f6.bias)):
        j = jac[name].reshape(x.shape[0], 84, -1)
        exact = 2.0 * (j ** 2).sum(1).mean(0).reshape(param.shape)
        assert torch.allclose(h[param], exact, rtol=1e-9), name


def _f6_features(model: LeNet5, x: torch.Tensor, f6: dict) -> torch.Tensor:
    c5 = model.c5_maps(x).flatten(1)  # (P, 120)
    return scaled_tanh(nn.functional.linear(c5, f6["f6.weight"], f6["f6.bias"]))


def test_shared_weight_curvature_is_summed_over_connections():
    """A 1x1 'convolution' over an HxW map shares one weight over H*W connections: its estimate
    is the sum over positions of x^2 * d2E/da^2, exactly H*W times a single position's."""
    torch.manual_seed(2)

    class OneConv(FaithfulNet):
        def __init__(self):
            super().__init__()
            self.c = Conv2d(1, 1, 1)
            self.f = Linear(9, 1)

        def stages(self):
            return [self.c, self.f]

    net = OneConv().double()
    x = torch.full((1, 1, 3, 3), 0.5, dtype=torch.float64)
    h = gauss_newton_diagonal(net, x)
    a1 = net.c.linear(x)
    x1 = scaled_tanh(a1).flatten(1)
    a2 = net.f.linear(x1)
    s_a2 = scaled_tanh_derivative(a2) ** 2 * 2.0
    s_a1 = scaled_tanh_derivative(a1).flatten(1) ** 2 * (net.f.weight ** 2) * s_a2
    assert torch.allclose(h[net.c.weight].reshape(()), (0.25 * s_a1).sum())
    assert torch.allclose(h[net.c.bias].reshape(()), s_a1.sum())


def test_sdlm_step_is_eta_over_mu_plus_h_times_gradient():
    torch.manual_seed(3)
    p = nn.Parameter(torch.randn(5, dtype=torch.float64))
    opt = SDLM([p], eta=1e-3, mu=0.02, lr_scale=4.0)
    hess = torch.rand(5, dtype=torch.float64)
    opt.set_hessian({p: hess})
    before = p.detach().clone()
    p.grad = torch.randn(5, dtype=torch.float64)
    opt.step()
    assert torch.allclose(p.detach(), before - 4.0 * 1e-3 / (0.02 + hess) * p.grad)
    assert torch.allclose(opt.step_sizes()[p], 4e-3 / (0.02 + hess))
    with pytest.raises(ValueError, match="shape"):
        opt.set_hessian({p: torch.zeros(4, dtype=torch.float64)})
    with pytest.raises(ValueError, match="SDLM"):
        SDLM([p], eta=1e-3, mu=0.0)


def test_paper_eta_schedule():
    got = [paper_eta(e, 20) for e in range(20)]
    assert got == [5e-4] * 2 + [2e-4] * 3 + [1e-4] * 3 + [5e-5] * 4 + [1e-5] * 8
    # other lengths stretch the same table
    assert [paper_eta(e, 10) for e in range(10)] == [5e-4, 2e-4, 2e-4, 1e-4, 5e-5, 5e-5] + [1e-5] * 4
    assert paper_eta(25, 20) == 1e-5


def test_sdlm_learns_on_real_digits(mnist_train):
    """A few hundred SDLM updates on real digits lower the loss on those digits (not a benchmark)."""
    torch.manual_seed(4)
    model = LeNet5()
    x = to_lenet_input(mnist_train[0][:256])
    y = torch.from_numpy(mnist_train[1][:256])
    # a tenth of the paper's first-pass rate: from the paper's initialisation the full rate
    # overshoots (see lenet.train._sdlm_warmup)
    opt = SDLM(model.parameters(), eta=5e-4, lr_scale=0.1)
    opt.set_hessian(gauss_newton_diagonal(model, x))
    with torch.no_grad():
        before = float(mse_loss(model(x), y))
    for _ in range(3):
        for xb, yb in zip(x.split(4), y.split(4)):
            opt.zero_grad()
            mse_loss(model(xb), yb).backward()
            opt.step()
    with torch.no_grad():
        after = float(mse_loss(model(x), y))
    assert after < 0.8 * before
