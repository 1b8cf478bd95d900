"""The pattern language: a small regular-expression dialect compiled to a deterministic automaton.

Syntax (``Grammar.pattern(expr)``), over the characters of an :class:`~decoders.alphabet.Alphabet`:

=================  ==============================================================================
``0`` ``,`` ``.``  a literal character. ``.`` and ``$`` are LITERALS (the decimal point and the dollar
``$`` ``-`` ``/``  sign of a courtesy amount), not "any character" / "end of string".
``\\d``             any digit ``0-9`` (of those in the alphabet)
``\\c``             the literal ``c`` for a metacharacter or punctuation ``c`` (``\\* \\. \\( \\\\ ...``)
``[...]``          a character class: literals, ranges ``0-4`` (by code point, ends must be characters
                   of the alphabet), ``\\d``, escapes; ``[^...]`` = every alphabet character but those.
                   ``-`` is literal when first or last in the class.
``(...)``          a group
``a|b``            alternation (lowest precedence); an empty alternative matches the empty string
``?`` ``*`` ``+``  zero or one, zero or more, one or more of the preceding atom
``{m}`` ``{m,}``   exactly m, at least m, between m and n, at most n repetitions (bounds <= 100)
``{m,n}`` ``{,n}``
=================  ==============================================================================

Metacharacters are ``\\ [ ] ( ) | ? * + { }``; write ``\\*`` (or ``[*]``) for the star of a cheque's
fill. Compilation is Thompson's construction to an epsilon-NFA, subset construction to a DFA and Moore
minimisation (:mod:`decoders.automaton`), so the result has exactly one path per accepted string.
Errors are ``ValueError("[decoders.pattern] <problem> at position i", ...)`` with a caret under the
offending character.
"""

from __future__ import annotations

from .alphabet import Alphabet
from .automaton import EPS, Dfa, Nfa

METACHARS = set("\\[]()|?*+{}")
MAX_REPEAT = 100


class PatternError(ValueError):
    """A malformed pattern; the message names the position and shows it with a caret."""


