"""The synthetic field generator on genuine MNIST digits (data/synth.py, glyphs, texts, backgrounds)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from data.backgrounds import BACKGROUNDS
from data.glyphs import PUNCTUATION, draw_punctuation
from data.synth import (SPACING_PRESETS, DigitPool, SynthConfig, field_rng, iter_fields, render,
                        synthesize)
from data.texts import AMOUNT_REGEX, ZIP_REGEX, kind_regex, sample_amount


@pytest.fixture(scope="module")
def test_pool(mnist_test):
    return DigitPool(*mnist_test, split="test")


@pytest.fixture(scope="module")
def train_pool(mnist_train):
    return DigitPool(*mnist_train, split="train")


def _tight(digit: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(digit.max(axis=1) > 0)
    cols = np.flatnonzero(digit.max(axis=0) > 0)
    return digit[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]


def _same(a, b) -> bool:
    return (a.text == b.text and a.boxes == b.boxes and np.array_equal(a.sources, b.sources)
            and np.array_equal(a.image, b.image))


@pytest.mark.parametrize("kind", ["digits", "zip", "amount"])
def test_deterministic_per_seed(kind, test_pool):
    cfg = SynthConfig(background="form", noise=3.0)
    a = synthesize(kind, 6, split="test", seed=11, config=cfg, pool=test_pool)
    b = synthesize(kind, 6, split="test", seed=11, config=cfg, pool=test_pool)
    c = synthesize(kind, 6, split="test", seed=12, config=cfg, pool=test_pool)
    assert all(_same(x, y) for x, y in zip(a, b))
    assert not any(_same(x, y) for x, y in zip(a, c))
    # Field i does not depend on how the batch is cut into pieces.
    tail = list(iter_fields(kind, 2, split="test", seed=11, config=cfg, pool=test_pool, start=4))
    assert all(_same(x, y) for x, y in zip(a[4:], tail))


@pytest.mark.parametrize("split", ["train", "test"])
def test_split_separation_and_exact_pixels(split, test_pool, train_pool, mnist_test, mnist_train):
    """Digits come only from the requested split: indices valid there and pixels identical to it."""
    pool = test_pool if split == "test" else train_pool
    images, labels = mnist_test if split == "test" else mnist_train
    cfg = SynthConfig.clean(spacing="wide", height=None)
    fields = synthesize("amount", 25, split=split, seed=3, config=cfg, pool=pool)
    checked = 0
    for f in fields:
        assert f.split == split and f.sources.shape == (len(f.text),)
        for ch, idx, (x0, y0, x1, y1) in zip(f.text, f.sources, f.boxes):
            if not ch.isdigit():
                assert idx == -1
                continue
            assert 0 <= idx < len(labels) and labels[idx] == int(ch)
            crop = f.image[y0:y1, x0:x1].astype(int)
            digit = _tight(images[idx]).astype(int)
            assert crop.shape == digit.shape
            ink = digit > 0
            # Every ink pixel is the MNIST pixel itself; elsewhere the box may hold a neighbour's
            # overhanging stroke (boxes of wide-spaced characters can still overlap), rarely.
            assert np.array_equal(crop[ink], 255 - digit[ink])
            assert np.mean(crop == 255 - digit) > 0.9
            checked += 1
    assert checked > 40


def test_pool_of_other_split_is_refused(train_pool):
    with pytest.raises(ValueError, match="split 'test'.*'train'"):
        synthesize("zip", 1, split="test", seed=0, pool=train_pool)


@pytest.mark.parametrize("spacing", sorted(SPACING_PRESETS))
@pytest.mark.parametrize("height", [32, None])
def test_boxes_inside_ordered_and_inked(spacing, height, test_pool):
    cfg = SynthConfig(spacing=spacing, height=height, background="texture", noise=2.0)
    for f in synthesize("amount", 12, split="test", seed=5, config=cfg, pool=test_pool):
        h, w = f.image.shape
        assert f.image.dtype == np.uint8 and len(f.boxes) == len(f.text)
        for x0, y0, x1, y1 in f.boxes:
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
            assert f.image[y0:y1, x0:x1].min() < 128  # the box holds ink
        x0s = [b[0] for b in f.boxes]
        x1s = [b[2] for b in f.boxes]
        assert x0s == sorted(x0s) and x1s == sorted(x1s)
        assert all(a < b for a, b in zip(x0s, x0s[1:]))


@pytest.mark.parametrize("kind", ["digits", "zip", "amount"])
def test_texts_follow_the_grammar(kind, test_pool):
    cfg = SynthConfig(min_len=3, max_len=6)
    rx = kind_regex(kind, min_len=3, max_len=6)
    fields = synthesize(kind, 30, split="test", seed=9, config=cfg, pool=test_pool)
    assert all(rx.fullmatch(f.text) for f in fields)
    if kind == "digits":
        assert {len(f.text) for f in fields} == {3, 4, 5, 6}


def test_amount_grammar_covers_its_forms():
    rng = np.random.default_rng(0)
    texts = [sample_amount(rng) for _ in range(600)]
    assert all(AMOUNT_REGEX.fullmatch(t) for t in texts)
    for needle in ("$", "*", ",", "."):
        assert any(needle in t for t in texts)
    assert any(t.count(",") >= 1 and t.count(".") == 1 and t.index(",") < t.index(".") for t in texts)  # 1,234.56
    assert any(t.count(".") == 1 and t.split(".")[1].isdigit() and len(t.split(".")[1]) == 3
               for t in texts)  # 18.014: '.' as thousands separator
    assert not AMOUNT_REGEX.fullmatch("1,23.45") and not AMOUNT_REGEX.fullmatch(".50")
    assert ZIP_REGEX.fullmatch("12345-6789") and not ZIP_REGEX.fullmatch("1234-56789")


def _joined_fraction(fields) -> float:
    """Fraction of fields whose dark ink has fewer 8-connected components than characters."""
    joined = 0
    for f in fields:
        n, _, stats, _ = cv2.connectedComponentsWithStats((f.image < 128).astype(np.uint8), connectivity=8)
        big = int((stats[1:, cv2.CC_STAT_AREA] >= 5).sum())
        joined += big < len(f.text)
    return joined / len(fields)


def test_touching_mode_really_touches(test_pool):
    def make(spacing):
        cfg = SynthConfig(spacing=spacing, min_len=2, max_len=5)
        return synthesize("digits", 40, split="test", seed=21, config=cfg, pool=test_pool)

    touching, overlapping, normal = make("touching"), make("overlapping"), make("normal")
    assert _joined_fraction(touching) >= 0.75
    assert _joined_fraction(overlapping) >= 0.75
    assert _joined_fraction(normal) <= 0.05
    # Overlapping characters share columns: their boxes overlap horizontally.
    assert np.mean([b[0] < a[2] for f in overlapping for a, b in zip(f.boxes, f.boxes[1:])]) > 0.8


def test_height_options(test_pool):
    for height in (32, 48):
        for f in synthesize("zip", 5, split="test", seed=2, config=SynthConfig(height=height), pool=test_pool):
            assert f.image.shape[0] == height
    clean32 = synthesize("digits", 10, split="test", seed=2, config=SynthConfig.clean(), pool=test_pool)
    # At the default height a digit is about MNIST-sized (20 px body) as LeNet-5 expects.
    assert 17 <= np.median([b[3] - b[1] for f in clean32 for b in f.boxes]) <= 21
    natural = synthesize("digits", 5, split="test", seed=2, config=SynthConfig.clean(height=None, margin=3),
                         pool=test_pool)
    for f in natural:
        ys = np.flatnonzero((f.image < 255).any(axis=1))
        assert ys[0] == 3 and ys[-1] == f.image.shape[0] - 4  # ink box plus the margin, no resampling


@pytest.mark.parametrize("background", BACKGROUNDS)
def test_backgrounds_are_light_and_ink_dark(background, test_pool):
    f = synthesize("zip", 1, split="test", seed=4, config=SynthConfig(background=background), pool=test_pool)[0]
    assert np.median(f.image) > 200 and f.image.min() < 60
    if background != "white":
        assert len(np.unique(f.image[f.image > 200])) > 5  # it really is textured


def test_punctuation_glyphs_are_plausible():
    """Drawn symbols have MNIST-like ink (solid core) and sizes relative to a 20 px digit body."""
    rng = np.random.default_rng(1)
    for ch in PUNCTUATION:
        for _ in range(20):
            g = draw_punctuation(ch, rng)
            h, w = g.ink.shape
            assert g.ink.max() > 0.9 and g.source == -1
            if ch in ".,":
                assert h <= 12 and w <= 9 and g.top + h >= 0  # reaches the baseline
            if ch == "-":
                assert w >= 5 and h <= 8 and g.top + h < 0  # above the baseline
            if ch in "$/":
                assert h >= 16
    with pytest.raises(ValueError, match="cannot draw 'a'"):
        draw_punctuation("a", rng)


def test_bad_input_errors(test_pool):
    rng = field_rng(0, 0)
    with pytest.raises(ValueError, match=r"\[data.synth.render\] cannot draw 'x'"):
        render("12x4", test_pool, rng)
    with pytest.raises(ValueError, match="empty text"):
        render("", test_pool, rng)
    with pytest.raises(ValueError, match="unknown spacing preset 'squashed'"):
        synthesize("zip", 1, split="test", seed=0, pool=test_pool, config=SynthConfig(spacing="squashed"))
    with pytest.raises(ValueError, match="unknown kind 'iban'"):
        synthesize("iban", 1, split="test", seed=0, pool=test_pool)
    with pytest.raises(ValueError, match="height"):
        synthesize("zip", 1, split="test", seed=0, pool=test_pool, config=SynthConfig(height=4))
    with pytest.raises(ValueError, match="seed"):
        synthesize("zip", 1, split="test", seed=-1, pool=test_pool)
