"""The whole-field arc computations (segmenter.arcs, the band-0 cut programme, the leaner
normalize_frame) give exactly what the per-piece reference functions give, on real and synthetic
fields: bundled samples, MNIST-built zip codes (normal and touching) and amounts, and real
cheque fields when ../shared holds them."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from data.synth import SynthConfig, synthesize
from segmenter import SegmenterConfig, normalize_frame, segment
from segmenter.arcs import ArcPixels, arc_geometry, column_gaps, low_dots, piece_crops
from segmenter.cuts import trace_paths
from segmenter.graph import FEATURE_NAMES, column_gap, has_low_dot, piece_crop
from segmenter.pieces import ink_pixels

SAMPLES = Path(__file__).resolve().parents[2] / "docrec" / "samples"
ORAND = Path(__file__).resolve().parents[3] / "shared" / "data" / "orand_car_a"


def _reference_normalize_frame(mask, *, char_height, config):
    """normalize_frame as it was before the per-call overhead was trimmed (the reference)."""
    cfg = config
    m = np.asarray(mask, np.float32)
    rows = np.flatnonzero(m.max(axis=1) > 0)
    cols = np.flatnonzero(m.max(axis=0) > 0)
    m = m[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
    h, w = m.shape
    core = m >= (0.5 if cfg.pieces.fit_core else 1e-6)
    if core.any():
        core_h = int(np.ptp(np.flatnonzero(core.any(axis=1)))) + 1
        core_w = int(np.ptp(np.flatnonzero(core.any(axis=0)))) + 1
    else:
        core_h, core_w = h, w
    scale = cfg.pieces.fit_box / max(core_h, core_w)
    if cfg.pieces.min_rel_height > 0 and char_height > 0:
        scale = min(scale, cfg.pieces.fit_box / (cfg.pieces.min_rel_height * char_height))
    limit = cfg.pieces.frame if (core_h, core_w) != (h, w) else cfg.pieces.fit_box
    nh = int(min(limit, max(1, round(h * scale))))
    nw = int(min(limit, max(1, round(w * scale))))
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    small = np.clip(cv2.resize(m * 255.0, (nw, nh), interpolation=interp), 0.0, 255.0)
    mass = small.sum()
    if mass <= 0:
        small = np.full((nh, nw), 255.0, np.float32)
        mass = small.sum()
    cy = float((small.sum(axis=1) * np.arange(nh)).sum() / mass)
    cx = float((small.sum(axis=0) * np.arange(nw)).sum() / mass)
    f = cfg.pieces.frame
    top = int(np.clip(round(f / 2.0 - 0.5 - cy), 0, f - nh))
    left = int(np.clip(round(f / 2.0 - 0.5 - cx), 0, f - nw))
    frame = np.zeros((f, f), np.uint8)
    frame[top: top + nh, left: left + nw] = np.rint(small).astype(np.uint8)
    return frame


@pytest.fixture(scope="module")
def fields(train_pool):
    """uint8 field images of several kinds (real ones when available)."""
    images = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted(SAMPLES.glob("*.png"))]
    images += [f.image for f in synthesize("zip", 6, split="train", seed=3, pool=train_pool)]
    images += [f.image for f in synthesize("zip", 6, split="train", seed=4, pool=train_pool,
                                           config=SynthConfig(spacing="touching"))]
    images += [f.image for f in synthesize("amount", 6, split="train", seed=5, pool=train_pool)]
    if (ORAND / "boxes.jsonl").is_file():
        for line in (ORAND / "boxes.jsonl").read_text().splitlines()[:8]:
            images.append(cv2.imread(str(ORAND / json.loads(line)["path"]), cv2.IMREAD_GRAYSCALE))
    return images


@pytest.mark.parametrize("grey", [True, False])
def test_arc_geometry_and_crops_equal_the_per_piece_references(fields, grey):
    cfg = SegmenterConfig().replace(grey_pieces=grey)
    arcs = 0
    for img in fields:
        seg = segment(img, config=cfg)
        if seg.is_empty:
            continue
        ys, xs = seg.ink_yx[:, 0], seg.ink_yx[:, 1]
        comp = ink_pixels(seg.prep.ink)[2]
        masks = np.stack([seg.arc_mask(a) for a in range(seg.num_arcs)])  # (E, P)
        pixels = ArcPixels.from_masks(masks, ys, xs, comp)
        ch = max(seg.prep.char_height, 1.0)
        boxes, feats = arc_geometry(pixels, seg.prep, seg.features[:, 4], ch, cfg, band_top=float(ys.min()))
        assert np.array_equal(boxes, seg.boxes) and np.array_equal(feats, seg.features)
        gaps = column_gaps(pixels, int(xs.max()) + 1)
        dots = low_dots(pixels, ch, max_area_rel=cfg.graph.dot_area_rel)
        crops = piece_crops(pixels, seg.prep, cfg)
        for a, m in enumerate(masks):
            py, px = ys[m], xs[m]
            assert gaps[a] == column_gap(px)
            assert dots[a] == has_low_dot(py, comp[m], ch, max_area_rel=cfg.graph.dot_area_rel)
            ref = piece_crop(seg.prep, py, px, cfg)
            assert crops[a].dtype == ref.dtype and np.array_equal(crops[a], ref)
            assert np.array_equal(normalize_frame(ref, char_height=seg.prep.char_height, config=cfg),
                                  _reference_normalize_frame(ref, char_height=seg.prep.char_height, config=cfg))
        arcs += seg.num_arcs
    assert arcs > 500 and FEATURE_NAMES[7] == "dot"


def test_low_dots_on_a_hand_made_piece():
    # arc 0: a body of 20 rows and a 2-pixel dot low beside it; arc 1: the body alone
    body_y, dot_y = np.repeat(np.arange(2, 22), 3), np.array([20, 21])
    ys = np.concatenate([body_y, dot_y])
    xs = np.concatenate([np.tile([5, 6, 7], 20), [10, 10]])
    comp = np.concatenate([np.ones(body_y.size, np.int64), [2, 2]])
    masks = np.stack([np.ones(ys.size, bool), np.r_[np.ones(body_y.size, bool), [False, False]]])
    pixels = ArcPixels.from_masks(masks, ys, xs, comp)
    assert low_dots(pixels, 20.0, max_area_rel=0.06).tolist() == [True, False]
    assert column_gaps(pixels, 11).tolist() == [2, 0]
    with pytest.raises(ValueError, match=r"\[segmenter.arcs\] arc 1 of 2 holds no ink"):
        ArcPixels.from_masks(np.stack([masks[0], np.zeros(ys.size, bool)]), ys, xs, comp)


def test_band0_cut_programme_equals_the_general_one(fields):
    cfg = SegmenterConfig()
    for img in fields[:20]:
        seg = segment(img, config=cfg)
        ink = seg.prep.ink
        cols = np.flatnonzero(ink.any(axis=0))
        if cols.size == 0:
            continue
        lo, hi = int(cols[0]), int(cols[-1]) + 1
        anchors = np.arange(lo - 2, hi + 3)  # a few anchors outside [lo, hi]: infinite-cost rows too
        kw = dict(band=0, slopes=(-1.0, -0.5, 0.0, 0.5, 1.0), lo=lo, hi=hi)
        fast, fast_cost = trace_paths(ink, anchors, **kw)
        ref, ref_cost = trace_paths(ink, anchors, fast_lines=False, **kw)
        assert np.array_equal(fast, ref) and np.array_equal(fast_cost, ref_cost)
