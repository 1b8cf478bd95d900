"""The LeNet family of the paper's MNIST comparison (Sec. II, III-C) plus a modern variant.

Every model maps ``(B, 1, 32, 32)`` LeNet inputs (background -0.1, ink 1.175) to ``(B, C)``
*penalties* (lower = more likely); ``argmin`` is the decision.

* :class:`LeNet5`: exactly the paper's network, 60,000 trainable parameters (with 10 or 17 classes:
  the RBF centres are fixed buffers, not parameters).
* :class:`LeNet1`, :class:`LeNet4`: the smaller networks of the comparison, reconstructed from
  their published descriptions (the exact connection tables are not published; ours are below).
* :class:`BoostedLeNet4`: three LeNet-4 whose penalties are added (Sec. III-C.9); the filtering
  scheme that trains them lives in :mod:`lenet.train`.
* :class:`ModernLeNet`: ReLU, max-pooling, batch norm, softmax; penalties are ``-log softmax``.

The faithful networks expose :meth:`stages`, the chain of affine layers each followed by the
squashing function; :mod:`lenet.sdlm` back-propagates second derivatives through it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lenet.layers import (C3_TABLE, Conv2d, Linear, PartialConv2d, Subsampling, count_parameters,
                          scaled_tanh)
from lenet.rbf import EuclideanRBF, charset_codes, place_codes
from data.constants import BACKGROUND  # the paper value of a network input

#: LeNet input levels (data.to_lenet_input); lenet may not import data, so they are repeated here.


def check_input(x: torch.Tensor, where: str, *, height: int = 32, width: int | None = 32) -> None:
    """Raise a clear ``ValueError`` unless ``x`` is ``(B, 1, height, width)`` floating point."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"[{where}] expected a torch.Tensor, got {type(x).__name__}")
    want_w = "W" if width is None else str(width)
    shape_ok = x.dim() == 4 and x.shape[1] == 1 and x.shape[2] == height and (
        width is None or x.shape[3] == width)
    if not shape_ok:
        hint = ""
        if x.dim() >= 2 and tuple(x.shape[-2:]) == (28, 28):
            hint = "; MNIST's 28x28 digits must be padded by 2 to 32x32 (data.to_lenet_input)"
        elif x.dim() == 3:
            hint = "; add the channel axis with x.unsqueeze(1)"
        raise ValueError(f"[{where}] expected input (B, 1, {height}, {want_w}), got "
                         f"{tuple(x.shape)}{hint}")
    if not x.is_floating_point():
        raise ValueError(f"[{where}] expected a floating-point input (background -0.1, ink 1.175), "
                         f"got dtype {x.dtype}")


class FaithfulNet(nn.Module):
    """Shared machinery of the paper's networks: affine stages, each squashed, then an RBF."""

    rbf: EuclideanRBF

    def stages(self) -> list[nn.Module]:
        """The affine layers in order; each has ``linear(x, *, square=False)`` and is squashed."""
        raise NotImplementedError

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """Fixed (non-trainable) input transformation; identity unless overridden."""
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, 32, 32) -> (B, N)``: the squashed outputs of the last stage (F6 for LeNet-5)."""
        check_input(x, f"lenet.{type(self).__name__}")
        h = self.preprocess(x)
        for layer in self.stages():
            if isinstance(layer, nn.Linear) and h.dim() > 2:
                h = h.flatten(1)  # (B, C, H, W) -> (B, C*H*W)
            h = scaled_tanh(layer.linear(h))
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, 32, 32) -> (B, C)`` penalties (lower = more likely)."""
        return self.rbf(self.features(x))

    @property
    def num_classes(self) -> int:
        return self.rbf.num_classes


@dataclass
class LeNet5Config:
    """Configuration of :class:`LeNet5`. ``num_classes`` 10 (MNIST) or 17 (the shared charset)."""

    num_classes: int = 10


