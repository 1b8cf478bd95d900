"""Decoding: interpretation graph (+ grammar) -> the n best texts with spans, confidence and rejection.

docs/paper.md Sec. IV/VIII: the interpretation graph is composed with a grammar and the Viterbi transformer
keeps the best path. On top of the paper this module gives

* the n best DISTINCT texts (not paths: two segmentations reading the same string count once). The
  k-th text is the best path of ``graph o (grammar minus texts 1..k-1)``; the exclusion is done exactly
  on the grammar's deterministic automaton (:meth:`Grammar.excluding`), so the list is exact;
* the confidence of a text: its posterior probability among all interpretations the grammar allows,
  summed over every path spelling it (``exp(F_all - F_text)``, F = forward penalty, docs/paper.md Sec. VI),
  plus the posterior of the single best path and the penalty margin to the next text;
* character spans through the arc maps (which input arcs, hence which piece or which frames);
* an explicit rejected result when no path is allowed (never an exception from deep inside);
* beam pruning for long inputs: ``gtn.prune`` of the interpretation graph (:func:`decode`), or per-frame
  pruning of the SDNN frames (:func:`decode_frames`).
"""

from __future__ import annotations

import math

import torch

import gtn
from gtn.graph import EPSILON as EPS

from .alphabet import Alphabet
from .charmodel import CharacterModel
from .grammar import DIGITS, Grammar, digit_projection
from .result import CharSpan, DecodeResult

SCORES = ("text", "digits")  # what a reading's posterior is of: its exact text, or its digit string


def _check_graph(graph, where: str, alphabet: Alphabet) -> None:
    if not isinstance(graph, gtn.Graph):
        raise ValueError(f"[{where}] expected a gtn.Graph, got {type(graph).__name__}")
    if graph.batch_size != 1:
        raise ValueError(f"[{where}] got a batch of {graph.batch_size} graphs; decode each one "
                         f"(gtn.unbatch(graph))")
    if not graph.acyclic:
        raise ValueError(f"[{where}] the interpretation graph must be acyclic")
    if graph.num_arcs and int(graph.olabel.max()) >= alphabet.num_classes:
        a = int(torch.argmax(graph.olabel))
        raise ValueError(f"[{where}] olabel {int(graph.olabel[a])} of arc {a} is not in the alphabet of "
                         f"{alphabet.num_classes} symbols {alphabet.describe()}")


def _best_path(g) -> tuple[list[int], float]:
    """Arcs of the best path in path order and its penalty (``inf`` and ``[]`` if there is no path)."""

    (path,) = gtn.viterbi_path(g)
    pen = float(path.penalty.detach())
    if not math.isfinite(pen):
        return [], math.inf
    return path.arcs.tolist(), pen


def _forward(g) -> float:
    return float(gtn.forward_penalty(g)[0])


def decode(graph, grammar: Grammar | None = None, n: int = 1, *, beam: float | None = None,
           alphabet: Alphabet | None = None) -> list[DecodeResult]:
    """Decode an interpretation graph: the ``n`` best distinct texts allowed by ``grammar``.

    Args:
        graph: one acyclic ``gtn.Graph`` whose olabels are alphabet ids (e.g. ``gtn.recognize`` of a
            segmentation graph, or ``CharacterModel.compose_frames`` of SDNN frames); ``EPSILON`` olabels emit
            nothing. Penalties are used detached (decoding is not differentiated).
        grammar: the allowed strings; ``None`` allows any string of characters (arcs labelled with the
            'none' class are then excluded).
        n: number of distinct texts wanted (fewer are returned if fewer exist).
        beam: if given, ``gtn.prune(graph, beam)`` first keeps only arcs on paths within ``beam`` of the
            unconstrained best path. Faster composition on large graphs; the grammar's best reading is
            lost if it is more than ``beam`` worse than the unconstrained best, and the confidence is
            then computed on the pruned graph (an over-estimate).
        alphabet: the recogniser's alphabet (checked against the grammar's; default: the grammar's).

    Returns:
        A list of :class:`DecodeResult`, best first, spans in the input graph's NODES (``[src of first
        arc, dst of last arc)``) and arcs. If no path is allowed: ``[DecodeResult.rejection(reason)]``.

    Raises:
        ValueError: not a single acyclic graph, labels outside the alphabet, mismatched alphabets, n < 1.
    """
    alphabet = _alphabets(grammar, alphabet, "decoders.decode")
    _check_graph(graph, "decoders.decode", alphabet)
    g = graph.with_penalty(graph.penalty.detach().double())
    keep = torch.arange(g.num_arcs)
    if beam is not None:

        g, pmap = gtn.prune(g, float(beam))
        keep = torch.as_tensor(pmap)
    return _decode(g, grammar, n, alphabet=alphabet, report=keep, start=graph.src[keep], end=graph.dst[keep],
                   note=f" after beam pruning (beam={beam})" if beam is not None else "")


