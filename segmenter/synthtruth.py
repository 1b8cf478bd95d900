"""Synthetic fields (``data.synth``) together with their character maps.

``data.SynthField`` gives each character's box, but boxes of touching or overlapping characters
overlap, so they cannot say which *pixel* belongs to which character. :func:`render_with_char_map`
draws a field exactly as :func:`data.synth.render` does (same glyph draws, distortions, layout and
painter) and also paints every glyph alone on the same geometry, so each ink pixel gets the index
of the character contributing most ink to it (:mod:`segmenter.truth`'s *character map*).

The glyph placement geometry of ``data.synth._paint`` is mirrored here; :func:`check_char_map`
verifies that the map covers the rendered ink, so a change in ``data.synth`` fails loudly.
"""

from __future__ import annotations

import cv2
import numpy as np

from data.glyphs import BODY, PUNCTUATION, draw_punctuation
from data.synth import LINE_PAD, DigitPool, SynthConfig, SynthField, _paint, distort, field_rng, layout
from data.texts import sample_text

#: Ink level (0..1) above which a glyph pixel is attributed to its character.
MAP_THRESHOLD = 0.02


def render_with_char_map(text: str, pool: DigitPool, rng: np.random.Generator,
                         config: SynthConfig | None = None) -> tuple[SynthField, np.ndarray]:
    """Render ``text`` like :func:`data.synth.render` and return its character map.

    Returns:
        ``(field, char_map)``: char_map int64 ``(H, W)``, character index ``0 .. len(text) - 1``
        (left to right) where that character has the most ink, -1 where no character has ink.
    """
    config = (config or SynthConfig()).validate()
    if not text:
        raise ValueError("[segmenter.render_with_char_map] empty text")
    glyphs = []
    for ch in text:
        if ch.isdigit() and ch.isascii():
            g = pool.glyph(int(ch), rng)
        elif ch in PUNCTUATION:
            g = draw_punctuation(ch, rng)
        else:
            raise ValueError(f"[segmenter.render_with_char_map] cannot draw {ch!r} in {text!r}")
        g = distort(g, rng, config)
        if config.jitter > 0:
            g.top += int(round(rng.uniform(-config.jitter, config.jitter)))
        glyphs.append(g)
    xs = layout(glyphs, rng, config)
    field = _paint(text, glyphs, xs, pool.split, rng, config)
    return field, _char_map(glyphs, xs, config, field.image.shape)


def _char_map(glyphs, xs, config: SynthConfig, shape: tuple[int, int]) -> np.ndarray:
    m = config.margin
    ink_top = min(g.top for g in glyphs)
    ink_bot = max(g.top + g.ink.shape[0] for g in glyphs)
    x_end = max(x + g.ink.shape[1] for x, g in zip(xs, glyphs))
    if config.height is None:
        y_lo, y_hi = ink_top - m, ink_bot + m
    else:
        y_lo, y_hi = min(-BODY - LINE_PAD, ink_top - 1), max(LINE_PAD, ink_bot + 1)
    hn, wn = y_hi - y_lo, x_end + 2 * m
    out_h, out_w = shape
    layers = np.zeros((len(glyphs), out_h, out_w), np.float32)
    for k, (x, g) in enumerate(zip(xs, glyphs)):
        canvas = np.zeros((hn, wn), np.float32)
        h, w = g.ink.shape
        r, c = g.top - y_lo, x + m
        canvas[r: r + h, c: c + w] = g.ink
        if (hn, wn) != (out_h, out_w):
            interp = cv2.INTER_AREA if out_h < hn else cv2.INTER_LINEAR
            canvas = cv2.resize(canvas, (out_w, out_h), interpolation=interp)
        layers[k] = canvas
    best = layers.max(axis=0)
    return np.where(best > MAP_THRESHOLD, layers.argmax(axis=0), -1).astype(np.int64)


def synth_with_char_maps(kind: str, count: int, *, split: str, seed: int,
                         config: SynthConfig | None = None, pool: DigitPool | None = None,
                         start: int = 0) -> list[tuple[SynthField, np.ndarray]]:
    """``count`` fields of ``kind`` (``digits``, ``zip``, ``amount``) with character maps.

    Field ``i`` uses ``data.synth.field_rng(seed, i)`` and the same text draw as
    :func:`data.synth.synthesize_one`.
    """
    config = (config or SynthConfig()).validate()
    if pool is None:
        pool = DigitPool.load(split)
    elif pool.split != split:
        raise ValueError(f"[segmenter.synth_with_char_maps] asked for split {split!r}, pool holds {pool.split!r}")
    out = []
    for i in range(start, start + count):
        rng = field_rng(seed, i)
        text = sample_text(kind, rng, min_len=config.min_len, max_len=config.max_len,
                           zip_plus4=config.zip_plus4)
        out.append(render_with_char_map(text, pool, rng, config))
    return out


def check_char_map(field: SynthField, char_map: np.ndarray, *, ink_level: float = 128.0) -> float:
    """Fraction of clearly dark pixels (grey below ``ink_level``) that the map attributes to a
    character; about 1.0 on white paper (guide lines and frames of other backgrounds are not
    characters)."""
    dark = field.image < ink_level
    if not dark.any():
        return 1.0
    return float((char_map[dark] >= 0).mean())
