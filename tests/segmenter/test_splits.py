"""segmenter.splits: minimum vertex splits (brute force) and split cuts on touching characters."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from segmenter import SegmenterConfig, segment
from segmenter.cuts import find_cuts
from segmenter.pieces import cut_sides, ink_pixels
from segmenter.splits import component_order_cuts, min_vertex_split, split_cuts
from segmenter.truth import true_path
from tests.segmenter.test_graph import make_fields


def _connected(ys, xs, keep, a, b) -> bool:
    """Is any pixel of ``a`` 8-connected to any pixel of ``b`` through kept pixels?"""
    pts = {(int(y), int(x)): i for i, (y, x) in enumerate(zip(ys, xs)) if keep[i]}
    todo = [i for i in np.flatnonzero(a & keep)]
    seen = set(todo)
    while todo:
        i = todo.pop()
        if b[i]:
            return True
        for dy, dx in itertools.product((-1, 0, 1), repeat=2):
            j = pts.get((int(ys[i]) + dy, int(xs[i]) + dx))
            if j is not None and j not in seen:
                seen.add(j)
                todo.append(j)
    return False


def _brute_min_split(ys, xs, lseed, rseed, limit=4):
    free = np.flatnonzero(~lseed & ~rseed)
    for k in range(limit + 1):
        for removed in itertools.combinations(free, k):
            keep = np.ones(ys.size, bool)
            keep[list(removed)] = False
            if not _connected(ys, xs, keep, lseed, rseed):
                return k
    return None


@pytest.mark.parametrize("seed", range(40))
def test_min_vertex_split_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    h, w = 5, 7
    ink = rng.random((h, w)) < 0.55
    ink[:, 0] = ink[:, -1] = True  # non-empty seeds
    ys, xs = np.nonzero(ink)
    lseed, rseed = xs == 0, xs == w - 1
    count, left, removed = min_vertex_split(ys, xs, lseed, rseed)
    want = _brute_min_split(ys, xs, lseed, rseed, limit=5)
    assert want is not None
    assert count == want
    assert removed.sum() == count and not (removed & (lseed | rseed)).any()
    # the returned separation is valid: nothing left of it is connected to the right seed
    keep = ~removed
    assert left[lseed].all() and not left[rseed].any()
    assert not _connected(ys, xs, keep, left & keep, ~left & keep)


def test_min_vertex_split_seeds_touching_directly():
    ys, xs = np.array([0, 0]), np.array([0, 1])
    count, _, _ = min_vertex_split(ys, xs, np.array([True, False]), np.array([False, True]))
    assert count >= 1 << 20


def _overhang_pair():
    """Two 'characters' touching at a corner; the right one's foot reaches under the left one."""
    ink = np.zeros((24, 30), bool)
    left = np.zeros_like(ink)
    cv2.rectangle(left.view(np.uint8), (2, 2), (12, 14), 1, 2)  # a box-shaped character
    right = np.zeros_like(ink)
    right[2:22, 16:18] = True  # a stem ...
    right[20:22, 6:18] = True  # ... with a foot running under the left character
    right[15:20, 14:16] = True  # and a short stroke that touches the box at its corner
    ink = left | right
    owner = np.where(left, 0, np.where(right, 1, -1))
    return ink, owner


def test_split_cut_separates_an_overhang_no_row_path_can():
    ink, owner = _overhang_pair()
    ys, xs, comp = ink_pixels(ink)
    assert comp.max() == 1  # one connected component
    who = owner[ys, xs]
    cfg = SegmenterConfig().replace(split_wide_rel=0.5)

    def base(paths):
        return cut_sides(ys, xs, comp, paths, sever_fraction=cfg.cuts.sever_fraction)

    cuts, sides = split_cuts(ys, xs, comp, ink.shape[0], base, 20.0, cfg)
    assert len(cuts) >= 1 and sides.shape == (len(cuts), ys.size)
    exact = [(s[who == 1].all() and not s[who == 0].any()) for s in sides]
    assert any(exact)
    k = exact.index(True)
    assert cuts.cost[k] <= 3  # the touching corner, not a stroke
    # the path cuts cannot: their lines would have to jump from the box's edge to the foot's tip
    paths = find_cuts(ink, 20.0, cfg.replace(split_cuts=False)).paths
    path_sides = base(paths)
    assert not any(s[who == 1].all() and not s[who == 0].any() for s in path_sides)


def test_split_cuts_raise_touching_coverage_without_touching_normal(train_pool):
    # the configuration choice measured (runs on training digits only)
    touching = make_fields(train_pool, "touching", 30, seed=202)
    normal = make_fields(train_pool, "normal", 30, seed=203)
    on, off = SegmenterConfig(), SegmenterConfig().replace(split_cuts=False)

    def cov(fields, cfg):
        return np.mean([true_path(segment(f.image, config=cfg), c, tol=0.85) is not None for f, c in fields])

    assert cov(touching, on) > cov(touching, off)
    assert cov(normal, on) >= cov(normal, off)


def test_component_cuts_separate_a_dot_under_an_overhang():
    # a '7'-like stroke whose bar overhangs a dot: no top-to-bottom line separates them
    ink = np.zeros((24, 24), bool)
    ink[3:5, 4:20] = True  # the bar
    ink[5:21, 16:18] = True  # the stem
    ink[17:20, 8:11] = True  # the dot under the bar, left of the stem
    ys, xs, comp = ink_pixels(ink)
    assert comp.max() == 2
    cuts, sides = component_order_cuts(ys, xs, comp, ink.shape[0])
    dot = (ys >= 17) & (xs < 12)
    assert len(cuts) == 1 and sides.shape == (1, ys.size)
    assert (sides[0] == ~dot).all()  # the dot (centre of mass further left) alone on the left
    paths = find_cuts(ink, 20.0, SegmenterConfig()).paths
    assert not any((cut_sides(ys, xs, comp, paths, sever_fraction=0.15)[k] == ~dot).all()
                   for k in range(paths.shape[0]))
    # in the graph, the dot is a piece of its own
    seg = segment(np.where(ink, 0, 255).astype(np.uint8))
    sy, sx = seg.ink_yx[:, 0], seg.ink_yx[:, 1]
    seg_dot = (sy >= 17) & (sx < 12)
    assert seg_dot.sum() == dot.sum()
    assert any((seg.arc_mask(a) == seg_dot).all() for a in range(seg.num_arcs))
