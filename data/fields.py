"""Labelled real fields with optional per-character boxes, for training and validation.

Layout of a field folder (the ORAND-CAR-A copy in ``../shared/data/orand_car_a`` is one)::

    labels.csv     path,text           (see :mod:`data.folder`; paths relative to the folder)
    boxes.jsonl    optional, one JSON object per line:
                   {"path": "images/a_car_000154.jpg", "text": "2250", "width": 108, "height": 44,
                    "chars": [{"char": "2", "box": [2, 13, 25, 29]}, ...]}

``box`` is ``[x, y, w, h]`` in pixels of the image (``image[y:y+h, x:x+w]``), one per character of
``text``, in the order of the text (left to right). A field without a line in ``boxes.jsonl`` (or
every field, when the file is absent) has ``boxes=None``: only its text is known, which is what
global training (docs/paper.md Sec. VI) learns from.

Every fault names its file and line: a path outside the folder, a missing (or, with
``check_images``, undecodable) image, a duplicated path, a character outside the alphabet, a
boxes line that is not a JSON object or lacks keys, boxes for a path that ``labels.csv`` does not
list, a box outside the image (against the JSON's ``width``/``height`` and, with
``check_images``, the decoded image), a box count or box characters that disagree with the
label. ``on_error="raise"`` raises one :class:`FieldError` listing them; ``on_error="skip"``
drops each faulty field and records the fault in :attr:`FieldSet.skipped`
(:meth:`FieldSet.report` summarises), so nothing is ever dropped silently.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Container, Iterable, Iterator, Sequence, overload

import numpy as np

from data.folder import LABELS_FILE, label_rows, read_image

BOXES_FILE = "boxes.jsonl"
_WHERE = "[data.read_fields]"
_BOX_KEYS = ("path", "text", "width", "height", "chars")
_TRAILING_INT = re.compile(r"(\d+)$")


@dataclass(frozen=True)
class _Boxes:
    """The boxes of one field with where they were read and the image size they were drawn on."""

    boxes: tuple["CharBox", ...]
    file: Path
    line: int
    width: int
    height: int


class FieldError(ValueError):
    """A field folder with faults; ``problems`` lists every ``(file, line, reason)`` found."""

    def __init__(self, message: str, problems: list[tuple[Path, int, str]]):
        super().__init__(message)
        self.problems = problems


@dataclass(frozen=True)
class CharBox:
    """One character's box in image pixels: ``image[y:y+h, x:x+w]`` holds its ink."""

    char: str
    x: int
    y: int
    w: int
    h: int

    @property
    def xyxy(self) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)`` with ``x1``/``y1`` exclusive, the convention of ``SynthField.boxes``."""
        return self.x, self.y, self.x + self.w, self.y + self.h


@dataclass(frozen=True)
class LabelledField:
    """One labelled field: the image ``path`` (resolved), its ``text``, its ``labels.csv`` ``line``,
    and its character boxes (one per character of ``text``) or None when none were given."""

    path: Path
    text: str
    line: int
    boxes: tuple[CharBox, ...] | None

    @property
    def id(self) -> int | None:
        """The trailing integer of the file name (``a_car_000803.jpg`` -> 803), or None."""
        return field_id(self.path)


def field_id(path: str | os.PathLike) -> int | None:
    """The integer at the end of a file's stem (``a_car_000803.jpg`` -> 803), None if there is none."""
    m = _TRAILING_INT.search(Path(path).stem)
    return int(m.group(1)) if m else None


