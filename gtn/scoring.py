"""Forward and Viterbi scoring with exact gradients (docs/paper.md Sec. IV: "forward penalty", Viterbi).

Both run level by level: nodes are grouped by their longest-path depth (computed once per graph
structure and cached on the Graph), and one level is one vectorised step over the whole batch (a
segmented max / log-sum-exp over the level's arcs, grouped by ``dst``). The dynamic programs run in
numpy float64 inside custom ``torch.autograd.Function``s (no autograd recording); the backward passes
are written out:

- forward penalty: arc posteriors. With ``alpha`` the forward log-scores, every arc gets the local
  weight ``w = exp(alpha[src] - penalty - alpha[dst])`` (its share of ``dst``'s log-sum-exp, <= 1) in
  one vectorised step; then node posteriors ``gamma`` flow back level by level,
  ``gamma[src] += gamma[dst] * w``, and the arc posterior is ``gamma[dst] * w``. All quantities are
  probabilities, so this needs no log-domain backward sweep.
- Viterbi: the best-path indicator, via back-pointers (first tight arc into each node).

Unreached nodes hold the finite sentinel ``-1e30`` instead of ``-inf`` so that no level needs a guard
against ``-inf - (-inf)``; a graph whose final node keeps the sentinel has penalty ``inf``.

Kernel: when the optional C extension ``gtn._kernels`` is built (``gtn/_kernels.c``, compiled by
``pip install``), the same sweeps run as compiled loops over the plan's arcs, with the same arithmetic
in the same order (so results agree with the numpy levels to rounding of exp/log, and Viterbi ties
break identically). Per-level numpy calls (~1 us each) then vanish, which is what matters for deep
narrow graphs. ``DOCREC_GTN_KERNEL=numpy`` forces the numpy levels, ``=c`` requires the kernel;
the choice is made once, at import (gtn/_backend.py; :func:`backend` says which one runs).
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from gtn import _backend
from gtn._arrays import csr, longest_path_levels, stable_argsort
from gtn.graph import Graph
from gtn.sweeps import NumpyLevels, sweeps

_NO_PATH = -1e29  # final scores below this mean "no path" (unreached nodes hold gtn.sweeps.UNREACHED)


def backend() -> str:
    """Which implementation scores graphs: ``"c"`` (the compiled ``gtn._kernels``) or ``"numpy"``."""
    return _backend.backend()


class _Plan:
    """Structure-only precomputation for scoring one (batched) graph: arcs grouped by level."""

    def __init__(self, g: Graph) -> None:
        if not g.acyclic:
            raise ValueError("[gtn.scoring] the graph was built with acyclic=False; scoring needs an acyclic graph")
        src, dst = g.numpy_arcs()
        n = g.num_nodes
        self.n, self.num_arcs = n, src.size
        self.starts = np.ascontiguousarray(g.starts.numpy(), dtype=np.int64)
        self.finals = np.ascontiguousarray(g.finals.numpy(), dtype=np.int64)
        src, dst = np.ascontiguousarray(src, dtype=np.int64), np.ascontiguousarray(dst, dtype=np.int64)
        self.src_all, self.dst_all = src, dst
        self.arc_offsets = g.arc_offsets.numpy()
        self._hint = g._cache.get("node_levels")
        kernel = _backend.KERNEL
        # arcs sorted by destination (compositions, frame graphs): the kernel sweeps them in their own
        # order and the level arrangement below is only built if the numpy path or n-best asks for it
        self.sorted = kernel is not None and (g._cache.get("arcs_sorted", False) or
                                              bool(kernel.arcs_sorted(src, dst, self.starts, self.finals)))
        if not self.sorted:
            self._build_levels()

    def fast(self) -> bool:
        """True when the compiled kernel scores this plan's arcs in their own order."""
        return self.sorted and _backend.KERNEL is not None

    def cuts(self) -> np.ndarray:
        """Arc offsets that split a sorted plan into :func:`gtn._backend.threads` parts of about equal
        size at graph boundaries (empty: one part). Each graph's arcs are contiguous (sorted by dst)."""
        parts = min(_backend.threads(), self.arc_offsets.size - 1)
        if parts <= 1 or self.num_arcs < 4096:
            return np.zeros(0, dtype=np.int64)
        want = self.num_arcs * np.arange(1, parts) // parts
        inner = self.arc_offsets[np.searchsorted(self.arc_offsets, want)]
        return np.unique(np.concatenate([[0], inner, [self.num_arcs]])).astype(np.int64)

    def _build_levels(self) -> None:
        """The level arrangement: ``perm``, ``reads``, ``writes``, ``bounds``, ``node_level``."""
        n, src, dst = self.n, self.src_all, self.dst_all
        level_hint = self._hint if self._hint is not None else longest_path_levels(n, src, dst)
        kernel = _backend.KERNEL
        if kernel is not None and self._kernel_plan(kernel, level_hint, src, dst):
            return
        # arcs into a start or out of a final can never lie on a start -> final path (acyclic)
        drop = np.zeros(n, dtype=bool)
        drop[self.starts] = True
        keep = ~drop[dst]
        drop[:] = False
        drop[self.finals] = True
        keep &= ~drop[src]
        kept = np.flatnonzero(keep)
        level = np.array(level_hint, dtype=np.int64)
        if kept.size and not (level[src[kept]] < level[dst[kept]]).all():  # a bad layering hint
            level = longest_path_levels(n, src[kept], dst[kept])
        # nodes without a useful incoming arc (starts, unreachable nodes) are never written: level 0;
        # then renumber the used levels 0..K (a valid layering may have gaps)
        level[np.bincount(dst[kept], minlength=n) == 0] = 0
        present = np.bincount(level) > 0
        level = (np.cumsum(present) - 1)[level]
        arc_level = level[dst[kept]]
        order = stable_argsort(arc_level, int(arc_level.max(initial=0)) + 1)  # by level, then arc id
        self.perm = kept[order]
        self.reads, self.writes = src[self.perm], dst[self.perm]
        num_levels = int(arc_level.max(initial=0))
        bounds = np.searchsorted(arc_level[order], np.arange(1, num_levels + 2))
        self.bounds = bounds.astype(np.int64)  # (K + 1,) arc offsets of the levels, for the kernel
        self.node_level = level

    def _kernel_plan(self, kernel, level_hint: np.ndarray, src: np.ndarray, dst: np.ndarray) -> bool:
        """The same plan by the compiled kernel (one counting sort); False if the kernel cannot."""
        n, a = self.n, src.size
        perm, reads, writes = np.empty(a, dtype=np.int64), np.empty(a, dtype=np.int64), np.empty(a, dtype=np.int64)
        bounds, node_level, info = np.empty(a + 2, dtype=np.int64), np.empty(n, dtype=np.int64), np.zeros(2, dtype=np.int64)
        for level in (level_hint, None):
            if level is None:  # the cached layering was not valid for the kept arcs: longest paths
                level = longest_path_levels(n, src, dst)
                if (level < 0).any():
                    return False
            kernel.plan(src, dst, np.ascontiguousarray(level, dtype=np.int64), self.starts, self.finals,
                        perm, reads, writes, bounds, node_level, info)
            if info[0] >= 0:
                kept, num_levels = int(info[0]), int(info[1])
                self.perm, self.reads, self.writes = perm[:kept], reads[:kept], writes[:kept]
                self.bounds, self.node_level = bounds[:num_levels + 1], node_level
                return True
        return False

    def __getattr__(self, name: str):
        # the level arrangement of a sorted plan, built on first use
        if name in ("perm", "reads", "writes", "bounds", "node_level") and self.__dict__.get("sorted"):
            self._build_levels()
            return self.__dict__[name]
        raise AttributeError(name)

    @functools.cached_property
    def levels(self) -> list[tuple]:
        """Per level ``(lo, hi, reads, writes, seg, nodes, d)``: arc slice, local segment ids of the
        arcs' destinations, the level's ``d`` nodes (built on first use: the kernel does not need it)."""
        num_levels = self.bounds.size - 1
        node_order, node_ptr = csr(self.node_level, num_levels + 1)
        # local index of every node inside its level, so a level's segment ids are local[writes]
        local = np.empty(self.n, dtype=np.int64)
        local[node_order] = np.arange(self.n) - np.repeat(node_ptr[:-1], np.diff(node_ptr))
        seg = local[self.writes]
        out = []
        b = self.bounds
        for li in range(b.size - 1):
            lo, hi = int(b[li]), int(b[li + 1])
            nodes = node_order[node_ptr[li + 1]:node_ptr[li + 2]]
            out.append((lo, hi, self.reads[lo:hi], self.writes[lo:hi], seg[lo:hi], nodes, nodes.size))
        return out


