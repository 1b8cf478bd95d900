"""Paper backgrounds for synthetic fields: white, light texture, a guide line, a cheque form.

Each background is a float32 grey-level image ``(H, W)`` in [0, 255] (255 = white paper) on which
the generator lays dark ink. Kinds (:data:`BACKGROUNDS`):

* ``white``: plain 255.
* ``texture``: light paper, grey 232-252 with blotchy low-frequency variation (Gaussian-blurred
  noise, +-6 grey levels) and a fine grain (+-2).
* ``lined``: light paper (as ``texture`` but fainter) with a printed horizontal guide line 1-4 px
  (natural scale) under the baseline, grey 100-170, as on forms.
* ``form``: a cheque's courtesy-amount box: a tinted security pattern (faint diagonal hatching),
  a printed frame near the field's border and the guide line.
* ``guilloche``: security paper (:mod:`data.guilloche`): light paper (grey 228-252, blotches
  +-5, grain +-2) under 1-3 families of thin wavy lines (peaks of 35-80 grey levels), and
  with p = 0.5 a printed rule along an edge or under the baseline.
"""

from __future__ import annotations

import cv2
import numpy as np

from data.guilloche import draw_ruling, guilloche_darkness

#: The background kinds.
BACKGROUNDS = ("white", "texture", "lined", "form", "guilloche")


def make_background(kind: str, shape: tuple[int, int], rng: np.random.Generator, *,
                    baseline: float, scale: float = 1.0) -> np.ndarray:
    """Draw a background.

    Args:
        kind: one of :data:`BACKGROUNDS`.
        shape: ``(H, W)`` of the field.
        rng: the random generator.
        baseline: row of the writing baseline in this image (where a guide line goes below).
        scale: output pixels per natural (MNIST) pixel, to size lines and texture.

    Returns:
        float32 ``(H, W)`` grey levels in [0, 255].

    Raises:
        ValueError: unknown ``kind``.
    """
    h, w = shape
    if kind == "white":
        return np.full((h, w), 255.0, np.float32)
    if kind == "texture":
        return _paper(shape, rng, scale=scale, level=rng.uniform(232, 252), blotch=6.0, grain=2.0)
    if kind == "lined":
        bg = _paper(shape, rng, scale=scale, level=rng.uniform(240, 254), blotch=3.0, grain=1.5)
        _guide_line(bg, rng, baseline=baseline, scale=scale)
        return bg
    if kind == "form":
        bg = _paper(shape, rng, scale=scale, level=rng.uniform(228, 248), blotch=4.0, grain=1.5)
        _hatch(bg, rng, scale=scale)
        _frame(bg, rng, scale=scale)
        _guide_line(bg, rng, baseline=baseline, scale=scale)
        return bg
    if kind == "guilloche":
        bg = _paper(shape, rng, scale=scale, level=rng.uniform(228, 252), blotch=5.0, grain=2.0)
        bg -= guilloche_darkness(shape, rng, scale=scale)
        draw_ruling(bg, rng, baseline=baseline, scale=scale, probability=0.5)
        return np.clip(bg, 0.0, 255.0)
    raise ValueError(f"[data.backgrounds.make_background] unknown background {kind!r}; choose from {BACKGROUNDS}")


def _paper(shape, rng, *, scale: float, level: float, blotch: float, grain: float) -> np.ndarray:
    h, w = shape
    # Low-frequency blotches: coarse noise upsampled smoothly.
    cell = max(2.0, 8.0 * scale)
    ch, cw = max(2, int(np.ceil(h / cell)) + 1), max(2, int(np.ceil(w / cell)) + 1)
    coarse = rng.normal(0.0, 1.0, (ch, cw)).astype(np.float32)
    low = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    low *= blotch / max(1e-6, float(np.abs(low).max()))
    fine = rng.normal(0.0, grain, (h, w)).astype(np.float32)
    return np.clip(level + low + fine, 0.0, 255.0).astype(np.float32)


def _guide_line(bg: np.ndarray, rng, *, baseline: float, scale: float) -> None:
    h, w = bg.shape
    row = int(round(baseline + rng.uniform(1.0, 4.0) * scale))
    thick = max(1, int(round(rng.uniform(0.7, 1.6) * scale)))
    grey = rng.uniform(100, 170)
    r0, r1 = min(max(row, 0), h - 1), min(max(row + thick, 1), h)
    bg[r0:r1, :] = np.minimum(bg[r0:r1, :], grey)


def _hatch(bg: np.ndarray, rng, *, scale: float) -> None:
    h, w = bg.shape
    period = max(3.0, rng.uniform(4.0, 7.0) * scale)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    direction = 1.0 if rng.random() < 0.5 else -1.0
    phase = (xx + direction * yy) / period
    stripes = 0.5 + 0.5 * np.cos(2 * np.pi * phase)
    bg -= rng.uniform(4.0, 12.0) * stripes


def _frame(bg: np.ndarray, rng, *, scale: float) -> None:
    h, w = bg.shape
    grey = rng.uniform(90, 160)
    thick = max(1, int(round(rng.uniform(0.7, 1.4) * scale)))
    inset = int(round(rng.uniform(0.0, 1.5) * scale))
    t, b = inset, h - 1 - inset
    l, r = inset, w - 1 - inset
    for side in ("top", "bottom", "left", "right"):
        if rng.random() < 0.8:  # printed frames are often partly open
            if side == "top":
                bg[t: t + thick, l: r + 1] = np.minimum(bg[t: t + thick, l: r + 1], grey)
            elif side == "bottom":
                bg[b - thick + 1: b + 1, l: r + 1] = np.minimum(bg[b - thick + 1: b + 1, l: r + 1], grey)
            elif side == "left":
                bg[t: b + 1, l: l + thick] = np.minimum(bg[t: b + 1, l: l + thick], grey)
            else:
                bg[t: b + 1, r - thick + 1: r + 1] = np.minimum(bg[t: b + 1, r - thick + 1: r + 1], grey)
