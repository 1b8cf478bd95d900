"""USPS digits: locate, download (checksummed), parse, and turn into an MNIST-like digit pool.

The file is ``zip.train.gz`` of "The Elements of Statistical Learning" (Le Cun et al. 1990: digits
scanned from US mail): 7,291 lines, each a label 0-9 then 256 grey values in [-1, 1] (16 x 16,
row-major, ink = +1, background = -1), digits deslanted and size-normalised to fill the 16 x 16 box.

Directory resolution (:func:`resolve_usps_dir`): the ``root`` argument, else the environment
variable ``DOCREC_USPS_DIR``, else ``$XDG_CACHE_HOME/docrec/usps`` (``~/.cache/docrec/usps``),
beside the MNIST loader's cache. A missing file is downloaded from :data:`USPS_URL` and kept only
if its MD5 is :data:`USPS_MD5`.

Fixed split (:func:`usps_pool`): ``"train"`` = the first 6,291 digits of the file, ``"heldout"`` =
the last :data:`USPS_HELDOUT` = 1,000, kept for measuring only (never train or tune on them).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import cv2
import numpy as np

from data.atomic import fetch
from data.mnist import resolve_data_dir
from data.synth import DigitPool

USPS_FILE = "zip.train.gz"
USPS_URL = "https://hastie.su.domains/ElemStatLearn/datasets/zip.train.gz"
#: MD5 of the gzipped file as distributed by the mirror above.
USPS_MD5 = "206835541ea704bcfb4b6eea872678bf"
#: Number of digits in the file, and the size of the held-back tail of it.
USPS_COUNT = 7291
USPS_HELDOUT = 1000
#: The splits of :func:`usps_pool`.
USPS_SPLITS = ("train", "heldout")
ENV_VAR = "DOCREC_USPS_DIR"
#: MNIST geometry: digits fit a ``BOX`` x ``BOX`` box, centred by mass in a ``FRAME`` x ``FRAME`` image.
BOX, FRAME = 20, 28


def resolve_usps_dir(root: str | os.PathLike | None = None) -> Path:
    """Return the USPS directory: ``root``, else ``$DOCREC_USPS_DIR``, else the user cache."""
    return resolve_data_dir(root, ENV_VAR, "usps")


def download_usps(directory: str | os.PathLike, *, url: str = USPS_URL, md5: str = USPS_MD5,
                  timeout: float = 30.0) -> Path:
    """Download ``zip.train.gz`` into ``directory``, verifying its MD5.

    The bytes go to a temporary file that is renamed only once the checksum matches, so a partial
    or corrupt download is never kept.

    Returns:
        the path of the verified file.

    Raises:
        RuntimeError: the download failed or delivered a file with another checksum (the message
            names the URL and the environment variable to use instead).
    """
    directory = Path(directory)
    try:
        return fetch(url, directory / USPS_FILE, md5=md5, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise RuntimeError(
            f"[data.load_usps] could not download {url} into {directory}: {exc}. Download {USPS_FILE} "
            f"yourself and pass root= or point {ENV_VAR} at the directory holding it."
        ) from None


def _find_file(directory: Path, download: bool) -> Path:
    """The USPS file in ``directory`` (gzipped, or an uncompressed ``zip.train``), downloading if allowed."""
    if directory.is_file():
        return directory
    for name in (USPS_FILE, USPS_FILE[:-3]):
        if (directory / name).is_file():
            return directory / name
    if not download:
        raise FileNotFoundError(f"[data.load_usps] {directory / USPS_FILE} not found and download=False; "
                                f"pass root= or set {ENV_VAR}")
    return download_usps(directory)


def parse_usps(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Parse a USPS text file (gzipped or not): one digit per line, label then 256 values in [-1, 1].

    Returns:
        ``(images, labels)``: uint8 ``(N, 16, 16)`` with 0 = background and 255 = ink (MNIST's
        polarity: ``round((v + 1) * 127.5)``), int64 ``(N,)``.

    Raises:
        ValueError: unreadable file, a line without 257 numbers, a label outside 0-9 or a value
            outside [-1, 1] (with the line number), or no digits at all.
    """
    path = Path(path)
    where = "[data.parse_usps]"
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="ascii") as fh:
            text = fh.read()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ValueError(f"{where} cannot read {path}: {exc}") from None
    lines = [(n, raw.split()) for n, raw in enumerate(text.splitlines(), start=1) if raw.strip()]
    if not lines:
        raise ValueError(f"{where} {path} holds no digits")
    for n, toks in lines:
        if len(toks) != 257:
            raise ValueError(f"{where} {path} line {n}: expected a label and 256 values, got {len(toks)} numbers")
    try:
        table = np.array([toks for _, toks in lines], dtype=np.float64)  # (N, 257)
    except ValueError:
        for n, toks in lines:
            try:
                np.array(toks, dtype=np.float64)
            except ValueError as exc:
                raise ValueError(f"{where} {path} line {n}: not a number ({exc})") from None
        raise
    labels, values = table[:, 0], table[:, 1:]
    bad = np.flatnonzero((labels != np.round(labels)) | (labels < 0) | (labels > 9) | ~np.isfinite(labels))
    if bad.size:
        raise ValueError(f"{where} {path} line {lines[bad[0]][0]}: label {table[bad[0], 0]} is not a digit 0-9")
    bad = np.flatnonzero(~(np.abs(values) <= 1.0 + 1e-6).all(axis=1))
    if bad.size:
        raise ValueError(f"{where} {path} line {lines[bad[0]][0]}: grey value outside [-1, 1]")
    images = np.round((np.clip(values, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8).reshape(-1, 16, 16)
    return images, labels.astype(np.int64)


def load_usps(root: str | os.PathLike | None = None, *, download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Load the 7,291 USPS training digits.

    Args:
        root: directory holding ``zip.train.gz`` (or the file itself); see :func:`resolve_usps_dir`.
        download: fetch a missing file from :data:`USPS_URL`, verifying :data:`USPS_MD5`.

    Returns:
        ``(images, labels)``: uint8 ``(N, 16, 16)`` (0 = background, 255 = ink, as MNIST), int64 ``(N,)``.

    Raises:
        FileNotFoundError: the file is missing and ``download`` is False.
        RuntimeError: the download failed.
        ValueError: a malformed file (see :func:`parse_usps`).
    """
    return parse_usps(_find_file(resolve_usps_dir(root), download))


def to_mnist_geometry(images: np.ndarray) -> np.ndarray:
    """Put 16 x 16 digits into MNIST's geometry: ``(N, 16, 16) -> (N, 28, 28)`` uint8, ink = 255.

    As MNIST was made (docs/paper.md Sec. III-A): each digit's ink box (pixels above 1/4 of full ink,
    which leaves out USPS's faint scanner haze) is resized, keeping its aspect ratio, so that its
    longer side is 20 px, then placed in a 28 x 28 frame with its centre of mass at the centre
    (shifted back inside the frame where needed).
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"[data.usps.to_mnist_geometry] need uint8 (N, H, W), got {images.dtype} {images.shape}")
    out = np.zeros((images.shape[0], FRAME, FRAME), np.uint8)
    for i, img in enumerate(images):
        mask = img > 64
        if not mask.any():
            continue
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        crop = img[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
        h, w = crop.shape
        s = BOX / max(h, w)
        nh, nw = max(1, int(round(h * s))), max(1, int(round(w * s)))
        digit = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_LINEAR if s >= 1 else cv2.INTER_AREA)
        mass = digit.astype(np.float64)
        total = mass.sum()
        cy = (mass.sum(axis=1) @ np.arange(nh)) / total
        cx = (mass.sum(axis=0) @ np.arange(nw)) / total
        top = int(np.clip(round(FRAME / 2 - cy), 0, FRAME - nh))
        left = int(np.clip(round(FRAME / 2 - cx), 0, FRAME - nw))
        out[i, top: top + nh, left: left + nw] = digit
    return out


def usps_split(images: np.ndarray, labels: np.ndarray, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The fixed split of the file order: ``"train"`` = all but the last 1,000, ``"heldout"`` = the last 1,000.

    Raises:
        ValueError: an unknown split, or too few digits to hold 1,000 back.
    """
    if split not in USPS_SPLITS:
        raise ValueError(f"[data.usps_split] unknown split {split!r}; expected one of {USPS_SPLITS}")
    if len(images) <= USPS_HELDOUT or len(images) != len(labels):
        raise ValueError(f"[data.usps_split] need more than {USPS_HELDOUT} digits with one label each, "
                         f"got {len(images)} images and {len(labels)} labels")
    cut = len(images) - USPS_HELDOUT
    return (images[:cut], labels[:cut]) if split == "train" else (images[cut:], labels[cut:])


def usps_pool(split: str, root: str | os.PathLike | None = None, *, download: bool = True) -> DigitPool:
    """USPS digits in MNIST geometry as a :class:`data.synth.DigitPool`, for synthesising fields.

    Args:
        split: ``"train"`` (the first 6,291 digits) or ``"heldout"`` (the last 1,000, for measuring
            only). The pool's own ``split`` attribute is ``"train"`` or ``"test"`` respectively,
            following the MNIST rule that test strings come from held-out digits.
        root, download: as in :func:`load_usps`.

    Returns:
        a ``DigitPool`` of uint8 ``(N, 28, 28)`` digits (ink = 255) and int64 ``(N,)`` labels.

    Raises:
        ValueError: an unknown split; see also :func:`load_usps`.
    """
    if split not in USPS_SPLITS:
        raise ValueError(f"[data.usps_pool] unknown split {split!r}; expected one of {USPS_SPLITS}")
    images, labels = usps_split(*load_usps(root, download=download), split)
    return DigitPool(to_mnist_geometry(images), labels, "train" if split == "train" else "test")
