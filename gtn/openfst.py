"""OpenFst AT&T text format, with symbol tables, so graphs move to and from OpenFst / pynini / Kaldi.

Format (``fstcompile`` / ``fstprint``): one arc per line ``src dst ilabel olabel [weight]`` (acceptors:
``src dst label [weight]``), one line ``state [weight]`` per final state; the first line's source
state is the start state. Fields are separated by tabs or spaces. A symbol table has lines
``symbol id`` with id 0 = ``<eps>``.

Label mapping: OpenFst reserves label 0 for epsilon, so a gtn label ``k`` is OpenFst label ``k + 1``
and ``gtn.EPSILON`` is 0. With a symbol table the labels are written as symbols: gtn label ``k`` is
``symbols[k]``. Weights are penalties (tropical / log semiring: a weight is a -log score, lower is
better), exactly gtn's convention.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from gtn.graph import EPSILON, Graph, topsort

EPS_SYMBOL = "<eps>"


def symbol_table(symbols: Sequence[str]) -> str:
    """OpenFst symbol-table text for gtn labels ``0..K-1`` named ``symbols`` (``<eps>`` is id 0)."""
    names = [str(s) for s in symbols]
    for s in names:
        if not s or any(c.isspace() for c in s):
            raise ValueError(f"[gtn.symbol_table] symbol {s!r} is empty or contains white space")
    if len(set(names)) != len(names) or EPS_SYMBOL in names:
        raise ValueError("[gtn.symbol_table] symbols must be distinct and must not include <eps>")
    return "\n".join([f"{EPS_SYMBOL}\t0"] + [f"{s}\t{i + 1}" for i, s in enumerate(names)]) + "\n"


def parse_symbol_table(text: str) -> dict[str, int]:
    """Symbol-table text -> ``{symbol: OpenFst id}``."""
    table: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or not fields[1].lstrip("-").isdigit():
            raise ValueError(f"[gtn.parse_symbol_table] line {lineno}: expected 'symbol id', got {line!r}")
        table[fields[0]] = int(fields[1])
    return table


def to_openfst(g: Graph, *, isymbols: Sequence[str] | None = None, osymbols: Sequence[str] | None = None,
               acceptor: bool = False) -> str:
    """Write one graph in the AT&T text format.

    Args:
        g: a single graph (cyclic graphs are fine).
        isymbols, osymbols: names of gtn labels ``0..K-1`` (write labels as symbols), else numbers.
        acceptor: write ``src dst label weight`` (requires ``g.is_acceptor``).

    Returns:
        the FST text; its start state is the first line's source, the final state has weight 0.

    Raises:
        ValueError: for a batch, an acceptor request on a transducer, or a label without a symbol.
    """
    if g.batch_size != 1:
        raise ValueError(f"[gtn.to_openfst] got a batch of {g.batch_size} graphs; unbatch it first")
    if acceptor and not g.is_acceptor:
        raise ValueError("[gtn.to_openfst] acceptor=True but the graph has arcs with ilabel != olabel")
    il = _labels_out(g.ilabel.tolist(), isymbols, "input")
    ol = _labels_out(g.olabel.tolist(), osymbols, "output")
    pen = g.penalty.detach().double().tolist()
    src, dst = g.src.tolist(), g.dst.tolist()
    order = sorted(range(g.num_arcs), key=lambda a: (src[a] != g.start, a))  # start's arcs first
    lines = []
    if not any(s == g.start for s in src):
        lines.append(f"{g.start}")  # no arc out of the start: the start must still come first
    for a in order:
        lab = f"{il[a]}" if acceptor else f"{il[a]}\t{ol[a]}"
        lines.append(f"{src[a]}\t{dst[a]}\t{lab}\t{pen[a]!r}")
    if lines[0] != f"{g.start}" or g.final != g.start:
        lines.append(f"{g.final}")
    return "\n".join(lines) + "\n"


def from_openfst(text: str, *, isymbols: str | dict | None = None, osymbols: str | dict | None = None,
                 acceptor: bool = False, acyclic: bool = True, dtype: torch.dtype | None = None) -> Graph:
    """Read an AT&T text FST into a :class:`gtn.Graph`.

    States are renumbered topologically when ``acyclic`` (raising on a cycle). Several final states,
    or a final weight other than 0, become epsilon arcs (penalty = final weight) into one new final node.

    Args:
        text: the FST text.
        isymbols, osymbols: symbol-table text or ``{symbol: id}``; labels are then symbols.
        acceptor: read ``src dst label [weight]`` arcs (like ``fstcompile --acceptor``); otherwise
            ``src dst ilabel olabel [weight]``.
        acyclic: require (and produce) a topologically numbered acyclic graph.
        dtype: penalty dtype.

    Raises:
        ValueError: ``"[gtn.from_openfst] line N: ..."`` for malformed lines or unknown symbols.
    """
    itab = parse_symbol_table(isymbols) if isinstance(isymbols, str) else isymbols
    otab = parse_symbol_table(osymbols) if isinstance(osymbols, str) else osymbols
    rows = [(i, line.split()) for i, line in enumerate(text.splitlines(), start=1) if line.split()]
    if not rows:
        raise ValueError("[gtn.from_openfst] empty FST text")
    src, dst, il, ol, pen, finals = [], [], [], [], [], {}
    for lineno, f in rows:
        arc_fields = (3, 4) if acceptor else (4, 5)
        if len(f) in (1, 2):
            finals[_state(f[0], lineno)] = _float(f[1], lineno) if len(f) == 2 else 0.0
        elif len(f) in arc_fields:
            s, d = _state(f[0], lineno), _state(f[1], lineno)
            i = _label_in(f[2], itab, lineno)
            o = i if acceptor else _label_in(f[3], otab, lineno)
            w = _float(f[-1], lineno) if len(f) == arc_fields[1] else 0.0
            src.append(s), dst.append(d), il.append(i), ol.append(o), pen.append(w)
        else:
            raise ValueError(f"[gtn.from_openfst] line {lineno}: {len(f)} fields do not form an "
                             f"{'acceptor' if acceptor else 'transducer'} arc or a final state")
    if not finals:
        raise ValueError("[gtn.from_openfst] the FST has no final state")
    start = _state(rows[0][1][0], rows[0][0])
    n = max([start, *src, *dst, *finals]) + 1
    if len(finals) == 1 and next(iter(finals.values())) == 0.0:
        final = next(iter(finals))
    else:
        final = n
        for s, w in sorted(finals.items()):
            src.append(s), dst.append(final), il.append(EPSILON), ol.append(EPSILON), pen.append(w)
        n += 1
    src_a, dst_a = np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64)
    if acyclic and src_a.size:
        try:
            new = topsort(src_a, dst_a, n)
        except ValueError:
            raise ValueError("[gtn.from_openfst] the FST is cyclic; pass acyclic=False to read it") from None
        src_a, dst_a, start, final = new[src_a], new[dst_a], int(new[start]), int(new[final])
    return Graph(src_a, dst_a, il, ol, torch.tensor(pen, dtype=dtype or torch.get_default_dtype()),
                 num_nodes=n, start=start, final=final, acyclic=acyclic)


def _labels_out(labels: list[int], symbols, side: str) -> list[str]:
    if symbols is None:
        return [str(x + 1) for x in labels]  # EPSILON (-1) -> 0
    out = []
    for x in labels:
        if x == EPSILON:
            out.append(EPS_SYMBOL)
        elif x < len(symbols):
            out.append(str(symbols[x]))
        else:
            raise ValueError(f"[gtn.to_openfst] {side} label {x} has no symbol (table has {len(symbols)})")
    return out


def _label_in(field: str, table, lineno: int) -> int:
    if table is None:
        try:
            return int(field) - 1
        except ValueError:
            raise ValueError(f"[gtn.from_openfst] line {lineno}: label {field!r} is not a number "
                             "(pass the symbol table)") from None
    if field not in table:
        raise ValueError(f"[gtn.from_openfst] line {lineno}: symbol {field!r} is not in the symbol table")
    return table[field] - 1


def _state(field: str, lineno: int) -> int:
    if not field.isdigit():
        raise ValueError(f"[gtn.from_openfst] line {lineno}: state {field!r} is not a non-negative integer")
    return int(field)


def _float(field: str, lineno: int) -> float:
    try:
        return float(field)
    except ValueError:
        raise ValueError(f"[gtn.from_openfst] line {lineno}: weight {field!r} is not a number") from None
