"""The segmentation graph (docs/paper.md Sec. V, Fig. 18) and :func:`segment`.

Nodes are the cuts, left to right (node 0 = the left end of the ink, the last node = the right
end; nodes are numbered in a topological order of compatibility, :mod:`segmenter.pieces`). An arc
``i -> j`` joins two compatible cuts and holds the ink between them (right of ``i``, not right of
``j``, by the component-ownership rule of :mod:`segmenter.pieces`), normalised to LeNet-5's input
(:mod:`segmenter.normalize`). Every path from the first to the last node is one segmentation of
the field, and its pieces partition the ink. Candidate cuts may cross; crossing cuts are never on
the same path, so the graph holds alternative segmentations, not just one chain of cuts.

Arcs: an *elementary* arc (no compatible cut in between splits its piece) always exists, so every
node that has ink on its right can reach the last node. A merged arc (its piece is the union of
``n >= 2`` elementary pieces along some chain of compatible cuts; ``n`` = the longest such chain)
exists only if ``n <= max_merge`` and its ink is at most ``max_width_rel * char_height`` wide.
Nodes on no complete path are trimmed.

Arc penalties (docs/paper.md Sec. V allows the segmenter to score its own pieces), small and geometric:
``width_penalty * dist(w, typical_width_rel) + merge_penalty * (pieces - 1) + gap_penalty * [gap]``,
where ``w`` is the piece's ink width over the character height, ``dist`` is how far ``w`` lies
outside the typical range ``[lo, hi]`` (0 inside), and ``[gap]`` is 1 when the piece's ink has a run
of empty columns inside it at least ``gap_min_rel`` character heights (and one pixel) wide: one
character's ink rarely leaves a whole column empty, but a digit merged with a neighbouring
decimal point or comma does, which the recogniser alone too often reads as the digit. Likewise
``dot_penalty * [dot]``: the piece holds a small low component (at most ``dot_area_rel``
character heights squared) beside a larger one, as when a digit swallows the '.' after it
(:func:`arc_penalties`). There is no hard minimum width: a '1' or a '.' is narrow but valid;
narrow pieces are only penalised when below ``lo``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from gtn import EPSILON, Graph
from segmenter.arcs import ArcPixels, arc_geometry, piece_crops
from segmenter.config import SegmenterConfig
from segmenter.cuts import Cuts, find_cuts
from segmenter.normalize import normalize_pieces
from segmenter.pieces import compatibility, cut_sides, ink_pixels, longest_chains, select_cuts
from segmenter.preprocess import Preprocessed, preprocess
from segmenter.splits import component_order_cuts, split_cuts
from segmenter.valleys import valley_cuts

#: Columns of :attr:`Segmentation.features` (all lengths relative to the character height).
FEATURE_NAMES = ("width", "height", "top", "bottom", "pieces", "ink", "gap", "dot")


@dataclass
class Segmentation:
    """What :func:`segment` returns: the graph plus everything needed to interpret and draw it.

    ``A`` arcs, ``K`` cuts (= graph nodes), ``P`` ink pixels.

    Attributes:
        graph: ``gtn.Graph`` acceptor, ``K`` nodes, start 0, final ``K - 1``; labels ``gtn.EPSILON``
            (the recognition transformer replaces them by classes); ``penalty`` float32 ``(A,)``
            geometric penalties; ``data`` float32 ``(A, 1, 32, 32)`` normalised pieces.
        boxes: int64 ``(A, 4)`` ink bounding box ``(x0, y0, x1, y1)`` of each arc's piece in *input
            image* coordinates, ``x1``/``y1`` exclusive. Follow a ``gtn`` op's ``arc_map`` to get the
            box of a derived arc: ``boxes[arc_map]``.
        features: float32 ``(A, F)`` geometric features, columns :data:`FEATURE_NAMES` (width,
            height, top and bottom relative to the ink band's top, pieces merged, ink pixels /
            char_height**2, widest run of empty columns inside the piece's ink, 1 if the piece holds
            a punctuation-like dot beside a larger component), e.g. for trainable segmentation
            penalties.
        cuts: :class:`segmenter.cuts.Cuts`, one per node, in node order (working coordinates; see
            :meth:`cut_lines` for input coordinates).
        ink_yx: int64 ``(P, 2)`` ink pixels ``(y, x)`` in working coordinates.
        sides: bool ``(K, P)``: pixel ``p`` lies right of cut ``k`` (ownership rule applied).
        prep: the :class:`segmenter.preprocess.Preprocessed` field.
        char_height: estimated character height in pixels (0 for an empty field).
    """

    graph: Graph
    boxes: np.ndarray
    features: np.ndarray
    cuts: Cuts
    ink_yx: np.ndarray
    sides: np.ndarray
    prep: Preprocessed
    char_height: float

    @property
    def num_arcs(self) -> int:
        """``A``."""
        return int(self.boxes.shape[0])

    @property
    def is_empty(self) -> bool:
        """True when the field holds no ink (a one-node graph without arcs)."""
        return self.num_arcs == 0

    def arc_mask(self, arc: int) -> np.ndarray:
        """bool ``(P,)``: the ink pixels of one arc."""
        i, j = int(self.graph.src[arc]), int(self.graph.dst[arc])
        return self.sides[i] & ~self.sides[j]

    def arc_pixels(self, arc: int) -> tuple[np.ndarray, np.ndarray]:
        """``(ys, xs)`` of the ink of one arc in input image coordinates."""
        m = self.arc_mask(arc)
        ys, xs = self.ink_yx[m, 0], self.ink_yx[m, 1]
        return ys, xs - self.prep.shift[ys]

    def severs(self, nodes) -> np.ndarray:
        """bool ``(N,)``: whether each given cut (node) splits a connected ink component, i.e. some
        8-connected component has pixels on both of its sides (touching characters cut apart, or a
        character cut through), as opposed to cuts that only run between components."""
        nodes = np.asarray(nodes, np.int64).reshape(-1)
        if self.is_empty or nodes.size == 0:
            return np.zeros(nodes.size, bool)
        ys, xs = self.ink_yx[:, 0], self.ink_yx[:, 1]
        mask = np.zeros((int(ys.max()) + 1, int(xs.max()) + 1), np.uint8)
        mask[ys, xs] = 1
        _, labels = cv2.connectedComponents(mask, connectivity=8)
        comp = labels[ys, xs].astype(np.int64)
        n = int(comp.max()) + 1
        size = np.bincount(comp, minlength=n)
        right = np.stack([np.bincount(comp, weights=self.sides[k].astype(np.float64), minlength=n) for k in nodes])
        return ((right > 0.5) & (right < size[None, :] - 0.5)).any(axis=1)

    def cut_lines(self) -> list[np.ndarray]:
        """Each cut as its column per image row in input coordinates: list of int64 ``(H,)``."""
        return [path - self.prep.shift for path in self.cuts.paths]


def _empty(prep: Preprocessed, cfg: SegmenterConfig) -> Segmentation:
    side = cfg.pieces.frame + 2 * cfg.pieces.pad
    graph = Graph([], [], [], penalty=torch.zeros(0), num_nodes=1, start=0, final=0,
                  data=torch.zeros((0, 1, side, side)))
    return Segmentation(graph=graph, boxes=np.zeros((0, 4), np.int64),
                        features=np.zeros((0, len(FEATURE_NAMES)), np.float32),
                        cuts=Cuts.empty(prep.ink.shape[0]), ink_yx=np.zeros((0, 2), np.int64),
                        sides=np.zeros((0, 0), bool), prep=prep, char_height=0.0)


def _trim(edge_ok: np.ndarray) -> np.ndarray:
    """Nodes on some path from node 0 to the last node of the DAG ``edge_ok (K, K)``."""
    k = edge_ok.shape[0]
    fwd = np.zeros(k, bool)
    fwd[0] = True
    for j in range(1, k):
        fwd[j] = bool((fwd & edge_ok[:, j]).any())
    bwd = np.zeros(k, bool)
    bwd[-1] = True
    for i in range(k - 2, -1, -1):
        bwd[i] = bool((bwd & edge_ok[i, :]).any())
    return fwd & bwd


def piece_crop(prep: Preprocessed, py: np.ndarray, px: np.ndarray, config: SegmenterConfig) -> np.ndarray:
    """The image of one piece from its ink pixels ``(py, px)`` (working coordinates).

    Binary pieces: a bool crop of the ink's bounding box. Grey pieces (``config.pieces.grey_pieces``): a
    float32 crop one pixel larger on every side holding each ink pixel's darkness (at least 0.5:
    it is ink) and, on the non-ink pixels touching the piece, their own darkness capped at
    ``config.pieces.fringe_max`` (the anti-aliased edge of the strokes; ink of *other* pieces never
    enters).

    Returns:
        ``(h, w)`` bool or float32 crop.
    """
    y0, x0 = int(py.min()), int(px.min())
    if not config.pieces.grey_pieces or prep.darkness is None:
        crop = np.zeros((int(py.max()) + 1 - y0, int(px.max()) + 1 - x0), bool)
        crop[py - y0, px - x0] = True
        return crop
    H, W = prep.ink.shape
    ya, xa = max(y0 - 1, 0), max(x0 - 1, 0)
    yb, xb = min(int(py.max()) + 2, H), min(int(px.max()) + 2, W)
    own = np.zeros((yb - ya, xb - xa), np.uint8)
    own[py - ya, px - xa] = 1
    near = cv2.dilate(own, np.ones((3, 3), np.uint8)).astype(bool)
    dark = prep.darkness[ya:yb, xa:xb]
    fringe = near & ~prep.ink[ya:yb, xa:xb]
    crop = np.where(fringe, np.minimum(dark, config.pieces.fringe_max), 0.0).astype(np.float32)
    crop[py - ya, px - xa] = np.maximum(dark[py - ya, px - xa], 0.5)
    return crop


def column_gap(xs: np.ndarray) -> int:
    """Widest run of empty columns strictly inside the columns ``xs`` of a piece's ink (0 if none)."""
    cols = np.unique(xs)
    return int(np.diff(cols).max()) - 1 if cols.size > 1 else 0