class FieldSet(Sequence[LabelledField]):
    """The fields read from one folder, in ``labels.csv`` order, with what was skipped.

    ``fields[i] -> LabelledField`` (a slice gives a :class:`FieldSet`); images are read lazily by
    :meth:`image`. Subsets made by :meth:`select`, :meth:`select_ids` and :meth:`split_by_id`
    keep the folder's ``skipped`` list, so a report on a subset still shows what the reading dropped.

    Attributes:
        root: the folder.
        fields: the kept fields.
        skipped: one ``(file, line, reason)`` per dropped row or boxes line (``on_error="skip"``).
        labels_path: the ``labels.csv`` read; boxes_path: the boxes file read, or None.
    """

    def __init__(self, root: str | os.PathLike, fields: Iterable[LabelledField], *,
                 skipped: Iterable[tuple[Path, int, str]] = (), labels_path: Path | None = None,
                 boxes_path: Path | None = None):
        self.root = Path(root)
        self.fields = tuple(fields)
        self.skipped = list(skipped)
        self.labels_path = labels_path
        self.boxes_path = boxes_path

    def _subset(self, fields: Iterable[LabelledField]) -> "FieldSet":
        return FieldSet(self.root, fields, skipped=self.skipped, labels_path=self.labels_path,
                        boxes_path=self.boxes_path)

    def __len__(self) -> int:
        return len(self.fields)

    @overload
    def __getitem__(self, i: int) -> LabelledField: ...

    @overload
    def __getitem__(self, i: slice) -> "FieldSet": ...

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self._subset(self.fields[i])
        return self.fields[i]

    def __iter__(self) -> Iterator[LabelledField]:
        return iter(self.fields)

    def __repr__(self) -> str:
        return f"FieldSet({str(self.root)!r}, {len(self)} fields, {self.n_with_boxes} with boxes, " \
               f"{len(self.skipped)} skipped)"

    @property
    def texts(self) -> list[str]:
        """The label of every field."""
        return [f.text for f in self.fields]

    @property
    def paths(self) -> list[Path]:
        """The image path of every field."""
        return [f.path for f in self.fields]

    @property
    def ids(self) -> list[int | None]:
        """The trailing integer of every file name (see :func:`field_id`)."""
        return [f.id for f in self.fields]

    @property
    def n_with_boxes(self) -> int:
        """How many fields carry character boxes."""
        return sum(f.boxes is not None for f in self.fields)

    def image(self, i: int) -> np.ndarray:
        """The image of field ``i`` as uint8 grey ``(H, W)`` (see :func:`data.read_image`)."""
        return read_image(self.fields[i].path)

    def char_crops(self, i: int) -> list[tuple[str, np.ndarray]]:
        """The ``(char, uint8 (h, w) crop)`` of every box of field ``i``, left to right.

        Raises:
            ValueError: field ``i`` has no boxes, or a box does not fit the decoded image.
        """
        field = self.fields[i]
        if field.boxes is None:
            raise ValueError(f"[data.FieldSet.char_crops] {field.path} (line {field.line}) has no boxes")
        img = self.image(i)
        out = []
        for b in field.boxes:
            if b.x + b.w > img.shape[1] or b.y + b.h > img.shape[0]:
                raise ValueError(f"[data.FieldSet.char_crops] {field.path} (line {field.line}): box {b} "
                                 f"outside the {img.shape[1]}x{img.shape[0]} image")
            out.append((b.char, img[b.y: b.y + b.h, b.x: b.x + b.w]))
        return out

    def select(self, predicate: Callable[[LabelledField], bool]) -> "FieldSet":
        """The fields for which ``predicate(field)`` is true, in order."""
        return self._subset(f for f in self.fields if predicate(f))

    def select_ids(self, ids: Container[int]) -> "FieldSet":
        """The fields whose file-name id (:func:`field_id`) is in ``ids`` (e.g. ``range(800, 1000)``).

        Raises:
            ValueError: a field's file name ends in no integer (named with its line).
        """
        self._require_ids("select_ids")
        return self._subset(f for f in self.fields if f.id in ids)

    def split_by_id(self, lo: int, hi: int) -> tuple["FieldSet", "FieldSet"]:
        """Split by file-name id: ``(rest, held)`` with ``held`` the ids in ``[lo, hi]`` (inclusive).

        Example: ``train, val = read_fields(orand).split_by_id(800, 999)``.

        Raises:
            ValueError: ``lo > hi``, or a field's file name ends in no integer.
        """
        if lo > hi:
            raise ValueError(f"[data.FieldSet.split_by_id] empty id range: lo {lo} > hi {hi}")
        self._require_ids("split_by_id")
        inside = [lo <= f.id <= hi for f in self.fields]
        return (self._subset(f for f, k in zip(self.fields, inside) if not k),
                self._subset(f for f, k in zip(self.fields, inside) if k))

    def _require_ids(self, method: str) -> None:
        for f in self.fields:
            if f.id is None:
                raise ValueError(f"[data.FieldSet.{method}] {self.labels_path or self.root} line {f.line}: "
                                 f"file name {f.path.name} does not end in an integer id")

    def report(self, *, limit: int = 20) -> str:
        """A summary: fields kept, fields with boxes, and every skipped row (up to ``limit`` shown)."""
        head = (f"{self.labels_path or self.root}: {len(self)} fields, {self.n_with_boxes} with boxes"
                + (f" (from {self.boxes_path.name})" if self.boxes_path is not None else "")
                + f", {len(self.skipped)} skipped")
        lines = [head] + [f"  skipped {file} line {line}: {reason}" for file, line, reason in self.skipped[:limit]]
        if len(self.skipped) > limit:
            lines.append(f"  ... and {len(self.skipped) - limit} more skipped")
        return "\n".join(lines)


