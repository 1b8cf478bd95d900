"""The symbol table shared by recognisers, grammars and character models.

Every graph in docrec labels its arcs with integer ids; this module is the single place that says which
character an id stands for. The default alphabet is the project's shared 17-class set (data.constants.CHARSET):

=====  ==========================================
ids    symbols
=====  ==========================================
0..9   ``0 1 2 3 4 5 6 7 8 9``
10..15 ``,  .  -  $  *  /``
16     the 'none / rubbish' class (docs/paper.md Sec. VII: "none" positions of the SDNN, Sec. X: rubbish)
=====  ==========================================

The 'none' class is a recogniser output, never a character of a decoded string: grammars are built over
the character ids only, and the character model (:mod:`decoders.charmodel`) maps 'none' frames to the
empty label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from data.constants import CHARACTERS, NONE_SYMBOL

DEFAULT_CHARACTERS: tuple[str, ...] = tuple(CHARACTERS)


@dataclass(frozen=True)
class Alphabet:
    """An ordered symbol table: character <-> label id.

    Args:
        symbols: the symbols in label-id order. Every symbol but the optional 'none' symbol is a single
            character.
        none_symbol: the name of the 'none/rubbish' class if the alphabet has one (it must then appear in
            ``symbols``), else ``None``.

    Raises:
        ValueError: duplicate symbols, multi-character symbols, or a missing 'none' symbol.
    """

    symbols: tuple[str, ...]
    none_symbol: str | None = NONE_SYMBOL
    _index: dict = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        symbols = tuple(self.symbols)
        object.__setattr__(self, "symbols", symbols)
        if not symbols:
            raise ValueError("[decoders.Alphabet] empty symbol list")
        index: dict[str, int] = {}
        for i, s in enumerate(symbols):
            if not isinstance(s, str):
                raise ValueError(f"[decoders.Alphabet] symbol {i} is {s!r}, expected a string")
            if s in index:
                raise ValueError(f"[decoders.Alphabet] symbol {s!r} appears twice (ids {index[s]} and {i})")
            if s != self.none_symbol and len(s) != 1:
                raise ValueError(
                    f"[decoders.Alphabet] symbol {i} {s!r} is not a single character "
                    f"(only the none symbol {self.none_symbol!r} may be longer)"
                )
            index[s] = i
        if self.none_symbol is not None and self.none_symbol not in index:
            raise ValueError(f"[decoders.Alphabet] none symbol {self.none_symbol!r} not among the symbols")
        object.__setattr__(self, "_index", index)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def default(cls) -> "Alphabet":
        """The shared 17-class alphabet: ``0-9 , . - $ * /`` (ids 0..15) then 'none' (id 16)."""
        return cls(DEFAULT_CHARACTERS + (NONE_SYMBOL,), NONE_SYMBOL)

    @classmethod
    def digits(cls, *, with_none: bool = False) -> "Alphabet":
        """The 10 digits (the MNIST benchmark models), optionally followed by 'none' (id 10)."""
        syms = DEFAULT_CHARACTERS[:10] + ((NONE_SYMBOL,) if with_none else ())
        return cls(syms, NONE_SYMBOL if with_none else None)

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return len(self.symbols)

    @property
    def num_classes(self) -> int:
        """Number of recogniser classes C (characters plus 'none' if present)."""
        return len(self.symbols)

    @property
    def none_id(self) -> int | None:
        """Label id of the 'none' class, or ``None`` when the alphabet has none."""
        return None if self.none_symbol is None else self._index[self.none_symbol]

    @property
    def char_ids(self) -> tuple[int, ...]:
        """Label ids of the real characters (every id except 'none'), ascending."""
        return tuple(i for i, s in enumerate(self.symbols) if s != self.none_symbol)

    @property
    def characters(self) -> tuple[str, ...]:
        """The real characters in id order (no 'none')."""
        return tuple(s for s in self.symbols if s != self.none_symbol)

    def id(self, char: str, *, where: str = "decoders.Alphabet") -> int:
        """Label id of one character. Raises ``ValueError`` naming ``where`` if it is not a character."""
        i = self._index.get(char)
        if i is None or char == self.none_symbol:
            raise ValueError(f"[{where}] character {char!r} is not in the alphabet {self.describe()}")
        return i

    def char(self, label: int) -> str:
        """Symbol of one label id (the 'none' id gives the none symbol)."""
        if not 0 <= int(label) < len(self.symbols):
            raise ValueError(f"[decoders.Alphabet] label {label} outside 0..{len(self.symbols) - 1}")
        return self.symbols[int(label)]

    def encode(self, text: str, *, where: str = "decoders.Alphabet.encode") -> list[int]:
        """Text -> list of label ids (every character must be in the alphabet)."""
        return [self.id(c, where=where) for c in text]

    def decode(self, labels: Iterable[int]) -> str:
        """Label ids -> text; the 'none' id and ``EPSILON`` (negative ids) are skipped."""
        none = self.none_id
        out = []
        for lab in labels:
            lab = int(lab)
            if lab < 0 or lab == none:
                continue
            out.append(self.char(lab))
        return "".join(out)

    def describe(self) -> str:
        """Short human-readable form, e.g. ``'0123456789,.-$*/' + <none> (17 ids)``."""
        chars = "".join(self.characters)
        none = f" + {self.none_symbol}" if self.none_symbol is not None else ""
        return f"{chars!r}{none} ({len(self.symbols)} ids)"

    def check_compatible(self, other: "Alphabet | Sequence[str]", *, where: str, what: str = "recogniser") -> None:
        """Refuse a different symbol table (another order, another size, a missing 'none').

        Args:
            other: an Alphabet or the symbol tuple a recogniser exposes (e.g. ``model.symbols``).
            where: the calling function, for the error message.
            what: what ``other`` belongs to, for the error message.

        Raises:
            ValueError: naming the first differing id, e.g.
                ``[decoders.decode] recogniser alphabet differs from the grammar's at id 10: ',' vs '.'``.
        """
        syms = tuple(other.symbols) if isinstance(other, Alphabet) else tuple(other)
        if syms == self.symbols:
            return
        for i, (a, b) in enumerate(zip(syms, self.symbols)):
            if a != b:
                raise ValueError(
                    f"[{where}] {what} alphabet differs from the grammar's at id {i}: {a!r} vs {b!r} "
                    f"({what}: {len(syms)} symbols, grammar: {self.describe()})"
                )
        raise ValueError(
            f"[{where}] {what} alphabet has {len(syms)} symbols but the grammar's has "
            f"{len(self.symbols)}: {self.describe()}"
        )
