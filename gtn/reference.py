"""A plain-loop reference of gtn's three core algorithms: composition, forward and Viterbi scoring.

Nothing here is fast or batched; everything is a dictionary and a loop, written to be read as the
specification of what :func:`gtn.compose`, :func:`gtn.forward_penalty` and
:func:`gtn.viterbi_penalty` compute, and used by the tests as their oracle. One graph at a time;
penalties are Python floats (lower is better).

A graph is read as a list of arcs ``(src, dst, ilabel, olabel, penalty)``, a start node and a final
node (:func:`arcs_of` takes them from a :class:`gtn.Graph`).
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from dataclasses import dataclass

from gtn.graph import EPSILON, Graph


@dataclass
class Arcs:
    """One graph as plain lists: ``arcs[k] = (src, dst, ilabel, olabel, penalty)``."""

    arcs: list[tuple]
    start: object
    final: object


def arcs_of(g: Graph) -> Arcs:
    """The arcs of a single :class:`gtn.Graph` as Python values."""
    if g.batch_size != 1:
        raise ValueError(f"[gtn.reference] one graph at a time, got a batch of {g.batch_size}")
    rows = zip(g.src.tolist(), g.dst.tolist(), g.ilabel.tolist(), g.olabel.tolist(), g.penalty.detach().tolist())
    return Arcs([tuple(r) for r in rows], g.start, g.final)


def compose(a: Arcs, b: Arcs) -> Arcs:
    """All pairs of paths of ``a`` and ``b`` with ``a``'s output string equal to ``b``'s input string.

    States are triples ``(qa, qb, f)``. A matching move takes one non-epsilon arc on each side with
    ``a.olabel == b.ilabel``; an ``a``-epsilon move (``a.olabel`` epsilon) is allowed only in filter
    state 0 and keeps ``f = 0``; a ``b``-epsilon move (``b.ilabel`` epsilon) sets ``f = 1``, or keeps
    ``f = 0`` when ``a`` has no epsilon output at all (nothing then needs ordering). So between two
    matches, every ``a``-epsilon move comes before every ``b``-epsilon move, and each pair of paths is
    built once. Only states that reach the final state ``(a.final, b.final, any f)`` are kept; the
    result's arcs carry ``(ilabel of a, olabel of b, penalty sum)`` and its final node is
    ``"final"``, joined by epsilon arcs (penalty 0) from the final states.
    """
    out_a, out_b = defaultdict(list), defaultdict(list)
    for arc in a.arcs:
        out_a[arc[0]].append(arc)
    for arc in b.arcs:
        out_b[arc[0]].append(arc)
    a_has_eps = any(arc[3] == EPSILON for arc in a.arcs)
    start = (a.start, b.start, 0)
    seen, todo, arcs = {start}, deque([start]), []
    while todo:
        qa, qb, f = state = todo.popleft()
        moves = []
        for _, da, il, ol, pa in out_a[qa]:
            if ol == EPSILON:
                if f == 0:
                    moves.append(((da, qb, 0), il, EPSILON, pa))
                continue
            for _, db, il_b, ol_b, pb in out_b[qb]:
                if il_b == ol:
                    moves.append(((da, db, 0), il, ol_b, pa + pb))
        for _, db, il_b, ol_b, pb in out_b[qb]:
            if il_b == EPSILON:
                moves.append(((qa, db, 1 if a_has_eps else 0), EPSILON, ol_b, pb))
        for nxt, il, ol, pen in moves:
            arcs.append((state, nxt, il, ol, pen))
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    finals = {s for s in seen if s[0] == a.final and s[1] == b.final}
    live = _coaccessible(arcs, finals)
    kept = [arc for arc in arcs if arc[0] in live and arc[1] in live]
    kept += [(s, "final", EPSILON, EPSILON, 0.0) for s in sorted(finals, key=repr)]
    return Arcs(kept, start, "final")


def _coaccessible(arcs: list[tuple], finals: set) -> set:
    into = defaultdict(list)
    for arc in arcs:
        into[arc[1]].append(arc[0])
    live, todo = set(finals), deque(finals)
    while todo:
        for s in into[todo.popleft()]:
            if s not in live:
                live.add(s)
                todo.append(s)
    return live


def _topological(g: Arcs) -> list:
    """Nodes in topological order (Kahn); ValueError on a cycle."""
    nodes = {g.start, g.final} | {arc[0] for arc in g.arcs} | {arc[1] for arc in g.arcs}
    indeg = {v: 0 for v in nodes}
    out = defaultdict(list)
    for arc in g.arcs:
        indeg[arc[1]] += 1
        out[arc[0]].append(arc)
    order, todo = [], deque(sorted((v for v in nodes if indeg[v] == 0), key=repr))
    while todo:
        v = todo.popleft()
        order.append(v)
        for arc in out[v]:
            indeg[arc[1]] -= 1
            if indeg[arc[1]] == 0:
                todo.append(arc[1])
    if len(order) != len(nodes):
        raise ValueError("[gtn.reference] the graph has a cycle")
    return order


def _score(g: Arcs, combine) -> float:
    """Penalty of the start -> final paths under ``combine`` (a list of path-prefix penalties -> one)."""
    into = defaultdict(list)
    for arc in g.arcs:
        into[arc[1]].append(arc)
    best = {}
    for v in _topological(g):
        if v == g.start:
            best[v] = 0.0
            continue
        options = [best[arc[0]] + arc[4] for arc in into[v] if arc[0] in best]
        if options:
            best[v] = combine(options)
    return best.get(g.final, math.inf)


def forward_penalty(g: Arcs) -> float:
    """``-log sum over paths exp(-path penalty)`` (``inf`` without a path)."""
    def softmin(xs):
        m = min(xs)
        return m - math.log(sum(math.exp(m - x) for x in xs))
    return _score(g, softmin)


def viterbi_penalty(g: Arcs) -> float:
    """The smallest path penalty (``inf`` without a path)."""
    return _score(g, min)
