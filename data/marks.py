"""End marks: what writers put after a cheque amount so that nothing can be appended to it.

They are drawn, like the punctuation of :mod:`data.glyphs`, as a few jittered pen strokes
rasterised anti-aliased at 4x, on the natural (MNIST) scale: a digit body is 20 px tall, the
baseline is at y = 0 and y grows downwards. An end mark is *not* a character of the field's text:
the generator draws it after the last character and leaves it out of ``text`` (a recogniser must
learn it as 'none'); :attr:`data.synth.SynthField.end_mark` names the mark drawn.

Marks (:data:`END_MARKS`), each one glyph:

* ``-``: a dash 6-16 px long, anywhere from mid-body down to just above the baseline;
* ``=``: two roughly parallel dashes 3-5 px apart in the lower half of the body;
* ``/=``: a short slash (0.5-0.9 body) followed by ``=``;
* ``/-``: a short slash followed by a dash;
* ``.-``: a dot on the baseline followed by a dash;
* ``~``: a flourish, a long wavy stroke (16-40 px) leaving the baseline, sometimes with a loop.
"""

from __future__ import annotations

import numpy as np

from data.glyphs import BODY, Glyph, rasterise

#: The end marks :func:`draw_end_mark` can draw (``~`` is a flourish).
END_MARKS = ("-", "=", "/=", "/-", ".-", "~")
#: Default odds of each mark in :func:`sample_end_mark` (same order as :data:`END_MARKS`).
END_MARK_WEIGHTS = (0.22, 0.16, 0.2, 0.08, 0.2, 0.14)


def sample_end_mark(rng: np.random.Generator) -> str:
    """One of :data:`END_MARKS`, drawn with :data:`END_MARK_WEIGHTS`."""
    w = np.asarray(END_MARK_WEIGHTS, dtype=np.float64)
    return END_MARKS[int(rng.choice(len(END_MARKS), p=w / w.sum()))]


def draw_end_mark(mark: str, rng: np.random.Generator) -> Glyph:
    """Draw an end mark with random pen width, size, position and jitter (module docstring).

    Args:
        mark: one of :data:`END_MARKS`.
        rng: the random generator (the only source of randomness).

    Returns:
        a :class:`data.glyphs.Glyph` with ``char == mark`` and ``source == -1``.

    Raises:
        ValueError: ``mark`` is not in :data:`END_MARKS`.
    """
    if mark not in END_MARKS:
        raise ValueError(f"[data.marks.draw_end_mark] unknown end mark {mark!r}; choose from {END_MARKS}")
    pen = float(rng.uniform(1.8, 3.0))
    strokes: list[np.ndarray] = []
    dots: list[tuple] = []
    x = 0.0
    if mark.startswith("/"):
        slash, x = _slash(rng, x)
        strokes.append(slash)
        x += rng.uniform(1.0, 4.0)
    elif mark.startswith("."):
        r = pen * rng.uniform(0.5, 0.8)
        dots.append((x + r, -r + rng.uniform(-0.5, 0.5), r, r))
        x += 2 * r + rng.uniform(2.0, 5.0)
    if mark.endswith("="):
        strokes += _equals(rng, x)
    elif mark.endswith("-"):
        strokes.append(_dash(rng, x, low=mark != "-" or rng.random() < 0.5))
    elif mark == "~":
        strokes.append(_flourish(rng))
    strokes = [s + rng.normal(0.0, 0.3, s.shape) for s in strokes]
    return rasterise(mark, strokes, dots, pen)


def _line(x0: float, y0: float, length: float, sag: float, tilt_deg: float) -> np.ndarray:
    t = np.linspace(0.0, 1.0, 7)
    k = np.tan(np.deg2rad(tilt_deg))
    return np.stack([x0 + t * length, y0 - k * t * length + sag * 4 * t * (1 - t)], axis=1)


def _dash(rng, x0: float, *, low: bool) -> np.ndarray:
    y = -rng.uniform(2.5, 7.0) if low else -rng.uniform(6.0, 11.0)
    return _line(x0, y, rng.uniform(6.0, 16.0), rng.uniform(-1.0, 1.0), rng.uniform(-10.0, 12.0))


def _equals(rng, x0: float) -> list[np.ndarray]:
    y = -rng.uniform(4.0, 9.0)
    gap = rng.uniform(3.0, 5.0)
    length = rng.uniform(6.0, 13.0)
    tilt = rng.uniform(-8.0, 10.0)
    upper = _line(x0 + rng.uniform(-1.0, 1.0), y - gap, length * rng.uniform(0.8, 1.1), rng.uniform(-0.8, 0.8), tilt)
    lower = _line(x0, y, length, rng.uniform(-0.8, 0.8), tilt + rng.uniform(-4.0, 4.0))
    return [upper, lower]


def _slash(rng, x0: float) -> tuple[np.ndarray, float]:
    h = BODY * rng.uniform(0.5, 0.9)
    w = rng.uniform(4.0, 9.0)
    below = rng.uniform(0.0, 2.0)
    t = np.linspace(0.0, 1.0, 6)
    pts = np.stack([x0 + t * w + rng.uniform(-0.6, 0.6) * 4 * t * (1 - t), below - t * (h + below)], axis=1)
    return pts, x0 + w


def _flourish(rng) -> np.ndarray:
    """A wavy stroke rightwards from near the baseline: a few bumps, sometimes a loop."""
    length = rng.uniform(16.0, 40.0)
    n = int(rng.integers(2, 5))
    t = np.linspace(0.0, 1.0, 12 * n)
    amp = rng.uniform(1.5, 4.5)
    rise = rng.uniform(-10.0, 2.0)
    x = t * length
    y = -rng.uniform(0.0, 5.0) + rise * t - amp * np.sin(2 * np.pi * n * t / 2 + rng.uniform(0, np.pi))
    pts = np.stack([x, y], axis=1)
    if rng.random() < 0.35:  # a small loop at the end
        r = rng.uniform(2.5, 4.5)
        a = np.linspace(0.0, 2 * np.pi, 16)
        cx, cy = pts[-1, 0], pts[-1, 1] - r
        loop = np.stack([cx + r * np.sin(a), cy + r * np.cos(a)], axis=1)
        pts = np.vstack([pts, loop, pts[-1:] + [rng.uniform(2.0, 6.0), rng.uniform(-1.0, 1.0)]])
    return pts
