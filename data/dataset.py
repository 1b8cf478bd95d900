"""A torch ``Dataset`` of MNIST digits as LeNet-5 inputs (docs/paper.md Sec. II)."""

from __future__ import annotations

import os
from typing import Callable

import numpy as np
import torch

from data.mnist import load_mnist
from data.constants import BACKGROUND  # the paper value of a network input

#: Input levels of LeNet-5: white background and black ink (mean about 0, variance about 1).
INK = 1.175


def to_lenet_input(images: np.ndarray, *, pad: int = 2) -> torch.Tensor:
    """Map uint8 MNIST-style digits (0 = background, 255 = ink) to LeNet-5 inputs.

    Args:
        images: uint8 ``(N, 28, 28)`` (or ``(28, 28)``).
        pad: border added on every side (2 turns 28x28 into the paper's 32x32).

    Returns:
        float32 ``(N, 1, 28 + 2 pad, 28 + 2 pad)`` with background -0.1 and full ink 1.175.
    """
    arr = np.asarray(images)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(f"[data.to_lenet_input] expected (N, H, W) images, got shape {arr.shape}")
    x = torch.from_numpy(arr.astype(np.float32) / 255.0)
    x = BACKGROUND + (INK - BACKGROUND) * x
    x = torch.nn.functional.pad(x, (pad, pad, pad, pad), value=BACKGROUND)
    return x.unsqueeze(1)


class MNISTDataset(torch.utils.data.Dataset):
    """MNIST as LeNet-5 inputs: ``x`` float32 ``(1, 32, 32)`` in [-0.1, 1.175], ``y`` int64.

    Args:
        split: ``"train"`` or ``"test"``.
        root: MNIST directory (see :func:`data.resolve_mnist_dir`).
        download: allow downloading missing files.
        transform: optional callable applied to the ``(1, 32, 32)`` tensor of each item.
    """

    def __init__(self, split: str, root: str | os.PathLike | None = None, *, download: bool = True,
                 transform: Callable[[torch.Tensor], torch.Tensor] | None = None):
        images, labels = load_mnist(split, root=root, download=download)
        self.split = split
        self.inputs = to_lenet_input(images)  # (N, 1, 32, 32)
        self.labels = torch.from_numpy(labels)  # (N,)
        self.transform = transform

    def __len__(self) -> int:
        return self.labels.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.inputs[index]
        if self.transform is not None:
            x = self.transform(x)
        return x, self.labels[index]
