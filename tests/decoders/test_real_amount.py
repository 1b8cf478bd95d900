"""Amounts as they are written on real cheques: ``Grammar.cheque_amount`` and the label graph of a
digit-only label (``marked_label_graph``), against independent predicates and brute force."""

from __future__ import annotations

import itertools
import math
import random
import re

import numpy as np
import pytest
import torch

import gtn
from decoders import (Alphabet, CharacterModel, Grammar, decode, decode_frames, marked_label_graph,
                      marked_label_pattern)
from decoders_testutil import all_strings, logsumexp_neg, paths

torch.set_num_threads(1)
ALPHA = Alphabet.default()
NONE = ALPHA.none_id

# forms seen on the real ORAND fields (separators, end marks) and our synthetic ones
REAL_FORMS = ["15.728", "15,728", "1.250.000", "1,250,000", "15728", "0", "15.728.-", "15.728-", "15728/-",
              "15728/--", "15728/", "965.", "1.338.", "10.715,", "764,-", "39.300--", "467.-", "2500*",
              "$15.728", "**15.728.-", "$*1.300", "15.728,50", "15,728.50-"]
SYNTHETIC_FORMS = ["$1,234.56", "**12.50", "$***32**", "64,10", "$53.116", "$3308,85", "***369.44***", "7.163,10",
                   "$0,91", "92,118.44"]
REFUSED = ["", ".", "-", "/-", "-15", "/15", ".50", "1.2.3", "15.7", "15.7-", "1.2345", "15728/=", "15728-1", "1..5",
           "15.728.-.", "15728----", "012", "1,234,56", "15.728-5", "$-15", "15 728", "15-728", "1.250,000.000",
           # a separator after cents or after the trailing fill: spurious rivals of synthetic '*' fill
           "12.50.", "*95.13.*", "*95.13*.", "$***32.**", "15.728.*"]
MARKS = re.compile(r"[-/]{0,3}")
SEP_MARKS = re.compile(r"[.,][-/]{0,3}")


def test_cheque_amount_accepts_real_and_synthetic_forms():
    g = Grammar.cheque_amount()
    strict = Grammar.amount(separators="both", fill="both")
    for s in REAL_FORMS + SYNTHETIC_FORMS:
        assert g.accepts(s), s
    for s in SYNTHETIC_FORMS:
        assert strict.accepts(s), s
    for s in REFUSED:
        assert not g.accepts(s), s
    assert g.max_length is None  # '*' fill and digits are unbounded


def cheque_member(s: str, strict: Grammar, bare: Grammar) -> bool:
    """Independent definition: an amount of the strict grammar then up to 3 marks ``[-/]``, or a bare
    integer amount (no cents, no trailing fill) then one separator and up to 3 marks."""
    return any((strict.accepts(s[:k]) and MARKS.fullmatch(s[k:]))
               or (bare.accepts(s[:k]) and SEP_MARKS.fullmatch(s[k:])) for k in range(len(s) + 1))


def test_cheque_amount_language():
    g = Grammar.cheque_amount()
    strict = Grammar.amount(separators="both", fill="both")
    bare = Grammar.amount(separators="both", fill="leading", decimals="none")
    arcs = g.graph()
    n_in = 0
    for s in all_strings("150.,-/*$", 5):
        want = cheque_member(s, strict, bare)
        n_in += want
        assert g.accepts(s) == want, s
    assert n_in > 500
    # the graph form agrees with the automaton (spot check of long strings)
    from decoders_testutil import arclist_of

    al = arclist_of(arcs)
    for s in REAL_FORMS + SYNTHETIC_FORMS + REFUSED:
        if all(c in ALPHA.characters for c in s):
            assert (al.accepts(ALPHA.encode(s)) is not None) == g.accepts(s), s


def test_synthetic_generator_forms_still_accepted():
    texts = pytest.importorskip("data.texts")
    rng = np.random.default_rng(3)
    g = Grammar.cheque_amount()
    for _ in range(400):
        s = texts.sample_amount(rng)
        assert g.accepts(s), s


def test_cheque_amount_options_and_errors():
    assert Grammar.amount_pattern() == r"\$?\**(0|[1-9]\d*|[1-9]\d{0,2}(,\d{3})+)(\.\d{2})?"  # default unchanged
    assert Grammar.amount_pattern(end_marks=2).endswith(r"(((\.\d{2})?[-/]{0,2})|([.,]?[-/]{0,2}))")
    one = Grammar.cheque_amount(end_marks=1)
    assert one.accepts("15.728.-") and not one.accepts("15.728/-")
    required = Grammar.amount(decimals="required", end_marks=2)
    assert required.accepts("12.50/-") and not required.accepts("12.-") and not required.accepts("12/-")
    with pytest.raises(ValueError, match=r"\[decoders.Grammar.cheque_amount\] end_marks must be an int >= 1, got 0"):
        Grammar.cheque_amount(end_marks=0)
    with pytest.raises(ValueError, match=r"\[decoders.Grammar.amount\] end_marks"):
        Grammar.amount(end_marks=-1)


