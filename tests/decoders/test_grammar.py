"""Ready grammars against independent membership predicates on enumerated strings, and the alphabet."""

from __future__ import annotations

import random

import pytest

from decoders import Alphabet, Grammar
from decoders_testutil import all_strings, arclist_of


def check_language(grammar: Grammar, strings, member, *, graph_every: int = 1, max_len=None):
    """grammar.accepts == member on every string; also through the graph (cyclic and unrolled forms)."""
    arcs = arclist_of(grammar.graph())
    unrolled = arclist_of(grammar.graph(max_len=max_len)) if max_len is not None else None
    n_in = 0
    for i, s in enumerate(strings):
        want = member(s)
        n_in += want
        assert grammar.accepts(s) == want, (grammar, s)
        if i % graph_every == 0:
            labels = grammar.alphabet.encode(s)
            assert (arcs.accepts(labels) is not None) == want, (grammar, s)
            if unrolled is not None and len(s) <= max_len:
                assert (unrolled.accepts(labels) is not None) == want, (grammar, s)
    return n_in


# ---------------------------------------------------------------- digits
@pytest.mark.parametrize("lo, hi", [(1, 3), (0, 2), (2, None), (4, 4)])
def test_digits(lo, hi):
    g = Grammar.digits(lo, hi)

    def member(s):
        return all(c in "0123456789" for c in s) and lo <= len(s) <= (hi if hi is not None else 99)

    n_in = check_language(g, all_strings("07,", 6), member, max_len=5)
    assert n_in > 0
    assert g.max_length == hi


def test_digits_bad_bounds():
    with pytest.raises(ValueError, match=r"\[decoders.Grammar.digits\]"):
        Grammar.digits(3, 2)


# ---------------------------------------------------------------- zip codes
def zip_member(s, plus4=True):
    if len(s) == 5:
        return s.isdigit()
    return plus4 and len(s) == 10 and s[:5].isdigit() and s[5] == "-" and s[6:].isdigit()


@pytest.mark.parametrize("plus4", [True, False])
def test_zip_code_language(plus4):
    g = Grammar.zip_code(plus4=plus4)
    strings = list(all_strings("3-.", 10))  # digit / '-' / other at every position
    rng = random.Random(0)
    digits = "0123456789"
    for _ in range(300):  # all digits appear
        body = "".join(rng.choice(digits) for _ in range(9))
        strings += [body[:5], body[:5] + "-" + body[5:], body[:4], body[:5] + body[5:], body[:5] + "-" + body[5:8]]
    n_in = check_language(g, strings, lambda s: zip_member(s, plus4), graph_every=7)
    assert n_in > 300


def test_zip_code_plus4_prior():
    g = Grammar.zip_code(plus4_penalty=1.25)
    assert g.penalty("12345") == 0.0
    assert g.penalty("12345-6789") == pytest.approx(1.25)
    arcs = arclist_of(g.graph())
    assert arcs.accepts(g.alphabet.encode("12345-6789")) == pytest.approx(1.25)
    assert arcs.accepts(g.alphabet.encode("12345")) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="finite"):
        Grammar.zip_code(plus4_penalty=float("inf"))


# ---------------------------------------------------------------- amounts
def amount_member(s, *, dollar="optional", fill="leading", separators="us", grouping=True,
                  decimals="optional", cents_digits=2, max_int_digits=None):
    """Independent (non-regex) definition of the language documented in Grammar.amount."""
    if s.startswith("$"):
        if dollar == "none":
            return False
        s = s[1:]
    elif dollar == "required":
        return False
    if fill != "none":
        s = s.lstrip("*")
    if fill == "both":
        s = s.rstrip("*")
    seps = {"us": [(",", ".")], "eu": [(".", ",")], "both": [(",", "."), (".", ",")]}[separators]

    def is_digits(x):
        return len(x) > 0 and all(c in "0123456789" for c in x)

    def int_ok(p, thou):
        if thou in p:
            if not grouping:
                return False
            parts = p.split(thou)
            if not (is_digits(parts[0]) and 1 <= len(parts[0]) <= 3 and parts[0][0] != "0"):
                return False
            if not all(is_digits(g) and len(g) == 3 for g in parts[1:]):
                return False
            n = len(p) - (len(parts) - 1)
        else:
            if not is_digits(p) or (len(p) > 1 and p[0] == "0"):
                return False
            n = len(p)
        return max_int_digits is None or n <= max_int_digits

    for thou, dec in seps:
        if dec in s:
            ip, fp = s.split(dec, 1)
            if decimals == "none" or not (is_digits(fp) and len(fp) == cents_digits):
                continue
        else:
            if decimals == "required":
                continue
            ip = s
        if int_ok(ip, thou):
            return True
    return False


AMOUNT_OPTIONS = [
    {},
    {"separators": "eu"},
    {"separators": "both", "fill": "both"},
    {"dollar": "required", "decimals": "required", "cents_digits": 1},
    {"dollar": "none", "fill": "none", "grouping": False, "decimals": "none"},
    {"max_int_digits": 4},
]


