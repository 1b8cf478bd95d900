"""Grammars: which character strings a field may hold, as weighted acceptors (docs/paper.md Sec. IV, X).

A :class:`Grammar` is composed with an interpretation graph (``gtn.compose(interp, grammar.graph(...))``)
so that only the interpretations it allows survive; its arc penalties act as a prior (e.g. a zip code
more often has no ``-4`` part). Every grammar is held as a minimal deterministic automaton, so each
accepted string has exactly one path (no interpretation is counted twice by the forward algorithm) and
membership can be checked exactly on the host (:meth:`Grammar.accepts`).

Ready grammars (languages written in the pattern syntax of :mod:`decoders.pattern`):

* ``Grammar.digits(min_len, max_len)``: ``\\d{min_len,max_len}`` (``max_len=None``: no upper bound).
* ``Grammar.zip_code()``: ``\\d{5}(-\\d{4})?``; ``plus4_penalty`` is added to every zip code with the
  ``-4`` part (a prior; may be negative), ``plus4=False`` gives ``\\d{5}``.
* ``Grammar.amount(...)``: courtesy amounts, see :meth:`Grammar.amount`.
* ``Grammar.cheque_amount()``: amounts as written on real cheques (separators of both conventions,
  ``*`` fill, end marks such as ``.-`` or ``/-``); the ``amount`` spec of the command line.
* ``Grammar.lexicon(words)``: exactly the listed strings (optional per-word penalties).
* ``Grammar.pattern(expr)``: any pattern.

``grammar.with_digits(d)`` restricts any grammar to the strings whose digits are ``d`` (every way of
writing one amount), for the posterior of a digit string.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import torch

import gtn

from .alphabet import Alphabet
from .automaton import ArcList, Dfa, intersect, trie
from .pattern import compile_pattern

DIGITS = "0123456789"  # the characters of a digit string (what a bank keys of an amount)


class Grammar:
    """A weighted regular language over the characters of an alphabet.

    Args:
        dfa: the deterministic automaton (labels are the alphabet's character ids).
        alphabet: the symbol table (default: the shared 17-class alphabet).
        description: a human-readable summary of the language (shown in errors and results).
    """

    def __init__(self, dfa: Dfa, *, alphabet: Alphabet | None = None, description: str = "grammar") -> None:
        self.alphabet = alphabet or Alphabet.default()
        self.dfa = dfa
        self.description = description
        bad = [lab for lab in dfa.labels() if lab not in self.alphabet.char_ids]
        if bad:
            raise ValueError(
                f"[decoders.Grammar] label {bad[0]} is not a character id of {self.alphabet.describe()}"
            )
        self._graphs: dict = {}

    def __repr__(self) -> str:
        return f"Grammar({self.description!r}, {self.dfa.num_states} states)"

    # ------------------------------------------------------------------ ready grammars
    @classmethod
    def pattern(cls, expr: str, *, alphabet: Alphabet | None = None) -> "Grammar":
        """The language of a pattern (syntax: :mod:`decoders.pattern`), e.g. ``r"\\d{3}-\\d{4}"``.

        Raises:
            decoders.pattern.PatternError: a malformed pattern (position and caret in the message).
        """
        alphabet = alphabet or Alphabet.default()
        return cls(compile_pattern(expr, alphabet), alphabet=alphabet, description=f"pattern {expr}")

    @classmethod
    def digits(cls, min_len: int = 1, max_len: int | None = None, *, alphabet: Alphabet | None = None) -> "Grammar":
        """Digit strings of ``min_len`` to ``max_len`` digits (``None``: unbounded), i.e. ``\\d{m,n}``."""
        if min_len < 0 or (max_len is not None and max_len < min_len):
            raise ValueError(f"[decoders.Grammar.digits] need 0 <= min_len <= max_len, got {min_len}, {max_len}")
        hi = "" if max_len is None else str(max_len)
        expr = rf"\d{{{min_len},{hi}}}"
        g = cls.pattern(expr, alphabet=alphabet)
        g.description = f"digits {min_len}..{'inf' if max_len is None else max_len}"
        return g

    @classmethod
    def zip_code(cls, *, plus4: bool = True, plus4_penalty: float = 0.0, alphabet: Alphabet | None = None) -> "Grammar":
        """US zip codes ``\\d{5}(-\\d{4})?``.

        Args:
            plus4: allow the ``-dddd`` extension.
            plus4_penalty: penalty added to every zip code that has the extension (on the ``-`` arc);
                e.g. ``-log(P(plus4) / P(no plus4))``. Must be finite.
        """
        if not math.isfinite(plus4_penalty):
            raise ValueError(f"[decoders.Grammar.zip_code] plus4_penalty must be finite, got {plus4_penalty}")
        g = cls.pattern(r"\d{5}(-\d{4})?" if plus4 else r"\d{5}", alphabet=alphabet)
        if plus4 and plus4_penalty:
            g.dfa = g.dfa.with_label_penalty(g.alphabet.id("-"), float(plus4_penalty))
        g.description = "zip code" + (" (+4)" if plus4 else "")
        return g

    @staticmethod
    def amount_pattern(
        *,
        dollar: str = "optional",
        fill: str = "leading",
        separators: str = "us",
        grouping: bool = True,
        decimals: str = "optional",
        cents_digits: int = 2,
        max_int_digits: int | None = None,
        end_marks: int = 0,
    ) -> str:
        """The pattern of :meth:`amount` for the given options (see there)."""
        choices = {"dollar": (dollar, ("optional", "required", "none")),
                   "fill": (fill, ("none", "leading", "both")),
                   "separators": (separators, ("us", "eu", "both")),
                   "decimals": (decimals, ("optional", "required", "none"))}
        for name, (val, allowed) in choices.items():
            if val not in allowed:
                raise ValueError(f"[decoders.Grammar.amount] {name}={val!r}, expected one of {allowed}")
        if cents_digits < 1 or (max_int_digits is not None and max_int_digits < 1):
            raise ValueError("[decoders.Grammar.amount] cents_digits and max_int_digits must be >= 1")
        if isinstance(end_marks, bool) or not isinstance(end_marks, int) or end_marks < 0:
            raise ValueError(f"[decoders.Grammar.amount] end_marks must be an int >= 0, got {end_marks!r}")
        if separators == "both":
            us, eu = (Grammar.amount_pattern(dollar=dollar, fill=fill, separators=conv, grouping=grouping,
                                             decimals=decimals, cents_digits=cents_digits,
                                             max_int_digits=max_int_digits, end_marks=end_marks)
                      for conv in ("us", "eu"))
            return f"({us})|({eu})"
        thou, dec = (",", r"\.") if separators == "us" else (r"\.", ",")
        m = max_int_digits
        plain = r"0|[1-9]\d*" if m is None else (r"0|[1-9]" + (rf"\d{{0,{m - 1}}}" if m > 1 else ""))
        integer = [plain]
        if grouping:
            if m is None:
                integer.append(rf"[1-9]\d{{0,2}}({thou}\d{{3}})+")
            else:
                for groups in range(1, (m - 1) // 3 + 1):  # lead digits + 3 * groups <= m
                    lead = min(3, m - 3 * groups)
                    integer.append(rf"[1-9]\d{{0,{lead - 1}}}({thou}\d{{3}}){{{groups}}}")
        body = "(" + "|".join(integer) + ")"
        cents = rf"{dec}\d{{{cents_digits}}}"
        cents = {"optional": f"({cents})?", "required": cents, "none": ""}[decimals]
        pre = {"optional": r"\$?", "required": r"\$", "none": ""}[dollar]
        pre += {"none": "", "leading": r"\**", "both": r"\**"}[fill]
        post = r"\**" if fill == "both" else ""
        if not end_marks:
            return pre + body + cents + post
        # end marks: after the bare integer one separator may come first ('965.', '15.728.-', '764,-');
        # after cents or a trailing '*' fill only marks (no stray separator after '12.50' or '32**')
        marks = rf"[-/]{{0,{end_marks}}}"
        tails = [rf"{cents}{post}{marks}"] + ([rf"[.,]?{marks}"] if decimals != "required" else [])
        return pre + body + "(" + "|".join(f"({t})" for t in tails) + ")"

    @classmethod
    def amount(cls, *, alphabet: Alphabet | None = None, **options) -> "Grammar":
        """Courtesy amounts of cheques (docs/paper.md Sec. X). The language, in pattern syntax, is

            DOLLAR FILL INTEGER DECIMALS TRAILING_FILL

        * DOLLAR: ``\\$?`` (``dollar="optional"``, default), ``\\$`` (``"required"``), nothing (``"none"``).
        * FILL: ``\\**``, any number of ``*`` protecting the amount (``fill="leading"``, default, or
          ``"both"``); nothing for ``fill="none"``. TRAILING_FILL is ``\\**`` only for ``fill="both"``.
        * INTEGER: ``0``, or digits without a leading zero ``[1-9]\\d*``, or (``grouping=True``, default)
          thousands groups ``[1-9]\\d{0,2}(S\\d{3})+`` with separator S. ``max_int_digits`` bounds the
          number of integer digits (default unbounded).
        * DECIMALS: ``(D\\d{cents_digits})?`` (``decimals="optional"``, default), required, or ``"none"``;
          ``cents_digits=2``.
        * Separators: ``separators="us"`` (default): S = ``,``, D = ``.`` (``$1,234.56``); ``"eu"``:
          S = ``.``, D = ``,`` (``1.234,56``); ``"both"``: the union of the two languages.
        * END_MARKS (``end_marks=k``, default 0: none): the marks writers add after an amount so that
          nothing can be appended, read as ``-`` or ``/`` (``=`` and flourishes have no class of their
          own): up to k of ``[-/]`` after the whole amount (``2500/-``, ``12.50-``, ``**32**-``), and
          after a bare INTEGER (no DECIMALS, no TRAILING_FILL) also one separator before them
          (``15.728.-``, ``965.``, ``764,-``). A ``*`` after the amount is TRAILING_FILL.

        The integer part is never empty (no ``.50``). :meth:`amount_pattern` returns the exact pattern;
        :meth:`cheque_amount` is the grammar for real cheques.
        """
        expr = cls.amount_pattern(**options)
        g = cls.pattern(expr, alphabet=alphabet)
        g.description = "amount" + (f" {options}" if options else "")
        return g

    @classmethod
    def cheque_amount(cls, *, end_marks: int = 3, alphabet: Alphabet | None = None) -> "Grammar":
        """Courtesy amounts as they are written on real cheques (the ``amount`` spec of the CLI).

        :meth:`amount` with both separator conventions, ``*`` fill on both sides and end marks:

            ``\\$? \\** INTEGER ( [.,]? | DECIMALS? \\** ) [-/]{0,end_marks}``

        It reads ``$1,234.56``, ``**12.50``, ``1.250.000``, ``15,728``, ``15.728.-``, ``2500/-``,
        ``2500*``, ``965.`` and ``39.300--``, but not ``1.2.3``, ``.50``, ``-15`` or ``12.50.``.
        Separators and end marks stay in the decoded text; ``docrec.Recognition.digits`` is the digit
        string a bank keys.

        Args:
            end_marks: most end-mark symbols (``-`` or ``/``) after the amount (``>= 1``; ``/=`` is
                typically read as ``/-`` or ``/--``).
            alphabet: the symbol table (default: the shared 17-class alphabet).

        Raises:
            ValueError: ``end_marks`` below 1.
        """
        if isinstance(end_marks, bool) or not isinstance(end_marks, int) or end_marks < 1:
            raise ValueError(f"[decoders.Grammar.cheque_amount] end_marks must be an int >= 1, got {end_marks!r}")
        g = cls.amount(separators="both", fill="both", end_marks=end_marks, alphabet=alphabet)
        g.description = f"cheque amount (end marks <= {end_marks})"
        return g

    @classmethod
    def lexicon(
        cls, words: Iterable[str], *, penalties: Sequence[float] | None = None, alphabet: Alphabet | None = None
    ) -> "Grammar":
        """Exactly the listed strings (a prefix tree, then minimised: shared prefixes and suffixes merged).

        Args:
            words: the allowed strings (characters of the alphabet; duplicates with the same penalty
                are merged).
            penalties: optional per-word penalty (a prior, e.g. ``-log frequency``), added when the word
                ends.

        Raises:
            ValueError: no words, a character outside the alphabet, a duplicate with another penalty.
        """
        alphabet = alphabet or Alphabet.default()
        words = list(words)
        if not words:
            raise ValueError("[decoders.Grammar.lexicon] empty word list")
        pens = [0.0] * len(words) if penalties is None else [float(p) for p in penalties]
        if len(pens) != len(words):
            raise ValueError(f"[decoders.Grammar.lexicon] {len(words)} words but {len(pens)} penalties")
        seen: dict[str, float] = {}
        for w, p in zip(words, pens):
            if not isinstance(w, str):
                raise ValueError(f"[decoders.Grammar.lexicon] word {w!r} is not a string")
            if not math.isfinite(p):
                raise ValueError(f"[decoders.Grammar.lexicon] penalty of {w!r} is not finite: {p}")
            if w in seen and seen[w] != p:
                raise ValueError(f"[decoders.Grammar.lexicon] word {w!r} listed twice with penalties {seen[w]} and {p}")
            seen[w] = p
        labels = [alphabet.encode(w, where="decoders.Grammar.lexicon") for w in seen]
        dfa = trie(labels, list(seen.values())).minimize()
        return cls(dfa, alphabet=alphabet, description=f"lexicon of {len(seen)} words")

    # ------------------------------------------------------------------ queries
    def accepts(self, text: str) -> bool:
        """True iff ``text`` is in the language (characters outside the alphabet: False)."""
        return self.penalty(text) is not None

    def penalty(self, text: str) -> float | None:
        """The grammar's penalty of ``text`` (sum of its arc penalties), ``None`` if not accepted."""
        try:
            labels = self.alphabet.encode(text)
        except ValueError:
            return None
        return self.dfa.penalty(labels)

    @property
    def max_length(self) -> int | None:
        """Longest accepted string, ``None`` if the language is unbounded (the automaton has loops)."""
        return self.dfa.max_length()

    def excluding(self, texts: Iterable[str]) -> "Grammar":
        """This language minus the given strings (used for the n best distinct texts)."""
        texts = list(texts)
        if not texts:
            return self
        labels = [self.alphabet.encode(t, where="decoders.Grammar.excluding") for t in texts]
        banned = trie(labels, [0.0] * len(labels)).complement(self.alphabet.char_ids)
        return Grammar(intersect(self.dfa, banned), alphabet=self.alphabet,
                       description=f"{self.description} minus {len(texts)} strings")

    def with_digits(self, digits: str) -> "Grammar":
        """The strings of this language whose digits, read in order, are ``digits``.

        Every other character may stand anywhere: for :meth:`cheque_amount`, ``with_digits("15728")``
        holds ``15728``, ``15.728``, ``15,728.-`` and ``$**15728/-`` (each with its penalty here). The
        forward penalty of an interpretation graph composed with it sums every way of writing one
        amount, the posterior of the digit string a bank keys (:func:`decoders.text_penalties` with
        ``score="digits"``).

        Args:
            digits: ASCII digits only (``""``: the strings without any digit).

        Raises:
            ValueError: ``digits`` is not a string of ASCII digits, or the alphabet lacks one of them.
        """
        where = "decoders.Grammar.with_digits"
        if not isinstance(digits, str) or not all(c in DIGITS for c in digits):
            raise ValueError(f"[{where}] digits must be a string of ASCII digits, got {digits!r}")
        dfa = intersect(self.dfa, digit_projection(digits, self.alphabet, where=where)).minimize()
        return Grammar(dfa, alphabet=self.alphabet, description=f"{self.description} with digits {digits!r}")

    @classmethod
    def any_text(cls, *, alphabet: Alphabet | None = None) -> "Grammar":
        """Every string over the alphabet's characters (the empty string included)."""
        alphabet = alphabet or Alphabet.default()
        return cls(Dfa([{lab: (0, 0.0) for lab in alphabet.char_ids}], 0, {0: 0.0}),
                   alphabet=alphabet, description="any text")

    # ------------------------------------------------------------------ export
    def arcs(self, *, max_len: int | None = None) -> ArcList:
        """The grammar as plain arc lists (see :meth:`decoders.automaton.Dfa.arcs`)."""
        return self.dfa.arcs(max_len=max_len)

    def graph(self, *, max_len: int | None = None, dtype=None):
        """The grammar as a ``gtn.Graph`` acceptor over character ids (cached per ``max_len``).

        Args:
            max_len: ``None`` (default): the minimal automaton itself; if the language is unbounded the
                graph is CYCLIC (``acyclic=False``), which ``gtn.compose`` accepts as its right operand.
                An int: an ACYCLIC graph holding exactly the accepted strings of at most ``max_len``
                characters (loops unrolled).
            dtype: penalty dtype (default ``torch.get_default_dtype()``; decoding uses float64).

        Returns:
            ``gtn.Graph``, node 0 the start, the last node the final one; epsilon arcs
            (``gtn.EPSILON``) only into the final node, each carrying a final penalty.
        """
        top = self.max_length
        key = None if max_len is None or (top is not None and max_len >= top) else int(max_len)

        dtype = dtype or torch.get_default_dtype()
        if (key, dtype) not in self._graphs:
            self._graphs[(key, dtype)] = _to_graph(self.arcs(max_len=key), dtype)
        return self._graphs[(key, dtype)]


def digit_projection(digits: str, alphabet: Alphabet, *, where: str = "decoders.digit_projection") -> Dfa:
    """The unweighted automaton of every string over ``alphabet``'s characters whose digits are
    ``digits``: states ``0..L``, state ``j`` loops on each non-digit character and moves to ``j + 1``
    on ``digits[j]``; state ``L`` is final.

    Raises:
        ValueError: a digit of ``digits`` that is not a character of ``alphabet``.
    """
    ids = {alphabet.symbols[i]: i for i in alphabet.char_ids}
    missing = sorted({c for c in digits if c not in ids})
    if missing:
        raise ValueError(f"[{where}] digit {missing[0]!r} is not a character of {alphabet.describe()}")
    others = [i for i in alphabet.char_ids if alphabet.symbols[i] not in DIGITS]
    trans = []
    for j in range(len(digits) + 1):
        row = {lab: (j, 0.0) for lab in others}
        if j < len(digits):
            row[ids[digits[j]]] = (j + 1, 0.0)
        trans.append(row)
    return Dfa(trans, 0, {len(digits): 0.0})


def _to_graph(arcs: ArcList, dtype):
    return gtn.Graph(
        torch.tensor(arcs.src, dtype=torch.long),
        torch.tensor(arcs.dst, dtype=torch.long),
        torch.tensor(arcs.label, dtype=torch.long),
        None,
        torch.tensor(arcs.penalty, dtype=dtype),
        num_nodes=arcs.num_nodes,
        start=arcs.start,
        final=arcs.final,
        acyclic=arcs.acyclic,
    )
