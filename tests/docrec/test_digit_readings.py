"""Recognisers reading with ``score="digits"``: the confidence is the posterior of the digit string
(every reading with those digits counted), the combined reader's candidates are digit strings, and
the command line reads amounts that way."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from docrec.recognizers.base import digit_string
from docrec.recognizers.combo import CombinedRecognizer
from docrec.recognizers.sdnn import SDNNRecognizer
from docrec.recognizers.seg import SegmentationRecognizer

AMOUNTS = ["15.728.-", "2.500", "39300", "1,250/-"]


def drawn(text: str) -> np.ndarray:
    """A printed-script amount field, white paper and dark ink: uint8 ``(60, W)``."""
    img = np.full((60, 40 + 30 * len(text)), 255, np.uint8)
    cv2.putText(img, text, (15, 45), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.4, 0, 3, cv2.LINE_AA)
    return img


@pytest.fixture(scope="module")
def images():
    return [drawn(t) for t in AMOUNTS]


@pytest.fixture(scope="module")
def seg_pair():
    return (SegmentationRecognizer(weights="seg-lenet5-real"),
            SegmentationRecognizer(weights="seg-lenet5-real", score="digits"))


@pytest.fixture(scope="module")
def sdnn_pair():
    return SDNNRecognizer("sdnn-strip-real"), SDNNRecognizer("sdnn-strip-real", score="digits")


@pytest.mark.parametrize("which", ["seg", "sdnn"])
def test_digit_confidence_is_the_posterior_of_the_digits(which, images, seg_pair, sdnn_pair):
    """Same reading; confidence never below the text's, and equal to ``exp(f_all - f_digits)`` of
    the recogniser's own ``text_penalties``, which gives every text with those digits the same value."""
    text_rec, digit_rec = seg_pair if which == "seg" else sdnn_pair
    plain = text_rec.recognize(images, grammar="amount")
    ours = digit_rec.recognize_detailed(images, grammar="amount")
    gained = 0
    for p, (r, extra) in zip(plain, ours):
        assert r.text == p.text and r.digits == digit_string(p.text)
        assert p.confidence - 1e-9 <= r.confidence <= 1.0
        gained += r.confidence > p.confidence + 1e-6
        # the same quantity through text_penalties, for the text and a rewriting with its digits
        other = r.digits + ".-" if r.digits else r.text
        if which == "seg":
            (f_all, f), = digit_rec.text_penalties([extra], [[r.text, other]], grammar="amount")
        else:
            (f_all, f), = digit_rec.text_penalties([None], [[r.text, other]], grammar="amount", penalties=[extra])
        assert math.exp(f_all - f[0]) == pytest.approx(r.confidence, rel=1e-6, abs=1e-9)
        assert f[1] == pytest.approx(f[0], rel=1e-9)
    assert gained >= 1  # a separator or end mark read in more than one way somewhere


def test_bad_score_is_refused():
    for build in (lambda: SDNNRecognizer("sdnn-strip-real", score="amount"),
                  lambda: SegmentationRecognizer(weights="seg-lenet5-real", score="Digits")):
        with pytest.raises(ValueError, match="score"):
            build()


def test_combined_reader_answers_digit_strings(images, seg_pair, sdnn_pair):
    combo = CombinedRecognizer(seg=seg_pair[1], sdnn=sdnn_pair[1], score="digits")
    combo.config.sdnn_accept = None  # both systems on every field
    for img, sc in zip(images, combo.score_candidates(images, grammar="amount")):
        keys = [digit_string(t) for t in sc.texts]
        assert len(keys) == len(set(keys))  # one candidate per digit string
        order, _, conf = combo.ranked(sc)
        best = int(order[0])
        w = combo.weight_of(sc)
        assert conf == pytest.approx(math.exp(-(w * sc.seg_nll[best] + (1 - w) * sc.sdnn_nll[best])))
        # each system's -log posterior of a candidate is that of its digits
        for k, t in enumerate(sc.texts):
            (f_all, (f,)), = seg_pair[1].text_penalties([sc_detail(combo, img)], [[t]], grammar="amount")
            assert sc.seg_nll[k] == pytest.approx(f - f_all, abs=1e-6) or math.isinf(f)
    # the parts must score as the combination does
    with pytest.raises(ValueError, match="score"):
        CombinedRecognizer(seg=seg_pair[0], sdnn=sdnn_pair[1], score="digits")
    with pytest.raises(ValueError, match="score"):
        CombinedRecognizer(seg=seg_pair[1], sdnn=sdnn_pair[0], score="digits")


def sc_detail(combo, img):
    return combo.seg.recognize_detailed([img], grammar="amount")[0][1]


def test_real_amount_weights_read_digit_strings_by_default():
    """The real-trained combined settings were chosen with digit-string posteriors and say so."""
    rec = CombinedRecognizer(weights="seg-modern-real")
    assert rec.config.score == "digits" and rec.seg.config.score == "digits" and rec.sdnn.config.score == "digits"
    assert CombinedRecognizer(weights="seg-modern-real", score="text").sdnn.config.score == "text"


def test_cli_reads_amounts_with_digit_posteriors(tmp_path, capsys, images):
    from docrec.cli import main

    path = tmp_path / "amount.png"
    cv2.imwrite(str(path), images[0])
    ref = SDNNRecognizer("sdnn-strip-real")
    want = {s: SDNNRecognizer("sdnn-strip-real", score=s).recognize([images[0]], grammar="amount")[0].confidence
            for s in ("text", "digits")}
    for flags, score in (([], "digits"), (["--score", "text"], "text")):
        code = main(["recognize", str(path), "--system", "sdnn", "--weights", "sdnn-strip-real", "--grammar",
                     "amount", "--json", *flags])
        entry = json.loads(capsys.readouterr().out.strip().splitlines()[0])
        assert code == 0 and entry["confidence"] == pytest.approx(want[score], rel=1e-6)
    assert ref.config.score == "text"


def test_compare_reads_digit_scored_sets_with_digit_posteriors(tmp_path):
    """``docrec compare``: a set scored on its digits is read by a recogniser with ``score="digits"``,
    and its readings are cached apart from text-scored ones."""
    from docrec.compare.runner import Recognizers, cache_path
    from docrec.compare.specs import parse_folder, parse_system

    (tmp_path / "labels.csv").write_text("path,text\n")
    fields = parse_folder(str(tmp_path), grammar="amount", score="digits")
    spec = parse_system("sdnn:sdnn-strip-real")
    assert cache_path(tmp_path, spec, fields, score="digits") != cache_path(tmp_path, spec, fields)
    made = Recognizers()
    assert made.get(spec, fields, score="digits").config.score == "digits"
    assert made.get(spec, fields).config.score == "text" and made.built == 2
