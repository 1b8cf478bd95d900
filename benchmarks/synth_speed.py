"""Speed of the synthetic field generator (data.synthesize), one CPU thread.

For each setting: generate ``--count`` fields (MNIST training digits, already loaded) ``--repeats``
times and report the median fields per second, plus the mean image width and the fraction of fields
whose ink has fewer 8-connected components (area >= 5 px, ink = grey < 128) than characters
("joined": characters touch or cross).

    .venv/bin/python benchmarks/synth_speed.py      # writes benchmarks/results/synth_speed.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from data.synth import DigitPool, SynthConfig, synthesize

SETTINGS = [
    ("zip", dict()),
    ("digits", dict(min_len=2, max_len=8)),
    ("amount", dict()),
    ("amount", dict(background="form", noise=4.0)),
    ("digits", dict(min_len=2, max_len=8, spacing="touching")),
    ("digits", dict(min_len=2, max_len=8, spacing="overlapping")),
    ("digits", dict(min_len=2, max_len=8, spacing="wide", height=None)),
]


def joined_fraction(fields) -> float:
    n_joined = 0
    for f in fields:
        _, _, stats, _ = cv2.connectedComponentsWithStats((f.image < 128).astype(np.uint8), connectivity=8)
        n_joined += int((stats[1:, cv2.CC_STAT_AREA] >= 5).sum()) < len(f.text)
    return n_joined / len(fields)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--mnist-dir", default=None)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "synth_speed.json"))
    args = ap.parse_args()
    cv2.setNumThreads(1)
    pool = DigitPool.load("train", args.mnist_dir)
    rows = []
    for kind, opts in SETTINGS:
        cfg = SynthConfig(**opts)
        rates = []
        for r in range(args.repeats):
            t0 = time.perf_counter()
            fields = synthesize(kind, args.count, split="train", seed=r, config=cfg, pool=pool)
            rates.append(args.count / (time.perf_counter() - t0))
        rows.append({"kind": kind, "options": opts, "fields_per_s": statistics.median(rates),
                     "mean_width": float(np.mean([f.image.shape[1] for f in fields])),
                     "mean_height": float(np.mean([f.image.shape[0] for f in fields])),
                     "joined": joined_fraction(fields)})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"count": args.count, "repeats": args.repeats, "threads": 1,
                                          "results": rows}, indent=2) + "\n")
    print("| kind | options | fields/s (median) | mean W x H | joined |")
    print("|---|---|---:|---:|---:|")
    for r in rows:
        opts = ", ".join(f"{k}={v}" for k, v in r["options"].items()) or "defaults"
        print(f"| {r['kind']} | {opts} | {r['fields_per_s']:.0f} | {r['mean_width']:.0f} x {r['mean_height']:.0f} "
              f"| {r['joined']:.2f} |")


if __name__ == "__main__":
    main()
