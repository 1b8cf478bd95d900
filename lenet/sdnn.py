"""The space-displacement neural network (docs/paper.md Sec. VII): LeNet-5 replicated over a wide input.

:class:`SDNN` wraps a :class:`lenet.LeNet5` (it *holds* that module: the weights are shared, not
copied; training either trains both) and runs it convolutionally over a field of height 32:

* C1..C5 are convolutions already; on a ``(B, 1, 32, W)`` input C5 yields ``(B, 120, 1, T)``;
* F6 is applied to every column (equivalently a 1x1 convolution with F6's weights), then the
  Euclidean RBF per column.

Output: ``(B, T, C)`` penalties with ``T = (W - 32) // 4 + 1`` (the two 2x subsamplings give one
output every 4 input pixels). **Receptive field:** column ``t`` sees exactly input columns
``4t .. 4t + 31`` (all 32 rows), i.e. it equals LeNet-5 applied to the window ``x[..., 4t:4t+32]``;
its centre is at ``x = 4t + 16``. Rightmost columns that do not complete a window
(``(W - 32) % 4`` of them) are ignored.

Variable widths in one batch: :func:`pad_batch` pads images on the right with the background value
(-0.1) to a common width; :func:`frame_counts` / :func:`frame_mask` say which output columns belong
to each image. Since every column sees only its own 32-pixel window, the valid columns of a padded
image are identical to those of the image alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from lenet.layers import scaled_tanh
from lenet.models import BACKGROUND, LeNet5, check_input
from data.constants import STRIDE  # pixels between SDNN frames

#: Input pixels per output column (the product of the two subsampling factors).
#: Width (and height) of one column's window.
WINDOW = 32


def frame_counts(widths: torch.Tensor | Sequence[int]) -> torch.Tensor:
    """Output columns ``T_b = (w_b - 32) // 4 + 1`` for images of widths ``w_b >= 32``: ``(B,)``."""
    w = torch.as_tensor(widths, dtype=torch.long)
    if w.numel() and int(w.min()) < WINDOW:
        raise ValueError(f"[lenet.frame_counts] width {int(w.min())} < {WINDOW}; pad narrow images "
                         f"to at least {WINDOW} px (pad_batch does)")
    return (w - WINDOW) // STRIDE + 1


def frame_mask(widths: torch.Tensor | Sequence[int], num_frames: int | None = None) -> torch.Tensor:
    """``(B, T)`` bool: True for the output columns of each image (T defaults to the maximum)."""
    counts = frame_counts(widths)
    t = int(counts.max()) if num_frames is None else num_frames
    return torch.arange(t).unsqueeze(0) < counts.unsqueeze(1)


def window_start(t: int | torch.Tensor) -> int | torch.Tensor:
    """Left input column of output column ``t``'s 32-pixel window (``4 t``)."""
    return STRIDE * t


