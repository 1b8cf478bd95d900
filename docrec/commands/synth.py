"""``docrec synth``: write a browsable dataset of synthetic fields made of MNIST digits.

Output folder: one PNG per field, ``labels.csv`` (``path,text``, readable by
:class:`data.folder.FieldFolder`), ``meta.jsonl`` (per field: boxes and MNIST indices) and
``synth.json`` (the generator settings, to reproduce the set). ``labels.csv`` and ``meta.jsonl``
grow one row per image written, so an interrupted run leaves a usable folder of the fields written
so far; ``synth.json`` is written last and marks a complete run.

``--realistic`` starts from ``SynthConfig.realistic()`` (scan-like fields: security paper, slant,
warps, pen width, levels, blur, JPEG, margins, end marks; :mod:`data.realism`); options given
explicitly override the preset. ``--kind cheque`` writes Chilean-style integer amounts
(``15.728``); with ``--realistic`` most carry an end mark that is drawn but not in the label.
``--colour`` (with ``--realistic``) writes colour PNGs.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import asdict
from pathlib import Path

import cv2
from tqdm import tqdm

from data.backgrounds import BACKGROUNDS
from data.atomic import write_json_atomic
from data.folder import LABELS_FILE
from data.synth import SPACING_PRESETS, DigitPool, SynthConfig, iter_fields
from data.texts import KINDS
from docrec.checks import output_dir


def _range(text: str) -> tuple[float, float]:
    """``"a:b"`` -> (a, b); a single number ``x`` -> (-x, x)."""
    try:
        if ":" in text:
            lo, hi = text.split(":", 1)
            return float(lo), float(hi)
        x = float(text)
        return -abs(x), abs(x)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or a range LO:HI, got {text!r}") from None


def _spacing(text: str):
    if text in SPACING_PRESETS:
        return text
    if ":" in text:
        return tuple(int(round(v)) for v in _range(text))
    raise argparse.ArgumentTypeError(f"expected one of {sorted(SPACING_PRESETS)} or a gap range LO:HI, got {text!r}")


def _height(text: str):
    if text.lower() in ("natural", "none", "0"):
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a height in pixels or 'natural', got {text!r}") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "synth", help="write synthetic field images (zip codes, digit strings, amounts) made of MNIST digits",
        description="Compose real MNIST digits and drawn punctuation into field images; writes PNGs, "
                    "labels.csv (path,text), meta.jsonl (boxes, MNIST indices) and synth.json.")
    p.add_argument("--kind", choices=KINDS, default="zip",
                   help="field kind (default zip; cheque = Chilean amounts such as 15.728)")
    p.add_argument("--count", type=int, default=100, help="number of fields (default 100)")
    p.add_argument("--split", choices=("train", "test"), default="train",
                   help="MNIST split the digits come from (default train; test only for measuring)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", required=True, type=output_dir, help="output folder")
    p.add_argument("--realistic", action="store_true",
                   help="scan-like fields (SynthConfig.realistic(); explicit options override it)")
    p.add_argument("--colour", action="store_true", help="colour images (needs --realistic)")
    p.add_argument("--min-len", type=int, default=None, help="shortest digit string (kind digits)")
    p.add_argument("--max-len", type=int, default=None, help="longest digit string (kind digits)")
    p.add_argument("--zip-plus4", type=float, default=None, help="probability of 12345-6789 zip codes")
    p.add_argument("--spacing", type=_spacing, default=None,
                   help=f"ink gap preset {sorted(SPACING_PRESETS)} or a range LO:HI in pixels (default normal)")
    p.add_argument("--height", type=_height, default=False,
                   help="output height in pixels or 'natural' (default 32; natural with --realistic)")
    p.add_argument("--background", choices=BACKGROUNDS, default=None, help="paper (default white)")
    p.add_argument("--noise", type=float, default=None, help="Gaussian pixel noise, grey levels (default 0)")
    p.add_argument("--jitter", type=float, default=None, help="max vertical shift per character, px (default 1.5)")
    p.add_argument("--slant", type=_range, default=None, help="slant range in degrees, D or LO:HI (default 10)")
    p.add_argument("--scale", type=_range, default=None, help="per-character scale range LO:HI (default 0.9:1.1)")
    p.add_argument("--thickness", type=_range, default=None,
                   help="stroke thickness change range in [-1, 1], LO:HI (default -0.3:0.5)")
    p.add_argument("--mnist-dir", type=Path, default=None, help="MNIST directory (default $DOCREC_MNIST_DIR or cache)")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading missing MNIST files")
    p.add_argument("--force", action="store_true", help="overwrite an existing labels.csv in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _fail(msg: str, code: int = 2) -> int:
    print(f"docrec synth: error: {msg}", file=sys.stderr)
    return code


#: CLI options that map one-to-one onto ``SynthConfig`` fields.
_CONFIG_OPTIONS = ("spacing", "min_len", "max_len", "zip_plus4", "jitter", "slant", "thickness", "noise",
                   "background")


def _config(args: argparse.Namespace) -> SynthConfig:
    """The generator config: the defaults (or the realistic preset) with the options given explicitly."""
    over = {k: getattr(args, k) for k in _CONFIG_OPTIONS if getattr(args, k) is not None}
    if args.scale is not None:
        over["scale"] = args.scale if args.scale[0] > 0 else (1 + args.scale[0], 1 + args.scale[1])
    if args.height is not False:
        over["height"] = args.height
    if args.realistic:
        return SynthConfig.realistic(colour=args.colour, **over)
    return SynthConfig(**over)


def run(args: argparse.Namespace) -> int:
    if args.count < 1:
        return _fail(f"--count must be >= 1, got {args.count}")
    if args.seed < 0:
        return _fail(f"--seed must be >= 0, got {args.seed}")
    if args.colour and not args.realistic:
        return _fail("--colour needs --realistic")
    try:
        config = _config(args).validate()
    except ValueError as exc:
        return _fail(str(exc))
    out: Path = args.out
    if out.exists() and not out.is_dir():
        return _fail(f"--out {out} exists and is not a folder")
    if (out / LABELS_FILE).exists() and not args.force:
        return _fail(f"{out / LABELS_FILE} already exists (use --force to overwrite)")
    try:
        pool = DigitPool.load(args.split, args.mnist_dir, download=not args.no_download)
    except (OSError, RuntimeError, ValueError) as exc:
        return _fail(f"cannot load MNIST: {exc}", 1)
    out.mkdir(parents=True, exist_ok=True)
    width = max(6, len(str(args.count - 1)))
    rows = []
    fields = iter_fields(args.kind, args.count, split=args.split, seed=args.seed, config=config, pool=pool)
    # labels.csv grows one row per written image (flushed), so an interrupted run leaves a usable
    # folder of the fields written so far; synth.json, written last, marks a complete run
    (out / "synth.json").unlink(missing_ok=True)
    with open(out / "meta.jsonl", "w", encoding="utf-8") as meta, \
            open(out / LABELS_FILE, "w", newline="", encoding="utf-8") as labels:
        writer = csv.writer(labels)
        writer.writerow(["path", "text"])
        labels.flush()
        for i, f in enumerate(tqdm(fields, total=args.count, desc="synth", unit="field",
                                   disable=args.quiet, file=sys.stderr)):
            name = f"{i:0{width}d}.png"
            image = cv2.cvtColor(f.image, cv2.COLOR_RGB2BGR) if f.image.ndim == 3 else f.image
            if not cv2.imwrite(str(out / name), image):
                return _fail(f"could not write {out / name}", 1)
            rows.append((name, f.text))
            meta.write(json.dumps({"path": name, "text": f.text, "boxes": [list(b) for b in f.boxes],
                                   "split": f.split, "mnist_indices": f.sources.tolist(), "end_mark": f.end_mark,
                                   "end_box": None if f.end_box is None else list(f.end_box)}) + "\n")
            meta.flush()
            writer.writerow([name, f.text])
            labels.flush()
    settings = {"kind": args.kind, "count": args.count, "split": args.split, "seed": args.seed,
                "config": asdict(config), "complete": True}
    write_json_atomic(out / "synth.json", settings)
    if not args.quiet:
        print(f"wrote {len(rows)} {args.kind} fields ({args.split} digits, seed {args.seed}) to {out}")
    return 0
