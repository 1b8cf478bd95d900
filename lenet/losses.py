"""Loss functions on penalties (docs/paper.md Sec. II-C). Inputs ``(B, C)`` penalties, ``(B,)`` labels.

* :func:`mse_loss`: the maximum-likelihood / MSE criterion ``E = mean_p y_{D_p}``: the penalty of
  the correct class. With the Euclidean RBF that is the squared distance of F6's output to the
  correct code. On :class:`lenet.ModernLeNet` (penalties ``-log softmax``) the very same function is
  the cross-entropy.
* :func:`map_loss`: the MAP / discriminative criterion of eq. 9,
  ``E = mean_p [ y_{D_p} + log(e^{-j} + sum_i e^{-y_i}) ]``.

Choice of ``j`` (the paper gives no value): :data:`DEFAULT_MAP_J` = 16. The extra ``e^{-j}`` term
acts like a rubbish class with the constant penalty ``j``; a class whose penalty is well above ``j``
receives almost no push, so ``j`` is the penalty beyond which a class counts as "already rejected".
The nearest two digit codes of :mod:`lenet.rbf` are 16 bits apart: squared distance 64, distance 8.
An F6 output whose penalty for class i exceeds ``(8 / 2)^2 = 16`` is farther from code i than half
the distance to the nearest other code, so it is no longer a confident ``i``; pushing that class
further up only spends capacity (the reason the paper gives for ``j``). Hence ``j = 16``.
"""

from __future__ import annotations

import torch

#: eq. 9's constant j, in penalty units (see the module docstring).
DEFAULT_MAP_J = 16.0


def _check(penalties: torch.Tensor, target: torch.Tensor, where: str) -> None:
    if penalties.dim() != 2:
        raise ValueError(f"[{where}] expected penalties (B, C), got {tuple(penalties.shape)}")
    if target.shape != penalties.shape[:1]:
        raise ValueError(f"[{where}] expected labels ({penalties.shape[0]},), got {tuple(target.shape)}")
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= penalties.shape[1]):
        raise ValueError(f"[{where}] label {int(target.max())} outside 0..{penalties.shape[1] - 1}")


def mse_loss(penalties: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean penalty of the correct class: ``(B, C), (B,) -> ()`` (Sec. II-C, the MLE criterion)."""
    _check(penalties, target, "lenet.mse_loss")
    return penalties.gather(1, target.view(-1, 1)).mean()


def map_loss(penalties: torch.Tensor, target: torch.Tensor, *, j: float = DEFAULT_MAP_J) -> torch.Tensor:
    """The MAP criterion of eq. 9: ``(B, C), (B,) -> ()``.

    ``mean_p [ y_D + log(e^{-j} + sum_i e^{-y_i}) ]``, computed stably with ``logsumexp``.

    Args:
        penalties: ``(B, C)``, lower = better.
        target: ``(B,)`` correct classes.
        j: the constant of eq. 9 (see the module docstring for the default).
    """
    _check(penalties, target, "lenet.map_loss")
    if j <= 0:
        raise ValueError(f"[lenet.map_loss] j must be positive, got {j}")
    correct = penalties.gather(1, target.view(-1, 1)).squeeze(1)
    rubbish = penalties.new_full((penalties.shape[0], 1), -float(j))
    competition = torch.logsumexp(torch.cat([rubbish, -penalties], dim=1), dim=1)
    return (correct + competition).mean()


LOSSES = {"mse": mse_loss, "map": map_loss}

__all__ = ["DEFAULT_MAP_J", "LOSSES", "map_loss", "mse_loss"]
