"""The building blocks of LeNet-5 (docs/paper.md Sec. II and App. A).

* :func:`scaled_tanh` / :class:`ScaledTanh`: the squashing function ``f(a) = 1.7159 tanh(2a/3)``.
* :class:`Subsampling`: S2/S4, the sum of a 2x2 block times one trainable coefficient plus one
  trainable bias per map (not an average pool; the squashing is applied by the caller).
* :class:`PartialConv2d`: C3, a convolution whose output maps read only some input maps (Table I).
  Only the connected kernels are parameters (1,516 for C3); at run time they are scattered into a
  dense masked kernel and the whole layer is ONE ``conv2d`` call.
* :func:`uniform_fan_in_`: the paper's initialisation, uniform in ``+-2.4 / F_i`` with ``F_i`` the
  fan-in (number of inputs) of the unit.

Every layer exposes ``linear(x, *, square=False)``, its affine part. With ``square=True`` it runs with
every weight squared and no bias; :mod:`lenet.sdlm` uses this to back-propagate diagonal second
derivatives (App. C) with the very same code that computes the forward pass.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

#: Amplitude and slope of the squashing function (App. A): f(1) = 1, f(-1) = -1.
TANH_A = 1.7159
TANH_S = 2.0 / 3.0

#: C3's connection table (Table I): C3 map -> the S2 maps it reads.
C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5), (0, 1, 2, 3, 4, 5),
)


def scaled_tanh(a: torch.Tensor) -> torch.Tensor:
    """The squashing function ``f(a) = A tanh(S a)``, A = 1.7159, S = 2/3 (App. A); any shape."""
    return TANH_A * torch.tanh(TANH_S * a)


def scaled_tanh_derivative(a: torch.Tensor) -> torch.Tensor:
    """``f'(a) = A S (1 - tanh(S a)^2)``, used by the second-derivative back-propagation (App. C)."""
    t = torch.tanh(TANH_S * a)
    return (TANH_A * TANH_S) * (1.0 - t * t)


class ScaledTanh(nn.Module):
    """Module form of :func:`scaled_tanh`: ``(*) -> (*)``."""

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return scaled_tanh(a)

    @staticmethod
    def derivative(a: torch.Tensor) -> torch.Tensor:
        return scaled_tanh_derivative(a)


def uniform_fan_in_(tensor: torch.Tensor, fan_in: float | torch.Tensor) -> torch.Tensor:
    """Fill ``tensor`` uniformly in ``+-2.4 / fan_in`` (App. A), in place.

    Args:
        tensor: any shape.
        fan_in: a number, or a tensor broadcastable to ``tensor`` (a fan-in per unit).
    """
    with torch.no_grad():
        bound = 2.4 / torch.as_tensor(fan_in, dtype=tensor.dtype, device=tensor.device)
        tensor.uniform_(-1.0, 1.0).mul_(bound)
    return tensor


class Conv2d(nn.Conv2d):
    """A plain 'valid' convolution with the paper's initialisation and a ``linear`` hook.

    ``(B, C_in, H, W) -> (B, C_out, H - k + 1, W - k + 1)`` (pre-activation, no squashing).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, bias=bias)

    def reset_parameters(self) -> None:  # called by nn.Conv2d.__init__
        fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        uniform_fan_in_(self.weight, fan_in)
        if self.bias is not None:
            uniform_fan_in_(self.bias, fan_in)

    def linear(self, x: torch.Tensor, *, square: bool = False) -> torch.Tensor:
        if square:
            return F.conv2d(x, self.weight * self.weight)
        return F.conv2d(x, self.weight, self.bias)


class Linear(nn.Linear):
    """A fully connected layer with the paper's initialisation: ``(*, in) -> (*, out)``."""

    def reset_parameters(self) -> None:
        uniform_fan_in_(self.weight, self.in_features)
        if self.bias is not None:
            uniform_fan_in_(self.bias, self.in_features)

    def linear(self, x: torch.Tensor, *, square: bool = False) -> torch.Tensor:
        if square:
            return F.linear(x, self.weight * self.weight)
        return F.linear(x, self.weight, self.bias)


