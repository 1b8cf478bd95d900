"""Weighted transducer composition (docs/paper.md Sec. IV/VIII: "composition" of a graph with a grammar).

``compose(a, b)`` pairs every path of ``a`` with every path of ``b`` whose input-label string equals
``a``'s output-label string (epsilons skipped on both sides); the pair's penalty is the sum. It is built
by a breadth-first expansion of reachable state triples ``(qa, qb, filter)``, one vectorised step per
BFS depth over the whole batch (label matching by ``searchsorted`` on ``b``'s arcs sorted by
``(src, ilabel)``), then ordered topologically and trimmed.

Epsilon filter (no duplicated paths): between two label-matching moves, ``a``'s epsilon-output moves
must all come before ``b``'s epsilon-input moves. The filter state is 0 after a matching move or an
``a``-epsilon move and 1 after a ``b``-epsilon move; an ``a``-epsilon move is only allowed in state 0.
Every matched pair of paths therefore appears exactly once. When ``a`` has no epsilon-output arc the
filter has nothing to order and every state keeps filter state 0.

Numbering of a layered result: states by (``qa``, epsilon level of ``qb`` in ``b``, ``qb``, filter
state), each graph's final states last and merged into its one final node; arcs by destination node,
then source node, then expansion order (matching moves by label, then epsilon moves). Arcs sorted by
destination make the result its own scoring plan on the kernel (gtn/scoring.py).

Two implementations give the same graphs, arc maps and penalties (tested for equality): the numpy
expansion below (the reference) and the compiled one in gtn/_compose.c (``gtn._kernels``), which runs
the same expansion one state at a time with merged label lists and, when the result can be layered
from its operands, also trims, numbers and layers it. ``DOCREC_GTN_KERNEL`` chooses (gtn/_backend.py).

Either operand may be cyclic. When ``a`` is acyclic the result is acyclic unless ``b`` has a reachable
cycle of epsilon-input arcs (an error: it would match one ``a`` path infinitely often). When ``a`` is
cyclic the result is built with ``acyclic=False`` if it has a cycle (it can be composed further but not
scored) and numbered topologically otherwise.
"""

from __future__ import annotations

import numpy as np
import torch

from gtn import _backend
from gtn._arrays import expand_ranges, longest_path_levels, reachable, stable_argsort
from gtn._backend import threads
from gtn.graph import EPSILON, Graph

_DENSE_LIMIT = 1 << 23  # largest state-key space indexed by a dense id array (int64: 64 MB)


