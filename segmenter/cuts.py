"""Candidate cuts of an ink mask (docs/paper.md Sec. V): deliberately more cuts than characters.

A cut is a top-to-bottom *path* through the working ink mask, anchored at a column ``x``: on every
row ``y`` it separates column ``paths[k, y] - 1`` from ``paths[k, y]``. Candidate anchors come from
the paper's heuristics, each switchable in :class:`SegmenterConfig`:

- ``gap``: the middle of every run of empty columns between ink.
- ``component``: between two neighbouring connected components whose column extents overlap
  (slanted but separate characters); placed where the fewest pixels of either land on the wrong side.
- ``projection``: local minima of the smoothed vertical projection profile (ink pixels per column)
  at most ``projection_max_rel`` of the profile's maximum.
- ``contour``: local minima of the smoothed distance between the upper and lower contours (last
  minus first ink row of each column) at most ``contour_max_rel`` of the character height.
- ``path`` (our addition, for touching characters): inside connected components wider than
  ``dense_wide_rel * char_height``, the best slanted lines by ``(severed connections + score_eps)
  / min(ink left, ink right)``, at most ``dense_per_char`` per character height of component width
  (:func:`path_cuts`).

Every candidate is a path (our refinement of the paper's vertical cuts; see README): the straight
line through its anchor at one of ``cut_slopes`` (dx/dy) that severs the fewest 4-connections
between ink pixels; with ``cut_band_rel > 0`` the path may bend within a band around that line
(dynamic programming over rows, small costs per sideways step and per pixel of straying). A column
proposed by the paper's heuristics takes its cheapest slope; wide components may get several
slopes at one anchor.

A path gives every row one boundary column, so it cannot separate a dot tucked under a
neighbour's stroke, nor follow the valley between touching characters when a stroke of one reaches
under the other; :mod:`segmenter.splits` adds *component cuts* and *split cuts* defined by ink
connectivity for those cases (:func:`segmenter.segment` merges all kinds).

Candidates may cross each other: crossing cuts are alternatives that never appear in the same
segmentation (:mod:`segmenter.pieces`). Near-duplicates (cuts moving fewer than
``max(min_piece_px, min_piece_rel * char_height**2)`` ink pixels from one side to the other) are
merged there, once the ownership of the ink is known, keeping the cheapest path. The first and
last cuts are straight vertical lines at the left and right ends of the ink.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from segmenter.config import SegmenterConfig

#: Kinds of cut, strongest first (the order breaks ties in a merge).
CUT_KINDS = ("end", "gap", "component", "projection", "contour", "path", "split", "valley")


@dataclass
class Cuts:
    """Cuts in working coordinates.

    Attributes:
        x: int64 ``(K,)`` anchor columns (the ends: the first ink column, one past the last).
        kind: int64 ``(K,)`` index into :data:`CUT_KINDS`.
        paths: int64 ``(K, H)``: a pixel ``(y, x)`` lies geometrically right of cut ``k`` iff
            ``x >= paths[k, y]``.
        cost: float64 ``(K,)`` ink connections severed by each path (plus step/stray costs).

    :func:`find_cuts` returns the ends first (left, right) then the candidates;
    :class:`segmenter.Segmentation` holds them in topological order (node ``k`` = cut ``k``).
    """

    x: np.ndarray
    kind: np.ndarray
    paths: np.ndarray
    cost: np.ndarray

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def subset(self, keep: np.ndarray) -> "Cuts":
        """The cuts selected by an index or bool array."""
        return Cuts(self.x[keep], self.kind[keep], self.paths[keep], self.cost[keep])

    def concat(self, other: "Cuts") -> "Cuts":
        """These cuts followed by ``other``'s."""
        return Cuts(x=np.concatenate([self.x, other.x]), kind=np.concatenate([self.kind, other.kind]),
                    paths=np.concatenate([self.paths, other.paths]),
                    cost=np.concatenate([self.cost, other.cost]))

    @staticmethod
    def empty(height: int) -> "Cuts":
        """No cuts (a field without ink)."""
        return Cuts(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, height), np.int64),
                    np.zeros(0))


