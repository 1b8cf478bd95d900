"""data: MNIST (IDX reader, checksummed download, local directory), USPS digits, synthetic digit
strings, punctuation glyphs, and folders of the user's own labelled field images (with optional
per-character boxes).

May import numpy, opencv and scipy (and torch only for the ``Dataset`` wrapper); see DESIGN.md.
"""

from data.idx import read_idx
from data.mnist import MNIST_FILES, load_mnist, resolve_mnist_dir
from data.dataset import MNISTDataset, to_lenet_input
from data.folder import FieldFolder, read_image, read_labels, write_labels
from data.fields import CharBox, FieldError, FieldSet, LabelledField, field_id, read_fields
from data.synth import (SPACING_PRESETS, DigitPool, SynthConfig, SynthField, iter_fields, render,
                        synthesize)
from data.texts import AMOUNT_REGEX, KINDS, ZIP_REGEX, sample_text
from data.pools import MixedPool
from data.realism import Realism
from data.usps import (USPS_HELDOUT, USPS_MD5, USPS_SPLITS, USPS_URL, load_usps, parse_usps,
                       resolve_usps_dir, to_mnist_geometry, usps_pool, usps_split)

__all__ = [
    "MixedPool",
    "Realism",
    "AMOUNT_REGEX",
    "CharBox",
    "DigitPool",
    "FieldError",
    "FieldFolder",
    "FieldSet",
    "KINDS",
    "LabelledField",
    "MNIST_FILES",
    "MNISTDataset",
    "SPACING_PRESETS",
    "SynthConfig",
    "SynthField",
    "USPS_HELDOUT",
    "USPS_MD5",
    "USPS_SPLITS",
    "USPS_URL",
    "ZIP_REGEX",
    "field_id",
    "iter_fields",
    "load_mnist",
    "load_usps",
    "parse_usps",
    "read_fields",
    "read_idx",
    "read_image",
    "read_labels",
    "render",
    "resolve_mnist_dir",
    "resolve_usps_dir",
    "sample_text",
    "synthesize",
    "to_lenet_input",
    "to_mnist_geometry",
    "usps_pool",
    "usps_split",
    "write_labels",
]
