"""Reader for the IDX format of the MNIST files (http://yann.lecun.com/exdb/mnist/ layout).

An IDX file is a 4-byte magic number ``0x00 0x00 TYPE NDIM``, NDIM big-endian uint32 dimensions,
then the values in row-major order. MNIST uses TYPE 0x08 (unsigned byte): magic 2049 for label
files (NDIM 1) and 2051 for image files (NDIM 3).
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np

_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
            fh.seek(0)
            if head == b"\x1f\x8b":
                with gzip.GzipFile(fileobj=fh) as gz:
                    return gz.read()
            return fh.read()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ValueError(f"[data.read_idx] cannot read {path}: {exc}") from exc


def read_idx(path: str | os.PathLike, *, expect_ndim: int | None = None) -> np.ndarray:
    """Read one IDX file, gzipped or raw.

    Args:
        path: the file.
        expect_ndim: if given, the number of dimensions the file must declare (1 for labels,
            3 for images).

    Returns:
        The array with the declared shape, e.g. ``(N, 28, 28)`` uint8 for MNIST images or
        ``(N,)`` uint8 for labels.

    Raises:
        ValueError: naming the file, for a bad magic number, an unknown type, a wrong number of
            dimensions, or a payload whose length disagrees with the declared dimensions
            (truncated or padded file).
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"[data.read_idx] {path}: file too short ({len(raw)} bytes) for an IDX header")
    zero0, zero1, type_code, ndim = raw[0], raw[1], raw[2], raw[3]
    if zero0 != 0 or zero1 != 0 or type_code not in _DTYPES or ndim == 0:
        magic = struct.unpack(">I", raw[:4])[0]
        raise ValueError(
            f"[data.read_idx] {path}: bad magic number {magic} (0x{magic:08x}); "
            "expected 2049 (labels) or 2051 (images) or another IDX magic 0x0000TTDD"
        )
    if expect_ndim is not None and ndim != expect_ndim:
        raise ValueError(
            f"[data.read_idx] {path}: declares {ndim} dimensions, expected {expect_ndim}"
        )
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise ValueError(f"[data.read_idx] {path}: truncated header ({len(raw)} bytes < {header_len})")
    dims = struct.unpack(f">{ndim}I", raw[4:header_len])
    dtype = _DTYPES[type_code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    actual = len(raw) - header_len
    if actual != expected:
        what = "truncated" if actual < expected else "longer than declared"
        raise ValueError(
            f"[data.read_idx] {path}: {what}: header declares dimensions {tuple(dims)} "
            f"({expected} bytes of data) but the file holds {actual} bytes"
        )
    arr = np.frombuffer(raw, dtype=dtype, offset=header_len).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)
