"""``docrec train lenet``: train a LeNet-family network on MNIST (docs/paper.md Sec. III).

Writes, next to ``--out PATH`` (the checkpoint, rewritten atomically after every epoch):
``PATH.json`` (recipe and per-epoch train/validation/test error, timings) and ``PATH.png``
(error curves like the paper's Fig. 5). ``--resume`` continues from ``PATH``.

Model selection never looks at the test set: the result is the last epoch's network. Test errors
are recorded per epoch for the curve only. ``--val-size N`` carves the last N training digits off
as a validation split (0 = train on all 60,000, as the paper did).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from data import load_mnist, to_lenet_input
from data.atomic import atomic_write, write_json_atomic
from docrec.checks import fail, one_line, output_file
from docrec.devices import add_device_option
from docrec.distributed import is_main, training_processes
from lenet.boost import train_boosted
from lenet.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from lenet.models import ARCHITECTURES, build_model
from lenet.train import Shard, Split, TrainConfig, make_optimizer, train_model

ARCH_DEFAULTS = {
    # arch: (optimizer, batch size, loss)
    "lenet5": ("sdlm", 32, "mse"),
    "lenet1": ("sdlm", 32, "mse"),
    "lenet4": ("sdlm", 32, "mse"),
    "boosted-lenet4": ("sdlm", 32, "mse"),
    "modern": ("adam", 64, "mse"),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("lenet", help="train LeNet-5/1/4, boosted LeNet-4 or a modern CNN on MNIST",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", choices=sorted(ARCHITECTURES), default="lenet5")
    p.add_argument("--out", required=True, type=output_file, help="checkpoint path (e.g. runs/lenet5.pt)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--optimizer", choices=["sdlm", "sgd", "adam"], default=None,
                   help="default: sdlm for the paper's nets, adam for modern")
    p.add_argument("--loss", choices=["mse", "map"], default=None, help="default: mse")
    p.add_argument("--batch_size", "--batch-size", type=int, default=None,
                   help="1 = the paper's pattern-by-pattern SDLM (slow); default 32 (64 for modern)")
    p.add_argument("--lr", type=float, default=None,
                   help="sgd/adam base rate; for sdlm a fixed multiplier of the paper's eta")
    p.add_argument("--sdlm_step_cap", "--sdlm-step-cap", type=float, default=None,
                   help="minibatch SDLM: cap of the per-step rate min(B*eta, cap) (default 2e-3)")
    p.add_argument("--distort", action="store_true", help="random affine distortions on the fly")
    p.add_argument("--elastic", action="store_true", help="add elastic distortions (implies --distort)")
    p.add_argument("--weight_decay", "--weight-decay", type=float, default=0.0)
    p.add_argument("--val_size", "--val-size", type=int, default=0,
                   help="training digits held out for validation (taken from the end)")
    p.add_argument("--train_limit", "--train-limit", type=int, default=None,
                   help="use only the first N training digits (quick runs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--mnist-dir", "--mnist", dest="mnist", type=Path, default=None,
                   help="MNIST directory (default: $DOCREC_MNIST_DIR; --mnist is the old spelling)")
    p.add_argument("--resume", action="store_true", help="continue from --out")
    add_device_option(p, training=True)
    p.add_argument("--quiet", "--no-bar", dest="no_bar", action="store_true", help="no progress bar (--no-bar: old)")
    p.set_defaults(func=run)


def load_splits(mnist: Path | None, *, val_size: int, train_limit: int | None) -> tuple[Split, Split | None, Split]:
    """MNIST as LeNet inputs: (train, validation or None, test)."""

    images, labels = load_mnist("train", root=mnist)
    if train_limit:
        images, labels = images[:train_limit], labels[:train_limit]
    if not 0 <= val_size < len(labels):
        raise ValueError(f"[docrec train lenet] --val-size {val_size} must be in 0..{len(labels) - 1}")
    x, y = to_lenet_input(images), torch.from_numpy(labels)
    cut = len(labels) - val_size
    train = Split(x[:cut], y[:cut])
    val = Split(x[cut:], y[cut:]) if val_size else None
    ti, tl = load_mnist("test", root=mnist)
    return train, val, Split(to_lenet_input(ti), torch.from_numpy(tl))


def plot_curves(history: list[dict], path: Path, title: str) -> None:
    """Training/validation/test error per epoch (percent), like the paper's Fig. 5."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = [r["epoch"] for r in history]
    for key, label, style in (("train_error", "training set", "-o"), ("val_error", "validation", "-s"),
                              ("test_error", "test set", "-^")):
        vals = [r.get(key) for r in history]
        if any(v is not None for v in vals):
            ax.plot(epochs, [100 * v if v is not None else float("nan") for v in vals], style,
                    label=label, markersize=3)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("training set iterations (passes)")
    ax.set_ylabel("error rate (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"), suffix=".png")
    plt.close(fig)


