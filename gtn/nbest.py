"""Best paths: the Viterbi path and the n best paths of every graph of a batch, with their arcs.

A decoded path says which arcs it used, so that callers can follow ``arc_map``s back to the pieces of
the image each character came from (docs/paper.md Sec. V: the Viterbi transformer "gives the best
segmentation and labels at once").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gtn.graph import EPSILON, Graph
from gtn.scoring import level_penalties, plan_of, require_scorable, viterbi_arcs


@dataclass
class Path:
    """One path of one graph of a batch.

    Attributes:
        graph_index: which graph of the batch (``0 <= graph_index < B``).
        arcs: int64 ``(L,)`` arc ids inside that graph (``unbatch(g)[graph_index]``), in path order.
        batch_arcs: int64 ``(L,)`` the same arcs as ids into the batched graph.
        ilabels, olabels: int64 ``(L,)`` the arcs' labels (``EPSILON`` included).
        penalty: scalar tensor, the sum of the arcs' penalties (autograd flows into ``g.penalty``);
            ``inf`` when the graph has no path.
    """

    graph_index: int
    arcs: torch.Tensor
    batch_arcs: torch.Tensor
    ilabels: torch.Tensor
    olabels: torch.Tensor
    penalty: torch.Tensor

    def labels(self, *, side: str = "output") -> list[int]:
        """The non-epsilon labels of the path (``side`` = ``"output"`` or ``"input"``)."""
        if side not in ("output", "input"):
            raise ValueError(f"[gtn.Path.labels] side must be 'output' or 'input', got {side!r}")
        lab = self.olabels if side == "output" else self.ilabels
        return [x for x in lab.tolist() if x != EPSILON]


def _make_path(g: Graph, b: int, arcs: np.ndarray) -> Path:
    glob = torch.from_numpy(np.asarray(arcs, dtype=np.int64))
    if glob.numel():
        pen = g.penalty[glob].sum()
    else:
        pen = g.penalty.new_zeros(())  # the empty path (start == final)
    return Path(b, glob - int(g.arc_offsets[b]), glob, g.ilabel[glob], g.olabel[glob], pen)


def _no_path(g: Graph, b: int) -> Path:
    e = torch.zeros(0, dtype=torch.long)
    return Path(b, e, e, e, e, g.penalty.new_full((), float("inf")))


def viterbi_path(g: Graph) -> list[Path]:
    """The best (lowest-penalty) path of every graph: ``batch of B graphs -> B`` :class:`Path` objects.

    Ties are broken towards the lowest arc id into each node, as in :func:`gtn.viterbi_penalty`.
    The gradient of ``path.penalty`` is the best-path indicator.
    """
    require_scorable(g, "viterbi_path")
    best, paths = viterbi_arcs(plan_of(g), g.penalty)
    return [_make_path(g, b, arcs) if np.isfinite(best[b]) else _no_path(g, b) for b, arcs in enumerate(paths)]


def nbest(g: Graph, n: int) -> list[list[Path]]:
    """The ``n`` best distinct paths (distinct arc sequences) of every graph, best first.

    Exact: a level-by-level dynamic program keeps the ``n`` best partial paths into every node
    (candidates of a level are ranked with one ``lexsort``).

    Args:
        g: acyclic graph or batch of ``B`` graphs.
        n: number of paths wanted per graph (fewer are returned when a graph has fewer paths).

    Returns:
        ``B`` lists of up to ``n`` :class:`Path` objects, in increasing penalty.
    """
    require_scorable(g, "nbest")
    if int(n) < 1:
        raise ValueError(f"[gtn.nbest] n must be >= 1, got {n}")
    n = int(n)
    plan = plan_of(g)
    p = level_penalties(plan, g.penalty)
    top = np.full((plan.n, n), -np.inf)
    top[plan.starts, 0] = 0.0
    bp_arc = np.full((plan.n, n), -1, dtype=np.int64)
    bp_rank = np.zeros((plan.n, n), dtype=np.int64)
    for lo, hi, reads, _, seg, nodes, d in plan.levels:
        cand = (top[reads] - p[lo:hi, None]).ravel()  # (A_l * n,): arc-major, then source rank
        cseg = np.repeat(seg, n)
        order = np.lexsort((-cand, cseg))  # by segment, best first; ties keep arc order
        sseg = cseg[order]
        first = np.zeros(d + 1, dtype=np.int64)
        np.cumsum(np.bincount(sseg, minlength=d), out=first[1:])
        rank = np.arange(order.size) - first[sseg]
        sel = order[rank < n]
        r = rank[rank < n]
        dst_nodes = nodes[cseg[sel]]
        top[dst_nodes, r] = cand[sel]
        bp_arc[dst_nodes, r] = plan.perm[lo + sel // n]
        bp_rank[dst_nodes, r] = sel % n
    # backtrack all B * n paths together, one vectorised step per arc position
    B = g.batch_size
    node = np.repeat(plan.finals, n)
    k = np.tile(np.arange(n), B)
    valid = np.isfinite(top[node, k])
    starts = np.repeat(plan.starts, n)
    active = valid & (node != starts)
    steps = []
    while active.any():
        a = np.where(active, bp_arc[node, k], -1)
        steps.append(a)
        nk = bp_rank[node, k]
        node = np.where(active, plan.src_all[np.maximum(a, 0)], node)
        k = np.where(active, nk, k)
        active &= node != starts
    mat = np.stack(steps[::-1], axis=1) if steps else np.zeros((B * n, 0), dtype=np.int64)
    out = []
    for b in range(B):
        out.append([_make_path(g, b, row[row >= 0]) for row, ok in zip(mat[b * n:(b + 1) * n], valid[b * n:(b + 1) * n]) if ok])
    return out