def _smooth(profile: np.ndarray, width: int) -> np.ndarray:
    p = profile.astype(np.float64)
    if width <= 1:
        return p
    padded = np.pad(p, (width // 2, width - 1 - width // 2), mode="edge")
    return np.convolve(padded, np.ones(width) / width, "valid")


def local_minima(values: np.ndarray, lo: int, hi: int) -> list[int]:
    """Columns ``lo < x < hi - 1`` where ``values`` has a local minimum (middle of a flat valley)."""
    out = []
    x = lo + 1
    while x < hi - 1:
        if values[x] < values[x - 1]:
            end = x
            while end + 1 < hi and values[end + 1] == values[x]:
                end += 1
            if end + 1 < hi and values[end + 1] > values[x]:
                out.append((x + end) // 2)
            x = end + 1
        else:
            x += 1
    return out


def gap_cuts(profile: np.ndarray, lo: int, hi: int) -> list[int]:
    """Middles of the runs of empty columns strictly inside ``[lo, hi)``."""
    out = []
    x = lo
    while x < hi:
        if profile[x] == 0:
            end = x
            while end < hi and profile[end] == 0:
                end += 1
            out.append((x + end) // 2)
            x = end
        else:
            x += 1
    return out


def component_cuts(ink: np.ndarray) -> list[int]:
    """Anchors between horizontally overlapping neighbouring components (see module docstring)."""
    n, labels, stats, cents = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    ids = sorted(range(1, n), key=lambda i: cents[i, 0])
    out = []
    for a, b in zip(ids, ids[1:]):
        a_l = stats[a, cv2.CC_STAT_LEFT]
        a_r = a_l + stats[a, cv2.CC_STAT_WIDTH]
        b_l = stats[b, cv2.CC_STAT_LEFT]
        b_r = b_l + stats[b, cv2.CC_STAT_WIDTH]
        if a_r <= b_l or b_l <= a_l or b_r <= a_r:
            continue  # a column gap (found by gap_cuts), or nested extents
        lo, hi = b_l, a_r
        cols_a = (labels[:, lo:hi] == a).sum(axis=0)
        cols_b = (labels[:, lo:hi] == b).sum(axis=0)
        # anchor at lo + k: pixels of a at or right of it, plus pixels of b left of it
        a_right = np.concatenate([np.cumsum(cols_a[::-1])[::-1], [0]])
        b_left = np.concatenate([[0], np.cumsum(cols_b)])
        out.append(lo + int(np.argmin(a_right + b_left)))
    return out


def trace_paths(ink: np.ndarray, anchors: np.ndarray, *, band: int, slopes: tuple[float, ...],
                lo: int, hi: int, step_cost: float = 0.05, stray_cost: float = 0.02, fast_lines: bool = True
                ) -> tuple[np.ndarray, np.ndarray]:
    """Cheapest top-to-bottom cut path near the line of every anchor and slope.

    The path for anchor ``x`` and slope ``s`` stays within ``band`` pixels of the straight line
    ``x(y) = x + s (y - y_mid)`` (``band = 0``: the line itself) and severs the fewest 4-connections
    between ink pixels, plus ``step_cost`` per sideways step and ``stray_cost`` per row and pixel
    away from the line (dynamic programming over rows, vectorised over all anchors and slopes).

    Args:
        ink: bool ``(H, W)``.
        anchors: int64 ``(K,)`` anchor columns.
        band: how far (pixels) a path may stray from its line.
        slopes: ``S`` line slopes ``dx/dy`` (image ``y`` grows downwards, so a negative slope leans
            right like most handwriting).
        lo, hi: paths stay within ``[lo, hi]``.
        step_cost, stray_cost: see above.
        fast_lines: with ``band = 0`` every path is its line and only its cost is summed, by
            :func:`_line_costs` (the same numbers, several times faster); False runs the general
            programme (the reference the tests hold it to).

    Returns:
        ``(paths, cost)``: int64 ``(K, S, H)`` boundary column on every row; float64 ``(K, S)``.
    """
    h, w = ink.shape
    k, ns = anchors.shape[0], len(slopes)
    if k == 0:
        return np.zeros((0, ns, h), np.int64), np.zeros((0, ns))
    ym = (h - 1) / 2.0
    line = (anchors.astype(np.float64)[:, None, None]
            + np.asarray(slopes, np.float64)[None, :, None] * (np.arange(h) - ym)[None, None, :])
    base = (np.rint(line).astype(np.int64) - band).reshape(k * ns, h)  # (M, H) leftmost state column
    m = k * ns
    nw = 2 * band + 1
    offs = np.arange(nw)
    pad = np.zeros((h, w + 2), bool)
    pad[:, 1: w + 1] = ink  # pad[:, c + 1] == ink[:, c]
    link = np.zeros((h, w + 3), np.float64)
    link[:, 1: w + 2] = pad[:, :-1] & pad[:, 1:]  # link[:, c + 1]: columns c - 1 and c joined
    vert = np.zeros((h, w + 4), np.float64)
    vert[1:, 2: w + 2] = ink[:-1] & ink[1:]  # vert[y, c + 2]: (y - 1, c) joined to (y, c)
    big = 1e9
    if band == 0 and fast_lines:  # one state per path: no choice to make, only the cost to add up
        cost = _line_costs(base, link, vert, lo=lo, hi=hi, step_cost=step_cost, big=big)
        return np.clip(base, lo, hi).reshape(k, ns, h), cost.reshape(k, ns)
    stray = stray_cost * np.abs(offs - band)[None, :]  # (1, Wb)

    def row_cost(y: int) -> tuple[np.ndarray, np.ndarray]:
        col = base[:, y][:, None] + offs[None, :]  # (M, Wb)
        ok = (col >= lo) & (col <= hi)
        c = np.clip(col, -1, w + 1)
        return np.where(ok, link[y][c + 1] + stray, big), c

    total, _ = row_cost(0)
    back = np.zeros((h, m, nw), np.int8)
    rows = np.arange(m)[:, None]
    for y in range(1, h):
        cost_y, col = row_cost(y)
        shift = (base[:, y] - base[:, y - 1])[:, None]  # state j now = state j + shift before
        padded = np.full((m, nw + 6), big)
        padded[:, 3: 3 + nw] = total
        j = offs[None, :] + shift + 3
        stay = padded[rows, j]
        from_left = padded[rows, j - 1] + step_cost + vert[y][np.clip(col - 1, -2, w + 1) + 2]
        from_right = padded[rows, j + 1] + step_cost + vert[y][np.clip(col, -2, w + 1) + 2]
        stacked = np.stack([stay, from_left, from_right])
        choice = np.argmin(stacked, axis=0)
        back[y] = choice
        total = np.take_along_axis(stacked, choice[None], axis=0)[0] + cost_y
    p = np.argmin(total, axis=1)
    cost = total[np.arange(m), p]
    paths = np.zeros((m, h), np.int64)
    every = np.arange(m)
    for y in range(h - 1, -1, -1):
        paths[:, y] = base[:, y] + p
        if y > 0:
            c = back[y, every, p]
            p = p + (base[:, y] - base[:, y - 1]) - (c == 1) + (c == 2)
            p = np.clip(p, 0, nw - 1)  # only reached through invalid (infinite-cost) states
    return np.clip(paths, lo, hi).reshape(k, ns, h), cost.reshape(k, ns)


def _line_costs(base: np.ndarray, link: np.ndarray, vert: np.ndarray, *, lo: int, hi: int, step_cost: float,
                big: float) -> np.ndarray:
    """:func:`trace_paths`' dynamic programme for ``band = 0``: float64 ``(M,)`` costs of the ``M``
    paths ``base (M, H)`` (each path is its line). The same sums in the same order as the general
    programme, with every row's lookups done for all rows at once."""
    m, h = base.shape
    w = link.shape[1] - 3
    rows = np.arange(h)[None, :]
    col = np.clip(base, -1, w + 1)  # (M, H)
    # row costs and the vertical links a sideways step severs, rows first: (H, M)
    cost = np.where((base >= lo) & (base <= hi), link[rows, col + 1] + 0.0, big).T.copy()
    cut_left = vert[rows, np.clip(col - 1, -2, w + 1) + 2].T.copy()
    cut_right = vert[rows, np.clip(col, -2, w + 1) + 2].T.copy()
    shift = np.diff(base, axis=1).T  # (H - 1, M)
    stay, right, left = shift == 0, shift == 1, shift == -1
    total = cost[0]
    for y in range(1, h):
        from_left = np.where(right[y - 1], total, big) + step_cost + cut_left[y]
        from_right = np.where(left[y - 1], total, big) + step_cost + cut_right[y]
        total = np.minimum(np.minimum(np.where(stay[y - 1], total, big), from_left), from_right) + cost[y]
    return total


def side_masses(ink: np.ndarray, anchors: np.ndarray, paths: np.ndarray, reach: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Ink pixels left and right of each path within ``reach`` columns of its anchor.

    Args:
        ink: bool ``(H, W)``; anchors: int ``(M,)``; paths: int ``(M, H)``.

    Returns:
        ``(left, right)``: int64 ``(M,)`` each.
    """
    h, w = ink.shape
    cum = np.zeros((h, w + 1), np.int64)
    np.cumsum(ink, axis=1, out=cum[:, 1:])
    rows = np.arange(h)[None, :]
    a = np.clip(anchors - reach, 0, w)[:, None]
    b = np.clip(anchors + reach, 0, w)[:, None]
    p = np.clip(paths, a, b)
    left = (cum[rows, p] - cum[rows, a]).sum(axis=1)
    right = (cum[rows, b] - cum[rows, p]).sum(axis=1)
    return left, right


def path_cuts(ink: np.ndarray, anchors: np.ndarray, paths: np.ndarray, cost: np.ndarray,
              char_height: float, config: SegmenterConfig) -> list[int]:
    """Cheap slanted cuts inside wide connected components (see module docstring).

    Inside every 8-connected component wider than ``dense_wide_rel * char_height`` (usually
    touching characters), for every slope separately, the anchors whose path cost is the lowest
    within ``+-dense_step_rel * char_height / 2`` columns are eligible, provided the path severs
    at most ``path_max_rel * char_height`` connections and leaves at least ``min_side_rel *
    char_height**2`` ink pixels on each side within one character height (so it is no mere
    shaving of a character's edge). The cheapest ``ceil(dense_per_char * width / char_height)``
    of them become candidates (near-identical anchor/slope pairs counted once).

    Args:
        ink: bool ``(H, W)``; anchors: ``(K,)`` every column ``lo .. hi``; paths ``(K, S, H)``;
            cost ``(K, S)`` from :func:`trace_paths`.

    Returns:
        flat candidate indices ``anchor_index * S + slope_index``.
    """
    cfg = config
    k, ns, h = paths.shape
    n, _, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    wide = [i for i in range(1, n) if stats[i, cv2.CC_STAT_WIDTH] > cfg.cuts.dense_wide_rel * char_height]
    if not wide:
        return []
    flat_paths = paths.reshape(k * ns, h)
    left, right = side_masses(ink, np.repeat(anchors, ns), flat_paths, int(round(char_height)))
    ok = ((np.minimum(left, right) >= cfg.cuts.min_side_rel * char_height ** 2).reshape(k, ns)
          & (cost <= cfg.cuts.path_max_rel * char_height))
    balance = np.maximum(np.minimum(left, right), 1).reshape(k, ns)
    score = np.where(ok, (cost + cfg.cuts.score_eps) / balance, np.inf)
    if cfg.cuts.dense_step_rel > 0:
        r = max(1, int(round(cfg.cuts.dense_step_rel * char_height / 2)))
        padded = np.pad(score, ((r, r), (0, 0)), constant_values=np.inf)
        window_min = np.min(np.stack([padded[d: d + k] for d in range(2 * r + 1)]), axis=0)
        hit = np.isfinite(score) & (score <= window_min)
    else:
        hit = np.isfinite(score)
    out: list[int] = []
    for i in wide:
        c0 = stats[i, cv2.CC_STAT_LEFT]
        width = stats[i, cv2.CC_STAT_WIDTH]
        inside = (anchors > c0) & (anchors < c0 + width)
        ai, si = np.nonzero(hit & inside[:, None])
        budget = int(np.ceil(cfg.cuts.dense_per_char * width / char_height))
        chosen: list[tuple[int, int]] = []
        for t in np.argsort(score[ai, si], kind="stable"):
            a, sl = int(ai[t]), int(si[t])
            if any(abs(a - b) <= 1 and abs(sl - c) <= 1 for b, c in chosen):
                continue
            chosen.append((a, sl))
            if len(chosen) >= budget:
                break
        out += [a * ns + sl for a, sl in chosen]
    return out


def find_cuts(ink: np.ndarray, char_height: float, config: SegmenterConfig | None = None) -> Cuts:
    """All candidate cuts of a bool ink mask ``(H, W)`` (see module docstring).

    Returns:
        :class:`Cuts`, unordered: entry 0 is the left end, entry 1 the right end, then one entry per
        distinct candidate path (empty when the mask holds no ink). Near-duplicates are removed
        later, once the ink ownership of each cut is known (:func:`segmenter.pieces.select_cuts`).
    """
    cfg = config or SegmenterConfig()
    h = ink.shape[0]
    cols = ink.sum(axis=0)
    nz = np.flatnonzero(cols)
    if nz.size == 0:
        return Cuts.empty(h)
    lo, hi = int(nz[0]), int(nz[-1]) + 1
    ch = max(char_height, 1.0)
    band = int(round(cfg.cuts.cut_band_rel * ch))
    slopes = tuple(cfg.cuts.cut_slopes)
    ns = len(slopes)
    # the cheapest path of every anchor column and slope: one vectorised dynamic programme
    every = np.arange(lo, hi + 1)
    all_paths, all_cost = trace_paths(ink, every, band=band, slopes=slopes, lo=lo, hi=hi,
                                      step_cost=cfg.cuts.step_cost, stray_cost=cfg.cuts.stray_cost)
    # the heuristics propose columns; each gets its cheapest slope (ties: the most upright)
    upright = np.argsort(np.argsort(np.abs(np.asarray(slopes)), kind="stable"))
    best_slope = np.argmin(np.round(all_cost, 3) + 1e-4 * upright[None, :], axis=1)
    columns: list[tuple[int, int]] = []
    if cfg.cuts.cut_gaps:
        columns += [(x, 1) for x in gap_cuts(cols, lo, hi)]
    if cfg.cuts.cut_component_gaps:
        columns += [(x, 2) for x in component_cuts(ink)]
    if cfg.cuts.cut_projection:
        prof = _smooth(cols, cfg.cuts.smooth_px)
        limit = cfg.cuts.projection_max_rel * prof.max()
        columns += [(x, 3) for x in local_minima(prof, lo, hi) if prof[x] <= limit]
    if cfg.cuts.cut_contour:
        has = cols > 0
        top = np.where(has, ink.argmax(axis=0), 0)
        bottom = np.where(has, h - 1 - ink[::-1].argmax(axis=0), -1)
        dist = _smooth(np.where(has, bottom - top + 1, 0), cfg.cuts.smooth_px)
        limit = cfg.cuts.contour_max_rel * ch
        columns += [(x, 4) for x in local_minima(dist, lo, hi) if dist[x] <= limit]
    found = [((x - lo) * ns + int(best_slope[x - lo]), kind) for x, kind in columns if lo < x < hi]
    if cfg.cuts.cut_paths:
        found += [(i, 5) for i in path_cuts(ink, every, all_paths, all_cost, ch, cfg)]
    ends = np.stack([np.full(h, lo, np.int64), np.full(h, hi, np.int64)])
    best: dict[int, int] = {}
    for i, kind in found:
        best[int(i)] = min(kind, best.get(int(i), kind))
    idx = np.asarray(sorted(best), np.int64)
    flat_paths = all_paths.reshape(-1, h)
    flat_cost = all_cost.reshape(-1)
    return Cuts(x=np.concatenate([[lo, hi], every[idx // ns]]).astype(np.int64),
                kind=np.concatenate([[0, 0], [best[i] for i in idx]]).astype(np.int64),
                paths=np.concatenate([ends, flat_paths[idx]]).astype(np.int64),
                cost=np.concatenate([[0.0, 0.0], flat_cost[idx]]))
