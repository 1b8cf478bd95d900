"""The combined recogniser (segmentation system + SDNN, candidates rescored by both)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from docrec.recognizers.combo import CombinedConfig, CombinedRecognizer, combine_scores


def test_combine_scores_is_the_capped_weighted_sum_with_softmax_confidence():
    seg = np.array([0.1, 2.0, np.inf, 30.0])
    sdnn = np.array([3.0, 0.2, 0.5, np.inf])
    c, conf = combine_scores(seg, sdnn, seg_weight=0.25, max_nll=10.0)
    want = 0.25 * np.minimum(seg, 10.0) + 0.75 * np.minimum(sdnn, 10.0)
    np.testing.assert_allclose(c, want)
    np.testing.assert_allclose(conf, np.exp(-want) / np.exp(-want).sum())
    assert int(np.argmin(c)) == 1 and math.isclose(conf.sum(), 1.0)
    # the weight's ends read with one system alone
    assert int(np.argmin(combine_scores(seg, sdnn, seg_weight=1.0, max_nll=10.0)[0])) == 0
    assert int(np.argmin(combine_scores(seg, sdnn, seg_weight=0.0, max_nll=10.0)[0])) == 1
    # a text one system cannot spell is not excluded: the cap stands in for its evidence
    c, _ = combine_scores(np.array([np.inf]), np.array([0.0]), seg_weight=0.5, max_nll=4.0)
    assert c[0] == pytest.approx(2.0)


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="seg_weight"):
        CombinedConfig(seg_weight=1.5)
    with pytest.raises(ValueError, match="max_nll"):
        CombinedConfig(max_nll=float("inf"))
    with pytest.raises(ValueError, match="candidates"):
        CombinedConfig(candidates=0)


@pytest.fixture(scope="module")
def combo():
    return CombinedRecognizer()


@pytest.fixture(scope="module")
def fields(mnist_dir):
    from data.synth import SynthConfig, field_rng, synthesize_one
    from docrec.training.seg_data import train_pools

    _, pool = train_pools(mnist_dir)
    return ([synthesize_one("zip", pool, field_rng(41, i), SynthConfig(spacing="touching", zip_plus4=0.0))
             for i in range(4)]
            + [synthesize_one("amount", pool, field_rng(42, i), SynthConfig()) for i in range(2)])


def test_text_penalties_agree_with_each_systems_confidence(combo, fields):
    from docrec.recognizers import resolve_grammar

    grammar = resolve_grammar("zip")
    images = [f.image for f in fields[:4]]
    seg_out = combo.seg.recognize_detailed(images, grammar=grammar, n_best=2)
    sdnn_out = combo.sdnn.recognize(images, grammar=grammar, n_best=2)
    texts = [[s.text, d.text, "00000", "1234"] for (s, _), d in zip(seg_out, sdnn_out)]
    seg_pen = combo.seg.text_penalties([det for _, det in seg_out], texts, grammar=grammar)
    sdnn_pen = combo.sdnn.text_penalties(images, texts, grammar=grammar)
    for (s, _), d, (sf, st), (df, dt) in zip(seg_out, sdnn_out, seg_pen, sdnn_pen):
        assert math.exp(sf - st[0]) == pytest.approx(s.confidence, rel=1e-6, abs=1e-9)
        assert math.exp(df - dt[1]) == pytest.approx(d.confidence, rel=1e-5, abs=1e-9)
        assert st[3] == math.inf and dt[3] == math.inf  # 4 digits: the zip grammar rejects it
        assert np.isfinite(st[:2]).all() or s.text != d.text  # the SDNN's text may lack a segmentation
        assert np.isfinite(dt[:3]).all()  # the SDNN can spell any allowed text


def test_combined_reading_with_bad_inputs_and_batch_consistency(combo, fields):
    from docrec.recognizers import resolve_grammar

    grammar = resolve_grammar("zip")
    images = [f.image for f in fields[:4]]
    batch = combo.recognize([images[0], np.zeros((0, 5), np.uint8), images[1], np.full((30, 40), 255, np.uint8),
                             images[2], images[3]], grammar=grammar, n_best=3)
    assert batch[1].rejected and not batch[1].text and "empty image of shape (0, 5)" in batch[1].reason
    assert batch[3].rejected and not batch[3].text and batch[3].confidence == 0.0  # blank paper: no ink
    good = [batch[0], batch[2], batch[4], batch[5]]
    for r, img in zip(good, images):
        assert len(r.text) == 5 and r.text.isdigit() and 0.0 < r.confidence <= 1.0
        assert len(r.boxes) == 5 and all(0 <= x0 < x1 <= img.shape[1] for x0, _, x1, _ in r.boxes)
        assert len(r.alternatives) <= 2
        assert all(p >= r.penalty for _, p in r.alternatives)
        alone = combo.recognize([img], grammar=grammar, n_best=3)[0]
        assert alone.text == r.text and alone.confidence == pytest.approx(r.confidence, rel=1e-6)
    # real (training-digit) touching zip codes: the combination reads most of them
    assert sum(r.text == f.text for r, f in zip(good, fields[:4])) >= 3
    amounts = combo.recognize([f.image for f in fields[4:]], grammar="amount")
    assert [r.text for r in amounts] == [f.text for f in fields[4:]]


def test_cli_recognize_with_the_combined_system(capsys):
    from docrec.cli import main
    from docrec.recognizers.seg import DEFAULT_WEIGHTS

    samples = DEFAULT_WEIGHTS.parents[1] / "samples"
    code = main(["recognize", str(samples / "000000.png"), "--system", "combo", "--grammar", "zip", "--json"])
    entry = json.loads(capsys.readouterr().out.strip().splitlines()[0])
    assert code == 0 and entry["text"] == "26023" and len(entry["boxes"]) == 5


def test_text_penalties_edge_cases(combo, fields):
    blank = np.full((32, 60), 255, np.uint8)
    img = fields[0].image
    (f0, t0), (f1, t1), (f2, t2) = combo.sdnn.text_penalties([blank, img, img], [["1"], [fields[0].text, "12a45"], []])
    assert f0 == math.inf and t0.tolist() == [math.inf]
    assert math.isfinite(f1) and t1[0] >= f1 - 1e-9 and t1[1] == math.inf
    assert f2 == math.inf and t2.shape == (0,)
    # batched over fields of different widths == one at a time (float32 networks: the batched
    # convolutions sum in another order, ~1e-7 absolute on penalties of order 1-10)
    many = combo.sdnn.text_penalties([f.image for f in fields], [[f.text] for f in fields], grammar=None)
    for f, (fa, ft) in zip(fields, many):
        (ga, gt), = combo.sdnn.text_penalties([f.image], [[f.text]], grammar=None)
        assert fa == pytest.approx(ga, rel=1e-6, abs=1e-5) and ft[0] == pytest.approx(gt[0], rel=1e-6, abs=1e-5)
    with pytest.raises(ValueError, match="2 images but 1 text lists"):
        combo.sdnn.text_penalties([img, img], [["1"]])
    (s_res, detail), = combo.seg.recognize_detailed([img], grammar=None)
    (sf, st), (nf, nt) = combo.seg.text_penalties([detail, None], [[s_res.text, "x", "1" * 40], ["1"]])
    assert math.exp(sf - st[0]) == pytest.approx(s_res.confidence, rel=1e-6) and st[1] == st[2] == math.inf
    assert nf == math.inf and nt.tolist() == [math.inf]


def test_settings_travel_with_the_seg_weights(tmp_path, combo):
    import torch

    from docrec.recognizers.seg import DEFAULT_WEIGHTS

    blob = torch.load(DEFAULT_WEIGHTS, weights_only=True)
    meta = dict(blob.get("meta") or {})
    path = tmp_path / "w.pt"
    torch.save({"model": blob["model"], "meta": {**meta, "combo": {"seg_weight": 0.8, "max_nll": 6.0,
                                                                    "candidates": 3}}}, path)
    rec = CombinedRecognizer(weights=path, sdnn=combo.sdnn, reject_threshold=0.25)
    assert (rec.config.seg_weight, rec.config.max_nll, rec.config.candidates) == (0.8, 6.0, 3)
    assert rec.config.reject_threshold == 0.25
    explicit = CombinedRecognizer(weights=path, sdnn=combo.sdnn, config=CombinedConfig(seg_weight=0.1))
    assert explicit.config.seg_weight == 0.1
    torch.save({"model": blob["model"], "meta": {**meta, "combo": {"weight": 0.8}}}, path)
    with pytest.raises(ValueError, match="bad 'combo' settings"):
        CombinedRecognizer(weights=path, sdnn=combo.sdnn)


def test_sdnn_weights_setting_picks_the_sdnn(tmp_path, combo):
    """``sdnn_weights`` in the settings (e.g. stored in the seg weights' meta) selects the SDNN's
    weights file; without it the bundled default ``sdnn`` is used."""
    from lenet.models import ModernLeNet
    from lenet.sdnn import WindowedSDNN
    from docrec.recognizers.sdnn_net import save_weights

    save_weights(tmp_path / "m.pt", ModernLeNet(17), {}, {"confidence_temperature": 2.0})
    rec = CombinedRecognizer(seg=combo.seg, config=CombinedConfig(sdnn_weights=str(tmp_path / "m.pt")))
    assert isinstance(rec.sdnn.sdnn, WindowedSDNN) and rec.sdnn.temperature == 2.0
    # the bundled seg-modern settings name sdnn-strip; without the setting: the LeNet-5 SDNN
    from lenet.models import LeNet5
    from lenet.strip import StripNet

    assert isinstance(combo.sdnn.sdnn, StripNet) and combo.config.sdnn_weights == "sdnn-strip"
    plain = CombinedRecognizer(seg=combo.seg, config=CombinedConfig())
    assert isinstance(plain.sdnn.lenet, LeNet5)
    with pytest.raises(FileNotFoundError, match="neither bundled sdnn weights"):
        CombinedRecognizer(seg=combo.seg, config=CombinedConfig(sdnn_weights=str(tmp_path / "none.pt")))


def test_seg_plus_sdnn_weights_spec(tmp_path):
    """``weights="SEG+SDNN"`` reads with the seg weights SEG (and their other settings) and the SDNN
    weights SDNN in place of the ``sdnn_weights`` the settings name."""
    import shutil
    from pathlib import Path

    from lenet.models import LeNet5
    from lenet.strip import StripNet
    from docrec.recognizers.combo import split_weights
    from docrec.recognizers.seg import DEFAULT_WEIGHTS

    assert split_weights("seg-modern+sdnn") == ("seg-modern", "sdnn")
    assert split_weights("a+b+c") == ("a+b", "c") and split_weights("seg-modern") == ("seg-modern", None)
    assert split_weights(None) == (None, None) and split_weights(tmp_path) == (tmp_path, None)
    assert split_weights(Path("seg-modern+sdnn")) == ("seg-modern", "sdnn")  # as the CLI's --weights gives it
    assert split_weights(f"{tmp_path}/a.pt+{tmp_path}/b.pt") == (f"{tmp_path}/a.pt", f"{tmp_path}/b.pt")
    plus = tmp_path / "seg+v2.pt"
    shutil.copyfile(DEFAULT_WEIGHTS, plus)
    assert split_weights(str(plus)) == (str(plus), None)  # an existing file is taken whole
    for bad in ("seg-modern+", "+sdnn"):
        with pytest.raises(ValueError, match="expected SEG\\+SDNN"):
            split_weights(bad)
    bundled = CombinedRecognizer(weights="seg-modern")
    swapped = CombinedRecognizer(weights="seg-modern+sdnn")
    assert isinstance(bundled.sdnn.sdnn, StripNet) and isinstance(swapped.sdnn.lenet, LeNet5)
    assert swapped.config.sdnn_weights == "sdnn" and swapped.config.seg_weight == bundled.config.seg_weight
    with pytest.raises(ValueError, match="holds seg weights, not sdnn weights"):
        CombinedRecognizer(weights="seg-modern+seg-lenet5")


def test_severed_fields_get_their_own_weight(combo, fields):
    from docrec.recognizers import resolve_grammar
    from docrec.recognizers.combo import Scored

    rec = CombinedRecognizer(seg=combo.seg, sdnn=combo.sdnn,
                             config=CombinedConfig(seg_weight=0.9, seg_weight_severed=0.3))
    dummy = dict(texts=[], seg_nll=np.zeros(0), sdnn_nll=np.zeros(0), seg=None, sdnn=None, detail=None)
    assert rec.weight_of(Scored(**dummy, severed=True)) == 0.3
    assert rec.weight_of(Scored(**dummy, severed=False)) == 0.9
    assert CombinedRecognizer(seg=combo.seg, sdnn=combo.sdnn, config=CombinedConfig(seg_weight=0.6)).weight_of(
        Scored(**dummy, severed=True)) == 0.6
    # touching training-digit zip codes: the segmentation reading cuts through ink; amounts of
    # normal spacing do not
    touching = rec.score_candidates([f.image for f in fields[:4]], grammar=resolve_grammar("zip"))
    normal = rec.score_candidates([f.image for f in fields[4:]], grammar=resolve_grammar("amount"))
    assert sum(s.severed for s in touching) >= 3 and not any(s.severed for s in normal)
    with pytest.raises(ValueError, match="seg_weight_severed"):
        CombinedConfig(seg_weight_severed=-0.1)


def test_confidence_modes(combo, fields):
    from docrec.recognizers import resolve_grammar

    images = [f.image for f in fields[:4]] + [f.image for f in fields[4:]]
    out = {}
    for mode in ("softmax", "geometric", "hybrid"):
        rec = CombinedRecognizer(seg=combo.seg, sdnn=combo.sdnn,
                                 config=CombinedConfig(seg_weight=1.0, seg_weight_severed=0.5, max_nll=4.0,
                                                       confidence=mode))
        out[mode] = rec.recognize(images[4:], grammar=resolve_grammar("amount")) + rec.recognize(
            images[:4], grammar=resolve_grammar("zip"))
    seg_alone = combo.seg.recognize(images[4:], grammar=resolve_grammar("amount"))
    for k in range(len(images)):
        assert out["softmax"][k].text == out["geometric"][k].text == out["hybrid"][k].text
        assert 0.0 <= out["geometric"][k].confidence <= 1.0
    for g, h, s in zip(out["geometric"][:2], out["hybrid"][:2], seg_alone):
        # unsevered amounts, w = 1: the geometric confidence is the segmentation system's own posterior
        if s.text == g.text:
            assert g.confidence == pytest.approx(s.confidence, rel=1e-6) and h.confidence == g.confidence
    with pytest.raises(ValueError, match="confidence='median'"):
        CombinedConfig(confidence="median")


class _CountingSeg:
    """The combined recogniser's segmentation system, counting the images it is asked to read."""

    def __init__(self, seg):
        self.seg, self.read = seg, 0

    def recognize_detailed(self, images, **kw):
        self.read += len(images)
        return self.seg.recognize_detailed(images, **kw)

    def __getattr__(self, name):
        return getattr(self.seg, name)


def test_early_acceptance_skips_the_segmentation_system_only_above_the_threshold(combo, fields):
    from docrec.recognizers import resolve_grammar

    grammar = resolve_grammar("zip")
    images = [f.image for f in fields[:4]]
    own = combo.sdnn.recognize(images, grammar=grammar)
    settings = dict(seg_weight=0.5, seg_weight_severed=0.2, max_nll=20.0, candidates=1, confidence="geometric")
    spy = _CountingSeg(combo.seg)

    def read(accept, n_best=1):
        spy.read = 0
        rec = CombinedRecognizer(seg=spy, sdnn=combo.sdnn, config=CombinedConfig(**settings, sdnn_accept=accept))
        return rec.recognize(images, grammar=grammar, n_best=n_best), spy.read

    full, seen = read(None)
    assert seen == 4
    alone, seen = read(1e-12)  # every SDNN reading is taken: the segmentation system never runs
    assert seen == 0
    for a, o in zip(alone, own):
        assert (a.text, a.confidence, a.boxes, a.rejected) == (o.text, o.confidence, o.boxes, False)
        assert a.penalty == pytest.approx(-math.log(o.confidence))
    middle = sorted(o.confidence for o in own)[2]
    mixed, seen = read(middle)
    above = [o.confidence >= middle for o in own]
    assert seen == 4 - sum(above) and 0 < sum(above) < 4
    for m, f, o, up in zip(mixed, full, own, above):
        want = o if up else f  # fields below the threshold read exactly as with both systems
        assert (m.text, m.confidence, m.boxes) == (want.text, pytest.approx(want.confidence, rel=1e-9), want.boxes)
    _, seen = read(1e-12, n_best=2)  # alternatives need both systems
    assert seen == 4
    for bad in (0.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="sdnn_accept"):
            CombinedConfig(sdnn_accept=bad)
