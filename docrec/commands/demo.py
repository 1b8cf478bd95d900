"""``docrec demo``: show a few zip-code fields and, when a recogniser is available, read them.

By default it uses the sample fields bundled in ``docrec/samples`` (made by ``docrec synth`` from
MNIST *test* digits), so it needs neither the network nor MNIST. ``--synth`` makes fresh ones from
MNIST instead. Each field is printed as a small text-art picture with its true text; if
``docrec.recognizers`` provides the requested system (with its weights), its answer is printed too,
otherwise the demo says why and only lists the fields.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from data.folder import FieldFolder, write_labels
from data.synth import SynthConfig, synthesize
from docrec.checks import one_line, output_dir

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
_RAMP = " .:-=+*#%@"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="recognise sample zip codes (bundled, or synthesised from MNIST test digits)")
    p.add_argument("--synth", action="store_true", help="synthesise fresh fields from MNIST test digits "
                                                        "instead of using the bundled samples")
    p.add_argument("--count", type=int, default=6, help="fields to synthesise with --synth (default 6)")
    p.add_argument("--seed", type=int, default=0, help="seed for --synth (default 0)")
    p.add_argument("--out", type=output_dir, default=None, help="folder for --synth fields (default: a temp folder)")
    p.add_argument("--system", choices=("seg", "sdnn", "combo"), default="combo",
                   help="recogniser (default combo, the most accurate; seg is the paper's system)")
    p.add_argument("--mnist-dir", type=Path, default=None, help="MNIST directory for --synth")
    p.add_argument("--no-art", action="store_true", help="do not print the text-art pictures")
    p.set_defaults(func=run)


def ascii_art(image: np.ndarray, *, rows: int = 10) -> str:
    """A coarse text picture of a uint8 field (dark ink = dense characters)."""
    h, w = image.shape
    cols = max(1, int(round(w / h * rows * 2)))  # a character cell is about twice as tall as wide
    small = cv2.resize(image, (cols, rows), interpolation=cv2.INTER_AREA).astype(np.float32)
    level = np.clip((255.0 - small) / 255.0 * len(_RAMP), 0, len(_RAMP) - 1).astype(int)
    return "\n".join("".join(_RAMP[v] for v in row).rstrip() for row in level)


def _fields(args) -> tuple[list[tuple[str, np.ndarray, str]], str]:
    """[(name, image, true text)] and a description of where they came from."""

    if not args.synth and (SAMPLES / "labels.csv").is_file():
        folder = FieldFolder(SAMPLES)
        return [(p.name, img, t) for p, (img, t) in zip(folder.paths, folder)], f"bundled samples in {SAMPLES}"

    out = args.out or Path(tempfile.mkdtemp(prefix="docrec-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    fields = synthesize("zip", args.count, split="test", seed=args.seed, config=SynthConfig(), root=args.mnist_dir)
    rows = []
    for i, f in enumerate(fields):
        name = f"zip{i:03d}.png"
        cv2.imwrite(str(out / name), f.image)
        rows.append((name, f.text))
    write_labels(out / "labels.csv", rows)
    return [(n, f.image, t) for (n, t), f in zip(rows, fields)], f"{len(rows)} fresh zip codes (MNIST test digits) in {out}"


def _recognizer(system: str):
    """(recogniser, grammar) or (None, reason) when none is available yet."""
    try:
        from docrec.recognizers import get_recognizer, resolve_grammar
    except ImportError as exc:
        return None, f"docrec.recognizers is not available ({exc})"
    try:
        return (get_recognizer(system), resolve_grammar("zip")), ""
    except (ImportError, FileNotFoundError) as exc:
        return None, f"the {system!r} recogniser is not available yet ({exc})"


def run(args: argparse.Namespace) -> int:
    try:
        fields, origin = _fields(args)
    except (OSError, RuntimeError, ValueError) as exc:
        print(f"docrec demo: error: {one_line(exc)}", file=sys.stderr)
        return 1
    print(f"docrec demo: {origin}")
    rec, why = _recognizer(args.system)
    results = None
    if rec is None:
        print(f"(only listing the fields: {why})")
    else:
        recognizer, grammar = rec
        results = recognizer.recognize([img for _, img, _ in fields], grammar=grammar)
    correct = 0
    for k, (name, image, truth) in enumerate(fields):
        line = f"\n{name}  {image.shape[1]}x{image.shape[0]}  true: {truth}"
        if results is not None:
            r = results[k]
            shown = "(rejected: " + r.reason + ")" if r.rejected else r.text
            ok = (not r.rejected) and r.text == truth
            correct += ok
            line += f"  read: {shown}  confidence {r.confidence:.2f}  {'OK' if ok else 'WRONG' if not r.rejected else ''}"
        print(line)
        if not args.no_art:
            print(ascii_art(image))
    if results is not None:
        print(f"\n{correct}/{len(fields)} fields read correctly by the {args.system} recogniser")
    return 0
