"""Real labelled fields for the segmentation recogniser's training (docs/paper.md Sec. VI, IX-X).

A field folder (``labels.csv`` plus optional ``boxes.jsonl``, :func:`data.read_fields`) becomes
cached segmented fields (:class:`docrec.training.seg_global.CachedField`: every arc's piece and
the segmentation graph), made once per folder, id range and segmenter version
(:func:`segment_folder`, cached in the work folder).

* **Local training** (boxes given): each character's box is mapped to the graph's arcs
  (:func:`segmenter.truth.box_char_map`, :func:`segmenter.truth.box_arc_targets`): the arc whose
  ink best matches the box's ink is that character, fragments and merges are 'none' (class 16),
  near copies of a true piece and pieces of unlabelled ink (separators, end marks) are left out.
  :func:`real_pieces` gives the labelled pieces, :func:`mix_pieces` mixes them with synthetic ones.
* **Global training** (text only, boxes hidden): the target of the discriminative forward
  criterion is every way the digit-only label may be written (:func:`label_graph`: optional
  separators between digits, an optional end-mark tail), see :mod:`docrec.training.seg_global`.
* **Validation**: :func:`digit_accuracy` reads each field with the amount grammar and compares the
  reading's digits with the label.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

import segmenter
from data import read_fields
from data.atomic import atomic_write
from decoders import Grammar, decode, marked_label_graph
from docrec.fingerprint import source_digest
from segmenter.graph import segment
from segmenter.truth import box_arc_targets, box_char_map, true_path

#: Grammar (``docrec.recognizers.resolve_grammar`` spec) real amount fields are read with.
REAL_GRAMMAR = "amount"
#: ``CachedField.kind`` of a real field (its label is digits only: scored on digits).
REAL_KIND = "real"


def parse_id_range(spec: str | None, *, where: str = "docrec.parse_id_range") -> tuple[int, int] | None:
    """``"154-799"`` -> ``(154, 799)`` (inclusive); ``"800"`` -> ``(800, 800)``; None/"" -> None.

    Raises:
        ValueError: not ``LO-HI`` with integers ``0 <= LO <= HI``.
    """
    if spec is None or str(spec).strip() == "":
        return None
    lo, sep, hi = str(spec).strip().partition("-")
    try:
        lo_i, hi_i = int(lo), int(hi if sep else lo)
    except ValueError:
        raise ValueError(f"[{where}] id range {spec!r} is not LO-HI (e.g. 154-799)") from None
    if lo_i < 0 or lo_i > hi_i:
        raise ValueError(f"[{where}] id range {spec!r} is empty or negative (need 0 <= LO <= HI)")
    return lo_i, hi_i


def read_folder(root: str | os.PathLike, *, ids: tuple[int, int] | None = None, boxes: str | None = "boxes.jsonl",
                skip_bad: bool = False, log=print):
    """Read a labelled field folder for training (:func:`data.read_fields`).

    Args:
        root: folder with ``labels.csv`` (paths may be absolute or outside the folder).
        ids: keep only file-name ids in this inclusive range (``a_car_000803.jpg`` -> 803).
        boxes: the boxes file name in ``root`` (None: boxes hidden, text only).
        skip_bad: drop faulty rows (each counted and reported through ``log``) instead of raising.

    Returns:
        a ``data.FieldSet`` (labels in the 16-character alphabet).

    Raises:
        FileNotFoundError: no folder or no ``labels.csv``.
        ValueError: (``data.FieldError``) faulty rows without ``skip_bad``; no field in ``ids``.
    """
    from docrec.training.seg_data import CHARS

    root = Path(root)
    fs = read_fields(root, boxes=boxes, alphabet=CHARS, on_error="skip" if skip_bad else "raise",
                     allow_outside=True)
    if fs.skipped:
        log(fs.report())
    if ids is not None:
        fs = fs.select_ids(range(ids[0], ids[1] + 1))
        if len(fs) == 0:
            raise ValueError(f"[docrec.seg_real.read_folder] {root}: no field with an id in {ids[0]}-{ids[1]}")
    return fs


def _segmenter_version() -> str:
    """Hash of the segmenter package's source (a cache made by other code is never reused)."""
    return source_digest(segmenter)


