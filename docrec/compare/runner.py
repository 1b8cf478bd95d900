"""Read every field set with every system, caching each reading by field hash so a run resumes.

The cache is one JSON-lines file per (system, weights file contents, grammar, score, source code of
the reading path; for the combined reader both files, the SDNN one named by the seg weights' settings when
not given) under ``OUT/cache/``: one line per field, ``{"field": hash, "text", "confidence", "rejected", "boxes",
"penalty", "seconds"}``, appended after every batch. A second run with the same systems and sets
finds every field there and builds no recogniser at all. ``seconds`` is the field's share of its
batch's wall time, so speeds stay comparable after a resume. The source code of every package a
reading goes through is part of the key, so readings made by other code (another segmenter
setting, a changed decoder) are never reused.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import sys
import time
from pathlib import Path
from typing import Callable

from docrec.compare.fieldsets import LoadedSet
from docrec.compare.specs import SetSpec, SystemSpec, combo_sdnn_weights, weights_file, weights_files
from docrec.fingerprint import source_digest


def _file_digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()[:12]


@functools.lru_cache(maxsize=1)
def reading_code() -> str:
    """Digest of the sources a reading goes through: gtn, lenet, segmenter, decoders, data and the
    recognisers."""
    import data
    import decoders
    import docrec.recognizers
    import gtn
    import lenet
    import segmenter

    return source_digest(gtn, lenet, segmenter, decoders, data, docrec.recognizers)


def cache_path(cache_dir: Path, spec: SystemSpec, fields: SetSpec, *, score: str = "text") -> Path:
    """The cache file of ``spec`` reading the set ``fields`` with ``score`` (keyed by the weights'
    bytes, the grammar, the score and the reading code's source)."""
    weights = spec.weights_for_set(fields)
    files = weights_files(weights)
    if spec.system == "combo" and len(files) == 1:  # the SDNN named by the seg weights' settings
        files.append(weights_file(combo_sdnn_weights(files[0])))
    digests = [_file_digest(f) for f in files]
    key = json.dumps([spec.system, digests[0] if len(digests) == 1 else digests, fields.grammar, reading_code()]
                     + ([score] if score != "text" else []))
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{spec.system}-{Path(weights).stem}")[:60]
    return cache_dir / f"{slug}-{hashlib.sha1(key.encode()).hexdigest()[:10]}.jsonl"


def read_cache(path: Path) -> dict[str, dict]:
    """field hash -> record; a torn last line (an interrupted write) is ignored."""
    out: dict[str, dict] = {}
    if not path.is_file():
        return out
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and "field" in rec:
            out[rec["field"]] = rec
    return out


class Recognizers:
    """Recognisers built on first use, one per (system, weights, score): a run whose readings are
    all cached builds none. A set scored on its digits is read with ``score="digits"`` (confidences
    of digit strings). ``built`` counts the builds (tests check a resumed run does no work).
    ``device``: where their networks run (None: the CPU)."""

    def __init__(self, factory: Callable | None = None, *, device: str | None = None):
        self._factory = factory
        self._device = device
        self._made: dict[tuple[str, str, str], object] = {}
        self.built = 0

    def get(self, spec: SystemSpec, fields: SetSpec, *, score: str = "text"):
        """The recogniser of ``spec`` for the set ``fields`` (built on first use), reading with
        ``score`` (``text`` or ``digits``: what its confidences are posteriors of)."""
        weights = spec.weights_for_set(fields)
        key = (spec.system, weights, score)
        if key not in self._made:
            if self._factory is not None:
                self._made[key] = self._factory(spec.system, weights)
            else:
                from docrec.recognizers import get_recognizer

                files = "+".join(str(f) for f in weights_files(weights))
                self._made[key] = get_recognizer(spec.system, weights=files, score=score,
                                                 **({} if self._device is None else {"device": self._device}))
            self.built += 1
        return self._made[key]


def _record(field_hash: str, res, seconds: float) -> dict:
    penalty = res.penalty if res.penalty == res.penalty and abs(res.penalty) != float("inf") else None
    return {"field": field_hash, "text": res.text, "confidence": float(res.confidence),
            "rejected": bool(res.rejected), "boxes": [list(map(int, b)) for b in res.boxes],
            "penalty": penalty, "seconds": seconds, **({"reason": res.reason} if res.reason else {})}


def _recognize(rec, images: list, grammar) -> list:
    """``rec.recognize`` on a batch; if the batch fails, field by field, a field that fails on its
    own becoming a rejected reading without text (scored wrong) whose reason names the error."""
    from docrec.recognizers import Recognition

    try:
        return rec.recognize(images, grammar=grammar)
    except (ValueError, RuntimeError):
        out = []
        for image in images:
            try:
                out.append(rec.recognize([image], grammar=grammar)[0])
            except (ValueError, RuntimeError) as exc:
                out.append(Recognition.reject(f"error: {exc}"))
        return out


def read_set(spec: SystemSpec, fset: LoadedSet, *, cache_dir: Path, recognizers: Recognizers,
             batch: int = 16, progress: bool = True) -> list[dict]:
    """The cached or fresh reading of every field of ``fset`` by ``spec``, in field order.

    Returns:
        ``N`` records (see the module docstring).
    """
    from docrec.recognizers import resolve_grammar

    path = cache_path(cache_dir, spec, fset.spec, score=fset.score)
    cached = read_cache(path)
    todo = [i for i, h in enumerate(fset.hashes) if h not in cached]
    if todo:
        from tqdm import tqdm

        rec = recognizers.get(spec, fset.spec, score=fset.score)
        grammar = resolve_grammar(fset.spec.grammar)
        path.parent.mkdir(parents=True, exist_ok=True)
        bar = tqdm(total=len(fset.hashes), initial=len(fset.hashes) - len(todo), disable=not progress,
                   desc=f"{spec.label} on {fset.name}", unit="field", file=sys.stderr, leave=False)
        torn = path.is_file() and path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")
        with path.open("a") as out:
            if torn:  # an interrupted write left half a line: end it, read_cache skips it
                out.write("\n")
            for k in range(0, len(todo), max(1, batch)):
                chunk = [i for i in todo[k: k + max(1, batch)] if fset.hashes[i] not in cached]
                if not chunk:
                    continue
                t0 = time.perf_counter()
                results = _recognize(rec, [fset.images[i] for i in chunk], grammar)
                share = (time.perf_counter() - t0) / len(chunk)
                for i, res in zip(chunk, results):
                    cached[fset.hashes[i]] = _record(fset.hashes[i], res, share)
                    out.write(json.dumps(cached[fset.hashes[i]]) + "\n")
                out.flush()
                bar.update(len(chunk))
        bar.close()
    return [cached[h] for h in fset.hashes]


def read_all(systems: list[SystemSpec], sets: list[LoadedSet], *, cache_dir: Path, recognizers: Recognizers,
             batch: int = 16, progress: bool = True) -> dict[str, dict[str, list[dict]]]:
    """``{set name: {system label: records}}`` for every pair, set by set."""
    return {fset.name: {spec.label: read_set(spec, fset, cache_dir=cache_dir, recognizers=recognizers,
                                             batch=batch, progress=progress) for spec in systems}
            for fset in sets}


__all__ = ["Recognizers", "cache_path", "read_all", "read_cache", "read_set"]
