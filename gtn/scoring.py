"""Forward and Viterbi scoring with exact gradients (PAPER.md Sec. IV: "forward penalty", Viterbi).

Both run level by level: nodes are grouped by their longest-path depth from the start (computed once
per graph structure and cached on the Graph), and one level is one vectorised step over the whole
batch (``np.logaddexp.reduceat`` / ``np.maximum.reduceat`` over the level's arcs sorted by ``dst``).
The dynamic programs run without autograd recording inside custom ``torch.autograd.Function``s whose
backward passes are written out: arc posteriors (forward-backward) for the forward penalty, the
best-path indicator for Viterbi.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gtn._arrays import longest_path_levels, reachable, segments
from gtn.graph import Graph


@dataclass
class _Levels:
    """Arcs of one sweep direction, permuted so that each level is a contiguous slice.

    ``order`` permutes the useful arcs; level ``l`` is ``order[bounds[l]:bounds[l+1]]``, sorted by the
    node it writes (``dst`` for the forward sweep, ``src`` for the backward one); ``seg[l]`` are the
    run starts inside the slice and ``nodes[l]`` the written node of each run.
    """

    order: np.ndarray
    reads: np.ndarray  # node read by each arc, in `order`
    bounds: list
    seg: list
    nodes: list


class _Plan:
    """Structure-only precomputation for scoring one (batched) graph."""

    def __init__(self, g: Graph) -> None:
        if not g.acyclic:
            raise ValueError("[gtn.scoring] the graph was built with acyclic=False; scoring needs an acyclic graph")
        src, dst = g.numpy_arcs()
        n = g.num_nodes
        self.starts, self.finals = g.starts.numpy(), g.finals.numpy()
        self.arc_batch = g.arc_batch.numpy()
        acc = reachable(n, src, dst, self.starts)
        coacc = reachable(n, dst, src, self.finals)
        self.useful = np.flatnonzero(acc[src] & coacc[dst])
        self.src, self.dst = src[self.useful], dst[self.useful]
        self.n, self.src_all = n, src
        self._fwd: _Levels | None = None
        self._bwd: _Levels | None = None

    @staticmethod
    def _levels(n: int, read: np.ndarray, write: np.ndarray) -> _Levels:
        depth = longest_path_levels(n, read, write)
        key = depth[write]
        order = np.lexsort((write, key))
        k = key[order]
        w = write[order]
        bounds = np.searchsorted(k, np.arange(1, int(k.max(initial=0)) + 2)).tolist()  # depth >= 1
        seg, nodes = [], []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            s, u = segments(w[lo:hi])
            seg.append(s)
            nodes.append(u)
        return _Levels(order, read[order], bounds, seg, nodes)

    @property
    def fwd(self) -> _Levels:
        if self._fwd is None:
            self._fwd = self._levels(self.n, self.src, self.dst)
        return self._fwd

    @property
    def bwd(self) -> _Levels:
        if self._bwd is None:
            self._bwd = self._levels(self.n, self.dst, self.src)
        return self._bwd

    def sweep(self, lv: _Levels, pen: np.ndarray, init: np.ndarray, *, tropical: bool) -> np.ndarray:
        """``score[node] = reduce over arcs into node of (score[read] - pen)``, level by level."""
        score = np.full(self.n, -np.inf, dtype=pen.dtype)
        score[init] = 0.0
        p = pen[self.useful][lv.order]
        reads = lv.reads
        red = np.maximum.reduceat if tropical else np.logaddexp.reduceat
        for i, (s, u) in enumerate(zip(lv.seg, lv.nodes)):
            lo, hi = lv.bounds[i], lv.bounds[i + 1]
            v = score[reads[lo:hi]] - p[lo:hi]
            score[u] = v if s.size == hi - lo else red(v, s)
        return score


def plan_of(g: Graph) -> _Plan:
    """The cached scoring plan of a graph (structure only, shared by ``with_penalty`` copies)."""
    plan = g._cache.get("plan")
    if plan is None:
        plan = g._cache["plan"] = _Plan(g)
    return plan


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


class _ForwardPenalty(torch.autograd.Function):
    @staticmethod
    def forward(ctx, penalty, plan):
        pen = _np(penalty)
        alpha = plan.sweep(plan.fwd, pen, plan.starts, tropical=False)
        logz = alpha[plan.finals]
        ctx.plan, ctx.pen, ctx.alpha, ctx.logz = plan, pen, alpha, logz
        return torch.from_numpy(-logz).to(penalty)

    @staticmethod
    def backward(ctx, grad):
        plan, pen, alpha, logz = ctx.plan, ctx.pen, ctx.alpha, ctx.logz
        beta = plan.sweep(plan.bwd, pen, plan.finals, tropical=False)
        u = plan.useful
        b = plan.arc_batch[u]
        post = np.exp(alpha[plan.src] - pen[u] + beta[plan.dst] - logz[b])
        out = np.zeros_like(pen)
        out[u] = post * _np(grad)[b]
        return torch.from_numpy(out).to(grad.device), None


class _ViterbiPenalty(torch.autograd.Function):
    @staticmethod
    def forward(ctx, penalty, plan):
        pen = _np(penalty)
        best, arcs = _viterbi_arcs(plan, pen)
        ctx.arcs, ctx.shape, ctx.batch = arcs, pen.shape, plan.arc_batch
        return torch.from_numpy(-best).to(penalty)

    @staticmethod
    def backward(ctx, grad):
        g = _np(grad)
        out = np.zeros(ctx.shape, dtype=g.dtype)
        out[ctx.arcs] = g[ctx.batch[ctx.arcs]]
        return torch.from_numpy(out).to(grad.device), None


def _viterbi_arcs(plan: _Plan, pen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best score per graph ``(B,)`` and the arcs of all best paths (concatenated, any order)."""
    score = plan.sweep(plan.fwd, pen, plan.starts, tropical=True)
    best = score[plan.finals]
    bp = _backpointers(plan, pen, score)
    return best, _backtrack(plan, bp, np.isfinite(best))[0]


