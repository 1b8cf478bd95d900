"""Posteriors of digit strings (``score="digits"``): ``Grammar.with_digits`` against enumeration of
every string, ``text_penalties(score="digits")`` against every path of random graphs, and the SDNN's
batched route (one product automaton per digit string) against the general one."""

from __future__ import annotations

import itertools
import math
import random

import gtn
import pytest
import torch

from decoders import Alphabet, CharacterModel, Grammar, text_penalties
from decoders_testutil import brute_texts, logsumexp_neg

A = Alphabet.default()
NONE = A.none_id
DOT, COMMA, DASH = A.id("."), A.id(","), A.id("-")


def digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


@pytest.mark.parametrize("grammar", [Grammar.cheque_amount(), Grammar.zip_code(), Grammar.any_text()],
                         ids=["cheque_amount", "zip", "any"])
def test_with_digits_holds_exactly_the_strings_with_those_digits(grammar):
    chars = "12.,-/$*"
    asked = ["", "1", "12", "121", "2112"]
    restricted = {d: grammar.with_digits(d) for d in asked}
    n = 0
    for length in range(6):
        for t in map("".join, itertools.product(chars, repeat=length)):
            for d, r in restricted.items():
                expected = grammar.accepts(t) and digits(t) == d
                assert r.accepts(t) == expected, (t, d)
                if expected:
                    n += 1
                    assert r.penalty(t) == pytest.approx(grammar.penalty(t))
    assert n > 0 or grammar.description.startswith("zip")


def test_with_digits_refuses_non_digits():
    for bad in ["1.5", "x", 12, None]:
        with pytest.raises(ValueError, match="digits"):
            Grammar.cheque_amount().with_digits(bad)


def random_dag(rng: random.Random):
    """Acyclic interpretation graphs reading digits 0/1, separators and 'none'."""
    labels = (0, 1, DOT, COMMA, DASH, NONE)
    n = rng.randint(4, 7)
    arcs = [(i, i + 1, rng.choice(labels[:4]), round(rng.uniform(0, 3), 3)) for i in range(n - 1)]
    for _ in range(rng.randint(4, 14)):
        i = rng.randrange(n - 1)
        j = rng.randrange(i + 1, n)
        arcs.append((i, j, rng.choice(labels), round(rng.uniform(0, 3), 3)))
    src, dst, lab, pen = zip(*arcs)
    return gtn.Graph(list(src), list(dst), list(lab), None, torch.tensor(pen, dtype=torch.float64), num_nodes=n)


@pytest.mark.parametrize("grammar", [None, Grammar.cheque_amount(), Grammar.pattern(r"[01]+[.,]?[01]*-?")],
                         ids=["none", "cheque_amount", "pattern"])
def test_digit_penalties_match_every_path(grammar):
    """``f_digits`` = log-sum-exp over every allowed path whose text has those digits, whatever text
    was asked for (``1.0`` and ``10-`` ask for the same digits)."""
    rng = random.Random(7)
    checked = 0
    for _ in range(20):
        g = random_dag(rng)
        by_digits: dict[str, list[float]] = {}
        for text, pens in brute_texts(g, grammar).items():
            by_digits.setdefault(digits(text), []).extend(pens)
        asked = ["10", "1.0", "10-", "0", "01", "1", "11", "", "1x"]
        f_all, f = text_penalties(g, asked, grammar, score="digits")
        if not by_digits:
            assert f_all == math.inf
            continue
        for text, got in zip(asked, f):
            if text == "1x":  # not in the alphabet
                assert got == math.inf
            elif digits(text) in by_digits:
                checked += 1
                assert got == pytest.approx(logsumexp_neg(by_digits[digits(text)]), abs=1e-9)
            else:
                assert got == math.inf
        # a digit string's posterior is at least that of any one text with it
        _, f_text = text_penalties(g, asked[:3], grammar)
        for ft, fd in zip(f_text, f[:3]):
            assert fd <= ft + 1e-9
    assert checked > 10


def test_unknown_score_is_refused():
    g = random_dag(random.Random(1))
    with pytest.raises(ValueError, match="score"):
        text_penalties(g, ["1"], None, score="amount")


@pytest.mark.parametrize("grammar", [Grammar.cheque_amount(), Grammar.pattern(r"\d{2}[.,]?\d{2}-?")],
                         ids=["cheque_amount", "pattern"])
def test_sdnn_digit_penalties_equal_the_general_route(grammar):
    """The SDNN recogniser's batched digit-string forward (a product automaton per digit string)
    equals ``text_penalties(score="digits")`` on the character model's composed frame graph."""
    from docrec.recognizers.sdnn import SDNNRecognizer

    cm = CharacterModel()
    rec = SDNNRecognizer.__new__(SDNNRecognizer)  # the method needs only the character model
    rec.charmodel = cm
    gen = torch.Generator().manual_seed(3)
    pen = torch.rand(4, 12, 17, generator=gen, dtype=torch.float64) * 6
    pen[:, :, 16] -= 2.0
    lengths = torch.tensor([12, 9, 11, 7])
    texts = ["12.34", "1234-", "12,34", "5"]
    got = rec._digits_forward(grammar, pen, lengths, texts)
    for b in range(4):
        g, _ = cm.compose_frames(pen[b, : lengths[b]])
        _, (want,) = text_penalties(g, [texts[b]], grammar, score="digits")
        if math.isinf(want):
            assert math.isinf(float(got[b]))
        else:
            assert float(got[b]) == pytest.approx(want, abs=1e-6)
