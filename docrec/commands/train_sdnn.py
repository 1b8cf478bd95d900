"""``docrec train sdnn --way 1|2``: train the SDNN recogniser (docs/paper.md Sec. VII; see
:mod:`docrec.training.sdnn_train`).

Way 1 (windows, MAP loss) writes ``OUT/sdnn-way1.pt``; way 2 (global, discriminative forward
criterion, ``--init OUT/sdnn-way1.pt``) writes ``OUT/sdnn-way2.pt``. Both checkpoint every epoch
(``OUT/way{1,2}.ckpt``, atomic) and continue with ``--resume``. ``--install NAME`` copies the result to
``docrec/weights/NAME.pt`` with a JSON card.

``--arch strip`` trains the whole-strip network (``lenet.StripNet``, not in the paper) from scratch
with the global criterion alone (:mod:`docrec.training.strip_train`; no ``--way``): writes
``OUT/sdnn-strip.pt``, checkpoints ``OUT/strip.ckpt``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

from data import MixedPool, read_fields, usps_pool
from data.field_digits import field_digit_pool
from data.sdnn_samples import WindowConfig
from data.synth import SynthConfig, field_rng, synthesize_one
from docrec.checks import one_line, output_dir
from docrec.devices import add_device_option
from docrec.distributed import is_main, training_processes
from docrec.training.sdnn_real import SYNTH_KINDS

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sdnn", help="train the space-displacement network (way 1: windows, way 2: global)",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--way", type=int, choices=(1, 2), default=None,
                   help="1: windows + MAP loss; 2: global (required unless --arch strip)")
    p.add_argument("--out", type=output_dir, default="runs/sdnn", help="output directory (default runs/sdnn)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default: 4 for way 1, 3 for way 2, 8 for strip)")
    p.add_argument("--lr", type=float, default=None, help="Adam base rate (default 1e-3 way 1 and strip, 1e-4 way 2)")
    p.add_argument("--batch_size", type=int, default=None, help="windows (way 1, 64) or fields (way 2, 16; strip, 32)")
    p.add_argument("--fields", type=int, default=20000, help="way 1: rendered fields for the windows")
    p.add_argument("--steps", type=int, default=300, help="way 2 and strip: batches per epoch (default 300)")
    p.add_argument("--map_weight", type=float, default=0.0,
                   help="way 2: add this times way 1's MAP loss on 64 windows per step (default 0: global only; "
                        "the windows of --fields fields are made or read from OUT's cache)")
    p.add_argument("--val_fields", type=int, default=300, help="validation fields (MNIST train hold-out)")
    p.add_argument("--arch", choices=("lenet5", "modern", "strip"), default="lenet5",
                   help="way 1: the classifier, the paper's LeNet-5 (default) or the modern CNN (way 2 reads it "
                        "from --init); strip: the whole-strip net, trained on fields from scratch (no --way)")
    p.add_argument("--init", default=None,
                   help="start weights: way 1 an MNIST checkpoint of --arch (default docrec/weights/lenet5-distorted.pt, "
                        "else lenet5.pt, for lenet5; modern.pt for modern); way 2 the way-1 weights "
                        "(default OUT/sdnn-way1.pt); strip: optional StripNet weights to fine-tune")
    p.add_argument("--val_spacing", nargs="+", default=["normal"],
                   choices=("wide", "normal", "tight", "touching"),
                   help="spacings of the validation zip codes selecting the epoch (mean accuracy; default normal)")
    p.add_argument("--window_spacing", type=int, nargs=2, default=None, metavar=("LO", "HI"),
                   help="way 1: ink-gap range (natural px) of the fields the windows are cut from (default -1 4)")
    p.add_argument("--field-jitter", type=float, default=None, metavar="PX",
                   help="way 1 and strip: largest vertical shift of a character in the synthetic training "
                        "fields, px of a 20-row body (default 1.5, data.SynthConfig's)")
    p.add_argument("--field-scale", type=float, nargs=2, default=None, metavar=("LO", "HI"),
                   help="way 1 and strip: per-character scale range of those fields (default 0.9 1.1)")
    p.add_argument("--none_fraction", type=float, default=None,
                   help="way 1: share of 'none' windows (default 0.5)")
    p.add_argument("--weight_decay", type=float, default=0.0, help="strip: Adam's weight decay")
    real = p.add_argument_group("real fields (fine-tune any SDNN weights on labelled field folders; "
                                "docrec.training.sdnn_real)")
    real.add_argument("--real", nargs="+", default=None, metavar="DIR",
                      help="labelled field folders (labels.csv; digit-only labels of amounts may omit the "
                           "separators and end marks): fine-tune --init (default sdnn-strip) on them with the "
                           "global criterion, mixed with synthetic fields (--synth_share)")
    real.add_argument("--real_ids", default=None, metavar="LO-HI",
                      help="use only the fields whose file name ends in an id in LO..HI (e.g. 154-799)")
    real.add_argument("--val_real", nargs="+", default=None, metavar="DIR",
                      help="labelled folders selecting the epoch (digit-string accuracy)")
    real.add_argument("--val_ids", default=None, metavar="LO-HI", help="id range of the --val_real fields")
    real.add_argument("--val_grammar", default="amount", help="grammar of the validation reading (default amount)")
    real.add_argument("--synth_share", type=float, default=0.5,
                      help="share of every batch rendered synthetically (default 0.5)")
    real.add_argument("--synth", choices=SYNTH_KINDS, default="realistic-amounts",
                      help="synthetic fields: the generator's plain papers, realistic scans of cheque "
                           "amounts, zip codes and digit strings, or the same with US/European amounts "
                           "($, * fill, cents) as well (default; the sdnn-strip-real recipe)")
    real.add_argument("--synth_digits", choices=("mnist", "mix"), default="mix",
                      help="digits of the synthetic fields: MNIST training digits, or a third each of MNIST, "
                           "USPS training digits and digits cut from the --real folders' boxes (default mix)")
    real.add_argument("--p_join", type=float, default=0.3,
                      help="probability of joining a real field with another one (default 0.3)")
    real.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                      help="keep an exponential moving average of the weights with this decay per step, and "
                           "validate and write the average (default 0: none)")
    real.add_argument("--no_augment", action="store_true", help="do not augment the real fields")
    real.add_argument("--no_marks", action="store_true",
                      help="constrain digit-only labels to the exact digits (no separators / end marks)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default 1; strip 2)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/way{1,2}.ckpt")
    p.add_argument("--install", default=None, metavar="NAME",
                   help="copy the best weights to docrec/weights/NAME.pt and write NAME.json")
    p.add_argument("--quiet", "--no-bar", dest="no_bar", action="store_true", help="no progress bars (--no-bar: old)")
    add_device_option(p, training=True)
    p.set_defaults(func=run)


def _val_accuracy(count: int, seed: int, spacings=("normal",)):
    """Validation string accuracy on zip codes made of held-out MNIST training digits: the mean over
    ``spacings`` of ``count`` fields each (the first spacing's fields are those of earlier runs)."""
    from docrec.recognizers.sdnn import SDNNRecognizer
    from docrec.training.sdnn_train import split_pools

    _, val_pool = split_pools()
    sets = [[synthesize_one("zip", val_pool, field_rng(seed + 100 * k, i), SynthConfig(spacing=sp))
             for i in range(count)] for k, sp in enumerate(spacings)]

    def evaluate(lenet5) -> float:
        rec = SDNNRecognizer(model=lenet5)
        accs = []
        for fields in sets:
            out = rec.recognize([f.image for f in fields], grammar="zip")
            accs.append(sum(r.text == f.text for r, f in zip(out, fields)) / max(1, len(fields)))
        return sum(accs) / len(accs)

    return evaluate


def run(args: argparse.Namespace) -> int:
    """Train in this process, or as one of ``torchrun``'s (:mod:`docrec.distributed`)."""
    with training_processes(args.device) as (shard, device):
        return _run(args, shard, device)


def _field_spread(args: argparse.Namespace) -> tuple[float, tuple[float, float]]:
    """``(jitter, scale)`` of the synthetic training fields: ``--field-jitter`` / ``--field-scale``
    or ``data.SynthConfig``'s defaults. Raises ValueError (SynthConfig's) for values out of range."""
    jitter = SynthConfig.jitter if args.field_jitter is None else float(args.field_jitter)
    scale = SynthConfig.scale if args.field_scale is None else tuple(args.field_scale)
    SynthConfig(jitter=jitter, scale=scale).validate()
    return jitter, scale


def _run(args: argparse.Namespace, shard, device) -> int:
    from docrec.training.sdnn_train import SDNNTrainConfig, train_way1, train_way2

    out = Path(args.out)
    if args.epochs is not None and args.epochs < 1:
        print("docrec train sdnn: error: --epochs must be >= 1", file=sys.stderr)
        return 2
    if args.none_fraction is not None and not 0.0 <= args.none_fraction < 1.0:
        print(f"docrec train sdnn: error: --none_fraction must be in [0, 1), got {args.none_fraction}", file=sys.stderr)
        return 2
    spread_given = args.field_jitter is not None or args.field_scale is not None
    if spread_given and (args.real is not None or args.way == 2):
        print("docrec train sdnn: error: --field-jitter / --field-scale shape the synthetic fields of way 1 and "
              "of the strip net, not of --real fine-tuning or way 2", file=sys.stderr)
        return 2
    try:
        jitter, scale = _field_spread(args)
    except ValueError as exc:
        print(f"docrec train sdnn: error: --field-jitter / --field-scale: {exc}", file=sys.stderr)
        return 2
    if args.real is not None:
        return _run_real(args, shard, device)
    if (args.way is None) != (args.arch == "strip"):
        print("docrec train sdnn: error: give --way 1 or 2 for lenet5/modern; --arch strip takes no --way", file=sys.stderr)
        return 2
    evaluate = _val_accuracy(args.val_fields, args.seed + 5000, args.val_spacing)
    if args.arch == "strip":
        from docrec.training.strip_train import StripTrainConfig, train_strip

        init = args.init
        try:
            cfg = StripTrainConfig(epochs=args.epochs or 8, steps=args.steps, batch_size=args.batch_size or 32,
                                   lr=args.lr or 1e-3, weight_decay=args.weight_decay, seed=args.seed,
                                   threads=args.threads or 2, init=init, field_jitter=jitter,
                                   field_scale=scale).validate()
            result = train_strip(cfg, out, resume=args.resume, bar=not args.no_bar, evaluate=evaluate,
                                 device=device, shard=shard)
        except (ValueError, FileNotFoundError) as exc:
            print(f"docrec train sdnn: error: {one_line(exc)}", file=sys.stderr)
            return 2
        produced = out / "sdnn-strip.pt"
    elif args.way == 1:

        init = args.init
        for name in (("lenet5-distorted.pt", "lenet5.pt") if args.arch == "lenet5" else ("modern.pt",)):
            if init is None and (WEIGHTS_DIR / name).is_file():
                init = str(WEIGHTS_DIR / name)
        window = WindowConfig()
        if args.window_spacing is not None:
            window.spacing = tuple(args.window_spacing)
        if args.none_fraction is not None:
            window.none_fraction = args.none_fraction
        window.jitter, window.scale = jitter, scale
        cfg = SDNNTrainConfig(way=1, epochs=args.epochs or 4, lr=args.lr or 1e-3, batch_size=args.batch_size or 64,
                              fields=args.fields, val_fields=args.val_fields, init=init, seed=args.seed,
                              threads=args.threads or 1, window=window, arch=args.arch)
        result = train_way1(cfg, out, resume=args.resume, bar=not args.no_bar, evaluate=evaluate,
                            device=device, shard=shard)
        produced = out / "sdnn-way1.pt"
    else:
        init = args.init or str(out / "sdnn-way1.pt")
        if not Path(init).is_file():
            print(f"docrec train sdnn: error: way 2 needs way-1 weights; not found: {init}", file=sys.stderr)
            return 2
        cfg = SDNNTrainConfig(way=2, epochs=args.epochs or 3, lr=args.lr or 1e-4, batch_size=args.batch_size or 16,
                              steps=args.steps, val_fields=args.val_fields, init=init, seed=args.seed,
                              threads=args.threads or 1, fields=args.fields, map_weight=args.map_weight)
        result = train_way2(cfg, out, resume=args.resume, bar=not args.no_bar, evaluate=evaluate,
                            device=device, shard=shard)
        produced = out / "sdnn-way2.pt"
    if not is_main(shard):
        return 0
    print(json.dumps({k: v for k, v in result.items() if k != "history"}))
    if args.install:
        WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(produced, WEIGHTS_DIR / f"{args.install}.pt")
        card = {"name": args.install, "system": "sdnn", "way": args.way or "strip", "init": init,
                "command": "docrec train sdnn " + " ".join(sys.argv[3:]) if len(sys.argv) > 3 else "",
                "data": "MNIST training digits 0..54999 (55,000); validation: digits 55000..59999",
                "config": asdict(cfg), **{k: v for k, v in result.items() if k != "history"},
                "history": result["history"]}
        (WEIGHTS_DIR / f"{args.install}.json").write_text(json.dumps(card, indent=1) + "\n")
        print(f"installed {WEIGHTS_DIR / (args.install + '.pt')}")
    return 0


def _id_range(text: str | None, flag: str) -> range | None:
    """``"LO-HI"`` -> ``range(LO, HI + 1)``; ValueError naming the flag otherwise."""
    if text is None:
        return None
    lo, sep, hi = text.partition("-")
    if not (sep and lo.strip().isdigit() and hi.strip().isdigit()) or int(lo) > int(hi):
        raise ValueError(f"[docrec train sdnn] {flag} {text!r}: expected LO-HI with 0 <= LO <= HI, e.g. 154-799")
    return range(int(lo), int(hi) + 1)


def load_real_fields(dirs: list[str], ids: range | None, *, log=print) -> list[tuple]:
    """``(image uint8 (H, W), text)`` of every field of the folders (restricted to ``ids``); rows the
    folders refuse raise, and a folder with no field in ``ids`` is an error."""

    out = []
    for d in dirs:
        fs = read_fields(d, boxes=None)
        if ids is not None:
            fs = fs.select_ids(ids)
        if len(fs) == 0:
            raise ValueError(f"[docrec train sdnn] {d}: no fields" + (f" with ids {ids.start}-{ids.stop - 1}" if ids else ""))
        out.extend((fs.image(i), fs[i].text) for i in range(len(fs)))
        log(f"{d}: {len(fs)} fields")
    return out


def mixed_digit_pool(dirs: list[str], ids: range | None):
    """A third each of MNIST training digits 0..54,999, USPS training digits and the digits cut from
    the folders' per-character boxes (``data.field_digit_pool``; fields without boxes add none)."""
    from docrec.training.sdnn_train import split_pools

    cut = []
    for d in dirs:
        fs = read_fields(d)
        if ids is not None:
            fs = fs.select_ids(ids)
        cut.extend((fs.image(i), [(b.char, b.x, b.y, b.w, b.h) for b in fs[i].boxes])
                   for i in range(len(fs)) if fs[i].boxes)
    pools = [split_pools()[0], usps_pool("train")]
    if cut:
        pools.append(field_digit_pool(cut))
    return MixedPool(pools, [1.0 / len(pools)] * len(pools))


def real_accuracy(fields: list[tuple], grammar: str):
    """``evaluate(classifier) -> digit-string accuracy`` of the SDNN recogniser on ``fields``: the
    digits of each reading against the digits of its label."""
    from docrec.recognizers.sdnn import SDNNRecognizer

    def digits(text: str) -> str:
        return "".join(c for c in text if c.isdigit())

    def evaluate(net) -> float:
        out = SDNNRecognizer(model=net).recognize([im for im, _ in fields], grammar=grammar)
        return sum(digits(r.text) == digits(t) for r, (_, t) in zip(out, fields)) / len(fields)

    return evaluate


def _run_real(args: argparse.Namespace, shard, device) -> int:
    from docrec.training.sdnn_real import RealSDNNConfig, train_sdnn_real

    if args.way is not None:
        print("docrec train sdnn: error: --real fine-tunes the --init weights of any kind; it takes no --way", file=sys.stderr)
        return 2
    try:
        ids = _id_range(args.real_ids, "--real-ids")
        train = load_real_fields(args.real, ids)
        pool = mixed_digit_pool(args.real, ids) if args.synth_digits == "mix" and args.synth_share > 0 else None
        evaluate = None
        if args.val_real:
            evaluate = real_accuracy(load_real_fields(args.val_real, _id_range(args.val_ids, "--val-ids")),
                                     args.val_grammar)
        cfg = RealSDNNConfig(init=args.init or "sdnn-strip", epochs=args.epochs or 30,
                             batch_size=args.batch_size or 16, synth_share=args.synth_share, lr=args.lr or 7e-4,
                             weight_decay=args.weight_decay, augment=not args.no_augment, marks=not args.no_marks,
                             seed=args.seed, threads=args.threads or 2, synth=args.synth,
                             p_join=args.p_join, ema=args.ema).validate()
        result = train_sdnn_real(cfg, train, Path(args.out), resume=args.resume, evaluate=evaluate, pool=pool,
                                 device=device, shard=shard)
    except (ValueError, FileNotFoundError) as exc:
        print(f"docrec train sdnn: error: {one_line(exc)}", file=sys.stderr)
        return 2
    if not is_main(shard):
        return 0
    print(json.dumps({k: v for k, v in result.items() if k != "history"}))
    if args.install:
        WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(args.out) / "sdnn-real.pt", WEIGHTS_DIR / f"{args.install}.pt")
        card = {"name": args.install, "system": "sdnn", "way": "real", "init": cfg.init,
                "command": "docrec train sdnn " + " ".join(sys.argv[3:]) if len(sys.argv) > 3 else "",
                "data": {"real": args.real, "real_ids": args.real_ids, "val_real": args.val_real,
                         "val_ids": args.val_ids, "synthetic": f"{args.synth} fields, digits: {args.synth_digits} "
                         "(MNIST training digits 0..54999; USPS digits 0..6290; digits cut from the --real boxes)"},
                "config": asdict(cfg), "best_val_score": result["best"], "history": result["history"]}
        (WEIGHTS_DIR / f"{args.install}.json").write_text(json.dumps(card, indent=1) + "\n")
        print(f"installed {WEIGHTS_DIR / (args.install + '.pt')}")
    return 0
