"""segmenter.segment: cuts and segmentation graph on real MNIST-built fields (training digits)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gtn
from data.synth import SynthConfig
from data.texts import sample_text
from segmenter import SegmenterConfig, draw_cuts, draw_pieces, segment
from segmenter.cuts import CUT_KINDS
from segmenter.draw import CUT_COLOURS
from segmenter.synthtruth import check_char_map, render_with_char_map
from segmenter.truth import arc_targets, true_path


def make_fields(pool, spacing, n, seed, *, min_len=3, max_len=7, background="white"):
    cfg = SynthConfig(spacing=spacing, min_len=min_len, max_len=max_len, background=background)
    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        text = sample_text("digits", rng, min_len=min_len, max_len=max_len)
        out.append(render_with_char_map(text, pool, rng, cfg))
    return out


def all_paths(graph):
    src, dst = graph.src.tolist(), graph.dst.tolist()
    out_arcs = {}
    for a, (s, d) in enumerate(zip(src, dst)):
        out_arcs.setdefault(s, []).append(a)
    paths, stack = [], [(graph.start, [])]
    while stack:
        node, arcs = stack.pop()
        if node == graph.final:
            paths.append(arcs)
            continue
        for a in out_arcs.get(node, []):
            stack.append((dst[a], arcs + [a]))
    return paths


def test_well_spaced_strings_true_segmentation_is_a_path(train_pool):
    fields = make_fields(train_pool, "wide", 70, seed=100) + make_fields(train_pool, "normal", 70, seed=101)
    hits = [true_path(segment(f.image), cmap, tol=0.9) is not None for f, cmap in fields]
    assert all(check_char_map(f, c) > 0.99 for f, c in fields[:10])
    assert np.mean(hits) >= 0.99, np.mean(hits)


def test_touching_strings_coverage_lower_bound(train_pool):
    # measured on training digits (benchmarks/segmentation.py --split train): true path @0.85 for
    # 3-7 digit touching strings about 0.45, true boundaries cut about 0.85; bounds below are loose.
    fields = make_fields(train_pool, "touching", 40, seed=102)
    hits = [true_path(segment(f.image), cmap, tol=0.85) is not None for f, cmap in fields]
    assert np.mean(hits) >= 0.3, np.mean(hits)
    pairs = make_fields(train_pool, "touching", 40, seed=103, min_len=2, max_len=2)
    pair_hits = [true_path(segment(f.image), cmap, tol=0.85) is not None for f, cmap in pairs]
    assert np.mean(pair_hits) >= 0.7, np.mean(pair_hits)


@pytest.mark.parametrize("spacing", ["tight", "touching", "overlapping"])
def test_every_path_partitions_the_ink(train_pool, spacing):
    for f, _ in make_fields(train_pool, spacing, 4, seed=104, min_len=2, max_len=3):
        seg = segment(f.image)
        paths = all_paths(seg.graph)
        assert 1 <= len(paths) < 100000
        for p in paths[:2000]:
            cover = np.zeros(seg.ink_yx.shape[0], np.int64)
            for a in p:
                cover += seg.arc_mask(a)
            assert np.all(cover == 1)


@pytest.mark.parametrize("deslant", [False, True])
def test_graph_contents_boxes_and_payload(train_pool, deslant):
    cfg = SegmenterConfig().replace(deslant=deslant)
    (f, cmap), = make_fields(train_pool, "tight", 1, seed=105, min_len=4, max_len=4)
    seg = segment(f.image, config=cfg)
    g = seg.graph
    a = seg.num_arcs
    assert a > 4 and g.num_nodes == len(seg.cuts) and g.start == 0 and g.final == g.num_nodes - 1
    assert torch.all(g.ilabel == gtn.EPSILON) and g.is_acceptor
    assert g.data.shape == (a, 1, 32, 32) and g.data.dtype == torch.float32
    assert torch.all(torch.isfinite(g.penalty)) and torch.all(g.penalty >= 0)
    assert torch.all(g.src < g.dst)
    assert seg.boxes.shape == (a, 4) and seg.features.shape[0] == a
    dark = f.image < 128
    for arc in range(a):
        ys, xs = seg.arc_pixels(arc)
        x0, y0, x1, y1 = seg.boxes[arc]
        assert xs.min() == x0 and xs.max() + 1 == x1 and ys.min() == y0 and ys.max() + 1 == y1
        assert f.image[ys, xs].mean() < 160 and dark[ys, xs].mean() > 0.6  # boxes sit on the ink
    if not deslant:
        assert true_path(seg, cmap, tol=0.85) is not None


def test_separate_slanted_neighbours_do_not_leak():
    img = np.full((40, 60), 255, np.uint8)
    for y in range(6, 34):  # two parallel right-leaning bars whose column ranges overlap
        x = 30 - (y - 6) // 2
        img[y, x - 12: x - 9] = 0
        img[y, x + 1: x + 4] = 0
    lab = np.full(img.shape, -1)  # character map: left bar 0, right bar 1
    for y in range(40):
        cols = np.flatnonzero(img[y] < 128)
        if cols.size:
            lab[y, cols[cols < cols.min() + 4]] = 0
            lab[y, cols[cols >= cols.min() + 4]] = 1
    seg = segment(img)
    path = true_path(seg, lab, tol=1.0)
    assert path is not None and len(path) == 2


def test_degenerate_images():
    for img in (np.full((32, 90), 255, np.uint8), np.zeros((1, 1), np.uint8),
                np.full((1, 1), 255, np.uint8), np.full((5, 5), 128, np.uint8)):
        seg = segment(img)
        assert seg.is_empty and seg.graph.num_nodes == 1 and seg.graph.num_arcs == 0
        assert seg.graph.data.shape == (0, 1, 32, 32)
        assert draw_cuts(img, seg).shape == img.shape + (3,)
    dot = np.full((32, 32), 255, np.uint8)
    dot[15:18, 15:18] = 0
    seg = segment(dot)
    assert seg.num_arcs == 1 and seg.graph.num_nodes == 2
    with pytest.raises(ValueError, match=r"\[segmenter.preprocess\] empty image"):
        segment(np.zeros((0, 10), np.uint8))
    with pytest.raises(ValueError, match="max_pixels"):
        segment(np.full((300, 300), 255, np.uint8), config=SegmenterConfig().replace(max_pixels=10_000))


def test_drawings_and_batching(train_pool):
    (f, cmap), (f2, _) = make_fields(train_pool, "normal", 2, seed=106)
    seg, seg2 = segment(f.image), segment(f2.image)
    path = true_path(seg, cmap, tol=0.85)
    rgb = draw_cuts(f.image, seg, path=path, scale=2)
    assert rgb.shape == (2 * f.image.shape[0], 2 * f.image.shape[1], 3) and rgb.dtype == np.uint8
    drawn = {tuple(c) for c in rgb.reshape(-1, 3)}
    assert any(CUT_COLOURS[k] in drawn for k in range(1, len(CUT_KINDS)))
    with pytest.raises(ValueError, match="differs"):
        draw_cuts(f2.image, seg)
    tiles = draw_pieces(seg)
    assert tiles.dtype == np.uint8 and tiles.ndim == 2
    both = gtn.batch([seg.graph, seg2.graph])
    assert both.batch_size == 2 and both.data.shape[0] == seg.num_arcs + seg2.num_arcs
    targets = arc_targets(seg, cmap, tol=0.85)
    assert targets.shape == (seg.num_arcs,) and set(targets.tolist()) >= set(range(len(f.text)))


def test_arc_with_a_glued_dot_is_not_the_digit(mnist_train):
    """Precision in ink lets a digit + whole decimal point pass as the digit; ``other_tol`` and
    ``whole_chars_held`` see the second character."""
    from segmenter.truth import whole_chars_held

    images, _ = mnist_train
    digit = images[1]  # a '0'
    field = np.full((40, 44), 255, np.uint8)
    field[4:32, 4:32] = 255 - digit
    cmap = np.full(field.shape, -1, np.int64)
    cmap[4:32, 4:32][digit > 0] = 0
    ys, xs = np.nonzero(digit > 128)
    by, bx = 4 + int(ys.max()) - 2, 4 + int(xs.max()) + 1  # a 3x3 dot touching the digit's lower right
    field[by: by + 3, bx: bx + 3] = 0
    cmap[by: by + 3, bx: bx + 3] = 1
    seg = segment(field, config=SegmenterConfig())
    whole = int(np.argmax(seg.features[:, 0]))  # the arc holding all the ink
    assert arc_targets(seg, cmap, tol=0.9)[whole] == 0  # ink precision alone: "a 0"
    assert arc_targets(seg, cmap, tol=0.9, other_tol=0.3)[whole] == -1
    held = whole_chars_held(seg, cmap)
    assert held[whole] == 2 and held.max() == 2


def test_column_gap_and_low_dot_features():
    from segmenter.graph import column_gap, has_low_dot

    assert column_gap(np.array([3, 4, 4, 5])) == 0
    assert column_gap(np.array([7, 3, 9, 4])) == 2  # columns 3 4 . . 7 . 9: widest empty run 2
    assert column_gap(np.array([5])) == 0
    # a 20-row body (label 1) and a 3x3 dot (label 2) at its bottom: a dot
    body_y = np.repeat(np.arange(20), 3)
    dot_y = np.repeat(np.arange(17, 20), 3)
    py = np.concatenate([body_y, dot_y])
    comp = np.concatenate([np.ones(body_y.size, int), np.full(dot_y.size, 2)])
    assert has_low_dot(py, comp, 20.0, max_area_rel=0.06)
    # the same dot at mid height (a fragment, not punctuation) or too big does not count
    assert not has_low_dot(np.concatenate([body_y, dot_y - 8]), comp, 20.0, max_area_rel=0.06)
    assert not has_low_dot(py, comp, 20.0, max_area_rel=0.01)
    assert not has_low_dot(body_y, np.ones(body_y.size, int), 20.0, max_area_rel=0.06)


def test_dot_penalty_marks_the_digit_with_its_dot(mnist_train):
    images, _ = mnist_train
    digit = images[1]  # a '0'
    field = np.full((40, 52), 255, np.uint8)
    field[4:32, 4:32] = 255 - digit
    ys, xs = np.nonzero(digit > 128)
    by, bx = 4 + int(ys.max()) - 2, 4 + int(xs.max()) + 3  # a 3x3 dot two columns right of the '0'
    field[by: by + 3, bx: bx + 3] = 0
    plain = segment(field, config=SegmenterConfig().replace(dot_penalty=0.0, gap_penalty=0.0))
    marked = segment(field, config=SegmenterConfig().replace(dot_penalty=5.0, gap_penalty=1.0))
    dot = plain.features[:, 7] == 1
    assert dot.any() and (plain.features[dot, 6] > 0).all()  # the merged piece, with its gap
    extra = (marked.graph.penalty - plain.graph.penalty).numpy()
    np.testing.assert_allclose(extra[dot], 6.0, atol=1e-5)
    alone = plain.features[:, 4] == 1
    assert (extra[alone & ~dot] == 0).all()  # the digit alone and the dot alone cost nothing more
    with pytest.raises(ValueError, match="dot_penalty"):
        SegmenterConfig().replace(dot_penalty=-1.0)


def test_severs_brute_force_on_every_cut(train_pool):
    """``Segmentation.severs`` against a direct count: a cut severs iff some 8-connected component
    (labelled independently with scipy-free flood fill) has pixels on both of its sides."""
    from collections import deque

    for spacing, seed in (("wide", 3), ("touching", 4)):
        rng = np.random.default_rng(seed)
        field, _ = render_with_char_map(sample_text("zip", rng), train_pool, rng,
                                        SynthConfig(spacing=spacing, zip_plus4=0.0))
        seg = segment(field.image)
        pix = {(int(y), int(x)): p for p, (y, x) in enumerate(seg.ink_yx)}
        comp = np.full(len(pix), -1)
        for start in range(len(pix)):
            if comp[start] >= 0:
                continue
            comp[start] = start
            todo = deque([start])
            while todo:
                y, x = seg.ink_yx[todo.popleft()]
                for dy in (-1, 0, 1):
                    for dx in (-1, 0, 1):
                        q = pix.get((int(y) + dy, int(x) + dx))
                        if q is not None and comp[q] < 0:
                            comp[q] = start
                            todo.append(q)
        nodes = np.arange(seg.graph.num_nodes)
        want = [any(seg.sides[k][comp == c].any() and not seg.sides[k][comp == c].all() for c in np.unique(comp))
                for k in nodes]
        got = seg.severs(nodes)
        assert got.tolist() == want
        assert not got[0] and not got[-1]  # the ends never split anything
        if spacing == "touching":
            assert got.any()
    assert segment(np.full((32, 40), 255, np.uint8)).severs([0]).tolist() == [False]