def cache_key(fieldset, *, with_targets: bool, segmenter_config, none_iou: float = 0.6) -> str:
    """Key of a folder's segmentation cache: fields, labels, boxes, segmenter config and source."""
    h = hashlib.sha1()
    if with_targets and none_iou != 0.6:
        h.update(f"none_iou={none_iou}".encode())
    for f in fieldset:
        h.update(f"{f.path}|{f.text}|{f.boxes if with_targets else None}\n".encode())
    h.update(repr(segmenter_config).encode())
    h.update(_segmenter_version().encode())
    h.update(b"targets" if with_targets else b"text")
    return h.hexdigest()[:16]


def segment_folder(fieldset, *, with_targets: bool, cache_dir: str | os.PathLike | None = None,
                   segmenter_config=None, none_iou: float = 0.6, progress: bool = False,
                   log=print) -> tuple[list, dict]:
    """Segment every field of ``fieldset`` into a ``CachedField`` (pieces uint8 ``(A, 1, 32, 32)``,
    the graph; ``targets`` int64 ``(A,)`` from the boxes when ``with_targets``).

    Fields without ink are counted and left out (reported through ``log``).

    Args:
        fieldset: ``data.FieldSet``; with ``with_targets`` every field needs boxes.
        with_targets: map the boxes to arcs (:func:`segmenter.truth.box_arc_targets`).
        cache_dir: folder of the on-disk cache (None: no cache).
        segmenter_config: default :func:`docrec.recognizers.seg.default_segmenter_config`.
        none_iou: an arc is 'none' only below this intersection over union with its main
            character (``ambiguous_iou`` of :func:`segmenter.truth.box_arc_targets`; between it and
            the true piece it is left out).

    Returns:
        ``(fields, stats)``: stats counts fields, empty fields, characters matched, the median IoU
        of each character's best arc, and (with targets) fields whose true segmentation is a path.

    Raises:
        ValueError: ``with_targets`` and a field has no boxes (named with its line).
    """

    from docrec.recognizers.seg import default_segmenter_config

    segmenter_config = segmenter_config or default_segmenter_config()
    if with_targets:
        for f in fieldset:
            if f.boxes is None:
                raise ValueError(f"[docrec.seg_real.segment_folder] {f.path} (labels line {f.line}) has no boxes; "
                                 f"local training needs one box per character (or use global training)")
    key = cache_key(fieldset, with_targets=with_targets, segmenter_config=segmenter_config, none_iou=none_iou)
    cache = None if cache_dir is None else Path(cache_dir) / f"real-fields-{key}.pt"
    if cache is not None and cache.is_file():
        return _read_cache(cache)
    fields, ious = [], []
    stats = {"fields": len(fieldset), "empty": 0, "chars": 0, "chars_matched": 0, "true_path": 0}
    for i in tqdm(range(len(fieldset)), disable=not progress, desc="segment real fields", unit="field"):
        f = fieldset[i]
        img = fieldset.image(i)
        seg = segment(img, config=segmenter_config)
        if seg.num_arcs == 0:
            stats["empty"] += 1
            log(f"[docrec.seg_real] {f.path.name} (labels line {f.line}): no ink found; left out")
            continue
        targets = _box_targets(seg, img.shape, f, none_iou=none_iou, stats=stats, ious=ious) if with_targets else None
        fields.append(_cached_field(seg, f.text, f.path.name, targets=targets))
    if ious:
        stats["median_char_iou"] = float(np.median(ious))
    if cache is not None:
        _write_cache(cache, fields, stats)
    return fields, stats


