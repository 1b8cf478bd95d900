"""``docrec train seg STAGE``: train the segmentation recogniser's piece classifier (docs/paper.md Sec. VI, X).

Stages (each reads the previous one's output from ``--work``):

* ``pieces``: cut labelled pieces (correct characters, 'none' halves/pairs/fragments) from synthetic
  strings of MNIST *training* digits -> ``WORK/pieces.npz`` (:mod:`docrec.training.seg_data`).
* ``local``: train the 17-class piece classifier (``--arch``: LeNet-5, the default, or the modern
  CNN) on those pieces plus MNIST training digits (passed through the segmenter's piece
  normaliser) with the MAP loss and random affine distortions -> ``WORK/local.pt`` (checkpoint
  every epoch; starts from ``--init``, a 10- or 17-class network, by default the bundled MNIST
  weights ``docrec/weights/lenet5-distorted.pt`` / ``modern.pt``, else from scratch).
* ``global``: fine-tune through the whole graph with the discriminative forward (or Viterbi)
  criterion on whole training strings -> ``WORK/global-{forward,viterbi}.pt``
  (:mod:`docrec.training.seg_global`).
* ``calibrate``: choose the confidence temperature on validation strings of training digits
  55000..59999 (:mod:`docrec.training.seg_calibrate`) -> ``WORK/calibration.json``.
* ``export``: write a checkpoint's weights (with the calibrated temperature) to
  ``docrec/weights/seg-lenet5.pt`` (``seg-modern.pt`` for the modern CNN) and its JSON card (built
  from the stages' JSON records). Later stages read the architecture from their checkpoint.

Real labelled fields (``--fields DIR``: ``labels.csv`` and optional ``boxes.jsonl``, read by
:func:`data.read_fields`; ``--ids LO-HI`` picks file-name ids) fine-tune the bundled
``seg-lenet5`` (or ``--init``) instead (:mod:`docrec.training.seg_real_train`):

* ``local --fields DIR``: the true pieces the boxes give (each box's best-matching arc is that
  digit, fragments and merges are 'none') mixed with ``--synth-ratio`` synthetic pieces per real one;
* ``global --fields DIR``: the labels alone (boxes never read), discriminative forward criterion
  against every way the digit-only label may be written (``decoders.marked_label_graph``);

each selecting its epoch on ``--val-fields DIR --val-ids LO-HI`` (digit-string accuracy, amount
grammar) and writing ``WORK/TAG.pt`` (checkpoint every epoch), ``WORK/TAG-weights.pt`` (a weights
file for ``docrec recognize --weights``) and ``WORK/TAG.json``. ``global --joint-local W`` adds W
times the local loss on the box pieces to every global step (joint local + global; it reads the
boxes). The recipe chosen on ORAND-CAR-A (ids 800-999 held out for validation;
``benchmarks/seg_real_training.py`` runs it and the comparison)::

    docrec train seg local --fields ../shared/data/orand_car_a --ids 154-799 \
        --val-fields ../shared/data/orand_car_a --val-ids 800-999 --epochs 12 --work runs/segreal
    docrec train seg global --fields ../shared/data/orand_car_a --ids 154-799 \
        --val-fields ../shared/data/orand_car_a --val-ids 800-999 --epochs 5 --joint-local 1 \
        --init runs/segreal/local-real-weights.pt --work runs/segreal
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from data.atomic import atomic_write
from docrec.checks import one_line, output_dir
from docrec.devices import add_device_option
from docrec.distributed import is_main, training_processes
from lenet.shard import Shard
from docrec.recognizers.seg_model import PIECE_ARCHS

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("seg", help="train the segmentation-based recogniser (stages: pieces, local, "
                                           "global, calibrate, export)")
    p.add_argument("stage", choices=("pieces", "local", "global", "calibrate", "export"))
    p.add_argument("--work", type=output_dir, default=Path("runs/seg"), help="work folder (default runs/seg)")
    p.add_argument("--fields", type=count_or_folder, default=3000,
                   help="pieces/global: number of synthetic training fields (default 3000); local/global: "
                        "or a folder of real labelled fields (labels.csv, optional boxes.jsonl): local "
                        "trains on the true pieces its boxes give, global on its labels alone")
    p.add_argument("--val-fields", type=count_or_folder, default=None,
                   help="number of synthetic validation fields (default 300), or a folder of real fields "
                        "(with --fields DIR: model selection on their digit-string accuracy)")
    p.add_argument("--ids", default=None, help="real fields: keep only file-name ids LO-HI of --fields "
                                                "(e.g. 154-799)")
    p.add_argument("--val-ids", default=None, help="real fields: ids LO-HI of --val-fields (e.g. 800-999)")
    p.add_argument("--boxes", default="boxes.jsonl",
                   help="real local training: the boxes file in the --fields folder (default boxes.jsonl)")
    p.add_argument("--synth-ratio", type=float, default=None,
                   help="real fields: synthetic pieces per real piece (local) or synthetic fields per real "
                        "field (global) mixed in (default: local 0.5, global 0, chosen on real validation fields)")
    p.add_argument("--synth-fields", type=int, default=1500,
                   help="real local: synthetic fields cut into pieces for the mix (cached in WORK; default 1500)")
    p.add_argument("--max-fields", type=int, default=None,
                   help="real fields: use at most this many training fields (a seeded subset)")
    p.add_argument("--max-none", type=int, default=8,
                   help="real local: most 'none' pieces per field (default 8)")
    p.add_argument("--none-iou", type=float, default=0.6,
                   help="real local: an arc is 'none' only below this IoU with its main character (default 0.6)")
    p.add_argument("--joint-local", type=float, default=0.0,
                   help="real global: add this weight times the local MAP loss on the folder's box pieces to "
                        "every step (joint local + global; reads the boxes; default 0 = labels only)")
    p.add_argument("--augment-copies", type=int, default=0,
                   help="real global: each training field also trains as this many augmented copies (affine, "
                        "elastic, stroke width, levels, blur, noise, JPEG, margins; each segmented anew, cached "
                        "in WORK; default 0)")
    p.add_argument("--scan-copies", type=int, default=0,
                   help="real local, and the joint local loss: the true pieces of this many rescanned copies of "
                        "each training field are added (blur, contrast, noise, JPEG, every pixel in place so "
                        "the boxes hold; each segmented anew, cached in WORK; default 0)")
    p.add_argument("--batch-fields", type=int, default=8, help="global: fields per step (default 8)")
    p.add_argument("--usps-digits", type=int, default=0,
                   help="real local: add this many USPS training digits (other real writers) to the mix")
    p.add_argument("--usps-dir", type=Path, default=None, help="USPS folder (default $DOCREC_USPS_DIR)")
    p.add_argument("--lr-decay", type=float, default=0.85,
                   help="real local: learning-rate factor per epoch (default 0.85)")
    p.add_argument("--skip-bad", action="store_true",
                   help="real fields: drop faulty rows (counted and reported) instead of stopping")
    p.add_argument("--tag", default=None,
                   help="real fields: name of the outputs (default local-real / global-real-CRITERION)")
    p.add_argument("--epochs", type=int, default=3, help="epochs (default 3)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: stage's own)")
    p.add_argument("--criterion", choices=("forward", "viterbi"), default="forward",
                   help="global training criterion (default forward)")
    p.add_argument("--arch", choices=PIECE_ARCHS, default="lenet5",
                   help="local: piece classifier, LeNet-5 (the paper's, default) or the modern CNN "
                        "(later stages read it from their checkpoint)")
    p.add_argument("--init", type=Path, default=None,
                   help="checkpoint (10 or 17 classes) to start from (local: the bundled MNIST "
                        "weights, lenet5-distorted or modern; global: WORK/local.pt; with real --fields: "
                        "the bundled seg-lenet5 / seg-modern); a bundled name such as seg-lenet5 is accepted")
    p.add_argument("--distort", type=float, default=0.5,
                   help="local: share of patterns given a random affine distortion (default 0.5)")
    p.add_argument("--mnist-grey", action="store_true",
                   help="local: feed the extra MNIST digits as data.to_lenet_input renders them instead "
                        "of through the segmenter's piece normaliser")
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="calibrate/export: checkpoint to use (default WORK/global-forward.pt)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--mnist-dir", type=Path, default=None)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_device_option(p, training=True)
    p.set_defaults(func=run)


#: Synthetic validation fields when --val-fields is not given.
SYNTH_VAL_FIELDS = 300
#: The bundled MNIST weights each piece classifier starts from.
MNIST_INIT = {"lenet5": "lenet5-distorted.pt", "modern": "modern.pt"}


def _initial_model(args, arch: str | None = None):
    """``(model, where it came from)``: ``--init`` (its own architecture), else the bundled MNIST
    weights of ``arch`` (default ``--arch``), else a fresh network."""
    from docrec.recognizers.seg_model import new_piece_model

    if args.init is not None:
        if not Path(args.init).is_file():
            raise ValueError(f"--init {args.init}: no such checkpoint")
        return new_piece_model(arch or checkpoint_arch(args.init), args.init, seed=args.seed), str(args.init)
    arch = arch or args.arch
    mnist = WEIGHTS_DIR / MNIST_INIT[arch]
    if mnist.is_file():
        return new_piece_model(arch, mnist, seed=args.seed), str(mnist)
    return new_piece_model(arch, None, seed=args.seed), "scratch"


def resolve_init(value: Path) -> Path:
    """``--init``: a checkpoint path, or the name of bundled weights (``seg-lenet5`` ->
    ``docrec/weights/seg-lenet5.pt``)."""
    value = Path(value)
    if value.is_file():
        return value
    bundled = WEIGHTS_DIR / (value.name if value.suffix == ".pt" else f"{value.name}.pt")
    if value.parent == Path(".") and bundled.is_file():
        return bundled
    raise ValueError(f"--init {value}: no such checkpoint (nor bundled weights {bundled.name})")


def checkpoint_arch(path: Path) -> str:
    """The piece-classifier architecture a checkpoint records (LeNet-5 when it records none)."""
    from docrec.recognizers.seg_model import recorded_arch

    return recorded_arch(path)


def count_or_folder(value: str) -> int | Path:
    """``--fields`` / ``--val-fields``: an integer is a count of synthetic fields, anything else a
    folder of real labelled fields."""
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    if not text:
        raise argparse.ArgumentTypeError("expected a count of synthetic fields or a folder of real fields")
    return Path(text)


def _is_folder(value) -> bool:
    return isinstance(value, Path)


def run(args: argparse.Namespace) -> int:
    torch.set_num_threads(max(1, args.threads))
    args.work.mkdir(parents=True, exist_ok=True)
    try:
        if _is_folder(args.fields) and args.stage not in ("local", "global"):
            raise ValueError(f"--fields {args.fields}: a folder of real fields is for the local and global "
                             f"stages, not {args.stage}")
        if _is_folder(args.val_fields) and not _is_folder(args.fields):
            raise ValueError(f"--val-fields {args.val_fields}: real validation fields go with real --fields DIR")
        if args.init is not None:
            args.init = resolve_init(args.init)
        if args.stage not in ("local", "global"):
            args.val_fields = SYNTH_VAL_FIELDS if args.val_fields is None else args.val_fields
            return {"pieces": _pieces, "calibrate": _calibrate, "export": _export}[args.stage](args)
        with training_processes(args.device) as (shard, device):
            if _is_folder(args.fields):
                return _real(args, shard, device)
            args.val_fields = SYNTH_VAL_FIELDS if args.val_fields is None else args.val_fields
            return {"local": _local, "global": _global}[args.stage](args, shard, device)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"docrec train seg: error: {one_line(exc)}", file=sys.stderr)
        return 1


def _real(args, shard: Shard, device: torch.device) -> int:
    """The local and global stages on a folder of real labelled fields
    (:mod:`docrec.training.seg_real_train`)."""
    from docrec.training.seg_real import parse_id_range
    from docrec.training.seg_real_train import RealTrainConfig, train_real

    if args.val_fields is not None and not _is_folder(args.val_fields):
        print(f"note: --val-fields {args.val_fields} is a count; real training selects its epoch on real "
              f"validation fields only (give --val-fields DIR)", file=sys.stderr)
    default_ratio = {"local": 0.5, "global": 0.0}[args.stage]  # chosen on real validation fields
    cfg = RealTrainConfig(
        stage=args.stage, fields=args.fields, ids=parse_id_range(args.ids, where="docrec train seg --ids"),
        val_fields=args.val_fields if _is_folder(args.val_fields) else None,
        val_ids=parse_id_range(args.val_ids, where="docrec train seg --val-ids"), boxes=args.boxes,
        init=str(args.init) if args.init is not None else None, arch=args.arch,
        synth_ratio=default_ratio if args.synth_ratio is None else args.synth_ratio,
        synth_fields=args.synth_fields, max_fields=args.max_fields, max_none=args.max_none, none_iou=args.none_iou,
        epochs=args.epochs, lr=args.lr, distort=args.distort, lr_decay=args.lr_decay, criterion=args.criterion,
        usps_digits=args.usps_digits, usps_dir=str(args.usps_dir) if args.usps_dir is not None else None,
        batch_fields=args.batch_fields, joint_local=args.joint_local, augment_copies=args.augment_copies,
        scan_copies=args.scan_copies,
        skip_bad=args.skip_bad, seed=args.seed,
        mnist_dir=str(args.mnist_dir) if args.mnist_dir is not None else None, tag=args.tag)
    result = train_real(cfg, work=args.work, progress=not args.quiet, device=device, shard=shard)
    if is_main(shard):
        print(json.dumps({k: result[k] for k in ("weights", "checkpoint", "best_val_accuracy") if k in result}))
    return 0


def _pieces(args) -> int:
    from docrec.training.seg_data import PieceDataConfig, make_pieces, train_pools

    train_pool, val_pool = train_pools(args.mnist_dir)
    cfg = PieceDataConfig()
    t0 = time.time()
    x, y, stats = make_pieces(args.fields, seed=args.seed, pool=train_pool, config=cfg, progress=not args.quiet)
    vx, vy, vstats = make_pieces(args.val_fields, seed=args.seed + 1000, pool=val_pool, config=cfg,
                                 progress=not args.quiet)
    out = atomic_write(args.work / "pieces.npz", lambda tmp: np.savez_compressed(tmp, x=x, y=y, val_x=vx, val_y=vy),
                       suffix=".npz")
    info = {"train": stats, "val": vstats, "config": cfg.to_dict(), "seconds": time.time() - t0}
    (args.work / "pieces.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info))
    return 0


def _local(args, shard: Shard, device: torch.device) -> int:
    from docrec.training.seg_data import mnist_pieces, train_pools
    from docrec.training.seg_local import LocalTrainConfig, train_local

    data = np.load(args.work / "pieces.npz")
    train_pool, _ = train_pools(args.mnist_dir)
    mx, my = mnist_pieces(train_pool, renormalize=not args.mnist_grey)
    x = np.concatenate([data["x"], mx])
    y = np.concatenate([data["y"], my])
    model, init = _initial_model(args, args.arch if args.init is None else None)
    model.to(device)
    cfg = LocalTrainConfig(epochs=args.epochs, lr=args.lr or 3e-4, seed=args.seed, distort=args.distort)
    if is_main(shard):
        print(f"local training: {len(y)} pieces ({len(data['y'])} from strings, {len(my)} MNIST), init {init}")
    hist = train_local(model, x, y, cfg, val=(data["val_x"], data["val_y"]), checkpoint=args.work / "local.pt",
                       progress=not args.quiet, shard=shard)
    if is_main(shard):
        (args.work / "local.json").write_text(json.dumps({"init": init, "config": asdict(cfg), "history": hist,
                                                          "pieces": int(len(data["y"])), "mnist_digits": int(len(my))},
                                                         indent=2) + "\n")
    return 0


def _global(args, shard: Shard, device: torch.device) -> int:
    from docrec.training.seg_global import GlobalTrainConfig, train_global

    init = args.init or (args.work / "local.pt")
    args.init = init
    model, _ = _initial_model(args)
    model.to(device)
    cfg = GlobalTrainConfig(criterion=args.criterion, epochs=args.epochs, fields=args.fields,
                            val_fields=args.val_fields, lr=args.lr or GlobalTrainConfig.lr, seed=args.seed)
    out = args.work / f"global-{args.criterion}.pt"
    hist = train_global(model, cfg, checkpoint=out, mnist_dir=args.mnist_dir, progress=not args.quiet, shard=shard)
    if is_main(shard):
        (args.work / f"global-{args.criterion}.json").write_text(
            json.dumps({"init": str(init), "history": hist}, indent=2) + "\n")
    return 0


def _calibrate(args) -> int:
    from docrec.recognizers import resolve_grammar
    from docrec.recognizers.seg import SegmentationRecognizer
    from docrec.training.seg_calibrate import choose_temperature
    from docrec.training.seg_data import train_pools
    from docrec.training.seg_global import KIND_GRAMMARS, make_fields

    ckpt = args.checkpoint or (args.work / "global-forward.pt")
    model = piece_model_from(ckpt)
    _, val_pool = train_pools(args.mnist_dir)
    fields = make_fields(args.val_fields, seed=args.seed + 2000, pool=val_pool, progress=not args.quiet)
    grammars = {k: resolve_grammar(v) for k, v in KIND_GRAMMARS.items()}
    result = choose_temperature(SegmentationRecognizer(model=model, temperature=1.0), fields, grammars=grammars)
    result.update(checkpoint=str(ckpt), seed=args.seed + 2000,
                  data="validation strings of MNIST training digits 55000..59999 (all spacings)")
    (args.work / "calibration.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "grid"}))
    return 0


def piece_model_from(ckpt: Path):
    """The 17-class piece classifier (eval mode) of a stage checkpoint or a weights file."""
    from docrec.recognizers.seg_model import new_piece_model

    if not Path(ckpt).is_file():
        raise ValueError(f"no checkpoint at {ckpt}")
    return new_piece_model(checkpoint_arch(ckpt), ckpt).eval()


def _read_json(path: Path):
    return json.loads(path.read_text()) if path.is_file() else None


#: Card descriptions of the piece classifiers.
ARCH_CARDS = {
    "lenet5": ("LeNet-5, 17 classes (0-9 , . - $ * / none), Euclidean RBF, MAP-normalised penalties",
               "the bundled MNIST LeNet-5"),
    "modern": ("modern CNN (lenet.ModernLeNet: ReLU, max-pooling, batch norm), 17 classes (0-9 , . - $ * / "
               "none), -log softmax penalties; not in the paper", "the bundled MNIST modern CNN"),
}


def stage_commands(work: Path, ckpt: Path, arch: str, is_global: bool, full) -> list[str]:
    """The ``docrec train seg`` commands behind an export, rebuilt from the stages' JSON records
    (the options that differ from the defaults; unknown where a record is missing)."""
    def opt(flag, value, default):
        return "" if value is None or value == default else f" {flag} {value}"

    pieces = _read_json(work / "pieces.json") or {}
    local = _read_json(work / "local.json") or {}
    calib = _read_json(work / "calibration.json") or {}
    lcfg = local.get("config") or {}
    base = f"docrec train seg {{}} --work {work}"
    cmds = [base.format("pieces") + opt("--fields", (pieces.get("train") or {}).get("fields"), 3000)
            + opt("--val-fields", (pieces.get("val") or {}).get("fields"), 300),
            base.format("local") + opt("--arch", arch, "lenet5") + opt("--epochs", lcfg.get("epochs"), 3)
            + opt("--lr", lcfg.get("lr"), 3e-4) + opt("--distort", lcfg.get("distort"), 0.5)]
    if is_global:
        gcfg = full.get("config") or {}
        cmds.append(base.format("global") + opt("--criterion", gcfg.get("criterion"), "forward")
                    + opt("--fields", gcfg.get("fields"), 3000) + opt("--val-fields", gcfg.get("val_fields"), 300)
                    + opt("--epochs", gcfg.get("epochs"), 3))
    default_ckpt = work / "global-forward.pt"
    ck = "" if Path(ckpt) == default_ckpt else f" --checkpoint {ckpt}"
    if calib:
        cmds.append(base.format("calibrate") + ck + opt("--val-fields", calib.get("fields"), 300))
    cmds.append(base.format("export") + ck)
    return cmds


def _export(args) -> int:
    from docrec.recognizers.seg_model import arch_meta
    from docrec.training.seg_local import save_atomic, write_card

    ckpt = args.checkpoint or (args.work / "global-forward.pt")
    model = piece_model_from(ckpt)
    arch = arch_meta(model)
    full = torch.load(ckpt, map_location="cpu", weights_only=True)
    calib = _read_json(args.work / "calibration.json")
    meta = {**arch, **({"temperature": float(calib["temperature"])} if calib else {})}
    name = f"seg-{arch['arch']}"  # seg-lenet5 / seg-modern
    dest = save_atomic({"model": model.state_dict(), "meta": meta}, WEIGHTS_DIR / f"{name}.pt")
    described, start = ARCH_CARDS[arch["arch"]]
    is_global = isinstance(full, dict) and "best_val_string_accuracy" in full
    card = {
        "model": described,
        "used_by": "docrec.recognizers.seg.SegmentationRecognizer (docrec recognize --system seg"
                   + ("" if name == "seg-lenet5" else f" --weights docrec/weights/{name}.pt") + ")",
        "data": "MNIST training digits 0..54999 (strings and plain digits); validation: strings of "
                "training digits 55000..59999; MNIST test digits never used",
        "recipe": "stage local: MAP loss on correct + 'none' pieces cut by the segmenter from synthetic "
                  "strings, plus plain digits through the piece normaliser, random affine distortions, "
                  f"starting from {start}"
                  + ("; stage global: discriminative forward criterion through the segmentation graph "
                     "(docs/paper.md Sec. VI) on training strings whose true segmentation is a path of the graph"
                     if is_global else "; no global stage (the local checkpoint is exported)")
                  + "; confidence temperature chosen on validation",
        "checkpoint": str(ckpt),
        "meta": meta,
        "pieces": _read_json(args.work / "pieces.json"),
        "local_stage": _read_json(args.work / "local.json"),
        "global_stage": full.get("history") if is_global else None,
        "global_config": full.get("config") if is_global else None,
        "calibration": calib,
        "commands": stage_commands(args.work, ckpt, arch["arch"], is_global, full),
        "test_results": "benchmarks/results/strings.json (system seg)",
        "notes": "The bundled MNIST weights this starts from were trained on all 60,000 MNIST training "
                 "digits, the validation digits 55,000-59,999 included (as single digits), so validation "
                 "numbers are optimistic in absolute terms; comparisons between seg weights are not "
                 "affected (all start that way), and the test digits were never used.",
    }
    write_card(WEIGHTS_DIR / f"{name}.json", card)
    print(f"wrote {dest} and its card")
    return 0
