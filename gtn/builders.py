"""Builders for common graphs: frame graphs of per-frame penalties, label strings, CTC topologies.

docs/paper.md Sec. VII: the SDNN output sequence ``(T, C)`` "becomes a graph (one arc per position and
class)": :func:`frame_graph`. Sec. VI: the constrained graph is the interpretation graph composed with
the target string: :func:`string_graph`. :func:`ctc_graph` is the CTC topology (blank, repeats), used
to check the discriminative forward criterion against ``torch.nn.functional.ctc_loss``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from gtn.graph import EPSILON, MAX_PENALTY, Graph


def frame_graph(penalties: torch.Tensor, *, lengths: Sequence[int] | torch.Tensor | None = None) -> Graph:
    """A chain of ``T`` frames with one arc per class: ``(B, T, C)`` or ``(T, C)`` -> batch of ``B`` graphs.

    Node ``t`` -> ``t + 1`` carries arcs labelled ``0..C-1`` with penalty ``penalties[b, t, c]``
    (autograd flows straight into ``penalties``). Arc order is ``(b, t, c)``.

    Args:
        penalties: float ``(B, T, C)`` (or ``(T, C)`` for one graph); must be finite.
        lengths: optional ``(B,)`` frame counts ``<= T`` (frames beyond are dropped).

    Raises:
        ValueError: ``"[gtn.frame_graph] ..."`` for a wrong rank, bad lengths or non-finite penalties.
    """
    if penalties.dim() == 2:
        penalties = penalties.unsqueeze(0)
    if penalties.dim() != 3:
        raise ValueError(f"[gtn.frame_graph] expected penalties (B, T, C) or (T, C), got {tuple(penalties.shape)}")
    detached = penalties.detach()
    if not bool((torch.isfinite(detached) & (detached.abs() <= MAX_PENALTY)).all()):
        raise ValueError(f"[gtn.frame_graph] penalties must be finite and within +-{MAX_PENALTY:g}")
    B, T, C = penalties.shape
    lens = np.full(B, T, dtype=np.int64) if lengths is None else np.asarray(torch.as_tensor(lengths).cpu(), dtype=np.int64).reshape(-1)
    if lens.shape != (B,) or (lens < 0).any() or (lens > T).any():
        raise ValueError(f"[gtn.frame_graph] lengths must be B={B} integers in [0, {T}], got {lens.tolist()}")
    node_offsets = np.zeros(B + 1, dtype=np.int64)
    np.cumsum(lens + 1, out=node_offsets[1:])
    full = bool((lens == T).all())
    frame_src = (node_offsets[:-1, None] + np.arange(T)[None, :]).reshape(-1)  # (B*T,) node of (b, t)
    if full:
        src = np.repeat(frame_src, C)
        c = np.tile(np.arange(C, dtype=np.int64), B * T)
        penalty = penalties.reshape(-1)
    else:
        keep_bt = (np.arange(T)[None, :] < lens[:, None]).reshape(-1)
        src = np.repeat(frame_src[keep_bt], C)
        c = np.tile(np.arange(C, dtype=np.int64), int(keep_bt.sum()))
        keep = np.repeat(keep_bt, C)
        penalty = penalties.reshape(-1)[torch.from_numpy(np.flatnonzero(keep))]
    arc_offsets = np.zeros(B + 1, dtype=np.int64)
    np.cumsum(lens * C, out=arc_offsets[1:])
    tt = torch.from_numpy
    g = Graph._raw(tt(src), tt(src + 1), tt(c), tt(c), penalty, num_nodes=int(node_offsets[-1]),
                   starts=tt(node_offsets[:-1].copy()), finals=tt(node_offsets[1:] - 1),
                   node_offsets=tt(node_offsets), arc_offsets=tt(arc_offsets))
    nodes = np.arange(int(node_offsets[-1]))
    g._cache["node_levels"] = nodes - np.repeat(node_offsets[:-1], lens + 1)  # the frame index
    g._cache["frames"] = (lens, C)  # structure marker for gtn.compose's fast path
    g._cache["arcs_sorted"] = True  # by destination (t + 1): its own scoring plan on the kernel
    return g


def string_graph(labels: Sequence[int], *, penalty_dtype: torch.dtype | None = None) -> Graph:
    """The acceptor of exactly one label string: ``L`` labels -> ``L + 1`` nodes, ``L`` arcs (penalty 0)."""
    labs = [int(x) for x in labels]
    if any(x < 0 for x in labs):
        raise ValueError(f"[gtn.string_graph] labels must be >= 0, got {labs}")
    n = len(labs)
    return Graph(list(range(n)), list(range(1, n + 1)), labs,
                 penalty=torch.zeros(n, dtype=penalty_dtype or torch.get_default_dtype()),
                 num_nodes=n + 1, validate=False)


def ctc_graphs(targets: Sequence[Sequence[int]] | torch.Tensor, *, lengths: Sequence[int] | torch.Tensor | None = None,
               blank: int = 0, penalty_dtype: torch.dtype | None = None) -> Graph:
    """The batch of :func:`ctc_graph` topologies of ``B`` targets, built without a loop over them.

    Args:
        targets: ``B`` label sequences, or an int ``(B, L)`` tensor / array (padded; see ``lengths``).
        lengths: ``(B,)`` target lengths for a padded ``targets`` (default: all ``L``).

    Returns:
        the same graph as ``gtn.batch([ctc_graph(t) for t in targets])`` (same nodes, arcs and order).

    Raises:
        ValueError: ``"[gtn.ctc_graphs] ..."`` for a target holding the blank or a negative label, or
            lengths that do not fit the targets.
    """
    if isinstance(targets, (torch.Tensor, np.ndarray)):
        y = np.asarray(torch.as_tensor(targets).cpu(), dtype=np.int64)
        if y.ndim != 2:
            raise ValueError(f"[gtn.ctc_graphs] expected targets (B, L), got shape {tuple(y.shape)}")
        lens = (np.full(y.shape[0], y.shape[1], dtype=np.int64) if lengths is None
                else np.asarray(torch.as_tensor(lengths).cpu(), dtype=np.int64).reshape(-1))
        if lens.shape != (y.shape[0],) or (lens < 0).any() or (lens > y.shape[1]).any():
            raise ValueError(f"[gtn.ctc_graphs] lengths must be {y.shape[0]} integers in [0, {y.shape[1]}]")
    else:
        seqs = [[int(v) for v in t] for t in targets]
        lens = np.array([len(t) for t in seqs], dtype=np.int64)
        y = np.zeros((len(seqs), int(lens.max(initial=0))), dtype=np.int64)
        for i, t in enumerate(seqs):  # one row copy per target; everything below is vectorised
            y[i, :len(t)] = t
    B, L = y.shape
    valid = np.arange(L)[None, :] < lens[:, None]
    bad = valid & ((y == blank) | (y < 0))
    if bad.any():
        b = int(np.flatnonzero(bad.any(1))[0])
        raise ValueError(f"[gtn.ctc_graphs] target {b} {y[b, :lens[b]].tolist()} contains the blank {blank} "
                         "or a negative label")
    S = 2 * lens + 1  # extended sequence blank y1 blank ... yL blank, state of ext[i] is i + 1
    Smax = 2 * L + 1
    ext = np.full((B, Smax + 2), -2, dtype=np.int64)  # -2 pads past each graph's S
    ext[:, :Smax][:, 0::2] = blank
    ext[:, 1:Smax:2] = y
    i = np.arange(Smax)[None, :]
    ext[:, :Smax] = np.where(i < S[:, None], ext[:, :Smax], -2)
    emit = np.where(ext == blank, EPSILON, ext)
    n_nodes = S + 2
    final = S + 1
    # candidate arcs in ctc_graph's order: 2 from the start, 3 per state (loop, next, skip), 2 to the final
    K = 2 + 3 * Smax + 2
    src = np.zeros((B, K), dtype=np.int64)
    dst, il, ol = np.zeros_like(src), np.zeros_like(src), np.zeros_like(src)
    ok = np.zeros((B, K), dtype=bool)
    src[:, 0], dst[:, 0], il[:, 0], ol[:, 0], ok[:, 0] = 0, 1, blank, EPSILON, True
    src[:, 1], dst[:, 1], il[:, 1], ol[:, 1], ok[:, 1] = 0, 2, ext[:, 1], emit[:, 1], S > 1
    st = i + 1  # (1, Smax)
    in_s = i < S[:, None]
    loop, nxt, skip = 2 + 3 * np.arange(Smax), 3 + 3 * np.arange(Smax), 4 + 3 * np.arange(Smax)
    src[:, loop], dst[:, loop], il[:, loop], ol[:, loop], ok[:, loop] = st, st, ext[:, :Smax], EPSILON, in_s
    src[:, nxt], dst[:, nxt], il[:, nxt], ol[:, nxt] = st, st + 1, ext[:, 1:Smax + 1], emit[:, 1:Smax + 1]
    ok[:, nxt] = i + 1 < S[:, None]
    src[:, skip], dst[:, skip], il[:, skip], ol[:, skip] = st, st + 2, ext[:, 2:Smax + 2], emit[:, 2:Smax + 2]
    ok[:, skip] = (i + 2 < S[:, None]) & (ext[:, 2:Smax + 2] != blank) & (ext[:, 2:Smax + 2] != ext[:, :Smax])
    src[:, K - 2], dst[:, K - 2], ok[:, K - 2] = S, final, True
    src[:, K - 1], dst[:, K - 1], ok[:, K - 1] = S - 1, final, S > 1
    il[:, K - 2:], ol[:, K - 2:] = EPSILON, EPSILON
    node_offsets = np.zeros(B + 1, dtype=np.int64)
    np.cumsum(n_nodes, out=node_offsets[1:])
    arc_offsets = np.zeros(B + 1, dtype=np.int64)
    np.cumsum(ok.sum(1), out=arc_offsets[1:])
    shift = node_offsets[:-1, None]
    t = torch.from_numpy
    g = Graph._raw(t((src + shift)[ok]), t((dst + shift)[ok]), t(il[ok]), t(ol[ok]),
                   torch.zeros(int(arc_offsets[-1]), dtype=penalty_dtype or torch.get_default_dtype()),
                   num_nodes=int(node_offsets[-1]), starts=t(node_offsets[:-1].copy()),
                   finals=t(node_offsets[:-1] + final), node_offsets=t(node_offsets), arc_offsets=t(arc_offsets),
                   acyclic=False)
    return g


def string_graphs(labels: Sequence[Sequence[int]], *, penalty_dtype: torch.dtype | None = None) -> Graph:
    """The batch of :func:`string_graph` acceptors of ``B`` label strings, built without a loop over arcs."""
    seqs = [np.asarray(x, dtype=np.int64).reshape(-1) for x in labels]
    lens = np.array([s.size for s in seqs], dtype=np.int64)
    flat = np.concatenate(seqs) if seqs else np.zeros(0, dtype=np.int64)
    if (flat < 0).any():
        raise ValueError(f"[gtn.string_graphs] labels must be >= 0, got {int(flat[flat < 0][0])}")
    B = lens.size
    node_offsets = np.zeros(B + 1, dtype=np.int64)
    np.cumsum(lens + 1, out=node_offsets[1:])
    arc_offsets = np.zeros(B + 1, dtype=np.int64)
    np.cumsum(lens, out=arc_offsets[1:])
    src = np.arange(flat.size, dtype=np.int64) + np.repeat(np.arange(B), lens)  # node of arc k
    t = torch.from_numpy
    return Graph._raw(t(src), t(src + 1), t(flat), t(flat.copy()),
                      torch.zeros(flat.size, dtype=penalty_dtype or torch.get_default_dtype()),
                      num_nodes=int(node_offsets[-1]), starts=t(node_offsets[:-1].copy()),
                      finals=t(node_offsets[1:] - 1), node_offsets=t(node_offsets), arc_offsets=t(arc_offsets))


def ctc_graph(target: Sequence[int], *, blank: int = 0, penalty_dtype: torch.dtype | None = None) -> Graph:
    """CTC topology for one target: input = frame labels, output = the target labels (cyclic).

    States: a start state, then the extended sequence ``blank y1 blank y2 ... yL blank`` (one state
    each, with a self-loop), then a final state reached by epsilon-input arcs from the last label and
    the last blank. Entering a label state emits the label; repeats and blanks emit ``EPSILON``. A
    label may be skipped-to over a blank only when it differs from the previous label (CTC's rule).

    Returns:
        an ``acyclic=False`` :class:`gtn.Graph` with ``2L + 3`` nodes, usable as ``b`` in
        ``gtn.compose(frame_graph, ctc_graph)``.
    """
    y = [int(x) for x in target]
    if any(x == blank or x < 0 for x in y):
        raise ValueError(f"[gtn.ctc_graph] target {y} contains the blank {blank} or a negative label")
    ext = [blank]
    for lab in y:
        ext += [lab, blank]
    S = len(ext)
    start, final = 0, S + 1  # state of ext[i] is i + 1
    src, dst, il, ol = [], [], [], []

    def arc(s, d, i, o):
        src.append(s), dst.append(d), il.append(i), ol.append(o)

    def emit(i):
        return ext[i] if ext[i] != blank else EPSILON

    arc(start, 1, ext[0], EPSILON)
    if S > 1:
        arc(start, 2, ext[1], emit(1))
    for i in range(S):
        arc(i + 1, i + 1, ext[i], EPSILON)
        if i + 1 < S:
            arc(i + 1, i + 2, ext[i + 1], emit(i + 1))
        if i + 2 < S and ext[i + 2] != blank and ext[i + 2] != ext[i]:
            arc(i + 1, i + 3, ext[i + 2], emit(i + 2))
    arc(S, final, EPSILON, EPSILON)
    if S > 1:
        arc(S - 1, final, EPSILON, EPSILON)
    return Graph(src, dst, il, ol, torch.zeros(len(src), dtype=penalty_dtype or torch.get_default_dtype()),
                 num_nodes=S + 2, start=start, final=final, acyclic=False, validate=False)
