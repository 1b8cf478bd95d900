"""Builders for common graphs: frame graphs of per-frame penalties, label strings, CTC topologies.

PAPER.md Sec. VII: the SDNN output sequence ``(T, C)`` "becomes a graph (one arc per position and
class)": :func:`frame_graph`. Sec. VI: the constrained graph is the interpretation graph composed with
the target string: :func:`string_graph`. :func:`ctc_graph` is the CTC topology (blank, repeats), used
to check the discriminative forward criterion against ``torch.nn.functional.ctc_loss``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from gtn.graph import EPSILON, Graph


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
    if not bool(torch.isfinite(penalties.detach()).all()):
        raise ValueError("[gtn.frame_graph] penalties must be finite")
    B, T, C = penalties.shape
    lens = np.full(B, T, dtype=np.int64) if lengths is None else np.asarray(torch.as_tensor(lengths).cpu(), dtype=np.int64).reshape(-1)
    if lens.shape != (B,) or (lens < 0).any() or (lens > T).any():
        raise ValueError(f"[gtn.frame_graph] lengths must be B={B} integers in [0, {T}], got {lens.tolist()}")
    b, t, c = np.meshgrid(np.arange(B), np.arange(T), np.arange(C), indexing="ij")
    keep = (t < lens[:, None, None]).reshape(-1)
    b, t, c = b.reshape(-1)[keep], t.reshape(-1)[keep], c.reshape(-1)[keep]
    node_offsets = np.zeros(B + 1, dtype=np.int64)
    np.cumsum(lens + 1, out=node_offsets[1:])
    src = node_offsets[b] + t
    flat = penalties.reshape(-1)
    penalty = flat if bool(keep.all()) else flat[torch.from_numpy(np.flatnonzero(keep))]
    arc_offsets = np.zeros(B + 1, dtype=np.int64)
    np.cumsum(lens * C, out=arc_offsets[1:])
    tt = torch.from_numpy
    g = Graph._raw(tt(src), tt(src + 1), tt(c), tt(c), penalty, num_nodes=int(node_offsets[-1]),
                   starts=tt(node_offsets[:-1].copy()), finals=tt(node_offsets[1:] - 1),
                   node_offsets=tt(node_offsets), arc_offsets=tt(arc_offsets))
    nodes = np.arange(int(node_offsets[-1]))
    g._cache["node_levels"] = nodes - np.repeat(node_offsets[:-1], lens + 1)  # the frame index
    g._cache["frames"] = (lens, C)  # structure marker for gtn.compose's fast path
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
