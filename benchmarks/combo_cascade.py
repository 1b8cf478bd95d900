"""Early acceptance for the combined reader: when may the SDNN's reading stand alone? Validation only.

The combined recogniser runs both systems on every field; the segmentation system takes most of the
time. With ``CombinedConfig.sdnn_accept = a``, a field whose SDNN posterior of its own reading is at
least ``a`` gets that reading, and the segmentation system does not run for it. Each field is
read once by the full combination (``score_candidates``); every threshold of the grid is then
applied to the same readings, so the rows differ only by the rule. Per threshold: the share of
fields the SDNN reads alone, the accuracy, how many answers change (for the better / the worse)
and the accuracy at 1% error with the cross-fitted threshold of
``docrec.compare.stats.cross_fitted_at_error`` (the confidence of an accepted field is the SDNN's
posterior).

Data: ``benchmarks/combo_weights.py``'s six validation conditions (strings of MNIST training digits
55,000-59,999; test digits are never read), or with ``--real DIR --ids LO-HI`` real fields read
with the amount grammar, digits scored (the real-trained weights: ``--weights seg-modern-real``).
``--score digits`` (the default with ``--real``) reads with ``CombinedConfig.score = "digits"``: the
posteriors, and so the thresholds, are of digit strings, as ``docrec`` reads amounts.

The threshold chosen is the lowest of the grid that keeps the full combination's accuracy (within
``--tolerance``) on all fields and on each condition, and its accuracy at 1% error within
``--tolerance`` on all fields and ``--reject-tolerance`` on each condition; ``--store`` writes it
into the seg weights' ``meta["combo"]["sdnn_accept"]``.

    .venv/bin/python benchmarks/combo_cascade.py [--count 200] [--weights W] [--real DIR --ids LO-HI] [--store]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch

import _bench  # repository on sys.path, development MNIST; write_json

GRID = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)


def readings(rec, images, truths, grammar, *, score) -> list[dict]:
    """Per field: the full combination's answer and confidence, the SDNN's own reading and posterior,
    and whether each is right (``score(answer, truth)``)."""
    rows = []
    for s in range(0, len(images), 32):
        for sc, truth in zip(rec.score_candidates(images[s: s + 32], grammar=grammar), truths[s: s + 32]):
            if sc.texts:
                order, _, conf = rec.ranked(sc)
                answer = sc.texts[int(order[0])]
            else:
                answer, conf = "", 0.0
            rows.append({"truth": truth, "answer": answer, "confidence": conf, "ok": score(answer, truth),
                         "sdnn": sc.sdnn, "sdnn_ok": score(sc.sdnn.text, truth)})
    return rows


def apply(rec, rows: list[dict], accept: float | None) -> dict:
    """The outcome of ``sdnn_accept = accept`` on the readings ``rows``."""
    from docrec.compare.stats import cross_fitted_at_error

    saved = rec.config.sdnn_accept
    rec.config.sdnn_accept = accept
    try:
        alone = [rec.accepts_sdnn(r["sdnn"]) for r in rows]
    finally:
        rec.config.sdnn_accept = saved
    ok = [r["sdnn_ok"] if a else r["ok"] for r, a in zip(rows, alone)]
    conf = [float(r["sdnn"].confidence) if a else r["confidence"] for r, a in zip(rows, alone)]
    changed = [a and r["sdnn"].text != r["answer"] for r, a in zip(rows, alone)]
    better = sum(c and o and not r["ok"] for c, o, r in zip(changed, ok, rows))
    worse = sum(c and not o and r["ok"] for c, o, r in zip(changed, ok, rows))
    rej = cross_fitted_at_error(conf, ok, max_error=0.01)
    return {"sdnn_accept": accept, "sdnn_alone": float(np.mean(alone)), "accuracy": float(np.mean(ok)),
            "changed": int(sum(changed)), "better": int(better), "worse": int(worse),
            "at_1pct_error": float(rej["accuracy"]), "error_at_that_threshold": float(rej["error"])}


def choose(rows: list[dict], per: dict[str, list[dict]], tolerance: float, reject_tolerance: float) -> dict:
    """The lowest threshold of the grid whose accuracy is within ``tolerance`` of the full
    combination's (first row) on all fields and on every condition, and whose accuracy at 1% error
    is within ``tolerance`` on all fields and within ``reject_tolerance`` on every condition (200
    fields each: a couple of fields move it by a point or more)."""
    def fine(k: int) -> bool:
        ok = (rows[k]["accuracy"] >= rows[0]["accuracy"] - tolerance
              and rows[k]["at_1pct_error"] >= rows[0]["at_1pct_error"] - tolerance)
        for part in per.values():
            ok = ok and part[k]["accuracy"] >= part[0]["accuracy"] - tolerance
            ok = ok and part[k]["at_1pct_error"] >= part[0]["at_1pct_error"] - reject_tolerance
        return ok

    good = [k for k in range(1, len(rows)) if fine(k)]
    return rows[min(good, key=lambda k: rows[k]["sdnn_accept"])] if good else rows[0]


def main(argv=None) -> int:
    from docrec.recognizers import resolve_grammar
    from docrec.recognizers.base import digit_string
    from docrec.recognizers.combo import CombinedRecognizer

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=200, help="fields per validation condition")
    ap.add_argument("--weights", default=None, help="seg weights (file or bundled name; default: combo's)")
    ap.add_argument("--real", default=None, help="a labelled field folder read with the amount grammar")
    ap.add_argument("--ids", default="800-999", help="with --real: the ids read (default 800-999)")
    ap.add_argument("--tolerance", type=float, default=0.0,
                    help="accuracy (and accuracy at 1%% error) a threshold may lose against the full "
                         "combination (default 0: none)")
    ap.add_argument("--reject-tolerance", type=float, default=0.02,
                    help="accuracy at 1%% error a threshold may lose on any one condition (default 0.02)")
    ap.add_argument("--score", choices=("text", "digits"), default=None,
                    help="posteriors of texts or of digit strings (default: digits with --real, else text)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--store", action="store_true", help="write the chosen threshold into the seg weights' meta")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    weights = args.weights
    if weights is not None and not Path(weights).is_file():
        from docrec.weights import resolve

        weights = str(resolve(weights, kind="seg"))
    score = args.score or ("digits" if args.real else "text")
    rec = CombinedRecognizer(weights=weights, score=score)
    rec.config.sdnn_accept = None  # read everything with both systems
    if args.real:
        from docrec.training.seg_real import parse_id_range, read_folder

        fields = read_folder(args.real, ids=parse_id_range(args.ids), boxes=None)
        images = [fields.image(i) for i in range(len(fields))]
        truths = [fields[i].text for i in range(len(fields))]
        rows = readings(rec, images, truths, resolve_grammar("amount"),
                        score=lambda a, t: bool(a) and digit_string(a) == digit_string(t))
        data = f"real fields {args.real} ids {args.ids}, amount grammar, digits scored, posteriors of {score}"
    else:
        from combo_weights import CONDITIONS
        from data.synth import SynthConfig, field_rng, synthesize_one
        from docrec.training.seg_data import train_pools

        _, pool = train_pools()
        rows = []
        for kind, spacing, spec, seed in CONDITIONS:
            synth = SynthConfig(spacing=spacing, min_len=3, max_len=8, zip_plus4=0.0)
            made = [synthesize_one(kind, pool, field_rng(seed, i), synth) for i in range(args.count)]
            part = readings(rec, [f.image for f in made], [f.text for f in made], resolve_grammar(spec),
                            score=lambda a, t: a == t)
            for r in part:
                r["condition"] = f"{kind}-{spacing}"
            rows += part
            print(f"{kind}-{spacing}: read", flush=True)
        data = "combo_weights.py's six conditions, strings of MNIST training digits 55000..59999 (validation)"
    table = [apply(rec, rows, None)] + [apply(rec, rows, a) for a in GRID]
    names = sorted({r.get("condition", "all") for r in rows})
    per = {c: [apply(rec, [r for r in rows if r.get("condition", "all") == c], a) for a in (None, *GRID)]
           for c in names}
    best = choose(table, per, args.tolerance, args.reject_tolerance)
    print(f"{'sdnn_accept':>11} {'alone':>6} {'accuracy':>8} {'changed':>7} {'+/-':>5} {'at 1% err':>9}")
    for r in table:
        print(f"{str(r['sdnn_accept']):>11} {r['sdnn_alone']:6.3f} {r['accuracy']:8.4f} {r['changed']:7d} "
              f"{r['better']:>2}/{r['worse']:<2} {r['at_1pct_error']:9.3f}")
    if len(per) > 1:
        for c, part in per.items():
            print(f"{c}: " + "  ".join(f"{r['sdnn_accept']}: {r['accuracy']:.3f}/{r['at_1pct_error']:.3f}" for r in part))
    print(f"chosen: sdnn_accept = {best['sdnn_accept']}")
    name = Path(weights).stem if weights else "combo-default"
    tail = ("_real" if args.real else "") + ("_digits" if score == "digits" else "")
    out = args.out or _bench.ROOT / "benchmarks" / "results" / f"combo_cascade_{name}{tail}.json"
    _bench.write_json(out, {"description": __doc__.split("\n\n")[0],
                            "command": "python benchmarks/combo_cascade.py " + " ".join(argv or sys.argv[1:]),
                            "weights": weights or "combo default", "score": score, "data": data, "fields": len(rows),
                            "tolerance": args.tolerance, "reject_tolerance": args.reject_tolerance,
                            "rows": table, "conditions": per, "chosen": best["sdnn_accept"]})
    if args.store and best["sdnn_accept"] is not None:
        from combo_weights import update_combo_meta

        update_combo_meta(weights, {"sdnn_accept": best["sdnn_accept"]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
