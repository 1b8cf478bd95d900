"""``gtn.Graph``: a (batch of) weighted transducer(s) held as flat per-arc tensors.

docs/paper.md Sec. IV: arcs carry a symbolic label, a numeric penalty (lower is better, a cost = -log score)
and optionally data (the image piece of a segmentation arc). A graph here is one start node, one final
node and ``A`` arcs stored as tensors ``src, dst, ilabel, olabel (A,)``, ``penalty (A,)``, ``data (A, ...)``;
a batch is the disjoint union of several graphs plus offsets saying which nodes and arcs belong to which
graph, so that every algorithm runs over the whole batch in one vectorised pass.

Acyclic graphs (the default, and the only kind the scoring functions accept) are numbered
topologically: ``src < dst`` for every arc. ``acyclic=False`` admits cycles (grammars with loops,
character models with self-loops); such graphs can be the right operand of :func:`gtn.compose`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from gtn._arrays import longest_path_levels, reachable

EPSILON = -1
"""The empty label (consumes / emits nothing)."""

MAX_PENALTY = 1e20
"""The largest arc penalty magnitude accepted: scoring marks unreached nodes with -1e30, so path
penalties must stay far below it (a penalty of 1e29 would read as 'no path')."""


def _as_long(x: Any, name: str) -> torch.Tensor:
    t = torch.as_tensor(x)
    if t.numel() == 0:
        return torch.zeros(0, dtype=torch.long)
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        if t.is_floating_point() and torch.equal(t, t.round()):
            return t.long().reshape(-1)
        raise ValueError(f"[gtn.Graph] {name} must hold integers, got dtype {t.dtype}")
    return t.long().reshape(-1)


class Graph:
    """One acyclic weighted transducer, or a batch of them (a disjoint union).

    Shapes: ``A`` arcs, ``N`` nodes, ``B`` graphs in the batch (1 for a plain graph).

    Args:
        src, dst: int ``(A,)`` arc endpoints (lists accepted).
        ilabel: int ``(A,)`` input labels, ``>= 0`` or ``EPSILON``.
        olabel: int ``(A,)`` output labels; ``None`` makes an acceptor (``olabel = ilabel``).
        penalty: float ``(A,)`` arc penalties (default zeros); may require grad. Lower is better.
        num_nodes: number of nodes ``N`` (keyword-only).
        start: the start node (default 0).
        final: the final node (default ``num_nodes - 1``), or a sequence of final nodes: several
            finals are joined by epsilon arcs (penalty 0) into one new final node ``num_nodes``
            (so the graph then has ``num_nodes + 1`` nodes); the accepted paths are the same.
        data: optional per-arc payload ``(A, ...)``, e.g. piece images ``(A, 1, 32, 32)``.
        validate: check the invariants below (ops that build correct graphs pass ``False``).
        acyclic: require ``src < dst`` for every arc (default). ``False`` admits cycles.

    Raises:
        ValueError: ``"[gtn.Graph] ..."`` for mismatched lengths, an arc to a missing node, an arc with
            ``src >= dst`` (a cycle, or nodes not numbered topologically), an unreachable final node,
            a non-finite penalty, or a label below ``EPSILON``.
    """

    def __init__(
        self,
        src: Any,
        dst: Any,
        ilabel: Any,
        olabel: Any = None,
        penalty: Any = None,
        *,
        num_nodes: int,
        start: int = 0,
        final: int | Sequence[int] | None = None,
        data: torch.Tensor | None = None,
        validate: bool = True,
        acyclic: bool = True,
    ) -> None:
        num_nodes = int(num_nodes)
        src_t, dst_t = _as_long(src, "src"), _as_long(dst, "dst")
        il = _as_long(ilabel, "ilabel")
        ol = il if olabel is None else _as_long(olabel, "olabel")
        if penalty is None:
            pen = torch.zeros(src_t.numel(), dtype=torch.get_default_dtype())
        else:
            pen = torch.as_tensor(penalty)
            if not pen.is_floating_point():
                pen = pen.to(torch.get_default_dtype())
            if pen.dim() != 1:
                pen = pen.reshape(-1)
        if final is None:
            final = num_nodes - 1
        elif not isinstance(final, (int, np.integer)) and not (torch.is_tensor(final) and final.dim() == 0):
            finals = sorted({int(f) for f in _as_long(final, "final").tolist()})
            if not finals:
                raise ValueError("[gtn.Graph] final: expected a node or a non-empty sequence of nodes")
            bad = [f for f in finals if not 0 <= f < num_nodes]
            if bad:
                raise ValueError(f"[gtn.Graph] final node {bad[0]} does not exist (graph has {num_nodes} nodes)")
            if len(finals) == 1:
                final = finals[0]
            else:  # one new final node, reached from each final by an epsilon arc of penalty 0
                k = len(finals)
                join = torch.full((k,), EPSILON, dtype=torch.long)
                src_t = torch.cat([src_t, torch.tensor(finals, dtype=torch.long)])
                dst_t = torch.cat([dst_t, torch.full((k,), num_nodes, dtype=torch.long)])
                il, ol = torch.cat([il, join]), torch.cat([ol, join])
                if pen.numel() == src_t.numel() - k:
                    pen = torch.cat([pen, pen.new_zeros(k)])
                if data is not None:
                    raise ValueError("[gtn.Graph] several final nodes and per-arc data: join the finals yourself")
                final, num_nodes = num_nodes, num_nodes + 1
        final = int(final)
        self._set(src_t, dst_t, il, ol, pen, data, num_nodes,
                  torch.tensor([int(start)]), torch.tensor([final]),
                  torch.tensor([0, num_nodes]), torch.tensor([0, src_t.numel()]), acyclic)
        if validate:
            self.validate()

    # ------------------------------------------------------------------ construction helpers
    def _set(self, src, dst, ilabel, olabel, penalty, data, num_nodes, starts, finals,
             node_offsets, arc_offsets, acyclic) -> None:
        self.src, self.dst, self.ilabel, self.olabel = src, dst, ilabel, olabel
        self.penalty = penalty
        self.data = data
        self.num_nodes = int(num_nodes)
        self.starts, self.finals = starts, finals
        self.node_offsets, self.arc_offsets = node_offsets, arc_offsets
        self.acyclic = bool(acyclic)
        self._cache: dict[str, Any] = {}

    @classmethod
    def _raw(cls, src, dst, ilabel, olabel, penalty, *, num_nodes, starts, finals, node_offsets,
             arc_offsets, data=None, acyclic=True) -> "Graph":
        """Build without copying or validating (internal: for ops whose output is correct by construction)."""
        g = cls.__new__(cls)
        g._set(src, dst, ilabel, olabel, penalty, data, num_nodes, starts, finals, node_offsets,
               arc_offsets, acyclic)
        return g

    def with_penalty(self, penalty: torch.Tensor) -> "Graph":
        """Same structure (and cached scoring plans), new penalties ``(A,)``: cheap, keeps autograd."""
        penalty = torch.as_tensor(penalty)
        if penalty.shape != (self.num_arcs,):
            raise ValueError(f"[gtn.Graph.with_penalty] expected shape ({self.num_arcs},), got {tuple(penalty.shape)}")
        g = Graph._raw(self.src, self.dst, self.ilabel, self.olabel, penalty, num_nodes=self.num_nodes,
                       starts=self.starts, finals=self.finals, node_offsets=self.node_offsets,
                       arc_offsets=self.arc_offsets, data=self.data, acyclic=self.acyclic)
        g._cache = self._cache  # structure-only caches are shared
        return g

    # ------------------------------------------------------------------ properties
    @property
    def num_arcs(self) -> int:
        """``A``, the number of arcs (over the whole batch)."""
        return int(self.src.numel())

    @property
    def batch_size(self) -> int:
        """``B``, the number of graphs held (1 for a plain graph)."""
        return int(self.starts.numel())

    @property
    def start(self) -> int:
        """The start node of a single graph (use ``starts`` for a batch)."""
        if self.batch_size != 1:
            raise ValueError(f"[gtn.Graph.start] a batch of {self.batch_size} graphs has one start per graph; use .starts")
        return int(self.starts[0])

    @property
    def final(self) -> int:
        """The final node of a single graph (use ``finals`` for a batch)."""
        if self.batch_size != 1:
            raise ValueError(f"[gtn.Graph.final] a batch of {self.batch_size} graphs has one final per graph; use .finals")
        return int(self.finals[0])

    @property
    def node_batch(self) -> torch.Tensor:
        """int64 ``(N,)``: the graph each node belongs to."""
        if "node_batch" not in self._cache:
            self._cache["node_batch"] = torch.repeat_interleave(
                torch.arange(self.batch_size), self.node_offsets.diff())
        return self._cache["node_batch"]

    @property
    def arc_batch(self) -> torch.Tensor:
        """int64 ``(A,)``: the graph each arc belongs to."""
        if "arc_batch" not in self._cache:
            self._cache["arc_batch"] = torch.repeat_interleave(
                torch.arange(self.batch_size), self.arc_offsets.diff())
        return self._cache["arc_batch"]

    @property
    def is_acceptor(self) -> bool:
        """True when every arc has ``ilabel == olabel``."""
        return bool(torch.equal(self.ilabel, self.olabel))

    def numpy_arcs(self) -> tuple[np.ndarray, np.ndarray]:
        """``(src, dst)`` as int64 numpy arrays (cached; structure only)."""
        if "np_arcs" not in self._cache:
            self._cache["np_arcs"] = (self.src.numpy(), self.dst.numpy())
        return self._cache["np_arcs"]

    def levels(self) -> np.ndarray:
        """A layering of the nodes, int64 ``(N,)`` with ``levels[src] < levels[dst]`` for every arc (cached).

        Longest-path depth from the sources unless an op that built the graph supplied a cheaper valid
        layering (frame graphs: the frame index; compositions: derived from the operands). Scoring
        runs one vectorised step per distinct level.
        """
        if "node_levels" not in self._cache:
            if not self.acyclic:
                raise ValueError("[gtn.Graph.levels] the graph was built with acyclic=False")
            src, dst = self.numpy_arcs()
            self._cache["node_levels"] = longest_path_levels(self.num_nodes, src, dst)
        return self._cache["node_levels"]

    # ------------------------------------------------------------------ validation
    def validate(self) -> "Graph":
        """Check the invariants listed in the class docstring; returns ``self``.

        Raises:
            ValueError: ``"[gtn.Graph] ..."`` naming the first offending arc or node.
        """
        a, n = self.num_arcs, self.num_nodes
        for name, t in (("dst", self.dst), ("ilabel", self.ilabel), ("olabel", self.olabel), ("penalty", self.penalty)):
            if t.dim() != 1 or t.numel() != a:
                raise ValueError(f"[gtn.Graph] {name} has shape {tuple(t.shape)} but src has {a} arcs")
        if self.data is not None and (not hasattr(self.data, "shape") or len(self.data) != a):
            raise ValueError(f"[gtn.Graph] data must have one entry per arc ({a}), got {getattr(self.data, 'shape', type(self.data))}")
        if n < 1:
            raise ValueError(f"[gtn.Graph] a graph needs at least one node, got num_nodes={n}")
        src, dst = self.src.numpy(), self.dst.numpy()
        lo, hi = self.node_offsets[:-1].numpy(), self.node_offsets[1:].numpy()
        for name, nodes in (("start", self.starts.numpy()), ("final", self.finals.numpy())):
            bad = np.flatnonzero((nodes < lo) | (nodes >= hi))
            if bad.size:
                raise ValueError(f"[gtn.Graph] {name} node {int(nodes[bad[0]])} does not exist (graph has {n} nodes)")
        for name, nodes in (("src", src), ("dst", dst)):
            bad = np.flatnonzero((nodes < 0) | (nodes >= n))
            if bad.size:
                i = int(bad[0])
                raise ValueError(f"[gtn.Graph] arc {i} ({int(src[i])} -> {int(dst[i])}) goes to a missing node: "
                                 f"{name} must be in [0, {n})")
        for name, lab in (("ilabel", self.ilabel), ("olabel", self.olabel)):
            bad = torch.nonzero(lab < EPSILON).flatten()
            if bad.numel():
                i = int(bad[0])
                raise ValueError(f"[gtn.Graph] {name} {int(lab[i])} of arc {i} is invalid: labels are >= 0 or gtn.EPSILON (-1)")
        pen = self.penalty.detach()
        finite = torch.isfinite(pen) & (pen.abs() <= MAX_PENALTY)
        if not bool(finite.all()):
            i = int(torch.nonzero(~finite).flatten()[0])
            raise ValueError(f"[gtn.Graph] penalty of arc {i} ({int(src[i])} -> {int(dst[i])}) is "
                             f"{float(self.penalty[i])}; penalties must be finite and within +-{MAX_PENALTY:g}")
        if self.batch_size > 1:
            nb = self.node_batch.numpy()
            bad = np.flatnonzero(nb[src] != nb[dst])
            if bad.size:
                raise ValueError(f"[gtn.Graph] arc {int(bad[0])} joins two different graphs of the batch")
        if self.acyclic:
            bad = np.flatnonzero(src >= dst)
            if bad.size:
                i = int(bad[0])
                cyclic = (longest_path_levels(n, src, dst) < 0).any()
                why = "the graph has a cycle" if cyclic else "nodes are not numbered in topological order"
                raise ValueError(f"[gtn.Graph] arc {i} goes from node {int(src[i])} to node {int(dst[i])}: {why} "
                                 f"(acyclic graphs need src < dst for every arc; see gtn.topsort, or pass acyclic=False)")
        seen = reachable(n, src, dst, self.starts.numpy())
        bad = np.flatnonzero(~seen[self.finals.numpy()])
        if bad.size:
            b = int(bad[0])
            where = f" of graph {b} in the batch" if self.batch_size > 1 else ""
            raise ValueError(f"[gtn.Graph] final node {int(self.finals[b])}{where} is not reachable from "
                             f"start node {int(self.starts[b])}")
        return self

    # ------------------------------------------------------------------ conversions (delegating)
    @classmethod
    def from_str(cls, text: str, *, acyclic: bool = True, dtype: torch.dtype | None = None) -> "Graph":
        """Parse the gtn text format (see :mod:`gtn.textio`)."""
        from gtn.textio import graph_from_str
        return graph_from_str(text, acyclic=acyclic, dtype=dtype)

    def to_str(self) -> str:
        """Write the gtn text format (see :mod:`gtn.textio`)."""
        from gtn.textio import graph_to_str
        return graph_to_str(self)

    def to_networkx(self):
        """See :func:`gtn.to_networkx`."""
        from gtn.draw import to_networkx
        return to_networkx(self)

    def to_dot(self, **kwargs) -> str:
        """See :func:`gtn.to_dot`."""
        from gtn.draw import to_dot
        return to_dot(self, **kwargs)

    def draw(self, path, **kwargs):
        """Write a PNG drawing; see :func:`gtn.draw`."""
        from gtn.draw import draw
        return draw(self, path, **kwargs)

    def to_openfst(self, **kwargs) -> str:
        """AT&T text; see :func:`gtn.to_openfst`."""
        from gtn.openfst import to_openfst
        return to_openfst(self, **kwargs)

    @classmethod
    def from_openfst(cls, text: str, **kwargs) -> "Graph":
        """Read AT&T text; see :func:`gtn.from_openfst`."""
        from gtn.openfst import from_openfst
        return from_openfst(text, **kwargs)

    def __repr__(self) -> str:
        kind = "acceptor" if self.is_acceptor else "transducer"
        cyc = "" if self.acyclic else ", cyclic allowed"
        if self.batch_size == 1:
            return (f"gtn.Graph({kind}, {self.num_nodes} nodes, {self.num_arcs} arcs, "
                    f"start={self.start}, final={self.final}{cyc})")
        return f"gtn.Graph(batch of {self.batch_size} {kind}s, {self.num_nodes} nodes, {self.num_arcs} arcs{cyc})"

    def __len__(self) -> int:
        return self.batch_size


def topsort(src: Sequence[int], dst: Sequence[int], num_nodes: int) -> np.ndarray:
    """A topological renumbering: ``new_id (N,)`` such that ``new_id[src] < new_id[dst]`` for every arc.

    Raises:
        ValueError: if the arcs form a cycle.
    """
    src_a, dst_a = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
    level = longest_path_levels(int(num_nodes), src_a, dst_a)
    if (level < 0).any():
        raise ValueError(f"[gtn.topsort] the graph has a cycle through node {int(np.flatnonzero(level < 0)[0])}")
    order = np.lexsort((np.arange(num_nodes), level))
    new_id = np.empty(num_nodes, dtype=np.int64)
    new_id[order] = np.arange(num_nodes)
    return new_id
