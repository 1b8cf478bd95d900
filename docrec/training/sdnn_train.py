"""Training the SDNN recogniser, two ways (issue 7; docs/paper.md Sec. VII and VI).

* **Way 1 (the paper's)**: single-character classification of 32x32 windows
  (:func:`data.sdnn_samples.make_windows`: a centred character with random neighbours, ink gaps of
  -1..4 px, plus 'none' windows), 10% salt-and-pepper noise on half of the windows, MAP loss of eq. 9
  (:func:`lenet.losses.map_loss`), starting from the MNIST LeNet-5 weights when given. Because the
  SDNN shares LeNet-5's weights, training LeNet-5 on windows trains the SDNN. ``arch="modern"``
  trains ``lenet.ModernLeNet`` instead (cross-entropy, i.e. the mean penalty of the right class,
  since its penalties are ``-log softmax``), from the MNIST modern CNN when given.
* **Way 2 (global)**: whole synthetic training fields (zip codes, digit strings, amounts), strip ->
  SDNN -> frame graph -> character model (:meth:`decoders.CharacterModel.compose_frames`) -> the
  discriminative forward criterion ``F(constrained by the true text) - F(all)`` computed with
  :func:`gtn.compose` and :func:`gtn.forward_penalty` (docs/paper.md Sec. VI), starting from way 1.

Model selection uses a validation split carved from MNIST *training* digits (the last
:data:`VAL_DIGITS` of the 60,000); MNIST test digits are never seen here. Checkpoints are written
atomically after every epoch and ``resume=True`` continues from the last one.
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

import gtn
from data.atomic import atomic_write
from data.sdnn_samples import STRIDE, STRIP_H, WindowConfig, make_windows, normalize_field, salt_and_pepper
from data.synth import DigitPool, SynthConfig, field_rng, synthesize_one
from decoders import CharacterModel
from docrec.devices import resolve_device, to_graph_device
from docrec.recognizers.sdnn_net import build_sdnn, frame_penalties, save_weights
from docrec.recognizers.seg_model import freeze_batch_norm, new_piece_model
from lenet.losses import map_loss
from lenet.models import BACKGROUND, LeNet5
from lenet.shard import Shard
from lenet.train import device_of

#: MNIST training digits held out for validation (the last ones of the 60,000).
VAL_DIGITS = 5000


@dataclass
class SDNNTrainConfig:
    """One SDNN training run (both ways).

    Attributes:
        way: 1 (windows, MAP loss) or 2 (global, discriminative forward criterion).
        epochs: passes (way 1: over the window set; way 2: ``steps`` batches each).
        lr: Adam's base rate (cosine decay to 0 over the run).
        batch_size: windows (way 1) or fields (way 2) per step.
        fields: rendered training fields for way 1's windows (about 8 windows each).
        noise: salt-and-pepper fraction; noisy_share: share of windows that get it (way 1).
        steps: batches per epoch (way 2).
        map_weight: way 2: weight of way 1's MAP loss on ``batch_size_windows`` windows per step added
            to the global criterion (0: the global criterion alone). The windows are way 1's
            (``fields`` rendered fields, cached in the output directory).
        batch_size_windows: way 2: windows per step for the MAP term.
        val_fields: validation fields (way 1: windows of them; way 2: strings read).
        init: checkpoint to start from (way 1: MNIST weights of ``arch``; way 2: way-1 weights).
        arch: way 1: the classifier, ``lenet5`` (the paper's) or ``modern``; way 2 reads it from ``init``.
        seed: every random choice derives from it.
        threads: ``torch.set_num_threads``.
    """

    way: int = 1
    epochs: int = 4
    lr: float = 1e-3
    batch_size: int = 64
    fields: int = 20000
    noise: float = 0.1
    noisy_share: float = 0.5
    steps: int = 300
    map_weight: float = 0.0
    batch_size_windows: int = 64
    val_fields: int = 300
    init: str | None = None
    arch: str = "lenet5"
    seed: int = 0
    threads: int = 1
    window: WindowConfig = field(default_factory=WindowConfig)


def split_pools(root=None) -> tuple[DigitPool, DigitPool]:
    """MNIST training digits split into (train, validation) pools (the last VAL_DIGITS validate)."""
    full = DigitPool.load("train", root)
    n = full.images.shape[0] - VAL_DIGITS
    return (DigitPool(full.images[:n], full.labels[:n], "train"),
            DigitPool(full.images[n:], full.labels[n:], "train"))


def _atomic_save(obj, path: Path) -> None:
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


def load_progress(ckpt_path: Path, net, opt, best: float, *, resume: bool, log=print, average=None
                  ) -> tuple[list, int, float]:
    """``(history, epochs done, best score)``: from the checkpoint when ``resume`` and it exists
    (network and optimiser states loaded into ``net`` / ``opt``, and the weight average into
    ``average`` when both are given), else ``([], 0, best)``.

    Raises:
        ValueError: ``average`` is given and the checkpoint holds none (a run started without it).
    """
    if not (resume and ckpt_path.is_file()):
        return [], 0, best
    ck = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    net.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optim"])
    if average is not None:
        if "average" not in ck:
            raise ValueError(f"[docrec.load_progress] {ckpt_path} holds no weight average: the run was started "
                             f"without one; resume it with the same settings")
        average.load_state_dict(ck["average"])
    log(f"resumed after epoch {int(ck['epoch'])}")
    return json.loads(ck["history"]), int(ck["epoch"]), float(ck["best"])


def save_progress(ckpt_path: Path, net, opt, epoch: int, best: float, history: list, *, average=None) -> None:
    """The checkpoint :func:`load_progress` reads, written atomically (with ``average``, a
    ``torch.optim.swa_utils.AveragedModel``, its state too)."""
    extra = {} if average is None else {"average": average.state_dict()}
    _atomic_save({"model": net.state_dict(), "optim": opt.state_dict(), "epoch": epoch, "best": best,
                  "history": json.dumps(history), **extra}, ckpt_path)


def cosine_lr(opt: torch.optim.Optimizer, base: float, progress: float) -> float:
    """Set every group's rate to ``base`` on a cosine decay at ``progress`` in [0, 1]; returns it."""
    lr = base * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    for g in opt.param_groups:
        g["lr"] = lr
    return lr


def window_sets(cfg: SDNNTrainConfig, out_dir: Path, *, progress=None):
    """Way-1 training and validation windows (cached as ``.npz`` in ``out_dir``)."""
    w = cfg.window
    tag = "" if w == WindowConfig() else (f"_g{w.spacing[0]}..{w.spacing[1]}_l{w.min_len}-{w.max_len}"
                                          f"_p{w.punctuation}_n{w.none_fraction}"
                                          + ("" if (w.jitter, tuple(w.scale)) == (WindowConfig.jitter, WindowConfig.scale)
                                             else f"_j{w.jitter}_s{w.scale[0]}..{w.scale[1]}"))
    cache = out_dir / f"windows_s{cfg.seed}_f{cfg.fields}_v{cfg.val_fields}{tag}.npz"
    if cache.is_file():
        z = np.load(cache)
        return (z["xt"], z["yt"]), (z["xv"], z["yv"])
    train_pool, val_pool = split_pools()
    chunks, step = [], 500
    for s in range(0, cfg.fields, step):
        chunks.append(make_windows(min(step, cfg.fields - s), seed=cfg.seed, start=s, pool=train_pool,
                                   config=cfg.window))
        if progress:
            progress(f"windows {s + step}/{cfg.fields} fields")
    xt = np.concatenate([c[0] for c in chunks])
    yt = np.concatenate([c[1] for c in chunks])
    xv, yv = make_windows(cfg.val_fields, seed=cfg.seed + 1000, pool=val_pool, config=cfg.window)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(cache, lambda tmp: np.savez(tmp, xt=xt.astype(np.float16), yt=yt, xv=xv.astype(np.float16), yv=yv),
                 suffix=".npz")
    return (xt, yt), (xv, yv)


def _noisy_windows(xt: np.ndarray, idx: np.ndarray, cfg: SDNNTrainConfig, rng: np.random.Generator) -> np.ndarray:
    """Windows ``xt[idx]`` as float32 ``(n, 1, 32, 32)``, ``cfg.noisy_share`` of them with salt-and-pepper noise."""
    xb = np.asarray(xt[idx], np.float32)
    noisy = rng.random(len(idx)) < cfg.noisy_share
    if noisy.any() and cfg.noise > 0:
        xb[noisy] = salt_and_pepper(xb[noisy], rng, fraction=cfg.noise)
    return xb


@torch.no_grad()
def window_error(net, x: np.ndarray, y: np.ndarray, batch: int = 512) -> float:
    """Fraction of misclassified windows (argmin penalty != label)."""
    net.eval()
    wrong = 0
    for i in range(0, len(y), batch):
        p = net(torch.from_numpy(np.asarray(x[i:i + batch], np.float32)).to(device_of(net)))
        wrong += int((p.argmin(1).cpu().numpy() != y[i:i + batch]).sum())
    net.train()
    return wrong / max(1, len(y))


def window_loss(net, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Way 1's loss: MAP (eq. 9) for LeNet-5's RBF penalties; for a ``-log softmax`` classifier
    (any other architecture) cross-entropy, the mean penalty of the right class. ``x (N, 1, 32, 32)``,
    ``y (N,)`` (on the CPU or the net's device) -> scalar on the net's device."""

    device = device_of(net)
    pen, y = net(x.to(device)), y.to(device)
    if isinstance(net, LeNet5):
        return map_loss(pen, y)
    return pen.gather(1, y.long().unsqueeze(1)).mean()


def evaluated(evaluate, net) -> float:
    """``evaluate(net)`` with ``net``'s training mode restored afterwards (a recogniser built on it
    switches it to eval mode, which would freeze batch norm and dropout for the rest of training)."""
    mode = net.training
    try:
        return evaluate(net)
    finally:
        net.train(mode)


def train_way1(cfg: SDNNTrainConfig, out_dir: str | os.PathLike, *, resume: bool = False,
               log=print, bar: bool = True, evaluate=None, device: str | None = None,
               shard: Shard | None = None) -> dict:
    """Way 1: window classification with the MAP loss. Returns the history (also in the checkpoint).

    ``evaluate(lenet5) -> float`` (validation string accuracy, higher is better), when given, is
    recorded every epoch and selects the epoch (ties: lower window error); otherwise the lowest
    validation window error does. Writes ``out_dir/way1.ckpt`` (atomic, every epoch) and
    ``out_dir/sdnn-way1.pt`` (recogniser weights of the selected epoch). The network trains on
    ``device`` (:mod:`docrec.devices`; None: CUDA when available). Under ``torchrun`` (``shard``)
    every process draws the same batches and noise and trains on its rows ``batch[rank::world]``;
    every process evaluates, process 0 alone logs and writes.
    """
    def _score(h: dict) -> float:  # model selection, lower is better
        if evaluate is None:
            return h["val_window_error"]
        return -h["val_string_accuracy"] + 1e-3 * h["val_window_error"]

    torch.set_num_threads(cfg.threads)
    shard = shard or Shard()
    main = shard.rank == 0
    log, bar = (log, bar) if main else ((lambda *a, **k: None), False)
    out = Path(out_dir)
    (xt, yt), (xv, yv) = window_sets(cfg, out, progress=log)
    log(f"way 1: {len(yt)} training windows, {len(yv)} validation windows "
        f"(none share {float(np.mean(yt == 16)):.2f})")
    net = new_piece_model(cfg.arch, cfg.init, seed=cfg.seed).to(resolve_device(device, training=True))  # 17 classes
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    ckpt_path = out / "way1.ckpt"
    history, start_epoch, best = load_progress(ckpt_path, net, opt, math.inf, resume=resume, log=log)
    if not history:
        history.append({"epoch": 0, "val_window_error": window_error(net, xv, yv)})
        if evaluate is not None:
            history[-1]["val_string_accuracy"] = evaluated(evaluate, net)
        log(f"epoch 0: {json.dumps(history[-1])}")
    rng = np.random.default_rng([cfg.seed, 11])
    n = len(yt)
    steps_per_epoch = (n + cfg.batch_size - 1) // cfg.batch_size
    for epoch in range(start_epoch, cfg.epochs):
        erng = np.random.default_rng([cfg.seed, 12, epoch])
        order = erng.permutation(n)
        it = range(steps_per_epoch)
        if bar:

            it = tqdm(it, desc=f"way1 epoch {epoch + 1}/{cfg.epochs}", mininterval=5.0)
        t0, total = time.time(), 0.0
        for s in it:
            cosine_lr(opt, cfg.lr, (epoch + s / steps_per_epoch) / cfg.epochs)
            idx = order[s * cfg.batch_size:(s + 1) * cfg.batch_size]
            xb = _noisy_windows(xt, idx, cfg, erng)
            opt.zero_grad()
            if shard.world > 1:
                loss = shard.mean_backward(net, lambda x, y: window_loss(net, x, y),
                                           torch.from_numpy(xb), torch.from_numpy(yt[idx]))
            else:
                loss = window_loss(net, torch.from_numpy(xb), torch.from_numpy(yt[idx]))
                loss.backward()
            opt.step()
            total += float(loss.detach())
        verr = window_error(net, xv, yv)
        rec = {"epoch": epoch + 1, "train_loss": total / steps_per_epoch, "val_window_error": verr,
               "seconds": time.time() - t0}
        meta = {"way": 1, "epoch": epoch + 1, "val_window_error": verr, "config": json.dumps(asdict(cfg))}
        if evaluate is not None:
            rec["val_string_accuracy"] = meta["val_string_accuracy"] = evaluated(evaluate, net)
        history.append(rec)
        log(f"epoch {epoch + 1}: {json.dumps(rec)}")
        if _score(rec) < best:
            best = _score(rec)
            if main:
                save_weights(out / "sdnn-way1.pt", net, {}, meta)
        if main:
            save_progress(ckpt_path, net, opt, epoch + 1, best, history)
    del rng
    chosen = min((h for h in history if h["epoch"] > 0), key=_score, default=history[0])
    return {"history": history, "best_epoch": chosen["epoch"],
            "best_val_window_error": chosen["val_window_error"],
            **({"best_val_string_accuracy": chosen["val_string_accuracy"]} if evaluate is not None else {})}


# ---------------------------------------------------------------------------------------------- way 2

def _window_map_loss(net, windows, cfg: SDNNTrainConfig, rng: np.random.Generator,
                     shard: Shard | None = None) -> torch.Tensor:
    """Way 1's loss (:func:`window_loss`) on ``cfg.batch_size_windows`` random training windows
    (with way 1's noise); with ``shard``, this process's share of it (its rows, weighted by their
    part of the batch: the shares sum to the whole batch's mean)."""
    xt, yt = windows
    idx = np.sort(rng.integers(len(yt), size=cfg.batch_size_windows))
    xb = _noisy_windows(xt, idx, cfg, rng)
    if shard is None or shard.world == 1:
        return window_loss(net, torch.from_numpy(xb), torch.from_numpy(yt[idx]))
    rows = shard.part(np.arange(len(idx)))
    if len(rows) == 0:
        return torch.zeros((), device=device_of(net))
    return window_loss(net, torch.from_numpy(xb[rows]), torch.from_numpy(yt[idx][rows])) * (len(rows) / len(idx))


#: Field kinds and spacing presets way 2 trains on (equal shares, drawn per field).
WAY2_KINDS = ("zip", "digits", "amount")
WAY2_SPACINGS = ("wide", "normal", "tight", "touching")


def render_field(kind_index: int, pool: DigitPool, rng: np.random.Generator):
    """A random training field: kind and spacing drawn from :data:`WAY2_KINDS` / :data:`WAY2_SPACINGS`."""
    kind = WAY2_KINDS[kind_index % len(WAY2_KINDS)]
    spacing = WAY2_SPACINGS[int(rng.integers(len(WAY2_SPACINGS)))]
    return synthesize_one(kind, pool, rng, SynthConfig(spacing=spacing, min_len=3, max_len=8))


def strips_batch(images) -> tuple[torch.Tensor, torch.Tensor, list]:
    """Normalise and pad field images: ``(B, 1, 32, W_max)``, frame counts ``(B,)``, transforms.

    Raises:
        ValueError: an image without ink.
    """

    outs = [normalize_field(im) for im in images]
    if any(o is None for o in outs):
        raise ValueError("[docrec.sdnn] a field image has no ink")
    width = max(o[0].shape[1] for o in outs)
    x = torch.full((len(outs), 1, 32, width), BACKGROUND, dtype=torch.float32)
    for b, (strip, _) in enumerate(outs):
        x[b, 0, :, : strip.shape[1]] = torch.from_numpy(strip)
    frames = torch.tensor([o[1].frames for o in outs], dtype=torch.long)
    return x, frames, [o[1] for o in outs]


def global_loss(sdnn, charmodel, x: torch.Tensor, frames: torch.Tensor, targets: list[list[int]], *,
                reduce: bool = True):
    """The discriminative forward criterion (docs/paper.md Sec. VI), mean over the batch:

    ``F(frames o model o target) - F(frames o model)``, F = :func:`gtn.forward_penalty`. Fields whose
    target cannot be aligned with their frames at all (too many characters for the width) are
    left out of the mean.
    ``x (B, 1, 32, W)`` (on the network's device), ``frames (B,)``, ``targets``: per field a label list (the exact string) or
    a ``gtn.Graph`` acceptor over label ids (e.g. the digits of a real amount with optional
    separators and end marks) -> scalar; with ``reduce=False``, the sum over the readable fields
    and their count (for a mean over several processes, :func:`sharded_global_step`).
    """

    widths = (frames - 1) * STRIDE + STRIP_H  # normalised strips are 32 + 4 k wide
    pen = to_graph_device(frame_penalties(sdnn, x, widths))  # (B, T, C) on the network's device -> the CPU's graphs
    g_all, _ = charmodel.compose_frames(pen, lengths=frames)
    if any(isinstance(t, gtn.Graph) for t in targets):
        tgt = gtn.batch([t if isinstance(t, gtn.Graph) else gtn.string_graph(t, penalty_dtype=pen.dtype)
                         for t in targets])
    else:
        tgt = gtn.string_graphs(targets, penalty_dtype=pen.dtype)
    diff = gtn.discriminative_forward_loss(g_all, tgt)
    # a text with more characters (and forced 'none' frames between repeats) than the field has
    # frames cannot be read at stride 4; such fields carry no usable signal and are skipped
    ok = torch.isfinite(diff)
    if not reduce:
        return diff[ok].sum(), int(ok.sum())
    return diff[ok].sum() / ok.sum().clamp(min=1)


def sharded_global_step(shard: Shard, net, sdnn, charmodel, x: torch.Tensor | None, frames, targets, *,
                        extra: torch.Tensor | None = None) -> tuple[float, float]:
    """Backward of :func:`global_loss` (plus ``extra``, this process's share of an added loss term)
    over the processes (``torchrun``): ``x``, ``frames``, ``targets`` are this process's fields
    (``x`` None when it has none); the readable fields are counted over the processes and the
    gradients summed, so they equal one process's on the whole batch. Returns the whole batch's
    global loss and added term (the same on every process; the loss is 0, as :func:`global_loss`'s,
    when no field of the batch is readable)."""
    if x is None:
        loss_sum, count = torch.zeros(()), 0
    else:
        loss_sum, count = global_loss(sdnn, charmodel, x, frames, targets, reduce=False)
    total = max(1, int(shard.total(count)))
    step = loss_sum / total + (extra if extra is not None else 0.0)
    if torch.is_tensor(step) and step.requires_grad:
        step.backward()
    extra_value = extra.detach().reshape(()) if extra is not None else torch.zeros(())
    sums = shard.sum_gradients(net, torch.stack([loss_sum.detach().cpu(), extra_value.cpu()]))
    return float(sums[0]) / total, float(sums[1])


def train_way2(cfg: SDNNTrainConfig, out_dir: str | os.PathLike, *, resume: bool = False,
               log=print, bar: bool = True, evaluate=None, device: str | None = None,
               shard: Shard | None = None) -> dict:
    """Way 2: global training on whole training fields. ``cfg.init``: the way-1 weights (required).

    ``evaluate(lenet5) -> float`` (validation string accuracy, higher is better) selects the best
    epoch; writes ``out_dir/way2.ckpt`` every epoch, ``out_dir/sdnn-way2.pt`` for the best epoch (epoch 0,
    the way-1 weights, when no epoch beats them) and ``out_dir/sdnn-way2-last.pt`` for the last one.
    The network trains on ``device`` (None: CUDA when available); the graphs on the CPU. Under
    ``torchrun`` (``shard``) each process renders and reads its fields ``batch[rank::world]`` of the
    same global batch (fields are seeded by their global index, so the batch does not depend on
    the number of processes; :func:`sharded_global_step`); process 0 alone logs and writes.
    """
    from docrec.recognizers.sdnn_net import load_weights

    if cfg.init is None:
        raise ValueError("[docrec.train_sdnn] way 2 starts from way-1 weights: give --init sdnn-way1.pt")
    torch.set_num_threads(cfg.threads)
    shard = shard or Shard()
    main = shard.rank == 0
    log, bar = (log, bar) if main else ((lambda *a, **k: None), False)
    out = Path(out_dir)
    net, _, _ = load_weights(cfg.init)
    net.to(resolve_device(device, training=True))
    freeze_batch_norm(net.train())  # fields of one step are not a representative batch
    sdnn = build_sdnn(net)
    charmodel = CharacterModel()
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    train_pool, _ = split_pools()
    if cfg.map_weight < 0:
        raise ValueError(f"[docrec.train_sdnn] map_weight must be >= 0, got {cfg.map_weight}")
    windows = window_sets(cfg, out, progress=log)[0] if cfg.map_weight > 0 else None
    ckpt_path = out / "way2.ckpt"
    history, start_epoch, best = load_progress(ckpt_path, net, opt, -math.inf, resume=resume, log=log)
    if not history and evaluate is not None:
        history.append({"epoch": 0, "val_string_accuracy": evaluated(evaluate, net)})
        best = history[-1]["val_string_accuracy"]
        log(f"epoch 0: val string accuracy {best:.4f}")
        if main:
            save_weights(out / "sdnn-way2.pt", net, {}, {"way": 2, "epoch": 0, "val_string_accuracy": best})
    alphabet = charmodel.alphabet
    for epoch in range(start_epoch, cfg.epochs):
        freeze_batch_norm(net.train())  # evaluation may have switched modes
        it = range(cfg.steps)
        if bar:

            it = tqdm(it, desc=f"way2 epoch {epoch + 1}/{cfg.epochs}", mininterval=5.0)
        t0, total, total_map = time.time(), 0.0, 0.0
        wrng = np.random.default_rng([cfg.seed, 22, epoch])
        for s in it:
            cosine_lr(opt, cfg.lr, (epoch + s / cfg.steps) / cfg.epochs)
            base = (epoch * cfg.steps + s) * cfg.batch_size
            if shard.world > 1:
                m, g = _way2_sharded_step(shard, net, sdnn, charmodel, cfg, base, train_pool, windows, wrng, opt)
                total, total_map = total + g, total_map + m
                continue
            fields = [render_field(base + i, train_pool, field_rng(cfg.seed + 2, base + i))
                      for i in range(cfg.batch_size)]
            x, frames, _ = strips_batch([f.image for f in fields])
            targets = [alphabet.encode(f.text) for f in fields]
            loss = global_loss(sdnn, charmodel, x.to(device_of(net)), frames, targets)
            total += float(loss.detach())
            if windows is not None:
                m = _window_map_loss(net, windows, cfg, wrng)
                total_map += float(m.detach())
                loss = loss + cfg.map_weight * m
            opt.zero_grad()
            loss.backward()
            opt.step()
        rec = {"epoch": epoch + 1, "train_loss": total / cfg.steps, "seconds": time.time() - t0}
        if windows is not None:
            rec["train_map_loss"] = total_map / cfg.steps
        if evaluate is not None:
            rec["val_string_accuracy"] = evaluated(evaluate, net)
        history.append(rec)
        log(json.dumps(rec))
        score = rec.get("val_string_accuracy", -total)
        if score > best or evaluate is None:
            best = score
            if main:
                save_weights(out / "sdnn-way2.pt", net, {}, {"way": 2, "epoch": epoch + 1,
                                                             "val_string_accuracy": rec.get("val_string_accuracy", -1.0),
                                                             "config": json.dumps(asdict(cfg))})
        if main:
            save_weights(out / "sdnn-way2-last.pt", net, {}, {"way": 2, "epoch": epoch + 1,
                                                              "val_string_accuracy": rec.get("val_string_accuracy", -1.0),
                                                              "config": json.dumps(asdict(cfg))})
            save_progress(ckpt_path, net, opt, epoch + 1, best, history)
    return {"history": history, "best_val_string_accuracy": best}


def _way2_sharded_step(shard: Shard, net, sdnn, charmodel, cfg: SDNNTrainConfig, base: int, pool, windows, wrng,
                       opt) -> tuple[float, float]:
    """One way-2 step under ``torchrun``: this process renders and reads its fields of the global
    batch starting at field index ``base``; returns ``(MAP term, global loss)`` of the whole batch."""
    mine = list(shard.part(range(cfg.batch_size)))
    fields = [render_field(base + i, pool, field_rng(cfg.seed + 2, base + i)) for i in mine]
    x = frames = None
    if fields:
        x, frames, _ = strips_batch([f.image for f in fields])
        x = x.to(device_of(net))
    targets = [charmodel.alphabet.encode(f.text) for f in fields]
    opt.zero_grad()
    extra = None
    if windows is not None:
        extra = cfg.map_weight * _window_map_loss(net, windows, cfg, wrng, shard)
    loss, added = sharded_global_step(shard, net, sdnn, charmodel, x, frames, targets, extra=extra)
    opt.step()
    return (added / cfg.map_weight if windows is not None else 0.0), loss


__all__ = ["SDNNTrainConfig", "VAL_DIGITS", "global_loss", "render_field", "split_pools", "strips_batch",
           "train_way1", "train_way2", "window_error", "window_loss", "window_sets"]
