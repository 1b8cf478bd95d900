"""The gtn text format for graphs (fixtures in tests and docs read like the paper's figures).

::

    0            # line 1: the start node
    3            # line 2: the final node
    0 1 4 4 0.5  # src dst ilabel olabel penalty   (a transducer arc)
    1 3 7 1.25   # src dst label penalty           (an acceptor arc: olabel = ilabel)
    1 2 -1       # src dst label                   (penalty 0; -1 is gtn.EPSILON)

Blank lines and ``#`` comments are ignored. The number of nodes is one more than the largest node id
mentioned.
"""

from __future__ import annotations

import torch

from gtn.graph import Graph


def graph_from_str(text: str, *, acyclic: bool = True, dtype: torch.dtype | None = None) -> Graph:
    """Parse a graph written in the gtn text format.

    Args:
        text: the graph text (see the module docstring).
        acyclic: forwarded to :class:`gtn.Graph` (``False`` admits cycles).
        dtype: penalty dtype (default ``torch.get_default_dtype()``).

    Returns:
        the validated :class:`gtn.Graph`.

    Raises:
        ValueError: ``"[gtn.Graph.from_str] line N: ..."`` for malformed lines, and the
            :class:`gtn.Graph` validation errors.
    """
    rows: list[tuple[int, list[str]]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        body = line.split("#", 1)[0].strip()
        if body:
            rows.append((lineno, body.split()))
    if len(rows) < 2:
        raise ValueError("[gtn.Graph.from_str] expected a start line and a final line before the arcs")
    ends = []
    for lineno, fields in rows[:2]:
        if len(fields) != 1:
            raise ValueError(f"[gtn.Graph.from_str] line {lineno}: expected one node id (start, then final), got {fields}")
        ends.append(_int(fields[0], lineno))
    src, dst, il, ol, pen = [], [], [], [], []
    for lineno, fields in rows[2:]:
        if len(fields) not in (3, 4, 5):
            raise ValueError(f"[gtn.Graph.from_str] line {lineno}: expected 'src dst ilabel olabel penalty' or "
                             f"'src dst label [penalty]', got {len(fields)} fields")
        s, d, i = (_int(f, lineno) for f in fields[:3])
        o = _int(fields[3], lineno) if len(fields) == 5 else i
        p = _float(fields[-1], lineno) if len(fields) >= 4 else 0.0
        src.append(s), dst.append(d), il.append(i), ol.append(o), pen.append(p)
    num_nodes = max([ends[0], ends[1], *src, *dst]) + 1
    if min([ends[0], ends[1], *src, *dst]) < 0:
        raise ValueError("[gtn.Graph.from_str] node ids must be >= 0")
    return Graph(src, dst, il, ol, torch.tensor(pen, dtype=dtype or torch.get_default_dtype()),
                 num_nodes=num_nodes, start=ends[0], final=ends[1], acyclic=acyclic)


def graph_to_str(graph: Graph) -> str:
    """Write one graph in the gtn text format (acceptor arcs use the 4-field form).

    Raises:
        ValueError: for a batch of more than one graph (use :func:`gtn.unbatch` first).
    """
    if graph.batch_size != 1:
        raise ValueError(f"[gtn.Graph.to_str] got a batch of {graph.batch_size} graphs; unbatch it first")
    fmt = (lambda x: repr(float(x))) if graph.penalty.dtype == torch.float64 else (lambda x: f"{float(x):.9g}")
    lines = [str(graph.start), str(graph.final)]
    pen = graph.penalty.detach().cpu().tolist()
    for s, d, i, o, p in zip(graph.src.tolist(), graph.dst.tolist(), graph.ilabel.tolist(), graph.olabel.tolist(), pen):
        lines.append(f"{s} {d} {i} {fmt(p)}" if i == o else f"{s} {d} {i} {o} {fmt(p)}")
    return "\n".join(lines) + "\n"


def _int(field: str, lineno: int) -> int:
    try:
        return int(field)
    except ValueError:
        raise ValueError(f"[gtn.Graph.from_str] line {lineno}: {field!r} is not an integer") from None


def _float(field: str, lineno: int) -> float:
    try:
        return float(field)
    except ValueError:
        raise ValueError(f"[gtn.Graph.from_str] line {lineno}: penalty {field!r} is not a number") from None