def amount_strings(rng):
    out = list(all_strings("01$*,.", 5))
    pieces = ["$", "*", "**", "0", "1", "10", "100", "1000", "7", "12", "123", ",000", ",123", ".000", ".5",
              ".50", ",50", ",5", ".05", "00"]
    for _ in range(2500):
        out.append("".join(rng.choice(pieces) for _ in range(rng.randint(1, 6))))
    return out


@pytest.mark.parametrize("opts", AMOUNT_OPTIONS, ids=[str(o) for o in AMOUNT_OPTIONS])
def test_amount_language(opts):
    g = Grammar.amount(**opts)
    strings = amount_strings(random.Random(1))
    n_in = check_language(g, strings, lambda s: amount_member(s, **opts), graph_every=11, max_len=8)
    assert n_in > 10


def test_amount_examples():
    g = Grammar.amount()
    for ok in ["$***1,234.56", "0.50", "1234", "$12", "12,345,678.90", "**7"]:
        assert g.accepts(ok), ok
    for bad in ["01", "1,23", ".50", "$", "1.2", "1,2345", "*$5", "5*", "1.234,56"]:
        assert not g.accepts(bad), bad
    assert Grammar.amount(separators="eu").accepts("1.234,56")
    assert Grammar.amount_pattern() == r"\$?\**(0|[1-9]\d*|[1-9]\d{0,2}(,\d{3})+)(\.\d{2})?"
    with pytest.raises(ValueError, match=r"\[decoders.Grammar.amount\] decimals='maybe'"):
        Grammar.amount(decimals="maybe")


# ---------------------------------------------------------------- lexicon
def test_lexicon_language_and_prefix_sharing():
    rng = random.Random(2)
    for _ in range(30):
        words = sorted({"".join(rng.choice("019") for _ in range(rng.randint(0, 4))) for _ in range(rng.randint(1, 8))})
        pens = [round(rng.uniform(0, 3), 3) for _ in words]
        g = Grammar.lexicon(words, penalties=pens)
        table = dict(zip(words, pens))
        check_language(g, all_strings("019", 5), lambda s: s in table)
        arcs = arclist_of(g.graph())
        for w, p in table.items():
            assert g.penalty(w) == pytest.approx(p)
            assert arcs.accepts(g.alphabet.encode(w)) == pytest.approx(p)
    # shared prefixes: 3 words of 4 characters with a common prefix of 3 -> 3 + 3 arcs, not 12
    g = Grammar.lexicon(["1230", "1231", "1239"])
    assert g.graph().num_arcs == 6


def test_lexicon_errors():
    with pytest.raises(ValueError, match="empty word list"):
        Grammar.lexicon([])
    with pytest.raises(ValueError, match="'a' is not in the alphabet"):
        Grammar.lexicon(["12", "1a"])
    with pytest.raises(ValueError, match="listed twice"):
        Grammar.lexicon(["12", "12"], penalties=[0.0, 1.0])
    assert Grammar.lexicon(["12", "12"]).accepts("12")


# ---------------------------------------------------------------- exclusion (n-best support)
def test_excluding():
    g = Grammar.digits(1, 3).excluding(["12", "7", "999"])
    check_language(g, all_strings("1279", 4),
                   lambda s: s.isdigit() and 1 <= len(s) <= 3 and s not in {"12", "7", "999"})
    zp = Grammar.zip_code(plus4_penalty=2.0).excluding(["12345"])
    assert zp.penalty("12345-0000") == pytest.approx(2.0) and not zp.accepts("12345")


# ---------------------------------------------------------------- alphabet
def test_alphabet_default_and_encoding():
    a = Alphabet.default()
    assert a.num_classes == 17 and a.none_id == 16
    assert a.symbols[:16] == tuple("0123456789,.-$*/")
    assert a.encode("$1,5.0") == [13, 1, 10, 5, 11, 0]
    assert a.decode([13, 1, -1, 16, 10]) == "$1,"
    with pytest.raises(ValueError, match=r"\[decoders.Alphabet.encode\] character 'x'"):
        a.encode("1x")
    with pytest.raises(ValueError, match="appears twice"):
        Alphabet(("0", "0"), None)


def test_alphabet_mismatch_is_refused():
    a = Alphabet.default()
    a.check_compatible(a.symbols, where="t")
    swapped = list(a.symbols)
    swapped[10], swapped[11] = swapped[11], swapped[10]
    with pytest.raises(ValueError, match=r"\[decoders.decode\] recogniser alphabet differs from the grammar's at id 10: '\.' vs ','"):
        a.check_compatible(tuple(swapped), where="decoders.decode")
    with pytest.raises(ValueError, match="has 11 symbols but the grammar's has 17"):
        a.check_compatible(Alphabet.digits(with_none=True).symbols[:10] + a.symbols[10:11], where="x")
