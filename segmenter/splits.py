"""Cuts defined by ink connectivity rather than by a row-wise path: component cuts and split cuts.

A cut path (:mod:`segmenter.cuts`) gives every row one boundary column, so it cannot separate a dot
tucked under a neighbour's stroke, nor follow the valley between two touching digits when a stroke
of one reaches under the other. These two kinds own ink by connectivity instead.

*Component cuts* (:func:`component_order_cuts`): the connected components ordered by their centre
of mass (column); for every ``i``, the first ``i`` components go left and the rest right.

*Split cuts* (:func:`split_cuts`): inside a connected component wider than
``split_wide_rel * char_height``, for an anchor column ``a`` (every ``split_step_rel *
char_height``), the component's pixels left of ``a - r`` are the left seed and those at or right
of ``a + r`` the right seed (``r = split_reach_rel * char_height``). The fewest pixels of the window
``[a - r, a + r)`` whose removal disconnects the seeds (8-connectivity; a maximum flow with unit
vertex capacities, :func:`scipy.sparse.csgraph.maximum_flow`) are the touching point(s). Window
pixels still connected to the left seed go left, the rest right, each removed pixel to the side
holding more of its 8-neighbours (ties left); the other components are owned as for a vertical cut
path at ``a`` (:func:`segmenter.pieces.cut_sides`). Splits removing more than ``split_max_rel *
char_height`` pixels, or leaving less than ``min_side_rel * char_height**2`` ink on a side within
one character height, are dropped; of the rest, the ``ceil(dense_per_char * width / char_height)``
cheapest per component (removed pixels over side balance, as for path cuts) are kept, identical
splits once.
"""

from __future__ import annotations

import numpy as np

from segmenter.config import SegmenterConfig
from segmenter.cuts import CUT_KINDS, Cuts

_NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))
_BIG = 1 << 20


def min_vertex_split(ys: np.ndarray, xs: np.ndarray, left_seed: np.ndarray, right_seed: np.ndarray
                     ) -> tuple[int, np.ndarray, np.ndarray]:
    """Fewest pixels separating two seed sets of one pixel set (8-connectivity).

    Args:
        ys, xs: int ``(N,)`` pixel coordinates (distinct).
        left_seed, right_seed: bool ``(N,)``, disjoint; seeds are never removed.

    Returns:
        ``(count, left, removed)``: the number of removed pixels (``>= _BIG`` when the seeds touch
        directly); bool ``(N,)`` pixels still connected to the left seed; bool ``(N,)`` the removed
        pixels.
    """
    # imported here: scipy.sparse takes a tenth of a second to import, and a reader that never
    # splits touching ink (the SDNN) should not pay it at start-up
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import breadth_first_order, maximum_flow

    n = ys.size
    y0, x0 = int(ys.min()), int(xs.min())
    grid = np.full((int(ys.max()) - y0 + 3, int(xs.max()) - x0 + 3), -1, np.int64)
    grid[ys - y0 + 1, xs - x0 + 1] = np.arange(n)
    # nodes: 2 i = pixel i "in", 2 i + 1 = pixel i "out", 2 n = source, 2 n + 1 = sink
    src, snk = 2 * n, 2 * n + 1
    free = left_seed | right_seed
    pix = np.arange(n)
    rows, cols, caps = [2 * pix], [2 * pix + 1], [np.where(free, _BIG, 1)]
    for dy, dx in _NEIGHBOURS:
        j = grid[ys - y0 + 1 + dy, xs - x0 + 1 + dx]
        has = j >= 0
        rows.append(2 * pix[has] + 1)
        cols.append(2 * j[has])
        caps.append(np.full(int(has.sum()), _BIG))
    seeds_l, seeds_r = np.flatnonzero(left_seed), np.flatnonzero(right_seed)
    rows += [np.full(seeds_l.size, src), 2 * seeds_r + 1]
    cols += [2 * seeds_l, np.full(seeds_r.size, snk)]
    caps += [np.full(seeds_l.size + seeds_r.size, _BIG)]
    cap = csr_array((np.concatenate(caps).astype(np.int32), (np.concatenate(rows), np.concatenate(cols))),
                    shape=(2 * n + 2, 2 * n + 2))
    cap.sum_duplicates()
    result = maximum_flow(cap, src, snk)
    count = int(result.flow_value)
    residual = csr_array(cap.astype(np.int64) - result.flow.astype(np.int64))
    residual.data = (residual.data > 0).astype(np.int8)
    residual.eliminate_zeros()
    reach = np.zeros(2 * n + 2, bool)
    reach[breadth_first_order(residual, src, directed=True, return_predecessors=False)] = True
    left = reach[1: 2 * n: 2]  # "out" node reachable: the pixel stays connected to the left
    removed = reach[0: 2 * n: 2] & ~left
    return count, left, removed


def _neighbour_votes(ys: np.ndarray, xs: np.ndarray, left: np.ndarray, removed: np.ndarray) -> np.ndarray:
    """bool ``(N,)``: removed pixels with at least as many 8-neighbours left as right."""
    y0, x0 = int(ys.min()), int(xs.min())
    side = np.zeros((int(ys.max()) - y0 + 3, int(xs.max()) - x0 + 3), np.int64)
    side[ys - y0 + 1, xs - x0 + 1] = np.where(removed, 0, np.where(left, 1, -1))
    votes = sum(side[ys - y0 + 1 + dy, xs - x0 + 1 + dx] for dy, dx in _NEIGHBOURS)
    return removed & (votes >= 0)