# ---------------------------------------------------------------- decoding
def spelled_graph(text: str, *, rival: dict[int, str] | None = None, gap: float = 3.0):
    """A chain interpretation graph: position i holds ``text[i]`` at penalty 0, every other character
    at ``gap`` (or ``rival[i]`` at ``gap / 3``), and 'none' at ``2 * gap``."""
    rival = rival or {}
    src, dst, lab, pen = [], [], [], []
    for i, ch in enumerate(text):
        for c in ALPHA.char_ids + (NONE,):
            src.append(i), dst.append(i + 1), lab.append(c)
            if c == ALPHA.id(ch):
                pen.append(0.0)
            elif c == NONE:
                pen.append(2 * gap)
            elif i in rival and c == ALPHA.id(rival[i]):
                pen.append(gap / 3)
            else:
                pen.append(gap)
    return gtn.Graph(src, dst, lab, penalty=torch.tensor(pen, dtype=torch.float64), num_nodes=len(text) + 1)


@pytest.mark.parametrize("text", ["$1,234.56", "**12.50", "64,10", "$***32**", "$53.116"])
def test_synthetic_decoding_unaffected(text):
    g = spelled_graph(text)
    new = decode(g, Grammar.cheque_amount(), n=3)
    old = decode(g, Grammar.amount(separators="both", fill="both"), n=3)
    assert new[0].text == old[0].text == text
    assert new[0].penalty == pytest.approx(old[0].penalty)
    assert all(Grammar.cheque_amount().accepts(r.text) for r in new)


def test_end_marks_are_not_read_as_digits():
    # "65000/-" whose end mark also looks like a '2' and a '1': the strict grammar must spell digits
    g = spelled_graph("65000/-", rival={5: "1", 6: "2"})
    strict = decode(g, Grammar.amount(separators="both", fill="both"))[0]
    real = decode(g, Grammar.cheque_amount(), n=2)
    assert real[0].text == "65000/-" and "".join(c for c in real[0].text if c.isdigit()) == "65000"
    assert strict.text != "65000/-" and strict.text.startswith("65000") and len(strict.text) > 5


def test_frames_decoding_of_a_real_form():
    # SDNN-like frames: '1' '5' '.' '7' '2' '8' '.' '-' with 'none' between, read with the real grammar
    text = "15.728.-"
    frames = []
    for ch in text:
        frames += [ALPHA.id(ch), NONE]
    pen = torch.full((len(frames), ALPHA.num_classes), 9.0, dtype=torch.float64)
    pen[torch.arange(len(frames)), torch.tensor(frames)] = 0.0
    (res,) = decode_frames(pen, Grammar.cheque_amount())
    assert res.text == text and res.confidence > 0.5
    (old,) = decode_frames(pen, Grammar.amount(separators="both", fill="both"))
    assert old.text != text  # the strict grammar cannot hold the end mark


# ---------------------------------------------------------------- label graph of a digit-only label
def accepted(graph) -> list[str]:
    """Every accepted string of an acyclic acceptor, one entry per path."""
    return [ALPHA.decode(graph.ilabel[arcs].tolist()) for arcs, _ in paths(graph)]


@pytest.mark.parametrize("label, opts", [
    ("1", dict(max_fill=1, max_end_marks=2)),
    ("10", dict(max_fill=2, max_end_marks=1)),
    ("10", dict(separators=False, max_fill=0, max_end_marks=2)),
    ("25", dict(end_marks=False, leading=False)),
    ("7", dict(leading=False, max_end_marks=0)),
    ("110", dict()),
])
def test_label_graph_language_brute_force(label, opts):
    g = marked_label_graph(label, **opts)
    assert g.acyclic and g.start == 0 and g.final == g.num_nodes - 1
    assert bool((g.src < g.dst).all()) and bool((g.ilabel == g.olabel).all())
    strings = accepted(g)
    assert len(strings) == len(set(strings))  # deterministic: one path per string
    f, m = opts.get("max_fill", 3), opts.get("max_end_marks", 3)
    head = rf"\$?\*{{0,{f}}}" if opts.get("leading", True) else ""
    body = ("[.,]?" if opts.get("separators", True) else "").join(label)
    tail = rf"([.,]?[-/*]{{0,{m}}})" if opts.get("end_marks", True) else ""
    rx = re.compile(head + body + tail)
    assert all(rx.fullmatch(s) for s in strings)
    # completeness: every matching string over the relevant characters (up to 6 long) is accepted
    chars = "".join(sorted(set(label))) + "3.,-/*$"
    want = {s for s in all_strings(chars, min(6, max(map(len, strings)))) if rx.fullmatch(s)}
    assert want <= set(strings)
    # the same language as the pattern of marked_label_pattern (exhaustive on the unrolled automaton)
    pattern_graph = Grammar.pattern(marked_label_pattern(label, **opts)).graph()
    assert sorted(accepted(pattern_graph)) == sorted(strings)


