"""data: MNIST (IDX reader, checksummed download, local directory), synthetic digit strings,
punctuation glyphs, and folders of the user's own labelled field images.

May import numpy, opencv and scipy (and torch only for the ``Dataset`` wrapper); see DESIGN.md.
"""

from data.idx import read_idx
from data.mnist import MNIST_FILES, load_mnist, resolve_mnist_dir
from data.dataset import MNISTDataset, to_lenet_input
from data.folder import FieldFolder, read_image, read_labels, write_labels
from data.synth import (SPACING_PRESETS, DigitPool, SynthConfig, SynthField, iter_fields, render,
                        synthesize)
from data.texts import AMOUNT_REGEX, KINDS, ZIP_REGEX, sample_text

__all__ = [
    "AMOUNT_REGEX",
    "DigitPool",
    "FieldFolder",
    "KINDS",
    "MNIST_FILES",
    "MNISTDataset",
    "SPACING_PRESETS",
    "SynthConfig",
    "SynthField",
    "ZIP_REGEX",
    "iter_fields",
    "load_mnist",
    "read_idx",
    "read_image",
    "read_labels",
    "render",
    "resolve_mnist_dir",
    "sample_text",
    "synthesize",
    "to_lenet_input",
    "write_labels",
]
