"""The SDNN recogniser (docs/paper.md Sec. VII) on real data: strings built from MNIST TEST digits read with
the bundled weights; the batched decoder against gtn composition; batch consistency; drawing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gtn
from data.synth import DigitPool, SynthConfig, synthesize
from decoders import CharacterModel, Grammar
from docrec.recognizers import get_recognizer
from docrec.recognizers.sdnn import WEIGHTS_DIR, SDNNRecognizer
from decoders import ProductDecoder
from docrec.recognizers.sdnn_net import build_sdnn, new_lenet5

#: Measured string accuracies of the bundled weights are in README / benchmarks/results/strings.json
#: (zip5-normal: 84.7% of 300 test zip codes; 85% of this test's 80). The floor sits about 3.5 binomial
#: standard errors (80 fields: 0.04) below, so it only catches a broken pipeline or broken weights.
ZIP_NORMAL_FLOOR = 0.70


@pytest.fixture(scope="module")
def test_pool(mnist_test):
    return DigitPool(mnist_test[0], mnist_test[1], "test")


@pytest.fixture(scope="module")
def rec():
    torch.set_num_threads(1)
    if not (WEIGHTS_DIR / "sdnn.pt").is_file():
        pytest.fail("bundled weights docrec/weights/sdnn.pt missing")
    return get_recognizer("sdnn")


def test_reads_mnist_test_zip_codes(rec, test_pool):
    fields = synthesize("zip", 80, split="test", seed=71, pool=test_pool,
                        config=SynthConfig(spacing="normal", zip_plus4=0.0))
    out = rec.recognize([f.image for f in fields], grammar="zip")
    acc = np.mean([o.text == f.text for o, f in zip(out, fields)])
    assert acc >= ZIP_NORMAL_FLOOR, f"string accuracy {acc:.3f}"
    for o, f in zip(out, fields):
        assert Grammar.zip_code().accepts(o.text) and 0.0 <= o.confidence <= 1.0
        assert len(o.boxes) == len(o.text)
        H, W = f.image.shape
        assert all(0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H for x0, y0, x1, y1 in o.boxes)
    # boxes of correct readings cover the true characters' centres, left to right
    hits = []
    for o, f in zip(out, fields):
        if o.text == f.text:
            for (x0, _, x1, _), tb in zip(o.boxes, f.boxes):
                hits.append(x0 <= (tb[0] + tb[2]) / 2 <= x1)
    assert np.mean(hits) > 0.95
    # confidence is informative: correct readings are more confident on average
    conf_ok = [o.confidence for o, f in zip(out, fields) if o.text == f.text]
    conf_bad = [o.confidence for o, f in zip(out, fields) if o.text != f.text]
    if conf_bad:
        assert np.mean(conf_ok) > np.mean(conf_bad)


def test_batch_equals_single(rec, test_pool):
    fields = synthesize("amount", 3, split="test", seed=72, pool=test_pool)
    images = [f.image for f in fields]
    batched = rec.recognize(images, grammar="amount")
    for img, b in zip(images, batched):
        (s,) = rec.recognize([img], grammar="amount")
        assert s.text == b.text and s.boxes == b.boxes
        assert s.confidence == pytest.approx(b.confidence, rel=1e-4, abs=1e-6)
        assert s.penalty == pytest.approx(b.penalty, rel=1e-5, abs=1e-4)
    (one,) = rec.recognize(images[:1], grammar="amount")
    assert one.text == batched[0].text


def test_rejections_and_bad_input(rec):
    blank = np.full((32, 90), 255, np.uint8)
    (r,) = rec.recognize([blank], grammar="zip")
    assert r.rejected and "no ink" in r.reason
    (bad,) = rec.recognize([np.zeros((3, 4, 5, 6), np.uint8)])  # a malformed array: rejected with the reason
    assert bad.rejected and bad.confidence == 0.0 and "(H, W)" in bad.reason
    (t,) = rec.recognize([blank], grammar="zip", reject_threshold=1.0)
    assert t.rejected


def test_threshold_rejects_low_confidence(rec, test_pool):
    f = synthesize("zip", 4, split="test", seed=73, pool=test_pool)
    out = rec.recognize([x.image for x in f], grammar="zip", reject_threshold=1.0)
    assert all(o.rejected == (o.confidence < 1.0) for o in out)


def test_confidence_temperature(rec, test_pool):
    """The calibration temperature comes from the weights file, changes only the confidences (the
    readings are the Viterbi texts of the unscaled penalties), and must be positive."""
    assert rec.temperature == rec.meta.get("confidence_temperature", 1.0)
    fields = synthesize("zip", 6, split="test", seed=74, pool=test_pool)
    images = [f.image for f in fields]
    raw = SDNNRecognizer(model=rec.lenet, temperature=1.0)
    hot = SDNNRecognizer(model=rec.lenet, temperature=20.0)
    a, b = raw.recognize(images, grammar="zip"), hot.recognize(images, grammar="zip")
    assert [x.text for x in a] == [x.text for x in b] and [x.boxes for x in a] == [x.boxes for x in b]
    assert any(x.confidence != pytest.approx(y.confidence, abs=1e-9) for x, y in zip(a, b))
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="temperature"):
            SDNNRecognizer(model=rec.lenet, temperature=bad)


def test_decoder_cache_by_grammar_spec(rec, test_pool):
    """A grammar given by its spec is compiled once, however often it is used."""
    f = synthesize("zip", 2, split="test", seed=75, pool=test_pool)
    r = SDNNRecognizer(model=rec.lenet)
    for _ in range(3):
        r.recognize([x.image for x in f], grammar="zip")
    assert len(r._decoders) == 1


def test_sdnn_column_is_lenet_on_window():
    """Weight sharing is real: frame t of the SDNN equals LeNet-5 on the window at x = 4t."""
    torch.manual_seed(0)
    net = new_lenet5()
    sdnn = build_sdnn(net)
    x = torch.randn(2, 1, 32, 70)
    out = sdnn(x)
    assert out.shape == (2, (70 - 32) // 4 + 1, 17)
    for t in range(out.shape[1]):
        torch.testing.assert_close(out[:, t], net(x[:, :, :, 4 * t: 4 * t + 32]), atol=1e-4, rtol=1e-4)
    with torch.no_grad():
        net.c1.weight.mul_(0.5)
    torch.testing.assert_close(sdnn(x)[:, 0], net(x[:, :, :, :32]), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("spec", ["zip", "amount", None])
def test_product_decoder_matches_graph_composition(spec):
    """Viterbi / forward penalties and the text posterior equal those of gtn.compose(frames o model,
    grammar) (the decoders' definition), on random frame penalties with variable lengths."""
    cm = CharacterModel()
    g = Grammar.zip_code() if spec == "zip" else Grammar.amount() if spec == "amount" else None
    dec = ProductDecoder(g, cm)
    torch.manual_seed(1)
    pen = torch.rand(3, 12, 17, dtype=torch.float64) * 12
    pen[:, :, 16] -= 3
    lengths = torch.tensor([12, 7, 10])
    best, spans = dec.viterbi(pen, lengths)
    f_all = dec.forward_all(pen, lengths)
    texts = [[s.label for s in sp] for sp in spans]
    f_txt = dec.forward_text(pen, lengths, texts)
    gram = (g or Grammar.any_text()).graph(dtype=torch.float64)
    for b in range(3):
        inter, _ = cm.compose_frames(pen[b, : lengths[b]])
        con, _ = gtn.compose(inter, gram)
        assert float(best[b]) == pytest.approx(float(gtn.viterbi_penalty(con)[0]), abs=1e-6)
        assert float(f_all[b]) == pytest.approx(float(gtn.forward_penalty(con)[0]), abs=1e-6)
        if texts[b]:
            lex = Grammar.lexicon([cm.alphabet.decode(texts[b])]).graph(dtype=torch.float64)
            only, _ = gtn.compose(con, lex)
            assert float(f_txt[b]) == pytest.approx(float(gtn.forward_penalty(only)[0]), abs=1e-6)
            # the decoded text's spans are ordered, disjoint frame ranges inside the field
            ends = [(s.start, s.end) for s in spans[b]]
            assert all(0 <= a < e <= int(lengths[b]) for a, e in ends)
            assert all(e1 <= a2 for (_, e1), (a2, _) in zip(ends, ends[1:]))


def test_product_decoder_brute_force_tiny():
    """Brute force over every frame labelling of a 4-frame, 3-class input (digits '0', '1', none)."""
    import itertools

    from decoders import Alphabet

    alpha = Alphabet(symbols=("0", "1", "<none>"), none_symbol="<none>")
    cm = CharacterModel(alpha)
    dec = ProductDecoder(None, cm)
    torch.manual_seed(2)
    pen = torch.rand(1, 4, 3, dtype=torch.float64) * 3
    best, spans = dec.viterbi(pen)
    scores = {}
    for lab in itertools.product(range(3), repeat=4):
        text, prev = [], 2
        for c in lab:  # CTC collapse with 'none' (2) as blank
            if c != 2 and c != prev:
                text.append(c)
            prev = c
        p = float(sum(pen[0, t, c] for t, c in enumerate(lab)))
        scores.setdefault(tuple(text), []).append(p)
    allowed = scores  # any_text accepts every string, the empty one included
    best_text = min(allowed, key=lambda k: min(allowed[k]))
    assert tuple(s.label for s in spans[0]) == best_text
    assert float(best[0]) == pytest.approx(min(allowed[best_text]), abs=1e-9)
    f_all = -np.log(sum(np.exp(-np.array(v)).sum() for v in allowed.values()))
    assert float(dec.forward_all(pen)[0]) == pytest.approx(f_all, abs=1e-9)


def test_draw_writes_png(rec, test_pool, tmp_path):
    f = synthesize("zip", 1, split="test", seed=74, pool=test_pool)[0]
    (r,) = rec.recognize([f.image], grammar="zip")
    out = tmp_path / "sdnn.png"
    rec.draw(f.image, r, out)
    assert out.is_file() and out.stat().st_size > 5000
    with pytest.raises(ValueError, match="no ink"):
        rec.draw(np.full((32, 64), 255, np.uint8), r, tmp_path / "x.png")


def test_missing_or_foreign_weights_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither bundled sdnn weights .*sdnn-strip"):
        SDNNRecognizer(tmp_path / "nope.pt")
    # another system's weights are refused, not read into a confident wrong answer
    with pytest.raises(ValueError, match=r"seg-lenet5 holds seg weights, not sdnn weights"):
        SDNNRecognizer("seg-lenet5")
    from docrec.recognizers.seg import SegmentationRecognizer

    with pytest.raises(ValueError, match=r"sdnn-strip holds sdnn weights, not seg weights"):
        SegmentationRecognizer(weights="sdnn-strip")


def test_printed_frame_and_guide_line_do_not_pass_for_the_writing(rec, test_pool):
    """A cheque box's frame (and a guide line) must not set the SDNN's height normalisation: with
    ``line_free_ink`` the framed field normalises like the bare one, and reads the same."""
    from data.sdnn_samples import normalize_field_ink
    from docrec.recognizers.sdnn import line_free_ink

    fields = synthesize("zip", 12, split="test", seed=73, pool=test_pool,
                        config=SynthConfig(spacing="normal", zip_plus4=0.0, height=None))
    same = 0
    for f in fields:
        bare = f.image
        framed = np.pad(bare, 6, constant_values=255)
        H, W = framed.shape
        framed[1:3, 1:W - 1] = framed[H - 3:H - 1, 1:W - 1] = 90  # frame, 2 px, mid grey
        framed[1:H - 1, 1:3] = framed[1:H - 1, W - 3:W - 1] = 90
        framed[H - 9, 4:W - 4] = np.minimum(framed[H - 9, 4:W - 4], 150)  # a pale guide line
        _, tf_bare, _ = normalize_field_ink(bare)
        _, tf_raw, _ = normalize_field_ink(framed)
        _, tf_clean, _ = normalize_field_ink(framed, ink=line_free_ink(framed))
        assert tf_raw.scale < 0.85 * tf_bare.scale  # the frame alone shrinks the writing
        assert tf_clean.scale == pytest.approx(tf_bare.scale, rel=0.1)
        a, b = rec.recognize([bare, framed], grammar="zip")
        same += a.text == b.text
    assert same >= 10, same


@pytest.mark.parametrize("weights, arch, floor", [("sdnn-modern", "modern", 0.70), ("sdnn-strip", "strip", 0.83)])
def test_bundled_modern_sdnns_read_touching_test_zip_codes(test_pool, weights, arch, floor):
    """Measured on 300 touching test zip codes (README): ``sdnn-modern`` (ModernLeNet, windowed)
    86.3%, ``sdnn-strip`` (StripNet, whole-strip context) 93.7%. On this test's 60 each floor sits
    about 3.5 binomial standard errors (0.045 / 0.031) below, so it catches broken weights, a broken
    windowed or width path, or a lost frame alignment."""
    from lenet.sdnn import WindowedSDNN
    from lenet.strip import StripNet

    torch.set_num_threads(1)
    rec = get_recognizer("sdnn", weights=weights)
    assert isinstance(rec.sdnn, WindowedSDNN if arch == "modern" else StripNet) and rec.meta["arch"] == arch
    fields = synthesize("zip", 60, split="test", seed=72, pool=test_pool,
                        config=SynthConfig(spacing="touching", zip_plus4=0.0))
    out = rec.recognize([f.image for f in fields], grammar="zip")
    acc = np.mean([o.text == f.text for o, f in zip(out, fields)])
    assert acc >= floor, f"string accuracy {acc:.3f}"
    assert all(len(o.boxes) == len(o.text) and 0.0 <= o.confidence <= 1.0 for o in out)
    # the boxes follow the ink: each box of a right reading overlaps its character's true box
    hits = [min(b[2], t[2]) > max(b[0], t[0]) for o, f in zip(out, fields) if o.text == f.text
            for b, t in zip(o.boxes, f.boxes)]
    assert np.mean(hits) >= 0.95