def decode_frames(penalties: torch.Tensor, grammar: Grammar | None = None, n: int = 1, *,
                  model: CharacterModel | None = None, beam: float | None = None) -> list[DecodeResult]:
    """Decode SDNN outputs: ``(T, C)`` frame penalties -> character model -> grammar -> n best texts.

    Args:
        penalties: ``(T, C)`` penalties of the replicated recogniser (docs/paper.md Sec. VII).
        grammar: allowed strings (``None``: any).
        n: number of distinct texts.
        model: the :class:`CharacterModel` (default: CTC-like over the grammar's alphabet).
        beam: per-frame pruning: keep the classes within ``beam`` of each frame's best class
            (:meth:`CharacterModel.compose_frames`).

    Returns:
        As :func:`decode`; spans are in FRAMES (``[first, last + 1)`` of the frames read as the
        character, 'none' frames excluded; ``CharSpan.x_range()`` converts to pixels) and ``arcs`` are
        frame-graph arcs ``t * C + c``.
    """
    if model is None:
        model = CharacterModel(grammar.alphabet if grammar is not None else None)
    alphabet = _alphabets(grammar, model.alphabet, "decoders.decode_frames")
    if not isinstance(penalties, torch.Tensor) or penalties.dim() != 2:
        raise ValueError(f"[decoders.decode_frames] expected (T, C) penalties, got "
                         f"{getattr(penalties, 'shape', type(penalties))}")
    C = penalties.shape[1]
    with torch.no_grad():
        g, frame_arc = model.compose_frames(penalties.detach().double(), beam=beam)
    t = frame_arc // C
    return _decode(g, grammar, n, alphabet=alphabet, report=frame_arc, start=t, end=t + 1,
                   note=f" after per-frame beam pruning (beam={beam})" if beam is not None else "")


def text_penalties(graph, texts, grammar: Grammar | None = None, *, alphabet: Alphabet | None = None,
                   score: str = "text") -> tuple[float, list[float]]:
    """Forward penalties of given texts on an interpretation graph (for rescoring and combination).

    ``-log`` of a text's posterior among all interpretations the grammar allows is
    ``f_text - f_all``, the quantity :func:`decode` turns into its confidence; here it is computed
    for texts that need not be among the graph's own n best (another recogniser's readings).

    With ``score="digits"`` a text stands for its digit string: ``f_text`` sums every allowed
    interpretation with the same digits (``15.728.-``, ``15728``, ``15,728`` ...;
    :meth:`Grammar.with_digits`), so ``f_text - f_all`` is ``-log`` of the posterior of the amount a
    bank keys, however its separators and end marks were read.

    Args:
        graph: one acyclic ``gtn.Graph`` as for :func:`decode` (penalties used detached).
        texts: ``N`` strings.
        grammar: the allowed strings (``None``: any text of the alphabet).
        alphabet: as for :func:`decode`.
        score: ``"text"`` (the exact text) or ``"digits"`` (its digit string).

    Returns:
        ``(f_all, [f_text_1, ..., f_text_N])``: forward penalties of every allowed interpretation
        and of those spelling each text (or its digits); ``inf`` for a text the grammar rejects
        (``"text"``), that holds characters outside the alphabet, or that no path spells (``f_all``
        is ``inf`` when the grammar allows no path at all).

    Raises:
        ValueError: an unknown ``score``, or a graph or grammar that does not fit the alphabet.
    """

    where = "decoders.text_penalties"
    if score not in SCORES:
        raise ValueError(f"[{where}] score must be one of {SCORES}, got {score!r}")
    alphabet = _alphabets(grammar, alphabet, where)
    _check_graph(graph, where, alphabet)
    g = graph.with_penalty(graph.penalty.detach().double())
    base = grammar if grammar is not None else Grammar.any_text(alphabet=alphabet)
    constrained, _ = gtn.compose(g, base.graph(dtype=torch.float64))
    f_all = _forward(constrained)
    out = []
    by_digits: dict[str, float] = {}  # texts with the same digits share one forward
    for text in texts:
        if not math.isfinite(f_all) or not _spellable(text, base, alphabet, score):
            out.append(math.inf)
        elif score == "digits":
            key = "".join(c for c in text if c in DIGITS)
            if key not in by_digits:
                only, _ = gtn.compose(constrained, Grammar(digit_projection(key, alphabet, where=where),
                                                           alphabet=alphabet).graph(dtype=torch.float64))
                by_digits[key] = _forward(only)
            out.append(by_digits[key])
        else:
            out.append(_text_forward(constrained, text, alphabet))
    return f_all, out


