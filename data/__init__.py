"""data: MNIST (IDX reader, checksummed download, local directory), synthetic digit strings,
punctuation glyphs, and folders of the user's own labelled field images.

May import numpy, opencv and scipy (and torch only for the ``Dataset`` wrapper); see DESIGN.md.
"""

from data.idx import read_idx
from data.mnist import MNIST_FILES, load_mnist, resolve_mnist_dir
from data.dataset import MNISTDataset, to_lenet_input

__all__ = [
    "MNIST_FILES",
    "MNISTDataset",
    "load_mnist",
    "read_idx",
    "resolve_mnist_dir",
    "to_lenet_input",
]
