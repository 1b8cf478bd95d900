"""Which ink lies right of each cut (connected-component ownership), and which cuts to keep.

A naive vertical slab between two cuts would hand a slanted neighbour's overhang (the tail of a
7, the top of a 4) to the wrong piece. Instead, for every cut ``k`` (a top-to-bottom path) each ink
pixel gets a *side* (left or right of the cut) by this rule:

1. Label the 8-connected components of the ink.
2. The cut *severs* a component only if both sides of its path hold at least
   ``min(sever_fraction * n, sever_rel * char_height**2)`` of the component's ``n`` pixels
   (touching characters, or a cut through the middle of one character); then each pixel of the
   component takes the side of the path it lies on. (The absolute bound matters for a long chain
   of touching characters, where one narrow character is a small fraction of the component.)
3. Otherwise the whole component takes the side holding most of its pixels: a cut that clips a
   small overhang of a component does not split it.

Two cuts ``i, j`` are *compatible* (``i`` before ``j``) when every pixel right of ``j`` is also right
of ``i``; the piece between them is the ink right of ``i`` and not right of ``j``. For paths that do
not cross (on ink) the rule is consistent: if ``j`` lies right of ``i``, whatever is right of ``j``
is right of ``i`` (the masses left of ``j`` are at least those left of ``i``, and the severing threshold is one
number per component), so every
segmentation (a chain of compatible cuts) partitions the ink exactly: no pixel lost or counted
twice, and an unsevered component is never split. Crossing candidate cuts are simply
incompatible: they belong to alternative segmentations.
"""

from __future__ import annotations

import cv2
import numpy as np

from segmenter.cuts import Cuts


def ink_pixels(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ys, xs, component)`` of every ink pixel (int64 ``(P,)`` each; 8-connected components)."""
    _, labels = cv2.connectedComponents(ink.astype(np.uint8), connectivity=8)
    ys, xs = np.nonzero(ink)
    return ys, xs, labels[ys, xs].astype(np.int64)


def cut_sides(ys: np.ndarray, xs: np.ndarray, comp: np.ndarray, paths: np.ndarray, *,
              sever_fraction: float, sever_px: float = np.inf) -> np.ndarray:
    """Side of every ink pixel for every cut: bool ``(K, P)``, True = right of the cut.

    Args:
        ys, xs, comp: ink pixels and their component labels, ``(P,)`` each (:func:`ink_pixels`).
        paths: int64 ``(K, H)`` cut paths (a pixel is geometrically right iff ``x >= paths[k, y]``).
        sever_fraction, sever_px: a cut severs a component of ``n`` pixels when both sides hold at
            least ``min(sever_fraction * n, sever_px)`` of them (see module docstring).
    """
    k = paths.shape[0]
    geo = xs[None, :] >= paths[:, ys]  # (K, P)
    if comp.size == 0:
        return geo
    ncomp = int(comp.max()) + 1
    size = np.bincount(comp, minlength=ncomp).astype(np.float64)
    right = np.stack([np.bincount(comp, weights=geo[i], minlength=ncomp) for i in range(k)])
    left = size[None, :] - right
    need = np.maximum(np.minimum(sever_fraction * size, sever_px), 1e-9)[None, :]
    severs = np.minimum(left, right) >= need
    majority = right * 2 > size[None, :]  # ties go left
    return np.where(severs[:, comp], geo, majority[:, comp])


def select_cuts(cuts: Cuts, sides: np.ndarray, *, min_between: float) -> tuple[Cuts, np.ndarray]:
    """Drop near-duplicate cuts and order the rest topologically.

    Cuts are taken best first (lowest path cost, then strongest kind, then leftmost); a cut is
    dropped when fewer than ``min_between`` ink pixels change side between it and an already kept
    cut (they split the ink the same way), or between it and an end (it shaves off almost
    nothing). The ends (the first two entries of ``cuts``: left end, right end) are always kept.

    Returns:
        ``(cuts, sides)`` ordered by decreasing number of pixels right of the cut (a topological
        order of compatibility: the left end first, the right end last).
    """
    order = [0, 1] + sorted(range(2, len(cuts)), key=lambda i: (round(float(cuts.cost[i]), 3),
                                                                 int(cuts.kind[i]), int(cuts.x[i])))
    kept: list[int] = []
    s = sides.astype(np.int32)
    for i in order:
        if kept:
            diff = np.abs(s[kept] - s[i][None, :]).sum(axis=1)
            if i >= 2 and diff.min() < min_between:
                continue
        kept.append(i)
    kept_a = np.asarray(kept, np.int64)
    right = sides[kept_a].sum(axis=1)
    means = cuts.paths[kept_a].mean(axis=1)
    topo = kept_a[np.lexsort((means, -right))]
    return cuts.subset(topo), sides[topo]


def compatibility(sides: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which ordered cut pairs bound a piece.

    Args:
        sides: bool ``(K, P)`` in topological order.

    Returns:
        ``(edge, size)``: bool ``(K, K)`` True for ``i < j`` compatible with a non-empty piece
        between them; int64 ``(K, K)`` ink pixels of that piece.
    """
    s = sides.astype(np.float32)
    # bad[i, j]: pixels right of j but not right of i
    bad = (1.0 - s) @ s.T
    size = s.sum(axis=1)[:, None] - s @ s.T  # right of i minus right of both
    k = sides.shape[0]
    upper = np.triu(np.ones((k, k), bool), 1)
    edge = upper & (bad < 0.5) & (size > 0.5)
    return edge, np.rint(size).astype(np.int64)


def longest_chains(edge: np.ndarray) -> np.ndarray:
    """``chain[i, j]``: most pieces any chain of compatible cuts from ``i`` to ``j`` makes
    (0 on the diagonal, -1 when ``j`` cannot follow ``i``). int64 ``(K, K)``."""
    k = edge.shape[0]
    chain = np.full((k, k), -1, np.int64)
    np.fill_diagonal(chain, 0)
    for j in range(k):
        preds = np.flatnonzero(edge[:, j])
        if preds.size:
            best = chain[:, preds].max(axis=1)
            chain[:, j] = np.where(best >= 0, np.maximum(chain[:, j], best + 1), chain[:, j])
    return chain
