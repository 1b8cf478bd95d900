"""Stochastic diagonal Levenberg-Marquardt (docs/paper.md Sec. III, App. C).

Every parameter ``k`` gets its own step ``eps_k = eta / (mu + h_kk)``, where ``h_kk`` is a
Gauss-Newton estimate of the diagonal second derivative of the per-pattern loss, re-estimated on a
few hundred training patterns (500 in the paper) before each pass, and ``mu = 0.02``.

The estimate (:func:`gauss_newton_diagonal`) back-propagates second derivatives like gradients,
dropping off-diagonal terms and the terms in ``f''`` (App. C):

* at the RBF input: ``d2E/dx_j^2 = 2`` (the curvature of ``y_D = sum_j (x_j - w_Dj)^2``);
* through a squashing unit: ``d2E/da_i^2 = f'(a_i)^2 d2E/dx_i^2``;
* through an affine layer: ``d2E/dx_j^2 = sum_i w_ij^2 d2E/da_i^2``;
* for a weight: ``d2E/dw_k^2 = sum over the connections (i, j) sharing w_k of x_j^2 d2E/da_i^2``.

Those are exactly vector-Jacobian products of the layer's affine map with squared weights (for the
inputs) and with squared inputs (for the weights), so the estimate reuses each layer's
``linear(x, *, square=...)`` and autograd, one vectorised pass for all patterns.

Two modes (see :class:`SDLM`):

* pattern-by-pattern (``batch_size = 1``, the paper): one update per pattern with ``eps_k``;
* minibatch: one update per batch of B patterns with the *mean* gradient and step
  ``lr_scale * eps_k``. With ``lr_scale = B`` the expected change per pass would be that of the
  online method (B online steps of ``eps_k g_p`` replaced by one step of ``B eps_k mean(g_p)``),
  but all B gradients are taken at the same point, so large per-step rates overshoot where online
  updates would have corrected themselves. :func:`lenet.train.sdlm_lr_scale` therefore caps the
  per-step rate (``min(B eta, cap)``), with the cap measured on a validation split.

Measured facts worth knowing (MNIST, LeNet-5 with the paper's +-2.4/F_i initialisation): at that
initialisation every activation is small, the estimates ``h_kk`` are far below ``mu`` and nearly all
rates sit at the cap ``eta / mu = 0.025``; the first few hundred updates (all pushing F6 towards
the mean code through C5 and F6 at once) then overshoot and saturate the network, even pattern by
pattern with the paper's eta. A warm-up at a tenth of the rate (:func:`lenet.train._sdlm_warmup`)
fixes that in minibatch mode; after it, the per-parameter rates range from about 9e-5 to 0.025,
close to the paper's 7e-5 to 0.016. Pattern by pattern, the paper's eta kept diverging in our runs
even later in training; a tenth of it trains (:func:`lenet.train.sdlm_lr_scale`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import torch
from torch import nn

from lenet.layers import scaled_tanh, scaled_tanh_derivative

#: The paper's global learning-rate schedule over 20 passes: (first pass, last pass, eta).
PAPER_ETA_SCHEDULE: tuple[tuple[int, int, float], ...] = (
    (1, 2, 5e-4), (3, 5, 2e-4), (6, 8, 1e-4), (9, 12, 5e-5), (13, 20, 1e-5),
)


def paper_eta(epoch: int, total_epochs: int = 20) -> float:
    """The paper's eta for a 0-based ``epoch`` of a ``total_epochs`` run.

    With ``total_epochs = 20`` this is the paper's table (5e-4, 5e-4, 2e-4, ...). Other lengths
    stretch it proportionally: epoch ``e`` uses the eta of paper pass ``floor(e * 20 / E) + 1``;
    passes beyond the run's end keep the last value.
    """
    if epoch < 0 or total_epochs < 1:
        raise ValueError(f"[lenet.paper_eta] bad epoch {epoch} of {total_epochs}")
    paper_pass = min(int(epoch * 20 / total_epochs) + 1, 20) if epoch < total_epochs else 20
    for first, last, eta in PAPER_ETA_SCHEDULE:
        if first <= paper_pass <= last:
            return eta
    return PAPER_ETA_SCHEDULE[-1][2]


@dataclass
class SDLMConfig:
    """Configuration of the SDLM optimiser (App. C).

    Attributes:
        mu: the damping constant (0.02 in the paper).
        hessian_samples: patterns used for each re-estimate of the diagonal (500 in the paper).
        lr_scale: multiplier of ``eta`` in minibatch mode (None: the batch size, see module doc).
        batch_size: 1 is the paper's pattern-by-pattern mode.
    """

    mu: float = 0.02
    hessian_samples: int = 500
    lr_scale: float | None = None
    batch_size: int = 1


def _faithful_records(model: nn.Module, x: torch.Tensor):
    """Forward through ``model.stages()`` keeping each layer's input, its pre-activation, and the
    shape of the input before any flattening."""
    records = []
    h = model.preprocess(x)
    for layer in model.stages():
        shape = h.shape
        if isinstance(layer, nn.Linear) and h.dim() > 2:
            h = h.flatten(1)  # (B, C, H, W) -> (B, C*H*W)
        a = layer.linear(h)
        records.append((layer, h, a, shape))
        h = scaled_tanh(a)
    return records, h


def gauss_newton_diagonal(model: nn.Module, x: torch.Tensor, *, output_curvature: float = 2.0,
                          chunk: int = 250) -> dict[nn.Parameter, torch.Tensor]:
    """Gauss-Newton estimate of the diagonal Hessian, averaged over the patterns of ``x`` (App. C).

    Args:
        model: a faithful network (:class:`lenet.models.FaithfulNet`: ``preprocess`` and ``stages``).
        x: ``(P, 1, 32, 32)`` patterns (the paper uses P = 500).
        output_curvature: ``d2E/dx_j^2`` at the last squashed layer; 2 for the RBF loss ``y_D``.
        chunk: patterns per vectorised pass (memory bound only).

    Returns:
        ``{parameter: h}`` with ``h`` of the parameter's shape, ``h >= 0``: the mean over patterns
        of the per-pattern estimate, summed over the connections that share the parameter.
    """
    if not hasattr(model, "stages"):
        raise TypeError(f"[lenet.gauss_newton_diagonal] {type(model).__name__} has no stages(); "
                        "SDLM applies to the paper's networks (lenet5, lenet1, lenet4)")
    if x.shape[0] == 0:
        raise ValueError("[lenet.gauss_newton_diagonal] no patterns given")
    params = [p for layer in model.stages() for p in layer.parameters()]
    total = {p: torch.zeros_like(p) for p in params}
    for xs in x.split(chunk):
        with torch.no_grad():
            records, out = _faithful_records(model, xs)
        s = torch.full_like(out, output_curvature)  # d2E/dx^2 at the last layer's outputs
        for layer, inp, a, shape in reversed(records):
            s_a = scaled_tanh_derivative(a).pow(2) * s  # d2E/da^2
            layer_params = list(layer.parameters())
            with torch.enable_grad():
                out_sq_in = layer.linear(inp.pow(2))  # weights see x_j^2
                grads = torch.autograd.grad(out_sq_in, layer_params, grad_outputs=s_a)
                for p, g in zip(layer_params, grads):
                    total[p] += g
                if layer is records[0][0]:
                    break
                z = inp.detach().requires_grad_(True)
                (s_in,) = torch.autograd.grad(layer.linear(z, square=True), z, grad_outputs=s_a)
            s = s_in.reshape(shape)
    n = x.shape[0]
    return {p: h / n for p, h in total.items()}


class SDLM(torch.optim.Optimizer):
    """Stochastic diagonal Levenberg-Marquardt: ``p -= lr_scale * eta / (mu + h_p) * grad``.

    Call :meth:`set_hessian` (e.g. with :func:`gauss_newton_diagonal`) before each pass and set
    ``eta`` per pass (:func:`paper_eta`); until a Hessian is set, ``h = 0`` (step ``eta / mu``).

    Args:
        params: parameters or parameter groups.
        eta: the global rate.
        mu: damping (0.02 in the paper).
        lr_scale: multiplier for minibatch mode (1 for pattern-by-pattern updates).
    """

    def __init__(self, params: Iterable, *, eta: float = 5e-4, mu: float = 0.02, lr_scale: float = 1.0):
        if eta < 0 or mu <= 0 or lr_scale <= 0:
            raise ValueError(f"[lenet.SDLM] need eta >= 0, mu > 0, lr_scale > 0; got {eta}, {mu}, {lr_scale}")
        super().__init__(params, dict(eta=eta, mu=mu, lr_scale=lr_scale))

    def set_eta(self, eta: float) -> None:
        for group in self.param_groups:
            group["eta"] = eta

    @torch.no_grad()
    def set_hessian(self, hessian: dict[nn.Parameter, torch.Tensor]) -> None:
        """Store ``h`` for every parameter (missing ones keep their previous value) and refresh
        the per-parameter steps ``1 / (mu + h)``."""
        for group in self.param_groups:
            for p in group["params"]:
                if p in hessian:
                    h = hessian[p].detach().to(p.dtype)
                    if h.shape != p.shape:
                        raise ValueError(f"[lenet.SDLM.set_hessian] shape {tuple(h.shape)} for a "
                                         f"parameter of shape {tuple(p.shape)}")
                    self.state[p]["hessian"] = h.clone()
                    self.state[p]["inv"] = 1.0 / (group["mu"] + h)

    def step_sizes(self) -> dict[nn.Parameter, torch.Tensor]:
        """The current per-parameter rates ``lr_scale * eta / (mu + h)``."""
        out = {}
        for group in self.param_groups:
            for p in group["params"]:
                inv = self.state[p].get("inv")
                if inv is None:
                    inv = torch.full_like(p, 1.0 / group["mu"])
                out[p] = inv * (group["eta"] * group["lr_scale"])
        return out

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            scale = group["eta"] * group["lr_scale"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                inv = self.state[p].get("inv")
                if inv is None:
                    p.add_(p.grad, alpha=-scale / group["mu"])
                else:
                    p.addcmul_(p.grad, inv, value=-scale)
        return loss


__all__ = ["PAPER_ETA_SCHEDULE", "SDLM", "SDLMConfig", "gauss_newton_diagonal", "paper_eta"]
