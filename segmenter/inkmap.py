"""A grey-level ink map of a real field with everything but the writer's ink removed.

The SDNN (docs/paper.md Sec. VII) reads grey levels, not a binary mask, and normalises the field's
height by the rows holding its ink mass (:func:`data.sdnn_samples.normalize_field_ink`): anything
left in the map that is not writing (a frame, a ruling line, a dark scanner border, the texture of
security paper, a tinted box printed on the cheque) moves the body rows and shrinks the digits.
:func:`clean_ink_levels` computes the levels of :func:`data.sdnn_samples.ink_map` on the
paper-flattened image (the very same levels on white paper, so synthetic training fields and real
fields are read alike), and keeps them only around the ink of the cleaned mask of
:func:`segmenter.preprocess.preprocess` (so every stroke it keeps keeps its anti-aliased edges).
"""

from __future__ import annotations

import cv2
import numpy as np

from data.sdnn_samples import ink_map
from segmenter.config import SegmenterConfig
from segmenter.preprocess import background, clean_field, odd_size


def clean_ink_levels(image, config: SegmenterConfig | None = None, *, reach: int = 2,
                     paper_rel: float = 0.5) -> np.ndarray:
    """Ink map of a field without printed lines, borders, margins or paper texture.

    Steps: :func:`segmenter.preprocess.clean_field` (the cleaning of
    :func:`segmenter.preprocess.preprocess`) gives the cleaned ink mask, the removed lines
    and the window holding the writing; inside that window the grey level is divided by the paper
    level (:func:`segmenter.preprocess.background`, a grey closing), so a tinted box or uneven light
    reads as white paper, and :func:`data.sdnn_samples.ink_map` (the SDNN's own levels, identical
    on white paper) maps it to ink in [0, 1]; finally only the levels within ``reach`` pixels of the
    cleaned ink or of the dark pixels it missed inside the writing are kept (a stroke's anti-aliased
    edge and the middle of a blob wider than the binarisation's paper estimate, not the paper's
    texture nor a dark border strip), minus the removed lines and their one-pixel fringe.

    Args:
        image: field ``(H, W)`` (any type :func:`segmenter.preprocess.to_grey` accepts).
        config: preprocessing options (``grey_pieces`` and ``deslant`` are ignored).
        reach: how far (pixels, chessboard distance) grey levels are kept around the cleaned ink.
        paper_rel: side of the paper estimate's closing, relative to the window's height (wider
            than any blob of ink, or the blob's middle reads as paper).

    Returns:
        float32 ``(H, W)`` in [0, 1]; all zero when the field holds no ink.

    Raises:
        ValueError: negative ``reach``, non-positive ``paper_rel``, or a malformed image.
    """
    if reach < 0 or paper_rel <= 0:
        raise ValueError(f"[segmenter.clean_ink_levels] reach={reach} must be >= 0 and "
                         f"paper_rel={paper_rel} > 0")
    full_grey, full_ink, full_removed, box = clean_field(image, config or SegmenterConfig())
    out = np.zeros(full_grey.shape, np.float32)
    if not full_ink.any():
        return out
    y0, y1, x0, x1 = box
    grey = full_grey[y0:y1, x0:x1]
    ink = full_ink[y0:y1, x0:x1]
    removed = full_removed[y0:y1, x0:x1]
    bg = background(grey, kernel=odd_size(max(grey.shape[0], 8) * paper_rel))
    flat = np.clip(np.rint(255.0 * grey / np.maximum(bg, 1.0)), 0, 255).astype(np.uint8)  # (h, w)
    levels = ink_map(flat)
    side = 2 * reach + 1
    support = ink | _inner_blobs(ink, levels >= 0.5)
    near = cv2.dilate(support.astype(np.uint8), np.ones((side, side), np.uint8)).astype(bool)
    fringe = cv2.dilate(removed.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & ~ink
    out[y0:y1, x0:x1] = np.where(near & ~fringe, levels, 0.0)
    return out


def _inner_blobs(ink: np.ndarray, dark: np.ndarray) -> np.ndarray:
    """Dark pixels the mask missed inside the writing: the 8-connected components of ``dark &
    ~ink`` (bool ``(H, W)`` each) that touch the ink and not the window's border (the middle of a
    blob wider than the binarisation's paper estimate, but not a dark scanner border strip)."""
    cand = dark & ~ink
    n, labels = cv2.connectedComponents(cand.astype(np.uint8), connectivity=8)
    if n <= 1:
        return cand
    touch = np.zeros(n, bool)
    grown = cv2.dilate(ink.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    touch[labels[grown & cand]] = True
    edge = np.zeros(n, bool)
    edge[np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])] = True
    keep = touch & ~edge
    keep[0] = False
    return keep[labels]


__all__ = ["clean_ink_levels"]
