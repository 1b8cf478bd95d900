"""Fields of light ink on dark paper (MNIST's own polarity, a negative scan) are read like their
positives: :func:`docrec.recognizers.base.light_ink` decides, :func:`check_field_image` inverts."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from docrec.recognizers.base import check_field_image, light_ink


def written(h: int = 40, w: int = 120) -> np.ndarray:
    """White paper with three dark bars (about 15% ink)."""
    img = np.full((h, w), 235, np.uint8)
    for x in (20, 55, 90):
        img[8:32, x:x + 6] = 30
    return img


def test_light_ink_tells_negatives_from_ordinary_fields():
    pos = written()
    assert not light_ink(pos) and light_ink(255 - pos)
    # ink covering most of a tight crop: the frame is still light paper
    bold = np.full((40, 60), 240, np.uint8)
    bold[3:37, 4:56] = 20
    assert not light_ink(bold)
    # a dark scanner border along the top and left edges: half the frame, not most of the field
    border = np.full((60, 160), 220, np.uint8)
    border[:14, :] = border[:, :14] = 25
    border[25:50, 40:46] = 40
    assert not light_ink(border)
    # no contrast either way
    assert not light_ink(np.full((20, 20), 255, np.uint8)) and not light_ink(np.zeros((20, 20), np.uint8))


def test_check_field_image_inverts_a_negative_only():
    pos = written()
    np.testing.assert_array_equal(check_field_image(pos), pos)
    np.testing.assert_array_equal(check_field_image(255 - pos), pos)
    # floats in 0..1 and colour arrays take the same path
    np.testing.assert_array_equal(check_field_image((255 - pos) / 255.0), pos)
    rgb = np.repeat((255 - pos)[..., None], 3, axis=2)
    np.testing.assert_array_equal(check_field_image(rgb), pos)


class Field:
    def __init__(self, image: np.ndarray, text: str):
        self.image, self.text = image, text


@pytest.fixture(scope="module")
def zips():
    """Three zip codes of MNIST training digits; without MNIST (a fresh clone offline), three drawn in
    a Hershey font (``Field.text`` is then None: only the equality of the readings is checked)."""
    import os
    from pathlib import Path

    root = Path(os.environ.get("DOCREC_MNIST_DIR", "/nonexistent"))
    if (root / "train-images-idx3-ubyte.gz").exists():
        from data.synth import SynthConfig, field_rng, synthesize_one
        from docrec.training.seg_data import train_pools

        _, pool = train_pools(root)
        return [synthesize_one("zip", pool, field_rng(7, i), SynthConfig(spacing="normal", zip_plus4=0.0))
                for i in range(3)]
    out = []
    for text in ("40719", "23856", "15002"):
        img = np.full((40, 150), 255, np.uint8)
        cv2.putText(img, text, (8, 32), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 0, 2, cv2.LINE_AA)
        out.append(Field(img, None))
    return out


@pytest.mark.parametrize("system", ["seg", "sdnn", "combo"])
def test_every_recogniser_reads_a_negative_like_its_positive(system, zips):
    """Before, a white-on-black MNIST string read as nothing like its digits (the combined reader read
    none of the 200 ``white-on-black`` zip codes of ``benchmarks/foreign_strings.py``)."""
    from docrec.recognizers import get_recognizer, resolve_grammar

    rec = get_recognizer(system)
    grammar = resolve_grammar("zip")
    pos = rec.recognize([f.image for f in zips], grammar=grammar)
    neg = rec.recognize([255 - f.image for f in zips], grammar=grammar)
    assert [r.text for r in neg] == [r.text for r in pos]
    assert [r.confidence for r in neg] == pytest.approx([r.confidence for r in pos])
    if zips[0].text is not None:
        assert sum(r.text == f.text for r, f in zip(pos, zips)) >= 2


def test_training_and_reading_see_the_same_field_whatever_its_polarity(zips):
    """The inversion is in the segmenter's cleaning (``CleanConfig.invert_light_ink``), which the
    real-field trainings call directly, not only in the recognisers' input check: a folder of
    negatives trains on exactly what reading it sees."""
    from docrec.recognizers.sdnn import line_free_ink
    from segmenter import SegmenterConfig, light_ink, preprocess, segment

    pos = zips[0].image
    neg = 255 - pos
    assert light_ink(neg) and not light_ink(pos)
    a, b = segment(pos), segment(neg)
    np.testing.assert_array_equal(a.graph.data, b.graph.data)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    np.testing.assert_array_equal(line_free_ink(pos), line_free_ink(neg))
    np.testing.assert_array_equal(preprocess(neg).grey, pos)
    off = SegmenterConfig().replace(invert_light_ink=False)
    assert not np.array_equal(preprocess(neg, off).ink, preprocess(pos, off).ink)
