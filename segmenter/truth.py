"""Ground truth against a segmentation graph: which arcs are true characters, and is the true
segmentation a path of the graph?

Synthetic fields know which ink belongs to which character: a *character map*, int ``(H, W)`` in
input image coordinates, ``c`` on the pixels of character ``c`` (0-based, left to right) and -1
elsewhere. An arc *matches* character ``c`` when both

- recall: the arc holds at least ``tol`` of character ``c``'s ink that survived preprocessing, and
- precision: at least ``tol`` of the arc's ink belongs to character ``c``.

The true segmentation is *in the graph* when a path from the first to the last node has one arc
per character, the ``k``-th matching character ``k``, plus (with ``allow_junk``) any number of
*junk* arcs: arcs holding at least ``tol`` of non-character ink (noise specks, remnants of a
printed line); the recogniser has to call those 'none' (PAPER.md Sec. IX's rubbish class). This is the quantity the recogniser
needs (PAPER.md Sec. V: the right segmentation must be among the candidates). Also used to pick
mis-segmented pieces (arcs matching nothing) as 'none' training examples.
"""

from __future__ import annotations

import numpy as np

from segmenter.graph import Segmentation


def arc_char_counts(seg: Segmentation, char_map: np.ndarray) -> np.ndarray:
    """int64 ``(A, C + 1)``: ink pixels of each arc per character; last column = no character."""
    cmap = np.asarray(char_map)
    if cmap.shape != seg.prep.grey.shape:
        raise ValueError(f"[segmenter.truth] char_map has shape {cmap.shape}, the image "
                         f"{seg.prep.grey.shape}")
    nchar = int(cmap.max()) + 1 if cmap.size else 0
    if seg.is_empty:
        return np.zeros((0, nchar + 1), np.int64)
    ys, xs = seg.ink_yx[:, 0], seg.ink_yx[:, 1]
    ch = cmap[ys, xs - seg.prep.shift[ys]]
    onehot = np.zeros((ys.size, nchar + 1), np.float64)
    onehot[np.arange(ys.size), np.where(ch < 0, nchar, ch)] = 1.0
    right = seg.sides.astype(np.float64) @ onehot  # (K, C + 1) pixels right of each cut
    src = seg.graph.src.numpy()
    dst = seg.graph.dst.numpy()
    return np.rint(right[src] - right[dst]).astype(np.int64)


def char_totals(seg: Segmentation, char_map: np.ndarray) -> np.ndarray:
    """int64 ``(C,)``: ink pixels of each character that survived preprocessing."""
    cmap = np.asarray(char_map)
    nchar = int(cmap.max()) + 1 if cmap.size else 0
    ys, xs = seg.ink_yx[:, 0], seg.ink_yx[:, 1]
    ch = cmap[ys, xs - seg.prep.shift[ys]]
    return np.bincount(ch[ch >= 0], minlength=nchar)[:nchar]


def arc_targets(seg: Segmentation, char_map: np.ndarray, *, tol: float = 0.9,
                other_tol: float | None = None) -> np.ndarray:
    """int64 ``(A,)``: the character each arc matches (see module docstring), -1 for none.

    Args:
        tol: recall and precision needed for a match.
        other_tol: if given, an arc also must not hold ``other_tol`` or more of any *other*
            character's own ink. Precision is measured in ink, so without this an arc holding a
            digit and a whole small decimal point (a few percent of the ink) still matches the digit.
    """
    counts = arc_char_counts(seg, char_map)
    if counts.shape[0] == 0:
        return np.zeros(0, np.int64)
    nchar = counts.shape[1] - 1
    if nchar == 0:
        return np.full(counts.shape[0], -1, np.int64)
    totals = char_totals(seg, char_map)
    best = counts[:, :nchar].argmax(axis=1)
    hit = counts[np.arange(counts.shape[0]), best]
    size = counts.sum(axis=1)
    ok = (hit >= tol * np.maximum(totals[best], 1)) & (hit >= tol * np.maximum(size, 1)) & (hit > 0)
    if other_tol is not None:
        held = counts[:, :nchar] >= other_tol * np.maximum(totals, 1)[None, :]  # (A, C)
        held &= counts[:, :nchar] > 0
        held[np.arange(counts.shape[0]), best] = False
        ok &= ~held.any(axis=1)
    return np.where(ok, best, -1)


def whole_chars_held(seg: Segmentation, char_map: np.ndarray, *, tol: float = 0.5) -> np.ndarray:
    """int64 ``(A,)``: how many characters have at least ``tol`` of their ink in each arc (2 or more:
    the arc merges characters, whatever their sizes)."""
    counts = arc_char_counts(seg, char_map)
    if counts.shape[0] == 0 or counts.shape[1] == 1:
        return np.zeros(counts.shape[0], np.int64)
    totals = char_totals(seg, char_map)
    return ((counts[:, :-1] >= tol * np.maximum(totals, 1)[None, :]) & (counts[:, :-1] > 0)).sum(axis=1)


def true_path(seg: Segmentation, char_map: np.ndarray, *, tol: float = 0.9,
              allow_junk: bool = True) -> list[int] | None:
    """Arc indices of the true segmentation if it is a path of the graph, else None.

    Characters whose ink vanished entirely in preprocessing cannot be matched, so the answer is
    None for them too (an honest miss).
    """
    nchar = int(np.asarray(char_map).max()) + 1
    if seg.is_empty:
        return [] if nchar <= 0 else None
    target = arc_targets(seg, char_map, tol=tol)
    if allow_junk:
        counts = arc_char_counts(seg, char_map)
        junk = counts[:, -1] >= tol * np.maximum(counts.sum(axis=1), 1)
    else:
        junk = np.zeros(target.shape, bool)
    src = seg.graph.src.numpy()
    dst = seg.graph.dst.numpy()
    n = seg.graph.num_nodes
    back: dict[tuple[int, int], int] = {(0, 0): -1}  # (node, chars matched) -> arc used to get there
    for arc in np.argsort(src, kind="stable"):  # nodes are topologically numbered
        a, b = int(src[arc]), int(dst[arc])
        t = int(target[arc])
        if t >= 0 and (a, t) in back and (b, t + 1) not in back:
            back[(b, t + 1)] = int(arc)
        if junk[arc]:
            for k in range(nchar + 1):
                if (a, k) in back and (b, k) not in back:
                    back[(b, k)] = int(arc)
    if (n - 1, nchar) not in back:
        return None
    path, node, k = [], n - 1, nchar
    while node != 0:
        arc = back[(node, k)]
        path.append(arc)
        if not (junk[arc] and target[arc] < 0):
            k -= 1
        node = int(src[arc])
    return path[::-1]
