"""lenet.losses: MSE on the correct class and the MAP criterion of eq. 9."""

from __future__ import annotations

import math

import pytest
import torch

from lenet.losses import DEFAULT_MAP_J, map_loss, mse_loss


def test_mse_is_mean_correct_penalty():
    p = torch.tensor([[3.0, 1.0, 7.0], [0.5, 4.0, 2.0]])
    y = torch.tensor([2, 0])
    assert float(mse_loss(p, y)) == pytest.approx((7.0 + 0.5) / 2)


def test_map_matches_eq9_brute_force():
    torch.manual_seed(0)
    p = torch.rand(4, 5, dtype=torch.float64) * 30
    y = torch.tensor([0, 3, 4, 1])
    for j in (0.5, DEFAULT_MAP_J, 40.0):
        want = sum(float(p[k, y[k]]) + math.log(math.exp(-j) + sum(math.exp(-float(v)) for v in p[k]))
                   for k in range(4)) / 4
        assert float(map_loss(p, y, j=j)) == pytest.approx(want, rel=1e-12)


def test_map_gradcheck_and_stability():
    torch.manual_seed(1)
    p = (torch.rand(3, 4, dtype=torch.float64) * 20).requires_grad_(True)
    y = torch.tensor([1, 0, 3])
    assert torch.autograd.gradcheck(lambda q: map_loss(q, y), (p,))
    assert torch.autograd.gradcheck(lambda q: mse_loss(q, y), (p,))
    big = torch.full((1, 3), 5000.0)
    assert torch.isfinite(map_loss(big, torch.tensor([0])))


def test_map_j_stops_pushing_large_penalties():
    """A wrong class already far above j gets (almost) no gradient; near j it does."""
    y = torch.tensor([0])
    far = torch.tensor([[2.0, DEFAULT_MAP_J + 30.0]], requires_grad=True)
    near = torch.tensor([[2.0, 3.0]], requires_grad=True)
    map_loss(far, y).backward()
    map_loss(near, y).backward()
    assert abs(float(far.grad[0, 1])) < 1e-10
    assert abs(float(near.grad[0, 1])) > 0.1


def test_bad_labels_and_shapes():
    with pytest.raises(ValueError, match=r"\[lenet.map_loss\] label 5 outside 0..2"):
        map_loss(torch.zeros(2, 3), torch.tensor([0, 5]))
    with pytest.raises(ValueError, match="mse_loss"):
        mse_loss(torch.zeros(3), torch.tensor([0]))
    with pytest.raises(ValueError, match="positive"):
        map_loss(torch.zeros(1, 3), torch.tensor([0]), j=0.0)
