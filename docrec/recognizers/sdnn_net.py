"""Building, saving and loading the SDNN of the SDNN recogniser (docs/paper.md Sec. VII).

The network is a 17-class character classifier (digits, ``, . - $ * /``, none) replicated over the
width of a 32-row strip, sharing its weights: ``(B, 1, 32, W) -> (B, T, 17)`` penalties,
``T = (W - 32) // 4 + 1``; frame ``t`` is the classifier applied to columns ``[4 t, 4 t + 32)``.
Three networks (the two piece classifiers of :data:`docrec.recognizers.seg_model.PIECE_ARCHS` and one whole-strip net):

- ``lenet5``, the paper's: ``lenet.SDNN`` slides C1..C5 over the width (shared computation) and
  applies F6 and the RBF per column;
- ``modern`` (``lenet.ModernLeNet``, not in the paper): its padded convolutions would let a frame
  see beyond its window if slid over the whole width, so ``lenet.WindowedSDNN`` classifies the
  windows one by one (same function as the definition above, more arithmetic);
- ``strip`` (``lenet.StripNet``, not in the paper): the same frame interface, but every frame sees
  the whole strip (convolutional trunk + bidirectional LSTM); it needs each strip's width, so call
  any of them through :func:`frame_penalties`. Trained on whole fields only
  (:mod:`docrec.training.strip_train`).

Weights file format (``torch.load(..., weights_only=True)``): a dict with ``model`` (the classifier's
``state_dict``, 17 classes), ``charmodel`` (the character model's four penalties and options) and
``meta`` (plain strings and numbers; ``meta["arch"]`` / ``meta["arch_config"]`` name the
classifier, absent = LeNet-5, as in every file written before the modern one).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

import lenet
from data.atomic import atomic_write
from data.constants import NUM_CLASSES
from lenet.inference import FoldedStrip
from lenet.models import LeNet5, lenet5_with_classes
from lenet.strip import StripNet, strip_config

#: Networks an SDNN weights file may hold: the piece classifiers, windowed, and the whole-strip net.
SDNN_ARCHS = ("lenet5", "modern", "strip")


def new_strip_net(config: dict | None = None) -> nn.Module:
    """A fresh 17-class ``lenet.StripNet`` of a recorded config (ValueError for a bad one)."""

    try:
        return StripNet(**{**(config or {}), "num_classes": NUM_CLASSES})
    except TypeError as exc:
        raise ValueError(f"bad StripNet config {config!r}: {exc}") from None


def build_sdnn(lenet5: nn.Module) -> nn.Module:
    """The SDNN sharing the classifier's weights: ``lenet.SDNN`` (LeNet-5 replicated convolutionally)
    for a LeNet-5; a ``lenet.StripNet`` is its own whole-strip network; any other 32x32 classifier is
    slid as ``lenet.WindowedSDNN``. Call the result through :func:`frame_penalties`."""

    if isinstance(lenet5, StripNet):
        return lenet5
    if not isinstance(lenet5, LeNet5):
        return lenet.WindowedSDNN(lenet5)
    return lenet.SDNN(lenet5)


def frame_penalties(sdnn: nn.Module, x: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
    """``(B, 1, 32, W)`` padded strips of widths ``(B,)`` -> ``(B, T, 17)`` penalties of any network
    :func:`build_sdnn` returns (the windowed ones ignore the widths: padding never reaches their
    valid frames; a ``StripNet``, or its ``lenet.inference.FoldedStrip``, reads each strip to its own
    width)."""

    return sdnn(x, widths) if isinstance(sdnn, (StripNet, FoldedStrip)) else sdnn(x)


def _arch_meta(net: nn.Module) -> dict:
    from docrec.recognizers.seg_model import arch_meta

    if isinstance(net, StripNet):
        return {"arch": "strip", "arch_config": strip_config(net)}
    return arch_meta(net)


def new_lenet5(init: str | os.PathLike | None = None) -> nn.Module:
    """A 17-class LeNet-5, from a LeNet-5 checkpoint (10 or 17 classes) when ``init`` is given."""

    if init is None:
        return LeNet5(NUM_CLASSES)
    state = torch.load(init, map_location="cpu", weights_only=True)
    for key in ("model", "state_dict", "model_state"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
            break
    return lenet5_with_classes(state, NUM_CLASSES)


def save_weights(path: str | os.PathLike, lenet5: nn.Module, charmodel: dict, meta: dict) -> None:
    """Write the recogniser's weights atomically (temp file + ``os.replace``); the classifier's
    architecture is recorded in ``meta`` (module docstring)."""
    blob = {"model": {k: v.detach().cpu().clone() for k, v in lenet5.state_dict().items()},
            "charmodel": dict(charmodel), "meta": {**dict(meta), **_arch_meta(lenet5)}}
    atomic_write(path, lambda tmp: torch.save(blob, tmp))


def load_weights(path: str | os.PathLike) -> tuple[nn.Module, dict, dict]:
    """``(classifier, charmodel options, meta)`` from :func:`save_weights`'s file.

    Raises:
        FileNotFoundError: no such file. ValueError: not an SDNN weights file, an unknown
        architecture, or a state that does not fit it.
    """
    from docrec.recognizers.seg_model import arch_from_blob, empty_model

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"[docrec.sdnn] no SDNN weights at {path} (train them: docrec train sdnn)")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or foreign files
        raise ValueError(f"[docrec.sdnn] cannot read {path} (corrupt or not a weights file?): {exc}") from None
    if not isinstance(blob, dict) or "model" not in blob:
        raise ValueError(f"[docrec.sdnn] {path} is not an SDNN weights file (no 'model' entry)")
    arch, config = arch_from_blob(blob)
    if arch not in SDNN_ARCHS:
        raise ValueError(f"[docrec.sdnn] {path}: unknown classifier {arch!r} (expected one of {SDNN_ARCHS})")
    try:
        net = new_strip_net(config) if arch == "strip" else empty_model(arch, config)
        net.load_state_dict(blob["model"])
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(f"[docrec.sdnn] {path} does not hold a 17-class {arch}: {exc}") from None
    return net, dict(blob.get("charmodel", {})), dict(blob.get("meta", {}))


__all__ = ["NUM_CLASSES", "SDNN_ARCHS", "build_sdnn", "frame_penalties", "load_weights", "new_lenet5",
           "new_strip_net", "save_weights"]
