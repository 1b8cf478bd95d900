"""Bundled trained weights (``<name>.pt``) and their JSON cards (``<name>.json``).

Every ``.pt`` here is a model-only LeNet-family checkpoint (see :mod:`lenet.checkpoint`), loaded
with ``torch.load(..., weights_only=True)``; the card beside it says how it was trained (data,
recipe, command), its measured MNIST test error and its training time.

>>> from docrec.weights import load_model
>>> model = load_model("lenet5")                   # bundled name ...
>>> model = load_model("runs/lenet5.pt")           # ... or any checkpoint path
>>> model17 = load_model("lenet5", num_classes=17)  # digits + , . - $ * / + none
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from torch import nn

from lenet.checkpoint import load_checkpoint, load_model as _load_checkpoint_model, save_checkpoint

WEIGHTS_DIR = Path(__file__).resolve().parent


def available() -> list[str]:
    """Names of the bundled LeNet-family weights (a ``.pt`` whose card names a lenet architecture).

    Other systems' weights in this directory (e.g. the SDNN recogniser's) are not listed.
    """
    from lenet.models import ARCHITECTURES

    names = []
    for pt in sorted(WEIGHTS_DIR.glob("*.pt")):
        card = pt.with_suffix(".json")
        try:
            arch = json.loads(card.read_text()).get("arch") if card.is_file() else None
        except (OSError, ValueError):
            arch = None
        if arch in ARCHITECTURES:
            names.append(pt.stem)
    return names


def resolve(name_or_path: str | os.PathLike) -> Path:
    """The checkpoint file for a bundled name or a path.

    Raises:
        FileNotFoundError: neither a bundled name nor an existing file (lists the bundled names).
    """
    text = str(name_or_path)
    bundled = WEIGHTS_DIR / f"{text}.pt"
    if os.sep not in text and "/" not in text and not text.endswith(".pt") and bundled.is_file():
        return bundled
    path = Path(text).expanduser()
    if path.is_file():
        return path
    raise FileNotFoundError(
        f"[docrec.load_model] {text!r} is neither a bundled LeNet model "
        f"({', '.join(available()) or 'none'}) "
        f"nor an existing checkpoint file"
    )


def load_model(name_or_path: str | os.PathLike, *, arch: str | None = None,
               num_classes: int | None = None) -> nn.Module:
    """Load a bundled model by name or any LeNet-family checkpoint by path (eval mode).

    Args:
        name_or_path: e.g. ``"lenet5"``, ``"lenet5-distorted"``, ``"modern"`` or a ``.pt`` path.
        arch: expected architecture (a mismatch raises ``ValueError``).
        num_classes: LeNet-5 only: e.g. 17 for the shared character set; the trainable weights
            are reused, only the fixed RBF centres change (:func:`lenet.lenet5_with_classes`).

    Raises:
        FileNotFoundError: unknown name or missing file.
        ValueError: corrupt file, not a LeNet checkpoint, or wrong architecture.
    """
    return _load_checkpoint_model(resolve(name_or_path), arch=arch, num_classes=num_classes)


def load_card(name_or_path: str | os.PathLike) -> dict:
    """The JSON card beside a checkpoint (``{}`` when there is none)."""
    card = resolve(name_or_path).with_suffix(".json")
    return json.loads(card.read_text()) if card.is_file() else {}


def export_weights(checkpoint: str | os.PathLike, out: str | os.PathLike, card: dict) -> Path:
    """Write a model-only copy of a training checkpoint to ``out`` (.pt) and its card (.json).

    The optimizer state and history are dropped (a LeNet-5 becomes about 250 KB); the card is
    written as given (architecture, data, recipe, command, measured test error, training time).
    """
    payload = load_checkpoint(checkpoint)
    model = _load_checkpoint_model(checkpoint)
    out = Path(out)
    save_checkpoint(out, model, meta={k: v for k, v in payload.get("meta", {}).items()})
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(card, indent=2) + "\n")
    tmp.replace(out.with_suffix(".json"))
    return out


__all__ = ["WEIGHTS_DIR", "available", "export_weights", "load_card", "load_model", "resolve"]