def _backpointers(plan: _Plan, pen: np.ndarray, score: np.ndarray) -> np.ndarray:
    """For every node, the (first) useful arc achieving its Viterbi score; -1 if none."""
    lv = plan.fwd
    u = plan.useful[lv.order]
    tight = score[plan.src[lv.order]] - pen[u] == score[plan.dst[lv.order]]
    arcs = u[tight]
    heads = plan.dst[lv.order][tight]  # sorted by (level, dst): first occurrence = lowest position
    s, nodes = segments(heads)  # dst runs are contiguous inside a level
    bp = np.full(plan.n, -1, dtype=np.int64)
    bp[nodes] = arcs[s]
    return bp


def _backtrack(plan: _Plan, bp: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Follow back-pointers from the finals of the graphs with ``ok``; returns (all arcs, per-graph arcs)."""
    src_all = plan.src_all
    cur = plan.finals.copy()
    active = ok.copy()
    steps = []
    while active.any():
        arc = np.where(active, bp[cur], -1)
        active &= arc >= 0
        steps.append(np.where(active, arc, -1))
        cur = np.where(active, src_all[np.maximum(arc, 0)], cur)
    if not steps:
        return np.zeros(0, dtype=np.int64), [np.zeros(0, dtype=np.int64) for _ in ok]
    mat = np.stack(steps[::-1], axis=1)  # (B, L) arcs in path order, -1 padding in front
    per = [row[row >= 0] for row in mat]
    return mat[mat >= 0], per


def forward_penalty(g: Graph) -> torch.Tensor:
    """Forward penalty ``-log sum_paths exp(-path penalty)`` of every graph (PAPER.md Sec. IV, VI).

    Shapes: ``g`` a batch of ``B`` graphs with ``A`` arcs -> ``(B,)``; the gradient w.r.t.
    ``g.penalty (A,)`` is the posterior probability of each arc (forward-backward, exact).

    Returns:
        ``(B,)`` tensor in ``g.penalty``'s dtype; ``inf`` for a graph without any path.

    Raises:
        ValueError: if ``g`` was built with ``acyclic=False``.
    """
    return _ForwardPenalty.apply(g.penalty, plan_of(g))


def viterbi_penalty(g: Graph) -> torch.Tensor:
    """Penalty of the best path of every graph, ``(B,)``; its gradient is the best-path indicator.

    Ties are broken towards the arc of lowest index into each node (deterministic).
    """
    return _ViterbiPenalty.apply(g.penalty, plan_of(g))