class _Parser:
    """Recursive-descent parser: expr -> AST of tuples ('set', ids) / ('cat', [..]) / ('alt', [..]) /
    ('rep', node, m, n or None)."""

    def __init__(self, expr: str, alphabet: Alphabet) -> None:
        if not isinstance(expr, str):
            raise PatternError(f"[decoders.pattern] expected a string pattern, got {type(expr).__name__}")
        self.expr = expr
        self.pos = 0
        self.alphabet = alphabet
        self.digits = frozenset(alphabet.id(c) for c in "0123456789" if c in alphabet.characters)
        self.all_chars = frozenset(alphabet.char_ids)

    # ------------------------------------------------------------------ helpers
    def error(self, msg: str, pos: int | None = None) -> PatternError:
        pos = self.pos if pos is None else pos
        caret = " " * pos + "^"
        return PatternError(f"[decoders.pattern] {msg} at position {pos}\n    {self.expr}\n    {caret}")

    def peek(self) -> str | None:
        return self.expr[self.pos] if self.pos < len(self.expr) else None

    def char_id(self, c: str, pos: int) -> int:
        try:
            return self.alphabet.id(c, where="decoders.pattern")
        except ValueError:
            raise self.error(
                f"character {c!r} is not in the alphabet {self.alphabet.describe()}", pos
            ) from None

    # ------------------------------------------------------------------ grammar
    def parse(self):
        node = self.parse_alt()
        if self.pos < len(self.expr):
            c = self.expr[self.pos]
            if c == ")":
                raise self.error("unbalanced ')' (no group to close)")
            raise self.error(f"unexpected {c!r}")
        return node

    def parse_alt(self):
        branches = [self.parse_concat()]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.parse_concat())
        return branches[0] if len(branches) == 1 else ("alt", branches)

    def parse_concat(self):
        items = []
        while self.peek() is not None and self.peek() not in "|)":
            items.append(self.parse_repeat())
        return items[0] if len(items) == 1 else ("cat", items)

    def parse_repeat(self):
        start = self.pos
        atom = self.parse_atom()
        c = self.peek()
        if c is None or c not in "?*+{":
            return atom
        if c == "?":
            self.pos += 1
            lo, hi = 0, 1
        elif c == "*":
            self.pos += 1
            lo, hi = 0, None
        elif c == "+":
            self.pos += 1
            lo, hi = 1, None
        else:
            lo, hi = self.parse_braces()
        nxt = self.peek()
        if nxt is not None and nxt in "?*+{":
            raise self.error(f"quantifier {nxt!r} follows another quantifier; use a group, e.g. "
                             f"'({self.expr[start:self.pos]}){nxt}'")
        return ("rep", atom, lo, hi)

    def parse_braces(self):
        open_pos = self.pos
        close = self.expr.find("}", self.pos)
        if close < 0:
            raise self.error("unterminated '{' (expected '{m}', '{m,}', '{m,n}' or '{,n}')", open_pos)
        body = self.expr[self.pos + 1 : close]
        parts = body.split(",")
        if len(parts) > 2 or not all(p.strip().isdigit() or p.strip() == "" for p in parts):
            raise self.error(f"bad repeat '{{{body}}}' (expected '{{m}}', '{{m,}}', '{{m,n}}' or '{{,n}}')",
                             open_pos)
        if len(parts) == 1:
            if not parts[0].strip():
                raise self.error("empty repeat '{}'", open_pos)
            lo = hi = int(parts[0])
        else:
            lo = int(parts[0]) if parts[0].strip() else 0
            hi = int(parts[1]) if parts[1].strip() else None
            if not parts[0].strip() and hi is None:
                raise self.error("repeat '{,}' needs at least one bound", open_pos)
        if hi is not None and lo > hi:
            raise self.error(f"repeat '{{{body}}}' has min {lo} > max {hi}", open_pos)
        if max(lo, hi or 0) > MAX_REPEAT:
            raise self.error(f"repeat bound in '{{{body}}}' exceeds {MAX_REPEAT}", open_pos)
        self.pos = close + 1
        return lo, hi

    def parse_atom(self):
        c = self.peek()
        pos = self.pos
        if c == "(":
            self.pos += 1
            node = self.parse_alt()
            if self.peek() != ")":
                raise self.error("unbalanced '(' (missing ')')", pos)
            self.pos += 1
            return node
        if c == "[":
            return ("set", self.parse_class())
        if c == "\\":
            return ("set", self.parse_escape())
        if c in "?*+{":
            raise self.error(f"quantifier {c!r} has nothing to repeat")
        if c in "]}":
            raise self.error(f"unbalanced {c!r}; write '\\{c}' for a literal")
        self.pos += 1
        return ("set", frozenset([self.char_id(c, pos)]))

    def parse_escape(self) -> frozenset[int]:
        pos = self.pos
        if self.pos + 1 >= len(self.expr):
            raise self.error("pattern ends with a lone backslash", pos)
        c = self.expr[self.pos + 1]
        self.pos += 2
        if c == "d":
            if not self.digits:
                raise self.error(f"'\\d' used but the alphabet {self.alphabet.describe()} has no digit", pos)
            return self.digits
        if c in METACHARS or not c.isalnum():
            return frozenset([self.char_id(c, pos + 1)])
        raise self.error(f"unknown escape '\\{c}' (supported: \\d and escaped punctuation)", pos)

    def parse_class(self) -> frozenset[int]:
        open_pos = self.pos
        self.pos += 1
        negate = self.peek() == "^"
        if negate:
            self.pos += 1
        ids: set[int] = set()
        first = True
        while True:
            c = self.peek()
            if c is None:
                raise self.error("unterminated character class (missing ']')", open_pos)
            if c == "]" and not first:
                self.pos += 1
                break
            if c == "]":
                raise self.error("empty character class '[]'", open_pos)
            first = False
            pos = self.pos
            if c == "\\":
                got = self.parse_escape()
                ids |= got
                continue
            self.pos += 1
            nxt = self.peek()
            after = self.expr[self.pos + 1] if self.pos + 1 < len(self.expr) else None
            if nxt == "-" and after is not None and after != "]":
                # a range c-after
                self.char_id(c, pos)  # both ends must be characters of the alphabet
                self.char_id(after, self.pos + 1)
                if ord(after) < ord(c):
                    raise self.error(f"range '{c}-{after}' is reversed", pos)
                for i in self.alphabet.char_ids:
                    if ord(c) <= ord(self.alphabet.symbols[i]) <= ord(after):
                        ids.add(i)
                self.pos += 2
            else:
                ids.add(self.char_id(c, pos))
        if negate:
            ids = set(self.all_chars) - ids
        if not ids:
            raise self.error("character class matches no character of the alphabet", open_pos)
        return frozenset(ids)