def has_low_dot(py: np.ndarray, comp: np.ndarray, char_height: float, *, max_area_rel: float,
                  max_height_rel: float = 0.4) -> bool:
    """Whether a piece holds a dot (a '.' or ',') low beside a larger component.

    ``py``, ``comp``: rows and component labels of the piece's ink pixels. A dot is a component
    other than the piece's largest, of at most ``max_area_rel * char_height**2`` pixels and
    ``max_height_rel * char_height`` rows, whose centre lies in the lowest 40% of the largest
    component's rows.
    """
    labels, counts = np.unique(comp, return_counts=True)
    if labels.size < 2:
        return False
    main = labels[np.argmax(counts)]
    main_rows = py[comp == main]
    low = main_rows.min() + 0.6 * (main_rows.max() - main_rows.min())
    for lab, cnt in zip(labels, counts):
        if lab == main or cnt > max_area_rel * char_height * char_height:
            continue
        rows = py[comp == lab]
        if rows.max() - rows.min() + 1 <= max_height_rel * char_height and rows.mean() >= low:
            return True
    return False


def arc_penalties(features: np.ndarray, char_height: float, config: SegmenterConfig) -> np.ndarray:
    """The geometric arc penalties of the module docstring: ``(A, F)`` features -> ``(A,)``.

    ``features`` has the columns :data:`FEATURE_NAMES`; ``char_height`` in pixels (the graph uses
    at least 1).
    """
    cfg = config
    ch = max(char_height, 1.0)
    lo, hi = cfg.graph.typical_width_rel
    w = features[:, 0]
    outside = np.maximum(0.0, lo - w) + np.maximum(0.0, w - hi)
    gapped = features[:, 6] * ch >= np.maximum(1.0, cfg.graph.gap_min_rel * ch)
    return (cfg.graph.width_penalty * outside + cfg.graph.merge_penalty * (features[:, 4] - 1.0)
            + cfg.graph.gap_penalty * gapped + cfg.graph.dot_penalty * features[:, 7])


