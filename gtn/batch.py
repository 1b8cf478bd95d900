"""Batching: a list of graphs <-> one disjoint union with per-graph offsets (docs/design.md "core data structure")."""

from __future__ import annotations

from typing import Sequence

import torch

from gtn.graph import Graph


def batch(graphs: Sequence[Graph]) -> Graph:
    """Disjoint union of graphs, keeping per-graph indices.

    Node ids of graph ``k`` are shifted by ``node_offsets[k]`` and its arcs occupy
    ``arc_offsets[k]:arc_offsets[k + 1]``; batches inside the list are flattened. Penalties are
    concatenated with ``torch.cat`` (autograd flows back to every input).

    Args:
        graphs: ``B >= 1`` graphs (or batches). Per-arc ``data`` must be present in all or none.

    Returns:
        one :class:`gtn.Graph` with ``batch_size = sum of the inputs' batch sizes``.

    Raises:
        ValueError: ``"[gtn.batch] ..."`` for an empty list, a non-Graph entry, or mixed ``data``.
    """
    graphs = list(graphs)
    if not graphs:
        raise ValueError("[gtn.batch] needs at least one graph")
    for i, g in enumerate(graphs):
        if not isinstance(g, Graph):
            raise ValueError(f"[gtn.batch] entry {i} is a {type(g).__name__}, not a gtn.Graph")
    if len(graphs) == 1:
        return graphs[0]
    has_data = [g.data is not None for g in graphs]
    if any(has_data) and not all(has_data):
        raise ValueError("[gtn.batch] some graphs carry per-arc data and some do not "
                         f"(graphs without data: {[i for i, h in enumerate(has_data) if not h]})")
    node_shift = torch.tensor([0] + [g.num_nodes for g in graphs]).cumsum(0)
    arc_shift = torch.tensor([0] + [g.num_arcs for g in graphs]).cumsum(0)
    src = torch.cat([g.src + node_shift[k] for k, g in enumerate(graphs)])
    dst = torch.cat([g.dst + node_shift[k] for k, g in enumerate(graphs)])
    dtype = graphs[0].penalty.dtype
    for g in graphs[1:]:
        dtype = torch.promote_types(dtype, g.penalty.dtype)
    penalty = torch.cat([g.penalty.to(dtype) for g in graphs])
    data = torch.cat([torch.as_tensor(g.data) for g in graphs]) if has_data[0] else None
    return Graph._raw(
        src, dst, torch.cat([g.ilabel for g in graphs]), torch.cat([g.olabel for g in graphs]), penalty,
        num_nodes=int(node_shift[-1]),
        starts=torch.cat([g.starts + node_shift[k] for k, g in enumerate(graphs)]),
        finals=torch.cat([g.finals + node_shift[k] for k, g in enumerate(graphs)]),
        node_offsets=torch.cat([graphs[0].node_offsets[:1]] + [g.node_offsets[1:] + node_shift[k] for k, g in enumerate(graphs)]),
        arc_offsets=torch.cat([graphs[0].arc_offsets[:1]] + [g.arc_offsets[1:] + arc_shift[k] for k, g in enumerate(graphs)]),
        data=data, acyclic=all(g.acyclic for g in graphs))


def unbatch(graph: Graph) -> list[Graph]:
    """Split a batch back into its graphs (penalties are slices: autograd flows).

    Returns:
        ``B`` single graphs, node ids renumbered from 0.
    """
    out = []
    no, ao = graph.node_offsets.tolist(), graph.arc_offsets.tolist()
    for k in range(graph.batch_size):
        a0, a1, n0 = ao[k], ao[k + 1], no[k]
        out.append(Graph._raw(
            graph.src[a0:a1] - n0, graph.dst[a0:a1] - n0, graph.ilabel[a0:a1], graph.olabel[a0:a1],
            graph.penalty[a0:a1], num_nodes=no[k + 1] - n0,
            starts=graph.starts[k:k + 1] - n0, finals=graph.finals[k:k + 1] - n0,
            node_offsets=torch.tensor([0, no[k + 1] - n0]), arc_offsets=torch.tensor([0, a1 - a0]),
            data=None if graph.data is None else graph.data[a0:a1], acyclic=graph.acyclic))
    return out