def parse(expr: str, alphabet: Alphabet):
    """Parse ``expr`` into an AST (see module docstring). Raises :class:`PatternError`."""
    return _Parser(expr, alphabet).parse()


def _build(nfa: Nfa, node) -> tuple[int, int]:
    """Thompson construction: one fragment (entry, exit) per AST node."""
    kind = node[0]
    if kind == "set":
        s, e = nfa.add_state(), nfa.add_state()
        for lab in sorted(node[1]):
            nfa.add_arc(s, e, lab)
        return s, e
    if kind == "cat":
        s = e = nfa.add_state()
        for child in node[1]:
            cs, ce = _build(nfa, child)
            nfa.add_arc(e, cs, EPS)
            e = ce
        return s, e
    if kind == "alt":
        s, e = nfa.add_state(), nfa.add_state()
        for child in node[1]:
            cs, ce = _build(nfa, child)
            nfa.add_arc(s, cs, EPS)
            nfa.add_arc(ce, e, EPS)
        return s, e
    if kind == "rep":
        _, child, lo, hi = node
        s = e = nfa.add_state()
        for _ in range(lo):  # mandatory copies
            cs, ce = _build(nfa, child)
            nfa.add_arc(e, cs, EPS)
            e = ce
        if hi is None:  # Kleene star on one more copy
            cs, ce = _build(nfa, child)
            nfa.add_arc(e, cs, EPS)
            nfa.add_arc(ce, cs, EPS)
            end = nfa.add_state()
            nfa.add_arc(e, end, EPS)
            nfa.add_arc(ce, end, EPS)
            return s, end
        end = nfa.add_state()
        nfa.add_arc(e, end, EPS)
        for _ in range(hi - lo):  # optional copies, each may be skipped to the end
            cs, ce = _build(nfa, child)
            nfa.add_arc(e, cs, EPS)
            nfa.add_arc(ce, end, EPS)
            e = ce
        return s, end
    raise AssertionError(f"unknown AST node {kind}")


def compile_pattern(expr: str, alphabet: Alphabet) -> Dfa:
    """Compile a pattern to its minimal deterministic automaton over ``alphabet``'s label ids.

    Args:
        expr: the pattern (syntax in the module docstring).
        alphabet: gives the label id of every character.

    Returns:
        A :class:`~decoders.automaton.Dfa` with zero penalties accepting exactly the pattern's language.

    Raises:
        PatternError: a malformed pattern, a character outside the alphabet, or an empty language.
    """
    ast = parse(expr, alphabet)
    nfa = Nfa()
    s, e = _build(nfa, ast)
    nfa.start = s
    nfa.finals = {e: 0.0}
    dfa = nfa.determinize()
    if dfa.is_empty():
        raise PatternError(f"[decoders.pattern] pattern {expr!r} accepts no string")
    return dfa