def test_label_graph_errors():
    for bad in ["", "12a", "1.5", 15]:
        with pytest.raises(ValueError, match=r"\[decoders.marked_label_graph\] "):
            marked_label_graph(bad)
    with pytest.raises(ValueError, match=r"max_fill must be an int >= 0, got -1"):
        marked_label_graph("1", max_fill=-1)
    with pytest.raises(ValueError, match=r"\[decoders.marked_label_graph\] character '\$' is not in the alphabet"):
        marked_label_graph("1", alphabet=Alphabet.digits(with_none=True), separators=False, end_marks=False)
    g = marked_label_graph("12", alphabet=Alphabet.digits(with_none=True), separators=False, end_marks=False,
                           leading=False)
    assert accepted(g) == ["12"]


def _frame_brute_force(pen: torch.Tensor, rx, *, collapse: bool) -> float:
    """-log sum exp(-penalty) over all frame labellings whose text matches ``rx`` (``collapse``: the
    CTC rule of the default character model, 'none' as blank; else each frame is one character and
    'none' frames are not allowed)."""
    T, C = pen.shape
    total = []
    for seq in itertools.product(range(C), repeat=T):
        if collapse:
            labs = [c for k, c in enumerate(seq) if c != NONE and (k == 0 or seq[k - 1] != c)]
        elif NONE in seq:
            continue
        else:
            labs = list(seq)
        if rx.fullmatch(ALPHA.decode(labs)):
            total.append(float(pen[torch.arange(T), torch.tensor(seq)].sum()))
    return logsumexp_neg(total) if total else math.inf


def test_compose_with_frame_graph_brute_force():
    torch.manual_seed(0)
    pen = torch.rand(3, ALPHA.num_classes, dtype=torch.float64) * 3
    rx = re.compile(r"\$?\*{0,3}1[.,]?0([.,]?[-/*]{0,3})")
    g, _ = gtn.compose(gtn.frame_graph(pen), marked_label_graph("10", dtype=torch.float64))
    assert float(gtn.forward_penalty(g)[0]) == pytest.approx(_frame_brute_force(pen, rx, collapse=False))


def test_compose_with_character_model_brute_force():
    torch.manual_seed(1)
    pen = (torch.rand(1, 4, ALPHA.num_classes, dtype=torch.float64) * 3).requires_grad_()
    rx = re.compile(r"\$?\*{0,3}1[.,]?0([.,]?[-/*]{0,3})")
    g_all, _ = CharacterModel().compose_frames(pen)
    g_con, _ = gtn.compose(g_all, marked_label_graph("10", dtype=torch.float64))
    f_con, f_all = gtn.forward_penalty(g_con), gtn.forward_penalty(g_all)
    assert float(f_con[0].detach()) == pytest.approx(_frame_brute_force(pen[0].detach(), rx, collapse=True))
    loss = (f_con - f_all).sum()  # the discriminative forward criterion, >= 0
    assert float(loss.detach()) >= 0
    loss.backward()
    assert torch.isfinite(pen.grad).all() and pen.grad.abs().sum() > 0


def test_compose_with_interpretation_graph_brute_force():
    # a segmentation-like interpretation graph: pieces 0..4, arcs over 1 or 2 pieces, random classes
    rng = random.Random(4)
    src, dst, lab, pen = [], [], [], []
    for s in range(5):
        for d in (s + 1, s + 2):
            if d <= 5:
                for c in rng.sample([1, 7, 0, 10, 11, 12, 13, 14, 15, NONE], 5):
                    src.append(s), dst.append(d), lab.append(c), pen.append(rng.uniform(0, 3))
    interp = gtn.Graph(src, dst, lab, penalty=torch.tensor(pen, dtype=torch.float64), num_nodes=6)
    rx = re.compile(r"\$?\*{0,3}1[.,]?7([.,]?[-/*]{0,3})")
    want = [p for arcs, p in paths(interp)
            if NONE not in [lab[a] for a in arcs] and rx.fullmatch(ALPHA.decode([lab[a] for a in arcs]))]
    g, _ = gtn.compose(interp, marked_label_graph("17", dtype=torch.float64))
    got = float(gtn.forward_penalty(g)[0])
    assert want and got == pytest.approx(logsumexp_neg(want))


def test_batched_label_graphs():
    torch.manual_seed(2)
    labels = ["10", "7", "1250"]
    pen = torch.rand(3, 9, ALPHA.num_classes, dtype=torch.float64) * 3
    model = CharacterModel()
    g_all, _ = model.compose_frames(pen)
    tgt = gtn.batch([marked_label_graph(t, dtype=torch.float64) for t in labels])
    batched = gtn.forward_penalty(gtn.compose(g_all, tgt)[0])
    for b, t in enumerate(labels):
        one_all, _ = model.compose_frames(pen[b: b + 1])
        one = gtn.forward_penalty(gtn.compose(one_all, marked_label_graph(t, dtype=torch.float64))[0])
        assert float(batched[b]) == pytest.approx(float(one[0]))
    assert torch.isfinite(batched).all()
