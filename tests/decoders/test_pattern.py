"""The pattern language: accepts exactly its language (vs Python's re on enumerated strings) and fails
clearly on malformed patterns."""

from __future__ import annotations

import random
import re

import pytest

from decoders import Alphabet, Grammar, PatternError
from decoders_testutil import all_strings, arclist_of


def to_python_re(expr: str) -> str:
    """Our syntax -> Python re: '.' and '$' are literals outside classes here."""
    out, i, in_class = [], 0, False
    while i < len(expr):
        c = expr[i]
        if c == "\\":
            out.append(expr[i : i + 2])
            i += 2
            continue
        if in_class:
            if c == "]" and not out[-1].endswith(("[", "[^")):
                in_class = False
            out.append(c)
        elif c == "[":
            in_class = True
            out.append(c)
        elif c in ".$":
            out.append("\\" + c)
        else:
            out.append(c)
        i += 1
    return "".join(out)


FIXED_PATTERNS = [
    r"\d{2,3}",
    r"0*1",
    r"(0|1)+-?",
    r"[0-1]{1,}\.[01]?",
    r"$?\**1(,0{2})*",
    r"[^0]{,2}",
    r"(01|1)*|-",
    r"((0)?1?)*",  # nested nullable stars: epsilon cycles in the NFA
    r"0|",
    r"",
    r"[-.]1",
    r"[01-]{3}",
    r"\$\*\.\-?0",
    r"(1{2}){1,2}0?",
]
CHARS = "01-.$*"


@pytest.mark.parametrize("expr", FIXED_PATTERNS)
def test_pattern_accepts_exactly_its_language(expr):
    g = Grammar.pattern(expr)
    rx = re.compile(to_python_re(expr))
    cyclic = arclist_of(g.graph())
    unrolled = arclist_of(g.graph(max_len=4))
    assert g.graph(max_len=4).acyclic
    for s in all_strings(CHARS, 4):
        want = rx.fullmatch(s) is not None
        assert g.accepts(s) == want, (expr, s)
        labels = g.alphabet.encode(s)
        assert (cyclic.accepts(labels) is not None) == want, (expr, s)
        assert (unrolled.accepts(labels) is not None) == want, (expr, s)


def random_pattern(rng: random.Random, depth: int = 0) -> str:
    kind = rng.choice(["lit", "lit", "class", "cat", "alt", "rep"] if depth < 3 else ["lit", "class"])
    if kind == "lit":
        return rng.choice(["0", "1", "-", r"\d"])
    if kind == "class":
        return rng.choice(["[01]", "[^1]", "[0-]", r"[\d-]"])
    if kind == "cat":
        return "".join(random_pattern(rng, depth + 1) for _ in range(rng.randint(2, 3)))
    if kind == "alt":
        return "(" + "|".join(random_pattern(rng, depth + 1) for _ in range(rng.randint(2, 3))) + ")"
    q = rng.choice(["?", "*", "+", "{2}", "{1,3}", "{,2}", "{2,}"])
    return "(" + random_pattern(rng, depth + 1) + ")" + q


def test_random_patterns_match_python_re():
    rng = random.Random(5)
    strings = list(all_strings("019-", 5))
    for _ in range(120):
        expr = random_pattern(rng)
        g = Grammar.pattern(expr)
        rx = re.compile(to_python_re(expr))
        for s in strings:
            assert g.accepts(s) == (rx.fullmatch(s) is not None), (expr, s)


def test_minimal_and_deterministic():
    # \d{5}: 6 states, 50 arcs, no epsilon (the final state has no way out and is merged into the final node)
    g = Grammar.pattern(r"\d{5}").graph()
    assert (g.num_nodes, g.num_arcs) == (6, 50)
    assert int((g.ilabel < 0).sum()) == 0
    # deterministic: no node has two arcs with the same label
    dfa = Grammar.pattern(r"(0|01)*1").dfa
    for row in dfa.trans:
        assert len(row) == len(set(row))


@pytest.mark.parametrize(
    "expr, fragment, pos",
    [
        ("(12", "unbalanced '('", 0),
        ("12)", "unbalanced ')'", 2),
        ("1a", "character 'a' is not in the alphabet", 1),
        ("*1", "nothing to repeat", 0),
        ("1**", "follows another quantifier", 2),
        ("1{3,2}", "min 3 > max 2", 1),
        ("1{x}", "bad repeat", 1),
        ("1{2", "unterminated '{'", 1),
        ("1{,}", "at least one bound", 1),
        ("1{500}", "exceeds", 1),
        ("[]", "empty character class", 0),
        ("[12", "unterminated character class", 0),
        ("[9-0]", "reversed", 1),
        ("[^\\d,.\\-$*/]", "matches no character", 0),
        ("\\q", "unknown escape", 0),
        ("12\\", "lone backslash", 2),
        ("1]", "unbalanced ']'", 1),
    ],
)
def test_bad_patterns_fail_clearly(expr, fragment, pos):
    with pytest.raises(PatternError) as err:
        Grammar.pattern(expr)
    msg = str(err.value)
    assert msg.startswith("[decoders.pattern]")
    assert fragment in msg
    assert f"at position {pos}" in msg
    assert msg.splitlines()[-1] == "    " + " " * pos + "^"


def test_pattern_over_other_alphabet():
    digits = Alphabet.digits()
    g = Grammar.pattern(r"\d-?", alphabet=Alphabet.default())
    assert g.accepts("1-")
    with pytest.raises(PatternError, match="'-' is not in the alphabet"):
        Grammar.pattern(r"\d-?", alphabet=digits)
