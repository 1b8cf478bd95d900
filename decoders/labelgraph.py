"""Label graphs for training on digit-only labels of fields that show more than digits.

Real cheque amounts are labelled with their digits only (``15728``) while the image shows
``$15.728.-``: separators, a ``$``, ``*`` fill and end marks that the recogniser must still account
for. The target of the discriminative forward criterion (docs/paper.md Sec. VI) is then not one string
(``gtn.builders.string_graph``) but the small language of every way the label may be written:

    ``\\$? \\*{0,max_fill}  d1 [.,]? d2 [.,]? ... dn  ([.,]? [-/*]{0,max_end_marks})``

(:func:`marked_label_pattern` gives it in the pattern syntax of :mod:`decoders.pattern`).
:func:`marked_label_graph` builds it directly as an acyclic deterministic acceptor, so each accepted
string has exactly one path and the forward algorithm counts every interpretation once. The loss is

    ``F(interp o marked_label_graph(label)) - F(interp)``

with ``interp`` the SDNN frame graph after the character model (``CharacterModel.compose_frames``) or
the segmentation system's interpretation graph; a batch of labels is ``gtn.batch([...])`` of the graphs.
"""

from __future__ import annotations

import torch

import gtn

from .alphabet import Alphabet

SEPARATORS = ".,"
END_MARKS = "-/*"


def _check_label(digits: str, where: str) -> None:
    if not isinstance(digits, str) or not digits:
        raise ValueError(f"[{where}] expected a non-empty string of digits, got {digits!r}")
    for pos, ch in enumerate(digits):
        if not "0" <= ch <= "9":
            raise ValueError(f"[{where}] label {digits!r} has the non-digit {ch!r} at position {pos}; "
                             "use gtn.builders.string_graph for labels that spell their separators")


def _check_count(value: int, name: str, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"[{where}] {name} must be an int >= 0, got {value!r}")


def marked_label_pattern(digits: str, *, separators: bool = True, end_marks: bool = True, leading: bool = True,
                         max_fill: int = 3, max_end_marks: int = 3) -> str:
    """The language of :func:`marked_label_graph` in the pattern syntax of :mod:`decoders.pattern`.

    ``Grammar.pattern(marked_label_pattern("15"))`` accepts the same strings as
    ``marked_label_graph("15")`` (its automaton is minimal, the graph is built directly).

    Args:
        digits: the label, digits only, e.g. ``"15728"``.
        separators, end_marks, leading, max_fill, max_end_marks: as in :func:`marked_label_graph`.

    Returns:
        e.g. ``r"\\$?\\*{0,3}1[.,]?5([.,]?[-/*]{0,3})"`` for ``"15"``.

    Raises:
        ValueError: an empty label, a non-digit in it, or a negative count.
    """
    where = "decoders.marked_label_pattern"
    _check_label(digits, where)
    _check_count(max_fill, "max_fill", where)
    _check_count(max_end_marks, "max_end_marks", where)
    head = rf"\$?\*{{0,{max_fill}}}" if leading else ""
    body = ("[.,]?" if separators else "").join(digits)
    tail = rf"([.,]?[-/*]{{0,{max_end_marks}}})" if end_marks else ""
    return head + body + tail