def augmented_fields(fieldset, copies: int, *, seed: int = 0, keep: set[str] | None = None,
                     cache_dir: str | os.PathLike | None = None, segmenter_config=None, progress: bool = False,
                     scan: bool = False, none_iou: float = 0.6, log=print) -> tuple[list, dict]:
    """``copies`` augmented variants of every field of ``fieldset``, each segmented anew into a
    ``CachedField``: without targets (global training reads the label alone), or with ``scan``
    rescanned copies whose boxes still hold, with targets (local training reads their true pieces).

    Copy ``k`` of field ``i`` is :func:`docrec.training.field_augment.augment_field` (``scan``:
    :func:`~docrec.training.field_augment.scan_variant`) with the random source
    ``numpy.random.default_rng([17 + seed, k, i])``, so a copy does not depend on the other fields or
    on ``copies``. Copies in which the segmenter finds no ink are left out and counted.

    Args:
        fieldset: ``data.FieldSet``; with ``scan`` every field needs boxes.
        copies: variants per field (>= 1).
        seed: the augmentation seed.
        keep: file names (``path.name``) of the fields to augment (None: all).
        cache_dir: folder of the on-disk cache (None: no cache); keyed by the folder's fields, the
            segmenter, ``copies``, ``seed``, ``keep``, ``scan``, ``none_iou`` and the augmentation's
            source.
        scan: rescanned copies with box targets (see above).
        none_iou: with ``scan``, as in :func:`segment_folder`.

    Returns:
        ``(fields, stats)``: copy by copy, field by field; stats count made and empty copies (with
        ``scan`` also characters matched and true paths, as :func:`segment_folder`).
    """
    from docrec.recognizers.seg import default_segmenter_config
    from docrec.training import field_augment

    if copies < 1:
        raise ValueError(f"[docrec.seg_real.augmented_fields] copies must be >= 1, got {copies}")
    segmenter_config = segmenter_config or default_segmenter_config()
    chosen = [i for i in range(len(fieldset)) if keep is None or fieldset[i].path.name in keep]
    h = hashlib.sha1(cache_key(fieldset, with_targets=scan, segmenter_config=segmenter_config,
                               none_iou=none_iou).encode())
    h.update(f"augment copies={copies} seed={seed} keep={sorted(keep) if keep is not None else None}".encode())
    if scan:
        h.update(b" scan")
    h.update(source_digest(field_augment).encode())
    cache = None if cache_dir is None else Path(cache_dir) / f"real-augmented-{h.hexdigest()[:16]}.pt"
    if cache is not None and cache.is_file():
        return _read_cache(cache)
    if scan:
        for i in chosen:
            if fieldset[i].boxes is None:
                f = fieldset[i]
                raise ValueError(f"[docrec.seg_real.augmented_fields] {f.path} (labels line {f.line}) has no boxes; "
                                 f"rescanned copies need one box per character")
    change = field_augment.scan_variant if scan else field_augment.augment_field
    out, empty, ious = [], 0, []
    stats = {"copies": copies, "fields": len(chosen)}
    if scan:
        stats.update(chars=0, chars_matched=0, true_path=0)
    jobs = [(k, i) for k in range(copies) for i in chosen]
    for k, i in tqdm(jobs, disable=not progress, desc="augment real fields", unit="field"):
        f = fieldset[i]
        img = change(fieldset.image(i), np.random.default_rng([17 + seed, k, i]))
        seg = segment(img, config=segmenter_config)
        if seg.num_arcs == 0:
            empty += 1
            continue
        targets = _box_targets(seg, img.shape, f, none_iou=none_iou, stats=stats, ious=ious) if scan else None
        out.append(_cached_field(seg, f.text, f"{f.path.name}#{'scan' if scan else 'aug'}{k}", targets=targets))
    stats.update(made=len(out), no_ink=empty)
    if empty:
        log(f"[docrec.seg_real] {empty} of {len(jobs)} augmented copies had no ink; left out")
    if cache is not None:
        _write_cache(cache, out, stats)
    return out, stats


def _box_targets(seg, shape: tuple, f, *, none_iou: float, stats: dict, ious: list) -> np.ndarray:
    """The arc targets of the segmented field ``seg`` (image ``shape``) from the boxes of its folder
    row ``f`` (:func:`segmenter.truth.box_arc_targets`); counts characters, matches and true paths
    into ``stats`` and each character's best IoU into ``ious``."""
    cmap = box_char_map(shape, f.boxes)
    targets, best = box_arc_targets(seg, cmap, ambiguous_iou=none_iou)
    ious.extend(best.tolist())
    stats["chars"] += len(f.text)
    stats["chars_matched"] += int((targets >= 0).sum())
    stats["true_path"] += true_path(seg, cmap, tol=0.8) is not None
    return targets


