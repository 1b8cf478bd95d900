"""Grey-level pieces (SegmenterConfig.grey_pieces): darkness map, fringe, and the MNIST look."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from data import to_lenet_input
from segmenter import SegmenterConfig, segment
from segmenter.graph import piece_crop
from segmenter.preprocess import binarize, darkness, preprocess


def _stroke_image(paper=230, ink=150):
    img = np.full((32, 60), paper, np.uint8)
    img[6:26, 10:14] = ink  # a pale vertical bar
    img[6:26, 14] = (paper + ink) // 2  # its anti-aliased edge
    return img


def test_darkness_is_zero_on_paper_one_in_strokes_and_matches_midpoint():
    img = _stroke_image()
    d = darkness(img)
    assert d.dtype == np.float32 and d.shape == img.shape
    assert d.min() >= 0.0 and d.max() <= 1.0
    assert np.allclose(d[6:26, 10:14], 1.0, atol=1e-6)  # a pale pen is full ink
    assert np.allclose(d[6:26, 14], 0.5, atol=0.02)  # the half-covered edge is half dark
    assert d[:, 30:].max() == 0.0  # paper
    mid = binarize(img, SegmenterConfig().replace(binarize="midpoint"))
    assert np.array_equal(mid, (d > 0.5) & mid)  # midpoint ink is exactly the darker-than-half part
    assert not ((d > 0.51) & ~mid).any()


def test_piece_crop_grey_keeps_fringe_but_never_other_ink():
    img = np.full((48, 30), 255, np.uint8)  # tall enough for the paper estimate to skip the strokes
    img[5:15, 5:9] = 0  # piece A
    img[5:15, 10:14] = 0  # piece B, one column away
    img[5:15, 9] = 160  # faint column between them (not ink: darkness < 0.5)
    prep = preprocess(img, SegmenterConfig().replace(remove_lines=False, remove_borders=False))
    assert prep.darkness is not None and not prep.ink[:, 9].any()
    ys, xs = np.nonzero(prep.ink[:, :9])
    crop = piece_crop(prep, ys, xs, SegmenterConfig())
    assert crop.dtype == np.float32 and crop.shape == (12, 6)  # one pixel of fringe on every side
    assert np.all(crop[1:11, 1:5] >= 0.5)  # the ink
    assert 0.0 < crop[5, 5] <= 0.5  # the faint column is fringe, capped at fringe_max
    binary = piece_crop(prep, ys, xs, SegmenterConfig().replace(grey_pieces=False))
    assert binary.dtype == bool and binary.shape == (10, 4) and binary.all()
    ys2, xs2 = np.nonzero(prep.ink[:, 10:])
    crop2 = piece_crop(prep, ys2, xs2 + 10, SegmenterConfig())
    assert crop2[:, 0].max() <= 0.5  # piece B's fringe holds the faint column, not piece A's ink


def test_grey_and_binary_pieces_share_the_graph(mnist_train):
    images, _ = mnist_train
    field = np.full((32, 90), 255, np.uint8)
    for k, i in enumerate((0, 1, 2)):
        field[2:30, 4 + 28 * k: 32 + 28 * k] = np.minimum(field[2:30, 4 + 28 * k: 32 + 28 * k], 255 - images[i])
    grey = segment(field, config=SegmenterConfig())
    binary = segment(field, config=SegmenterConfig().replace(grey_pieces=False))
    assert torch.equal(grey.graph.src, binary.graph.src) and torch.equal(grey.graph.dst, binary.graph.dst)
    assert np.array_equal(grey.boxes, binary.boxes)
    assert grey.graph.data.min() >= -0.1 - 1e-6 and grey.graph.data.max() <= 1.175 + 1e-6
    # grey levels survive: binary pieces hold only background, ink and the resampling's edge values
    levels = torch.unique(torch.round(grey.graph.data * 100))
    assert levels.numel() > 50


def test_grey_pieces_read_better_by_mnist_lenet5(mnist_train):
    """The MNIST LeNet-5 finds the true pieces of real training-digit fields more convincing in grey
    (docs/paper.md Sec. III-A: MNIST keeps the anti-aliasing grey levels) than binarised."""
    from data.synth import DigitPool, SynthConfig
    from data.texts import sample_text
    from docrec.weights import load_model
    from segmenter.synthtruth import render_with_char_map
    from segmenter.truth import arc_targets, true_path

    torch.set_num_threads(1)
    pool = DigitPool(*mnist_train, "train")
    model = load_model("lenet5-distorted").eval()
    total = {True: [], False: []}
    for i in range(40):
        rng = np.random.default_rng([4242, i])
        text = sample_text("digits", rng, min_len=4, max_len=6)
        fld, cmap = render_with_char_map(text, pool, rng, SynthConfig(spacing="normal"))
        for grey in (True, False):
            seg = segment(fld.image, config=SegmenterConfig().replace(grey_pieces=grey, max_merge=6, max_width_rel=2.0))
            # the pieces of the true segmentation (not every arc within tolerance of a character:
            # a near-miss piece that drops a detached stroke reads badly either way)
            path = true_path(seg, cmap, tol=0.9, allow_junk=False)
            if path is None:
                continue
            t = arc_targets(seg, cmap, tol=0.9)
            pos = np.asarray(path)
            with torch.no_grad():
                pen = model(seg.graph.data[torch.from_numpy(pos)])  # (n, 10)
            logp = torch.log_softmax(-pen, dim=1)
            truth = torch.tensor([int(text[int(c)]) for c in t[pos]])
            total[grey].append(logp[torch.arange(len(pos)), truth])
    assert sum(len(v) for v in total[True]) >= 150  # most fields have their true path
    mean = {k: float(torch.cat(v).mean()) for k, v in total.items()}
    assert mean[True] > mean[False], mean