def read_fields(root: str | os.PathLike, *, labels: str = LABELS_FILE, boxes: str | None = BOXES_FILE,
                alphabet: Iterable[str] | None = None, on_error: str = "raise", check_images: bool = False,
                allow_outside: bool = False, require_boxes: bool = False) -> FieldSet:
    """Read a labelled field folder (see the module docstring for its layout and faults).

    Args:
        root: the folder.
        labels: the labels CSV, relative to ``root``.
        boxes: the boxes JSONL, relative to ``root``; None = do not read boxes. A missing file is
            fine and gives ``boxes=None`` for every field.
        alphabet: if given, every character of every label must be in it.
        on_error: ``"raise"`` (one :class:`FieldError` listing every fault) or ``"skip"`` (drop the
            faulty fields, record the faults in ``.skipped``).
        check_images: decode every image now; an undecodable image is a fault, and boxes are
            checked against the decoded size too.
        allow_outside: accept label paths outside ``root`` (``../x.png``, absolute paths).
        require_boxes: a field without a boxes line is a fault, and so is a missing boxes file.

    Returns:
        the :class:`FieldSet`.

    Raises:
        FileNotFoundError: no such folder or labels file; ``boxes`` names something that is not a
            file (a missing file is an error only with ``require_boxes``).
        ValueError: a bad ``on_error``; a file-level fault (not UTF-8, no header, ...); a labels
            file with no rows; every row skipped.
        FieldError: (a ValueError) faulty rows or boxes lines with ``on_error="raise"``.
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"{_WHERE} on_error must be 'raise' or 'skip', got {on_error!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{_WHERE} no such folder: {root}")
    csv_path = root / labels
    problems: list[tuple[Path, int, str]] = []
    rows, listed = _read_label_rows(root, csv_path, alphabet=alphabet, allow_outside=allow_outside,
                                    problems=problems)
    boxes_path = None if boxes is None else root / boxes
    if boxes_path is not None and not boxes_path.is_file():
        if boxes_path.exists() or require_boxes:
            raise FileNotFoundError(f"{_WHERE} {boxes_path} is not a file"
                                    + (" (require_boxes=True needs one)" if require_boxes else ""))
        boxes_path = None
    found: dict[Path, _Boxes] = {}
    if boxes_path is not None:
        found = _read_boxes(boxes_path, root, csv_path, rows, listed, problems=problems)
    if check_images:
        _check_images(rows, found, csv_path, problems=problems)
    if require_boxes:
        for path, (line, _text) in list(rows.items()):
            if path not in found:
                problems.append((csv_path, line, f"{path.name}: no boxes in {boxes_path.name}"))
                rows.pop(path)
    if problems and on_error == "raise":
        raise FieldError(f"{_WHERE} {_summary(problems)}", problems)
    fields = [LabelledField(path=p, text=t, line=ln, boxes=found[p].boxes if p in found else None)
              for p, (ln, t) in rows.items()]
    if not fields:
        detail = f": {_summary(problems)}" if problems else ""
        raise ValueError(f"{_WHERE} {csv_path} gives no usable fields{detail}")
    return FieldSet(root, fields, skipped=problems, labels_path=csv_path, boxes_path=boxes_path)


def _summary(problems: list[tuple[Path, int, str]], shown: int = 5) -> str:
    parts = [f"{file} line {line}: {reason}" for file, line, reason in problems[:shown]]
    more = f"; and {len(problems) - shown} more" if len(problems) > shown else ""
    if len(problems) == 1:
        return parts[0]
    return f"{len(problems)} problems (on_error='skip' drops them): " + "; ".join(parts) + more


def _read_label_rows(root: Path, csv_path: Path, *, alphabet: Iterable[str] | None, allow_outside: bool,
                     problems: list[tuple[Path, int, str]]) -> tuple[dict[Path, tuple[int, str]], set[Path]]:
    """``(rows, listed)``: resolved image path -> ``(line, text)`` for the sound rows, and every path
    the CSV lists (sound or not); faults go to ``problems``."""
    records = label_rows(csv_path, where=_WHERE)
    if not records:
        raise ValueError(f"{_WHERE} {csv_path} lists no images")
    allowed = None if alphabet is None else set(alphabet)
    base = Path(os.path.abspath(root))
    rows: dict[Path, tuple[int, str]] = {}
    seen: dict[Path, int] = {}
    listed: set[Path] = set()
    for line, rel, text, problem in records:
        if problem is not None:
            problems.append((csv_path, line, problem))
            continue
        reason, path = None, None
        lexical = Path(os.path.normpath(base / rel))
        listed.add(lexical.resolve())
        if not allow_outside and not lexical.is_relative_to(base):
            reason = f"path {rel} is outside the folder {root} (pass allow_outside=True to accept it)"
        elif allowed is not None and set(text) - allowed:
            reason = f"text {text!r} has characters {sorted(set(text) - allowed)} outside the alphabet"
        else:
            path = lexical.resolve()
            if path in seen:
                reason = f"path {rel} already listed on line {seen[path]}"
            elif not path.is_file():
                reason = f"image {rel} does not exist"
        if path is not None:
            seen.setdefault(path, line)
        if reason is not None:
            problems.append((csv_path, line, reason))
        else:
            rows[path] = (line, text)
    return rows, listed


def _read_boxes(boxes_path: Path, root: Path, csv_path: Path, rows: dict[Path, tuple[int, str]],
                listed: set[Path], *, problems: list[tuple[Path, int, str]]) -> dict[Path, _Boxes]:
    """Resolved image path -> its boxes; a faulty line drops its field from ``rows``.

    A line for a path that ``labels.csv`` lists but whose row was already dropped is passed over
    (that row is already counted as skipped)."""
    try:
        text = boxes_path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{_WHERE} {boxes_path} is not UTF-8 text: {exc}") from None
    out: dict[Path, _Boxes] = {}
    seen: dict[Path, int] = {}
    base = Path(os.path.abspath(root))
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append((boxes_path, line, f"not JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(obj, dict):
            problems.append((boxes_path, line, f"expected a JSON object, got {type(obj).__name__}"))
            continue
        missing = [k for k in _BOX_KEYS if k not in obj]
        if missing:
            problems.append((boxes_path, line, f"missing key(s) {missing}; need {list(_BOX_KEYS)}"))
            continue
        rel = obj["path"]
        if not isinstance(rel, str) or not rel.strip():
            problems.append((boxes_path, line, f"path {rel!r} is not a non-empty string"))
            continue
        path = Path(os.path.normpath(base / rel.strip())).resolve()
        if path in seen:
            problems.append((boxes_path, line, f"boxes for {rel} already given on line {seen[path]}"))
            rows.pop(path, None)
            out.pop(path, None)
            continue
        seen[path] = line
        if path not in listed:
            problems.append((boxes_path, line, f"path {rel} is not listed in {csv_path.name}"))
            continue
        if path not in rows:  # its labels row was already dropped by an earlier fault
            continue
        label_line, label = rows[path]
        try:
            out[path] = _Boxes(_parse_boxes(obj, label, label_line, csv_path.name), boxes_path, line,
                               obj["width"], obj["height"])
        except ValueError as exc:
            problems.append((boxes_path, line, f"{rel}: {exc}"))
            rows.pop(path)
    return out


def _parse_boxes(obj: dict, label: str, label_line: int, csv_name: str) -> tuple[CharBox, ...]:
    """Validate one boxes object against its label; ValueError with the reason otherwise."""
    width, height, chars = obj["width"], obj["height"], obj["chars"]
    if not (_is_int(width) and _is_int(height) and width > 0 and height > 0):
        raise ValueError(f"width {width!r} and height {height!r} must be positive integers")
    if obj["text"] != label:
        raise ValueError(f"text {obj['text']!r} differs from the label {label!r} ({csv_name} line {label_line})")
    if not isinstance(chars, list):
        raise ValueError(f"chars must be a list, got {type(chars).__name__}")
    if len(chars) != len(label):
        raise ValueError(f"{len(chars)} boxes for the {len(label)} characters of the label {label!r} "
                         f"({csv_name} line {label_line})")
    out = []
    for k, item in enumerate(chars):
        if not isinstance(item, dict) or "char" not in item or "box" not in item:
            raise ValueError(f"chars[{k}] must be an object with keys 'char' and 'box', got {item!r}")
        char, box = item["char"], item["box"]
        if char != label[k]:
            raise ValueError(f"chars[{k}] is {char!r} but the label {label!r} has {label[k]!r} there "
                             f"({csv_name} line {label_line})")
        if not (isinstance(box, list) and len(box) == 4 and all(_is_int(v) for v in box)):
            raise ValueError(f"chars[{k}] box {box!r} must be 4 integers [x, y, w, h]")
        x, y, w, h = box
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > width or y + h > height:
            raise ValueError(f"chars[{k}] box {box} is empty or outside the {width}x{height} image")
        out.append(CharBox(char=char, x=x, y=y, w=w, h=h))
    return tuple(out)


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_images(rows: dict[Path, tuple[int, str]], found: dict[Path, _Boxes], csv_path: Path, *,
                  problems: list[tuple[Path, int, str]]) -> None:
    """Decode every image; drop undecodable ones and ones whose size differs from their boxes line's."""
    for path, (line, _text) in list(rows.items()):
        try:
            img = read_image(path)
        except (OSError, ValueError) as exc:
            problems.append((csv_path, line, f"cannot decode image {path.name}: {exc}"))
            rows.pop(path)
            found.pop(path, None)
            continue
        entry = found.get(path)
        if entry is not None and img.shape != (entry.height, entry.width):
            problems.append((entry.file, entry.line, f"{path.name}: boxes are for a {entry.width}x{entry.height} "
                             f"image but the decoded image is {img.shape[1]}x{img.shape[0]}"))
            rows.pop(path)
            found.pop(path)
