"""Random texts of each synthetic field kind: digit strings, zip codes and cheque amounts.

Kinds and their languages (each has an anchored regular expression in :data:`KIND_REGEX`):

* ``digits``: ``\\d{min_len,max_len}``, length uniform in the range, digits uniform.
* ``zip``: US zip codes, ``\\d{5}`` or, with probability ``zip_plus4``, ``\\d{5}-\\d{4}``.
* ``amount``: cheque courtesy amounts (docs/paper.md Sec. X), by this grammar::

      AMOUNT   := DOLLAR FILL INTEGER CENTS TRAILING
      DOLLAR   := "$" | ""                      (p = 0.4 for "$")
      FILL     := "*" x k, k in 0..3            (p = 0.25 for k >= 1; protects the amount)
      INTEGER  := "0"                           (p = 0.05, only with CENTS)
                | NZ D{0..5}                    plain, 1-6 digits, no leading zero
                | NZ D{0..2} (SEP D D D){1,2}   grouped in thousands (only for >= 4 digits)
      CENTS    := POINT D D | ""                (p = 0.6 for cents)
      TRAILING := "*" x k, k in 1..3 when FILL is not empty (p = 0.5), else ""
      NZ := [1-9];  D := [0-9]

  Two separator conventions, chosen per amount: US (p = 0.7): SEP = ``,`` and POINT = ``.``
  (``$1,234.56``, ``$**12.50``); European: SEP = ``.`` and POINT = ``,`` (``18.014``,
  ``1.234,56``). The number of integer digits is 1-6, weighted towards short amounts as on
  personal cheques. Every amount matches :data:`AMOUNT_REGEX` and is a sentence of
  ``decoders.Grammar.amount(separators="both", fill="both")``.
* ``cheque``: integer amounts as written on Chilean cheques (pesos, no cents): 1-7 digits, mostly
  4-5 as on the ORAND-CAR-A fields, often round (trailing zeros); for 4 digits or more, thousands
  separators ``.`` (p = 0.55: ``15.728``, ``1.250.000``), ``,`` (p = 0.08: ``4,057``) or none
  (``26075``). Matches :data:`CHEQUE_REGEX`. End marks (``-``, ``=``, ``/=``, ``.-``, a flourish)
  are not characters: :mod:`data.marks` draws them after the text, which never contains them.
"""

from __future__ import annotations

import re

import numpy as np

#: The field kinds the generator knows.
KINDS = ("digits", "zip", "amount", "cheque")

_US = r"\$?\**(0|[1-9]\d{0,5}|[1-9]\d{0,2}(,\d{3}){1,2})(\.\d\d)?\**"
_EU = r"\$?\**(0|[1-9]\d{0,5}|[1-9]\d{0,2}(\.\d{3}){1,2})(,\d\d)?\**"
#: Anchored regular expression of every amount :func:`sample_amount` can produce (see grammar).
AMOUNT_REGEX = re.compile(rf"^(({_US})|({_EU}))$")
#: Anchored regular expression of every ``cheque`` text (one separator convention per amount).
CHEQUE_REGEX = re.compile(r"^([1-9]\d{0,6}|[1-9]\d{0,2}(\.\d{3}){1,2}|[1-9]\d{0,2}(,\d{3}){1,2})$")
#: Anchored regular expression of zip codes.
ZIP_REGEX = re.compile(r"^\d{5}(-\d{4})?$")

#: Weights of 1..6 integer digits in amounts.
_INT_DIGIT_WEIGHTS = np.array([0.16, 0.30, 0.24, 0.16, 0.09, 0.05])
#: Weights of 1..7 digits in ``cheque`` amounts (real fields: mostly 4-5 digits).
_CHEQUE_DIGIT_WEIGHTS = np.array([0.01, 0.04, 0.12, 0.30, 0.38, 0.12, 0.03])


def digits_regex(min_len: int, max_len: int) -> re.Pattern:
    """Anchored regex of digit strings with ``min_len..max_len`` digits."""
    return re.compile(rf"^\d{{{min_len},{max_len}}}$")