class Subsampling(nn.Module):
    """Trainable subsampling (S2, S4): ``a = coef[c] * (sum of a 2x2 block) + bias[c]``.

    ``(B, C, H, W) -> (B, C, H // 2, W // 2)`` pre-activations (apply the squashing afterwards).
    Two trainable parameters per map (12 for S2, 32 for S4). The four inputs of a unit form its
    fan-in, so both parameters start uniform in ``+-2.4/4``.

    Args:
        channels: number of maps C.
        factor: subsampling factor (2 in LeNet-5).
        sources: optional input map of every output map (LeNet-4's S2 has two subsampling maps per
            C1 map: ``sources=(0, 0, 1, 1, ...)``); then the input has ``max(sources) + 1`` maps.
    """

    def __init__(self, channels: int, *, factor: int = 2, sources: tuple[int, ...] | None = None):
        super().__init__()
        if sources is not None and len(sources) != channels:
            raise ValueError(f"[lenet.Subsampling] {len(sources)} sources for {channels} maps")
        self.channels = channels
        self.factor = factor
        self.sources = None if sources is None else tuple(int(s) for s in sources)
        self.in_channels = channels if sources is None else max(self.sources) + 1
        self.coef = nn.Parameter(torch.empty(channels))
        self.bias = nn.Parameter(torch.empty(channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        fan_in = self.factor * self.factor
        uniform_fan_in_(self.coef, fan_in)
        uniform_fan_in_(self.bias, fan_in)

    def linear(self, x: torch.Tensor, *, square: bool = False) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"[lenet.Subsampling] expected (B, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        if self.sources is not None:
            x = x[:, list(self.sources)]  # (B, C_in, H, W) -> (B, C, H, W)
        k = self.factor
        coef = self.coef * self.coef if square else self.coef
        # a depthwise stride-k convolution whose k x k kernel repeats the map's coefficient:
        # (B, C, H, W) -> (B, C, H/k, W/k) = coef * (sum of each k x k block) + bias
        kernel = coef.view(-1, 1, 1, 1).expand(self.channels, 1, k, k)
        return F.conv2d(x, kernel, None if square else self.bias, stride=k, groups=self.channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, factor={self.factor}"


class PartialConv2d(nn.Module):
    """A convolution with a connection table (C3, Table I): map ``o`` reads only ``table[o]``.

    ``(B, C_in, H, W) -> (B, C_out, H - k + 1, W - k + 1)`` pre-activations.

    The parameter ``weight`` holds only the connected kernels, flattened: ``(K * k * k,)`` with K the
    number of (output, input) connections, so ``numel`` counts exactly the trainable weights (1,500 +
    16 biases = 1,516 for C3). A fixed index buffer gathers them into a dense ``(C_out, C_in, k, k)``
    kernel whose unconnected entries are a constant zero, so the layer is a single ``conv2d``.
    Initialisation uses each output map's own fan-in (``len(table[o]) * k * k``).

    Args:
        in_channels: C_in.
        table: for every output map, the input maps it reads.
        kernel_size: k.
    """

    def __init__(self, in_channels: int, table: Sequence[Sequence[int]], kernel_size: int):
        super().__init__()
        out_channels = len(table)
        kk = kernel_size * kernel_size
        for o, row in enumerate(table):
            if not row or len(set(row)) != len(row) or min(row) < 0 or max(row) >= in_channels:
                raise ValueError(
                    f"[lenet.PartialConv2d] table row {o} = {tuple(row)} must list distinct input "
                    f"maps in 0..{in_channels - 1}"
                )
        n_conn = sum(len(row) for row in table)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.table = tuple(tuple(int(i) for i in row) for row in table)
        # index into cat([weight, zero]) for every entry of the dense kernel; n_conn*kk means "zero"
        index = torch.full((out_channels, in_channels, kk), n_conn * kk, dtype=torch.long)
        mask = torch.zeros(out_channels, in_channels, dtype=torch.bool)
        fan_in = torch.empty(n_conn * kk)
        pos = 0
        for o, row in enumerate(self.table):
            for i in row:
                index[o, i] = torch.arange(pos * kk, (pos + 1) * kk)
                mask[o, i] = True
                fan_in[pos * kk:(pos + 1) * kk] = len(row) * kk
                pos += 1
        self.register_buffer("index", index.view(-1), persistent=False)
        self.register_buffer("mask", mask, persistent=False)
        self.register_buffer("_fan_in", fan_in, persistent=False)
        self.weight = nn.Parameter(torch.empty(n_conn * kk))
        self.bias = nn.Parameter(torch.empty(out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        uniform_fan_in_(self.weight, self._fan_in)
        uniform_fan_in_(self.bias, torch.tensor([len(r) * self.kernel_size ** 2 for r in self.table],
                                                dtype=torch.float32))

    def dense_weight(self, *, square: bool = False) -> torch.Tensor:
        """The dense kernel ``(C_out, C_in, k, k)``, zero where the table has no connection."""
        w = self.weight * self.weight if square else self.weight
        padded = torch.cat([w, w.new_zeros(1)])
        k = self.kernel_size
        return padded[self.index].view(self.out_channels, self.in_channels, k, k)

    def linear(self, x: torch.Tensor, *, square: bool = False) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"[lenet.PartialConv2d] expected (B, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        return F.conv2d(x, self.dense_weight(square=square), None if square else self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, out_channels={self.out_channels}, "
                f"kernel_size={self.kernel_size}, connections={int(self.mask.sum())}")


def count_parameters(module: nn.Module) -> int:
    """Number of trainable scalars of ``module`` (fixed RBF centres are buffers, not counted)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def fan_in_bound(fan_in: int) -> float:
    """The half-width ``2.4 / F_i`` of the initial uniform distribution."""
    return 2.4 / float(fan_in)


__all__ = [
    "C3_TABLE", "Conv2d", "Linear", "PartialConv2d", "ScaledTanh", "Subsampling", "TANH_A",
    "TANH_S", "count_parameters", "fan_in_bound", "scaled_tanh", "scaled_tanh_derivative",
    "uniform_fan_in_",
]

