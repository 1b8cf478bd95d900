"""Reading many fields: inputs streamed, batched, optionally spread over worker processes.

:func:`iter_images` walks files and folders lazily (a folder is read with ``os.scandir``, never
listed into memory at once; it yields in directory order, and every result carries its path).
:func:`read_fields` recognises them in batches of ``batch`` images:

- ``workers=1``: in this process.
- ``workers=N``: ``N`` processes, each with its own recogniser and one torch thread. Each decodes
  its own images, so decoding overlaps recognition. At most ``2 N`` batches are in flight (bounded
  memory), and the results come back in input order as soon as they are ready. On Linux the
  workers are forked from a parent that has built the recogniser once (:func:`start_method`):
  they start in milliseconds, sharing torch and the weights copy-on-write, instead of importing
  torch and loading the weights again in a fresh interpreter each (about 2 s, as long as reading
  1,000 fields with the SDNN). Elsewhere they are spawned.

A file that cannot be read, or an image the recogniser refuses, gives a result with an ``error``
and the run goes on. A whole-batch failure is retried image by image, so one bad input never costs
the others. :func:`done_paths` reads the paths already present in an output file (JSON lines or the
tab-separated text of ``docrec recognize``) for resuming.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import torch

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm", ".pbm", ".ppm", ".webp"})


#: A folder with at most this many entries is read in sorted order; a larger one is streamed in
#: directory order (never listed into memory at once; every result carries its path).
SORTED_UP_TO = 50_000


def iter_images(inputs: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """Files as given; folders replaced by their image files (not recursive): sorted by name up to
    :data:`SORTED_UP_TO` entries, streamed beyond."""
    for item in inputs:
        path = Path(item)
        if not path.is_dir():
            yield path
            continue
        head: list[str] = []
        with os.scandir(path) as entries:
            for entry in entries:
                if not (entry.is_file() and Path(entry.name).suffix.lower() in IMAGE_SUFFIXES):
                    continue
                if head is not None:
                    head.append(entry.name)
                    if len(head) > SORTED_UP_TO:  # too many to sort: stream from here on
                        yield from (path / name for name in head)
                        head = None
                else:
                    yield path / entry.name
        if head is not None:
            yield from (path / name for name in sorted(head))


@dataclass(frozen=True)
class ReaderSpec:
    """What a worker needs to build its own recogniser: the system, its keyword arguments, the grammar spec."""

    system: str
    grammar: str | None
    kwargs: tuple = ()


@dataclass
class FieldResult:
    """One input's outcome: ``result`` is a ``Recognition.to_json()`` dict, or ``error`` says why not."""

    path: Path
    result: dict | None = None
    error: str | None = None


class _Reader:
    """A recogniser and grammar built once per process."""

    def __init__(self, spec: ReaderSpec) -> None:
        from docrec.recognizers import get_recognizer, resolve_grammar

        self.recognizer = get_recognizer(spec.system, **dict(spec.kwargs))
        self.grammar = resolve_grammar(spec.grammar)
        self.max_pixels = dict(spec.kwargs).get("max_pixels")

    def read(self, paths: list[Path]) -> list[FieldResult]:
        from docrec.recognizers import load_field_image

        out = [FieldResult(p) for p in paths]
        good = []
        for r in out:
            try:
                kw = {} if self.max_pixels is None else {"max_pixels": self.max_pixels}
                good.append((r, load_field_image(r.path, **kw)))
            except (OSError, ValueError) as exc:
                r.error = str(exc)
        try:
            recs = self.recognizer.recognize([img for _, img in good], grammar=self.grammar)
        except (ValueError, RuntimeError):  # a whole-batch failure: one by one, so good inputs survive
            recs = []
            for _, img in good:
                try:
                    recs.append(self.recognizer.recognize([img], grammar=self.grammar)[0])
                except (ValueError, RuntimeError) as exc:
                    recs.append(exc)
        for (r, _), rec in zip(good, recs):
            if isinstance(rec, Exception):
                r.error = str(rec)
            else:
                r.result = rec.to_json()
        return out


_WORKER: dict = {}  # the reader of a worker process (set by _init_worker; one per process)


def _init_worker(spec: ReaderSpec, reader: _Reader | None) -> None:
    torch.set_num_threads(1)  # before any torch op of this process
    _WORKER["reader"] = reader if reader is not None else _Reader(spec)


def start_method() -> str:
    """How worker processes start: ``"fork"`` on Linux, ``"spawn"`` elsewhere (macOS and Windows
    frameworks are not fork-safe).

    A forked worker inherits the parent's torch, so it must not use a thread pool the parent
    started: each worker sets one torch thread first (with one thread, torch never enters an
    OpenMP parallel region), and the recogniser is built in the parent without running a network.
    """
    return "fork" if sys.platform.startswith("linux") and "fork" in mp.get_all_start_methods() else "spawn"


def _work(paths: list[Path]) -> list[FieldResult]:
    return _WORKER["reader"].read(paths)


def _batches(paths: Iterable[Path], size: int) -> Iterator[list[Path]]:
    chunk: list[Path] = []
    for p in paths:
        chunk.append(p)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def read_fields(paths: Iterable[Path], spec: ReaderSpec, *, batch: int = 32, workers: int = 1) -> Iterator[FieldResult]:
    """Recognise ``paths`` (streamed) in batches; results in input order (module docstring).

    Raises:
        ValueError: ``batch`` or ``workers`` below 1.
    """
    if batch < 1 or workers < 1:
        raise ValueError(f"[docrec.read_fields] batch and workers must be >= 1, got {batch} and {workers}")
    if workers == 1:
        reader = _Reader(spec)
        for chunk in _batches(paths, batch):
            yield from reader.read(chunk)
        return
    method = start_method()
    ctx = mp.get_context(method)
    reader = _Reader(spec) if method == "fork" else None  # built once, inherited by every worker
    with ctx.Pool(workers, initializer=_init_worker, initargs=(spec, reader)) as pool:
        pending: deque = deque()
        for chunk in _batches(paths, batch):
            pending.append(pool.apply_async(_work, (chunk,)))
            while len(pending) >= 2 * workers:
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()


def done_paths(output: str | os.PathLike) -> set[str]:
    """Paths already in an output file of ``docrec recognize`` (JSON lines or tab-separated text);
    an unreadable last line (a run killed mid-write) is ignored."""
    out: set[str] = set()
    path = Path(output)
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            try:
                out.add(str(json.loads(line)["path"]))
            except (ValueError, KeyError, TypeError):
                continue
        else:
            out.add(line.split("\t", 1)[0])
    return out


__all__ = ["FieldResult", "IMAGE_SUFFIXES", "ReaderSpec", "SORTED_UP_TO", "done_paths", "iter_images", "read_fields", "start_method"]
