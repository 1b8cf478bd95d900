"""The end-to-end recognisers and a registry to pick one by name.

``get_recognizer("seg")`` returns the segmentation-based system (heuristic over-segmentation +
LeNet-5 recognition transformer), ``get_recognizer("sdnn")`` the space-displacement network,
``get_recognizer("combo")`` both, each reading rescored by the two (not in the paper).
Their modules are imported lazily.
"""

from __future__ import annotations

import importlib

from decoders import Grammar
from docrec.recognizers.base import (
    DEFAULT_MAX_PIXELS,
    Recognition,
    Recognizer,
    check_field_image,
    load_field_image,
)

#: system name -> (module, factory function name)
SYSTEMS = {
    "seg": ("docrec.recognizers.seg", "SegmentationRecognizer"),
    "sdnn": ("docrec.recognizers.sdnn", "SDNNRecognizer"),
    "combo": ("docrec.recognizers.combo", "CombinedRecognizer"),
}


def get_recognizer(system: str, **kwargs) -> Recognizer:
    """Build the recogniser named ``system`` ("seg", "sdnn" or "combo") with its bundled weights."""
    if system not in SYSTEMS:
        raise ValueError(f"[docrec.get_recognizer] unknown system {system!r}; choose from {sorted(SYSTEMS)}")
    module_name, cls_name = SYSTEMS[system]
    module = importlib.import_module(module_name)
    return getattr(module, cls_name)(**kwargs)


#: Bundled weights the command line reads real cheque amounts with (grammar specs ``amount...``):
#: trained on real courtesy amounts as well as on generated fields (docs/real_fields.md); seg and
#: combo on all 846 labelled fields (``*-real-all``: the ``*-real`` recipes, measured cross-fitted).
#: The recognisers' own defaults stay the weights trained on generated fields only, which read zip
#: codes and generated strings better.
REAL_AMOUNT_WEIGHTS = {"seg": "seg-lenet5-real-all", "combo": "seg-modern-real-all", "sdnn": "sdnn-real"}


def default_weights(system: str, grammar_spec: str | None) -> str | None:
    """The bundled weights name the CLI uses for ``system`` when the user names none: the
    real-trained ones (:data:`REAL_AMOUNT_WEIGHTS`) for an amount grammar, else None (the
    recogniser's own default)."""
    if grammar_spec is not None and str(grammar_spec).split(":")[0] == "amount":
        return REAL_AMOUNT_WEIGHTS.get(system)
    return None


def resolve_grammar(spec: str | None, alphabet=None):
    """Turn a CLI grammar spec into a ``decoders.Grammar``.

    ``zip`` (``ddddd`` or ``ddddd-dddd``), ``amount`` (cheque amounts as written: US or European
    separators, optional ``$`` and ``*`` fill, an optional end-mark tail such as ``.-`` or ``/-``;
    ``decoders.Grammar.cheque_amount``), ``amount:strict`` (the same without end marks),
    ``digits`` (1-20 digits), ``digits:M-N``, ``none`` (no constraint) or any other string, taken as a
    ``decoders.Grammar.pattern`` expression such as ``\\d{5}``.
    """

    if spec is None or spec == "none":
        return None
    kwargs = {} if alphabet is None else {"alphabet": alphabet}
    if spec == "zip":
        return Grammar.zip_code(**kwargs)
    if spec == "amount":  # real cheques: data.texts' amounts plus end marks ('15.728.-', '2500/-')
        return Grammar.cheque_amount(**kwargs)
    if spec == "amount:strict":  # both separator conventions, leading and trailing '*' fill (data.texts)
        return Grammar.amount(separators="both", fill="both", **kwargs)
    if spec == "digits":
        return Grammar.digits(1, 20, **kwargs)
    if spec.startswith("digits:"):
        lo, _, hi = spec[len("digits:"):].partition("-")
        try:
            return Grammar.digits(int(lo), int(hi or lo), **kwargs)
        except ValueError as exc:
            raise ValueError(f"[docrec] bad grammar spec {spec!r}: expected digits:MIN-MAX") from exc
    return Grammar.pattern(spec, **kwargs)


__all__ = [
    "DEFAULT_MAX_PIXELS",
    "Recognition",
    "Recognizer",
    "SYSTEMS",
    "REAL_AMOUNT_WEIGHTS",
    "check_field_image",
    "default_weights",
    "get_recognizer",
    "load_field_image",
    "resolve_grammar",
]
