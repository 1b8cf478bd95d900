"""Horizontal layout of a field's glyphs on the writing line: the ink-gap rule of :mod:`data.synth`.

The new glyph is placed so that, over every row where it has ink, the number of blank columns
between its leftmost ink and the rightmost ink already written in that row and its two neighbours
is at least the drawn gap ``g``, with equality somewhere (8-connectivity); next to punctuation the
gap is at least -1, and characters always stay ordered (see the :mod:`data.synth` docstring).
"""

from __future__ import annotations

import numpy as np

from data.glyphs import BODY, INK_THRESHOLD, PUNCTUATION, Glyph


def _profiles(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows with ink (> 0.5, else > 0) and the first/last ink column in each."""
    mask = ink > INK_THRESHOLD
    if not mask.any():
        mask = ink > 0
    rows = np.flatnonzero(mask.any(axis=1))
    m = mask[rows]
    left = m.argmax(axis=1)
    right = m.shape[1] - 1 - m[:, ::-1].argmax(axis=1)
    return rows, left, right


def layout(glyphs: list[Glyph], rng: np.random.Generator, config) -> list[int]:
    """Horizontal positions (left column of each glyph's ink, natural pixels) following the spacing rules.

    Args:
        glyphs: the glyphs in writing order, ``top`` relative to the baseline.
        rng: the random generator (one gap drawn per glyph after the first).
        config: a :class:`data.synth.SynthConfig` (its ``spacing_range()``).

    Raises:
        ValueError: a glyph too tall for the line.
    """
    lo, hi = config.spacing_range()
    offset = 4 * BODY  # row index of the baseline in the profile array
    right_edge = np.full(8 * BODY, -np.inf)
    xs: list[int] = []
    for k, g in enumerate(glyphs):
        rows, left, right = _profiles(g.ink)
        rows = rows + g.top + offset
        if not (1 <= rows.min() and rows.max() < right_edge.size - 1):
            raise ValueError(f"[data.synth.layout] glyph {g.char!r} too tall for the line ({g.ink.shape})")
        if k == 0:
            x = 0
        else:
            gap = int(rng.integers(lo, hi + 1))
            prev = glyphs[k - 1]
            if g.char in PUNCTUATION or prev.char in PUNCTUATION:
                gap = max(gap, -1)
            # Rightmost ink already written in each row and its two neighbours (8-connectivity).
            near = np.maximum(np.maximum(right_edge[rows - 1], right_edge[rows]), right_edge[rows + 1])
            seen = np.isfinite(near)
            if seen.any():
                x = int(gap + 1 + np.max(near[seen] - left[seen]))
            else:
                x = int(gap + 1 + right_edge[np.isfinite(right_edge)].max())
            px, pw = xs[-1], prev.ink.shape[1]
            x = max(x, px + max(1, int(np.ceil(0.35 * pw))), px + pw + 1 - g.ink.shape[1])
        xs.append(x)
        right_edge[rows] = np.maximum(right_edge[rows], x + right)
    return xs
