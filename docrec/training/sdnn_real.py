"""Fine-tuning an SDNN recogniser on real labelled fields, mixed with synthetic ones: any SDNN weights
(the paper's LeNet-5 SDNN, the modern CNN in windows, or the whole-strip ``lenet.StripNet``).

The criterion is the paper's discriminative forward criterion (docs/paper.md Sec. VI) through the
character model, :func:`docrec.training.sdnn_train.global_loss`: the network learns from the
string label alone, no boxes needed. Real labels often hold only the digits of a field whose image
also shows thousands separators and end marks; with ``marks=True`` the constrained graph of such a
label is :func:`decoders.marked_label_graph` (the digits in order, optional separators between them
and an optional end-mark tail), so the network may read a separator as ``.``/``,`` or as 'none', and
an end mark as ``-``/``/``/``*`` or 'none', but never as a digit.

Every step takes ``batch_size`` fields: ``round(synth_share * batch_size)`` synthetic fields rendered
on the fly (:func:`docrec.training.strip_train.training_field`: MNIST training digits, all spacings
and papers) and the rest real fields, each drawn once per epoch in a seeded order and augmented
(:func:`docrec.training.field_augment.augment_field`). Fields are normalised exactly as the SDNN
recogniser normalises them (printed lines removed, height normalised), so training and reading see
the same strips. Batch norm (StripNet) stays in training mode; the windowed modern CNN's batch
norm is frozen as in way 2 (a step's windows are not a representative batch). Adam with a cosine-decayed rate, gradient norm clipped at 5; a checkpoint every
epoch (atomic), ``resume``; the weights of every epoch are written, and the epoch with the best
validation score (when an ``evaluate`` callback is given) is kept as ``sdnn-real.pt``.
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

import gtn
from data.sdnn_samples import STRIDE, STRIP_H, normalize_field_ink
from data.synth import SynthConfig, field_rng, synthesize_one
from decoders import CharacterModel, marked_label_graph
from docrec.devices import resolve_device
from docrec.training.field_augment import AugmentConfig, augment_field, join_fields
from gtn.builders import string_graph
from lenet.models import BACKGROUND
from lenet.strip import StripNet
from lenet.shard import Shard
from lenet.train import device_of


@dataclass
class RealSDNNConfig:
    """One fine-tuning run of :func:`train_strip_real`.

    Attributes:
        init: SDNN weights to start from (a path or a bundled name).
        epochs: passes over the real training fields.
        batch_size: fields per step (real and synthetic together).
        synth_share: share of each batch that is synthetic, in [0, 1).
        lr: Adam's base rate (cosine decay to 0 over the run).
        weight_decay: Adam's L2 weight decay.
        augment: augment the real fields (:class:`AugmentConfig` ranges).
        marks: constrain digit-only labels with :func:`decoders.marked_label_graph` (separators and
            end marks allowed) instead of the exact string.
        seed: every random choice derives from it.
        threads: ``torch.set_num_threads``.
        augment_config: :class:`AugmentConfig` fields overriding its defaults.
        p_join: probability that a real field is joined with another real field of the epoch
            (:func:`docrec.training.field_augment.join_fields`, labels concatenated).
        synth: the synthetic fields: ``"plain"`` (:func:`docrec.training.strip_train.training_field`:
            zip / digits / amount on the generator's four papers), ``"realistic"``
            (:func:`realistic_field`: cheque amounts, zip codes and digit strings that look like scans)
            or ``"realistic-amounts"`` (the same and US/European amounts with ``$``, ``*`` fill and
            cents: :data:`REALISTIC_KINDS`).
        ema: decay per step of an exponential moving average of the weights and batch-norm
            statistics (0: none). With it, validation, the kept epoch and the written weights are
            the average's; the raw weights go on training.
    """

    init: str = "sdnn-strip"
    epochs: int = 30
    batch_size: int = 16
    synth_share: float = 0.5
    lr: float = 7e-4
    weight_decay: float = 0.0
    augment: bool = True
    marks: bool = True
    seed: int = 0
    threads: int = 2
    augment_config: dict = field(default_factory=dict)
    p_join: float = 0.0
    synth: str = "plain"
    ema: float = 0.0

    def validate(self) -> "RealSDNNConfig":
        for name in ("epochs", "batch_size", "threads"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"[docrec.train_sdnn_real] {name} must be >= 1, got {getattr(self, name)}")
        if self.synth not in SYNTH_KINDS:
            raise ValueError(f"[docrec.train_sdnn_real] synth must be one of {SYNTH_KINDS}, got {self.synth!r}")
        if not 0.0 <= self.p_join <= 1.0:
            raise ValueError(f"[docrec.train_sdnn_real] p_join must be in [0, 1], got {self.p_join}")
        if not 0.0 <= self.synth_share < 1.0:
            raise ValueError(f"[docrec.train_sdnn_real] synth_share must be in [0, 1), got {self.synth_share}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"[docrec.train_sdnn_real] lr must be finite and > 0, got {self.lr}")
        if self.weight_decay < 0:
            raise ValueError(f"[docrec.train_sdnn_real] weight_decay must be >= 0, got {self.weight_decay}")
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(f"[docrec.train_sdnn_real] ema must be in [0, 1), got {self.ema}")
        AugmentConfig(**self.augment_config).validate()
        return self

    @property
    def synth_per_batch(self) -> int:
        return int(round(self.synth_share * self.batch_size))


#: Field kinds drawn in turn by each realistic generator of :func:`realistic_field`: Chilean
#: cheque amounts (digits and ``.``/``,`` separators), zip codes and digit strings; with
#: ``-amounts`` also the generator's US/European amounts (``$``, ``*`` fill, cents), so that the
#: leading marks real fields lack go on being read as marks, not digits.
REALISTIC_KINDS = {"realistic": ("cheque", "cheque", "zip", "digits"),
                   "realistic-amounts": ("cheque", "cheque", "amount", "zip", "digits")}
#: The synthetic field generators of :class:`RealSDNNConfig`.
SYNTH_KINDS = ("plain", *REALISTIC_KINDS)
REALISTIC_SPACINGS = ("wide", "normal", "normal", "tight", "touching")


def realistic_field(index: int, pool, rng: np.random.Generator, *, synth: str = "realistic"):
    """Realistic synthetic field ``index`` (``data.SynthConfig.realistic``): kind by index from
    ``REALISTIC_KINDS[synth]``, spacing drawn from :data:`REALISTIC_SPACINGS`."""

    kinds = REALISTIC_KINDS[synth]
    spacing = REALISTIC_SPACINGS[int(rng.integers(len(REALISTIC_SPACINGS)))]
    cfg = SynthConfig.realistic(spacing=spacing, min_len=3, max_len=8)
    return synthesize_one(kinds[index % len(kinds)], pool, rng, cfg)


def field_strip(image: np.ndarray):
    """The SDNN recogniser's normalised strip of a uint8 ``(H, W)`` field: float32 ``(32, W')``, or
    None when no ink is found (printed lines removed first, as in reading)."""
    from docrec.recognizers.sdnn import line_free_ink

    out = normalize_field_ink(image, ink=line_free_ink(image))
    return None if out is None else out[0]


def pad_strips(strips: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Strips float32 ``(32, W_b)`` -> padded batch ``(B, 1, 32, W_max)`` and frame counts ``(B,)``."""

    width = max(s.shape[1] for s in strips)
    x = torch.full((len(strips), 1, STRIP_H, width), BACKGROUND, dtype=torch.float32)
    for b, s in enumerate(strips):
        x[b, 0, :, : s.shape[1]] = torch.from_numpy(s)
    frames = torch.tensor([(s.shape[1] - STRIP_H) // STRIDE + 1 for s in strips], dtype=torch.long)
    return x, frames


def target_graph(text: str, alphabet, *, marks: bool):
    """The constrained graph of one label: :func:`decoders.marked_label_graph` for a digit-only
    label when ``marks``, else the exact string of ``text``'s label ids."""

    if marks and text.isdigit():

        return marked_label_graph(text, alphabet=alphabet, dtype=torch.float32)
    return string_graph(alphabet.encode(text, where="docrec.train_sdnn_real"), penalty_dtype=torch.float32)


def weight_average(net: torch.nn.Module, decay: float):
    """An exponential moving average of ``net``'s parameters and buffers (batch-norm statistics)
    with ``decay`` per update (``torch.optim.swa_utils.AveragedModel``), or None when ``decay`` is 0."""
    if decay <= 0:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def _weights_path(init: str) -> Path:
    path = Path(init)
    if not path.suffix and not path.exists():
        path = Path(__file__).resolve().parents[1] / "weights" / f"{init}.pt"
    return path


def train_sdnn_real(cfg: RealSDNNConfig, real_fields, out_dir: str | os.PathLike, *, resume: bool = False,
                    log=print, evaluate=None, pool=None, device: str | None = None,
                    shard: Shard | None = None) -> dict:
    """Fine-tune SDNN weights on real fields (module docstring).

    Args:
        cfg: the run's settings.
        real_fields: a sequence of ``(image uint8 (H, W), text)`` (e.g. a ``data.FieldSet``'s pairs).
        out_dir: writes ``real.ckpt`` (every epoch), ``sdnn-real-last.pt`` and, for the best
            epoch by ``evaluate(net) -> score`` (higher is better), ``sdnn-real.pt``.
        resume: continue from ``out_dir/real.ckpt``.
        log: progress lines (one JSON object per epoch).
        evaluate: optional validation callback, given the classifier (as ``SDNNRecognizer(model=...)`` takes it).
        pool: the digits of the synthetic fields (anything with ``DigitPool.glyph``, e.g. digits cut
            from real fields, :func:`data.field_digit_pool`); default MNIST training digits 0..54,999.
        device: where the network trains (:mod:`docrec.devices`; None: CUDA when available); the
            character model and criterion run on the CPU.
        shard: this process's place under ``torchrun`` (:class:`lenet.shard.Shard`): every process
            prepares the same batch (the augmentations draw from one stream per step) and reads its
            rows ``batch[rank::world]`` (:func:`docrec.training.sdnn_train.sharded_global_step`);
            batch norm statistics are per process; process 0 alone logs and writes.

    Returns:
        ``{"history": [...], "best": score, "no_ink_skipped": n}``.

    Raises:
        ValueError: a bad config, no real fields, or ``init`` not holding SDNN weights.
    """
    from docrec.recognizers.sdnn_net import build_sdnn, load_weights, save_weights
    from docrec.recognizers.seg_model import freeze_batch_norm
    from docrec.training.sdnn_train import cosine_lr, global_loss, load_progress, save_progress, split_pools
    from docrec.training.strip_train import training_field

    from docrec.training.sdnn_train import sharded_global_step

    cfg.validate()
    shard = shard or Shard()
    main = shard.rank == 0
    log = log if main else (lambda *a, **k: None)
    if len(real_fields) == 0:
        raise ValueError("[docrec.train_sdnn_real] no real training fields")
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    net, cm_opts, init_meta = load_weights(_weights_path(cfg.init))
    net.to(resolve_device(device, training=True))
    sdnn = build_sdnn(net)

    def train_mode():
        net.train()
        if not isinstance(net, StripNet):
            freeze_batch_norm(net)
    charmodel = CharacterModel()
    alphabet = charmodel.alphabet
    aug = AugmentConfig(**cfg.augment_config)
    n_syn = cfg.synth_per_batch
    n_real = cfg.batch_size - n_syn
    if pool is None and n_syn:
        pool = split_pools()[0]
    out = Path(out_dir)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    ckpt = out / "real.ckpt"
    average = weight_average(net, cfg.ema)
    history, start, best = load_progress(ckpt, net, opt, -math.inf, resume=resume, log=log, average=average)
    kept = net if average is None else average.module  # what is validated and written
    steps = math.ceil(len(real_fields) / n_real)
    meta = {"way": "real", "init": str(cfg.init), "config": json.dumps(asdict(cfg)),
            "confidence_temperature": init_meta.get("confidence_temperature", 1.0)}
    no_ink = 0
    for epoch in range(start, cfg.epochs):
        train_mode()
        order = np.random.default_rng([cfg.seed, 17, epoch]).permutation(len(real_fields))
        t0, total, used = time.time(), 0.0, 0
        for s in range(steps):
            rng = np.random.default_rng([cfg.seed, 23, epoch, s])
            cosine_lr(opt, cfg.lr, (epoch * steps + s) / (cfg.epochs * steps))
            strips, targets = [], []
            for i in order[s * n_real: (s + 1) * n_real]:
                img, text = real_fields[int(i)]
                if rng.random() < cfg.p_join:
                    img2, text2 = real_fields[int(rng.integers(len(real_fields)))]
                    img, text = join_fields(img, img2, rng), text + text2
                strip = field_strip(augment_field(img, rng, aug) if cfg.augment else img)
                if strip is None:
                    no_ink += 1
                    continue
                strips.append(strip)
                targets.append(target_graph(text, alphabet, marks=cfg.marks))
            for k in range(n_syn):
                index = (epoch * steps + s) * max(1, n_syn) + k
                if cfg.synth in REALISTIC_KINDS:
                    f = realistic_field(index, pool, field_rng(cfg.seed + 11, index), synth=cfg.synth)
                else:
                    f = training_field(index, pool, field_rng(cfg.seed + 11, index))
                strip = field_strip(f.image)
                if strip is not None:
                    strips.append(strip)
                    # a drawn end mark is not in the text: like a real field's, it may be read
                    # as an end-mark symbol or as 'none', never as a digit
                    marked = bool(getattr(f, "end_mark", "")) and cfg.marks
                    text = "".join(c for c in f.text if c.isdigit()) if marked else f.text
                    targets.append(target_graph(text, alphabet, marks=marked))
            if not strips:
                continue
            if shard.world > 1:
                mine, my_targets = list(shard.part(strips)), list(shard.part(targets))
                x = frames = None
                if mine:
                    x, frames = pad_strips(mine)
                    x = x.to(device_of(net))
                opt.zero_grad()
                loss, _ = sharded_global_step(shard, net, sdnn, charmodel, x, frames, my_targets)
                torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
                opt.step()
                if average is not None:
                    average.update_parameters(net)
                total += loss
                used += 1
                continue
            x, frames = pad_strips(strips)
            loss = global_loss(sdnn, charmodel, x.to(device_of(net)), frames, targets)
            if not torch.isfinite(loss):
                continue
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            if average is not None:
                average.update_parameters(net)
            total += float(loss.detach())
            used += 1
        rec = {"epoch": epoch + 1, "train_loss": total / max(1, used), "steps": used,
               "seconds": round(time.time() - t0, 1)}
        if evaluate is not None:
            kept.eval()
            rec["val_score"] = float(evaluate(kept))
        history.append(rec)
        log(json.dumps(rec))
        epoch_meta = {**meta, "epoch": epoch + 1, "val_score": rec.get("val_score", -1.0)}
        score = rec.get("val_score", -rec["train_loss"])
        if score > best:
            best = score
            if main:
                save_weights(out / "sdnn-real.pt", kept, cm_opts, epoch_meta)
        if main:
            save_weights(out / "sdnn-real-last.pt", kept, cm_opts, epoch_meta)
            save_progress(ckpt, net, opt, epoch + 1, best, history, average=average)
    return {"history": history, "best": best, "no_ink_skipped": no_ink}


__all__ = ["RealSDNNConfig", "field_strip", "pad_strips", "target_graph", "train_sdnn_real"]