def plan_of(g: Graph) -> _Plan:
    """The cached scoring plan of a graph (structure only, shared by ``with_penalty`` copies)."""
    plan = g._cache.get("plan")
    if plan is None:
        plan = g._cache["plan"] = _Plan(g)
    return plan


def level_penalties(plan: _Plan, penalty: torch.Tensor) -> np.ndarray:
    """float64 penalties in the plan's level arrangement (``perm`` order; for n-best and pruning)."""
    return NumpyLevels.arrange(plan, penalty)


def _np_dtype(dtype: torch.dtype):
    return {torch.float32: np.float32, torch.float16: np.float32, torch.bfloat16: np.float32}.get(dtype, np.float64)


def _as_grad(values: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(values.astype(_np_dtype(like.dtype), copy=False)).to(device=like.device, dtype=like.dtype)


class _ForwardPenalty(torch.autograd.Function):
    @staticmethod
    def forward(ctx, penalty, plan):
        sw = sweeps(plan)
        p = sw.arrange(plan, penalty)
        alpha = sw.forward(plan, p)
        logz = alpha[plan.finals]
        ok = logz > _NO_PATH
        ctx.plan, ctx.sw, ctx.p, ctx.alpha, ctx.ok, ctx.like = plan, sw, p, alpha, ok, penalty
        return torch.from_numpy(np.where(ok, -logz, np.inf)).to(dtype=penalty.dtype, device=penalty.device)

    @staticmethod
    def backward(ctx, grad):
        g = np.where(ctx.ok, grad.detach().cpu().numpy().astype(np.float64), 0.0)
        post = ctx.sw.posteriors(ctx.plan, ctx.p, ctx.alpha, g)
        return _as_grad(ctx.sw.to_arcs(ctx.plan, post), ctx.like), None


class _ViterbiPenalty(torch.autograd.Function):
    @staticmethod
    def forward(ctx, penalty, plan):
        best, paths = viterbi_arcs(plan, penalty)
        ctx.paths, ctx.num_arcs, ctx.like = paths, plan.num_arcs, penalty
        return torch.from_numpy(-best).to(dtype=penalty.dtype, device=penalty.device)

    @staticmethod
    def backward(ctx, grad):
        g = grad.detach().cpu().numpy().astype(np.float64)
        out = np.zeros(ctx.num_arcs)
        lens = [a.size for a in ctx.paths]
        if sum(lens):
            np.add.at(out, np.concatenate(ctx.paths), np.repeat(g, lens))
        return torch.from_numpy(out).to(dtype=ctx.like.dtype, device=ctx.like.device), None


def viterbi_arcs(plan: _Plan, penalty: torch.Tensor) -> tuple[np.ndarray, list[np.ndarray]]:
    """Best score per graph ``(B,)`` (``-inf`` without a path) and each graph's best-path arcs (global ids)."""
    sw = sweeps(plan)
    score, bp = sw.viterbi(plan, sw.arrange(plan, penalty))  # bp: the lowest-id tight arc into each node
    best = score[plan.finals]
    ok = best > _NO_PATH
    return np.where(ok, best, -np.inf), _backtrack(plan, bp, ok)


def _backtrack(plan: _Plan, bp: np.ndarray, ok: np.ndarray) -> list[np.ndarray]:
    """Follow back-pointers from the finals of the graphs with ``ok``; arcs of each path in order."""
    kernel = _backend.KERNEL
    if kernel is not None:
        out = np.empty(plan.n, dtype=np.int64)
        lens = np.empty(ok.size, dtype=np.int64)
        kernel.backtrack(bp, plan.src_all, plan.starts, plan.finals, ok.astype(np.int64), out, lens)
        if ok.size == 1:
            return [out[:int(lens[0])].copy()]
        return np.split(out[:int(lens.sum())], np.cumsum(lens)[:-1])
    if ok.size <= 4:  # few long paths: walk each one (one cheap step per path position)
        out = []
        for b in range(ok.size):
            arcs, node, start = [], int(plan.finals[b]), int(plan.starts[b])
            while ok[b] and node != start:
                arcs.append(int(bp[node]))
                node = int(plan.src_all[arcs[-1]])
            out.append(np.array(arcs[::-1], dtype=np.int64))
        return out
    cur = plan.finals.copy()
    active = ok & (cur != plan.starts)
    steps = []  # many paths: one vectorised step per path position over the whole batch
    while active.any():
        arc = np.where(active, bp[cur], -1)
        steps.append(arc)
        cur = np.where(active, plan.src_all[np.maximum(arc, 0)], cur)
        active &= cur != plan.starts
    if not steps:
        return [np.zeros(0, dtype=np.int64) for _ in ok]
    mat = np.stack(steps[::-1], axis=1)  # (B, L): path order, -1 padding in front
    return [row[row >= 0] for row in mat]


def forward_penalty(g: Graph) -> torch.Tensor:
    """Forward penalty ``-log sum_paths exp(-path penalty)`` of every graph (docs/paper.md Sec. IV, VI).

    Shapes: ``g`` a batch of ``B`` graphs with ``A`` arcs -> ``(B,)``. The gradient w.r.t.
    ``g.penalty (A,)`` is each arc's posterior probability (exact forward-backward).

    Returns:
        ``(B,)`` tensor in ``g.penalty``'s dtype; ``inf`` (zero gradient) for a graph without a path.

    Raises:
        ValueError: if ``g`` was built with ``acyclic=False``.
    """
    require_scorable(g, "forward_penalty")
    return _ForwardPenalty.apply(g.penalty, plan_of(g))


def viterbi_penalty(g: Graph) -> torch.Tensor:
    """Penalty of the best path of every graph: ``(B,)``; its gradient is the best-path indicator.

    Ties are broken towards the lowest arc id into each node (deterministic). ``inf`` without a path.
    """
    require_scorable(g, "viterbi_penalty")
    return _ViterbiPenalty.apply(g.penalty, plan_of(g))


def require_scorable(g: Graph, name: str) -> None:
    """Raise ``ValueError("[gtn.NAME] ...")`` unless ``g`` is a graph built as acyclic (scorable)."""
    if not isinstance(g, Graph):
        raise ValueError(f"[gtn.{name}] expected a gtn.Graph, got {type(g).__name__}")
    if not g.acyclic:
        raise ValueError(f"[gtn.{name}] the graph was built with acyclic=False; scoring needs an acyclic graph")
