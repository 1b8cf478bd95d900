"""Building, saving and loading the SDNN of the SDNN recogniser (PAPER.md Sec. VII).

The network is LeNet-5 with the 17-class output (digits, ``, . - $ * /``, none) replicated over the
width of a 32-row strip, sharing LeNet-5's weights: ``(B, 1, 32, W) -> (B, T, 17)`` penalties,
``T = (W - 32) // 4 + 1``; frame ``t`` is LeNet-5 applied to columns ``[4 t, 4 t + 32)``.
``lenet.SDNN`` is used when the lenet package provides it; otherwise :class:`ColumnSDNN` below does
the same thing from LeNet-5's own layers (C1..C5 slide over the width, F6 and the RBF are applied
per column).

Weights file format (``torch.load(..., weights_only=True)``): a dict with ``model`` (the LeNet-5
``state_dict``, 17 classes), ``charmodel`` (the character model's four penalties and options) and
``meta`` (plain strings and numbers).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
from torch import nn

NUM_CLASSES = 17


class ColumnSDNN(nn.Module):
    """LeNet-5 replicated over the width: ``(B, 1, 32, W) -> (B, T, C)``, T = (W - 32) // 4 + 1.

    Shares (holds) the given LeNet-5: training this module trains that LeNet-5.
    """

    def __init__(self, lenet5: nn.Module):
        super().__init__()
        self.lenet = lenet5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from lenet.layers import scaled_tanh

        if x.dim() != 4 or x.shape[1] != 1 or x.shape[2] != 32 or x.shape[3] < 32:
            raise ValueError(f"[docrec.ColumnSDNN] expected (B, 1, 32, W>=32) input, got {tuple(x.shape)}")
        h = self.lenet.c5_maps(x)  # (B, 120, 1, T)
        h = h[:, :, 0].transpose(1, 2)  # (B, T, 120)
        h = scaled_tanh(self.lenet.f6.linear(h))  # (B, T, 84)
        return self.lenet.rbf(h)  # (B, T, C)


def build_sdnn(lenet5: nn.Module) -> nn.Module:
    """The SDNN sharing ``lenet5``'s weights (``lenet.SDNN`` if available, else :class:`ColumnSDNN`)."""
    import lenet

    cls = getattr(lenet, "SDNN", None)
    if cls is not None:
        try:
            return cls(lenet5)
        except TypeError:
            pass
    return ColumnSDNN(lenet5)


def new_lenet5(init: str | os.PathLike | None = None) -> nn.Module:
    """A 17-class LeNet-5, from a LeNet-5 checkpoint (10 or 17 classes) when ``init`` is given."""
    from lenet.models import LeNet5, lenet5_with_classes

    if init is None:
        return LeNet5(NUM_CLASSES)
    state = torch.load(init, map_location="cpu", weights_only=True)
    for key in ("model", "state_dict", "model_state"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
            break
    return lenet5_with_classes(state, NUM_CLASSES)


def save_weights(path: str | os.PathLike, lenet5: nn.Module, charmodel: dict, meta: dict) -> None:
    """Write the recogniser's weights atomically (temp file + ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {"model": {k: v.detach().cpu().clone() for k, v in lenet5.state_dict().items()},
            "charmodel": dict(charmodel), "meta": dict(meta)}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(blob, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_weights(path: str | os.PathLike) -> tuple[nn.Module, dict, dict]:
    """``(lenet5, charmodel options, meta)`` from :func:`save_weights`'s file.

    Raises:
        FileNotFoundError: no such file. ValueError: not an SDNN weights file.
    """
    from lenet.models import LeNet5

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"[docrec.sdnn] no SDNN weights at {path} (train them: docrec train sdnn)")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(blob, dict) or "model" not in blob:
        raise ValueError(f"[docrec.sdnn] {path} is not an SDNN weights file (no 'model' entry)")
    net = LeNet5(NUM_CLASSES)
    try:
        net.load_state_dict(blob["model"])
    except RuntimeError as exc:
        raise ValueError(f"[docrec.sdnn] {path} does not hold a 17-class LeNet-5: {exc}") from None
    return net, dict(blob.get("charmodel", {})), dict(blob.get("meta", {}))


__all__ = ["ColumnSDNN", "NUM_CLASSES", "build_sdnn", "load_weights", "new_lenet5", "save_weights"]