def _proxy_paths(h: int, ys: np.ndarray, xs: np.ndarray, sides: np.ndarray, anchors: np.ndarray,
                 cap: np.ndarray) -> np.ndarray:
    """Drawing/ordering proxy of connectivity cuts: per row, the first column owned by the right
    side (at most ``cap``), else the anchor. int64 ``(K, H)``."""
    big = np.iinfo(np.int64).max
    out = np.empty((sides.shape[0], h), np.int64)
    for k in range(sides.shape[0]):
        first = np.full(h, big)
        np.minimum.at(first, ys[sides[k]], xs[sides[k]])
        out[k] = np.where(first < big, np.minimum(first, cap[k]), anchors[k])
    return out


def component_order_cuts(ys: np.ndarray, xs: np.ndarray, comp: np.ndarray, h: int) -> tuple[Cuts, np.ndarray]:
    """Component cuts (module docstring): one per gap in the centre-of-mass order.

    Returns:
        ``(cuts, sides)`` as :func:`split_cuts` (kind ``"component"``, cost 0).
    """
    n = int(comp.max()) if comp.size else 0
    if n < 2:
        return Cuts.empty(h), np.zeros((0, ys.size), bool)
    size = np.bincount(comp, minlength=n + 1)[1:]
    cx = np.bincount(comp, weights=xs, minlength=n + 1)[1:] / np.maximum(size, 1)
    rank = np.empty(n, np.int64)
    rank[np.lexsort((np.arange(n), cx))] = np.arange(n)
    pix_rank = rank[comp - 1]
    sides = np.stack([pix_rank >= i for i in range(1, n)])
    order = np.argsort(cx)
    anchors = np.rint((cx[order][:-1] + cx[order][1:]) / 2).astype(np.int64)
    paths = _proxy_paths(h, ys, xs, sides, anchors, np.full(n - 1, np.iinfo(np.int64).max))
    cuts = Cuts(x=anchors, kind=np.full(n - 1, CUT_KINDS.index("component"), np.int64), paths=paths,
                cost=np.zeros(n - 1))
    return cuts, sides


def split_cuts(ys: np.ndarray, xs: np.ndarray, comp: np.ndarray, h: int, base_sides,
               char_height: float, config: SegmenterConfig) -> tuple[Cuts, np.ndarray]:
    """Split cuts of every wide component (module docstring).

    Args:
        ys, xs, comp: the ink pixels of an ``(h, W)`` mask and their 8-connected component labels
            (:func:`segmenter.pieces.ink_pixels`).
        base_sides: callable ``paths (K, H) -> bool (K, P)``, the ownership rule of path cuts.
        char_height: estimated character height (pixels).

    Returns:
        ``(cuts, sides)``: :class:`Cuts` (kind ``"split"``, paths = per row the first column owned
        by the right side, for drawing and ordering; cost = removed pixels) and bool ``(K, P)``.
    """
    cfg = config
    ch = max(char_height, 1.0)
    empty = Cuts.empty(h), np.zeros((0, ys.size), bool)
    if ys.size == 0:
        return empty
    r = max(1, int(round(cfg.cuts.split_reach_rel * ch)))
    step = max(1, int(round(cfg.cuts.split_step_rel * ch)))
    reach = int(round(ch))
    need = cfg.cuts.min_side_rel * ch ** 2
    out_x, out_paths, out_cost, out_sides = [], [], [], []
    for c in range(1, int(comp.max()) + 1):
        mine = comp == c
        cx, cy = xs[mine], ys[mine]
        x0, x1 = int(cx.min()), int(cx.max()) + 1
        width = x1 - x0
        if width <= cfg.cuts.split_wide_rel * ch:
            continue
        found: list[tuple[float, int, np.ndarray, int]] = []
        seen: set[bytes] = set()
        for a in range(x0 + r, x1 - r + 1, step):
            lseed, rseed = cx < a - r, cx >= a + r
            if not (lseed.any() and rseed.any()):
                continue
            # the window plus the seed pixels next to it (seeds further away add nothing)
            near = (~lseed & ~rseed) | (lseed & (cx >= a - r - 1)) | (rseed & (cx < a + r + 1))
            count, left_w, removed_w = min_vertex_split(cy[near], cx[near], lseed[near], rseed[near])
            if count > cfg.cuts.split_max_rel * ch:
                continue
            left = lseed.copy()
            left[near] |= left_w | _neighbour_votes(cy[near], cx[near], left_w, removed_w)
            nl = int((left & (cx >= a - reach)).sum())
            nr = int((~left & (cx < a + reach)).sum())
            if min(nl, nr) < need:
                continue
            key = np.packbits(left).tobytes()
            if key in seen:
                continue
            seen.add(key)
            found.append(((count + cfg.cuts.score_eps) / max(min(nl, nr), 1), a, left, count))
        budget = int(np.ceil(cfg.cuts.dense_per_char * width / ch))
        for _, a, left, count in sorted(found, key=lambda t: (t[0], t[1]))[:budget]:
            sides = base_sides(np.full((1, h), a, np.int64))[0].copy()
            sides[mine] = ~left
            path = _proxy_paths(h, cy, cx, ~left[None, :], np.array([a]), np.array([a + r]))[0]
            out_x.append(a)
            out_paths.append(path)
            out_cost.append(float(count))
            out_sides.append(sides)
    if not out_x:
        return empty
    cuts = Cuts(x=np.asarray(out_x, np.int64), kind=np.full(len(out_x), CUT_KINDS.index("split"), np.int64),
                paths=np.stack(out_paths), cost=np.asarray(out_cost))
    return cuts, np.stack(out_sides)
