"""Reference helpers for the decoders tests: string enumeration and brute-force path enumeration."""

from __future__ import annotations

import itertools
import math

from decoders.automaton import ArcList

EPS = -1


def all_strings(chars: str, max_len: int):
    """Every string over ``chars`` of length 0..max_len."""
    for n in range(max_len + 1):
        for tup in itertools.product(chars, repeat=n):
            yield "".join(tup)


def arclist_of(graph) -> ArcList:
    """A single gtn acceptor as a plain ArcList (for the reference acceptance check)."""
    return ArcList(graph.src.tolist(), graph.dst.tolist(), graph.ilabel.tolist(),
                   graph.penalty.detach().double().tolist(), graph.num_nodes, graph.start, graph.final,
                   graph.acyclic)


def paths(graph):
    """All start->final paths of an acyclic single graph: list of (arc index list, penalty)."""
    src, dst = graph.src.tolist(), graph.dst.tolist()
    pen = graph.penalty.detach().double().tolist()
    out: dict[int, list[int]] = {}
    for a, s in enumerate(src):
        out.setdefault(s, []).append(a)
    res = []

    def walk(node, arcs, total):
        if node == graph.final:
            res.append((list(arcs), total))
        for a in out.get(node, []):
            arcs.append(a)
            walk(dst[a], arcs, total + pen[a])
            arcs.pop()

    walk(graph.start, [], 0.0)
    return res


def logsumexp_neg(pens):
    """-log sum exp(-p)."""
    m = min(pens)
    return m - math.log(sum(math.exp(-(p - m)) for p in pens))


def brute_texts(graph, grammar, alphabet=None):
    """text -> list of the penalties of every path spelling it that ``grammar`` allows (grammar
    penalties added; paths through the 'none' class skipped)."""
    from decoders import Alphabet

    alphabet = alphabet or Alphabet.default()
    table: dict[str, list[float]] = {}
    for arcs, pen in paths(graph):
        labs = [int(graph.olabel[a]) for a in arcs]
        if alphabet.none_id in labs:
            continue
        text = alphabet.decode(labs)
        if grammar is not None:
            gp = grammar.penalty(text)
            if gp is None:
                continue
            pen += gp
        table.setdefault(text, []).append(pen)
    return table
