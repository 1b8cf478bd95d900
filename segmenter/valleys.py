"""Valley cuts: the straight line from a valley of a component's upper contour to a peak of its
lower contour (the classic "upper-lower contour" cut for touching characters).

Two handwritten characters that touch along a stretch of stroke (chained cursive ``0``s sharing a
side, a ``9`` whose tail runs along the next digit) leave a V in the upper contour of their
joint component where their tops meet, and an inverted V in its lower contour where their
bottoms meet. The shared stroke between the two is the true boundary. The column heuristics of
:mod:`segmenter.cuts` find such a column, but give it the *cheapest* slope, which runs through
the characters' loops (few ink connections) rather than along the shared stroke (one connection
per row), and the dense path cuts spend their budget on the loops for the same reason. A valley
cut joins the two contour points instead, whatever it costs.

For every 8-connected component wider than ``dense_wide_rel * char_height``: ``top[x]`` is its
first ink row in column ``x``, ``bottom[x]`` its last. An *upper valley* is a local maximum of
``top`` (the contour dips down) at least ``valley_depth_rel * char_height`` below the highest
point of the contour within ``valley_window_rel * char_height`` columns on *each* side; a *lower
peak* is the same for ``bottom`` upside down. Each valley is paired with the nearest peak below it
(and each peak with the nearest valley above it) when the line joining them leans at most
``valley_max_slope`` columns per row; a valley without such a peak is joined to the highest point
of the lower contour near it (:func:`valley_lines`). The cut is that straight line, extended over
every row (vertical through both points when the contours meet, a thin junction).
"""

from __future__ import annotations

import cv2
import numpy as np

from segmenter.config import SegmenterConfig
from segmenter.cuts import CUT_KINDS, Cuts, local_minima


def contour_dips(profile: np.ndarray, *, window: int, min_depth: float) -> np.ndarray:
    """Columns where ``profile`` has a local maximum standing at least ``min_depth`` above the
    lowest value within ``window`` columns on each side (the middle of a flat top).

    Args:
        profile: float ``(W,)``; columns holding ``nan`` (no ink) are never chosen and never
            count as low points.
        window: half-width (columns) of the comparison on either side, at least 1.
        min_depth: how far the maximum must exceed both sides' minima.

    Returns:
        int64 ``(D,)`` columns, increasing.
    """
    p = np.asarray(profile, np.float64)
    w = p.shape[0]
    window = max(1, int(window))
    filled = np.where(np.isnan(p), -np.inf, p)  # an empty column is never a maximum
    cand = local_minima(-filled, 0, w)  # interior local maxima (plateau middles)
    lows = np.where(np.isnan(p), np.inf, p)
    out = []
    for x in cand:
        if not np.isfinite(filled[x]):
            continue
        left = lows[max(0, x - window): x]
        right = lows[x + 1: x + 1 + window]
        if left.size == 0 or right.size == 0:
            continue
        depth = filled[x] - max(left.min(), right.min())
        if depth >= min_depth:
            out.append(x)
    return np.asarray(out, np.int64)


def _partner(x: int, dips: list[tuple[int, int]], profile: np.ndarray, y: int, *, below: bool, reach: int,
             max_slope: float) -> tuple[int, int] | None:
    """The contour point a dip at ``(x, y)`` is joined to: the nearest dip of the other contour
    (``dips``, ``(x, y)`` each) that the slope allows, else (``reach > 0``) that contour's extreme
    within ``reach`` columns, nearest first: the lowest ``profile`` value, ``profile`` being the
    other contour's rows (``bottom``) below the dip, or their negation (``-top``) above it
    (indexed by column, ``nan`` = no ink); None when there is neither."""
    def allowed(px: int, py: int) -> bool:
        return abs(px - x) <= max_slope * max(py - y if below else y - py, 1)

    fits = [d for d in dips if allowed(*d)]
    if fits:
        return min(fits, key=lambda d: (abs(d[0] - x), d[0]))
    if reach <= 0:
        return None
    lo, hi = max(0, x - reach), min(profile.shape[0], x + reach + 1)
    window = profile[lo:hi]
    if np.isnan(window).all():
        return None
    best = np.nanmin(window)
    cols = lo + np.flatnonzero(window == best)
    px = int(cols[np.argmin(np.abs(cols - x))])
    return (px, int(best if below else -best))


