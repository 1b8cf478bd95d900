"""A whole-strip recogniser with context, for the SDNN's frame interface (not in the paper).

The SDNN (docs/paper.md Sec. VII) reads each 32-pixel window on its own. :class:`StripNet` gives the same
output, one penalty vector per frame ``t`` centred on strip column ``4 t + 16``, but every frame
sees the whole field: a convolutional trunk (3x3 convolutions, batch norm, ReLU, max-pooling; stride
4 along the width, the 32 rows pooled down to 2) followed by a bidirectional LSTM over the frames and
a linear layer; penalties are ``-log softmax``. It is trained on whole fields with the global
criterion (the same frame graph and character model as the SDNN), so a touching neighbour's ink is
learnt in context instead of being a distractor inside a window.

Shapes: ``x (B, 1, 32, W)`` (LeNet levels, background -0.1), ``widths (B,)`` the true width of each
strip in the padded batch (default: all ``W``) -> penalties ``(B, T, C)``, ``T = (max(widths) - 32)
// 4 + 1``; strip ``b`` owns its first ``T_b = (w_b - 32) // 4 + 1`` frames (the rest are filler).

**Batch consistency.** Each strip is read as if alone: the input is padded with background by
:data:`PAD_LEFT` / at least :data:`PAD_RIGHT` columns, wider than the trunk's receptive radius
(:data:`TRUNK_RADIUS`) past the last frame, so a frame's trunk features never reach a border or the
batch's filler columns differently; the LSTM runs on packed sequences of exactly ``T_b`` frames.
Trunk column ``j`` covers padded columns ``[4 j, 4 j + 4)``; with :data:`PAD_LEFT` = 18 its centre
is strip column ``4 (j - 8) + 15.5``, i.e. frame ``t`` is trunk column ``t + 8``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lenet.models import BACKGROUND
from lenet.sdnn import STRIDE, WINDOW, frame_counts

#: Background columns added left of the strip (puts frame t on trunk column t + FRAME_OFFSET).
PAD_LEFT = 18
FRAME_OFFSET = 8
#: Fewest background columns added right of the strip.
PAD_RIGHT = 24
#: Half-width (input px) of a trunk column's receptive field: 3x3 convolutions at input strides
#: 1, 2, 4, 4, 4 (1 + 2 + 4 + 4 + 4 px) plus the two 2x2 poolings (1 + 2 px), rounded up.
TRUNK_RADIUS = 19


@dataclass
class StripNetConfig:
    """Configuration of :class:`StripNet`.

    Attributes:
        num_classes: output classes (17: the shared charset with 'none').
        channels: widths of the trunk's three stages.
        hidden: LSTM units per direction.
        layers: stacked bidirectional LSTM layers.
        dropout: dropout on the trunk's features and between LSTM layers (training only).
    """

    num_classes: int = 17
    channels: tuple[int, int, int] = (32, 64, 128)
    hidden: int = 128
    layers: int = 2
    dropout: float = 0.2

    def validate(self) -> "StripNetConfig":
        if self.num_classes < 2:
            raise ValueError(f"[lenet.StripNetConfig] num_classes must be >= 2, got {self.num_classes}")
        if len(self.channels) != 3 or any(int(c) < 1 for c in self.channels):
            raise ValueError(f"[lenet.StripNetConfig] channels must be three positive widths, got {self.channels}")
        if self.hidden < 1 or self.layers < 1:
            raise ValueError(f"[lenet.StripNetConfig] hidden and layers must be >= 1, got {self.hidden}, {self.layers}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"[lenet.StripNetConfig] dropout must be in [0, 1), got {self.dropout}")
        return self


def _conv(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class StripNet(nn.Module):
    """Whole-strip frame classifier: ``(B, 1, 32, W)``, widths ``(B,)`` -> ``(B, T, C)`` penalties
    (module docstring). 1.18 M parameters with the default config."""

    def __init__(self, config: StripNetConfig | None = None, **overrides):
        super().__init__()
        cfg = StripNetConfig(**{**asdict(config or StripNetConfig()), **overrides})
        cfg.channels = tuple(int(c) for c in cfg.channels)
        self.config = cfg.validate()
        c1, c2, c3 = cfg.channels
        self.trunk = nn.Sequential(
            *_conv(1, c1), nn.MaxPool2d(2),  # 16 x W/2
            *_conv(c1, c2), nn.MaxPool2d(2),  # 8 x W/4
            *_conv(c2, c3), *_conv(c3, c3), nn.MaxPool2d((2, 1)),  # 4 x W/4
            *_conv(c3, c3), nn.MaxPool2d((2, 1)),  # 2 x W/4
        )
        self.drop = nn.Dropout(cfg.dropout)
        self.lstm = nn.LSTM(2 * c3, cfg.hidden, num_layers=cfg.layers, bidirectional=True, batch_first=True,
                            dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.head = nn.Linear(2 * cfg.hidden, cfg.num_classes)

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    def forward(self, x: torch.Tensor, widths: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, 1, 32, W)``, widths ``(B,)`` (default all ``W``) -> ``(B, T, C)`` penalties; the LSTM
        reads each strip's ``T_b`` frames only (packed sequences)."""
        return self.read(x, widths, trunk=self.trunk)

    def read(self, x: torch.Tensor, widths: torch.Tensor | None, *, trunk) -> torch.Tensor:
        """:meth:`forward` with another implementation of the trunk (``(B, 1, 32, W') -> (B, c3, 2,
        W' / 4)``; :class:`lenet.inference.FoldedStrip`'s folded one)."""
        self._check_strips(x)
        B, W = x.shape[0], x.shape[3]
        if widths is None:
            widths = torch.full((B,), W, dtype=torch.long)
        widths = torch.as_tensor(widths, dtype=torch.long).cpu()
        if widths.shape != (B,) or (B and (int(widths.min()) < WINDOW or int(widths.max()) > W)):
            raise ValueError(f"[lenet.StripNet] widths must be (B,) = ({B},) values in [32, {W}], "
                             f"got {widths.tolist()}")
        frames = frame_counts(widths)  # (B,)
        t_max = int(frames.max()) if B else 0
        h = self.drop(self._frame_features(x, t_max, trunk))  # (B, T, 2 c3)
        packed = pack_padded_sequence(h, frames, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=t_max)  # (B, T, 2 hidden)
        return -torch.log_softmax(self.head(out), dim=-1)

    def forward_full_width(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, 32, W) -> (B, T, C)`` for a batch whose strips are all ``W`` wide: no packing (every
        sequence has all ``T`` frames), so it equals ``forward(x)`` and traces to one plain LSTM with
        symbolic ``B`` and ``W`` (the ONNX export path, :mod:`docrec.export`)."""
        self._check_strips(x)
        h = self.drop(self._frame_features(x, (x.shape[3] - WINDOW) // STRIDE + 1))
        out, _ = self.lstm(h)
        return -torch.log_softmax(self.head(out), dim=-1)

    @staticmethod
    def _check_strips(x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != 1 or x.shape[2] != WINDOW \
                or x.shape[3] < WINDOW or not x.is_floating_point():
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"[lenet.StripNet] expected a float (B, 1, 32, W>=32) strip batch, got {got}")

    def _frame_features(self, x: torch.Tensor, frames: int, trunk=None) -> torch.Tensor:
        """``(B, 1, 32, W) -> (B, frames, 2 c3)``: the trunk's columns of frames ``0 .. frames - 1``,
        the strip padded with background (module docstring)."""
        B, W = x.shape[0], x.shape[3]
        total = PAD_LEFT + W + PAD_RIGHT
        total += (-total) % 4
        xp = x.new_full((B, 1, WINDOW, total), BACKGROUND)
        xp[..., PAD_LEFT: PAD_LEFT + W] = x
        h = (trunk or self.trunk)(xp)  # (B, c3, 2, total / 4)
        return h.flatten(1, 2)[:, :, FRAME_OFFSET: FRAME_OFFSET + frames].transpose(1, 2)


def strip_config(model: StripNet) -> dict:
    """The config of a :class:`StripNet` as plain values (for weights files)."""
    cfg = asdict(model.config)
    cfg["channels"] = list(cfg["channels"])
    return cfg


__all__ = ["PAD_LEFT", "PAD_RIGHT", "StripNet", "StripNetConfig", "TRUNK_RADIUS", "strip_config"]
