"""Stage 1 of the segmentation recogniser's training: LeNet-5 with 17 outputs trained on single
pieces (correct characters and 'none' pieces from :mod:`docrec.training.seg_data`, plus plain MNIST
training digits) with the MAP criterion (docs/paper.md eq. 9). Checkpoints are written atomically.

Optimiser: Adam (the project's SDLM is the faithful choice for the MNIST benchmark; here a short
fine-tuning run from the MNIST weights matters more, and Adam converges in fewer epochs).
Optionally a share of every batch gets a fresh random planar affine distortion
(:func:`lenet.distort.distort`, docs/paper.md Sec. III-C), milder than the MNIST recipe's because the
pieces are already normalised by the segmenter.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from data.atomic import atomic_write, write_json_atomic
from lenet.distort import DistortionConfig, distort
from lenet.losses import DEFAULT_MAP_J, map_loss
from lenet.shard import Shard
from lenet.train import device_of


@dataclass
class LocalTrainConfig:
    """Configuration of :func:`train_local`.

    Attributes:
        epochs, batch_size, lr: Adam schedule (lr is multiplied by ``lr_decay`` every epoch after
            the first).
        lr_decay: that factor (0.5: halving, the synthetic recipe).
        map_j: eq. 9's ``j``.
        seed: shuffling and distortion seed.
        distort: share of the patterns of each batch that get a random affine distortion (0 = none).
        max_shift, max_shear, scale: the distortion ranges (``lenet.distort.DistortionConfig``).
    """

    epochs: int = 3
    batch_size: int = 64
    lr: float = 1e-3
    lr_decay: float = 0.5
    map_j: float = DEFAULT_MAP_J
    seed: int = 0
    distort: float = 0.0
    max_shift: float = 1.5
    max_shear: float = 0.2
    scale: tuple[float, float] = (0.92, 1.08)

    def __post_init__(self) -> None:
        if not 0.0 <= self.distort <= 1.0:
            raise ValueError(f"[docrec.LocalTrainConfig] distort={self.distort} must lie in [0, 1]")
        if not 0.0 < self.lr_decay <= 1.0:
            raise ValueError(f"[docrec.LocalTrainConfig] lr_decay={self.lr_decay} must lie in (0, 1]")
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise ValueError(f"[docrec.LocalTrainConfig] epochs={self.epochs}, batch_size={self.batch_size}, "
                             f"lr={self.lr}: need epochs >= 1, batch_size >= 1, lr > 0")

    def distortion(self):
        """The ``lenet.distort.DistortionConfig`` of :attr:`distort` (None when 0)."""

        if self.distort <= 0:
            return None
        return DistortionConfig(max_shift=self.max_shift, scale=tuple(self.scale), squeeze=(0.9, 1.1),
                                max_shear=self.max_shear, probability=self.distort)


def save_atomic(obj, path: str | os.PathLike) -> Path:
    """``torch.save`` to a temp file next to ``path``, then ``os.replace`` (never a torn file)."""
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def write_card(path: str | os.PathLike, card: dict) -> Path:
    """Write a JSON weights card atomically."""
    return write_json_atomic(path, card)


def piece_error(model, x_q: np.ndarray, y: np.ndarray, *, batch: int = 1024) -> float:
    """Error rate of ``model`` on uint8 pieces ``(N, 1, 32, 32)`` with labels ``(N,)``."""
    from docrec.training.seg_data import dequantize

    if len(y) == 0:
        return float("nan")
    wrong = 0
    model.eval()
    device = device_of(model)
    with torch.no_grad():
        for k in range(0, len(y), batch):
            pred = model(dequantize(x_q[k: k + batch]).to(device)).argmin(1).cpu().numpy()
            wrong += int((pred != y[k: k + batch]).sum())
    return wrong / len(y)


def train_local(model, x_q: np.ndarray, y: np.ndarray, config: LocalTrainConfig, *,
                val: tuple[np.ndarray, np.ndarray] | None = None, checkpoint: str | os.PathLike | None = None,
                progress: bool = True, log=print, evaluate: Callable[[torch.nn.Module], float] | None = None,
                shard: Shard | None = None) -> list[dict]:
    """Train ``model`` ``(B, 1, 32, 32) -> (B, 17)`` on uint8 pieces with the MAP loss.

    ``model`` is a 17-class LeNet-5 or ``ModernLeNet`` (:mod:`docrec.recognizers.seg_model`); for the
    latter, whose penalties are ``-log softmax``, the MAP loss is cross-entropy plus a constant.

    Args:
        x_q, y: uint8 pieces ``(N, 1, 32, 32)`` and int64 labels ``(N,)``.
        val: validation pieces and labels (piece error per epoch).
        checkpoint: written atomically after every epoch.
        evaluate: if given, a validation score (higher is better, e.g. real fields' digit-string
            accuracy) computed before training (epoch 0) and after every epoch; the model then ends
            with, and the checkpoint holds, the weights of the best epoch (``best_val_accuracy``).
        shard: this process's place under ``torchrun`` (:class:`lenet.shard.Shard`): every process
            draws the same batches and the same distortion random numbers, and gathers, distorts and
            trains on its rows ``batch[rank::world]`` only,
            gradients summed; every process evaluates, process 0 alone logs and writes the checkpoint.

    Returns:
        One dict per epoch (loss, train piece error of the last batches, validation piece error,
        ``val_accuracy`` with ``evaluate``).
    """

    from docrec.recognizers.seg_model import arch_meta
    from docrec.training.seg_data import dequantize

    shard = shard or Shard()
    main = shard.rank == 0
    log = log if main else (lambda *a, **k: None)
    g = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)  # the modern CNN's dropout draws from the global generator
    device = device_of(model)  # batches are drawn and distorted on the CPU, then moved there
    dcfg = config.distortion()
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    yt = torch.from_numpy(y)
    history = []
    best = None
    if evaluate is not None:
        history.append({"epoch": 0, "val_accuracy": float(evaluate(model))})
        log(json.dumps(history[-1]))
        best = (history[0]["val_accuracy"], {k: v.clone() for k, v in model.state_dict().items()})
    for epoch in range(config.epochs):
        for group in opt.param_groups:
            group["lr"] = config.lr * (config.lr_decay ** epoch)
        model.train()
        order = torch.randperm(len(y), generator=g)
        total, seen = 0.0, 0
        bar = tqdm(range(0, len(y), config.batch_size), disable=not (progress and main), desc=f"local epoch {epoch + 1}",
                   unit="batch")
        for k in bar:
            idx = order[k: k + config.batch_size]
            mine = idx[shard.rows]  # this process's rows (all of them alone)
            xb = dequantize(x_q[mine.numpy()])
            yb = yt[mine]
            if dcfg is not None:  # the whole batch's random draws, applied to these rows
                xb = distort(xb, dcfg, generator=g, batch=idx.numel(), rows=shard.rows)
            opt.zero_grad()
            if shard.world > 1:
                loss = shard.mean_backward(model, lambda x, t: map_loss(model(x), t, j=config.map_j),
                                           xb.to(device), yb.to(device), total=idx.numel())
            else:
                loss = map_loss(model(xb.to(device)), yb.to(device), j=config.map_j)
                loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
            if (k // config.batch_size) % 50 == 0:
                bar.set_postfix(loss=f"{total / seen:.3f}")
        rec = {"epoch": epoch + 1, "loss": total / max(seen, 1)}
        if val is not None:
            rec["val_piece_error"] = piece_error(model, *val)
        if evaluate is not None:
            rec["val_accuracy"] = float(evaluate(model))
            if rec["val_accuracy"] > best[0]:
                best = (rec["val_accuracy"], {k: v.clone() for k, v in model.state_dict().items()})
        history.append(rec)
        log(json.dumps(rec))
        if checkpoint is not None and main:
            extra = {} if best is None else {"best_val_accuracy": best[0]}
            save_atomic({"model": model.state_dict() if best is None else best[1], "history": history,
                         "config": asdict(config), **extra, **arch_meta(model)}, checkpoint)
    if best is not None:
        model.load_state_dict(best[1])
    model.eval()
    return history