def _spellable(text, base: Grammar, alphabet: Alphabet, score: str) -> bool:
    """Can ``text`` have a finite penalty: allowed by the grammar (``"text"``), or made of the
    alphabet's characters (``"digits"``: other texts with its digits may be allowed)?"""
    if score == "text":
        return base.accepts(text)
    return isinstance(text, str) and all(c in alphabet.characters for c in text)


def _text_forward(constrained, text: str, alphabet: Alphabet) -> float:
    """Forward penalty of the paths of a grammar-constrained graph that spell ``text``."""

    lex = Grammar.lexicon([text], alphabet=alphabet)
    only, _ = gtn.compose(constrained, lex.graph(dtype=torch.float64))
    return _forward(only)


def _alphabets(grammar, alphabet, where) -> Alphabet:
    if grammar is not None and not isinstance(grammar, Grammar):
        raise ValueError(f"[{where}] grammar must be a decoders.Grammar, got {type(grammar).__name__}")
    if grammar is not None and alphabet is not None:
        grammar.alphabet.check_compatible(alphabet, where=where)
    return alphabet if alphabet is not None else (grammar.alphabet if grammar is not None else Alphabet.default())


def _decode(g, grammar, n, *, alphabet, report, start, end, note) -> list[DecodeResult]:
    """Shared core. ``report/start/end (A_g,)``: per arc of ``g``, the arc id to report and its
    input positions."""

    if not isinstance(n, int) or n < 1:
        raise ValueError(f"[decoders.decode] n must be a positive int, got {n!r}")
    none = alphabet.none_id
    base = grammar
    if base is None and none is not None and bool((g.olabel == none).any()):
        base = Grammar.any_text(alphabet=alphabet)
    desc = base.description if base is not None else "any text"

    def constrain(gr):
        if gr is None:
            return g, torch.arange(g.num_arcs)
        out, (amap, _) = gtn.compose(g, gr.graph(dtype=torch.float64))
        return out, torch.as_tensor(amap)

    constrained, cmap = constrain(base)
    f_all = _forward(constrained)
    if not math.isfinite(f_all):
        return [DecodeResult.rejection(f"no interpretation allowed by the grammar ({desc}){note}")]

    found = []  # (text, labels, penalty, spans)
    excl = base if base is not None else Grammar.any_text(alphabet=alphabet)
    cur, cur_map = constrained, cmap
    for k in range(n + 1):
        if k > 0:
            ex = excl.excluding([f[0] for f in found])
            if ex.dfa.is_empty():
                break
            cur, cur_map = constrain(ex)
        arcs, pen = _best_path(cur)
        if not math.isfinite(pen):
            break
        labels, spans = _spans(cur, arcs, cur_map, g.penalty, alphabet, report, start, end)
        found.append((alphabet.decode(labels), tuple(labels), pen, spans))

    results = []
    for k, (text, labels, pen, spans) in enumerate(found[:n]):
        f_text = _text_forward(constrained, text, alphabet)
        conf = min(1.0, math.exp(f_all - f_text))
        margin = found[k + 1][2] - pen if k + 1 < len(found) else math.inf
        results.append(DecodeResult(
            text=text, labels=labels, penalty=pen, confidence=conf,
            path_confidence=min(conf, math.exp(f_all - pen)), margin=max(0.0, margin), rank=k,
            spans=spans, forward_penalty=f_all))
    return results


def _spans(cur, arcs, cur_map, in_pen, alphabet, report, start, end):
    """Group the path's arcs into characters: the arc emitting a character, then the following arcs
    that emit nothing and read the same class (repeated SDNN detections). Arcs reading anything else
    ('none' frames, junk) belong to no character."""
    none = alphabet.none_id
    labels, groups = [], []
    current = None
    for a in arcs:
        ol, il = int(cur.olabel[a]), int(cur.ilabel[a])
        src_arc = int(cur_map[a])
        if src_arc < 0:
            continue  # a grammar-side move (epsilon into its final node): consumes no input
        if ol >= 0 and ol != none:
            current = [ol, [a], [src_arc]]
            labels.append(ol)
            groups.append(current)
        elif current is not None and ol == EPS and il == current[0]:
            current[1].append(a)
            current[2].append(src_arc)
        else:
            current = None
    spans = []
    for lab, _, src_arcs in groups:
        spans.append(CharSpan(
            char=alphabet.char(lab), label=lab,
            start=int(start[src_arcs[0]]), end=int(end[src_arcs[-1]]),
            arcs=tuple(int(report[s]) for s in src_arcs),
            penalty=float(in_pen[src_arcs].sum())))
    return labels, tuple(spans)
