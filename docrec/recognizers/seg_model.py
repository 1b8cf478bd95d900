"""The piece classifier of the segmentation recogniser: which network, built and loaded how.

Two architectures read the ``(P, 1, 32, 32)`` pieces and give ``(P, 17)`` penalties (16 characters
+ 'none'):

- ``lenet5``: the paper's LeNet-5 with Euclidean RBF outputs (docs/paper.md Sec. II-B), the default;
- ``modern``: ``lenet.ModernLeNet`` (ReLU, max-pooling, batch norm; ``-log softmax`` penalties),
  not in the paper, offered because it misreads fewer digit pieces.

Weights files (``torch.load(..., weights_only=True)``) hold a state dict, or
``{"model": state dict, "meta": {...}}``; ``meta["arch"]`` names the architecture (absent: the
file is a LeNet-5, as every file before this module was), ``meta["arch_config"]`` its config dict,
``meta["temperature"]`` the calibrated confidence temperature. Stage checkpoints of
``docrec train seg`` carry the same ``arch`` / ``arch_config`` keys at their top level.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from data.constants import NUM_CLASSES
from lenet.models import LeNet5, ModernLeNet, build_model, model_config

#: Piece-classifier architectures the recogniser accepts.
PIECE_ARCHS = ("lenet5", "modern")


def arch_of(model: nn.Module) -> str:
    """``"lenet5"`` or ``"modern"`` for a piece classifier (ValueError for anything else)."""

    if isinstance(model, LeNet5):
        return "lenet5"
    if isinstance(model, ModernLeNet):
        return "modern"
    raise ValueError(f"[docrec.seg_model] {type(model).__name__} is not a piece classifier "
                     f"(expected one of {PIECE_ARCHS})")


def arch_meta(model: nn.Module) -> dict:
    """``{"arch": ..., "arch_config": {...}}`` of a piece classifier (for weights and checkpoints)."""

    arch = arch_of(model)
    return {"arch": arch, "arch_config": model_config(model) if arch == "modern" else {}}


def _state_of(blob) -> dict:
    for key in ("model", "state_dict", "model_state"):
        if isinstance(blob, dict) and key in blob and isinstance(blob[key], dict):
            return blob[key]
    if not isinstance(blob, dict):
        raise ValueError(f"expected a state dict, found a {type(blob).__name__}")
    return blob


def arch_from_blob(blob) -> tuple[str, dict]:
    """Architecture name and config recorded in a weights file or checkpoint blob."""
    if not isinstance(blob, dict):
        return "lenet5", {}
    meta = blob.get("meta") if isinstance(blob.get("meta"), dict) else {}
    arch = blob.get("arch", meta.get("arch", "lenet5"))
    config = blob.get("arch_config") or meta.get("arch_config")
    if config is None and "state_dict" in blob and isinstance(blob.get("config"), dict):
        config = blob["config"]  # an MNIST checkpoint of lenet.checkpoint: "config" is the network's
    return str(arch), dict(config or {})


def recorded_arch(path: str | os.PathLike) -> str:
    """The piece-classifier architecture a weights file or checkpoint records (``"lenet5"`` when it
    records none, as every file written before this module)."""
    return arch_from_blob(torch.load(path, map_location="cpu", weights_only=True))[0]


def empty_model(arch: str, config: dict | None = None) -> nn.Module:
    """A freshly initialised 17-class network of a recorded ``arch`` / ``arch_config`` (to load a
    state into). Raises ValueError for an unknown architecture or a bad config."""

    if arch not in PIECE_ARCHS:
        raise ValueError(f"unknown classifier {arch!r} (expected one of {PIECE_ARCHS})")
    if arch == "lenet5":
        return LeNet5(NUM_CLASSES)
    return build_model(arch, {**(config or {}), "num_classes": NUM_CLASSES})


def modern_with_classes(state: dict, config: dict | None = None, num_classes: int = NUM_CLASSES) -> nn.Module:
    """A ``ModernLeNet`` with ``num_classes`` outputs from a state with 10..``num_classes`` outputs.

    The body is copied; the first rows of the linear head are the source's, the new classes keep
    PyTorch's default initialisation (the MNIST digits read exactly as before until training).
    """

    cfg = {k: v for k, v in (config or {}).items() if k != "num_classes"}
    model = build_model("modern", {**cfg, "num_classes": num_classes})
    own = model.state_dict()
    for key, value in state.items():
        if key not in own:
            raise ValueError(f"[docrec.seg_model] unexpected key {key!r} for ModernLeNet")
        if key.startswith("head.") and value.shape[0] <= num_classes and value.shape[1:] == own[key].shape[1:]:
            own[key][: value.shape[0]] = value
        elif value.shape != own[key].shape:
            raise ValueError(f"[docrec.seg_model] {key}: shape {tuple(value.shape)}, ModernLeNet with "
                             f"this config has {tuple(own[key].shape)}")
        else:
            own[key] = value
    model.load_state_dict(own)
    return model


def new_piece_model(arch: str = "lenet5", init: str | os.PathLike | None = None, *, seed: int = 0) -> nn.Module:
    """A 17-class piece classifier of ``arch``, from a checkpoint of that architecture (10 or 17
    classes; MNIST weights or a stage checkpoint) when ``init`` is given, else freshly initialised.
    ``seed`` seeds torch's generator first, so the fresh weights (all of them, or the output rows of
    the classes a 10-class checkpoint lacks) are reproducible.

    Raises:
        ValueError: unknown ``arch``, or ``init`` holds another architecture or an unreadable file.
    """
    from docrec.recognizers.sdnn_net import new_lenet5

    if arch not in PIECE_ARCHS:
        raise ValueError(f"[docrec.seg_model] unknown piece classifier {arch!r}; expected one of {PIECE_ARCHS}")
    torch.manual_seed(seed)
    if init is not None:
        if not Path(init).is_file():
            raise ValueError(f"[docrec.seg_model] no checkpoint at {init}")
        blob = torch.load(init, map_location="cpu", weights_only=True)
        found, config = arch_from_blob(blob)
        if found != arch:
            raise ValueError(f"[docrec.seg_model] {init} holds a {found} network, not {arch}")
        if arch == "modern":
            return modern_with_classes(_state_of(blob), config)
        return new_lenet5(init)
    if arch == "modern":

        return ModernLeNet(NUM_CLASSES)
    return new_lenet5(None)


def load_piece_model(path: str | os.PathLike) -> tuple[nn.Module, dict]:
    """Load a 17-class piece classifier and its metadata (``weights_only``); eval mode.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is unreadable, names an unknown architecture, or its state does not fit
            a 17-class network of that architecture.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"[docrec.SegmentationRecognizer] no weights at {path}; "
                                f"train them with `docrec train seg`")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or foreign files
        raise ValueError(f"[docrec.SegmentationRecognizer] cannot read {path} (corrupt or not a "
                         f"weights file?): {exc}") from None
    meta = dict(blob.get("meta") or {}) if isinstance(blob, dict) and "model" in blob else {}
    arch, config = arch_from_blob(blob)
    if arch not in PIECE_ARCHS:
        raise ValueError(f"[docrec.SegmentationRecognizer] {path}: unknown piece classifier {arch!r} "
                         f"(expected one of {PIECE_ARCHS})")
    try:
        model = empty_model(arch, config)
        model.load_state_dict(_state_of(blob))
    except (RuntimeError, TypeError, AttributeError, ValueError) as exc:
        raise ValueError(f"[docrec.SegmentationRecognizer] {path} is not a 17-class {arch} state dict: {exc}"
                         ) from None
    meta.setdefault("arch", arch)
    return model.eval(), meta


def freeze_batch_norm(model: nn.Module) -> nn.Module:
    """Put every batch-norm layer of ``model`` in eval mode (running statistics fixed).

    Global training feeds the pieces of a few fields per step, mostly 'none' pieces: batch
    statistics of such batches are not those the network is used with, so they stay frozen.
    """
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
    return model


__all__ = ["NUM_CLASSES", "PIECE_ARCHS", "arch_from_blob", "arch_meta", "arch_of", "empty_model", "freeze_batch_norm", "load_piece_model",
           "modern_with_classes", "new_piece_model", "recorded_arch"]
