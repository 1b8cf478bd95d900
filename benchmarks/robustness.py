"""Both recognisers on fields that are not the training generator's default: paper backgrounds
(texture, guide line, cheque-form box with hatching), natural resolution and a 64-px scan height.

Fields are 5-digit zip codes (normal spacing) synthesised from MNIST TEST digits, one fixed seed per
condition (so every system reads the same images); grammar ``zip``. The SDNN and segmentation
systems were trained on white, 32-px fields only, so these rows measure how their preprocessing
(the segmenter's binarisation and line removal; the SDNN's line-free ink map and height
normalisation) carries to other paper and scales.

    .venv/bin/python benchmarks/robustness.py [--count 200]   # writes benchmarks/results/robustness.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from _bench import ROOT  # noqa: E402  (repository on sys.path, development MNIST)
import _bench  # benchmarks/_bench.py: repository on sys.path, write_json

#: name -> (SynthConfig overrides, seed)
CONDITIONS = {
    "white-32px": ({}, 1300),
    "texture": ({"background": "texture"}, 1301),
    "lined": ({"background": "lined"}, 1302),
    "form": ({"background": "form"}, 1303),
    "natural-resolution": ({"height": None}, 1304),
    "64px": ({"height": 64}, 1305),
    "noise-20": ({"noise": 20.0}, 1306),
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=200, help="fields per condition (default 200)")
    p.add_argument("--systems", nargs="+", default=["seg", "sdnn"],
                   help="registry names (bundled weights) or SYSTEM:LABEL=WEIGHTS (e.g. "
                        "seg:modern=docrec/weights/seg-modern.pt; reported as SYSTEM:LABEL)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "robustness.json")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    from data.synth import DigitPool, SynthConfig, synthesize
    from docrec.recognizers import get_recognizer, resolve_grammar

    pool = DigitPool.load("test")
    grammar = resolve_grammar("zip")
    recs = {}
    for spec in args.systems:
        head, _, weights = spec.partition("=")
        system = head.split(":", 1)[0]
        recs[head] = get_recognizer(system, **({"weights": weights} if weights else {}))
    names = list(recs)
    rows = []
    for name, (overrides, seed) in CONDITIONS.items():
        cfg = SynthConfig(spacing="normal", zip_plus4=0.0, **overrides)
        fields = synthesize("zip", args.count, split="test", seed=seed, config=cfg, pool=pool)
        for system, rec in recs.items():
            t0 = time.perf_counter()
            out = rec.recognize([f.image for f in fields], grammar=grammar)
            sec = time.perf_counter() - t0
            acc = float(np.mean([o.text == f.text for o, f in zip(out, fields)]))
            rows.append({"condition": name, "system": system, "fields": len(fields), "string_accuracy": acc,
                         "strings_per_s": len(fields) / sec, "config": {k: v for k, v in overrides.items()}})
            print(f"{name:>20} {system:>5}: {100 * acc:.1f}%  ({len(fields) / sec:.0f}/s)", flush=True)
    out = {"description": __doc__.split("\n\n")[0], "count": args.count, "results": rows}
    _bench.write_json(args.out, out, indent=2)
    print()
    print("| condition | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for name in CONDITIONS:
        cells = [f"{100 * r['string_accuracy']:.1f}%" for s in names for r in rows
                 if r["condition"] == name and r["system"] == s]
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
