"""Synthetic fields (``data.synth``) together with their character maps.

``data.SynthField`` gives each character's box, but boxes of touching or overlapping characters
overlap, so they cannot say which *pixel* belongs to which character. :func:`render_with_char_map`
draws a field exactly as :func:`data.synth.render` does (same glyph draws, distortions, layout and
painter) and also paints every glyph alone on the same geometry, so each ink pixel gets the index
of the character contributing most ink to it (:mod:`segmenter.truth`'s *character map*).

The glyph placement geometry of ``data.synth.paint`` is mirrored here; :func:`check_char_map`
verifies that the map covers the rendered ink, so a change in ``data.synth`` fails loudly.
"""

from __future__ import annotations

import cv2
import numpy as np

from data.backgrounds import make_background
from data.glyphs import BODY
from data.synth import LINE_PAD, DigitPool, SynthConfig, SynthField, distort, field_rng, glyph_of, layout, line_box, paint
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
    field, char_map, _, _ = render_with_layers(text, pool, rng, config)
    return field, char_map


def render_with_layers(text: str, pool: DigitPool, rng: np.random.Generator,
                       config: SynthConfig | None = None
                       ) -> tuple[SynthField, np.ndarray, np.ndarray, float]:
    """Like :func:`render_with_char_map`, plus each character's ink map and the baseline row.

    Returns:
        ``(field, char_map, layers, baseline)``: layers float32 ``(C, H, W)`` in [0, 1] (ink
        coverage of each character alone, on the field's geometry); baseline: the writing line's
        row in the image (where ``data.backgrounds`` draws a guide line below it).
    """
    config = (config or SynthConfig()).validate()
    if not text:
        raise ValueError("[segmenter.render_with_char_map] empty text")
    glyphs = []
    for ch in text:
        g = distort(glyph_of(ch, text, pool, rng, where="segmenter.render_with_char_map"), rng, config)
        if config.jitter > 0:
            g.top += int(round(rng.uniform(-config.jitter, config.jitter)))
        glyphs.append(g)
    xs = layout(glyphs, rng, config)
    field = paint(text, glyphs, xs, pool.split, rng, config)
    layers, baseline = _layers(glyphs, xs, config, field.image.shape)
    return field, _char_map(layers), layers, baseline


def _char_map(layers: np.ndarray) -> np.ndarray:
    best = layers.max(axis=0)
    return np.where(best > MAP_THRESHOLD, layers.argmax(axis=0), -1).astype(np.int64)


def _layers(glyphs, xs, config: SynthConfig, shape: tuple[int, int]) -> tuple[np.ndarray, float]:
    m = config.margin
    y_lo, y_hi, wn = line_box(glyphs, xs, config)
    hn = y_hi - y_lo
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
    return layers, (0 - y_lo) * out_h / hn


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


#: Paper/ink conditions of :func:`render_condition` (binarisation and line-removal measurements).
CONDITIONS = ("white", "texture", "lined", "form", "faint", "uneven")


def render_condition(text: str, pool: DigitPool, rng: np.random.Generator, condition: str, *,
                     config: SynthConfig | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A field of ``text`` on paper ``condition``, with its clean ink mask and character map.

    The characters are laid out by ``data.synth`` (``config``; its background and ink settings are
    ignored), then composited as ``paper * (1 - a) + ink * a`` with ``a`` the ink coverage times a
    strength map:

    - ``white``, ``texture``, ``lined``, ``form``: :func:`data.backgrounds.make_background` paper,
      ink grey 0-40, full strength;
    - ``faint``: texture paper, ink grey 120-150 (a pale pen);
    - ``uneven``: texture paper under a lighting gradient (down to 75% brightness), ink strength
      varying smoothly from 100% to 40% along the field (a drying pen).

    Returns:
        ``(image, ink_mask, char_map, paper)``: uint8 ``(H, W)``; bool ``(H, W)`` = coverage > 0.5
        (the ground-truth ink, guide lines excluded); int64 ``(H, W)``; float ``(H, W)`` the paper
        alone (printed lines and patterns included).
    """

    if condition not in CONDITIONS:
        raise ValueError(f"[segmenter.render_condition] unknown condition {condition!r}; "
                         f"choose from {CONDITIONS}")
    base = config or SynthConfig()
    cfg = SynthConfig(**{**base.__dict__, "background": "white", "ink": (0.0, 0.0), "noise": 0.0})
    field, char_map, layers, baseline = render_with_layers(text, pool, rng, cfg)
    cover = np.clip(layers.max(axis=0), 0.0, 1.0)
    h, w = cover.shape
    scale = h / (BODY + 2 * LINE_PAD) if cfg.height is not None else 1.0
    kind = condition if condition in ("white", "texture", "lined", "form") else "texture"
    paper = make_background(kind, (h, w), rng, baseline=baseline, scale=scale).astype(np.float64)
    strength = np.ones((h, w))
    ink_grey = float(rng.uniform(0.0, 40.0))
    if condition == "faint":
        ink_grey = float(rng.uniform(120.0, 150.0))
    elif condition == "uneven":
        xs = np.linspace(0.0, 1.0, w)[None, :]
        ys = np.linspace(0.0, 1.0, h)[:, None]
        flip = rng.random() < 0.5
        ramp = xs[:, ::-1] if flip else xs
        paper *= 1.0 - 0.25 * (0.7 * ramp + 0.3 * ys)
        strength = np.broadcast_to(1.0 - 0.6 * (ramp[:, ::-1] if not flip else ramp), (h, w))
    a = cover * strength
    image = np.clip(np.rint(paper * (1.0 - a) + ink_grey * a), 0, 255).astype(np.uint8)
    return image, cover > 0.5, char_map, paper
