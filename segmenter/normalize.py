"""Piece -> LeNet-5 input, the way MNIST was made (docs/paper.md Sec. III-A).

MNIST's recipe: the binary NIST character is scaled (keeping its aspect ratio, with anti-aliasing)
to fit in a 20x20 box, then placed in a 28x28 frame so that its centre of mass is at the frame's
centre; LeNet-5 sees it padded to 32x32 with background -0.1 and ink 1.175
(:func:`data.to_lenet_input`).

One deliberate difference, ``min_rel_height``: a piece much shorter than the field's characters
(a decimal point, a comma, a fragment of a digit) is *not* blown up to 20 pixels; it is scaled as
if it were ``min_rel_height * char_height`` tall, so its smallness stays visible to the recogniser.
Pieces at least that tall are normalised exactly as MNIST digits. ``min_rel_height=0`` (or an
unknown ``char_height``) gives the pure MNIST recipe for every piece.

The translation is rounded to whole pixels and clamped so the scaled piece stays inside the frame
(no ink is ever cut off).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from data.dataset import BACKGROUND, INK
from segmenter.config import SegmenterConfig


def normalize_frame(mask: np.ndarray, *, char_height: float = 0.0,
                    config: SegmenterConfig | None = None) -> np.ndarray:
    """Scale and centre one piece: bool/float ``(h, w)`` ink mask -> uint8 ``(F, F)`` frame, F = 28.

    ``mask`` is cropped to its ink first; 255 = ink, 0 = background (MNIST's polarity). A grey
    mask (values in [0, 1]) is fitted by its *core* (values >= 0.5, the binary character, as NIST's
    binary images were) when ``config.pieces.fit_core``, its fainter fringe scaled along and kept around
    it; otherwise by all of its grey pixels.

    Raises:
        ValueError: if the mask holds no ink.
    """
    cfg = config or SegmenterConfig()
    m = np.asarray(mask, np.float32)
    if m.ndim != 2:
        raise ValueError(f"[segmenter.normalize_frame] expected an (h, w) mask, got shape {m.shape}")
    rows, cols = _extent(m > 0)
    if rows is None:
        raise ValueError("[segmenter.normalize_frame] the piece holds no ink")
    m = m[rows[0]: rows[1] + 1, cols[0]: cols[1] + 1]
    h, w = m.shape
    core_rows, core_cols = _extent(m >= (0.5 if cfg.pieces.fit_core else 1e-6))
    if core_rows is not None:
        core_h = core_rows[1] - core_rows[0] + 1
        core_w = core_cols[1] - core_cols[0] + 1
    else:
        core_h, core_w = h, w
    scale = cfg.pieces.fit_box / max(core_h, core_w)
    if cfg.pieces.min_rel_height > 0 and char_height > 0:
        scale = min(scale, cfg.pieces.fit_box / (cfg.pieces.min_rel_height * char_height))
    limit = cfg.pieces.frame if (core_h, core_w) != (h, w) else cfg.pieces.fit_box
    nh = int(min(limit, max(1, round(h * scale))))
    nw = int(min(limit, max(1, round(w * scale))))
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    small = cv2.resize(m * 255.0, (nw, nh), interpolation=interp)
    np.maximum(small, 0.0, out=small)  # clip to [0, 255]
    np.minimum(small, 255.0, out=small)
    mass = small.sum()
    if mass <= 0:  # a sub-pixel speck vanished in the resampling; keep one full pixel
        small = np.full((nh, nw), 255.0, np.float32)
        mass = small.sum()
    cy = float((small.sum(axis=1) * np.arange(nh)).sum() / mass)
    cx = float((small.sum(axis=0) * np.arange(nw)).sum() / mass)
    f = cfg.pieces.frame
    top = min(max(round(f / 2.0 - 0.5 - cy), 0), f - nh)
    left = min(max(round(f / 2.0 - 0.5 - cx), 0), f - nw)
    frame = np.zeros((f, f), np.uint8)
    frame[top: top + nh, left: left + nw] = np.rint(small).astype(np.uint8)
    return frame


def _extent(mask: np.ndarray) -> tuple:
    """First and last rows and columns of a bool ``(h, w)`` mask's True pixels: ``((r0, r1), (c0, c1))``,
    or ``(None, None)`` when it has none."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None, None
    cols = np.flatnonzero(mask.any(axis=0))
    return (int(rows[0]), int(rows[-1])), (int(cols[0]), int(cols[-1]))


def normalize_pieces(masks: list[np.ndarray], *, char_height: float = 0.0,
                     config: SegmenterConfig | None = None) -> torch.Tensor:
    """Normalise many pieces: list of ``A`` ink masks -> float32 ``(A, 1, 32, 32)``.

    Levels and padding are exactly those of :func:`data.to_lenet_input` (background -0.1, full
    ink 1.175, ``pad`` background pixels on every side), computed in numpy (cheaper than torch for
    a few hundred small frames).
    """
    cfg = config or SegmenterConfig()
    side = cfg.pieces.frame + 2 * cfg.pieces.pad
    out = np.full((len(masks), 1, side, side), BACKGROUND, np.float32)
    if masks:
        frames = np.stack([normalize_frame(m, char_height=char_height, config=cfg) for m in masks])  # (A, F, F)
        inner = slice(cfg.pieces.pad, cfg.pieces.pad + cfg.pieces.frame)
        out[:, 0, inner, inner] = BACKGROUND + (INK - BACKGROUND) * (frames.astype(np.float32) / 255.0)
    return torch.from_numpy(out)