def build_graph(prep: Preprocessed, cuts: Cuts, ink_yx: np.ndarray, sides: np.ndarray,
                config: SegmenterConfig, comp: np.ndarray | None = None) -> Segmentation:
    """Arcs, pieces, boxes, features and penalties from selected, ordered cuts (module docstring).

    ``comp``: 8-connected component label of every ink pixel (computed when not given).
    """
    cfg = config
    ch = max(prep.char_height, 1.0)
    if comp is None:
        comp = ink_pixels(prep.ink)[2]
    edge, _ = compatibility(sides)
    chain = longest_chains(edge)
    ys, xs = ink_yx[:, 0], ink_yx[:, 1]
    means = cuts.paths.mean(axis=1)
    reach = (cfg.graph.max_width_rel + 1.0) * ch
    ii, jj = np.nonzero(edge)
    n = chain[ii, jj]
    near = (n == 1) | ((n <= cfg.graph.max_merge) & (means[jj] - means[ii] <= reach))
    ii, jj, n = ii[near], jj[near], n[near]
    masks_all = sides[ii] & ~sides[jj]  # (E, P) ink of each candidate arc
    big = np.iinfo(np.int64).max
    x0 = np.where(masks_all, xs[None, :], big).min(axis=1)
    x1 = np.where(masks_all, xs[None, :], -1).max(axis=1) + 1
    keep = (n == 1) | ((x1 - x0) / ch <= cfg.graph.max_width_rel)
    ii, jj, n, masks_all = ii[keep], jj[keep], n[keep], masks_all[keep]
    ok = np.zeros_like(edge)
    ok[ii, jj] = True
    alive = _trim(ok)
    new_id = np.cumsum(alive) - 1
    live = alive[ii] & alive[jj]
    ii, jj, n, masks_all = ii[live], jj[live], n[live], masks_all[live]
    band_top = float(ys.min())
    src, dst = new_id[ii].tolist(), new_id[jj].tolist()
    pixels = ArcPixels.from_masks(masks_all, ys, xs, comp)
    boxes_a, feats_a = arc_geometry(pixels, prep, n, ch, cfg, band_top=band_top)
    masks = piece_crops(pixels, prep, cfg)
    penalty = arc_penalties(feats_a, prep.char_height, cfg)
    order = np.lexsort((np.asarray(dst, np.int64), np.asarray(src, np.int64)))
    data = normalize_pieces([masks[a] for a in order], char_height=prep.char_height, config=cfg)
    keep_nodes = np.flatnonzero(alive)
    graph = Graph(np.asarray(src)[order], np.asarray(dst)[order], [EPSILON] * len(src),
                  penalty=torch.from_numpy(penalty[order].astype(np.float32)),
                  num_nodes=int(keep_nodes.size), data=data)
    return Segmentation(graph=graph, boxes=boxes_a[order],
                        features=feats_a[order], cuts=cuts.subset(keep_nodes), ink_yx=ink_yx,
                        sides=sides[keep_nodes], prep=prep, char_height=prep.char_height)