def _write_json(path: Path, obj: dict) -> None:
    write_json_atomic(path, obj)


WHERE = "docrec train lenet"


def run(args: argparse.Namespace) -> int:
    """Train (or resume) one network: configuration, data, model, then epochs with checkpoints."""
    torch.set_num_threads(max(1, args.threads))
    with training_processes(args.device) as (shard, device):
        return _run(args, shard if shard.world > 1 else None, device)


def _run(args: argparse.Namespace, shard: Shard | None, device: torch.device) -> int:
    main_rank = is_main(shard)
    config = _config(args)
    try:
        train, val, test = load_splits(args.mnist, val_size=args.val_size, train_limit=args.train_limit)
    except (OSError, RuntimeError, ValueError) as exc:
        return fail(WHERE, f"cannot load MNIST: {exc}", 2)
    torch.manual_seed(config.seed)
    try:
        model, config, start_epoch, history, optimizer = _start(args, config, device)
    except (ValueError, FileNotFoundError) as exc:
        return fail(WHERE, f"cannot resume: {exc}", 2)
    if args.arch == "boosted-lenet4":
        if shard is not None:
            return fail(WHERE, "boosted LeNet-4 trains its members in sequence; run it in one process", 2)
        member, records = 0, []
        if args.resume and args.out.exists():
            payload = load_checkpoint(args.out)
            member, records = int(payload.get("boost_member", 0)), list(payload.get("boost_records", []))
        return train_boosted_cli(model, train, val, test, config, args, args.out, member, records)
    started = time.time()
    progress = _Progress(args, config, model, (train, val, test), main=main_rank)
    try:
        history = train_model(model, train, config, val=val, test=test, start_epoch=start_epoch, history=history,
                              optimizer=optimizer, on_batch=progress.on_batch, on_epoch_end=progress.on_epoch_end,
                              shard=shard)
    except (ValueError, FloatingPointError) as exc:
        return fail(WHERE, exc, 1)
    finally:
        progress.close()
    if main_rank:
        print(json.dumps({"out": str(args.out), "epochs": config.epochs, "processes": 1 if shard is None else shard.world,
                          "test_error": history[-1]["test_error"] if history else None,
                          "wall_seconds": round(time.time() - started, 1)}))
    return 0


def _config(args: argparse.Namespace) -> TrainConfig:
    """The training configuration from the options and the architecture's defaults."""
    opt_default, batch_default, loss_default = ARCH_DEFAULTS[args.arch]
    config = TrainConfig(epochs=args.epochs, optimizer=args.optimizer or opt_default,
                         loss=args.loss or loss_default, batch_size=args.batch_size or batch_default,
                         lr=args.lr, distort=args.distort or args.elastic,
                         weight_decay=args.weight_decay, seed=args.seed)
    config.distortion.elastic = args.elastic
    if args.sdlm_step_cap is not None:
        config.sdlm_step_cap = args.sdlm_step_cap
    return config


def _start(args: argparse.Namespace, config: TrainConfig, device: torch.device):
    """``(model, config, start epoch, history, optimizer)``: fresh, or from ``--out`` with ``--resume``;
    the model on ``device``."""
    out: Path = args.out
    if not (args.resume and out.exists()):
        return build_model(args.arch).to(device), config, 0, [], None
    payload = load_checkpoint(out)
    model = model_from_checkpoint(payload, source=str(out), arch=args.arch).to(device)
    config = TrainConfig.from_dict(payload["meta"]["train_config"])
    config.epochs = args.epochs
    start_epoch = int(payload.get("epoch", 0))
    optimizer = make_optimizer(model, config) if args.arch != "boosted-lenet4" else None
    if optimizer is not None and "optimizer" in payload:
        optimizer.load_state_dict(payload["optimizer"])
    print(f"{WHERE}: resuming {out} after epoch {start_epoch}", file=sys.stderr)
    return model, config, start_epoch, list(payload.get("history", [])), optimizer


