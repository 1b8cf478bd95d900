"""Which confidence of the combined recogniser rejects best? Validation strings only.

For each ``CombinedConfig.confidence`` mode (softmax over the candidates, weighted geometric mean
of the two posteriors, or the hybrid: geometric, softmax for fields whose segmentation reading cuts
through ink), the threshold for 1% error is chosen on ``benchmarks/strings.py``'s mixed-spacing
validation set of each field kind (training digits 55,000-59,999, 200 strings) and applied to
``benchmarks/combo_weights.py``'s per-condition validation sets (200 strings each, other seeds).
The readings are the same in every mode; only the confidence differs. Prints and writes
``benchmarks/results/combo_confidence.json`` (accuracy and error at that threshold).

    .venv/bin/python benchmarks/combo_confidence.py [--count 200] [--weights W.pt] [--store]

``--store`` writes the best mode into the seg weights' ``meta["combo"]`` (after
``combo_weights.py --store``: the best mode depends on the candidate counts; with one candidate
from each system, often the same text, the softmax over the candidates is 1 and cannot reject).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

import _bench  # repository on sys.path, development MNIST; write_json

MODES = ("softmax", "geometric", "hybrid")


def confidences(rec, images, truths, grammar) -> tuple[dict[str, list[float]], list[bool]]:
    """Per mode the answer's confidence of every field, and whether the answer is right."""
    from docrec.recognizers.combo import combine_scores

    out: dict[str, list[float]] = {m: [] for m in MODES}
    ok = []
    chosen = rec.config
    views = {m: replace(chosen, confidence=m) for m in MODES}
    for sc, truth in zip(rec.score_candidates(images, grammar=grammar), truths):
        if not sc.texts:
            for m in MODES:
                out[m].append(0.0)
            ok.append(False)
            continue
        c, soft = combine_scores(sc.seg_nll, sc.sdnn_nll, seg_weight=rec.weight_of(sc), max_nll=rec.config.max_nll)
        best = int(np.argmin(c))
        for m in MODES:
            rec.config = views[m]
            out[m].append(rec.confidence_of(sc, best, float(soft[best])))
        rec.config = chosen
        ok.append(sc.texts[best] == truth)
    return out, ok


def main(argv=None) -> int:
    from combo_weights import CONDITIONS
    from data.synth import SynthConfig, field_rng, synthesize_one
    from docrec.commands.eval_strings import at_threshold, threshold_at_error
    from docrec.recognizers import resolve_grammar
    from docrec.recognizers.combo import CombinedRecognizer
    from docrec.training.seg_data import train_pools
    from strings import val_set

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--weights", default=None, help="seg piece-classifier weights (default: combo's)")
    ap.add_argument("--out", type=Path, default=_bench.ROOT / "benchmarks" / "results" / "combo_confidence.json")
    ap.add_argument("--store", action="store_true",
                    help="write the best mode into the seg weights' meta (key combo.confidence; atomic)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    _, pool = train_pools()
    rec = CombinedRecognizer(weights=args.weights)
    grammars = {"zip": "zip", "digits": "digits:3-8", "amount": "amount"}
    thresholds = {}
    for kind, spec in grammars.items():
        images, texts = val_set(kind, args.count, pool)
        conf, ok = confidences(rec, images, texts, resolve_grammar(spec))
        thresholds[kind] = {m: threshold_at_error(conf[m], ok) for m in MODES}
    rows = []
    for kind, spacing, spec, seed in CONDITIONS:
        synth = SynthConfig(spacing=spacing, min_len=3, max_len=8, zip_plus4=0.0)
        fields = [synthesize_one(kind, pool, field_rng(seed, i), synth) for i in range(args.count)]
        conf, ok = confidences(rec, [f.image for f in fields], [f.text for f in fields], resolve_grammar(spec))
        row = {"condition": f"{kind}-{spacing}", **{m: at_threshold(conf[m], ok, thresholds[kind][m]) for m in MODES}}
        rows.append(row)
        print(row["condition"], {m: (round(row[m]["accuracy"], 3), round(row[m]["error"], 3)) for m in MODES}, flush=True)
    mean = {m: float(np.mean([r[m]["accuracy"] for r in rows])) for m in MODES}
    print("mean accuracy at the validation threshold", {m: round(v, 4) for m, v in mean.items()})
    out = {"description": __doc__.split("\n\n")[0], "count": args.count, "weights": args.weights or "combo default",
           "data": "strings of MNIST training digits 55000..59999 (validation); test digits never used",
           "thresholds": thresholds, "rows": rows, "mean_accuracy": mean}
    _bench.write_json(args.out, out)
    if args.store:
        from combo_weights import update_combo_meta

        update_combo_meta(args.weights, {"confidence": max(MODES, key=lambda m: mean[m])})
    return 0


if __name__ == "__main__":
    sys.exit(main())
