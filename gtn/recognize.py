"""The recognition transformer (docs/paper.md Sec. V): run a recogniser on every arc's image and expand it.

A segmentation graph's arc carries an image piece (``data``) and a segmentation penalty; the recogniser
gives one penalty per class; every arc becomes one arc per class (or per top-k class) whose label is
the class and whose penalty is the arc penalty plus the class penalty.
"""

from __future__ import annotations

import torch
from torch import nn

from gtn.graph import Graph


def recognize(graph: Graph, recognizer: nn.Module | None = None, *, penalties: torch.Tensor | None = None,
              classes=None, seg_weight: float = 1.0, top_k: int | None = None,
              chunk_size: int | None = None) -> tuple[Graph, torch.Tensor]:
    """Expand every arc of a (batched) segmentation graph into one arc per class.

    Shapes: ``graph.data (A, ...)`` (e.g. ``(A, 1, 32, 32)``) -> ``recognizer -> (A, C)`` penalties ->
    output graph with ``A * K`` arcs in arc-major order (arc ``a * K + k`` reads class ``classes[k]``
    on segmentation arc ``a``; ``K = len(classes)``, or ``top_k``).

    Args:
        graph: graph or batch (acyclic); its node structure is kept.
        recognizer: module mapping the stacked payloads ``graph.data`` to penalties ``(A, C)`` (lower
            is better), called once (or once per ``chunk_size`` arcs).
        penalties: instead of ``recognizer``, the ``(A, C)`` penalties already computed (e.g. one
            network call for many fields); the graph then needs no ``data``.
        classes: the class ids that get arcs (default all ``C``), e.g. every class but 'none'.
        seg_weight: weight of the segmentation penalties: output penalty =
            ``seg_weight * graph.penalty[a] + penalties[a, c]``.
        top_k: keep only the ``top_k`` lowest-penalty classes of each arc (among ``classes``).
        chunk_size: run the recogniser on at most this many payloads at a time (memory).

    Returns:
        ``(graph, arc_map)``: the interpretation graph (labels = class ids, acceptor, no data) and
        int64 ``(A_out,)`` the segmentation arc each output arc came from (so a decoded path says
        which image piece each character came from). Gradients flow into the recogniser (or
        ``penalties``) and into ``graph.penalty``.

    Raises:
        ValueError: ``"[gtn.recognize] ..."`` for a missing or doubled source of penalties, a graph
            without data, penalties not of shape ``(A, C)`` or not finite, a bad ``classes`` or
            ``top_k``.
    """
    if not isinstance(graph, Graph):
        raise ValueError(f"[gtn.recognize] expected a gtn.Graph, got {type(graph).__name__}")
    if (recognizer is None) == (penalties is None):
        raise ValueError("[gtn.recognize] pass either a recognizer or penalties, not both or neither")
    A = graph.num_arcs
    scores = _scores(graph, recognizer, penalties, chunk_size)
    C = scores.shape[1]
    cls = torch.arange(C) if classes is None else torch.as_tensor(list(classes), dtype=torch.long).reshape(-1)
    if cls.numel() == 0 or bool(((cls < 0) | (cls >= C)).any()):
        raise ValueError(f"[gtn.recognize] classes must be non-empty ids in [0, {C}), got {cls.tolist()}")
    scores = scores if classes is None else scores[:, cls]
    K = cls.numel()
    if top_k is not None:
        k = int(top_k)
        if not 1 <= k <= K:
            raise ValueError(f"[gtn.recognize] top_k must be in [1, {K}], got {top_k}")
        pen, idx = torch.topk(scores, k, dim=1, largest=False, sorted=True)  # (A, k)
        labels = cls[idx]
    else:
        k = K
        pen, labels = scores, cls.expand(A, K)
    arc_map = torch.arange(A).repeat_interleave(k)
    seg = graph.penalty.to(pen.dtype)[:, None]
    penalty = ((seg if seg_weight == 1.0 else seg_weight * seg) + pen).reshape(-1)
    labels = labels.reshape(-1).long()
    out = Graph._raw(graph.src[arc_map], graph.dst[arc_map], labels, labels, penalty,
                     num_nodes=graph.num_nodes, starts=graph.starts, finals=graph.finals,
                     node_offsets=graph.node_offsets, arc_offsets=graph.arc_offsets * k, acyclic=graph.acyclic)
    if "node_levels" in graph._cache:
        out._cache["node_levels"] = graph._cache["node_levels"]
    return out, arc_map


def _scores(graph: Graph, recognizer, penalties, chunk_size) -> torch.Tensor:
    """The ``(A, C)`` class penalties of the arcs: given, or from the recogniser on ``graph.data``."""
    A = graph.num_arcs
    if penalties is not None:
        scores = torch.as_tensor(penalties)
    else:
        if graph.data is None:
            raise ValueError("[gtn.recognize] the graph carries no per-arc data (images) to recognise")
        data = torch.as_tensor(graph.data)
        if A == 0:
            scores = graph.penalty.new_zeros((0, 1))
        elif chunk_size is None:
            scores = recognizer(data)
        else:
            scores = torch.cat([recognizer(data[i:i + chunk_size]) for i in range(0, A, int(chunk_size))])
    if scores.dim() != 2 or scores.shape[0] != A:
        raise ValueError(f"[gtn.recognize] the recogniser returned shape {tuple(scores.shape)} for {A} arcs; "
                         f"expected ({A}, C)")
    if not bool(torch.isfinite(scores.detach()).all()):
        raise ValueError("[gtn.recognize] the recogniser returned non-finite penalties")
    return scores
