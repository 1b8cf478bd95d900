"""data.sdnn_samples: SDNN height normalisation and the paper's training windows (docs/paper.md Sec. VII)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from data.sdnn_samples import (BODY_PX, NONE_ID, PAD_PX, STRIP_H, WindowConfig, make_windows, normalize_field,
                               salt_and_pepper, window_at)
from data.synth import DigitPool, SynthConfig, synthesize


@pytest.fixture(scope="module")
def test_pool(mnist_test):
    return DigitPool(mnist_test[0], mnist_test[1], "test")


@pytest.fixture(scope="module")
def train_pool(mnist_train):
    return DigitPool(mnist_train[0][:5000], mnist_train[1][:5000], "train")


def _body_rows(strip):
    ink = strip > 0.5
    rows = np.flatnonzero(ink.any(axis=1))
    return rows[0], rows[-1] + 1


def test_normalised_strip_shape_and_levels(test_pool):
    for f in synthesize("zip", 5, split="test", seed=3, pool=test_pool):
        strip, tf = normalize_field(f.image)
        assert strip.shape[0] == STRIP_H and (strip.shape[1] - STRIP_H) % 4 == 0
        assert tf.frames == (strip.shape[1] - 32) // 4 + 1
        assert strip.min() >= -0.1 - 1e-6 and strip.max() <= 1.175 + 1e-6
        r0, r1 = _body_rows(strip)
        assert abs((r1 - r0) - BODY_PX) <= 4  # digits only: the body is the ink's height
        assert abs((r0 + r1) / 2 - STRIP_H / 2) <= 2
        # the first ink column sits PAD_PX from the left
        cols = np.flatnonzero((strip > 0.0).any(axis=0))
        assert abs(cols[0] - PAD_PX) <= 1


def test_normalisation_is_scale_invariant(test_pool):
    """A field scanned at twice (or 1.6x) the resolution normalises to nearly the same strip."""
    f = synthesize("digits", 1, split="test", seed=4, pool=test_pool, config=SynthConfig(min_len=4, max_len=4))[0]
    a, ta = normalize_field(f.image)
    for k in (2.0, 1.6):
        big = cv2.resize(f.image, None, fx=k, fy=k, interpolation=cv2.INTER_LINEAR)
        b, tb = normalize_field(big)
        w = min(a.shape[1], b.shape[1])
        assert abs(a.shape[1] - b.shape[1]) <= 4
        blur = [cv2.GaussianBlur(np.ascontiguousarray(s[:, :w]), (5, 5), 1.0).ravel() for s in (a, b)]
        assert np.corrcoef(blur[0], blur[1])[0, 1] > 0.6  # measured 0.77 (x2); body estimates differ ~7%
        assert tb.scale == pytest.approx(ta.scale / k, rel=0.1)


def test_transform_round_trip_and_boxes(test_pool):
    f = synthesize("zip", 1, split="test", seed=5, pool=test_pool)[0]
    strip, tf = normalize_field(f.image)
    xs = np.array([b[0] for b in f.boxes] + [b[2] for b in f.boxes], float)
    np.testing.assert_allclose(tf.to_image_x(tf.to_strip_x(xs)), xs, atol=1e-9)
    # the first character's box starts at the first ink column
    assert tf.to_strip_x(f.boxes[0][0]) == pytest.approx(PAD_PX, abs=1.0)


def test_inverted_polarity_free_and_empty_images():
    assert normalize_field(np.full((40, 90), 255, np.uint8)) is None
    assert normalize_field(np.full((40, 90), 7, np.uint8)) is None
    with pytest.raises(ValueError, match="sdnn_samples.ink_map"):
        normalize_field(np.zeros((4, 4, 3), np.float32))


def test_textured_background_is_removed(test_pool):
    """Light paper texture must not turn into ink (Otsu split + ink floor)."""
    cfg = SynthConfig(background="texture")
    f = synthesize("zip", 1, split="test", seed=6, pool=test_pool, config=cfg)[0]
    clean = synthesize("zip", 1, split="test", seed=6, pool=test_pool, config=SynthConfig())[0]
    a, _ = normalize_field(f.image)
    b, _ = normalize_field(clean.image)
    assert abs(float((a > 0.3).mean()) - float((b > 0.3).mean())) < 0.05


def test_windows_labels_and_determinism(train_pool):
    x, y = make_windows(40, seed=1, pool=train_pool)
    x2, y2 = make_windows(40, seed=1, pool=train_pool)
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(x, x2)
    assert x.shape[1:] == (1, 32, 32) and x.dtype == np.float32
    assert set(np.unique(y)) <= set(range(17))
    share = float(np.mean(y == NONE_ID))
    assert 0.35 < share <= 0.55  # config target 0.5
    # a character window has ink in its central columns; digits and punctuation both occur
    centre = x[y != NONE_ID, 0, :, 12:20].max(axis=(1, 2))
    assert np.mean(centre > 0.5) > 0.95
    assert (y < 10).any() and ((y >= 10) & (y < 16)).any()


def test_windows_refuse_test_digits(test_pool):
    with pytest.raises(ValueError, match="split"):
        make_windows(2, split="train", pool=test_pool)


def test_window_at_pads_with_paper():
    strip = np.full((32, 40), 1.175, np.float32)
    w = window_at(strip, 2.0)
    assert w.shape == (32, 32)
    assert np.all(w[:, :14] == np.float32(-0.1)) and np.all(w[:, 14:] == np.float32(1.175))


def test_salt_and_pepper_fraction():
    rng = np.random.default_rng(0)
    x = np.full((50, 32, 32), -0.1, np.float32)
    y = salt_and_pepper(x, rng, fraction=0.1)
    changed = float(np.mean(y != x))
    assert 0.04 < changed < 0.06  # half of the hit pixels are set to ink
    with pytest.raises(ValueError, match="fraction"):
        salt_and_pepper(x, rng, fraction=1.5)


def test_window_config_spacing_default():
    assert WindowConfig().spacing == (-1, 4)  # the paper's -1..4 px ink gaps


def test_window_jitter_and_scale_spread_the_characters_heights(train_pool):
    """Wider per-character jitter and scale in the rendered fields make the digits of a window sit
    at more different heights and sizes (the defaults are ``data.SynthConfig``'s)."""
    assert (WindowConfig().jitter, WindowConfig().scale) == (SynthConfig().jitter, SynthConfig().scale)

    def spread(cfg):
        x, y = make_windows(60, seed=2, pool=train_pool, config=cfg)
        ink = x[(y < 10), 0, :, 12:20] > 0.3  # central columns of digit windows
        rows = ink.any(axis=2)
        tops = rows.argmax(axis=1)
        bottoms = 31 - rows[:, ::-1].argmax(axis=1)
        return float(np.std(tops)), float(np.std(bottoms - tops))

    flat = spread(WindowConfig(jitter=0.0, scale=(1.0, 1.0)))
    wide = spread(WindowConfig(jitter=4.0, scale=(0.75, 1.3)))
    assert wide[0] > flat[0] + 0.8 and wide[1] > flat[1]
