"""Training the whole-strip network (``lenet.StripNet``) of the SDNN recogniser on whole fields.

There are no windows to classify: the net is trained from scratch with the global criterion of
way 2 (:func:`docrec.training.sdnn_train.global_loss`: strip -> frame penalties -> character model ->
``F(constrained by the true text) - F(all)``, docs/paper.md Sec. VI), on synthetic fields rendered on the
fly from MNIST *training* digits 0..54,999 (the last 5,000 are the validation pool):

* kinds ``zip`` / ``digits`` (3-8) / ``amount`` in turn;
* spacing drawn from :data:`SPACING_SHARES` (touching and overlapping ink included: the reason for a
  net that sees context), background from :data:`BACKGROUND_SHARES`, Gaussian pixel noise up to 8
  grey levels on a third of the fields, rendered at a height of 32, 40 or 56 px (the recogniser's
  height normalisation then maps every field to the same 20-px body);
* every 4 steps ``4 x batch_size`` fields are rendered and sorted by width, and each step trains on
  one width-contiguous quarter (less padding; :class:`_FieldBatches`), Adam with a cosine-decayed rate, batch norm in training mode.

Model selection on validation zip codes (``evaluate``); checkpoints every epoch (atomic), ``resume``.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from data.synth import DigitPool, SynthConfig, field_rng, synthesize_one
from decoders import CharacterModel
from docrec.devices import resolve_device
from lenet.strip import StripNet
from lenet.shard import Shard
from lenet.train import device_of

#: Spacing presets of the training fields and their shares.
SPACING_SHARES = {"wide": 0.15, "normal": 0.25, "tight": 0.2, "touching": 0.25, "overlapping": 0.15}
#: Backgrounds of the training fields and their shares (:mod:`data.backgrounds`).
BACKGROUND_SHARES = {"white": 0.55, "texture": 0.15, "lined": 0.15, "form": 0.15}
KINDS = ("zip", "digits", "amount")
HEIGHTS = (32, 40, 56)


@dataclass
class StripTrainConfig:
    """One run of :func:`train_strip`.

    Attributes:
        epochs: epochs of ``steps`` batches.
        steps: batches per epoch.
        batch_size: fields per batch.
        lr: Adam's base rate (cosine decay to 0 over the run).
        weight_decay: Adam's L2 weight decay.
        net: ``lenet.StripNetConfig`` fields (``num_classes`` is always 17); ignored with ``init``.
        init: a StripNet SDNN weights file to start from (fine-tuning), else a fresh net.
        seed: every random choice derives from it.
        threads: ``torch.set_num_threads``.
        freeze_bn: keep batch norm in eval mode (running statistics) while training; under
            ``torchrun`` batch norm statistics are otherwise per process (gloo has no synchronised
            batch norm on the CPU).
        field_jitter, field_scale: per-character vertical jitter and scale range of the training
            fields (``data.SynthConfig.jitter`` / ``scale``; the defaults are its own).
    """

    epochs: int = 8
    steps: int = 500
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    net: dict = field(default_factory=dict)
    init: str | None = None
    seed: int = 0
    threads: int = 2
    freeze_bn: bool = False
    field_jitter: float = SynthConfig.jitter
    field_scale: tuple[float, float] = SynthConfig.scale

    def validate(self) -> "StripTrainConfig":
        for name in ("epochs", "steps", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"[docrec.train_strip] {name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"[docrec.train_strip] lr must be > 0, got {self.lr}")
        SynthConfig(jitter=self.field_jitter, scale=tuple(self.field_scale)).validate()
        return self


def training_field(index: int, pool: DigitPool, rng: np.random.Generator, *, jitter: float = SynthConfig.jitter,
                   scale: tuple[float, float] = SynthConfig.scale):
    """Training field ``index`` (module docstring): kind by index, the rest drawn from ``rng``;
    ``jitter`` and ``scale`` are the characters' (``data.SynthConfig``)."""
    spacing = rng.choice(list(SPACING_SHARES), p=list(SPACING_SHARES.values()))
    background = rng.choice(list(BACKGROUND_SHARES), p=list(BACKGROUND_SHARES.values()))
    noise = float(rng.uniform(0, 8)) if rng.random() < 1 / 3 else 0.0
    cfg = SynthConfig(spacing=str(spacing), background=str(background), noise=noise,
                      height=int(rng.choice(HEIGHTS)), min_len=3, max_len=8, jitter=jitter, scale=tuple(scale))
    return synthesize_one(KINDS[index % len(KINDS)], pool, rng, cfg)


class _FieldBatches:
    """The fields of global step ``s``: every 4 steps, ``4 x batch_size`` fresh fields are rendered
    and sorted by aspect ratio; each of the 4 steps trains on one width-contiguous quarter (in a
    seeded order), so a batch carries little padding and no field is rendered for nothing."""

    def __init__(self, cfg: StripTrainConfig, pool: DigitPool, shard: Shard | None = None):
        self.cfg, self.pool, self.shard = cfg, pool, shard or Shard()
        self._chunk, self._fields, self._order = -1, [], np.arange(4)

    def __call__(self, step: int) -> list:
        b = self.cfg.batch_size
        chunk, part = divmod(step, 4)
        if chunk != self._chunk:
            base = chunk * 4 * b
            fields = self.shard.gather(  # the same fields on every process, each rendering its share
                lambda i: training_field(base + i, self.pool, field_rng(self.cfg.seed + 7, base + i),
                                         jitter=self.cfg.field_jitter, scale=self.cfg.field_scale), 4 * b)
            fields.sort(key=lambda f: f.image.shape[1] / max(1, f.image.shape[0]))
            self._chunk, self._fields = chunk, fields
            self._order = np.random.default_rng([self.cfg.seed, 31, chunk]).permutation(4)
        q = int(self._order[part])
        return self._fields[q * b: (q + 1) * b]


