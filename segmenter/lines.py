"""Printed straight lines in a binary ink mask: ruling, frame sides, scanner border strips.

A printed line is told from handwriting by its *geometry*, not by its length alone: it is long,
straight (its centre follows a straight line within about a pixel), nearly axis-parallel, and of
constant width. :func:`find_lines` measures these properties for every long run of ink along one
axis; :func:`segmenter.preprocess.remove_printed_lines` decides which runs are printed (long
relative to the field, straight, thin or touching the border) and :func:`erase_line` removes only the
line's own band, keeping the strokes that cross it. A pen stroke that merely touches a line thus
loses at most the pixels it shares with the line's band, where the previous morphological removal
took the stroke's whole neighbourhood (issue 16: tall leading ``1``s and ``7``s were erased).

All functions work on horizontal lines; vertical ones are found on the transposed mask
(``axis=1``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Line:
    """One long straight run of ink (coordinates of the mask it was found in, untransposed).

    Attributes:
        axis: 0 for a horizontal line (runs along x), 1 for a vertical one (runs along y).
        start, stop: extent along the line, ``[start, stop)`` (columns for ``axis=0``, rows for 1).
        centre: float64 ``(stop - start,)``: the line's perpendicular centre at every position
            along it (row for ``axis=0``, column for 1), smoothed.
        width: median perpendicular thickness in pixels.
        slope: perpendicular drift per pixel along the line (least-squares fit of ``centre``).
        wobble: RMS distance of the raw centres from that straight fit, in pixels.
    """

    axis: int
    start: int
    stop: int
    centre: np.ndarray
    width: float
    slope: float
    wobble: float

    @property
    def length(self) -> int:
        """Extent along the line in pixels."""
        return self.stop - self.start

    @property
    def low(self) -> float:
        """Smallest perpendicular coordinate covered by the line's band (top row / left column)."""
        return float(self.centre.min() - self.width / 2.0)

    @property
    def high(self) -> float:
        """Largest perpendicular coordinate covered by the line's band (bottom row / right column)."""
        return float(self.centre.max() + self.width / 2.0)


def find_lines(ink: np.ndarray, *, min_length: int, axis: int = 0) -> list[Line]:
    """Every run of ink at least ``min_length`` long along ``axis``, with its geometry.

    The mask is dilated by one pixel across the line (so a slightly tilted, stair-stepped line still
    has long runs; breaks along it are not bridged, which would join the bases of neighbouring
    ``2``s into a line); a morphological opening with a ``1 x min_length`` kernel keeps the long
    runs. Each connected run becomes a :class:`Line` measured on the *original* ink inside it.

    Args:
        ink: bool ``(H, W)``.
        min_length: shortest run (pixels) reported.
        axis: 0 for horizontal lines, 1 for vertical ones.

    Returns:
        The lines, in no particular order.

    Raises:
        ValueError: ``axis`` not 0 or 1, ``min_length < 2``, or ``ink`` not 2-D.
    """
    if axis not in (0, 1):
        raise ValueError(f"[segmenter.lines.find_lines] axis must be 0 or 1, got {axis!r}")
    if min_length < 2:
        raise ValueError(f"[segmenter.lines.find_lines] min_length must be >= 2, got {min_length}")
    mask = np.asarray(ink, bool)
    if mask.ndim != 2:
        raise ValueError(f"[segmenter.lines.find_lines] expected an (H, W) mask, got shape {mask.shape}")
    if axis == 1:
        mask = mask.T
    h, w = mask.shape
    if min_length > w or not mask.any():
        return []
    u8 = mask.astype(np.uint8)
    grown = cv2.dilate(u8, np.ones((3, 1), np.uint8))
    band = cv2.morphologyEx(grown, cv2.MORPH_OPEN, np.ones((1, min_length), np.uint8))
    if not band.any():
        return []
    n, labels, stats, _ = cv2.connectedComponentsWithStats(band, connectivity=8)
    rows = np.arange(h, dtype=np.float64)[:, None]  # (H, 1)
    lines = []
    for k in range(1, n):
        x0, y0 = stats[k, cv2.CC_STAT_LEFT], stats[k, cv2.CC_STAT_TOP]
        bw, bh = stats[k, cv2.CC_STAT_WIDTH], stats[k, cv2.CC_STAT_HEIGHT]
        if bw < min_length:
            continue
        run = (labels[y0:y0 + bh, x0:x0 + bw] == k) & mask[y0:y0 + bh, x0:x0 + bw]  # (bh, bw)
        line = _measure(run, rows[y0:y0 + bh], x0, axis)
        if line is not None:
            lines.append(line)
    return lines


