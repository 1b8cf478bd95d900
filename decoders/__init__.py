"""decoders: grammars, the SDNN character model, and decoding with alignments, confidence and rejection.

Public API (penalties, lower is better, everywhere; docs/design.md, docs/paper.md Sec. IV, VII, X):

- :class:`Alphabet`: the shared symbol table (``0-9 , . - $ * /`` and 'none').
- :class:`Grammar`: weighted regular languages as graphs: ``digits``, ``zip_code``, ``amount``,
  ``lexicon``, ``pattern`` (the pattern language of :mod:`decoders.pattern`, errors as
  :class:`PatternError`).
- :class:`CharacterModel`, :class:`CharacterModelConfig`, :func:`frame_graph`: SDNN frames -> characters.
- :func:`decode` (interpretation graph) and :func:`decode_frames` (SDNN ``(T, C)`` penalties): the n best
  distinct texts as :class:`DecodeResult` with confidence, margin, :class:`CharSpan` s and rejection;
  :func:`text_penalties`: forward penalties of given texts (rescoring another recogniser's readings),
  or of their digit strings (``score="digits"``; :data:`SCORES`, :meth:`Grammar.with_digits`).
- :class:`ProductDecoder`: the fast path of :func:`decode_frames` for batches (character model x
  grammar automaton, one vectorised step per frame; tested equal to it).
- :func:`marked_label_graph` (and :func:`marked_label_pattern`): the training target of a digit-only
  label of an amount field (optional separators, ``$`` / ``*`` fill, end marks), for the
  discriminative forward criterion.
"""

from decoders.alphabet import Alphabet
from decoders.charmodel import CharacterModel, CharacterModelConfig, frame_graph
from decoders.decode import SCORES, decode, decode_frames, text_penalties
from decoders.grammar import Grammar
from decoders.labelgraph import marked_label_graph, marked_label_pattern
from decoders.pattern import PatternError
from decoders.product import ProductDecoder
from decoders.result import CharSpan, DecodeResult

__all__ = ["Alphabet", "Grammar", "PatternError", "CharacterModel", "CharacterModelConfig", "frame_graph",
           "decode", "decode_frames", "text_penalties", "SCORES", "CharSpan", "DecodeResult", "marked_label_graph",
           "marked_label_pattern", "ProductDecoder"]
