"""segmenter.preprocess: greyscale, binarisation (measured), line/border/speck removal, deslant."""

from __future__ import annotations

import numpy as np
import pytest

from data.texts import sample_text
from segmenter import SegmenterConfig, binarize, preprocess, to_grey
from segmenter.preprocess import deslant, estimate_slant, remove_guide_lines
from segmenter.synthtruth import render_condition


def f1(pred, gt):
    return 2.0 * (pred & gt).sum() / max(pred.sum() + gt.sum(), 1)


def fields(pool, condition, n, seed):
    rng = np.random.default_rng([seed, 11])
    return [render_condition(sample_text("digits", rng, min_len=3, max_len=6), pool, rng, condition)
            for _ in range(n)]


def test_to_grey_accepts_common_types_and_rejects_bad_ones():
    rgb = np.zeros((4, 5, 3), np.uint8) + 200
    assert to_grey(rgb).shape == (4, 5) and to_grey(rgb).dtype == np.uint8
    assert to_grey(np.ones((3, 3))).max() == 255  # floats in [0, 1]
    mask = np.zeros((3, 3), bool)
    mask[1, 1] = True
    assert to_grey(mask)[1, 1] == 0 and to_grey(mask)[0, 0] == 255
    with pytest.raises(ValueError, match=r"\[segmenter.preprocess\] empty image"):
        to_grey(np.zeros((0, 7), np.uint8))
    with pytest.raises(ValueError, match="expected an"):
        to_grey(np.zeros((2, 3, 4, 5)))
    with pytest.raises(ValueError, match="NaN"):
        to_grey(np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="negative"):
        to_grey(np.full((2, 2), -3.0))


@pytest.mark.parametrize("condition", ["faint", "uneven"])
def test_default_binarisation_beats_fixed_threshold(train_pool, condition):
    data = fields(train_pool, condition, 6, seed=1)
    ours = np.mean([f1(binarize(img), gt) for img, gt, _, _ in data])
    fixed = np.mean([f1(binarize(img, method="fixed"), gt) for img, gt, _, _ in data])
    assert ours > fixed + 0.05, (ours, fixed)
    assert ours > 0.93


def test_binarisation_on_textured_paper_finds_the_ink_and_not_the_texture(train_pool):
    data = fields(train_pool, "texture", 6, seed=2)
    scores = [f1(binarize(img), gt) for img, gt, _, _ in data]
    assert min(scores) > 0.95
    # a blank textured field has no ink at all (contrast guard)
    img, gt, _, paper = data[0]
    blank = np.clip(np.rint(paper), 0, 255).astype(np.uint8)
    assert not binarize(blank).any()


def test_guide_line_and_frame_removal_keep_the_digits(train_pool):
    for condition in ("lined", "form"):
        data = fields(train_pool, condition, 6, seed=3)
        kept, line_gone = [], []
        for img, gt, _, paper in data:
            raw = binarize(img)
            ink = preprocess(img).ink
            kept.append((ink & gt).sum() / max((raw & gt).sum(), 1))
            line = raw & (paper < 200) & ~gt
            if line.sum():
                line_gone.append((line & ~ink).sum() / line.sum())
        assert np.mean(kept) > 0.98, (condition, kept)
        assert np.mean(line_gone) > 0.8, (condition, line_gone)


def test_a_stroke_crossing_a_guide_line_stays_connected():
    ink = np.zeros((30, 80), bool)
    ink[20:22, :] = True        # a 2-px guide line
    ink[5:28, 40:43] = True     # a vertical stroke crossing it
    cleaned, removed = remove_guide_lines(ink, min_length=40)
    assert cleaned[5:28, 40:43].all()          # the stroke is intact
    assert not cleaned[20:22, :30].any()       # the line elsewhere is gone
    assert removed[20:22, :30].all()


def test_blank_single_pixel_and_huge_images():
    assert not preprocess(np.full((40, 90), 255, np.uint8)).ink.any()
    assert not preprocess(np.zeros((1, 1), np.uint8)).ink.any()  # no contrast: no ink
    with pytest.raises(ValueError, match=r"\[segmenter.preprocess\] .* more than max_pixels"):
        preprocess(np.zeros((100, 100), np.uint8), SegmenterConfig().replace(max_pixels=5000))


def test_deslant_makes_a_slanted_bar_upright_and_maps_back():
    ink = np.zeros((30, 40), bool)
    for y in range(30):  # top leaning right: x decreases as y grows
        ink[y, 25 - y // 2: 28 - y // 2] = True
    slant = estimate_slant(ink)
    assert 0.4 < slant < 0.6
    out, shift = deslant(ink, slant)
    cols = np.flatnonzero(out.any(axis=0))
    assert cols.size <= 5  # nearly vertical now
    ys, xs = np.nonzero(out)
    assert ink[ys, xs - shift[ys]].all()  # every working pixel maps back onto the input ink


def test_binarize_with_a_given_background_equals_its_own_and_checks_the_shape(train_pool):
    from segmenter.preprocess import stroke_background

    for img, _, _, _ in fields(train_pool, "texture", 2, seed=5) + fields(train_pool, "uneven", 2, seed=6):
        grey = to_grey(img)
        own = binarize(grey)
        assert own.any()
        assert np.array_equal(binarize(grey, bg=stroke_background(grey)), own)
    with pytest.raises(ValueError, match="background of shape"):
        binarize(grey, bg=np.zeros((3, 3)))
