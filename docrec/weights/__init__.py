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

from data.atomic import write_json_atomic
from lenet.checkpoint import load_checkpoint, save_checkpoint
from lenet.checkpoint import load_model as _load_checkpoint_model
from lenet.models import ARCHITECTURES

WEIGHTS_DIR = Path(__file__).resolve().parent


def available() -> list[str]:
    """Names of the bundled LeNet-family weights (a ``.pt`` whose card names a lenet architecture).

    Other systems' weights in this directory (e.g. the SDNN recogniser's) are not listed.
    """

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
    write_json_atomic(out.with_suffix(".json"), card)
    return out


ARCH_DESCRIPTIONS = {
    "lenet5": "LeNet-5 exactly as in the paper (Sec. II-B): C1-S2-C3(Table I)-S4-C5-F6-Euclidean RBF with "
              "fixed 7x12 codes, scaled tanh, trainable subsampling, 60,000 trainable parameters",
    "lenet1": "LeNet-1 (Sec. III-C.6): input downsampled to a 16x16 box in 28x28, C1 4@24x24, S2, C3 12@8x8 "
              "(20 kernels), S4, 10 squashed outputs with 1-of-N RBF codes; 2,578 parameters",
    "lenet4": "LeNet-4 (Sec. III-C.7): C1 4@28x28, S2 8@14x14 (pairs), C3 16@10x10 (2 maps each), S4, "
              "120 units (5x5, 5 maps each), 10 squashed outputs with 1-of-N RBF codes; 17,298 parameters",
    "boosted-lenet4": "three LeNet-4 (17,298 parameters each), penalties added; members trained by the "
                      "paper's filtering scheme (Sec. III-C.9)",
    "modern": "modern CNN of LeNet's size class: conv5x5 32-BN-ReLU-maxpool-conv3x3 64-BN-ReLU-maxpool-"
              "conv3x3 64-BN-ReLU-dropout 0.25-linear, softmax; 72,426 parameters",
}


def build_card(run_json: str | os.PathLike, name: str, *, test_error: float, notes: str = "") -> dict:
    """A weight card from the ``PATH.json`` that ``docrec train lenet`` writes beside a checkpoint.

    ``test_error`` is measured on the bundled file (``docrec eval mnist``), never chosen by it.
    """
    run = json.loads(Path(run_json).read_text())
    meta, hist = run["meta"], run["history"]
    cfg = meta["train_config"]
    train_s = sum(r.get("train_seconds", 0) + r.get("hessian_seconds", 0) for r in hist)
    rates = sorted(r["samples_per_second"] for r in hist if "samples_per_second" in r)
    recipe = (f"{cfg['optimizer']}, batch {cfg['batch_size']}, loss {cfg['loss']}, {cfg['epochs']} passes"
              + (", random affine distortions on the fly (p=%.1f)" % cfg["distortion"]["probability"]
                 if cfg["distort"] else "")
              + (" + elastic" if cfg["distortion"].get("elastic") else "")
              + ("; SDLM: paper's eta schedule, mu=%g, Hessian on %d patterns before each pass, "
                 "minibatch step min(B*eta, %g)/(mu+h), pass 1 at eta with a %d-pattern warm-up at eta/10"
                 % (cfg["mu"], cfg["hessian_samples"], cfg["sdlm_step_cap"], cfg["sdlm_warmup"])
                 if cfg["optimizer"] == "sdlm" else
                 "; base lr %s, cosine decay, weight decay %g" % (cfg["lr"], cfg["weight_decay"])))
    return {
        "name": name, "format": "docrec-lenet", "arch": meta["arch"],
        "architecture": ARCH_DESCRIPTIONS.get(meta["arch"], meta["arch"]),
        "data": f"MNIST: trained on {meta['data']['train']} training digits"
                + (f", validation {meta['data']['val']}" if meta["data"]["val"] else
                   " (all of them; no validation split, the last epoch is kept, no model selection)")
                + "; the 10,000 test digits are used only to measure",
        "recipe": recipe, "command": meta["command"], "epochs": len(hist),
        "test_error": test_error, "final_train_error": hist[-1].get("train_error"),
        "train_wall_seconds": round(train_s, 1),
        "train_samples_per_second": round(rates[len(rates) // 2], 1) if rates else None,
        "per_epoch_test_error_recorded_not_used": [r.get("test_error") for r in hist],
        "notes": notes,
    }


__all__ = ["ARCH_DESCRIPTIONS", "build_card", "WEIGHTS_DIR", "available", "export_weights", "load_card", "load_model", "resolve"]