def segment(image, *, config: SegmenterConfig | None = None) -> Segmentation:
    """Heuristically over-segment a field image into a segmentation graph (docs/paper.md Sec. V).

    Pipeline: :func:`segmenter.preprocess.preprocess` (binarise, remove lines and specks, optional
    deslant) -> :func:`segmenter.cuts.find_cuts` (candidate cut paths) ->
    :func:`segmenter.pieces.cut_sides` (component ownership) -> :func:`segmenter.pieces.select_cuts`
    (near-duplicates dropped, topological order) -> :func:`build_graph`.

    Args:
        image: field image ``(H, W)`` uint8 (white paper, dark ink), or RGB, float or bool; see
            :func:`segmenter.preprocess.to_grey`.
        config: :class:`SegmenterConfig` (defaults when None).

    Returns:
        :class:`Segmentation` with ``graph.data`` float32 ``(A, 1, 32, 32)``. A field without ink
        (all white, a blank 1x1 image) gives an empty segmentation: a one-node graph, no arcs.

    Raises:
        ValueError: ``"[segmenter.preprocess] ..."`` for an empty (zero-size) or malformed image or
            one larger than ``config.max_pixels``.
    """
    cfg = config or SegmenterConfig()
    prep = preprocess(image, cfg)
    if not prep.ink.any():
        return _empty(prep, cfg)
    ch = max(prep.char_height, 1.0)
    ys, xs, comp = ink_pixels(prep.ink)
    cuts = find_cuts(prep.ink, prep.char_height, cfg)
    def owner(paths: np.ndarray) -> np.ndarray:
        return cut_sides(ys, xs, comp, paths, sever_fraction=cfg.cuts.sever_fraction,
                         sever_px=cfg.cuts.sever_rel * ch * ch)

    sides = owner(cuts.paths)
    extras = []
    if cfg.cuts.component_order_cuts:
        extras.append(component_order_cuts(ys, xs, comp, prep.ink.shape[0]))
    if cfg.cuts.split_cuts:
        extras.append(split_cuts(ys, xs, comp, prep.ink.shape[0], owner, prep.char_height, cfg))
    valleys = valley_cuts(prep.ink, prep.char_height, cfg) if cfg.cuts.valley_cuts else Cuts.empty(0)
    if len(valleys):
        extras.append((valleys, owner(valleys.paths)))
    for extra, extra_sides in extras:
        cuts = cuts.concat(extra)
        sides = np.concatenate([sides, extra_sides])
    cuts, sides = select_cuts(cuts, sides,
                              min_between=max(1.0, cfg.cuts.min_piece_px, cfg.cuts.min_piece_rel * ch * ch))
    return build_graph(prep, cuts, np.stack([ys, xs], axis=1), sides, cfg, comp)