def sample_digits(rng: np.random.Generator, min_len: int, max_len: int) -> str:
    """A digit string, length uniform in ``[min_len, max_len]``."""
    if not 1 <= min_len <= max_len:
        raise ValueError(f"[data.texts.sample_digits] need 1 <= min_len <= max_len, got {min_len}, {max_len}")
    n = int(rng.integers(min_len, max_len + 1))
    return "".join(map(str, rng.integers(0, 10, n)))


def sample_zip(rng: np.random.Generator, plus4: float = 0.3) -> str:
    """A zip code ``12345``, or ``12345-6789`` with probability ``plus4``."""
    text = "".join(map(str, rng.integers(0, 10, 5)))
    if rng.random() < plus4:
        text += "-" + "".join(map(str, rng.integers(0, 10, 4)))
    return text


def sample_amount(rng: np.random.Generator) -> str:
    """A cheque courtesy amount drawn from the grammar in the module docstring."""
    us = rng.random() < 0.7
    sep, point = (",", ".") if us else (".", ",")
    dollar = "$" if rng.random() < 0.4 else ""
    fill = "*" * int(rng.integers(1, 4)) if rng.random() < 0.25 else ""
    cents = rng.random() < 0.6
    if cents and rng.random() < 0.05:
        integer = "0"
    else:
        n = 1 + int(rng.choice(6, p=_INT_DIGIT_WEIGHTS / _INT_DIGIT_WEIGHTS.sum()))
        digits = str(int(rng.integers(1, 10))) + "".join(map(str, rng.integers(0, 10, n - 1)))
        if n >= 4 and rng.random() < 0.6:
            head = len(digits) % 3 or 3
            groups = [digits[:head]] + [digits[i: i + 3] for i in range(head, len(digits), 3)]
            integer = sep.join(groups)
        else:
            integer = digits
    text = dollar + fill + integer
    if cents:
        text += point + "".join(map(str, rng.integers(0, 10, 2)))
    if fill and rng.random() < 0.5:
        text += "*" * int(rng.integers(1, 4))
    return text


def group_thousands(digits: str, sep: str) -> str:
    """``"1250000"`` -> ``"1.250.000"`` for ``sep = "."`` (groups of three from the right)."""
    head = len(digits) % 3 or 3
    return sep.join([digits[:head]] + [digits[i: i + 3] for i in range(head, len(digits), 3)])


def sample_cheque(rng: np.random.Generator) -> str:
    """An integer cheque amount with Chilean thousands separators (``cheque`` kind, module doc)."""
    n = 1 + int(rng.choice(7, p=_CHEQUE_DIGIT_WEIGHTS / _CHEQUE_DIGIT_WEIGHTS.sum()))
    body = [int(rng.integers(1, 10))] + [int(d) for d in rng.integers(0, 10, n - 1)]
    if n >= 2 and rng.random() < 0.4:  # round amounts: 2500, 15000, 120000
        zeros = int(rng.integers(1, n))
        body[n - zeros:] = [0] * zeros
    digits = "".join(map(str, body))
    u = rng.random()
    if n < 4 or u >= 0.63:
        return digits
    return group_thousands(digits, "." if u < 0.55 else ",")


def sample_text(kind: str, rng: np.random.Generator, *, min_len: int = 1, max_len: int = 8,
                zip_plus4: float = 0.3) -> str:
    """A random text of ``kind`` (one of :data:`KINDS`)."""
    if kind == "digits":
        return sample_digits(rng, min_len, max_len)
    if kind == "zip":
        return sample_zip(rng, zip_plus4)
    if kind == "amount":
        return sample_amount(rng)
    if kind == "cheque":
        return sample_cheque(rng)
    raise ValueError(f"[data.texts.sample_text] unknown kind {kind!r}; choose from {KINDS}")


def kind_regex(kind: str, *, min_len: int = 1, max_len: int = 8) -> re.Pattern:
    """The anchored regex every text of ``kind`` matches."""
    if kind == "digits":
        return digits_regex(min_len, max_len)
    if kind == "zip":
        return ZIP_REGEX
    if kind == "amount":
        return AMOUNT_REGEX
    if kind == "cheque":
        return CHEQUE_REGEX
    raise ValueError(f"[data.texts.kind_regex] unknown kind {kind!r}; choose from {KINDS}")