def marked_label_graph(digits: str, *, alphabet: Alphabet | None = None, separators: bool = True,
                       end_marks: bool = True, leading: bool = True, max_fill: int = 3, max_end_marks: int = 3,
                       dtype: torch.dtype | None = None):
    """The acceptor of every way a digit-only label may be written in an amount field.

    Accepts exactly the label's digits in order with

    * ``separators``: at most one ``.`` or ``,`` between two consecutive digits (``15.728``,
      ``1,250.000``; the grammar of the field decides elsewhere which forms are plausible);
    * ``leading``: an optional ``$`` then up to ``max_fill`` ``*`` (``$**15728``);
    * ``end_marks``: an optional tail of one ``.`` or ``,`` then up to ``max_end_marks`` of ``- / *``
      (``15728.-``, ``15728/--``, ``15728.``, ``15728**``).

    The graph is acyclic and deterministic (one path per accepted string), all penalties 0, node 0
    the start and the last node the final one. With ``end_marks`` the several accepting states reach
    the final node by ``EPSILON`` arcs, as in ``Grammar.graph``. Sizes for a label of L digits and
    ``F = max_fill``, ``M = max_end_marks``: ``2 + F + 2L - 1 + (M + 2 if end_marks else 0)`` nodes
    at most.

    Args:
        digits: the label, digits only (``"15728"``).
        alphabet: gives the label ids (default: the shared 17-class alphabet); must hold every symbol
            the options use.
        separators: allow a separator between consecutive digits.
        end_marks: allow the end-mark tail.
        leading: allow the leading ``$`` and ``*`` fill.
        max_fill: most ``*`` before the first digit (>= 0).
        max_end_marks: most end-mark symbols in the tail (>= 0; 0 leaves only the separator).
        dtype: penalty dtype (default ``torch.get_default_dtype()``; use the frame penalties' dtype).

    Returns:
        ``gtn.Graph`` acceptor (``ilabel == olabel``) over ``alphabet``'s character ids, for
        ``gtn.compose(interpretation_graph, graph)`` (batch several with ``gtn.batch``).

    Raises:
        ValueError: an empty label, a non-digit in it, a negative count, or a symbol the options need
            that the alphabet lacks.
    """

    where = "decoders.marked_label_graph"
    _check_label(digits, where)
    _check_count(max_fill, "max_fill", where)
    _check_count(max_end_marks, "max_end_marks", where)
    alphabet = alphabet or Alphabet.default()
    digit_ids = alphabet.encode(digits, where=where)
    sep_ids = alphabet.encode(SEPARATORS, where=where) if separators or end_marks else []
    mark_ids = alphabet.encode(END_MARKS, where=where) if end_marks and max_end_marks else []
    dollar, star = (alphabet.id("$", where=where), alphabet.id("*", where=where)) if leading else (None, None)

    src: list[int] = []
    dst: list[int] = []
    lab: list[int] = []

    def arc(s: int, d: int, label: int) -> None:
        src.append(s)
        dst.append(d)
        lab.append(label)

    num_nodes = 1
    entries = [0]  # states from which the first digit is read
    if leading:
        after_dollar, num_nodes = num_nodes, num_nodes + 1
        arc(0, after_dollar, dollar)
        fills = list(range(num_nodes, num_nodes + max_fill))
        num_nodes += max_fill
        if fills:
            arc(0, fills[0], star)
            arc(after_dollar, fills[0], star)
        for a, b in zip(fills, fills[1:]):
            arc(a, b, star)
        entries += [after_dollar] + fills
    last = num_nodes
    num_nodes += 1
    for e in entries:
        arc(e, last, digit_ids[0])
    for d in digit_ids[1:]:
        if separators:
            sep, nxt, num_nodes = num_nodes, num_nodes + 1, num_nodes + 2
            for s in sep_ids:
                arc(last, sep, s)
            arc(sep, nxt, d)
        else:
            nxt, num_nodes = num_nodes, num_nodes + 1
        arc(last, nxt, d)
        last = nxt
    if end_marks:
        accepting = [last]
        after_sep, num_nodes = num_nodes, num_nodes + 1
        for s in sep_ids:
            arc(last, after_sep, s)
        accepting.append(after_sep)
        marks = list(range(num_nodes, num_nodes + max_end_marks))
        num_nodes += max_end_marks
        for prev, node in zip([None] + marks, marks):
            for m in mark_ids:
                if prev is None:
                    arc(last, node, m)
                    arc(after_sep, node, m)
                else:
                    arc(prev, node, m)
        accepting += marks
        final, num_nodes = num_nodes, num_nodes + 1
        for a in accepting:
            arc(a, final, gtn.EPSILON)
    # topological by construction: every arc goes from an earlier-numbered node to a later one
    return gtn.Graph(src, dst, lab, penalty=torch.zeros(len(src), dtype=dtype or torch.get_default_dtype()),
                     num_nodes=num_nodes)
