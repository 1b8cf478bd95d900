"""segmenter.normalize: pieces -> LeNet-5 inputs the way MNIST was made."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from data import to_lenet_input
from data.dataset import BACKGROUND, INK
from segmenter import SegmenterConfig, normalize_frame, normalize_pieces


def centre_of_mass(frame: np.ndarray) -> tuple[float, float]:
    w = frame.astype(np.float64)
    ys, xs = np.mgrid[0: frame.shape[0], 0: frame.shape[1]]
    return float((w * ys).sum() / w.sum() + 0.5), float((w * xs).sum() / w.sum() + 0.5)


def test_mnist_digits_renormalised_have_size_levels_and_centred_mass(mnist_train):
    images, _ = mnist_train
    rng = np.random.default_rng(0)
    for img in images[rng.choice(len(images), 25, replace=False)]:
        mask = img > 127
        frame = normalize_frame(mask)
        assert frame.shape == (28, 28) and frame.dtype == np.uint8
        rows = np.flatnonzero(frame.max(axis=1) > 0)
        cols = np.flatnonzero(frame.max(axis=0) > 0)
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 == 20  # fitted in 20x20
        cy, cx = centre_of_mass(frame)
        assert abs(cy - 14) <= 1.0 and abs(cx - 14) <= 1.0
    x = normalize_pieces([img > 127 for img in images[:7]])
    assert x.shape == (7, 1, 32, 32) and x.dtype == torch.float32
    assert torch.isclose(x.min(), torch.tensor(BACKGROUND)) and x.max() <= INK + 1e-6
    assert x.max() > 1.0  # full ink reaches the top level
    assert torch.all(x[:, :, :2, :] == BACKGROUND) and torch.all(x[:, :, :, -2:] == BACKGROUND)


def test_levels_match_data_to_lenet_input():
    rng = np.random.default_rng(1)
    masks = [rng.random((int(rng.integers(3, 40)), int(rng.integers(3, 40)))) > 0.6 for _ in range(5)]
    ours = normalize_pieces(masks, char_height=30.0)
    frames = np.stack([normalize_frame(m, char_height=30.0) for m in masks])
    assert torch.allclose(ours, to_lenet_input(frames), atol=1e-6)


def test_small_pieces_keep_their_smallness():
    dot = np.ones((4, 4), bool)
    tall = np.ones((30, 4), bool)
    small = normalize_frame(dot, char_height=30.0)  # scaled like a piece 0.5 * 30 px tall
    assert (small > 0).sum() < 60
    big = normalize_frame(dot, config=SegmenterConfig().replace(min_rel_height=0.0), char_height=30.0)
    assert (big > 0).sum() >= 400  # the pure MNIST recipe blows it up to 20x20
    frame = normalize_frame(tall, char_height=30.0)
    rows = np.flatnonzero(frame.max(axis=1) > 0)
    assert rows[-1] - rows[0] + 1 == 20


def test_empty_piece_is_an_error_and_no_pieces_is_an_empty_batch():
    with pytest.raises(ValueError, match=r"\[segmenter.normalize_frame\] the piece holds no ink"):
        normalize_frame(np.zeros((5, 5), bool))
    assert normalize_pieces([]).shape == (0, 1, 32, 32)