class LeNet5(FaithfulNet):
    """LeNet-5 exactly as in Sec. II-B: ``(B, 1, 32, 32) -> (B, num_classes)`` penalties.

    C1 (6@28x28, 156) - S2 (6@14x14, 12) - C3 (16@10x10, Table I, 1,516) - S4 (16@5x5, 32) -
    C5 (120 5x5 convolutions over all 16 maps, 48,120; it slides on wider inputs) - F6 (84, 10,164)
    - Euclidean RBF with the fixed 7x12 codes of :mod:`lenet.rbf`. Every layer but the RBF is
    followed by ``1.7159 tanh(2a/3)``. 60,000 trainable parameters for any ``num_classes``.

    Args:
        num_classes: 1..17, the first symbols of :data:`lenet.rbf.CHARSET`.
    """

    arch = "lenet5"

    def __init__(self, num_classes: int = 10, *, config: LeNet5Config | None = None):
        super().__init__()
        self.config = config or LeNet5Config(num_classes=num_classes)
        self.c1 = Conv2d(1, 6, 5)
        self.s2 = Subsampling(6)
        self.c3 = PartialConv2d(6, C3_TABLE, 5)
        self.s4 = Subsampling(16)
        self.c5 = Conv2d(16, 120, 5)
        self.f6 = Linear(120, 84)
        self.rbf = EuclideanRBF(charset_codes(self.config.num_classes))

    def stages(self) -> list[nn.Module]:
        return [self.c1, self.s2, self.c3, self.s4, self.c5, self.f6]

    def c5_maps(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, 32, W) -> (B, 120, 1, (W - 32) // 4 + 1)``: squashed C5 maps, any width >= 32."""
        h = x
        for layer in (self.c1, self.s2, self.c3, self.s4, self.c5):
            h = scaled_tanh(layer.linear(h))
        return h

    def layer_parameter_counts(self) -> dict[str, int]:
        """Trainable parameters per layer (docs/paper.md: 156, 12, 1516, 32, 48120, 10164)."""
        return {n: count_parameters(getattr(self, n)) for n in ("c1", "s2", "c3", "s4", "c5", "f6")}


def lenet5_with_classes(source: LeNet5 | dict, num_classes: int = 17) -> LeNet5:
    """A LeNet-5 with ``num_classes`` outputs carrying the trainable weights of ``source``.

    The 60,000 trainable weights do not depend on the number of classes; only the fixed RBF centres
    do. This is how the 17-class recogniser (digits, punctuation, none) starts from the MNIST
    weights: the digit outputs behave exactly as before, the other classes get their codes.

    Args:
        source: a :class:`LeNet5` or its ``state_dict``.
        num_classes: classes of the new model (1..17).

    Returns:
        A new :class:`LeNet5`; its first ``min(C_src, num_classes)`` centres equal the source's.

    Raises:
        ValueError: if ``source``'s centres are not this code set's (it was trained with other codes).
    """
    state = source.state_dict() if isinstance(source, nn.Module) else dict(source)
    centres = state.get("rbf.centres")
    if centres is None:
        raise ValueError("[lenet.lenet5_with_classes] source has no 'rbf.centres'; not a LeNet5 state")
    n = min(centres.shape[0], num_classes)
    if not torch.equal(centres[:n].float(), charset_codes(n)):
        raise ValueError("[lenet.lenet5_with_classes] source RBF centres differ from "
                         "lenet.rbf.charset_codes(); it was trained with other output codes")
    model = LeNet5(num_classes)
    state = {k: v for k, v in state.items() if k != "rbf.centres"}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [m for m in missing if m != "rbf.centres"]:
        raise ValueError(f"[lenet.lenet5_with_classes] state does not match LeNet5: "
                         f"missing {missing}, unexpected {unexpected}")
    return model


# LeNet-1: C3 has 12 maps reading 20 of the 4x12 possible S2 maps (the paper gives no table).
LENET1_C3_TABLE = tuple((k,) for k in range(4)) + tuple((k, (k + 1) % 4) for k in range(4)) + tuple(
    (k, (k + 2) % 4) for k in range(4))


@dataclass
class LeNet1Config:
    """Configuration of :class:`LeNet1`; ``input_size``: side of the downsampled digit box."""

    num_classes: int = 10
    input_size: int = 26


class LeNet1(FaithfulNet):
    """LeNet-1 (Sec. III-C.6): ``(B, 1, 32, 32) -> (B, C)`` penalties, 2,578 trainable parameters.

    The paper downsamples the digits to 16x16 and centres them in a 28x28 input. Here the 32x32
    input (20x20 digit box) is resized to 26x26 (so the box becomes about 16x16) and padded to
    28x28. Then C1 4@24x24 5x5 - S2 4@12x12 - C3 12@8x8 5x5 reading 20 S2 maps (our table
    :data:`LENET1_C3_TABLE`) - S4 12@4x4 - 10 fully connected squashed units. The output layer is
    an RBF with 1-of-N codes, i.e. the classic sigmoid output layer with +-1 targets.
    """

    arch = "lenet1"

    def __init__(self, num_classes: int = 10, *, config: LeNet1Config | None = None):
        super().__init__()
        self.config = config or LeNet1Config(num_classes=num_classes)
        self.c1 = Conv2d(1, 4, 5)
        self.s2 = Subsampling(4)
        self.c3 = PartialConv2d(4, LENET1_C3_TABLE, 5)
        self.s4 = Subsampling(12)
        self.out = Linear(12 * 4 * 4, self.config.num_classes)
        self.rbf = EuclideanRBF(place_codes(self.config.num_classes))

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        s = self.config.input_size
        small = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False, antialias=True)
        pad = (28 - s) // 2
        return F.pad(small, (pad, 28 - s - pad, pad, 28 - s - pad), value=BACKGROUND)

    def stages(self) -> list[nn.Module]:
        return [self.c1, self.s2, self.c3, self.s4, self.out]


