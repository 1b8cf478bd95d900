"""The pieces of a segmentation graph's arcs, computed for all arcs of a field at once.

:func:`segmenter.graph.build_graph` needs, for every arc, its ink's bounding box, a row of
geometric features and the piece's image. :func:`arc_geometry` computes the boxes and features of
all ``E`` arcs in a few whole-array passes over the ``(E, P)`` arc/pixel mask (grouped reductions
instead of one ``np.unique`` per piece), and :func:`piece_crops` cuts every piece's image out of
maps made once per field. The results are exactly those of the per-piece reference functions
:func:`segmenter.graph.piece_crop`, :func:`segmenter.graph.column_gap` and
:func:`segmenter.graph.has_low_dot` (tests/segmenter/test_arcs.py holds them equal on real and
synthetic fields); this module only removes the per-piece Python and numpy call overhead, which
was a third of a segmentation's time.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from segmenter.config import SegmenterConfig
from segmenter.preprocess import Preprocessed


@dataclass
class ArcPixels:
    """The ink pixels of ``E`` arcs, grouped by arc (``N`` = total pixels over all arcs).

    Attributes:
        py, px: int64 ``(N,)`` rows and columns (working coordinates), arc 0's pixels first.
        comp: int64 ``(N,)`` 8-connected component label of each pixel.
        arc: int64 ``(N,)`` the arc each pixel belongs to (non-decreasing).
        starts: int64 ``(E + 1,)``: arc ``e``'s pixels are ``[starts[e], starts[e + 1])``.
    """

    py: np.ndarray
    px: np.ndarray
    comp: np.ndarray
    arc: np.ndarray
    starts: np.ndarray

    @classmethod
    def from_masks(cls, masks: np.ndarray, ys: np.ndarray, xs: np.ndarray, comp: np.ndarray) -> "ArcPixels":
        """bool ``(E, P)`` arc masks over the ink pixels ``ys, xs, comp (P,)``.

        Raises:
            ValueError: an arc without ink (every arc of a segmentation graph holds some).
        """
        counts = masks.sum(axis=1)
        if counts.size and int(counts.min()) == 0:
            raise ValueError(f"[segmenter.arcs] arc {int(np.argmin(counts))} of {counts.size} holds no ink")
        arc, pix = np.nonzero(masks)  # row-major: grouped by arc
        starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return cls(py=ys[pix], px=xs[pix], comp=comp[pix], arc=arc.astype(np.int64), starts=starts)

    @property
    def num_arcs(self) -> int:
        """``E``."""
        return int(self.starts.size - 1)


def _grouped(op: np.ufunc, values: np.ndarray, pixels: ArcPixels) -> np.ndarray:
    """``op`` reduced over each arc's pixels: ``(N,) -> (E,)`` (every arc is non-empty)."""
    return op.reduceat(values, pixels.starts[:-1]) if pixels.num_arcs else values[:0]


def column_gaps(pixels: ArcPixels, width: int) -> np.ndarray:
    """int64 ``(E,)``: per arc, the widest run of empty columns strictly inside its ink's columns
    (0 if none); ``width`` bounds the columns. Equals :func:`segmenter.graph.column_gap` per arc."""
    e = pixels.num_arcs
    occupied = np.zeros((e, width), bool)
    occupied[pixels.arc, pixels.px] = True
    arc, col = np.nonzero(occupied)  # sorted by arc, then column
    gaps = np.zeros(e, np.int64)
    same = arc[1:] == arc[:-1]
    np.maximum.at(gaps, arc[1:][same], np.diff(col)[same] - 1)
    return gaps


def low_dots(pixels: ArcPixels, char_height: float, *, max_area_rel: float, max_height_rel: float = 0.4
             ) -> np.ndarray:
    """bool ``(E,)``: whether each arc's piece holds a dot low beside a larger component; the rule of
    :func:`segmenter.graph.has_low_dot`, for all arcs at once over their ``(arc, component)`` groups."""
    e = pixels.num_arcs
    if e == 0:
        return np.zeros(0, bool)
    c = int(pixels.comp.max()) + 1
    key = pixels.arc * c + pixels.comp  # (N,) one group per (arc, component)
    count = np.bincount(key, minlength=e * c).reshape(e, c)
    row_sum = np.bincount(key, weights=pixels.py.astype(np.float64), minlength=e * c).reshape(e, c)
    big = np.iinfo(np.int64).max
    top = np.full(e * c, big, np.int64)
    bottom = np.full(e * c, -1, np.int64)
    np.minimum.at(top, key, pixels.py)
    np.maximum.at(bottom, key, pixels.py)
    top, bottom = top.reshape(e, c), bottom.reshape(e, c)
    main = np.argmax(count, axis=1)  # (E,) largest component; ties: the lowest label, as np.unique
    rows = np.arange(e)
    low = top[rows, main] + 0.6 * (bottom[rows, main] - top[rows, main])  # (E,)
    present = count > 0
    present[rows, main] = False
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = row_sum / count  # (E, C); NaN where absent
    small = ~(count > max_area_rel * char_height * char_height)
    flat = bottom - top + 1 <= max_height_rel * char_height
    return (present & small & flat & (mean >= low[:, None])).any(axis=1)


