"""Structural operations: union, concat, project, trim/connect, prune, intersect.

Each returns ``(graph, arc_map)``: int64 ``(A_out,)`` ids of the input arc each output arc came from
(``-1`` for new epsilon arcs), or a tuple of maps for several inputs. Output penalties are gathered
through the map with plain indexing, so autograd flows back to the inputs (docs/design.md). All operate on
batches graph-by-graph with vectorised index arithmetic (no Python loop over arcs or graphs).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from gtn._arrays import reachable, stable_argsort
from gtn.compose import compose, gather_penalty
from gtn.graph import EPSILON, Graph
from gtn.scoring import plan_of, require_scorable
from gtn.sweeps import sweeps


def _layout(graphs: Sequence[Graph], extra_before: int, extra_after: int):
    """Place the graphs of several equal-size batches side by side, graph k after graph k - 1.

    Returns (node shift per operand (B,) arrays, out node offsets (B + 1,), B): operand i's node v of
    graph k becomes ``v + shift[i][k]``; ``extra_before`` / ``extra_after`` fresh nodes frame each graph.
    """
    B = graphs[0].batch_size
    for i, g in enumerate(graphs):
        if g.batch_size != B:
            raise ValueError(f"[gtn.ops] operand {i} holds {g.batch_size} graphs, operand 0 holds {B}")
    sizes = np.stack([g.node_offsets.diff().numpy() for g in graphs])  # (K, B)
    per_graph = sizes.sum(0) + extra_before + extra_after
    offsets = np.zeros(B + 1, dtype=np.int64)
    np.cumsum(per_graph, out=offsets[1:])
    before = np.cumsum(sizes, axis=0) - sizes  # nodes of earlier operands inside the same graph
    shifts = [offsets[:-1] + extra_before + before[i] - g.node_offsets[:-1].numpy() for i, g in enumerate(graphs)]
    return shifts, offsets, B


def _build(graphs, shifts, offsets, B, new_src, new_dst, new_graph, starts, finals, acyclic):
    """Assemble operand arcs (shifted) plus new epsilon arcs, grouped by graph."""
    src = [g.src.numpy() + shifts[i][g.arc_batch.numpy()] for i, g in enumerate(graphs)] + [new_src]
    dst = [g.dst.numpy() + shifts[i][g.arc_batch.numpy()] for i, g in enumerate(graphs)] + [new_dst]
    graph = [g.arc_batch.numpy() for g in graphs] + [new_graph]
    maps = []
    total = sum(g.num_arcs for g in graphs) + new_src.size
    pos = 0
    for g in graphs:
        m = np.full(total, -1, dtype=np.int64)
        m[pos:pos + g.num_arcs] = np.arange(g.num_arcs)
        maps.append(m)
        pos += g.num_arcs
    src, dst, graph = np.concatenate(src), np.concatenate(dst), np.concatenate(graph)
    order = stable_argsort(graph, B)
    maps = [m[order] for m in maps]
    arc_offsets = np.zeros(B + 1, dtype=np.int64)
    np.cumsum(np.bincount(graph, minlength=B), out=arc_offsets[1:])
    dtype = graphs[0].penalty.dtype
    for g in graphs[1:]:
        dtype = torch.promote_types(dtype, g.penalty.dtype)
    penalty = sum(gather_penalty(g.penalty, m, dtype) for g, m in zip(graphs, maps))
    ilabel = sum_labels([g.ilabel.numpy() for g in graphs], maps)
    olabel = sum_labels([g.olabel.numpy() for g in graphs], maps)
    t = torch.from_numpy
    out = Graph._raw(t(src[order]), t(dst[order]), t(ilabel), t(olabel), penalty, num_nodes=int(offsets[-1]),
                     starts=t(starts), finals=t(finals), node_offsets=t(offsets), arc_offsets=t(arc_offsets),
                     acyclic=acyclic)
    return out, tuple(t(m) for m in maps)


def sum_labels(labels, maps) -> np.ndarray:
    out = np.full(maps[0].size, EPSILON, dtype=np.int64)
    for lab, m in zip(labels, maps):
        hit = m >= 0
        out[hit] = lab[m[hit]]
    return out


def union(graphs: Sequence[Graph]) -> tuple[Graph, tuple[torch.Tensor, ...]]:
    """Union of K graphs (or K batches of B graphs, graph-wise): paths of any operand.

    A new start node gets epsilon arcs (penalty 0) to the operands' starts and a new final node gets
    epsilon arcs from their finals.

    Returns:
        ``(graph, maps)`` with one ``(A_out,)`` map per operand.
    """
    graphs = list(graphs)
    if not graphs:
        raise ValueError("[gtn.union] needs at least one graph")
    shifts, offsets, B = _layout(graphs, 1, 1)
    starts, finals = offsets[:-1].copy(), offsets[1:] - 1
    K = len(graphs)
    new_src = np.concatenate([np.repeat(starts, 1)] * K + [g.finals.numpy() + shifts[i] for i, g in enumerate(graphs)])
    new_dst = np.concatenate([g.starts.numpy() + shifts[i] for i, g in enumerate(graphs)] + [finals] * K)
    new_graph = np.tile(np.arange(B), 2 * K)
    return _build(graphs, shifts, offsets, B, new_src, new_dst, new_graph, starts, finals,
                  all(g.acyclic for g in graphs))


def concat(graphs: Sequence[Graph]) -> tuple[Graph, tuple[torch.Tensor, ...]]:
    """Concatenation of K graphs (or K batches, graph-wise): a path of the first, then of the second...

    Operand ``i``'s final is joined to operand ``i + 1``'s start by an epsilon arc (penalty 0).
    """
    graphs = list(graphs)
    if not graphs:
        raise ValueError("[gtn.concat] needs at least one graph")
    shifts, offsets, B = _layout(graphs, 0, 0)
    new_src = np.concatenate([g.finals.numpy() + shifts[i] for i, g in enumerate(graphs[:-1])] or [np.zeros(0, np.int64)])
    new_dst = np.concatenate([g.starts.numpy() + shifts[i + 1] for i, g in enumerate(graphs[1:])] or [np.zeros(0, np.int64)])
    new_graph = np.tile(np.arange(B), len(graphs) - 1)
    starts = graphs[0].starts.numpy() + shifts[0]
    finals = graphs[-1].finals.numpy() + shifts[-1]
    return _build(graphs, shifts, offsets, B, new_src, new_dst, new_graph, starts, finals,
                  all(g.acyclic for g in graphs))


def project(g: Graph, *, side: str = "input") -> tuple[Graph, torch.Tensor]:
    """Acceptor of the input (``side="input"``) or output labels of a transducer; same arcs and penalties."""
    if side not in ("input", "output"):
        raise ValueError(f"[gtn.project] side must be 'input' or 'output', got {side!r}")
    lab = g.ilabel if side == "input" else g.olabel
    out = Graph._raw(g.src, g.dst, lab, lab, g.penalty, num_nodes=g.num_nodes, starts=g.starts, finals=g.finals,
                     node_offsets=g.node_offsets, arc_offsets=g.arc_offsets, data=g.data, acyclic=g.acyclic)
    out._cache = {k: v for k, v in g._cache.items() if k in ("node_levels", "node_batch", "arc_batch", "np_arcs")}
    return out, torch.arange(g.num_arcs)


def _subgraph(g: Graph, node_keep: np.ndarray, arc_keep: np.ndarray) -> tuple[Graph, torch.Tensor]:
    """Keep the given nodes (plus starts and finals) and arcs; renumber monotonically (order preserved)."""
    node_keep = node_keep.copy()
    node_keep[g.starts.numpy()] = True
    node_keep[g.finals.numpy()] = True
    src, dst = g.numpy_arcs()
    arc_keep = arc_keep & node_keep[src] & node_keep[dst]
    new_id = np.cumsum(node_keep) - 1
    arcs = np.flatnonzero(arc_keep)
    node_offsets = np.zeros(g.batch_size + 1, dtype=np.int64)
    np.cumsum(np.bincount(g.node_batch.numpy()[node_keep], minlength=g.batch_size), out=node_offsets[1:])
    arc_offsets = np.zeros(g.batch_size + 1, dtype=np.int64)
    np.cumsum(np.bincount(g.arc_batch.numpy()[arcs], minlength=g.batch_size), out=arc_offsets[1:])
    t = torch.from_numpy
    idx = t(arcs)
    out = Graph._raw(t(new_id[src[arcs]]), t(new_id[dst[arcs]]), g.ilabel[idx], g.olabel[idx], g.penalty[idx],
                     num_nodes=int(node_keep.sum()), starts=t(new_id[g.starts.numpy()]),
                     finals=t(new_id[g.finals.numpy()]), node_offsets=t(node_offsets), arc_offsets=t(arc_offsets),
                     data=None if g.data is None else g.data[idx], acyclic=g.acyclic)
    if "node_levels" in g._cache:
        out._cache["node_levels"] = g._cache["node_levels"][node_keep]
    return out, idx


def trim(g: Graph) -> tuple[Graph, torch.Tensor]:
    """Keep only nodes and arcs on some start -> final path (accessible and co-accessible).

    Works on cyclic graphs too. Start and final nodes always stay (a graph without any path keeps
    just those two). Per-arc ``data`` is kept.
    """
    src, dst = g.numpy_arcs()
    acc = reachable(g.num_nodes, src, dst, g.starts.numpy())
    coacc = reachable(g.num_nodes, dst, src, g.finals.numpy())
    keep = acc & coacc
    return _subgraph(g, keep, keep[src] & keep[dst])


connect = trim


def prune(g: Graph, beam: float) -> tuple[Graph, torch.Tensor]:
    """Keep the arcs lying on a path whose penalty is within ``beam`` of the graph's best path.

    An arc survives when ``best_to(src) + penalty + best_from(dst) <= best + beam`` (Viterbi scores
    forward and backward), then the graph is trimmed. ``beam = 0`` keeps the best path(s) only.
    """
    require_scorable(g, "prune")
    if not beam >= 0:
        raise ValueError(f"[gtn.prune] beam must be >= 0, got {beam}")
    plan = plan_of(g)
    sw = sweeps(plan, levels=True)  # the level arrangement: reads, writes, perm below
    p = sw.arrange(plan, g.penalty)
    fwd = sw.forward(plan, p, tropical=True)
    bwd = sw.backward_tropical(plan, p)
    best = fwd[plan.finals]
    through = fwd[plan.reads] - p + bwd[plan.writes]  # -(best penalty of a path through each arc)
    tol = 1e-9 * np.maximum(1.0, np.abs(best))
    ok = through >= best[g.arc_batch.numpy()[plan.perm]] - beam - tol[g.arc_batch.numpy()[plan.perm]]
    arc_keep = np.zeros(g.num_arcs, dtype=bool)
    arc_keep[plan.perm[ok & (through > -1e29)]] = True
    src, dst = g.numpy_arcs()
    node_keep = np.zeros(g.num_nodes, dtype=bool)
    node_keep[src[arc_keep]] = True
    node_keep[dst[arc_keep]] = True
    return _subgraph(g, node_keep, arc_keep)


def intersect(a: Graph, b: Graph) -> tuple[Graph, tuple[torch.Tensor, torch.Tensor]]:
    """Intersection of two acceptors (either may be cyclic): composition of acceptors.

    Raises:
        ValueError: if either graph is a transducer (``ilabel != olabel`` somewhere).
    """
    for name, g in (("a", a), ("b", b)):
        if not g.is_acceptor:
            raise ValueError(f"[gtn.intersect] {name} is a transducer; intersect takes acceptors (use gtn.compose)")
    return compose(a, b)
