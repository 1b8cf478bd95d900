"""Checkpoints of the LeNet family: atomic save, ``weights_only`` load, clear errors.

A checkpoint is a plain dict (loadable with ``torch.load(..., weights_only=True)``)::

    {"format": "docrec-lenet", "version": 1, "arch": "lenet5", "config": {...},
     "state_dict": {...}, "meta": {...},            # always
     "optimizer": {...}, "epoch": 7, ...}             # training checkpoints only

:func:`save_checkpoint` writes to a temporary file in the target directory and ``os.replace``-s it,
so a crash never leaves a half-written checkpoint behind. :func:`load_checkpoint` and
:func:`load_model` raise ``ValueError``/``FileNotFoundError`` naming the file and the problem for
missing, corrupt, foreign or wrong-architecture files.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from data.atomic import atomic_write
from lenet.models import build_model, lenet5_with_classes, model_config

FORMAT = "docrec-lenet"
VERSION = 1


def save_checkpoint(path: str | os.PathLike, model: nn.Module, *, meta: dict | None = None,
                    **extra) -> Path:
    """Atomically write ``model`` (architecture, config, weights) plus ``meta`` and ``extra`` keys.

    Args:
        path: destination file (its directory is created).
        model: a model of :data:`lenet.models.ARCHITECTURES` (it has ``arch`` and ``config``).
        meta: JSON-like information (recipe, errors, timings).
        **extra: more JSON-like or tensor entries (``optimizer``, ``epoch``, ``history``, ...).

    Returns:
        The path written.
    """
    arch = getattr(model, "arch", None)
    if arch is None or not hasattr(model, "config"):
        raise ValueError(f"[lenet.save_checkpoint] {type(model).__name__} is not a lenet model")
    payload = {"format": FORMAT, "version": VERSION, "arch": arch, "config": model_config(model),
               "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
               "meta": dict(meta or {})}
    payload.update(extra)
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read and validate a checkpoint dict with ``torch.load(..., weights_only=True)``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a readable torch file, or not a docrec LeNet checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"[lenet.load_checkpoint] no checkpoint file at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load raises many types for bad bytes (IndexError, ...)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"[lenet.load_checkpoint] {path} is not a readable checkpoint "
                         f"(corrupt or truncated?): {first}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"[lenet.load_checkpoint] {path} is not a docrec LeNet checkpoint "
                         f"(no format={FORMAT!r} entry)")
    if payload.get("version") != VERSION:
        raise ValueError(f"[lenet.load_checkpoint] {path} has checkpoint version "
                         f"{payload.get('version')}, this code reads version {VERSION}")
    for key in ("arch", "config", "state_dict"):
        if key not in payload:
            raise ValueError(f"[lenet.load_checkpoint] {path} lacks the {key!r} entry")
    return payload


def model_from_checkpoint(payload: dict, *, source: str = "checkpoint", arch: str | None = None,
                          num_classes: int | None = None) -> nn.Module:
    """Build the model a checkpoint dict describes and load its weights (eval mode).

    Args:
        payload: from :func:`load_checkpoint`.
        source: name used in error messages.
        arch: if given, the architecture the caller expects (a mismatch is an error).
        num_classes: LeNet-5 only: rebuild with this many classes via
            :func:`lenet.models.lenet5_with_classes` (e.g. 17 from MNIST's 10).

    Raises:
        ValueError: wrong architecture, or weights that do not fit it.
    """
    if arch is not None and payload["arch"] != arch:
        raise ValueError(f"[lenet.load_model] {source} holds a {payload['arch']!r} network, "
                         f"expected {arch!r}")
    model = build_model(payload["arch"], payload["config"])
    try:
        model.load_state_dict(payload["state_dict"], strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise ValueError(f"[lenet.load_model] {source}: weights do not fit architecture "
                         f"{payload['arch']!r}: {' '.join(l.strip() for l in first[:3])}") from None
    if num_classes is not None and num_classes != getattr(model, "num_classes", num_classes):
        if payload["arch"] != "lenet5":
            raise ValueError(f"[lenet.load_model] {source}: changing the number of classes is only "
                             f"supported for lenet5, not {payload['arch']!r}")
        model = lenet5_with_classes(model, num_classes)
    return model.eval()


def load_model(path: str | os.PathLike, *, arch: str | None = None,
               num_classes: int | None = None) -> nn.Module:
    """Load a model saved by :func:`save_checkpoint` (see :func:`model_from_checkpoint`)."""
    payload = load_checkpoint(path)
    return model_from_checkpoint(payload, source=str(path), arch=arch, num_classes=num_classes)


__all__ = ["FORMAT", "VERSION", "load_checkpoint", "load_model", "model_from_checkpoint",
           "save_checkpoint"]
