"""lenet.distort: random planar affine (and elastic) distortions on real digits."""

from __future__ import annotations

import pytest
import torch

from data import to_lenet_input
from lenet.distort import DistortionConfig, distort, random_affine_matrices


@pytest.fixture(scope="module")
def digits(mnist_test):
    return to_lenet_input(mnist_test[0][:16])


def _centroid(x: torch.Tensor) -> torch.Tensor:
    w = (x[:, 0] + 0.1).clamp(min=0)  # ink mass
    ys = torch.arange(x.shape[-2], dtype=x.dtype).view(1, -1, 1)
    xs = torch.arange(x.shape[-1], dtype=x.dtype).view(1, 1, -1)
    m = w.sum((1, 2))
    return torch.stack([(w * xs).sum((1, 2)) / m, (w * ys).sum((1, 2)) / m], 1)


def test_identity_configuration_changes_nothing(digits):
    cfg = DistortionConfig(max_shift=0, scale=(1, 1), squeeze=(1, 1), max_shear=0, probability=1.0)
    assert torch.allclose(distort(digits, cfg, generator=torch.Generator().manual_seed(0)), digits, atol=1e-5)
    cfg = DistortionConfig(probability=0.0)
    assert torch.allclose(distort(digits, cfg, generator=torch.Generator().manual_seed(0)), digits, atol=1e-5)


def test_translation_moves_ink_within_range(digits):
    cfg = DistortionConfig(max_shift=2.0, scale=(1, 1), squeeze=(1, 1), max_shear=0, probability=1.0)
    out = distort(digits, cfg, generator=torch.Generator().manual_seed(1))
    shift = _centroid(out) - _centroid(digits)
    assert shift.abs().max() <= 2.3 and shift.abs().max() > 0.3


def test_scaling_changes_ink_extent(digits):
    cfg = DistortionConfig(max_shift=0, scale=(1.3, 1.3), squeeze=(1, 1), max_shear=0, probability=1.0)
    out = distort(digits, cfg, generator=torch.Generator().manual_seed(2))
    ink_in = (digits > 0.5).sum()
    ink_out = (out > 0.5).sum()
    assert 1.3 < float(ink_out) / float(ink_in) < 2.2  # area grows by about 1.3^2


def test_background_levels_and_reproducibility(digits):
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    a = distort(digits, DistortionConfig(elastic=True), generator=g1)
    b = distort(digits, DistortionConfig(elastic=True), generator=g2)
    assert torch.equal(a, b)
    assert a.shape == digits.shape
    assert a.min() >= -0.1 - 1e-5 and a.max() <= 1.175 + 1e-5
    assert torch.allclose(a[:, :, 0, 0], torch.full_like(a[:, :, 0, 0], -0.1), atol=1e-4)


def test_matrices_and_errors():
    theta = random_affine_matrices(100, DistortionConfig(probability=1.0), generator=torch.Generator().manual_seed(3))
    det = torch.linalg.det(theta[:, :, :2])
    # inverse of scale in [0.9, 1.1] times a squeeze of determinant 1
    assert ((1 / det) > 0.9 ** 2 - 1e-6).all() and ((1 / det) < 1.1 ** 2 + 1e-6).all()
    with pytest.raises(ValueError, match="square"):
        distort(torch.zeros(1, 1, 32, 40))


@pytest.mark.parametrize("elastic", [False, True])
def test_distorting_a_share_of_the_batch_equals_distorting_the_batch(elastic):
    """torchrun: one process distorts only its rows of the global batch, yet each row gets what the
    whole batch's distortion gives it, and the generator ends where it would (so later batches
    agree too); a process without rows still draws."""
    cfg = DistortionConfig(elastic=elastic, probability=1.0)
    x = torch.rand(7, 1, 32, 32) * 1.275 - 0.1
    whole_g, part_g = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    whole = distort(x, cfg, generator=whole_g)
    for rank in range(3):
        g = torch.Generator().manual_seed(5)
        mine = slice(rank, None, 3)
        part = distort(x[mine], cfg, generator=g, batch=7, rows=mine)
        torch.testing.assert_close(part, whole[mine], rtol=0, atol=1e-6)
        assert torch.equal(g.get_state(), whole_g.get_state())
    empty = distort(x[:0], cfg, generator=part_g, batch=7, rows=slice(7, None, 3))
    assert empty.shape == (0, 1, 32, 32) and torch.equal(part_g.get_state(), whole_g.get_state())
    with pytest.raises(ValueError, match="both batch and rows"):
        distort(x, cfg, batch=7)
    with pytest.raises(ValueError, match="select 3 of a batch of 7"):
        distort(x[:2], cfg, batch=7, rows=slice(0, None, 3))


def test_shifted_copies_move_ink_by_whole_pixels(digits):
    from lenet.distort import shifted_copies

    out = shifted_copies(digits, pixels=2)
    assert out.shape == (5,) + tuple(digits.shape)
    assert torch.equal(out[0], digits)
    expected = {1: (2, 0), 2: (-2, 0), 3: (0, 2), 4: (0, -2)}  # right, left, down, up
    for k, (dx, dy) in expected.items():
        shift = _centroid(out[k]) - _centroid(digits)
        assert torch.allclose(shift, torch.tensor([float(dx), float(dy)]).expand_as(shift), atol=1e-4), k
        # every value is a pixel of the input or the background: no interpolation
        assert torch.equal(out[k], torch.roll(digits, shifts=(dy, dx), dims=(-2, -1)))  # MNIST's border is blank
    digits_corner = digits.clone()
    digits_corner[:, :, :, -1] = 1.0  # ink in the last column leaves the frame when moved right
    moved = shifted_copies(digits_corner, pixels=1)[1]
    assert torch.all(moved[..., 0] == digits.min())  # what comes in from the left is background


def test_shifted_copies_refuse_bad_arguments(digits):
    from lenet.distort import shifted_copies

    for bad in (0, -1, 32, 1.5, True):
        with pytest.raises(ValueError, match="pixels"):
            shifted_copies(digits, pixels=bad)
    with pytest.raises(ValueError, match="inputs"):
        shifted_copies(digits[0], pixels=1)
