"""Compare segmentation-recogniser weights on validation strings (never on test strings).

Reads ``--count`` strings per condition (zip codes normal / touching, amounts, 3-8 digit strings)
built from the held-out MNIST *training* digits 55,000-59,999 (``docrec.training.seg_data.
train_pools``; field ``i`` of condition ``k`` uses ``field_rng(7100 + k, i)``) with each given
weights file (or bundled name) and reports string accuracy. This is how the piece classifier of
``seg-modern`` was chosen over ``seg-lenet5``. Writes ``benchmarks/results/seg_weights_validation.json``.

    .venv/bin/python benchmarks/seg_weights_validation.py seg-lenet5 seg-modern [--count 300]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

import _bench  # repository on sys.path, development MNIST; write_json

#: (kind, spacing, grammar); condition k uses seed 7100 + k
CONDITIONS = (("zip", "normal", "zip"), ("zip", "touching", "zip"), ("amount", "normal", "amount"),
              ("digits", "normal", "digits:3-8"))


def main(argv=None) -> int:
    from data.synth import SynthConfig, field_rng, synthesize_one
    from docrec.recognizers import resolve_grammar
    from docrec.recognizers.seg import SegmentationRecognizer
    from docrec.training.seg_data import train_pools

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights", nargs="+", help="weights files or bundled names (seg-lenet5, seg-modern)")
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--out", default=str(_bench.ROOT / "benchmarks" / "results" / "seg_weights_validation.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    _, pool = train_pools()
    sets = {}
    for k, (kind, spacing, spec) in enumerate(CONDITIONS):
        synth = SynthConfig(spacing=spacing, min_len=3, max_len=8, zip_plus4=0.0)
        fields = [synthesize_one(kind, pool, field_rng(7100 + k, i), synth) for i in range(args.count)]
        sets[f"{kind}-{spacing}"] = (fields, resolve_grammar(spec))
    rows = {}
    for w in args.weights:
        rec = SegmentationRecognizer(weights=w)
        row = {}
        for name, (fields, grammar) in sets.items():
            res = rec.recognize([f.image for f in fields], grammar=grammar)
            row[name] = float(np.mean([r.text == f.text for r, f in zip(res, fields)]))
        rows[w] = row
        print(w, {k: round(v, 3) for k, v in row.items()}, flush=True)
    _bench.write_json(args.out, {"description": __doc__.split("\n\n")[0], "count": args.count,
                                 "data": "strings of MNIST training digits 55000..59999 (validation)",
                                 "string_accuracy": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
