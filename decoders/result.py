"""What decoding returns: one :class:`DecodeResult` per interpretation, with per-character spans."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class CharSpan:
    """Where one decoded character came from.

    Attributes:
        char: the character. label: its alphabet id.
        start, end: the input positions it covers, ``[start, end)``: for an interpretation graph, the
            node before its first arc and the node after its last arc (cut points of a segmentation
            graph); for SDNN frames (:func:`decoders.decode_frames`), the frames ``start .. end - 1``
            that were read as this character ('none' frames excluded).
        arcs: the input-graph arcs of the character (for a segmentation-based interpretation graph:
            the arc whose image piece was read; for frames: the frame-graph arcs ``t * C + c``).
        penalty: sum of the input-graph penalties of those arcs (the recogniser's penalties, without
            grammar or character-model penalties).
    """

    char: str
    label: int
    start: int
    end: int
    arcs: tuple[int, ...]
    penalty: float

    def x_range(self, *, stride: int = 4, window: int = 32, offset: int = 0) -> tuple[int, int]:
        """Pixel columns ``[x0, x1)`` of an SDNN span: frame t sees columns ``[offset + stride*t,
        offset + stride*t + window)`` (LeNet-5 replicated: stride 4, window 32, docs/paper.md Sec. VII).
        The range is the union of the windows of the span's frames."""
        return offset + stride * self.start, offset + stride * (self.end - 1) + window


@dataclass(frozen=True)
class DecodeResult:
    """One interpretation of the input allowed by the grammar (or an explicit rejection).

    Attributes:
        text: the characters ("" for a rejection without interpretation).
        labels: their alphabet ids.
        penalty: penalty of the best path spelling ``text`` (grammar penalties included; ``inf`` if
            there is none).
        confidence: posterior probability of ``text`` given the input and the grammar, summed over all
            paths spelling it: ``exp(F_all - F_text)`` with F the forward penalty (docs/paper.md Sec. VI) of
            all allowed interpretations and of those spelling ``text``. In [0, 1].
        path_confidence: posterior of the single best path alone, ``exp(F_all - penalty)`` (<=
            ``confidence``).
        margin: penalty of the next-best distinct text minus ``penalty`` (>= 0; ``inf`` if no other
            text is allowed). A small margin means an ambiguous reading.
        rank: 0 for the best text, 1 for the second, ...
        spans: one :class:`CharSpan` per character.
        rejected: True when the decoder declines to answer; ``reason`` says why.
        forward_penalty: F_all, the forward penalty of every allowed interpretation.
    """

    text: str
    labels: tuple[int, ...] = ()
    penalty: float = math.inf
    confidence: float = 0.0
    path_confidence: float = 0.0
    margin: float = math.inf
    rank: int = 0
    spans: tuple[CharSpan, ...] = field(default_factory=tuple)
    rejected: bool = False
    reason: str = ""
    forward_penalty: float = math.inf

    @property
    def accepted(self) -> bool:
        return not self.rejected

    @classmethod
    def rejection(cls, reason: str) -> "DecodeResult":
        """The explicit empty result for an input with no interpretation allowed by the grammar."""
        return cls(text="", rejected=True, reason=reason)

    def reject(self, threshold: float, *, min_margin: float | None = None) -> "DecodeResult":
        """The rejection rule: a copy marked rejected if ``confidence < threshold`` (or, if given,
        ``margin < min_margin``); else ``self`` unchanged. Already rejected results stay rejected.

        Args:
            threshold: minimum confidence in [0, 1] to accept (0 accepts everything decodable).
            min_margin: optional minimum penalty margin to the next-best text.
        """
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"[decoders.DecodeResult.reject] threshold must be in [0, 1], got {threshold}")
        if self.rejected:
            return self
        if self.confidence < threshold:
            return replace(self, rejected=True,
                           reason=f"confidence {self.confidence:.3f} below threshold {threshold:.3f}")
        if min_margin is not None and self.margin < min_margin:
            return replace(self, rejected=True,
                           reason=f"margin {self.margin:.3f} to the next reading below {min_margin:.3f}")
        return self
