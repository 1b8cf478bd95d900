"""A folder of the user's own labelled field images, for evaluation on real data.

Layout: a directory holding image files (PNG, JPEG, TIFF, BMP: anything OpenCV decodes) and a
``labels.csv`` (UTF-8, optional BOM) whose header names at least the columns ``path`` and
``text``; extra columns are ignored. ``path`` is relative to the folder (or absolute), ``text`` is
the true content of the field. ``docrec synth`` writes exactly this layout::

    path,text
    000000.png,12345
    000001.png,"1,234.56"

Every problem is reported with the file (and CSV line) at fault: a missing folder or CSV, a
missing header column, a short row, an empty path or text, a duplicated path, a character outside
an optional alphabet, image files that do not exist (all listed at once), images that cannot be
decoded.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from data.atomic import atomic_write

LABELS_FILE = "labels.csv"


@dataclass(frozen=True)
class LabelledImage:
    """One row of ``labels.csv``: the image ``path`` (resolved), its ``text``, the CSV ``line``."""

    path: Path
    text: str
    line: int


def read_image(path: str | os.PathLike, *, max_pixels: int | None = None) -> np.ndarray:
    """Read an image file as uint8 greyscale ``(H, W)``.

    Colour is converted to grey (luma). A transparent image is laid on white paper first, so ink
    drawn only in the alpha channel stays ink. 16-bit images are scaled to 8 bits. With
    ``max_pixels``, the size in the file's header is checked before anything is decoded.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is empty, larger than ``max_pixels``, or cannot be decoded as an image.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"[data.read_image] no such image file: {path}")
    if max_pixels is not None:
        size = header_size(path)
        if size is not None and size[0] * size[1] > max_pixels:
            raise ValueError(f"[data.read_image] {path} is {size[0]}x{size[1]} pixels, which exceeds the limit of "
                             f"{max_pixels} pixels")
    buf = np.fromfile(path, dtype=np.uint8)
    try:
        img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf.size else None
    except cv2.error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"[data.read_image] cannot decode {path}: {reason}") from None
    if img is None or img.size == 0:
        raise ValueError(f"[data.read_image] cannot decode {path} as an image (empty, corrupt or unsupported)")
    return _to_grey(img)


def header_size(path: Path) -> tuple[int, int] | None:
    """``(width, height)`` from an image file's header without decoding it (None if unknown)."""
    with open(path, "rb") as fh:
        head = fh.read(24)
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":  # PNG: read IHDR ourselves
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    try:
        from PIL import Image

        with Image.open(path) as im:
            return im.size
    except Exception:  # unknown to PIL, or past PIL's own size limit: the decoder will say what is wrong
        return None


def _to_grey(img: np.ndarray) -> np.ndarray:
    """uint8 grey ``(H, W)`` from what OpenCV decoded: grey, BGR, grey+alpha or BGRA, 8 or 16 bits."""
    if img.dtype == np.uint16:
        img = (img.astype(np.float32) / 257.0).round().astype(np.uint8)
    elif img.dtype != np.uint8:
        img = np.clip(img.astype(np.float32), 0, 255).astype(np.uint8)
    if img.ndim == 2:
        return img
    channels = img.shape[2]
    if channels == 1:
        return img[:, :, 0]
    if channels == 2:
        grey, alpha = img[:, :, 0].astype(np.float32), img[:, :, 1].astype(np.float32) / 255.0
    else:
        grey = cv2.cvtColor(img[:, :, :3], cv2.COLOR_BGR2GRAY).astype(np.float32)
        alpha = img[:, :, 3].astype(np.float32) / 255.0 if channels == 4 else None
    if alpha is None:
        return grey.round().astype(np.uint8)
    return (grey * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)  # on white paper


def read_csv_records(csv_path: str | os.PathLike, *, where: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Read a UTF-8 CSV file (optional BOM) into its header and its records with line numbers.

    Args:
        csv_path: the CSV file.
        where: the ``[module.function]`` prefix for error messages.

    Returns:
        ``(header, records)``: the header row as written, and one ``(line, row)`` per later record,
        ``line`` being the 1-based physical line where the record starts (blank lines give ``[]``).

    Raises:
        FileNotFoundError: no such CSV file.
        ValueError: not UTF-8, not valid CSV, or empty.
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"{where} no labels file {csv_path}")
    records: list[tuple[int, list[str]]] = []
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, strict=True)
            start = 1
            for row in reader:
                records.append((start, row))
                start = reader.line_num + 1
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where} {csv_path} is not UTF-8 text: {exc}") from None
    except csv.Error as exc:
        raise ValueError(f"{where} {csv_path} is not valid CSV: {exc}") from None
    if not records:
        raise ValueError(f"{where} {csv_path} is empty; expected a header 'path,text'")
    return records[0][1], records[1:]


