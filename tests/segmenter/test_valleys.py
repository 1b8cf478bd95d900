"""segmenter.valleys: contour dips (brute force), valley lines, and two cursive 0s sharing a stroke."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from segmenter import SegmenterConfig, segment
from segmenter.cuts import CUT_KINDS
from segmenter.valleys import contour_dips, valley_cuts, valley_lines
from segmenter.truth import true_path


def _brute_dips(p: np.ndarray, window: int, min_depth: float) -> list[int]:
    """Middles of plateaus strictly higher than both neighbours, deep enough against both sides."""
    w = p.shape[0]
    out = []
    s = 0
    while s < w:
        e = s
        while e + 1 < w and (p[e + 1] == p[s] or (np.isnan(p[e + 1]) and np.isnan(p[s]))):
            e += 1
        if not np.isnan(p[s]) and s >= 1 and e + 1 < w:
            before = -np.inf if np.isnan(p[s - 1]) else p[s - 1]
            after = -np.inf if np.isnan(p[e + 1]) else p[e + 1]
            x = (s + e) // 2
            left = [v for v in p[max(0, x - window): x] if not np.isnan(v)]
            right = [v for v in p[x + 1: x + 1 + window] if not np.isnan(v)]
            if (before < p[s] and after < p[s] and left and right
                    and p[x] - max(min(left), min(right)) >= min_depth):
                out.append(x)
        s = e + 1
    return out


@pytest.mark.parametrize("seed", range(60))
def test_contour_dips_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    w = int(rng.integers(1, 16))
    p = rng.integers(0, 5, w).astype(np.float64)
    p[rng.random(w) < 0.15] = np.nan
    window, depth = int(rng.integers(1, 4)), float(rng.integers(0, 3))
    assert contour_dips(p, window=window, min_depth=depth).tolist() == _brute_dips(p, window, depth)


def test_valley_lines_join_valley_to_peak_or_to_the_lower_contour():
    # a V in the top at column 5 (row 6) and an inverted V in the bottom at column 6 (row 14)
    top = np.array([2, 2, 3, 4, 5, 6, 5, 4, 3, 2, 2], np.float64)
    bottom = np.array([18, 18, 17, 16, 15, 15, 14, 15, 16, 17, 18], np.float64)
    lines = valley_lines(top, bottom, window=4, min_depth=2, max_slope=1.0)
    assert len(lines) == 1
    a, s = lines[0]
    assert a + s * 6 == pytest.approx(5) and a + s * 14 == pytest.approx(6)
    # a flat bottom: the valley is joined to the highest bottom point within window // 2 columns
    flat = np.array([18, 18, 18, 18, 17, 17, 17, 18, 18, 18, 18], np.float64)
    (a, s), = valley_lines(top, flat, window=4, min_depth=2, max_slope=1.0)
    assert a + s * 6 == pytest.approx(5) and a + s * 17 == pytest.approx(5)
    # a peak without a valley above it makes no line
    assert valley_lines(np.full(11, 2.0), bottom, window=4, min_depth=2, max_slope=1.0) == []


def _two_zeros(shared: int = 2, angle: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
    """Two slanted cursive 0s whose sides overlap by ``shared`` columns: image uint8 (H, W) and its
    character map (a pixel of both belongs to the nearer centre, as :func:`segmenter.truth.box_char_map`
    decides for overlapping boxes)."""
    h, w, rx, ry = 48, 70, 11, 15
    centres = (20, 20 + 2 * rx - shared)
    masks = []
    for cx in centres:
        m = np.zeros((h, w), np.uint8)
        cv2.ellipse(m, (cx, 24), (rx, ry), angle, 0, 360, 1, 3)
        masks.append(m.astype(bool))
    yy, xx = np.mgrid[0:h, 0:w]
    d0, d1 = (np.hypot(yy - 24, xx - cx) for cx in centres)
    cmap = np.full((h, w), -1, np.int64)
    cmap[masks[0] & ((d0 <= d1) | ~masks[1])] = 0
    cmap[masks[1] & ((d1 < d0) | ~masks[0])] = 1
    return np.where(masks[0] | masks[1], 0, 255).astype(np.uint8), cmap


def test_valley_cut_separates_two_slanted_zeros_sharing_a_stroke():
    img, cmap = _two_zeros()
    cfg = SegmenterConfig()
    seg = segment(img, config=cfg)
    assert (seg.cuts.kind == CUT_KINDS.index("valley")).any()
    assert true_path(seg, cmap, tol=0.8) is not None
    # without valley cuts, the cheapest slope through the junction runs across the loops
    plain = segment(img, config=cfg.replace(valley_cuts=False))
    assert true_path(plain, cmap, tol=0.8) is None


def test_valley_cuts_empty_and_narrow_ink():
    cfg = SegmenterConfig()
    assert len(valley_cuts(np.zeros((10, 10), bool), 8.0, cfg)) == 0
    one = np.zeros((30, 30), bool)
    cv2.ellipse(one.view(np.uint8), (15, 15), (6, 10), 0, 0, 360, 1, 2)
    assert len(valley_cuts(one, 20.0, cfg)) == 0  # a single 0: narrower than dense_wide_rel
