"""The segmentation-based recogniser on real MNIST-test strings with the bundled weights."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import gtn
from docrec.recognizers import get_recognizer, resolve_grammar
from docrec.recognizers.seg import CHAR_CLASSES, DEFAULT_WEIGHTS, SegmentationRecognizer, normalized_penalties

needs_weights = pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason="bundled seg-lenet5.pt missing")


def _seg_graph():
    # 3 nodes, arcs 0->1, 1->2, 0->2 (a merge), small geometric penalties
    return gtn.Graph([0, 1, 0], [1, 2, 2], [gtn.EPSILON] * 3, penalty=torch.tensor([0.5, 0.0, 1.0], dtype=torch.float64),
                     num_nodes=3)


def test_recognition_transformer_structure_and_penalties():
    g = _seg_graph()
    pen = torch.arange(3 * 17, dtype=torch.float64).reshape(3, 17)
    out, amap = gtn.recognize(g, penalties=pen, classes=CHAR_CLASSES)  # every class but 'none'
    weighted, _ = gtn.recognize(g, penalties=pen, classes=CHAR_CLASSES, seg_weight=0.5)
    assert torch.equal(weighted.penalty, out.penalty - 0.5 * g.penalty[amap])
    assert out.num_arcs == 3 * 16
    assert torch.equal(amap, torch.arange(3).repeat_interleave(16))
    assert torch.equal(out.olabel[:16], torch.arange(16))
    for k in range(out.num_arcs):
        a, c = int(amap[k]), int(out.olabel[k])
        assert out.penalty[k] == pen[a, c] + g.penalty[a]
        assert (out.src[k], out.dst[k]) == (g.src[a], g.dst[a])


def test_forward_through_transformer_matches_brute_force_and_gradcheck():
    g = _seg_graph()
    torch.manual_seed(0)
    raw = (torch.rand(3, 17, dtype=torch.float64) * 5).requires_grad_(True)

    def f(r):
        out, _ = gtn.recognize(g, penalties=normalized_penalties(r, j=4.0), classes=CHAR_CLASSES)
        return gtn.forward_penalty(out)

    # brute force: paths 0->1->2 (two pieces) and 0->2 (one piece), every class on each
    p = normalized_penalties(raw.detach(), j=4.0)[:, :16] + g.penalty.reshape(3, 1)
    paths = [p[0, a] + p[1, b] for a, b in itertools.product(range(16), repeat=2)] + [p[2, c] for c in range(16)]
    expect = -torch.logsumexp(-torch.stack(paths), 0)
    assert torch.allclose(f(raw)[0], expect)
    assert torch.autograd.gradcheck(lambda r: f(r).sum(), (raw,))


def test_normalized_penalties_are_minus_log_posteriors():
    raw = torch.rand(4, 17, dtype=torch.float64) * 10
    n = normalized_penalties(raw, j=16.0)
    total = torch.exp(-n).sum(1) + torch.exp(-(16.0 + torch.logsumexp(torch.cat(
        [torch.full((4, 1), -16.0, dtype=torch.float64), -raw], 1), 1)))
    assert torch.allclose(total, torch.ones(4, dtype=torch.float64))
    assert torch.autograd.gradcheck(lambda r: normalized_penalties(r, j=16.0).sum(),
                                    (raw.clone().requires_grad_(True),))


@pytest.fixture(scope="module")
def zips(mnist_dir):
    from data.synth import DigitPool, SynthConfig, synthesize

    pool = DigitPool.load("test", mnist_dir)
    return synthesize("zip", 30, split="test", seed=77, config=SynthConfig(spacing="normal", zip_plus4=0.0),
                      pool=pool)


@pytest.fixture(scope="module")
def rec():
    if not DEFAULT_WEIGHTS.is_file():
        pytest.skip("bundled seg-lenet5.pt missing")
    torch.set_num_threads(1)
    return get_recognizer("seg")


@needs_weights
def test_reads_real_mnist_test_zip_codes(rec, zips):
    res = rec.recognize([f.image for f in zips], grammar=resolve_grammar("zip"))
    acc = np.mean([r.text == f.text for r, f in zip(res, zips)])
    # measured 26/30 with the local-stage weights (see README); an untrained LeNet-5 reads 0/30
    assert acc >= 0.7, [(r.text, f.text) for r, f in zip(res, zips)]
    for r, f in zip(res, zips):
        assert 0.0 <= r.confidence <= 1.0
        if not r.rejected:
            assert len(r.boxes) == len(r.text)
            h, w = f.image.shape
            for x0, y0, x1, y1 in r.boxes:
                assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
    # boxes follow the characters left to right and cover each true character's centre
    good = [(r, f) for r, f in zip(res, zips) if r.text == f.text]
    hits = [(b[0] <= (t[0] + t[2]) / 2 <= b[2]) for r, f in good for b, t in zip(r.boxes, f.boxes)]
    assert np.mean(hits) >= 0.9


@needs_weights
def test_batch_consistency(rec, zips):
    imgs = [f.image for f in zips[:3]]
    g = resolve_grammar("zip")
    batched = rec.recognize(imgs, grammar=g)
    for img, b in zip(imgs, batched):
        (s,) = rec.recognize([img], grammar=g)
        assert s.text == b.text and s.boxes == b.boxes
        assert s.confidence == pytest.approx(b.confidence, abs=1e-5)


@needs_weights
def test_bad_inputs_give_rejections_and_the_batch_goes_on(rec, zips):
    small = SegmentationRecognizer(max_pixels=500)
    res = small.recognize([np.zeros((0, 4), np.uint8), np.full((10, 20), 255, np.uint8), zips[0].image],
                          grammar=resolve_grammar("zip"))
    assert res[0].rejected and "empty image" in res[0].reason
    assert res[1].rejected and "no ink" in res[1].reason
    assert res[2].rejected and "exceeds the limit of 500 pixels" in res[2].reason
    ok = rec.recognize([np.full((20, 40), 255, np.uint8), zips[0].image], grammar=resolve_grammar("zip"))
    assert ok[0].rejected and ok[1].text == zips[0].text


@needs_weights
def test_reject_threshold_and_draw(rec, zips, tmp_path):
    plain = rec.recognize([z.image for z in zips], grammar=resolve_grammar("zip"))
    conf = sorted(r.confidence for r in plain)
    assert conf[0] < conf[-1], conf  # 30 real fields are not all read with one confidence
    threshold = conf[-1]  # the most confident field passes, the least confident is rejected
    strict = SegmentationRecognizer(reject_threshold=threshold)
    again = strict.recognize([z.image for z in zips], grammar=resolve_grammar("zip"))
    for r, p in zip(again, plain):
        assert r.text == p.text and r.confidence == pytest.approx(p.confidence)  # text kept
        assert r.rejected == (r.confidence < threshold)
        assert ("below the threshold" in r.reason) == r.rejected
    assert any(r.rejected for r in again) and not all(r.rejected for r in again)
    with pytest.raises(ValueError, match="reject_threshold"):
        SegmentationRecognizer(reject_threshold=1.5)
    res = rec.recognize([zips[2].image], grammar=resolve_grammar("zip"))[0]
    out = rec.draw(zips[2].image, res, tmp_path / "d.png")
    import cv2

    pic = cv2.imread(str(out))
    assert pic is not None and pic.shape[0] > 100


def test_missing_weights_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither bundled seg weights .*seg-lenet5"):
        SegmentationRecognizer(weights=tmp_path / "nope.pt")


@needs_weights
def test_piece_shifts_average_the_classifier_over_moved_pieces(zips):
    from docrec.recognizers.seg import SegRecognizerConfig
    from docrec.training.seg_global import interpretation_graphs
    from docrec.training.seg_real import _cached_field

    plain = SegmentationRecognizer(config=SegRecognizerConfig(piece_shifts=0, normalize=False))
    shifted = SegmentationRecognizer(config=SegRecognizerConfig(piece_shifts=1, normalize=False, batch_pieces=7))
    segs = plain.segment([f.image for f in zips[:3]])
    x = torch.cat([s.graph.data for s in segs]).float()
    with torch.no_grad():  # the mean over the piece and its copies moved one pixel right, left, down, up
        want = torch.stack([plain.model(torch.roll(x, shifts=m, dims=(-2, -1)))
                            for m in ((0, 0), (0, 1), (0, -1), (1, 0), (-1, 0))]).mean(0)
    got = torch.cat(shifted.piece_penalties(segs))
    assert got.shape == want.shape
    assert torch.allclose(got, want, atol=1e-3)
    assert not torch.allclose(torch.cat(plain.piece_penalties(segs)), want, atol=1e-3)  # the shifts change them
    # batch consistency: the same penalties whatever the batching
    one = torch.cat([shifted.piece_penalties([s])[0] for s in segs])
    assert torch.allclose(one, got, atol=1e-4)
    # the training and validation path (cached fields) reads with the same shifts
    cached = [_cached_field(s, f.text, f"f{k}") for k, (s, f) in enumerate(zip(segs, zips))]
    with torch.no_grad():
        trained = interpretation_graphs(shifted, cached)
    for (g, _), h in zip(shifted.interpretation_graphs(segs), trained):
        assert torch.allclose(g.penalty, h.penalty, atol=1e-3)


def test_piece_shifts_come_from_the_weights_and_are_checked(tmp_path):
    from docrec.recognizers.seg import SegRecognizerConfig
    from docrec.weights import resolve

    try:
        real = resolve("seg-lenet5-real", "seg")
    except (FileNotFoundError, ValueError):
        pytest.skip("bundled seg-lenet5-real.pt missing")
    assert SegmentationRecognizer(weights=real).config.piece_shifts == 1  # chosen on real validation fields
    assert SegmentationRecognizer(weights=real, config=SegRecognizerConfig(piece_shifts=0)).config.piece_shifts == 0
    if DEFAULT_WEIGHTS.is_file():
        assert SegmentationRecognizer().config.piece_shifts == 0  # weights without the setting read pieces alone
    for bad in (-1, 9, 1.5, True, "1"):
        with pytest.raises(ValueError, match="piece_shifts"):
            SegmentationRecognizer(weights=real, config=SegRecognizerConfig(piece_shifts=bad))