# LeNet-4: C3 16 maps, each reading 2 of the 8 S2 maps; C5 120 units, each reading 5 of 16 S4 maps.
LENET4_C3_TABLE = tuple((k, (k + 1) % 8) for k in range(8)) + tuple((k, (k + 3) % 8) for k in range(8))
LENET4_C5_TABLE = tuple(tuple(sorted({(o + j * (1 + o % 3)) % 16 for j in range(5)})) for o in range(120))


@dataclass
class LeNet4Config:
    """Configuration of :class:`LeNet4`."""

    num_classes: int = 10


class LeNet4(FaithfulNet):
    """LeNet-4 (Sec. III-C.7): ``(B, 1, 32, 32) -> (B, C)`` penalties, 17,298 trainable parameters.

    C1 4@28x28 - S2 8@14x14 (two subsampling maps per C1 map, "connected in pairs") - C3 16@10x10
    (each reads 2 S2 maps) - S4 16@5x5 - 120 units (5x5 convolutions, each reading 5 S4 maps) - 10
    squashed outputs with 1-of-N RBF codes. The paper gives "about 17,000 free parameters" and no
    tables; ours (:data:`LENET4_C3_TABLE`, :data:`LENET4_C5_TABLE`) match that size.
    """

    arch = "lenet4"

    def __init__(self, num_classes: int = 10, *, config: LeNet4Config | None = None):
        super().__init__()
        self.config = config or LeNet4Config(num_classes=num_classes)
        self.c1 = Conv2d(1, 4, 5)
        self.s2 = Subsampling(8, sources=tuple(k // 2 for k in range(8)))
        self.c3 = PartialConv2d(8, LENET4_C3_TABLE, 5)
        self.s4 = Subsampling(16)
        self.c5 = PartialConv2d(16, LENET4_C5_TABLE, 5)
        self.out = Linear(120, self.config.num_classes)
        self.rbf = EuclideanRBF(place_codes(self.config.num_classes))

    def stages(self) -> list[nn.Module]:
        return [self.c1, self.s2, self.c3, self.s4, self.c5, self.out]


@dataclass
class BoostedLeNet4Config:
    """Configuration of :class:`BoostedLeNet4`: three LeNet-4 members."""

    num_classes: int = 10
    members: int = 3


class BoostedLeNet4(nn.Module):
    """Boosted LeNet-4 (Sec. III-C.9): the penalties of three LeNet-4 are added.

    ``(B, 1, 32, 32) -> (B, C)``. Member ``k`` is trained on patterns filtered by members ``< k``
    (see :func:`lenet.train.train_boosted`).
    """

    arch = "boosted-lenet4"

    def __init__(self, num_classes: int = 10, *, config: BoostedLeNet4Config | None = None):
        super().__init__()
        self.config = config or BoostedLeNet4Config(num_classes=num_classes)
        self.nets = nn.ModuleList(LeNet4(self.config.num_classes) for _ in range(self.config.members))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([net(x) for net in self.nets]).sum(0)

    @property
    def num_classes(self) -> int:
        return self.config.num_classes


@dataclass
class ModernLeNetConfig:
    """Configuration of :class:`ModernLeNet`: widths, batch norm and dropout."""

    num_classes: int = 10
    channels: tuple[int, int, int] = (32, 64, 64)
    batch_norm: bool = True
    dropout: float = 0.25


class ModernLeNet(nn.Module):
    """A modern CNN of LeNet's size class: ``(B, 1, 32, 32) -> (B, C)`` penalties ``-log softmax``.

    conv5x5 32 (28x28) - BN - ReLU - maxpool (14x14) - conv3x3 64 pad 1 - BN - ReLU - maxpool (7x7)
    - conv3x3 64 (5x5) - BN - ReLU - dropout - linear. About 72,000 parameters with the defaults;
    PyTorch's default initialisation. Trained with cross-entropy (= the mean penalty of the
    correct class).
    """

    arch = "modern"

    def __init__(self, num_classes: int = 10, *, config: ModernLeNetConfig | None = None):
        super().__init__()
        self.config = config or ModernLeNetConfig(num_classes=num_classes)
        c1, c2, c3 = self.config.channels
        bn = self.config.batch_norm

        def block(cin: int, cout: int, k: int, pad: int) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, padding=pad, bias=not bn)]
            if bn:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.ReLU(inplace=True))
            return layers

        self.body = nn.Sequential(*block(1, c1, 5, 0), nn.MaxPool2d(2), *block(c1, c2, 3, 1),
                                  nn.MaxPool2d(2), *block(c2, c3, 3, 0), nn.Flatten(),
                                  nn.Dropout(self.config.dropout))
        self.head = nn.Linear(c3 * 5 * 5, self.config.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, "lenet.ModernLeNet")
        return -F.log_softmax(self.head(self.body(x)), dim=-1)

    @property
    def num_classes(self) -> int:
        return self.config.num_classes