def train_strip(cfg: StripTrainConfig, out_dir: str | os.PathLike, *, resume: bool = False, log=print,
                bar: bool = True, evaluate=None, device: str | None = None, shard: Shard | None = None) -> dict:
    """Train a ``lenet.StripNet`` (module docstring).

    ``evaluate(net) -> float`` (validation string accuracy, higher is better) selects the best epoch.
    Writes ``out_dir/strip.ckpt`` every epoch, ``out_dir/sdnn-strip.pt`` for the best epoch and
    ``out_dir/sdnn-strip-last.pt`` for the last (SDNN weights files: ``SDNNRecognizer(weights=...)``).
    The network trains on ``device`` (:mod:`docrec.devices`; None: CUDA when available), the
    character model and criterion on the CPU. Under ``torchrun`` (``shard``) the processes render
    the fields of each group of 4 steps together and each reads its rows ``batch[rank::world]`` of
    every batch (:func:`docrec.training.sdnn_train.sharded_global_step`); process 0 alone logs and
    writes.
    """
    from docrec.recognizers.sdnn_net import load_weights, new_strip_net, save_weights
    from docrec.training.sdnn_train import (
        cosine_lr,
        evaluated,
        global_loss,
        load_progress,
        save_progress,
        split_pools,
        strips_batch,
    )

    from docrec.recognizers.seg_model import freeze_batch_norm
    from docrec.training.sdnn_train import sharded_global_step

    cfg.validate()
    shard = shard or Shard()
    main = shard.rank == 0
    log, bar = (log, bar) if main else ((lambda *a, **k: None), False)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out = Path(out_dir)
    if cfg.init is None:
        net = new_strip_net(cfg.net)
    else:
        net, _, _ = load_weights(cfg.init)
        if not isinstance(net, StripNet):
            raise ValueError(f"[docrec.train_strip] --init {cfg.init} holds a {type(net).__name__}, not a StripNet "
                             f"(the windowed classifiers train with --way 1 / 2)")
    net.to(resolve_device(device, training=True))
    charmodel = CharacterModel()
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    train_pool, _ = split_pools()
    ckpt_path = out / "strip.ckpt"
    history, start_epoch, best = load_progress(ckpt_path, net, opt, -math.inf, resume=resume, log=log)
    alphabet = charmodel.alphabet
    batches = _FieldBatches(cfg, train_pool, shard)
    meta = {"way": "strip", "config": json.dumps(asdict(cfg))}
    for epoch in range(start_epoch, cfg.epochs):
        net.train()
        if cfg.freeze_bn:
            freeze_batch_norm(net)
        it = range(cfg.steps)
        if bar:

            it = tqdm(it, desc=f"strip epoch {epoch + 1}/{cfg.epochs}", mininterval=5.0)
        t0, total, skipped = time.time(), 0.0, 0
        for s in it:
            step = epoch * cfg.steps + s
            cosine_lr(opt, cfg.lr, step / (cfg.epochs * cfg.steps))
            fields = batches(step)
            if shard.world > 1:
                mine = list(shard.part(fields))
                x = frames = None
                if mine:
                    x, frames, _ = strips_batch([f.image for f in mine])
                    x = x.to(device_of(net))
                opt.zero_grad()
                loss, _ = sharded_global_step(shard, net, net, charmodel, x, frames,
                                              [alphabet.encode(f.text) for f in mine])
                torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
                opt.step()
                total += loss
                continue
            x, frames, _ = strips_batch([f.image for f in fields])
            loss = global_loss(net, charmodel, x.to(device_of(net)), frames, [alphabet.encode(f.text) for f in fields])
            if not torch.isfinite(loss):
                skipped += 1
                continue
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            total += float(loss.detach())
        rec = {"epoch": epoch + 1, "train_loss": total / max(1, cfg.steps - skipped), "skipped_steps": skipped,
               "seconds": round(time.time() - t0, 1)}
        if evaluate is not None:
            rec["val_string_accuracy"] = evaluated(evaluate, net)
        history.append(rec)
        log(json.dumps(rec))
        score = rec.get("val_string_accuracy", -rec["train_loss"])
        epoch_meta = {**meta, "epoch": epoch + 1, "val_string_accuracy": rec.get("val_string_accuracy", -1.0)}
        if score > best:
            best = score
            if main:
                save_weights(out / "sdnn-strip.pt", net, {}, epoch_meta)
        if main:
            save_weights(out / "sdnn-strip-last.pt", net, {}, epoch_meta)
            save_progress(ckpt_path, net, opt, epoch + 1, best, history)
    return {"history": history, "best_val_string_accuracy": best}


__all__ = ["BACKGROUND_SHARES", "SPACING_SHARES", "StripTrainConfig", "train_strip", "training_field"]
