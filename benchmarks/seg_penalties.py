"""Choose the segmentation recogniser's gap and dot arc penalties on validation strings.

``segmenter.SegmenterConfig.gap_penalty`` / ``dot_penalty`` (see :mod:`segmenter.graph`) penalise
pieces whose ink leaves whole columns empty inside, or that hold a small low component beside a
larger one: a digit that swallowed the '.' or ',' next to it. This script scores a grid of the two
on strings built from the held-out MNIST *training* digits 55,000-59,999
(``docrec.training.seg_data.train_pools``), never from test digits: ``--count`` fields per condition
(amounts normal / tight / wide, zip codes normal / touching, 3-8 digit strings; field ``i`` of a
condition uses ``field_rng(seed, i)`` with the seeds of :data:`CONDITIONS`). Each field is segmented
and its pieces classified once with the bundled weights; only the arc penalties
(``segmenter.graph.arc_penalties``) change across the grid. Writes ``benchmarks/results/seg_penalties.json`` and prints one row per condition.

    .venv/bin/python benchmarks/seg_penalties.py --count 200
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
_SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"
if _SHARED_MNIST.is_dir() and not os.environ.get("DOCREC_MNIST_DIR"):
    os.environ["DOCREC_MNIST_DIR"] = str(_SHARED_MNIST)  # the development copy, as tests/conftest.py

RESULTS = ROOT / "benchmarks" / "results" / "seg_penalties.json"
#: (kind, spacing, grammar, seed)
CONDITIONS = (("amount", "normal", "amount", 7102), ("amount", "tight", "amount", 7104),
              ("amount", "wide", "amount", 7105), ("zip", "normal", "zip", 7100),
              ("zip", "touching", "zip", 7101), ("digits", "normal", "digits:3-8", 7103))
GAPS = (0.0, 4.0, 8.0)
DOTS = (0.0, 2.0, 4.0, 8.0, 16.0)


def main(argv: list[str] | None = None) -> int:
    from data.synth import SynthConfig, field_rng, synthesize_one
    from decoders import decode
    from docrec.recognizers import resolve_grammar
    import gtn
    from docrec.recognizers.seg import CHAR_CLASSES, SegmentationRecognizer
    from docrec.training.seg_data import train_pools
    from segmenter.graph import arc_penalties

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=200, help="fields per condition")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    _, pool = train_pools()
    rec = SegmentationRecognizer()
    results: dict[str, dict[str, float]] = {}
    for kind, spacing, grammar_name, seed in CONDITIONS:
        synth = SynthConfig(spacing=spacing, min_len=3, max_len=8, zip_plus4=0.0)
        fields = [synthesize_one(kind, pool, field_rng(seed, i), synth) for i in range(args.count)]
        grammar = resolve_grammar(grammar_name)
        segs = rec.segment([f.image for f in fields])
        pens = rec.piece_penalties(segs)
        row = {}
        for gap in GAPS:
            for dot in DOTS:
                cfg = rec.segmenter_config.replace(gap_penalty=gap, dot_penalty=dot)
                right = 0
                for seg, pen, field in zip(segs, pens, fields):
                    if seg.num_arcs == 0:
                        continue
                    penalty = arc_penalties(seg.features, seg.char_height, cfg)
                    graph = seg.graph
                    original = graph.penalty
                    graph.penalty = torch.from_numpy(penalty.astype(np.float32))
                    try:
                        ig, _ = gtn.recognize(graph, penalties=pen, classes=CHAR_CLASSES, seg_weight=rec.config.seg_weight)
                    finally:
                        graph.penalty = original
                    right += decode(ig, grammar)[0].text == field.text
                row[f"gap={gap:g} dot={dot:g}"] = right / args.count
        results[f"{kind}-{spacing}"] = row
        print(f"{kind}-{spacing}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"count": args.count, "digits": "MNIST training 55000-59999",
                                   "string_accuracy": results}, indent=2) + "\n")
    print(f"written {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