def _measure(run: np.ndarray, rows: np.ndarray, x0: int, axis: int) -> Line | None:
    """Geometry of one run: bool ``(h, w)`` crop of the line's ink, ``rows`` ``(h, 1)`` its image
    rows, ``x0`` its first column. None when the run holds no ink."""
    count = run.sum(axis=0).astype(np.float64)  # (w,)
    has = count > 0
    if has.sum() < 2:
        return None
    centre = np.zeros(run.shape[1])
    centre[has] = (run * rows).sum(axis=0)[has] / count[has]
    xs = np.arange(run.shape[1], dtype=np.float64)
    centre = np.interp(xs, xs[has], centre[has])  # fill the breaks
    slope, icpt = np.polyfit(xs, centre, 1)
    wobble = float(np.sqrt(np.mean((centre - (slope * xs + icpt)) ** 2)))
    k = min(15, run.shape[1] | 1)
    smooth = _running_median(centre, k)
    return Line(axis=axis, start=int(x0), stop=int(x0 + run.shape[1]), centre=smooth,
                width=float(np.median(count[has])), slope=float(slope), wobble=wobble)


def _running_median(v: np.ndarray, k: int) -> np.ndarray:
    """Running median of a float ``(n,)`` vector over an odd window ``k`` (edges replicated)."""
    if k <= 1 or v.size < 3:
        return v.copy()
    half = k // 2
    padded = np.pad(v, half, mode="edge")
    win = np.lib.stride_tricks.sliding_window_view(padded, k)  # (n, k)
    return np.median(win, axis=1)


def erase_line(ink: np.ndarray, line: Line, *, fringe: float = 1.0, dark: np.ndarray | None = None,
               protect: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """Remove a line's band from the ink, keeping the strokes that cross it.

    At every position along the line, the ink within ``width / 2 + fringe`` of the line's centre is
    removed, unless ink lies on *both* sides of the band within two pixels of it (a stroke crossing
    the line, which would otherwise be cut in two); where ink lies on one side only (a stroke ending
    on the line or running along it, as a ``0`` sitting on a ruling line), only the line's core
    (``width / 2``) is removed. Given the pixels' darkness, a pixel more than ``protect`` darker
    than the line's median is pen ink over a pale printed line (or paper texture) and stays.

    Args:
        ink: bool ``(H, W)``.
        line: a :class:`Line` found in a mask of the same shape.
        fringe: extra pixels removed on each side of the band (anti-aliased edges).
        dark: optional float ``(H, W)`` darkness in [0, 1] against the paper, ``1 - grey / paper``.
        protect: see above.

    Returns:
        ``(cleaned ink, removed pixels)``, both bool ``(H, W)``.
    """
    mask = np.asarray(ink, bool)
    work = mask.T if line.axis == 1 else mask
    h = work.shape[0]
    xs = np.arange(line.start, line.stop)
    rr = np.arange(h)[:, None]  # (H, 1)
    col = work[:, xs]  # (H, n)

    def band(pad: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        half = line.width / 2.0 + pad
        top = np.floor(line.centre - half + 0.5).astype(np.int64)  # (n,)
        bot = np.ceil(line.centre + half - 0.5).astype(np.int64)
        inside = (rr >= top[None, :]) & (rr <= bot[None, :])  # (H, n)
        above = (col & (rr >= top[None, :] - 2) & (rr < top[None, :])).any(axis=0)  # (n,)
        below = (col & (rr > bot[None, :]) & (rr <= bot[None, :] + 2)).any(axis=0)
        return inside, above, below

    wide, above, below = band(fringe)
    core, _, _ = band(0.0)
    crossing = above & below
    touching = above ^ below  # a stroke ending on (or running along) the line: keep its side's fringe
    gone_cols = col & np.where(touching[None, :], core, wide) & ~crossing[None, :]
    if dark is not None:
        d = (dark.T if line.axis == 1 else dark)[:, xs]  # (H, n)
        gone_cols &= d <= float(np.median(d[core])) + protect  # the line's own darkness, read along it
    removed = np.zeros_like(work)
    removed[:, xs] = gone_cols
    cleaned = work & ~removed
    if line.axis == 1:
        return cleaned.T.copy(), removed.T.copy()
    return cleaned, removed


__all__ = ["Line", "erase_line", "find_lines"]
