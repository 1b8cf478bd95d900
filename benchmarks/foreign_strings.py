"""Digit strings from a generator other than ``data.synth``: MNIST test digits pasted as they are.

``data.synth`` crops each digit to its ink, sizes it to the field's height, sets it on one baseline
and spaces it by ink gaps. Other people's MNIST strings are usually simpler and rougher: the
28x28 arrays pasted side by side (their empty borders included), each at its own scale and height
on the line, and spaced in whole boxes. This script builds such strings itself, so nothing of our
generator is involved, and reads them with every system (grammar ``zip``, whole text scored).

Conditions (``CONDITIONS``; 200 five-digit strings each, one fixed seed, the same images for
every system; a 60 px high white canvas, black ink, ``255 - MNIST``):

* ``plain``: every digit at its own 28 px, centred vertically, 0-3 px between boxes.
* ``scale``: each digit scaled by a factor drawn in [0.7, 1.3].
* ``jitter``: each digit moved up or down by up to 6 px (a fifth of its height).
* ``tight``: boxes overlapping by 2-8 px (their ink touches or nearly does).
* ``wide``: 8-19 px between boxes.
* ``all``: scale, jitter and -6..5 px between boxes together.
* ``white-on-black``: ``plain`` left as MNIST draws it, white ink on black.

Writes ``benchmarks/results/foreign_strings.json`` and prints the Markdown table.

    .venv/bin/python benchmarks/foreign_strings.py [--count 200] [--systems NAME[:WEIGHTS] ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results" / "foreign_strings.json"
HEIGHT, DIGITS, SEED = 60, 5, 123

#: name -> (scale range, vertical jitter px, gap range px [lo, hi), white ink on black) (module docstring)
CONDITIONS = {
    "plain": ((1.0, 1.0), 0, (0, 4), False),
    "scale": ((0.7, 1.3), 0, (0, 4), False),
    "jitter": ((1.0, 1.0), 6, (0, 4), False),
    "tight": ((1.0, 1.0), 0, (-8, -2), False),
    "wide": ((1.0, 1.0), 0, (8, 20), False),
    "all": ((0.7, 1.3), 6, (-6, 6), False),
    "white-on-black": ((1.0, 1.0), 0, (0, 4), True),
}
DEFAULT_SYSTEMS = ["seg", "seg:seg-modern", "sdnn", "sdnn:sdnn-strip", "combo"]


def paste_string(digits: np.ndarray, rng: np.random.Generator, *, scale=(1.0, 1.0), jitter: int = 0,
                 gap=(0, 4)) -> np.ndarray:
    """MNIST arrays uint8 ``(n, 28, 28)`` (white ink on black) -> a uint8 ``(60, W)`` field, black
    ink on white: each array resized by a factor drawn in ``scale``, centred vertically then moved
    by up to ``jitter`` px, the next one ``gap`` px after it (negative: overlapping; the darker
    ink wins where they overlap)."""
    canvas = np.zeros((HEIGHT, 40 * len(digits) + 60), np.float32)
    x = 10
    for d in digits:
        s = float(rng.uniform(*scale))
        img = cv2.resize(d.astype(np.float32), None, fx=s, fy=s, interpolation=cv2.INTER_LINEAR)
        h, w = img.shape
        y = (HEIGHT - h) // 2 + int(rng.integers(-jitter, jitter + 1))
        y = max(0, min(HEIGHT - h, y))
        x = max(0, x)
        canvas[y:y + h, x:x + w] = np.maximum(canvas[y:y + h, x:x + w], img)
        x += w + int(rng.integers(*gap))
    return 255 - np.clip(canvas[:, :x + 10], 0, 255).astype(np.uint8)


def make_sets(images: np.ndarray, labels: np.ndarray, count: int) -> dict:
    """``{condition: (fields, texts)}`` of ``count`` strings each, drawn with :data:`SEED`."""
    out = {}
    for k, (name, (scale, jitter, gap, negative)) in enumerate(CONDITIONS.items()):
        rng = np.random.default_rng([SEED, k])
        fields, texts = [], []
        for _ in range(count):
            idx = rng.integers(0, len(images), DIGITS)
            field = paste_string(images[idx], rng, scale=scale, jitter=jitter, gap=gap)
            fields.append(255 - field if negative else field)
            texts.append("".join(str(int(v)) for v in labels[idx]))
        out[name] = (fields, texts)
    return out


def markdown(results: dict) -> str:
    systems = list(results["systems"])
    lines = ["| condition | " + " | ".join(systems) + " |", "|---|" + "---|" * len(systems)]
    for cond in CONDITIONS:
        cells = [f"{100 * results['systems'][s][cond]['string_accuracy']:.1f}%"
                 if cond in results["systems"][s] else "-" for s in systems]
        lines.append(f"| `{cond}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    import json

    from benchmarks._bench import write_json

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=200, help="strings per condition (default 200)")
    p.add_argument("--systems", nargs="+", default=DEFAULT_SYSTEMS,
                   help="SYSTEM or SYSTEM:WEIGHTS (bundled weights names or files)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--table", action="store_true", help="print the table from the JSON and stop")
    args = p.parse_args(argv)
    if args.table:
        print(markdown(json.loads(args.out.read_text())))
        return 0
    if args.count < 1:
        p.error(f"--count must be >= 1, got {args.count}")
    torch.set_num_threads(args.threads)
    from data.mnist import load_mnist
    from docrec.recognizers import get_recognizer, resolve_grammar

    images, labels = load_mnist("test")
    sets = make_sets(images, labels, args.count)
    grammar = resolve_grammar("zip")
    results = {"digits": "MNIST test", "count": args.count, "seed": SEED, "threads": args.threads,
               "grammar": "zip", "systems": {}}
    for spec in args.systems:
        system, _, weights = spec.partition(":")
        rec = get_recognizer(system, **({"weights": weights} if weights else {}))
        row = results["systems"].setdefault(spec, {})
        for cond, (fields, texts) in sets.items():
            t0 = time.perf_counter()
            out = rec.recognize(fields, grammar=grammar)
            ok = [r.text == t for r, t in zip(out, texts)]
            row[cond] = {"string_accuracy": float(np.mean(ok)), "fields_per_s": len(fields) / (time.perf_counter() - t0)}
            print(f"{spec:18s} {cond:8s} {100 * row[cond]['string_accuracy']:.1f}%", flush=True)
        write_json(args.out, results)
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
