"""MNIST: locate, download (checksummed) and load the four original IDX files.

Directory resolution (:func:`resolve_mnist_dir`): the ``root`` argument, else the environment
variable ``DOCREC_MNIST_DIR``, else ``$XDG_CACHE_HOME/docrec/mnist`` (``~/.cache/docrec/mnist``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from data.atomic import fetch
from data.idx import read_idx

#: split -> (images file, labels file, number of examples)
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60000),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10000),
}

#: The published MD5 sums of the four gzipped files.
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}

#: Public mirrors tried in order.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

ENV_VAR = "DOCREC_MNIST_DIR"


def resolve_data_dir(root: str | os.PathLike | None, env_var: str, name: str) -> Path:
    """A dataset's directory: ``root``, else ``$env_var``, else ``~/.cache/docrec/<name>`` (or under
    ``$XDG_CACHE_HOME``)."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(env_var)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "docrec" / name


def resolve_mnist_dir(root: str | os.PathLike | None = None) -> Path:
    """Return the MNIST directory: ``root``, else ``$DOCREC_MNIST_DIR``, else the user cache."""
    return resolve_data_dir(root, ENV_VAR, "mnist")


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_file(name: str, directory: Path, *, mirrors: tuple[str, ...] = MNIST_MIRRORS,
                  timeout: float = 30.0) -> Path:
    """Download one MNIST file into ``directory``, trying each mirror, verifying its MD5.

    The file is written to a temporary name and renamed only once its checksum matches, so a bad
    or partial download is never kept.

    Raises:
        RuntimeError: if no mirror delivered a file with the published checksum.
    """
    target = directory / name
    errors = []
    for mirror in mirrors:
        url = mirror + name
        try:
            return fetch(url, target, md5=MNIST_MD5[name], timeout=timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            errors.append(f"{url}: {exc}")
    raise RuntimeError(
        f"[data.load_mnist] could not download {name} into {directory}; tried:\n  "
        + "\n  ".join(errors)
        + f"\nPlace the four MNIST files there yourself, or point {ENV_VAR} at a directory holding them."
    )


def _ensure_file(name: str, directory: Path, download: bool) -> Path:
    path = directory / name
    if path.exists():
        return path
    raw = directory / name[:-3]  # an uncompressed copy is accepted too
    if raw.exists():
        return raw
    if not download:
        raise FileNotFoundError(
            f"[data.load_mnist] {path} not found and download=False; set {ENV_VAR} or pass root="
        )
    return download_file(name, directory)


def load_mnist(split: str, root: str | os.PathLike | None = None, download: bool = True
               ) -> tuple[np.ndarray, np.ndarray]:
    """Load one MNIST split.

    Args:
        split: ``"train"`` (60,000 digits) or ``"test"`` (10,000 digits).
        root: directory holding the files (see :func:`resolve_mnist_dir`).
        download: fetch missing files from public mirrors, verifying the published MD5 sums.

    Returns:
        ``(images, labels)``: uint8 ``(N, 28, 28)`` (0 = white background, 255 = ink, as in the
        original files) and int64 ``(N,)``.

    Raises:
        ValueError: for an unknown split or a corrupt file (see :func:`data.read_idx`), or when the
            image and label files disagree on the number of examples.
        FileNotFoundError / RuntimeError: files missing and not downloadable.
    """
    if split not in MNIST_FILES:
        raise ValueError(f"[data.load_mnist] unknown split {split!r}; expected 'train' or 'test'")
    directory = resolve_mnist_dir(root)
    img_name, lbl_name, _ = MNIST_FILES[split]
    img_path = _ensure_file(img_name, directory, download)
    lbl_path = _ensure_file(lbl_name, directory, download)
    images = read_idx(img_path, expect_ndim=3)
    labels = read_idx(lbl_path, expect_ndim=1)
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise ValueError(
            f"[data.load_mnist] {img_path} / {lbl_path}: expected unsigned-byte IDX files, "
            f"got {images.dtype} and {labels.dtype}"
        )
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"[data.load_mnist] {img_path} holds {images.shape[0]} images but {lbl_path} holds "
            f"{labels.shape[0]} labels"
        )
    if labels.size and labels.max() > 9:
        raise ValueError(f"[data.load_mnist] {lbl_path}: label {int(labels.max())} outside 0..9")
    return images, labels.astype(np.int64)