def gather_penalty(penalty: torch.Tensor, arc_map: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """``penalty[arc_map]`` with 0 where ``arc_map == -1`` (plain indexing: autograd flows)."""
    padded = torch.cat([penalty.to(dtype), penalty.new_zeros(1, dtype=dtype)])
    idx = torch.from_numpy(np.where(arc_map < 0, penalty.numel(), arc_map))
    return padded[idx]


def compose(a: Graph, b: Graph) -> tuple[Graph, tuple[torch.Tensor, torch.Tensor]]:
    """Compose ``a`` with ``b`` (either may be cyclic): ``a.olabel`` is matched with ``b.ilabel``.

    Shapes: ``a`` a batch of ``B`` graphs; ``b`` one graph (applied to every graph of ``a``) or a batch
    of ``B`` graphs (paired one to one). The result has ``B`` graphs and ``A_out`` arcs.

    Args:
        a: graph or batch (e.g. an interpretation graph, a frame graph).
        b: graph or batch (e.g. a grammar, a character model, which may have loops).

    Returns:
        ``(graph, (a_map, b_map))``: the trimmed composition (topologically numbered unless it is
        cyclic, then ``acyclic=False``), and int64 ``(A_out,)`` maps from each output arc to the arc of
        ``a`` / ``b`` it came from (-1 for a move where that side stays put, and for the epsilon arcs
        that join several final states of a cyclic result to its one final node). Output penalty = ``a.penalty[a_map] + b.penalty[b_map]`` (autograd
        flows to both). Output ``ilabel`` comes from ``a``, ``olabel`` from ``b``. Per-arc ``data`` is
        not copied: follow ``a_map``. A pair with no matching paths gives a graph without arcs
        (forward penalty ``inf``).

    Raises:
        ValueError: ``"[gtn.compose] ..."`` when the batch sizes differ, or ``a`` is acyclic and the
            result would be cyclic (``b`` has a reachable cycle of epsilon-input arcs).
    """
    if not isinstance(a, Graph) or not isinstance(b, Graph):
        raise ValueError(f"[gtn.compose] expected two gtn.Graph, got {type(a).__name__} and {type(b).__name__}")
    B = a.batch_size
    if b.batch_size not in (1, B):
        raise ValueError(f"[gtn.compose] b holds {b.batch_size} graphs but a holds {B}: pass one b or one per graph")
    kernel = _backend.KERNEL
    if kernel is not None:
        if "frames" in a._cache and (_epsilon_levels(b) >= 0).all():
            return _compose_frames(kernel, a, b)
        return _compose_kernel(kernel, a, b)
    index = _Index(a, b)
    qa, qb, fs, src, dst, amap, bmap = _expand(index)
    return _finish(a, b, qa, qb, fs, src, dst, amap, bmap, index.final_states())


class _Index:
    """What the numpy expansion looks up, built once per call (step 1 of :func:`compose`).

    ``a``'s out-arcs sorted by ``(src, olabel)`` (epsilons first in each node's range); ``b``'s out-arcs
    sorted by ``(src, ilabel)`` with a ``(node, label) -> range`` lookup (a dense table when it is
    small, else binary search); the state key ``(qa, local qb, filter)`` and its table.
    """

    def __init__(self, a: Graph, b: Graph) -> None:
        self.a, self.b, B = a, b, a.batch_size
        self.B = B
        a_src, self.a_dst = a.numpy_arcs()
        b_src, self.b_dst = b.numpy_arcs()
        self.a_ol, b_il = a.olabel.numpy(), b.ilabel.numpy()
        a_nb = a.node_batch.numpy()
        b_off = b.node_offsets.numpy()
        self.nbl = int(b.node_offsets.diff().max())  # nodes of the largest b graph
        self.b_local = np.arange(b.num_nodes) - b_off[b.node_batch.numpy()]  # node id inside its own b graph
        self.paired = b.batch_size == B
        self.b_base = (lambda qa: b_off[a_nb[qa]]) if self.paired else (lambda qa: 0)
        self.a_order = np.lexsort((self.a_ol, a_src))
        self.a_ptr = np.zeros(a.num_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(a_src, minlength=a.num_nodes), out=self.a_ptr[1:])
        self.a_eps = np.bincount(a_src[self.a_ol == EPSILON], minlength=a.num_nodes)
        self.a_ne_lo, self.a_ne_cnt = self.a_ptr[:-1] + self.a_eps, np.diff(self.a_ptr) - self.a_eps
        self.has_a_eps, self.has_b_eps = bool(self.a_eps.any()), bool((b_il == EPSILON).any())
        self.span = int(max(b_il.max(initial=0), self.a_ol.max(initial=0))) + 2
        b_keys_all = b_src * self.span + (b_il + 1)
        self.b_order = np.argsort(b_keys_all, kind="stable")
        self.b_keys = b_keys_all[self.b_order]
        self.table = None
        if b.num_nodes * self.span <= _DENSE_LIMIT:
            lo = np.searchsorted(self.b_keys, np.arange(b.num_nodes * self.span), "left")
            self.table = (lo, np.diff(np.append(lo, self.b_keys.size)))
        keyspace = a.num_nodes * self.nbl * 2
        self.dense = np.full(keyspace, -1, dtype=np.int64) if keyspace <= _DENSE_LIMIT else None
        self.lookup: dict[int, int] = {}

    def b_range(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(first, count)`` of ``b``'s sorted arcs with key ``node * span + ilabel + 1``."""
        if self.table is not None:
            return self.table[0][k], self.table[1][k]
        lo = np.searchsorted(self.b_keys, k, "left")
        return lo, np.searchsorted(self.b_keys, k, "right") - lo

    def key(self, qa, qb, fs):
        return (qa * self.nbl + self.b_local[qb]) * 2 + fs

    def ids(self, keys: np.ndarray) -> np.ndarray:
        """State ids of known keys (-1 where unknown)."""
        if self.dense is not None:
            return self.dense[keys]
        return np.array([self.lookup.get(x, -1) for x in keys.tolist()], dtype=np.int64)

    def add_new(self, cand: np.ndarray, first_id: int) -> np.ndarray:
        """Number the keys of ``cand`` not seen before from ``first_id`` on, in order of first
        appearance; returns the new keys."""
        if self.dense is not None:
            cand = cand[self.dense[cand] < 0]
            pos = np.arange(cand.size)
            self.dense[cand] = -2 - pos  # de-duplicate without sorting
            new = cand[self.dense[cand] == -2 - pos]
            self.dense[new] = np.arange(first_id, first_id + new.size)
            return new
        new, seen = [], set()
        for c in cand.tolist():
            if c not in self.lookup and c not in seen:
                seen.add(c)
                new.append(c)
        self.lookup.update(zip(new, range(first_id, first_id + len(new))))
        return np.array(new, dtype=np.int64)

    def final_states(self) -> np.ndarray:
        """Ids of the states ``(final of a, final of b, any filter)`` that were reached, sorted."""
        bsel = np.arange(self.B) if self.paired else np.zeros(self.B, dtype=np.int64)
        fa, fb = self.a.finals.numpy(), self.b.finals.numpy()[bsel]
        fids = self.ids(np.concatenate([self.key(fa, fb, 0), self.key(fa, fb, 1)]))
        return np.sort(fids[fids >= 0])


def _expand(ix: _Index):
    """Step 2 of :func:`compose`: the breadth-first expansion, one vectorised step per frontier over the
    whole batch: matching moves, then ``a``-epsilon moves (filter state 0 only), then ``b``-epsilon
    moves. Returns the states ``qa, qb, fs (n,)`` (the first ``B`` the starts) and the arcs ``src,
    dst, amap, bmap``."""
    a, b, B = ix.a, ix.b, ix.B
    fr_qa = a.starts.numpy().astype(np.int64)
    fr_qb = b.starts.numpy()[np.arange(B) if ix.paired else np.zeros(B, dtype=np.int64)]
    fr_fs = np.zeros(B, dtype=np.int64)
    ix.add_new(ix.key(fr_qa, fr_qb, fr_fs), 0)
    st_qa, st_qb, st_fs = [fr_qa], [fr_qb], [fr_fs]
    n_states, fr = B, np.arange(B)
    arcs_src, arcs_dst, arcs_a, arcs_b = [], [], [], []
    b_eps_filter = int(ix.has_a_eps)  # no epsilon in a: nothing to order, every state keeps filter 0
    while fr.size:
        first_move = len(arcs_dst)
        # 1. matching moves: a's non-epsilon arcs x b's arcs with the same (input) label
        cnt = ix.a_ne_cnt[fr_qa]
        rep = np.repeat(np.arange(fr.size), cnt)
        aidx = ix.a_order[expand_ranges(ix.a_ne_lo[fr_qa], cnt)]
        blo, bcnt = ix.b_range(fr_qb[rep] * ix.span + (ix.a_ol[aidx] + 1))
        rep2 = np.repeat(np.arange(aidx.size), bcnt)
        m_a, m_b = aidx[rep2], ix.b_order[expand_ranges(blo, bcnt)]
        arcs_src.append(fr[rep[rep2]])
        arcs_dst.append(ix.key(ix.a_dst[m_a], ix.b_dst[m_b], 0))
        arcs_a.append(m_a), arcs_b.append(m_b)
        if ix.has_a_eps:  # 2. a-epsilon moves (filter state 0 only): b stays
            ok = np.flatnonzero(fr_fs == 0)
            cnt = ix.a_eps[fr_qa[ok]]
            rep = ok[np.repeat(np.arange(ok.size), cnt)]
            e_a = ix.a_order[expand_ranges(ix.a_ptr[fr_qa[ok]], cnt)]
            arcs_src.append(fr[rep])
            arcs_dst.append(ix.key(ix.a_dst[e_a], fr_qb[rep], 0))
            arcs_a.append(e_a), arcs_b.append(np.full(e_a.size, -1, dtype=np.int64))
        if ix.has_b_eps:  # 3. b-epsilon moves: a stays
            blo, bcnt = ix.b_range(fr_qb * ix.span)  # ilabel EPSILON -> key offset 0
            f_b = ix.b_order[expand_ranges(blo, bcnt)]
            rep = np.repeat(np.arange(fr.size), bcnt)
            arcs_src.append(fr[rep])
            arcs_dst.append(ix.key(fr_qa[rep], ix.b_dst[f_b], b_eps_filter))
            arcs_a.append(np.full(f_b.size, -1, dtype=np.int64)), arcs_b.append(f_b)
        new = ix.add_new(np.concatenate(arcs_dst[first_move:]), n_states)
        fr = np.arange(n_states, n_states + new.size)
        n_states += new.size
        fr_fs, rest = new % 2, new // 2
        fr_qa = rest // ix.nbl
        fr_qb = rest % ix.nbl + ix.b_base(fr_qa)
        st_qa.append(fr_qa), st_qb.append(fr_qb), st_fs.append(fr_fs)
    dst = ix.ids(np.concatenate(arcs_dst))
    return (np.concatenate(st_qa), np.concatenate(st_qb), np.concatenate(st_fs), np.concatenate(arcs_src), dst,
            np.concatenate(arcs_a), np.concatenate(arcs_b))


def _epsilon_levels(b: Graph) -> np.ndarray:
    """Longest-path level of every node of ``b`` over its epsilon-input arcs (-1 on or after a cycle)."""
    if "eps_levels" not in b._cache:
        b_eps = b.ilabel.numpy() == EPSILON
        b_src, b_dst = b.numpy_arcs()
        b._cache["eps_levels"] = (longest_path_levels(b.num_nodes, b_src[b_eps], b_dst[b_eps]) if b_eps.any()
                                  else np.zeros(b.num_nodes, dtype=np.int64))
    return b._cache["eps_levels"]


def _join_finals(B, graph_of, fids, src, dst, amap, bmap, keep):
    """Give every graph with several final states that have out-arcs one new final state, reached from
    each of them by an epsilon arc (a cyclic ``a`` only: merging such states would join filter states).

    Returns ``(fids, src, dst, amap, bmap, keep, graph_of)`` with the new states appended."""
    has_out = np.zeros(keep.size, dtype=bool)
    has_out[src] = True
    per_graph = np.bincount(graph_of[fids], minlength=B)
    busy = np.bincount(graph_of[fids], weights=has_out[fids], minlength=B) > 0
    join = np.flatnonzero((per_graph > 1) & busy)
    if not join.size:
        return fids, src, dst, amap, bmap, keep, graph_of
    new_id = np.full(B, -1, dtype=np.int64)
    new_id[join] = keep.size + np.arange(join.size)
    from_f = fids[new_id[graph_of[fids]] >= 0]
    none = np.full(from_f.size, -1, dtype=np.int64)
    src, dst = np.concatenate([src, from_f]), np.concatenate([dst, new_id[graph_of[from_f]]])
    amap, bmap = np.concatenate([amap, none]), np.concatenate([bmap, none])
    fids = np.concatenate([fids[new_id[graph_of[fids]] < 0], new_id[join]])
    keep = np.concatenate([keep, np.ones(join.size, dtype=bool)])
    return fids, src, dst, amap, bmap, keep, np.concatenate([graph_of, join])


def _finish(a, b, qa, qb, fs, src, dst, amap, bmap, fids):
    """Trim, order topologically, merge the final filter states, and build the output graph.

    ``qa, qb, fs`` (n,) are the states of the expansion (the first ``B`` the starts), ``src, dst, amap,
    bmap`` its arcs, ``fids`` the final states."""
    B, n = a.batch_size, qa.size
    keep = reachable(n, dst, src, fids)  # all states are accessible (BFS); keep the co-accessible ones
    keep_arc = keep[src] & keep[dst]
    src, dst, amap, bmap = src[keep_arc], dst[keep_arc], amap[keep_arc], bmap[keep_arc]
    keep[:B] = True  # start states stay even when no path exists
    graph_of = a.node_batch.numpy()[qa]
    # Topological order: (qa, epsilon-level of qb in b) is one when a is acyclic and b has no
    # reachable epsilon cycle. Final states go last in their graph (then they have no out-arcs).
    lvl = _epsilon_levels(b)
    acyclic = True
    if not a.acyclic or (lvl[qb[keep]] < 0).any():
        if not a.acyclic:
            fids, src, dst, amap, bmap, keep, graph_of = _join_finals(B, graph_of, fids, src, dst, amap, bmap, keep)
        n = keep.size
        is_final = np.zeros(n, dtype=bool)
        is_final[fids] = True
        rank = longest_path_levels(n, src, dst)
        acyclic = not (rank < 0).any()
        if not acyclic and a.acyclic:
            raise ValueError("[gtn.compose] the composition is cyclic: b has a cycle of epsilon-input arcs "
                             "reachable from the matched states")
        order = np.lexsort((np.arange(n), rank if acyclic else np.zeros(n, dtype=np.int64), is_final, graph_of))
        layering = None
    else:
        is_final = np.zeros(n, dtype=bool)
        is_final[fids] = True
        nl = int(lvl.max(initial=0)) + 1
        layering = a.levels()[qa] * nl + lvl[qb]
        # a's node ids already group the graphs; finals get the slot just past their graph's nodes
        slot = np.where(is_final, a.node_offsets.numpy()[graph_of + 1] * 2 - 1, qa * 2)
        qb_local = qb - (b.node_offsets.numpy()[graph_of] if b.batch_size == B else 0)
        order = np.lexsort((fs, qb_local, lvl[qb], slot))
    order = order[keep[order]]
    g_sorted, f_sorted = graph_of[order], is_final[order]
    # one new node per kept state, except that the final states of a graph share one node
    same = np.zeros(order.size, dtype=bool)
    same[1:] = f_sorted[1:] & f_sorted[:-1] & (g_sorted[1:] == g_sorted[:-1])
    seq = np.cumsum(~same) - 1  # global sequential id in sorted order
    per_graph = np.bincount(g_sorted[~same], minlength=B)
    has_final = np.bincount(graph_of[fids], minlength=B) > 0
    sizes = per_graph + ~has_final  # a graph without any path gets a fresh, isolated final node
    offsets = np.zeros(B + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    first_seq = np.zeros(B, dtype=np.int64)
    first_seq[1:] = np.cumsum(per_graph)[:-1]
    node_new = np.full(n, -1, dtype=np.int64)
    node_new[order] = seq - first_seq[g_sorted] + offsets[g_sorted]
    starts, finals = node_new[:B], offsets[1:] - 1
    s_new, d_new = node_new[src], node_new[dst]
    arc_order = np.lexsort((s_new, d_new))  # by destination, source, then expansion order (stable)
    s_new, d_new, amap, bmap = s_new[arc_order], d_new[arc_order], amap[arc_order], bmap[arc_order]
    arc_offsets = np.zeros(B + 1, dtype=np.int64)
    np.cumsum(np.bincount(graph_of[src], minlength=B), out=arc_offsets[1:])
    hint = None
    if layering is not None:  # a valid layering for scoring: (level of qa in a, epsilon-level of qb in b)
        hint = np.zeros(int(offsets[-1]), dtype=np.int64)
        hint[node_new[order]] = layering[order]
    return _build(a, b, s_new, d_new, amap, bmap, offsets, arc_offsets, starts, finals, hint, acyclic=acyclic)


def _build(a, b, src, dst, amap, bmap, offsets, arc_offsets, starts, finals, hint, *, acyclic=True, labels=None):
    """The output graph from its numbered arcs and arc maps (labels, unless given, and penalties gathered
    from a, b). Arcs are sorted by destination when ``acyclic``: marked so for the scoring plan."""
    dtype = torch.promote_types(a.penalty.dtype, b.penalty.dtype)
    parts = [gather_penalty(g.penalty, m, dtype) for g, m in ((a, amap), (b, bmap))
             if g.penalty.requires_grad or bool(g.penalty.detach().any())]  # an all-zero side adds nothing
    penalty = sum(parts[1:], parts[0]) if parts else torch.zeros(amap.size, dtype=dtype)
    if labels is None:
        labels = (np.where(amap >= 0, a.ilabel.numpy()[np.maximum(amap, 0)], EPSILON),
                  np.where(bmap >= 0, b.olabel.numpy()[np.maximum(bmap, 0)], EPSILON))
    ilabel, olabel = labels
    t = torch.from_numpy
    g = Graph._raw(t(src), t(dst), t(ilabel), t(olabel), penalty, num_nodes=int(offsets[-1]),
                   starts=t(starts), finals=t(finals), node_offsets=t(offsets), arc_offsets=t(arc_offsets),
                   acyclic=acyclic)
    if hint is not None:
        g._cache["node_levels"] = hint
    if acyclic:
        g._cache["arcs_sorted"] = True  # by destination, no arc into a start or out of a final
    return g, (t(amap), t(bmap))


def sorted_out_arcs(kernel, g: Graph, side: str) -> tuple[np.ndarray, np.ndarray]:
    """``(ptr (N + 1,), order (A,))``: each node's out-arcs sorted by ``side`` label ("ilabel" or
    "olabel"), then arc id (compiled kernel; cached on the graph's structure)."""
    key = f"sorted_out_{side}"
    if key not in g._cache:
        src, _ = g.numpy_arcs()
        lab = np.ascontiguousarray(getattr(g, side).numpy(), dtype=np.int64)
        ptr = np.empty(g.num_nodes + 1, dtype=np.int64)
        order = np.empty(src.size, dtype=np.int64)
        kernel.sort_arcs(np.ascontiguousarray(src, dtype=np.int64), lab, ptr, order)
        g._cache[key] = (ptr, order)
    return g._cache[key]


def _compose_frames(kernel, a: Graph, b: Graph):
    """:func:`compose` of frame graphs (:func:`gtn.frame_graph`) with ``b`` on the kernel's fast path: no
    state table, no expansion queue; the same graph as the general expansion (tested)."""
    lens, num_classes = a._cache["frames"]
    B = a.batch_size
    b_ptr, b_ord = sorted_out_arcs(kernel, b, "ilabel")
    b_src, b_dst = b.numpy_arcs()
    bsel = np.arange(B) if b.batch_size == B else np.zeros(B, dtype=np.int64)
    c = np.ascontiguousarray
    out = kernel.compose_frames(c(lens, dtype=np.int64), c(a.node_offsets.numpy(), dtype=np.int64),
                                c(a.arc_offsets.numpy(), dtype=np.int64), b_ptr, b_ord, c(b_dst, dtype=np.int64),
                                c(b.ilabel.numpy(), dtype=np.int64), c(b.node_offsets.numpy(), dtype=np.int64),
                                c(b.starts.numpy()[bsel], dtype=np.int64), c(b.finals.numpy(), dtype=np.int64),
                                c(_epsilon_levels(b), dtype=np.int64),
                                np.array([num_classes, int(b.batch_size == B), threads()], dtype=np.int64),
                                c(b_src, dtype=np.int64), c(b.olabel.numpy(), dtype=np.int64))
    src, dst, amap, bmap, offsets, arc_offsets, starts, finals, hint, il, ol = (np.frombuffer(x, dtype=np.int64) for x in out)
    return _build(a, b, src, dst, amap, bmap, offsets, arc_offsets, starts, finals, hint, labels=(il, ol))


def _compose_kernel(kernel, a: Graph, b: Graph, *, dense_limit: int | None = None):
    """:func:`compose` on the compiled kernel (same output as the numpy expansion). ``dense_limit``:
    the largest state-key space looked up by a dense table (else a hash table); tests force both."""
    B = a.batch_size
    a_ptr, a_ord = sorted_out_arcs(kernel, a, "olabel")
    b_ptr, b_ord = sorted_out_arcs(kernel, b, "ilabel")
    a_src, a_dst = a.numpy_arcs()
    b_src, b_dst = b.numpy_arcs()
    a_ol = np.ascontiguousarray(a.olabel.numpy(), dtype=np.int64)
    b_il = np.ascontiguousarray(b.ilabel.numpy(), dtype=np.int64)
    b_off = np.ascontiguousarray(b.node_offsets.numpy(), dtype=np.int64)
    nbl = int(np.diff(b_off).max())
    a_level = a.levels() if a.acyclic else np.zeros(0, dtype=np.int64)
    bsel = np.arange(B) if b.batch_size == B else np.zeros(B, dtype=np.int64)
    start_b = b.starts.numpy()[bsel]
    has_a_eps = bool((a_ol == EPSILON).any())
    has_b_eps = bool((b_il == EPSILON).any())
    if dense_limit is None:
        dense_limit = max(1 << 20, 8 * (a.num_arcs + b.num_arcs + a.num_nodes))
    params = np.array([nbl, int(b.batch_size == B), has_a_eps, has_b_eps, dense_limit], dtype=np.int64)
    c = np.ascontiguousarray
    out = kernel.compose(a_ptr, a_ord, c(a_dst, dtype=np.int64), a_ol, c(a.node_batch.numpy(), dtype=np.int64),
                         c(a.finals.numpy(), dtype=np.int64), c(a.node_offsets.numpy(), dtype=np.int64),
                         c(a_level, dtype=np.int64), b_ptr, b_ord, c(b_dst, dtype=np.int64), b_il, b_off,
                         c(b.finals.numpy(), dtype=np.int64), c(_epsilon_levels(b), dtype=np.int64),
                         c(a.starts.numpy(), dtype=np.int64), c(start_b, dtype=np.int64), params)
    arrays = [np.frombuffer(x, dtype=np.int64) for x in out[1:]]
    if out[0] == "raw":
        return _finish(a, b, *arrays)
    src, dst, amap, bmap, offsets, arc_offsets, starts, finals, hint = arrays
    return _build(a, b, src, dst, amap, bmap, offsets, arc_offsets, starts, finals, hint)