#: Architecture name -> (model class, config class); used by checkpoints and the CLI.
ARCHITECTURES: dict[str, tuple[type[nn.Module], type]] = {
    "lenet5": (LeNet5, LeNet5Config),
    "lenet1": (LeNet1, LeNet1Config),
    "lenet4": (LeNet4, LeNet4Config),
    "boosted-lenet4": (BoostedLeNet4, BoostedLeNet4Config),
    "modern": (ModernLeNet, ModernLeNetConfig),
}


def build_model(arch: str, config: dict | None = None) -> nn.Module:
    """Instantiate an architecture by name with an optional config dict (as saved in checkpoints).

    Raises:
        ValueError: unknown architecture or config keys.
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"[lenet.build_model] unknown architecture {arch!r}; "
                         f"expected one of {sorted(ARCHITECTURES)}")
    cls, cfg_cls = ARCHITECTURES[arch]
    try:
        cfg = cfg_cls(**(config or {}))
    except TypeError as exc:
        raise ValueError(f"[lenet.build_model] bad config for {arch}: {exc}") from None
    if isinstance(getattr(cfg, "channels", None), list):
        cfg.channels = tuple(cfg.channels)
    return cls(cfg.num_classes, config=cfg)


def model_config(model: nn.Module) -> dict:
    """The model's config as a plain dict (checkpoint-friendly)."""
    cfg = asdict(model.config)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()}



__all__ = ["ARCHITECTURES", "BoostedLeNet4", "FaithfulNet", "LeNet1", "LeNet4", "LeNet5",
           "LeNet5Config", "ModernLeNet", "build_model", "check_input", "lenet5_with_classes",
           "model_config"]
