"""lenet: the LeNet family of LeCun, Bottou, Bengio and Haffner (1998), faithful, on PyTorch.

* :class:`LeNet5` (60,000 parameters, Euclidean RBF output with the 7x12 codes of :mod:`lenet.rbf`),
  :class:`LeNet1`, :class:`LeNet4`, :class:`BoostedLeNet4`, and :class:`ModernLeNet` for comparison.
  Inputs ``(B, 1, 32, 32)`` (background -0.1, ink 1.175); outputs ``(B, C)`` penalties.
* :class:`SDNN`: LeNet-5 replicated over a wide input, ``(B, 1, 32, W) -> (B, T, C)``;
  :class:`WindowedSDNN` the same for any 32x32 classifier (window by window); :class:`StripNet` the
  same frame interface with whole-strip context (convolutional trunk + bidirectional LSTM, not in the paper).
* :func:`mse_loss`, :func:`map_loss` (eq. 9); :class:`SDLM` with :func:`gauss_newton_diagonal`.
* :func:`distort` (random planar affine, optional elastic); :mod:`lenet.train`; :mod:`lenet.checkpoint`.
* :func:`inference_model`: the faithful nets folded for fast, gradient-free CPU inference (same function).

Imports only torch (see docs/design.md's layering).
"""

from lenet.checkpoint import load_checkpoint, load_model, save_checkpoint
from lenet.distort import DistortionConfig, distort, shifted_copies
from lenet.inference import FoldedModern, FoldedNet, inference_model
from lenet.layers import C3_TABLE, PartialConv2d, ScaledTanh, Subsampling, scaled_tanh
from lenet.losses import DEFAULT_MAP_J, map_loss, mse_loss
from lenet.models import (ARCHITECTURES, BoostedLeNet4, LeNet1, LeNet4, LeNet5, ModernLeNet,
                          build_model, lenet5_with_classes)
from lenet.rbf import CHARSET, NONE_ID, EuclideanRBF, charset_codes
from lenet.sdlm import SDLM, gauss_newton_diagonal, paper_eta
from lenet.sdnn import SDNN, WindowedSDNN, frame_counts, frame_mask, pad_batch
from lenet.strip import StripNet, StripNetConfig

__all__ = [
    "ARCHITECTURES", "BoostedLeNet4", "C3_TABLE", "CHARSET", "DEFAULT_MAP_J", "DistortionConfig",
    "EuclideanRBF", "FoldedModern", "FoldedNet", "LeNet1", "LeNet4", "LeNet5", "ModernLeNet", "NONE_ID", "PartialConv2d", "SDLM",
    "SDNN", "ScaledTanh", "StripNet", "StripNetConfig", "Subsampling", "WindowedSDNN", "build_model", "charset_codes", "distort", "frame_counts",
    "frame_mask", "gauss_newton_diagonal", "inference_model", "lenet5_with_classes", "load_checkpoint", "load_model",
    "map_loss", "mse_loss", "pad_batch", "paper_eta", "save_checkpoint", "scaled_tanh", "shifted_copies",
]
