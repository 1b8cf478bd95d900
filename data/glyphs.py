"""Glyphs: MNIST digits and procedurally drawn punctuation ``, . - $ * /`` on one common scale.

Every glyph is an *ink map* (float32 ``(h, w)`` in [0, 1], 1 = full ink, MNIST polarity) plus the
row of its top edge relative to the writing line's baseline (``top < 0`` means above the baseline).
The scale is MNIST's own: a digit's body is about :data:`BODY` = 20 pixels tall (MNIST digits are
size-normalised into a 20x20 box inside the 28x28 frame, docs/paper.md Sec. III-A).

How punctuation is drawn (:func:`draw_punctuation`): each symbol is a few strokes (polylines
through jittered control points, or filled dots) drawn with OpenCV's anti-aliased lines on a
4x supersampled canvas, then reduced with area averaging. This reproduces MNIST's look: a solid
core of full ink with a one-pixel grey anti-aliased rim. Per glyph we draw at random:

* the pen width, 1.8-3.2 px (MNIST strokes are roughly 2-3.5 px wide);
* the size (each symbol has its own range relative to the 20 px digit body);
* a jitter of every control point (about 0.5-1 px) and a small rotation/tilt;
* its vertical placement, which follows handwriting: ``.`` sits on the baseline, ``,`` sits on
  it and descends 3-6 px below, ``-`` floats at mid-body, ``*`` in the upper half, ``$`` spans the
  body with its bar sticking out above and below, ``/`` spans the body and may dip below.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Height in pixels of a digit's body at natural (MNIST) resolution.
BODY = 20
#: The punctuation symbols this module can draw.
PUNCTUATION = ",.-$*/"
#: Supersampling factor for anti-aliased drawing.
_SS = 4
#: Ink level above which a pixel counts as ink (the threshold used for profiles and boxes).
INK_THRESHOLD = 0.5


@dataclass
class Glyph:
    """One character ready to be placed on a line.

    Attributes:
        char: the character it shows.
        ink: float32 ``(h, w)`` ink map in [0, 1], cropped tight to its nonzero pixels.
        top: row of ``ink[0]`` relative to the baseline (negative = above it).
        source: index of the MNIST digit it came from, or -1 for drawn punctuation.
    """

    char: str
    ink: np.ndarray
    top: int
    source: int = -1


def crop_ink(ink: np.ndarray, *, threshold: float = 0.0) -> tuple[np.ndarray, int, int]:
    """Crop ``ink`` (h, w) to the pixels above ``threshold``; returns (crop, row0, col0).

    An all-blank map becomes a single blank pixel at (0, 0).
    """
    rows = np.flatnonzero((ink > threshold).any(axis=1))
    if rows.size == 0:
        return np.zeros((1, 1), np.float32), 0, 0
    cols = np.flatnonzero((ink > threshold).any(axis=0))
    return ink[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1], int(rows[0]), int(cols[0])


def digit_glyph(image: np.ndarray, label: int, index: int) -> Glyph:
    """An MNIST digit (uint8 ``(28, 28)``, 0 = background) as a glyph standing on the baseline."""
    ink, _, _ = crop_ink(np.asarray(image, dtype=np.float32) / 255.0)
    return Glyph(char=str(int(label)), ink=ink, top=-ink.shape[0], source=int(index))


def draw_punctuation(char: str, rng: np.random.Generator) -> Glyph:
    """Draw one punctuation glyph with random pen width, size, tilt and jitter (module docstring).

    Args:
        char: one of ``, . - $ * /``.
        rng: the random generator (the only source of randomness).

    Returns:
        a :class:`Glyph` with ``source == -1``.

    Raises:
        ValueError: ``char`` is not a drawable punctuation symbol.
    """
    if char not in _DRAWERS:
        raise ValueError(f"[data.glyphs.draw_punctuation] cannot draw {char!r}; drawable: {PUNCTUATION!r}")
    pen = float(rng.uniform(1.8, 3.2))
    strokes, dots = _DRAWERS[char](rng, pen)
    strokes = [s + rng.normal(0.0, 0.35, s.shape) for s in strokes]
    return rasterise(char, strokes, dots, pen)


# ---------------------------------------------------------------------------------------------
# Shapes, in baseline coordinates (x right, y down, baseline at y = 0, body top at y = -BODY).
# Each drawer returns (list of polylines (n, 2), list of (cx, cy, rx, ry) filled ellipses).


def _rot(points: np.ndarray, angle_deg: float, centre: np.ndarray) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    m = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (points - centre) @ m.T + centre


def _dot(rng, pen):
    r = pen * rng.uniform(0.5, 0.85)
    return [], [(0.0, -r + rng.uniform(-0.5, 0.3), r * rng.uniform(0.9, 1.2), r)]


def _comma(rng, pen):
    r = pen * rng.uniform(0.55, 0.85)
    drop = rng.uniform(3.0, 6.0)
    bend = rng.uniform(1.0, 3.0)
    tail = np.array([[0.0, -r], [0.2, 0.5], [-0.3 * bend, 0.6 * drop], [-bend, drop]])
    return [tail], [(0.0, -r, r, r)]


def _dash(rng, pen):
    length = rng.uniform(6.0, 11.0)
    y = -rng.uniform(7.0, 11.0)
    sag = rng.uniform(-0.8, 0.8)
    t = np.linspace(0.0, 1.0, 6)
    pts = np.stack([t * length, y + sag * 4 * t * (1 - t)], axis=1)
    return [_rot(pts, rng.uniform(-8, 8), pts.mean(axis=0))], []


def _slash(rng, pen):
    h = BODY * rng.uniform(0.85, 1.1)
    w = rng.uniform(7.0, 12.0)
    below = rng.uniform(0.0, 3.0)
    t = np.linspace(0.0, 1.0, 6)
    bow = rng.uniform(-0.8, 0.8)
    pts = np.stack([t * w + bow * 4 * t * (1 - t), below - t * (h + below)], axis=1)
    return [pts], []


def _star(rng, pen):
    r = rng.uniform(3.5, 6.5)
    centre = np.array([0.0, -rng.uniform(0.45, 0.8) * BODY])
    arms = int(rng.integers(3, 5))  # 3 or 4 crossing strokes
    phase = rng.uniform(0, np.pi)
    strokes = []
    for k in range(arms):
        a = phase + np.pi * k / arms + rng.normal(0, 0.08)
        d = np.array([np.cos(a), np.sin(a)]) * r * rng.uniform(0.8, 1.1)
        strokes.append(np.stack([centre - d, centre + d]))
    return strokes, []


def _dollar(rng, pen):
    h = BODY * rng.uniform(0.85, 1.05)
    w = h * rng.uniform(0.45, 0.65)
    # An S through five key points (top right, top left, middle, bottom right, bottom left),
    # smoothed by a Catmull-Rom spline.
    key = np.array([[0.95 * w, -0.88 * h], [0.45 * w, -h], [0.05 * w, -0.78 * h], [0.5 * w, -0.5 * h],
                    [0.95 * w, -0.22 * h], [0.5 * w, 0.0], [0.02 * w, -0.12 * h]])
    key = key + rng.normal(0.0, 0.6, key.shape)
    s = _catmull_rom(key, 6)
    x = 0.5 * w + rng.uniform(-1.0, 1.0)
    over = rng.uniform(1.5, 4.0)
    bar = np.array([[x, -h - over], [x + rng.uniform(-1, 1), over]])
    return [_rot(s, rng.uniform(-6, 6), np.array([0.5 * w, -0.5 * h])), bar], []


def _catmull_rom(points: np.ndarray, steps: int) -> np.ndarray:
    p = np.vstack([points[:1], points, points[-1:]])
    t = np.linspace(0.0, 1.0, steps, endpoint=False)[:, None]
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t ** 3))
    out.append(points[-1:])
    return np.vstack(out)


_DRAWERS = {".": _dot, ",": _comma, "-": _dash, "/": _slash, "*": _star, "$": _dollar}


def rasterise(char: str, strokes: list[np.ndarray], dots: list[tuple], pen: float) -> Glyph:
    """Draw strokes and dots anti-aliased at 4x, reduce by area averaging, crop; keep baseline.

    Args:
        char: the glyph's character (or mark name).
        strokes: polylines ``(n, 2)`` in baseline coordinates (x right, y down, baseline y = 0).
        dots: filled ellipses ``(cx, cy, rx, ry)`` in the same coordinates.
        pen: pen width in natural pixels.

    Returns:
        a :class:`Glyph` with ``source == -1``.
    """
    pts = [s for s in strokes] + [np.array([[cx - rx, cy - ry], [cx + rx, cy + ry]]) for cx, cy, rx, ry in dots]
    allp = np.vstack(pts)
    pad = pen + 2.0
    x0 = np.floor(allp[:, 0].min() - pad)
    y0 = np.floor(allp[:, 1].min() - pad)
    w = int(np.ceil(allp[:, 0].max() + pad - x0))
    h = int(np.ceil(allp[:, 1].max() + pad - y0))
    canvas = np.zeros((h * _SS, w * _SS), np.uint8)
    shift = 4  # cv2 fractional bits
    scale = _SS * (1 << shift)
    thick = max(1, int(round(pen * _SS)))
    for s in strokes:
        p = np.round((s - [x0, y0]) * scale).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(canvas, [p], False, 255, thick, cv2.LINE_AA, shift)
    for cx, cy, rx, ry in dots:
        centre = (int(round((cx - x0) * scale)), int(round((cy - y0) * scale)))
        axes = (max(1, int(round(rx * scale))), max(1, int(round(ry * scale))))
        cv2.ellipse(canvas, centre, axes, 0, 0, 360, 255, -1, cv2.LINE_AA, shift)
    small = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    # Strengthen the core so that the stroke centre reaches full ink like MNIST's.
    small = np.clip(small * 1.25, 0.0, 1.0)
    small[small < 0.04] = 0.0
    ink, r0, _ = crop_ink(small)
    return Glyph(char=char, ink=ink, top=int(y0) + r0, source=-1)