def arc_geometry(pixels: ArcPixels, prep: Preprocessed, merged: np.ndarray, char_height: float,
                 config: SegmenterConfig, *, band_top: float) -> tuple[np.ndarray, np.ndarray]:
    """Boxes and features of every arc (the columns of ``segmenter.graph.FEATURE_NAMES``).

    Args:
        pixels: the arcs' ink (:class:`ArcPixels`).
        prep: the preprocessed field (its row ``shift`` maps working to input columns).
        merged: int ``(E,)`` elementary pieces merged into each arc.
        char_height: the character height used for relative lengths (at least 1).
        config: the segmenter configuration (``graph.dot_area_rel``).
        band_top: the top row of the field's ink (``top`` and ``bottom`` are relative to it).

    Returns:
        ``(boxes, features)``: int64 ``(E, 4)`` ink boxes ``(x0, y0, x1, y1)`` in input image
        coordinates (exclusive ends), float32 ``(E, 8)`` features.
    """
    ch = float(char_height)
    x0, x1 = _grouped(np.minimum, pixels.px, pixels), _grouped(np.maximum, pixels.px, pixels) + 1
    y0, y1 = _grouped(np.minimum, pixels.py, pixels), _grouped(np.maximum, pixels.py, pixels) + 1
    qx = pixels.px - prep.shift[pixels.py]  # input image columns
    boxes = np.stack([_grouped(np.minimum, qx, pixels), y0, _grouped(np.maximum, qx, pixels) + 1, y1], axis=1)
    width = int(pixels.px.max()) + 1 if pixels.px.size else 1
    feats = np.stack([(x1 - x0) / ch, (y1 - y0) / ch, (y0 - band_top) / ch, (y1 - band_top) / ch,
                      np.asarray(merged, np.float64), np.diff(pixels.starts) / (ch * ch),
                      column_gaps(pixels, width) / ch,
                      low_dots(pixels, ch, max_area_rel=config.graph.dot_area_rel).astype(np.float64)], axis=1)
    return boxes.astype(np.int64).reshape(-1, 4), feats.astype(np.float32).reshape(-1, 8)


def piece_crops(pixels: ArcPixels, prep: Preprocessed, config: SegmenterConfig) -> list[np.ndarray]:
    """The image of every arc's piece: as :func:`segmenter.graph.piece_crop` per arc (bool crops of
    the ink's box, or float32 grey crops one pixel larger with the piece's fringe), with the
    field-wide maps (capped fringe darkness, ink darkness) computed once."""
    e = pixels.num_arcs
    bounds = [(int(a), int(b)) for a, b in zip(pixels.starts[:-1], pixels.starts[1:])]
    y0s = _grouped(np.minimum, pixels.py, pixels).tolist()
    x0s = _grouped(np.minimum, pixels.px, pixels).tolist()
    y1s = (_grouped(np.maximum, pixels.py, pixels) + 1).tolist()
    x1s = (_grouped(np.maximum, pixels.px, pixels) + 1).tolist()
    out: list[np.ndarray] = []
    if not config.pieces.grey_pieces or prep.darkness is None:
        for k in range(e):
            a, b = bounds[k]
            crop = np.zeros((y1s[k] - y0s[k], x1s[k] - x0s[k]), bool)
            crop[pixels.py[a:b] - y0s[k], pixels.px[a:b] - x0s[k]] = True
            out.append(crop)
        return out
    dark = prep.darkness
    fringe_level = np.minimum(dark, config.pieces.fringe_max)  # what a fringe pixel shows
    ink_level = np.maximum(dark, 0.5)  # what an ink pixel shows
    off_ink = ~prep.ink
    kernel = np.ones((3, 3), np.uint8)
    h, w = prep.ink.shape
    for k in range(e):
        a, b = bounds[k]
        py, px = pixels.py[a:b], pixels.px[a:b]
        ya, xa = max(y0s[k] - 1, 0), max(x0s[k] - 1, 0)
        yb, xb = min(y1s[k] + 1, h), min(x1s[k] + 1, w)
        own = np.zeros((yb - ya, xb - xa), np.uint8)
        iy, ix = py - ya, px - xa
        own[iy, ix] = 1
        fringe = cv2.dilate(own, kernel).view(bool) & off_ink[ya:yb, xa:xb]
        crop = np.where(fringe, fringe_level[ya:yb, xa:xb], 0.0).astype(np.float32)
        crop[iy, ix] = ink_level[py, px]
        out.append(crop)
    return out


__all__ = ["ArcPixels", "arc_geometry", "column_gaps", "low_dots", "piece_crops"]