def label_rows(csv_path: str | os.PathLike, *, where: str) -> list[tuple[int, str, str, str | None]]:
    """The rows of a ``labels.csv`` as ``(line, path, text, problem)``, blank rows left out.

    File-level faults raise; a row-level fault (too few columns, empty path, empty text) is
    returned as ``problem`` (the reason, without file and line) so that callers can choose to
    raise or to skip. ``path`` and ``text`` are stripped of surrounding spaces.

    Args:
        csv_path: the CSV file.
        where: the ``[module.function]`` prefix for error messages.

    Raises:
        FileNotFoundError / ValueError: see :func:`read_csv_records`; a header that does not name
            the columns ``path`` and ``text``.
    """
    csv_path = Path(csv_path)
    header_row, records = read_csv_records(csv_path, where=where)
    header = [h.strip().lower() for h in header_row]
    if "path" not in header or "text" not in header:
        raise ValueError(f"{where} {csv_path} line 1: header {header_row} must name the columns 'path' and 'text'")
    ip, it = header.index("path"), header.index("text")
    out: list[tuple[int, str, str, str | None]] = []
    for line, row in records:
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) <= max(ip, it):
            out.append((line, "", "", f"expected {len(header)} columns, got {len(row)}: {row}"))
            continue
        rel, text = row[ip].strip(), row[it].strip()
        problem = None
        if not rel:
            problem = "empty path"
        elif not text:
            problem = f"empty text for {rel}"
        out.append((line, rel, text, problem))
    return out


def read_labels(csv_path: str | os.PathLike, *, alphabet: Iterable[str] | None = None,
                allow_outside: bool = False) -> list[LabelledImage]:
    """Parse a ``labels.csv``; image paths are resolved against the CSV's directory.

    Args:
        csv_path: the CSV file.
        alphabet: if given, every character of every text must be in it.
        allow_outside: accept paths that leave the CSV's folder (``../x.png``, absolute paths);
            by default such a row is an error.

    Returns:
        the rows in file order.

    Raises:
        FileNotFoundError: no such CSV file.
        ValueError: not UTF-8, no ``path``/``text`` header, a malformed row, an empty path or
            text, a duplicated path, a path outside the folder, or a character outside ``alphabet``
            (with the line number).
    """
    csv_path = Path(csv_path)
    base = csv_path.parent.resolve()
    where = "[data.read_labels]"
    allowed = None if alphabet is None else set(alphabet)
    out: list[LabelledImage] = []
    seen: dict[Path, int] = {}
    for line, rel, text, problem in label_rows(csv_path, where=where):
        if problem is not None:
            raise ValueError(f"{where} {csv_path} line {line}: {problem}")
        if allowed is not None:
            bad = sorted(set(text) - allowed)
            if bad:
                raise ValueError(f"{where} {csv_path} line {line}: text {text!r} has characters {bad} "
                                 f"outside the alphabet")
        path = (csv_path.parent / rel).resolve()
        if not allow_outside and not path.is_relative_to(base):
            raise ValueError(f"{where} {csv_path} line {line}: path {rel} is outside the folder {base} "
                             "(allow it explicitly to read images from elsewhere)")
        if path in seen:
            raise ValueError(f"{where} {csv_path} line {line}: path {rel} already listed on line {seen[path]}")
        seen[path] = line
        out.append(LabelledImage(path=path, text=text, line=line))
    return out


class FieldFolder:
    """A labelled folder: ``folder[i] -> (image uint8 (H, W), text)``, images read lazily.

    Args:
        root: the folder holding ``labels`` and the images.
        labels: name of the CSV inside ``root`` (default ``labels.csv``).
        alphabet: optional set of allowed characters for the texts.
        decode: if True, decode every image now (slower) so unreadable files fail up front.
        allow_outside: accept label paths outside ``root`` (see :func:`read_labels`).

    Raises:
        FileNotFoundError: missing folder, CSV or image files (all missing ones are named).
        ValueError: a bad CSV (see :func:`read_labels`), no rows, or (``decode``) unreadable images.
    """

    def __init__(self, root: str | os.PathLike, *, labels: str = LABELS_FILE,
                 alphabet: Iterable[str] | None = None, decode: bool = False, allow_outside: bool = False):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"[data.FieldFolder] no such folder: {self.root}")
        self.csv_path = self.root / labels
        self.items = read_labels(self.csv_path, alphabet=alphabet, allow_outside=allow_outside)
        if not self.items:
            raise ValueError(f"[data.FieldFolder] {self.csv_path} lists no images")
        missing = [it for it in self.items if not it.path.is_file()]
        if missing:
            shown = ", ".join(f"{m.path.name} (line {m.line})" for m in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise FileNotFoundError(f"[data.FieldFolder] {len(missing)} image(s) listed in {self.csv_path} "
                                    f"do not exist: {shown}{more}")
        if decode:
            bad = []
            for it in self.items:
                try:
                    read_image(it.path)
                except ValueError:
                    bad.append(f"{it.path.name} (line {it.line})")
            if bad:
                raise ValueError(f"[data.FieldFolder] {len(bad)} image(s) in {self.root} cannot be decoded: "
                                 + ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else ""))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[np.ndarray, str]:
        item = self.items[i]
        return read_image(item.path), item.text

    def __iter__(self) -> Iterator[tuple[np.ndarray, str]]:
        for i in range(len(self)):
            yield self[i]

    @property
    def texts(self) -> list[str]:
        return [it.text for it in self.items]

    @property
    def paths(self) -> list[Path]:
        return [it.path for it in self.items]


def write_labels(csv_path: str | os.PathLike, rows: Iterable[tuple[str, str]]) -> Path:
    """Write ``labels.csv`` (header ``path,text``) atomically: temp file, then ``os.replace``."""
    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["path", "text"])
            for rel, text in rows:
                writer.writerow([rel, text])

    return atomic_write(csv_path, write)
