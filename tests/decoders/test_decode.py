"""decode / decode_frames against brute-force enumeration of every path: best texts, n-best order,
confidence (text posterior), margin, spans, rejection."""

from __future__ import annotations

import itertools
import math
import random

import gtn
import pytest
import torch

from decoders import (Alphabet, CharacterModel, CharacterModelConfig, DecodeResult, Grammar, decode,
                      decode_frames, text_penalties)
from decoders_testutil import brute_texts, logsumexp_neg

A = Alphabet.default()
NONE = A.none_id


def random_dag(rng: random.Random, *, labels=(0, 1, 2, NONE, -1)):
    n = rng.randint(4, 7)
    arcs = []
    for i in range(n - 1):  # a chain so that the final node is reachable
        arcs.append((i, i + 1, rng.choice(labels[:3]), round(rng.uniform(0, 3), 3)))
    for _ in range(rng.randint(3, 12)):
        i = rng.randrange(n - 1)
        j = rng.randrange(i + 1, n)
        arcs.append((i, j, rng.choice(labels), round(rng.uniform(0, 3), 3)))
    src, dst, lab, pen = zip(*arcs)
    return gtn.Graph(list(src), list(dst), list(lab), None, torch.tensor(pen, dtype=torch.float64),
                     num_nodes=n)


GRAMMARS = [
    None,
    Grammar.digits(1, 2),
    Grammar.lexicon(["01", "12", "2", "0012", "21"], penalties=[0.0, 0.5, 1.0, 0.2, 0.3]),
    Grammar.pattern(r"0*(1|2)?"),
    Grammar.zip_code(),  # usually nothing matches: exercises rejection
]


@pytest.mark.parametrize("gi", range(len(GRAMMARS)), ids=["none", "digits12", "lexicon", "pattern", "zip"])
def test_decode_matches_brute_force(gi):
    grammar = GRAMMARS[gi]
    rng = random.Random(10 + gi)
    n_checked = n_rejected = 0
    for _ in range(25):
        g = random_dag(rng)
        table = brute_texts(g, grammar)
        res = decode(g, grammar, n=3)
        if not table:
            assert len(res) == 1 and res[0].rejected and "no interpretation allowed" in res[0].reason
            assert res[0].text == "" and res[0].confidence == 0.0
            n_rejected += 1
            continue
        n_checked += 1
        total = logsumexp_neg([p for ps in table.values() for p in ps])
        ranked = sorted(table, key=lambda t: min(table[t]))
        assert len(res) == min(3, len(ranked))
        for k, r in enumerate(res):
            assert not r.rejected and r.rank == k
            assert r.text in table
            assert r.penalty == pytest.approx(min(table[ranked[k]]), abs=1e-9)  # k-th best distinct text
            assert r.penalty == pytest.approx(min(table[r.text]), abs=1e-9)
            post = math.exp(total - logsumexp_neg(table[r.text]))
            assert r.confidence == pytest.approx(post, abs=1e-9)
            assert r.path_confidence == pytest.approx(math.exp(total - r.penalty), abs=1e-9)
            assert 0.0 <= r.path_confidence <= r.confidence <= 1.0
            nxt = min(table[ranked[k + 1]]) - r.penalty if k + 1 < len(ranked) else math.inf
            assert r.margin == pytest.approx(nxt, abs=1e-9)
            assert r.forward_penalty == pytest.approx(total, abs=1e-9)
            # spans: one per character, its arc carries the character, positions are its nodes
            assert "".join(s.char for s in r.spans) == r.text
            for s in r.spans:
                (a,) = s.arcs
                assert int(g.olabel[a]) == s.label
                assert (s.start, s.end) == (int(g.src[a]), int(g.dst[a]))
                assert s.penalty == pytest.approx(float(g.penalty[a]))
            ends = [s.end for s in r.spans]
            starts = [s.start for s in r.spans]
            assert all(e <= s2 for e, s2 in zip(ends, starts[1:]))
        assert len({r.text for r in res}) == len(res)  # distinct texts
    assert n_checked > 0
    if gi == 4:
        assert n_rejected > 0


@pytest.mark.parametrize("gi", range(len(GRAMMARS) - 1), ids=["none", "digits12", "lexicon", "pattern"])
def test_text_penalties_match_brute_force(gi):
    """Forward penalties of arbitrary texts (in and out of the graph and the grammar) against the
    log-sum-exp over every enumerated path spelling them."""
    grammar = GRAMMARS[gi]
    rng = random.Random(40 + gi)
    for _ in range(15):
        g = random_dag(rng)
        table = brute_texts(g, grammar)
        asked = sorted(table)[:4] + ["0", "12", "21", "999", "0$", "x"]
        f_all, f_text = text_penalties(g, asked, grammar)
        if not table:
            assert f_all == math.inf and all(f == math.inf for f in f_text)
            continue
        assert f_all == pytest.approx(logsumexp_neg([p for ps in table.values() for p in ps]), abs=1e-9)
        for text, f in zip(asked, f_text):
            if text in table:
                assert f == pytest.approx(logsumexp_neg(table[text]), abs=1e-9)
            else:  # not spelled by any allowed path, rejected by the grammar, or not in the alphabet
                assert f == math.inf
        # the same quantity decode turns into its confidence
        for r in decode(g, grammar, n=2):
            (f,) = text_penalties(g, [r.text], grammar)[1]
            assert r.confidence == pytest.approx(min(1.0, math.exp(f_all - f)), abs=1e-9)