def valley_lines(top: np.ndarray, bottom: np.ndarray, *, window: int, min_depth: float, max_slope: float
                 ) -> list[tuple[float, float]]:
    """The cut lines of one component from its contours (module docstring).

    Every upper valley is joined to the nearest lower peak the slope allows, or failing one, to the
    highest point of the lower contour within ``window // 2`` columns (two cursive 0s often share a
    flat bottom); every lower peak is joined to the nearest upper valley the slope allows (a lone
    peak makes no cut: lower contours have more bumps than touching points, measured on real
    cheques: as many fields for fewer arcs).

    Args:
        top, bottom: float ``(W,)`` first and last ink row of every column (``nan``: no ink).
        window, min_depth: see :func:`contour_dips`.
        max_slope: the most a line may lean (columns per row).

    Returns:
        distinct lines ``(a, slope)``, the line being ``x(y) = a + slope * y`` (columns relative to
        the profiles' first column).
    """
    valleys = [(int(x), int(top[x])) for x in contour_dips(top, window=window, min_depth=min_depth)]
    peaks = [(int(x), int(bottom[x])) for x in contour_dips(-bottom, window=window, min_depth=min_depth)]
    reach = max(1, window // 2)
    pairs = set()
    for xt, yt in valleys:
        b = _partner(xt, peaks, bottom, yt, below=True, reach=reach, max_slope=max_slope)
        if b is not None:
            pairs.add(((xt, yt), b))
    for xb, yb in peaks:
        t = _partner(xb, valleys, -top, yb, below=False, reach=0, max_slope=max_slope)
        if t is not None:
            pairs.add((t, (xb, yb)))
    lines = []
    for (xt, yt), (xb, yb) in sorted(pairs):
        if yb > yt:
            slope = float(np.clip((xb - xt) / (yb - yt), -max_slope, max_slope))
            lines.append((xt - slope * yt, slope))
        else:  # the contours meet (a thin junction): a vertical cut through it
            lines.append(((xt + xb) / 2.0, 0.0))
    return lines


def valley_cuts(ink: np.ndarray, char_height: float, config: SegmenterConfig) -> Cuts:
    """Valley cuts of a bool ink mask ``(H, W)`` (module docstring).

    Returns:
        :class:`segmenter.cuts.Cuts` of kind ``"valley"``: ``x`` the column at the middle row,
        ``paths`` int64 ``(K, H)`` the straight lines clipped to the ink's columns, ``cost`` the ink
        connections each severs (horizontally adjacent ink pixels on either side of it).
    """
    cfg = config
    h, w = ink.shape
    ch = max(char_height, 1.0)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    cols = np.flatnonzero(ink.any(axis=0))
    if cols.size == 0:
        return Cuts.empty(h)
    lo, hi = int(cols[0]), int(cols[-1]) + 1
    window = int(round(cfg.cuts.valley_window_rel * ch))
    depth = cfg.cuts.valley_depth_rel * ch
    rows = np.arange(h)
    lines: list[tuple[float, float]] = []
    for c in range(1, n):
        if stats[c, cv2.CC_STAT_WIDTH] <= cfg.cuts.dense_wide_rel * ch:
            continue
        x0 = stats[c, cv2.CC_STAT_LEFT]
        mine = labels[:, x0: x0 + stats[c, cv2.CC_STAT_WIDTH]] == c  # (H, w_c)
        has = mine.any(axis=0)
        top = np.where(has, mine.argmax(axis=0), np.nan)
        bottom = np.where(has, h - 1 - mine[::-1].argmax(axis=0), np.nan)
        lines += [(a + x0, s) for a, s in valley_lines(top, bottom, window=window, min_depth=depth,
                                                             max_slope=cfg.cuts.valley_max_slope)]
    if not lines:
        return Cuts.empty(h)
    paths = np.stack([np.clip(np.rint(a + s * rows), lo, hi) for a, s in lines]).astype(np.int64)  # (K, H)
    paths = np.unique(paths, axis=0)
    padded = np.zeros((h, w + 2), bool)
    padded[:, 1: w + 1] = ink
    # a path at column p severs the link between columns p - 1 and p where both are ink
    cost = (padded[rows[None, :], paths] & padded[rows[None, :], paths + 1]).sum(axis=1).astype(np.float64)
    return Cuts(x=paths[:, h // 2].copy(), kind=np.full(paths.shape[0], CUT_KINDS.index("valley"), np.int64),
                paths=paths, cost=cost)
