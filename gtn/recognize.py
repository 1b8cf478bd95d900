"""The recognition transformer (PAPER.md Sec. V): run a recogniser on every arc's image and expand it.

A segmentation graph's arc carries an image piece (``data``) and a segmentation penalty; the recogniser
gives one penalty per class; every arc becomes one arc per class (or per top-k class) whose label is
the class and whose penalty is the arc penalty plus the class penalty.
"""

from __future__ import annotations

import torch
from torch import nn

from gtn.graph import Graph


def recognize(graph: Graph, recognizer: nn.Module, *, top_k: int | None = None,
              chunk_size: int | None = None) -> tuple[Graph, torch.Tensor]:
    """Expand every arc of a (batched) segmentation graph into one arc per class.

    Shapes: ``graph.data (A, ...)`` (e.g. ``(A, 1, 32, 32)``) -> ``recognizer -> (A, C)`` penalties ->
    output graph with ``A * C`` arcs (``A * top_k`` with ``top_k``), in arc-major order.

    Args:
        graph: graph or batch whose arcs carry ``data``; its node structure is kept.
        recognizer: module mapping stacked payloads to penalties ``(A, C)`` (lower is better),
            called once (or once per ``chunk_size`` arcs).
        top_k: keep only the ``top_k`` lowest-penalty classes of each arc.
        chunk_size: run the recogniser on at most this many payloads at a time (memory).

    Returns:
        ``(graph, arc_map)``: the interpretation graph (labels = class ids, acceptor, no data) and
        int64 ``(A_out,)`` the segmentation arc each output arc came from (so a decoded path says
        which image piece each character came from). Gradients flow into the recogniser and into
        ``graph.penalty``.

    Raises:
        ValueError: ``"[gtn.recognize] ..."`` when the graph has no data or the recogniser's output
            does not have shape ``(A, C)``.
    """
    if not isinstance(graph, Graph):
        raise ValueError(f"[gtn.recognize] expected a gtn.Graph, got {type(graph).__name__}")
    if graph.data is None:
        raise ValueError("[gtn.recognize] the graph carries no per-arc data (images) to recognise")
    A = graph.num_arcs
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
    C = scores.shape[1]
    if top_k is not None:
        k = int(top_k)
        if not 1 <= k <= C:
            raise ValueError(f"[gtn.recognize] top_k must be in [1, {C}], got {top_k}")
        pen, labels = torch.topk(scores, k, dim=1, largest=False, sorted=True)  # (A, k)
    else:
        k = C
        pen, labels = scores, torch.arange(C).expand(A, C)
    arc_map = torch.arange(A).repeat_interleave(k)
    penalty = (graph.penalty.to(pen.dtype)[:, None] + pen).reshape(-1)
    labels = labels.reshape(-1).long()
    out = Graph._raw(graph.src[arc_map], graph.dst[arc_map], labels, labels, penalty,
                     num_nodes=graph.num_nodes, starts=graph.starts, finals=graph.finals,
                     node_offsets=graph.node_offsets, arc_offsets=graph.arc_offsets * k, acyclic=graph.acyclic)
    if "node_levels" in graph._cache:
        out._cache["node_levels"] = graph._cache["node_levels"]
    return out, arc_map