def test_segmentation_like_graph():
    g = gtn.Graph.from_str("""0
2
0 1 1 0.1
0 1 7 2.0
1 2 7 0.2
1 2 1 1.5
0 2 4 1.0
""")
    res = decode(g, n=5)
    pens = {"17": 0.3, "11": 1.6, "77": 2.2, "71": 3.5, "4": 1.0}
    assert [r.text for r in res] == ["17", "4", "11", "77", "71"]
    z = sum(math.exp(-p) for p in pens.values())
    for r in res:
        assert r.confidence == pytest.approx(math.exp(-pens[r.text]) / z, abs=1e-6)
    assert [(s.char, s.start, s.end, s.arcs) for s in res[0].spans] == [("1", 0, 1, (0,)), ("7", 1, 2, (2,))]
    assert [(s.start, s.end, s.arcs) for s in res[1].spans] == [(0, 2, (4,))]
    assert res[0].margin == pytest.approx(0.7, abs=1e-6)
    # a grammar changes the answer and renormalises the confidence
    (only2,) = decode(g, Grammar.digits(2, 2))
    z2 = z - math.exp(-1.0)
    assert only2.text == "17" and only2.confidence == pytest.approx(math.exp(-0.3) / z2, abs=1e-6)
    # rejection rule
    assert res[0].reject(0.9).rejected and "below threshold" in res[0].reject(0.9).reason
    assert res[0].reject(0.1) is res[0]
    assert res[0].reject(0.1, min_margin=1.0).rejected
    with pytest.raises(ValueError, match="threshold must be in"):
        res[0].reject(2.0)


def test_no_allowed_path_is_an_explicit_rejection():
    g = gtn.Graph.from_str("0\n2\n0 1 1 0.0\n1 2 2 0.0\n")
    (r,) = decode(g, Grammar.zip_code())
    assert isinstance(r, DecodeResult) and r.rejected and not r.accepted
    assert r.reason == "no interpretation allowed by the grammar (zip code (+4))"
    assert r.penalty == math.inf and r.spans == ()
    # only 'none' arcs: nothing to read without a grammar either
    g2 = gtn.Graph.from_str(f"0\n1\n0 1 {NONE} 0.0\n")
    assert decode(g2)[0].rejected


def test_frames_brute_force():
    """decode_frames on a tiny alphabet against enumeration of every frame sequence."""
    small = Alphabet(("0", "1", "<none>"))
    model = CharacterModel(small, CharacterModelConfig(enter=0.25, repeat=0.125, none=0.0625, direct=0.375)).double()
    grammar = Grammar.pattern("1?0*", alphabet=small)
    rng = torch.Generator().manual_seed(4)
    T = 5
    for trial in range(4):
        P = torch.rand(T, 3, generator=rng, dtype=torch.float64) * 3
        table: dict[str, list[float]] = {}
        for seq in itertools.product(range(3), repeat=T):
            text, prev, pen, ok = [], None, 0.0, True
            for lab, run in itertools.groupby(seq):
                k = len(list(run))
                if lab == 2:
                    pen += 0.0625 * k
                    prev = None
                    continue
                pen += (0.375 if prev is not None else 0.25) + 0.125 * (k - 1)
                text.append(small.symbols[lab])
                prev = lab
            text = "".join(text)
            if not grammar.accepts(text):
                continue
            pen += float(sum(P[t, seq[t]] for t in range(T)))
            table.setdefault(text, []).append(pen)
        total = logsumexp_neg([p for ps in table.values() for p in ps])
        ranked = sorted(table, key=lambda t: min(table[t]))
        res = decode_frames(P, grammar, n=2, model=model)
        for k, r in enumerate(res):
            assert r.penalty == pytest.approx(min(table[ranked[k]]), abs=1e-9)
            assert r.confidence == pytest.approx(math.exp(total - logsumexp_neg(table[r.text])), abs=1e-9)
            for s in r.spans:  # frames of a span all read its character
                for a in s.arcs:
                    assert a % 3 == s.label and s.start <= a // 3 < s.end


def test_errors():
    g = gtn.Graph.from_str("0\n1\n0 1 1 0.0\n")
    with pytest.raises(ValueError, match=r"\[decoders.decode\] got a batch of 2 graphs"):
        decode(gtn.batch([g, g]))
    with pytest.raises(ValueError, match=r"olabel 20 of arc 0 is not in the alphabet of 17 symbols"):
        decode(gtn.Graph.from_str("0\n1\n0 1 20 0.0\n"))
    other = Alphabet(tuple("0123456789.,-$*/") + ("<none>",))
    with pytest.raises(ValueError, match=r"\[decoders.decode\] recogniser alphabet differs .* at id 10"):
        decode(g, Grammar.digits(1, 3), alphabet=other)
    with pytest.raises(ValueError, match="n must be a positive int"):
        decode(g, n=0)
    with pytest.raises(ValueError, match="grammar must be a decoders.Grammar"):
        decode(g, r"\d")


def test_beam_in_decode():
    rng = random.Random(3)
    grammar = Grammar.digits(2, 3)
    for i in range(20):
        g = random_dag(rng, labels=(0, 1, 2, NONE, -1) if i % 2 else (0, 1, 2, -1))
        for gr in (None, grammar):
            exact = decode(g, gr)[0]
            wide = decode(g, gr, beam=1e6)[0]
            assert wide.text == exact.text and wide.confidence == pytest.approx(exact.confidence)
            narrow = decode(g, gr, beam=0.5)[0]
            if narrow.rejected:
                assert "after beam pruning (beam=0.5)" in narrow.reason
                continue
            assert narrow.penalty >= exact.penalty - 1e-12  # pruning never finds a better reading
            if narrow.text == exact.text:  # the pruned probability mass is missing: over-estimate
                assert narrow.confidence >= exact.confidence - 1e-12
            if gr is None and i % 2 == 0:  # no 'none' arcs, no grammar: the best path always survives
                assert narrow.text == exact.text and narrow.penalty == pytest.approx(exact.penalty)