def pad_batch(images: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad field images of height 32 to one width with the background (-0.1).

    Args:
        images: ``B`` tensors ``(32, W_b)`` or ``(1, 32, W_b)`` in LeNet's input levels. Images
            narrower than 32 px are padded to 32 (one output column).

    Returns:
        ``x`` ``(B, 1, 32, max(W_b, 32))`` and ``widths`` ``(B,)`` (each at least 32).
    """
    if len(images) == 0:
        raise ValueError("[lenet.pad_batch] no images")
    flat = []
    for i, im in enumerate(images):
        im = im if im.dim() == 3 else im.unsqueeze(0)
        if im.dim() != 3 or im.shape[0] != 1 or im.shape[1] != WINDOW:
            raise ValueError(f"[lenet.pad_batch] image {i} has shape {tuple(im.shape)}; expected "
                             f"(32, W) or (1, 32, W): scale fields to height 32 first")
        flat.append(im)
    widths = torch.tensor([max(im.shape[-1], WINDOW) for im in flat])
    out = flat[0].new_full((len(flat), 1, WINDOW, int(widths.max())), BACKGROUND)
    for i, im in enumerate(flat):
        out[i, :, :, :im.shape[-1]] = im
    return out, widths


def check_strip(x: torch.Tensor, where: str) -> None:
    """Raise a clear ``ValueError`` unless ``x`` is a ``(B, 1, 32, W >= 32)`` floating-point strip."""
    check_input(x, where, width=None)
    if x.shape[-1] < WINDOW:
        raise ValueError(f"[{where}] input width {x.shape[-1]} < {WINDOW}; pad it (lenet.sdnn.pad_batch)")


@dataclass
class SDNNConfig:
    """Configuration of :class:`SDNN` (used only when it builds its own LeNet-5)."""

    num_classes: int = 17


class SDNN(nn.Module):
    """LeNet-5 replicated convolutionally: ``(B, 1, 32, W) -> (B, T, C)``, T = (W - 32) // 4 + 1.

    Args:
        lenet5: the network to replicate (shared, not copied); a new 17-class LeNet-5 if None.
        config: used when ``lenet5`` is None.
    """

    def __init__(self, lenet5: LeNet5 | None = None, *, config: SDNNConfig | None = None):
        super().__init__()
        if lenet5 is None:
            self.config = config or SDNNConfig()
            lenet5 = LeNet5(self.config.num_classes)
        else:
            if not isinstance(lenet5, LeNet5):
                raise TypeError(f"[lenet.SDNN] expected a LeNet5, got {type(lenet5).__name__}")
            self.config = SDNNConfig(num_classes=lenet5.num_classes)
        self.lenet5 = lenet5

    @property
    def num_classes(self) -> int:
        return self.lenet5.num_classes

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, 32, W) -> (B, T, 84)``: F6's squashed outputs per column."""
        check_strip(x, "lenet.SDNN")
        c5 = self.lenet5.c5_maps(x)  # (B, 120, 1, T)
        cols = c5.squeeze(2).transpose(1, 2)  # (B, T, 120)
        return scaled_tanh(self.lenet5.f6.linear(cols))  # F6 on every column: (B, T, 84)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, 32, W) -> (B, T, C)`` penalties (lower = more likely), one row per column."""
        return self.lenet5.rbf(self.features(x))

    def forward_padded(self, images: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Variable-width images -> ``(penalties (B, T, C), mask (B, T) bool)`` (see pad_batch)."""
        x, widths = pad_batch(images)
        out = self(x)
        return out, frame_mask(widths, out.shape[1])


class WindowedSDNN(nn.Module):
    """Any 32x32 classifier replicated over the width: ``(B, 1, 32, W) -> (B, T, C)``, T = (W - 32) // 4 + 1.

    Frame ``t`` is ``classifier(x[..., 4t:4t+32])``: exactly what :class:`SDNN` computes for LeNet-5,
    for networks whose convolutions pad (e.g. :class:`lenet.ModernLeNet`), where sliding the layers
    over the whole width would let a frame see beyond its window. The windows are cut with
    ``unfold`` (one copy of ``32 x 32`` per frame, small next to the classifier) and classified in
    chunks of ``chunk`` windows; the cost is the classifier's per window, without LeNet-5's shared
    computation.

    Args:
        classifier: ``(N, 1, 32, 32) -> (N, C)`` penalties (held, not copied: training one trains both).
        chunk: windows per classifier call (bounds peak memory).
    """

    def __init__(self, classifier: nn.Module, *, chunk: int = 4096):
        super().__init__()
        if chunk < 1:
            raise ValueError(f"[lenet.WindowedSDNN] chunk must be >= 1, got {chunk}")
        self.classifier = classifier
        self.chunk = int(chunk)

    @property
    def num_classes(self) -> int:
        return self.classifier.num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, 32, W) -> (B, T, C)`` penalties (lower = more likely), one row per window."""
        check_strip(x, "lenet.WindowedSDNN")
        b = x.shape[0]
        win = x.unfold(3, WINDOW, STRIDE)  # (B, 1, 32, T, 32)
        t = win.shape[3]
        win = win.permute(0, 3, 1, 2, 4).reshape(b * t, 1, WINDOW, WINDOW)
        out = torch.cat([self.classifier(win[i:i + self.chunk]) for i in range(0, b * t, self.chunk)])
        return out.reshape(b, t, -1)


__all__ = ["SDNN", "SDNNConfig", "WindowedSDNN", "STRIDE", "WINDOW", "frame_counts", "frame_mask", "pad_batch",
           "window_start"]