def _cached_field(seg, text: str, name: str, *, targets: np.ndarray | None = None):
    """A segmented field as the trainers keep it: ``CachedField`` with uint8 pieces and the graph."""
    from docrec.training.seg_data import quantize
    from docrec.training.seg_global import CachedField

    g = seg.graph
    return CachedField(text, REAL_KIND, quantize(g.data), g.src.clone(), g.dst.clone(),
                       g.penalty.detach().float().clone(), g.num_nodes, targets=targets, name=name)


def _read_cache(path: Path) -> tuple[list, dict]:
    """``(fields, stats)`` written by :func:`_write_cache`."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    return [_from_blob(b) for b in blob["fields"]], json.loads(blob["stats"])


def _write_cache(path: Path, fields: list, stats: dict) -> None:
    """Save segmented fields and their stats atomically (a fresh temp name: several runs may write)."""
    blob = {"fields": [_to_blob(f) for f in fields], "stats": json.dumps(stats)}
    atomic_write(path, lambda tmp: torch.save(blob, tmp))


def _to_blob(f) -> dict:
    out = {"text": f.text, "kind": f.kind, "name": f.name, "pieces": torch.from_numpy(f.pieces), "src": f.src,
           "dst": f.dst, "penalty": f.penalty, "num_nodes": int(f.num_nodes)}
    if f.targets is not None:
        out["targets"] = torch.from_numpy(np.asarray(f.targets, np.int64))
    return out


def _from_blob(b: dict):
    from docrec.training.seg_global import CachedField

    targets = b.get("targets")
    return CachedField(b["text"], b["kind"], b["pieces"].numpy(), b["src"], b["dst"], b["penalty"], int(b["num_nodes"]),
                       targets=None if targets is None else targets.numpy(), name=b.get("name", ""))


def real_pieces(fields: Sequence, *, max_none_per_field: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict]:
    """The labelled pieces of segmented real fields with targets (:func:`segment_folder`).

    Every character's true piece (class ``CHARS.index(char)``) and up to ``max_none_per_field``
    'none' pieces per field (class 16, a seeded random choice); ambiguous arcs are left out.

    Returns:
        ``(x, y, stats)``: uint8 ``(N, 1, 32, 32)``, int64 ``(N,)``, counts.

    Raises:
        ValueError: a field without targets.
    """
    from docrec.training.seg_data import CHARS, NONE_ID

    rng = np.random.default_rng([seed, 23])
    xs, ys = [], []
    n_pos = n_none = 0
    for f in fields:
        if f.targets is None:
            raise ValueError(f"[docrec.seg_real.real_pieces] field {f.name or f.text!r} has no box targets")
        t = np.asarray(f.targets)
        pos = np.flatnonzero(t >= 0)
        neg = rng.permutation(np.flatnonzero(t == -1))[:max_none_per_field]
        labels = np.concatenate([[CHARS.index(f.text[int(c)]) for c in t[pos]],
                                 np.full(neg.size, NONE_ID)]).astype(np.int64)
        arcs = np.concatenate([pos, neg]).astype(np.int64)
        xs.append(f.pieces[arcs])
        ys.append(labels)
        n_pos += pos.size
        n_none += neg.size
    x = np.concatenate(xs) if xs else np.zeros((0, 1, 32, 32), np.uint8)
    y = np.concatenate(ys) if ys else np.zeros(0, np.int64)
    return x, y, {"fields": len(fields), "correct": int(n_pos), "none": int(n_none)}


def mix_pieces(real: tuple[np.ndarray, np.ndarray], synth: tuple[np.ndarray, np.ndarray] | None, *,
               synth_ratio: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict]:
    """Real pieces plus ``synth_ratio`` synthetic pieces per real piece (a seeded random subset of
    ``synth``; all of it, repeated as needed, when more are asked for than it holds).

    Args:
        real: ``(x, y)`` uint8 ``(N, 1, 32, 32)`` and int64 ``(N,)``.
        synth: the same for synthetic pieces, or None when ``synth_ratio == 0``.
        synth_ratio: synthetic pieces per real piece (>= 0).

    Returns:
        ``(x, y, counts)``.

    Raises:
        ValueError: a negative ratio, or a positive one without synthetic pieces.
    """
    if not synth_ratio >= 0:
        raise ValueError(f"[docrec.seg_real.mix_pieces] synth_ratio={synth_ratio} must be >= 0")
    rx, ry = real
    want = int(round(synth_ratio * len(ry)))
    if want == 0:
        return rx, ry, {"real": int(len(ry)), "synthetic": 0}
    if synth is None or len(synth[1]) == 0:
        raise ValueError(f"[docrec.seg_real.mix_pieces] synth_ratio={synth_ratio} but no synthetic pieces given")
    sx, sy = synth
    rng = np.random.default_rng([seed, 29])
    idx = np.concatenate([rng.permutation(len(sy)) for _ in range(-(-want // len(sy)))])[:want]
    return (np.concatenate([rx, sx[idx]]), np.concatenate([ry, sy[idx]]),
            {"real": int(len(ry)), "synthetic": int(want)})


def label_graph(text: str, *, marked: bool, dtype: torch.dtype = torch.float32):
    """The global training target of one field's label (a ``gtn.Graph`` acceptor).

    Args:
        text: the label.
        marked: the label is the digits only of a field that may show more (real amounts:
            separators and end marks are in the image, not in the label): accept the digits with
            optional separators between them and an optional end-mark tail
            (:func:`decoders.marked_label_graph`). False: exactly ``text`` (synthetic fields, whose
            text spells every character drawn).
        dtype: penalty dtype (that of the interpretation graphs).

    Raises:
        ValueError: ``marked`` and a label that is not digits only, or characters outside the alphabet.
    """

    if marked:
        return marked_label_graph(text, dtype=dtype)
    return Grammar.lexicon([text]).graph(dtype=dtype)


def digits_of(text: str) -> str:
    """The digits of a reading, in order (what a bank keys; real labels are digits only)."""
    return "".join(c for c in text if "0" <= c <= "9")


def digit_accuracy(recognizer, fields: Sequence, *, grammar=None, batch_fields: int = 64,
                   details: list | None = None) -> float:
    """Fraction of cached real fields whose reading, digits only, equals the label.

    Args:
        recognizer: a ``SegmentationRecognizer`` (its piece classifier is put in eval mode).
        fields: cached fields (:func:`segment_folder`).
        grammar: ``decoders.Grammar`` (default: :data:`REAL_GRAMMAR`).
        details: if a list, receives ``(name, label, reading)`` per field.

    Returns:
        accuracy in [0, 1] (a rejected reading counts as wrong).
    """
    from docrec.recognizers import resolve_grammar
    from docrec.training.seg_global import interpretation_graphs

    grammar = grammar if grammar is not None else resolve_grammar(REAL_GRAMMAR)
    recognizer.model.eval()
    ok = 0
    with torch.no_grad():
        for f, g in zip(fields, interpretation_graphs(recognizer, list(fields), batch_fields=batch_fields)):
            res = decode(g, grammar)[0]
            reading = "" if res.rejected else res.text
            ok += digits_of(reading) == digits_of(f.text)
            if details is not None:
                details.append((f.name, f.text, reading))
    return ok / max(len(fields), 1)


def evaluate_weights(path_or_model, fields: Sequence, *, grammar=None) -> float:
    """:func:`digit_accuracy` of a weights file, bundled name (``"seg-lenet5"``) or piece model."""
    from docrec.recognizers.seg import SegmentationRecognizer

    if isinstance(path_or_model, (str, os.PathLike)):
        rec = SegmentationRecognizer(weights=path_or_model)
    else:
        rec = SegmentationRecognizer(model=path_or_model)
    return digit_accuracy(rec, fields, grammar=grammar)


def subsample(items: Sequence, count: int | None, *, seed: int) -> list:
    """A seeded random subset of ``count`` items (all of them when ``count`` is None or larger)."""
    items = list(items)
    if count is None or count >= len(items):
        return items
    idx = np.random.default_rng([seed, 31]).choice(len(items), count, replace=False)
    return [items[int(i)] for i in sorted(idx)]


def ids_text(ids: tuple[int, int] | None) -> str:
    """``"154-799"`` or ``"all"`` (for records)."""
    return "all" if ids is None else f"{ids[0]}-{ids[1]}"


__all__ = ["REAL_GRAMMAR", "REAL_KIND", "parse_id_range", "read_folder", "segment_folder", "real_pieces",
           "mix_pieces", "label_graph", "digits_of", "digit_accuracy", "evaluate_weights", "subsample"]