class _Progress:
    """The progress bar and the end of every epoch: checkpoint (atomic), JSON, curves, one line; only
    on the main process (rank 0) when several train together."""

    def __init__(self, args, config: TrainConfig, model, splits, *, main: bool = True) -> None:
        self.args, self.config, self.model, self.splits, self.main = args, config, model, splits, main
        self.bar = None if args.no_bar or not main else tqdm(total=splits[0].y.shape[0], unit="digit", dynamic_ncols=True,
                                                  file=sys.stderr)

    def on_batch(self, seen: int, total: int, loss: float) -> None:
        if self.bar is not None:
            self.bar.n = seen
            self.bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
            self.bar.update(0)

    def on_epoch_end(self, epoch: int, hist: list[dict], opt: torch.optim.Optimizer) -> None:
        if not self.main:
            return
        args, config, out = self.args, self.config, self.args.out
        rec = hist[-1]
        meta = recipe_meta(args, config, *self.splits)
        save_checkpoint(out, self.model, meta=meta, optimizer=opt.state_dict(), epoch=epoch, history=hist)
        _write_json(out.with_suffix(".json"), {"meta": meta, "history": hist})
        plot_curves(hist, out.with_suffix(".png"), f"{args.arch}{' distorted' if config.distort else ''}")
        fmt = lambda v: "-" if v is None else f"{100 * v:.2f}%"  # noqa: E731
        msg = (f"epoch {epoch}/{config.epochs}: loss {rec['train_loss']:.3f} train {fmt(rec['train_error'])} "
               f"val {fmt(rec['val_error'])} test {fmt(rec['test_error'])} "
               f"({rec['train_seconds']:.0f}s, {rec['samples_per_second']:.0f} digits/s)")
        if self.bar is not None:
            self.bar.write(msg)
            self.bar.reset()
        else:
            print(msg, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def recipe_meta(args: argparse.Namespace, config: TrainConfig, train: Split, val: Split | None,
                test: Split) -> dict:
    """What a weight card needs to know about how the network was trained."""
    return {"arch": args.arch, "train_config": config.to_dict(),
            "data": {"train": int(train.y.shape[0]), "val": int(val.y.shape[0]) if val else 0,
                     "test": int(test.y.shape[0]), "source": "MNIST (genuine IDX files)"},
            "command": "docrec train lenet " + " ".join(sys.argv[3:] if sys.argv[1:3] == ["train", "lenet"]
                                                         else sys.argv[1:])}


def train_boosted_cli(model, train: Split, val: Split | None, test: Split, config: TrainConfig,
                      args: argparse.Namespace, out: Path, start_member: int = 0,
                      records: list[dict] | None = None) -> int:
    """Boosted LeNet-4: members trained in turn by the filtering scheme; checkpoint per member."""

    where = "docrec train lenet"
    records = list(records or [])
    started = time.time()

    def on_member_end(member: int, rec: dict) -> None:
        records.append(rec)
        meta = recipe_meta(args, config, train, val, test)
        hist = [dict(r, epoch=i + 1) for i, r in enumerate(_flatten(records))]
        save_checkpoint(out, model, meta=meta, boost_member=member, boost_records=records, history=hist)
        _write_json(out.with_suffix(".json"), {"meta": meta, "members": records, "history": hist})
        plot_curves(hist, out.with_suffix(".png"), "boosted LeNet-4 (members trained in turn)")
        fmt = lambda v: "-" if v is None else f"{100 * v:.2f}%"  # noqa: E731
        print(f"member {member}/3 on {rec['patterns']} patterns: ensemble val {fmt(rec.get('val_error'))} "
              f"test {fmt(rec.get('test_error'))} ({rec['train_seconds']:.0f}s) filter {rec['filter']}",
              file=sys.stderr, flush=True)

    try:
        train_boosted(model, train, config, val=val, test=test, start_member=start_member,
                      on_member_end=on_member_end)
    except (ValueError, RuntimeError, FloatingPointError) as exc:
        print(f"{where}: error: {one_line(exc)}", file=sys.stderr)
        return 1
    print(json.dumps({"out": str(out), "members": len(records),
                      "test_error": records[-1].get("test_error") if records else None,
                      "wall_seconds": round(time.time() - started, 1)}))
    return 0


def _flatten(records: list[dict]) -> list[dict]:
    """Per-epoch rows of all members in order (for the JSON and the curve)."""
    rows = []
    for rec in records:
        for r in rec["history"]:
            rows.append({**r, "member": rec["member"]})
    return rows
