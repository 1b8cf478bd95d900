"""data: MNIST (IDX reader, checksummed download, local directory), USPS digits, synthetic digit
strings, punctuation glyphs, and folders of the user's own labelled field images (with optional
per-character boxes).

May import numpy, opencv and scipy (and torch only for the ``Dataset`` wrapper). The names below are
loaded on first use, so that a package that only needs :mod:`data.constants` (the charset, the
'none' class, the background value, the SDNN geometry) does not pull in opencv.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "AMOUNT_REGEX": "data.texts",
    "BACKGROUND": "data.constants",
    "CHARACTERS": "data.constants",
    "CHARSET": "data.constants",
    "NONE_SYMBOL": "data.constants",
    "CharBox": "data.fields",
    "DigitPool": "data.synth",
    "FieldError": "data.fields",
    "FieldFolder": "data.folder",
    "FieldSet": "data.fields",
    "KINDS": "data.texts",
    "LabelledField": "data.fields",
    "MNISTDataset": "data.dataset",
    "MNIST_FILES": "data.mnist",
    "MixedPool": "data.pools",
    "NONE_ID": "data.constants",
    "NUM_CLASSES": "data.constants",
    "Realism": "data.realism",
    "SPACING_PRESETS": "data.synth",
    "STRIDE": "data.constants",
    "STRIP_H": "data.constants",
    "SynthConfig": "data.synth",
    "SynthField": "data.synth",
    "USPS_HELDOUT": "data.usps",
    "USPS_MD5": "data.usps",
    "USPS_SPLITS": "data.usps",
    "USPS_URL": "data.usps",
    "ZIP_REGEX": "data.texts",
    "field_id": "data.fields",
    "iter_fields": "data.synth",
    "load_mnist": "data.mnist",
    "load_usps": "data.usps",
    "parse_usps": "data.usps",
    "read_fields": "data.fields",
    "read_idx": "data.idx",
    "read_image": "data.folder",
    "read_labels": "data.folder",
    "render": "data.synth",
    "resolve_mnist_dir": "data.mnist",
    "resolve_usps_dir": "data.usps",
    "sample_text": "data.texts",
    "synthesize": "data.synth",
    "to_lenet_input": "data.dataset",
    "to_mnist_geometry": "data.usps",
    "usps_pool": "data.usps",
    "usps_split": "data.usps",
    "write_labels": "data.folder",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'data' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
