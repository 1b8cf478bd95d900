"""Field preprocessing for real scans (issue 16, item 4): every pen stroke kept, printed ruling and
frames, dark scanner borders and wide margins not taken for writing.

The synthetic fixtures are drawn here (Hershey digits, straight strokes, printed lines); the last
test reads real cheque fields from ``../shared/data/orand_car_a`` and skips when it is missing.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from data.sdnn_samples import normalize_field_ink
from docrec.recognizers.sdnn import line_free_ink
from segmenter import SegmenterConfig, binarize, preprocess
from segmenter.inkmap import clean_ink_levels
from segmenter.lines import find_lines
from segmenter.preprocess import remove_printed_lines

ORAND = Path(__file__).parents[2].parent / "shared" / "data" / "orand_car_a"


def digits(text: str = "2305", *, h: int = 48, w: int = 150, x: int = 18) -> np.ndarray:
    """A white uint8 ``(h, w)`` field with ``text`` in black Hershey digits about 0.6 h tall."""
    img = np.full((h, w), 255, np.uint8)
    cv2.putText(img, text, (x, int(0.8 * h)), cv2.FONT_HERSHEY_SIMPLEX, h / 42.0, 0, 3, cv2.LINE_AA)
    return img


def ink_of(img: np.ndarray) -> np.ndarray:
    """The raw ink of a clean field (before any line removal): bool ``(H, W)``."""
    return binarize(img)


@pytest.mark.parametrize("x, top, bottom", [(1, 5, 43), (4, 3, 46), (9, 0, 48)])
def test_a_tall_straight_leading_one_is_kept(x, top, bottom):
    """A ``1`` drawn as a straight vertical bar 3 px wide, taller than the other digits (up to the
    whole field), close to (or at) the field's left edge: the old border removal erased it. Only a
    straight line both spanning the height and touching the edge is a frame."""
    img = digits(x=22)
    img[top:bottom, x:x + 3] = 0
    bar = np.zeros(img.shape, bool)
    bar[top:bottom, x:x + 3] = True
    prep = preprocess(img)
    assert (prep.ink & bar).sum() >= 0.98 * bar.sum()
    assert not (prep.lines & bar).any()
    levels = line_free_ink(img)
    assert (levels[bar] > 0).mean() >= 0.98


def test_ruling_line_and_frame_are_removed_and_the_digits_kept():
    bare = np.pad(digits(), 6, constant_values=255)
    h, w = bare.shape
    field = bare.copy()
    field[1:3, 1:w - 1] = field[h - 3:h - 1, 1:w - 1] = 90  # a printed frame, 2 px
    field[1:h - 1, 1:3] = field[1:h - 1, w - 3:w - 1] = 90
    field[44:46, 4:w - 4] = np.minimum(field[44:46, 4:w - 4], 110)  # a ruling line under the digits
    truth = ink_of(bare)
    prep = preprocess(field)
    frame = np.zeros((h, w), bool)
    frame[1:3, :] = frame[h - 3:h - 1, :] = frame[:, 1:3] = frame[:, w - 3:w - 1] = True
    assert not (prep.ink & frame).any()
    ruling = np.zeros((h, w), bool)
    ruling[44:46, :] = True
    assert (prep.ink & ruling & ~truth).sum() <= 0.03 * (ruling & ~truth).sum()
    assert (prep.ink & truth).sum() >= 0.97 * truth.sum()
    # the SDNN sees the writing alone: same height normalisation as the bare field
    _, t_bare, _ = normalize_field_ink(bare, ink=line_free_ink(bare))
    _, t_field, _ = normalize_field_ink(field, ink=line_free_ink(field))
    assert t_field.scale == pytest.approx(t_bare.scale, rel=0.05)
    assert t_field.x0 == pytest.approx(t_bare.x0, abs=2)


@pytest.mark.parametrize("width", [4, 10, 24])
def test_a_dark_scanner_border_is_not_ink(width):
    """A dark strip along the left and top edges (a scanner's border) of any width."""
    bare = digits()
    field = np.pad(bare, ((width + 3, 0), (width + 3, 0)), constant_values=255)
    field[:, :width] = 35
    field[:width, :] = 35
    prep = preprocess(field)
    assert not prep.ink[:, :width + 1].any() and not prep.ink[:width + 1, :].any()
    levels = line_free_ink(field)
    assert levels[:, :width + 1].max() == 0.0 and levels[:width + 1, :].max() == 0.0
    _, t_bare, _ = normalize_field_ink(bare, ink=line_free_ink(bare))
    _, t_field, _ = normalize_field_ink(field, ink=levels)
    assert t_field.scale == pytest.approx(t_bare.scale, rel=0.05)
    assert t_field.x0 - (width + 3) == pytest.approx(t_bare.x0, abs=2)


def test_wide_white_margins_keep_the_ink_and_the_strip():
    """400 px of white around a field: the segmenter still finds its ink (it answered "no ink":
    every length relative to the image height was 17 times too large) and the SDNN strip is the
    one of the field alone."""
    bare = digits()
    m = 400
    big = cv2.copyMakeBorder(bare, m, m, m, m, cv2.BORDER_CONSTANT, value=255)
    small_ink = preprocess(bare).ink
    prep = preprocess(big)
    assert prep.ink.any()
    inner = prep.ink[m:m + bare.shape[0], m:m + bare.shape[1]]
    assert prep.ink.sum() == inner.sum()  # nothing in the margins
    assert (inner & small_ink).sum() >= 0.98 * max(inner.sum(), small_ink.sum())
    y0, y1, x0, x1 = prep.box
    assert y0 >= m - bare.shape[0] and x0 >= m - bare.shape[0]  # cleaned where the writing is
    strip, tf, _ = normalize_field_ink(bare, ink=line_free_ink(bare))
    strip_big, tf_big, _ = normalize_field_ink(big, ink=line_free_ink(big))
    assert strip_big.shape == strip.shape
    assert np.abs(strip_big - strip).mean() < 0.01
    assert tf_big.scale == pytest.approx(tf.scale) and tf_big.x0 == pytest.approx(tf.x0 + m)


def test_a_lone_mark_is_not_blown_up_by_the_content_window():
    img = np.full((40, 200), 255, np.uint8)
    img[18:21, 150:153] = 0
    prep = preprocess(img)
    assert prep.ink[18:21, 150:153].all() and prep.ink.sum() == 9


def test_line_geometry_and_bad_arguments():
    ink = np.zeros((30, 120), bool)
    ink[20:22, 5:115] = True  # a 2-px horizontal line
    for y in range(4, 28):  # a slanted stroke
        ink[y, 40 + y // 3: 43 + y // 3] = True
    (line,) = find_lines(ink, min_length=60, axis=0)
    assert line.width == pytest.approx(2.0) and abs(line.slope) < 0.01 and line.wobble < 0.5
    assert 5 <= line.start and line.stop <= 116
    cleaned, removed = remove_printed_lines(ink, SegmenterConfig())
    assert not cleaned[20:22, 5:30].any() and removed[20:22, 5:30].all()
    assert cleaned[4:20, 41:50].any() and cleaned[22:28, 47:53].any()  # the stroke on both sides
    with pytest.raises(ValueError, match=r"\[segmenter.lines.find_lines\] axis must be 0 or 1, got 2"):
        find_lines(ink, min_length=10, axis=2)
    with pytest.raises(ValueError, match=r"min_length must be >= 2, got 1"):
        find_lines(ink, min_length=1)
    with pytest.raises(ValueError, match=r"\[segmenter.clean_ink_levels\] reach=-1"):
        clean_ink_levels(digits(), reach=-1)


def _off_ruling(raw: np.ndarray, grey: np.ndarray) -> np.ndarray:
    """Pixels off long straight horizontal runs (a detector independent of the one under test)."""
    from segmenter.preprocess import background

    h, w = raw.shape
    bg = background(grey, kernel=max(3, int(0.2 * h) | 1))
    loose = raw | (1.0 - grey / np.maximum(bg, 1.0) >= 0.2)
    grown = cv2.dilate(loose.astype(np.uint8), np.ones((3, 1), np.uint8))
    run = cv2.morphologyEx(grown, cv2.MORPH_OPEN, np.ones((1, min(int(0.8 * w), max(24, 2 * h))), np.uint8))
    return ~cv2.dilate(run, np.ones((3, 1), np.uint8)).astype(bool)


def test_real_cheque_fields_keep_the_ink_of_their_digits():
    """First 100 ORAND-CAR-A fields: the ink inside the true digit boxes (off printed ruling lines,
    which cross many boxes) is kept, in the segmenter's mask and in the SDNN's map. Measured: the
    SDNN map of issue 16 lost more than 5% of it in 3 of these fields (up to 19%, tall ``1``s and
    ``7``s); now none does (worst 3.1%, segmenter mask alike)."""
    if not (ORAND / "boxes.jsonl").is_file():
        pytest.skip(f"ORAND-CAR-A fields not found in {ORAND} (development data beside the repository)")
    from data.folder import read_image

    records = [json.loads(line) for line in (ORAND / "boxes.jsonl").read_text().splitlines()[:100]]
    bad_seg = bad_sdnn = 0
    worst = 0.0
    for rec in records:
        grey = read_image(ORAND / rec["path"])
        raw = binarize(grey)
        box = np.zeros(raw.shape, bool)
        for ch in rec["chars"]:
            x, y, w, h = ch["box"]
            box[y:y + h, x:x + w] = True
        ref = raw & box & _off_ruling(raw, grey)
        seg_lost = (ref & ~preprocess(grey).ink).sum() / max(ref.sum(), 1)
        sdnn_lost = (ref & ~(line_free_ink(grey) > 0)).sum() / max(ref.sum(), 1)
        bad_seg += seg_lost > 0.05
        bad_sdnn += sdnn_lost > 0.05
        worst = max(worst, seg_lost, sdnn_lost)
    assert bad_seg <= 2 and bad_sdnn <= 2, (bad_seg, bad_sdnn)
    assert worst < 0.10, worst


def test_content_box_of_a_field_holding_only_specks_is_the_whole_image():
    """Regression: components all below the speck size left no box to crop to (a reduction over
    nothing raised deep inside preprocess)."""
    import numpy as np

    from segmenter.preprocess import content_box

    grey = np.full((40, 120), 230, np.uint8)
    grey[10, 10] = grey[30, 100] = 0  # two single-pixel specks
    assert content_box(grey) == (0, 40, 0, 120)


def faded(img: np.ndarray, *, keep: float) -> np.ndarray:
    """``img`` with its ink at ``keep`` of its darkness against white: ``255 - keep (255 - grey)``."""
    return np.rint(255.0 - keep * (255.0 - img.astype(np.float64))).astype(np.uint8)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum()) / max(1, int((a | b).sum()))


def fine_pen(text: str = "4071") -> np.ndarray:
    """A white ``(56, 170)`` field written with a fine pen (1 px Hershey strokes, anti-aliased) and
    scanned a little soft (Gaussian blur, sigma 0.8): the thin strokes are paler than the joins."""
    img = np.full((56, 170), 255, np.uint8)
    cv2.putText(img, text, (18, 45), cv2.FONT_HERSHEY_SIMPLEX, 56 / 42.0, 0, 1, cv2.LINE_AA)
    return cv2.GaussianBlur(img, (0, 0), 0.8)


@pytest.mark.parametrize("keep, old_iou_below", [(0.35, 1.01), (0.25, 0.9), (0.2, 0.7)])
def test_pale_ink_is_found_like_dark_ink(keep, old_iou_below):
    """A pale pen or a washed-out scan (the darkest ink 0.35 / 0.25 / 0.2 of the way to black): the
    fixed 40-level contrast guard cut the thin strokes (intersection over union with the dark
    field's mask 0.86 and 0.65 at 0.25 and 0.2); lowered to half the field's own contrast, the mask
    is the dark field's."""
    dark = fine_pen()
    pale = faded(dark, keep=keep)
    ref = preprocess(dark).ink
    assert iou(preprocess(pale).ink, ref) >= 0.95
    fixed = SegmenterConfig().replace(min_contrast_rel=0.0)  # the guard before: 40 levels whatever the field
    assert iou(preprocess(pale, fixed).ink, ref) < old_iou_below
    assert (line_free_ink(pale) > 0).sum() >= 0.9 * (line_free_ink(dark) > 0).sum()


def test_the_guard_is_unchanged_on_ordinary_contrast_and_stays_above_the_grain():
    from segmenter.preprocess import contrast_guard, stroke_background

    cfg = SegmenterConfig().binarization
    dark = digits("4071", h=56, w=170)
    fixed = SegmenterConfig().replace(min_contrast_rel=0.0)
    for img in (dark, faded(dark, keep=0.6)):  # 255 and 153 levels of contrast: the fixed guard
        darker = stroke_background(img) - img
        assert contrast_guard(img, darker, cfg) == cfg.min_contrast
        assert np.array_equal(preprocess(img).ink, preprocess(img, fixed).ink)
    rng = np.random.default_rng(3)
    for sigma in (3.0, 6.0, 10.0):  # blank grainy paper: no ink, its guard follows the grain
        grain = np.clip(np.rint(200 + rng.normal(0, sigma, (56, 170))), 0, 255).astype(np.uint8)
        assert not preprocess(grain).ink.any(), sigma
        guard = contrast_guard(grain, stroke_background(grain) - grain, cfg)
        assert cfg.min_contrast_floor <= guard <= cfg.min_contrast
    with pytest.raises(ValueError, match="min_contrast_rel"):
        SegmenterConfig().replace(min_contrast_rel=1.5)
    with pytest.raises(ValueError, match="min_contrast_floor"):
        SegmenterConfig().replace(min_contrast_floor=50.0)


@pytest.mark.skipif(not (ORAND / "boxes.jsonl").is_file(), reason="../shared/data/orand_car_a not present")
def test_real_cheque_fields_written_with_a_pale_pen_keep_their_digits():
    """40 real fields with their ink at 45% of its darkness (issue 16, item 4): the segmenter's ink
    inside the true digit boxes stays that of the original scan."""
    from data.folder import read_image

    records = [json.loads(line) for line in (ORAND / "boxes.jsonl").read_text().splitlines()[:40]]
    kept = []
    for rec in records:
        grey = read_image(ORAND / rec["path"])
        box = np.zeros(grey.shape, bool)
        for ch in rec["chars"]:
            x, y, w, h = ch["box"]
            box[y:y + h, x:x + w] = True
        ref = preprocess(grey).ink & box
        pale = preprocess(faded(grey, keep=0.45)).ink & box
        kept.append((pale & ref).sum() / max(1, ref.sum()))
    assert np.median(kept) >= 0.9 and min(kept) >= 0.6, (np.median(kept), min(kept))
