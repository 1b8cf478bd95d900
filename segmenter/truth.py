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
printed line); the recogniser has to call those 'none' (docs/paper.md Sec. IX's rubbish class). This is the quantity the recogniser
needs (docs/paper.md Sec. V: the right segmentation must be among the candidates). Also used to pick
mis-segmented pieces (arcs matching nothing) as 'none' training examples.

Real labelled fields give one box per character instead: :func:`box_char_map` turns the boxes into
a character map and :func:`box_arc_targets` says which arc is each character and which are 'none'.
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


def box_char_map(shape: tuple[int, int], boxes) -> np.ndarray:
    """A character map (see the module docstring) drawn from per-character boxes.

    Real labelled fields give one box per character instead of a pixel map: every pixel inside
    box ``c`` belongs to character ``c``; a pixel inside several boxes (boxes of neighbouring
    handwritten digits often overlap) belongs to the box whose centre is nearest, measured in
    box widths and heights; pixels in no box (separators, end marks, noise, printed matter) are -1.

    Args:
        shape: ``(H, W)`` of the image the boxes were drawn on.
        boxes: ``C`` boxes ``(x, y, w, h)`` in pixels (``image[y:y+h, x:x+w]``), left to right;
            anything with ``x, y, w, h`` attributes (``data.CharBox``) or 4-sequences.

    Returns:
        int64 ``(H, W)``: character index ``0 .. C - 1`` or -1.

    Raises:
        ValueError: a box with a non-positive size or that lies outside ``shape``.
    """
    h, w = int(shape[0]), int(shape[1])
    rects = [(b.x, b.y, b.w, b.h) if hasattr(b, "x") else tuple(b) for b in boxes]
    best = np.full((h, w), np.inf)
    cmap = np.full((h, w), -1, np.int64)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5  # pixel centres
    for c, (x0, y0, bw, bh) in enumerate(rects):
        x0, y0, bw, bh = int(x0), int(y0), int(bw), int(bh)
        if bw <= 0 or bh <= 0 or x0 < 0 or y0 < 0 or x0 + bw > w or y0 + bh > h:
            raise ValueError(f"[segmenter.box_char_map] box {c} {(x0, y0, bw, bh)} is empty or outside the "
                             f"{w}x{h} image")
        sl = (slice(y0, y0 + bh), slice(x0, x0 + bw))
        dist = np.hypot((xx[sl] - (x0 + bw / 2.0)) / bw, (yy[sl] - (y0 + bh / 2.0)) / bh)  # (bh, bw)
        closer = dist < best[sl]
        best[sl] = np.where(closer, dist, best[sl])
        cmap[sl] = np.where(closer, c, cmap[sl])
    return cmap


def char_ious(seg: Segmentation, char_map: np.ndarray) -> np.ndarray:
    """float64 ``(A, C)``: intersection over union, in ink pixels, of each arc's ink and each
    character's ink (the ink that survived preprocessing): 1 for an arc holding exactly one
    character's ink and nothing else."""
    counts = arc_char_counts(seg, char_map).astype(np.float64)  # (A, C + 1)
    nchar = counts.shape[1] - 1
    if counts.shape[0] == 0 or nchar == 0:
        return np.zeros((counts.shape[0], nchar))
    totals = char_totals(seg, char_map).astype(np.float64)  # (C,)
    size = counts.sum(axis=1, keepdims=True)  # (A, 1)
    inter = counts[:, :nchar]
    union = totals[None, :] + size - inter
    return np.where(union > 0, inter / np.maximum(union, 1.0), 0.0)


def box_arc_targets(seg: Segmentation, char_map: np.ndarray, *, min_iou: float = 0.75,
                    ambiguous_iou: float = 0.6, min_char_share: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Piece labels of a segmentation graph from a character map drawn from boxes
    (:func:`box_char_map`): which arc *is* each character, and which arcs are 'none'.

    Character ``c`` is the arc whose ink best matches its ink (highest :func:`char_ious`), provided
    that intersection over union reaches ``min_iou`` (else the character has no true piece: it was
    cut apart or merged in every candidate; measured on real cheques, arcs between 0.5 and 0.75
    are mostly halves of a broken '0' or a digit missing a stroke, which must not be taught as the
    digit). Every other arc is

    - *ambiguous* (left out, -2) when it still matches its main character at ``ambiguous_iou`` or
      more (a near copy of the true piece, e.g. missing a speck), or when less than
      ``min_char_share`` of its ink lies in any box (a separator, an end mark or noise: a character
      the labels do not name, so neither a digit nor surely 'none');
    - *none* (-1) otherwise: a fragment of a character, two characters merged, or a character with
      a neighbour's stroke (docs/paper.md Sec. X's rubbish class).

    Returns:
        ``(targets, iou)``: int64 ``(A,)`` character index ``>= 0``, -1 none, -2 ambiguous; float64
        ``(C,)`` the intersection over union of each character's best arc (0 without arcs).
    """
    ious = char_ious(seg, char_map)  # (A, C)
    A, C = ious.shape
    targets = np.full(A, -2, np.int64)
    if A == 0:
        return targets, np.zeros(C)
    if C == 0:
        return np.full(A, -2, np.int64), np.zeros(0)
    counts = arc_char_counts(seg, char_map)
    in_boxes = counts[:, :C].sum(axis=1) >= min_char_share * np.maximum(counts.sum(axis=1), 1)
    main = ious.argmax(axis=1)
    main_iou = ious[np.arange(A), main]
    targets[in_boxes & (main_iou < ambiguous_iou)] = -1
    best_arc = ious.argmax(axis=0)  # (C,)
    best_iou = ious[best_arc, np.arange(C)]
    for c in range(C):
        if best_iou[c] >= min_iou:
            targets[best_arc[c]] = c
    return targets, best_iou
