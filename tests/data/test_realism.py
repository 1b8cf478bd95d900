"""Scan realism (data/realism.py, guilloche.py, marks.py, pools.py, the cheque kind) on small
in-memory digit pools drawn with OpenCV's fonts: no data files needed."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from data.backgrounds import BACKGROUNDS, make_background
from data.guilloche import draw_ruling, guilloche_darkness
from data.marks import END_MARKS, draw_end_mark, sample_end_mark
from data.realism import LUMA, Realism, change_stroke, stroke_width
from data.sdnn_samples import ink_map
from data.synth import DigitPool, MixedPool, SynthConfig, field_rng, render, synthesize
from data.texts import CHEQUE_REGEX, group_thousands, kind_regex, sample_cheque


def _font_pool(split: str = "test", fonts=(0, 2, 3), thick=(2, 3)) -> DigitPool:
    """Digits 0-9 drawn with OpenCV fonts on 28x28 (MNIST polarity), a few styles each."""
    images, labels = [], []
    for d in range(10):
        for font in fonts:
            for t in thick:
                img = np.zeros((28, 28), np.uint8)
                cv2.putText(img, str(d), (6, 23), font, 0.9, 255, t, cv2.LINE_AA)
                images.append(img)
                labels.append(d)
    return DigitPool(np.stack(images), np.array(labels), split)


@pytest.fixture(scope="module")
def pool() -> DigitPool:
    return _font_pool()


def _same(a, b) -> bool:
    return (a.text == b.text and a.boxes == b.boxes and a.end_mark == b.end_mark
            and np.array_equal(a.image, b.image))


def _one(pool, text="15728", seed=0, **realism):
    cfg = SynthConfig(height=None, margin=3, realism=Realism(**realism))
    return render(text, pool, field_rng(seed, 0), cfg)


def test_preset_is_deterministic_by_seed(pool):
    cfg = SynthConfig.realistic()
    a = synthesize("cheque", 6, split="test", seed=3, config=cfg, pool=pool)
    b = synthesize("cheque", 6, split="test", seed=3, config=cfg, pool=pool)
    c = synthesize("cheque", 6, split="test", seed=4, config=cfg, pool=pool)
    assert all(_same(x, y) for x, y in zip(a, b))
    assert not any(_same(x, y) for x, y in zip(a, c))
    for f in a:
        assert f.image.dtype == np.uint8 and f.image.ndim == 2 and len(f.boxes) == len(f.text)
        h, w = f.image.shape
        for x0, y0, x1, y1 in f.boxes:
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
            assert f.image[y0:y1, x0:x1].min() < np.median(f.image) - 40  # the box holds ink


def test_off_by_default_and_preset_overrides():
    assert SynthConfig().realism is None and SynthConfig.clean().realism is None
    cfg = SynthConfig.realistic(colour=True, jpeg=None, height=40, background="form")
    assert cfg.realism.colour and cfg.realism.jpeg is None and cfg.height == 40 and cfg.background == "form"
    assert "guilloche" in BACKGROUNDS and SynthConfig.realistic().validate().background == "guilloche"


def test_cheque_texts_keep_separators():
    rng = np.random.default_rng(0)
    texts = [sample_cheque(rng) for _ in range(600)]
    assert all(CHEQUE_REGEX.fullmatch(t) for t in texts)
    assert kind_regex("cheque") is CHEQUE_REGEX
    long = [t for t in texts if sum(c.isdigit() for c in t) >= 4]
    assert 0.45 < np.mean(["." in t for t in long]) < 0.65  # 15.728
    assert 0.02 < np.mean(["," in t for t in long]) < 0.15  # 4,057
    assert 0.25 < np.mean([t.isdigit() for t in long]) < 0.5  # 26075
    assert {len(t.replace(".", "").replace(",", "")) for t in texts} >= {2, 3, 4, 5, 6, 7}
    assert np.mean([t.endswith("00") for t in texts]) > 0.2  # round amounts are common
    assert group_thousands("1250000", ".") == "1.250.000" and group_thousands("15728", ",") == "15,728"
    assert not CHEQUE_REGEX.fullmatch("1.250,000") and not CHEQUE_REGEX.fullmatch("15.72")


def test_end_marks_are_drawn_but_not_in_the_text(pool):
    cfg = SynthConfig.realistic(end_mark=1.0, wide_margin=0.0)
    fields = synthesize("cheque", 12, split="test", seed=5, config=cfg, pool=pool)
    assert {f.end_mark for f in fields} <= set(END_MARKS) and all(f.end_mark for f in fields)
    for f in fields:
        assert CHEQUE_REGEX.fullmatch(f.text) and len(f.boxes) == len(f.text) == len(f.sources)
        x0, y0, x1, y1 = f.end_box
        assert x1 >= f.boxes[-1][2] and x0 > f.boxes[-1][0]  # after the last character
        assert f.image[y0:y1, x0:x1].min() < np.median(f.image) - 40  # and inked
    plain = synthesize("cheque", 12, split="test", seed=5, config=SynthConfig.realistic(end_mark=0.0), pool=pool)
    assert all(f.end_mark == "" and f.end_box is None for f in plain)
    # Without realism the cheque kind has no end marks, and render can draw one on request.
    assert all(f.end_mark == "" for f in synthesize("cheque", 5, split="test", seed=5, pool=pool))
    f = render("2.500", pool, field_rng(0, 0), SynthConfig(), end_mark="/=")
    assert f.text == "2.500" and f.end_mark == "/=" and len(f.boxes) == 5 and f.end_box is not None
    with pytest.raises(ValueError, match=r"\[data.synth.render\] unknown end mark '#'"):
        render("12", pool, field_rng(0, 0), end_mark="#")


def test_end_mark_glyphs():
    rng = np.random.default_rng(2)
    for mark in END_MARKS:
        for _ in range(10):
            g = draw_end_mark(mark, rng)
            h, w = g.ink.shape
            assert g.char == mark and g.source == -1 and g.ink.max() > 0.9
            assert w >= 5 and h <= 30 and g.top + h <= 9  # beside the body, not far below the line
            if mark == "=":
                n, _ = cv2.connectedComponents((g.ink > 0.5).astype(np.uint8))
                assert n - 1 >= 2 or h >= 5  # two strokes (they may touch at an end)
    assert {sample_end_mark(rng) for _ in range(200)} == set(END_MARKS)
    with pytest.raises(ValueError, match=r"\[data.marks.draw_end_mark\] unknown end mark 'x'"):
        draw_end_mark("x", rng)


def test_colour_output_and_grey_luma(pool):
    colour = _one(pool, seed=2, tint=1.0, colour=True)
    grey = _one(pool, seed=2, tint=1.0, colour=False)
    assert colour.image.shape == grey.image.shape + (3,) and colour.image.dtype == np.uint8
    assert np.abs(colour.image[..., 0].astype(int) - colour.image[..., 2]).max() > 10  # really coloured
    luma = colour.image.astype(np.float32) @ LUMA
    assert np.abs(luma - grey.image).max() <= 1.0  # grey output = the recognisers' luma of the colour
    neutral = _one(pool, seed=2, tint=0.0, colour=True)
    assert np.abs(neutral.image.astype(int) - neutral.image[..., :1]).max() <= 1


def test_jpeg_blur_and_levels(pool):
    base = _one(pool, seed=1)
    jpeg = _one(pool, seed=1, jpeg=(15, 15))
    assert jpeg.image.shape == base.image.shape and not np.array_equal(jpeg.image, base.image)
    assert np.abs(jpeg.image.astype(int) - base.image).mean() < 12
    ok, buf = cv2.imencode(".jpg", jpeg.image)
    assert ok and cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE).shape == jpeg.image.shape

    def sharpness(img):
        return float(np.abs(cv2.Laplacian(img.astype(np.float32), cv2.CV_32F)).mean())

    assert sharpness(_one(pool, seed=1, blur=(2.0, 2.0)).image) < 0.6 * sharpness(base.image)
    dim = _one(pool, seed=1, black=(60.0, 60.0), white=(180.0, 180.0)).image
    assert dim.min() >= 59 and dim.max() <= 181


def test_wide_margins_add_blank_borders(pool):
    cfg = SynthConfig(height=32, background="white", realism=Realism(wide_margin=1.0, margin_size=(1.0, 1.0)))
    for f in synthesize("cheque", 8, split="test", seed=6, config=cfg, pool=pool):
        h, w = f.image.shape
        x0, y0 = min(b[0] for b in f.boxes), min(b[1] for b in f.boxes)
        x1, y1 = max(b[2] for b in f.boxes), max(b[3] for b in f.boxes)
        blank = max(x0, w - x1, y0, h - y1)
        assert blank >= 32  # at least one side has a border of the field's height
        ink = f.image < 128
        assert ink[y0:y1, x0:x1].sum() == ink.sum() > 0  # all the ink is inside the boxes


def test_whole_field_slant_and_elastic_warp(pool):
    def lean(angle):
        cfg = SynthConfig.clean(height=None, realism=Realism(slant=(angle, angle)))
        shifts = []
        for f in synthesize("digits", 6, split="test", seed=8, config=cfg, pool=pool):
            ink = f.image < 128
            ys, xs = np.nonzero(ink)
            mid = np.median(ys)
            shifts.append(xs[ys < mid].mean() - xs[ys >= mid].mean())
        return float(np.mean(shifts))

    assert lean(25.0) > lean(0.0) + 2 > lean(-25.0) + 4  # the tops move right for positive slant
    plain, warped = _one(pool, seed=3), _one(pool, seed=3, elastic=2.0)
    assert plain.image.shape != warped.image.shape or not np.array_equal(plain.image, warped.image)
    for x0, y0, x1, y1 in warped.boxes:
        assert warped.image[y0:y1, x0:x1].min() < 128


def test_stroke_width_morphology(pool):
    thin = _one(pool, seed=4, stroke=(-1.0, -1.0))
    thick = _one(pool, seed=4, stroke=(1.0, 1.0))
    wide = _one(pool, seed=4, pen_width=(6.0, 6.0))
    narrow = _one(pool, seed=4, pen_width=(1.5, 1.5))
    assert (thin.image < 128).sum() < 0.8 * (thick.image < 128).sum()
    assert stroke_width(ink_map(narrow.image)) < stroke_width(ink_map(wide.image)) - 1.5
    layer = np.zeros((20, 40, 1), np.float32)
    layer[8:12, 5:35] = 1.0  # a 4 px bar
    assert stroke_width(layer[..., 0]) == pytest.approx(4.0, abs=0.6)
    assert stroke_width(change_stroke(layer, -1.0)[..., 0]) == pytest.approx(2.0, abs=0.6)
    assert change_stroke(np.full((3, 3, 1), 0.6, np.float32), -2.0).max() >= 0.5  # never erased


def test_guilloche_background_stays_below_ink_level(pool):
    rng = np.random.default_rng(0)
    dark = guilloche_darkness((60, 200), rng, scale=1.7)
    assert dark.shape == (60, 200) and dark.min() >= 0 and 10 < dark.max() < 200
    bg = make_background("guilloche", (60, 200), rng, baseline=40.0, scale=1.7)
    assert bg.dtype == np.float32 and np.median(bg) > 170 and bg.std() > 3  # light, textured
    cfg = SynthConfig.realistic(wide_margin=0.0)
    fractions = []
    for f in synthesize("cheque", 12, split="test", seed=1, config=cfg, pool=pool):
        ink = ink_map(f.image) > 0.5
        paper = np.ones_like(ink)
        for x0, y0, x1, y1 in f.boxes + ([f.end_box] if f.end_box else []):
            paper[max(0, y0 - 2): y1 + 2, max(0, x0 - 2): x1 + 2] = False
        ruling = (ink & paper).sum(axis=1) > 0.3 * np.maximum(1, paper.sum(axis=1))
        paper[ruling] = False  # printed rules are meant to look like ink
        fractions.append(ink[paper].mean())
    assert np.median(fractions) < 0.005 and max(fractions) < 0.05
    line = np.full((30, 50), 240.0, np.float32)
    draw_ruling(line, np.random.default_rng(1), baseline=20.0, probability=1.0)
    assert line.min() <= 150 and (line.min(axis=1) <= 150).sum() <= 3
    with pytest.raises(ValueError, match=r"\[data.guilloche.draw_ruling\] probability 2"):
        draw_ruling(line, rng, baseline=1.0, probability=2.0)


def test_mixed_pool_mixes_writers():
    a = _font_pool(fonts=(0,), thick=(2,))
    b = _font_pool(fonts=(3, 4), thick=(3,))
    only_a, only_b, both = MixedPool([a, b], [1, 0]), MixedPool([a, b], [0, 1]), MixedPool([a, b], [1, 3])
    rng = np.random.default_rng(0)
    assert len(both) == len(a) + len(b) == 30 and both.split == "test"
    assert all(only_a.glyph(d, rng).source < len(a) for d in range(10))
    assert all(only_b.glyph(d, rng).source >= len(a) for d in range(10))
    sources = [both.glyph(int(d), rng).source for d in rng.integers(0, 10, 400)]
    from_b = np.mean([s >= len(a) for s in sources])
    assert 0.65 < from_b < 0.85  # weights 1:3
    for s in sources[:20]:
        k, i = both.locate(s)
        assert np.array_equal((a, b)[k].images[i], np.concatenate([a.images, b.images])[s])
    cfg = SynthConfig.realistic()
    f1 = synthesize("cheque", 4, split="test", seed=2, config=cfg, pool=both)
    f2 = synthesize("cheque", 4, split="test", seed=2, config=cfg, pool=both)
    assert all(_same(x, y) for x, y in zip(f1, f2))
    with pytest.raises(ValueError, match=r"\[data.MixedPool\] pools mix splits"):
        MixedPool([a, _font_pool("train")])
    with pytest.raises(ValueError, match=r"\[data.MixedPool\] need 2 non-negative weights"):
        MixedPool([a, b], [1, -1])
    with pytest.raises(ValueError, match=r"\[data.MixedPool.locate\] source 30"):
        both.locate(30)


def test_bad_realism_options(pool):
    for bad, match in [(dict(jpeg=(0, 50)), "jpeg quality range"), (dict(tint=2.0), "tint=2.0"),
                       (dict(zoom=(2.0, 1.0)), "zoom range"), (dict(elastic=9.0), "elastic"),
                       (dict(pen_width=(0.1, 2.0)), "pen_width")]:
        with pytest.raises(ValueError, match=rf"\[data.Realism\] .*{match}"):
            synthesize("cheque", 1, split="test", seed=0, pool=pool, config=SynthConfig(realism=Realism(**bad)))
    with pytest.raises(ValueError, match="field slant"):
        SynthConfig(slant=(-10, 30), realism=Realism(slant=(0, 20))).validate()
