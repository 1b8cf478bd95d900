"""Rejection on real cheques: the combined reader's confidence against simpler ones.

The combined reader (``combo:seg-modern-real``, what ``docrec recognize --grammar amount`` reads
with) reads the ORAND-CAR-A validation fields (ids 800-999, digits scored). Each confidence below
orders the same readings; the accuracy at 1% error uses the cross-fitted threshold of
``docrec.compare.stats.cross_fitted_at_error`` (chosen on one half, applied to the other), so no
field is judged by a threshold chosen on itself. Nothing is trained or chosen here.

Confidences: ``stored`` (what the recogniser reports: the weighted geometric mean of the two
systems' posteriors of the answer, ``CombinedConfig.confidence``); ``geometric w`` for fixed
weights ``w`` of the segmentation system's posterior (0: the strip net's alone, 1: the seg
system's alone); ``agree + geometric w``: fields where both systems' own readings have the same
digits first, then by the geometric mean.

Usage: python benchmarks/real_confidence.py [--fields ../shared/data/orand_car_a] [--ids 800-999]
Writes benchmarks/results/real_confidence.json.
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np
import torch

import _bench  # repository on sys.path, write_json

RESULTS = _bench.ROOT / "benchmarks" / "results" / "real_confidence.json"
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def readings(folder: str, ids: tuple[int, int], *, batch: int = 20) -> list[dict]:
    """Per field: digits right?, both systems' readings and ``-log`` posteriors of the answer."""
    from docrec.recognizers.combo import CombinedRecognizer
    from docrec.training.seg_real import digits_of, read_folder

    fields = read_folder(folder, ids=ids, boxes=None)
    rec = CombinedRecognizer(weights="seg-modern-real")
    out = []
    for s in range(0, len(fields), batch):
        images = [fields.image(i) for i in range(s, min(s + batch, len(fields)))]
        for k, sc in enumerate(rec.score_candidates(images, grammar="amount")):
            if not sc.texts:
                out.append({"ok": False, "stored": 0.0, "seg_nll": math.inf, "sdnn_nll": math.inf, "agree": False})
                continue
            order, _, stored = rec.ranked(sc)
            best = int(order[0])
            out.append({"ok": digits_of(sc.texts[best]) == digits_of(fields[s + k].text),
                        "stored": stored,
                        "seg_nll": float(min(sc.seg_nll[best], rec.config.max_nll)),
                        "sdnn_nll": float(min(sc.sdnn_nll[best], rec.config.max_nll)),
                        "agree": digits_of(sc.seg.text) == digits_of(sc.sdnn.text)})
    return out


def confidences(rows: list[dict]) -> dict[str, np.ndarray]:
    """Every confidence of the module docstring, ``(N,)`` each."""
    seg = np.array([r["seg_nll"] for r in rows])
    sdnn = np.array([r["sdnn_nll"] for r in rows])
    agree = np.array([r["agree"] for r in rows], np.float64)
    out = {"stored": np.array([r["stored"] for r in rows])}
    for w in WEIGHTS:
        geo = np.exp(-(w * seg + (1.0 - w) * sdnn))
        out[f"geometric {w}"] = geo
        out[f"agree + geometric {w}"] = agree + geo  # geo <= 1: agreement always ranks first
    return out


def main(argv=None) -> int:
    from docrec.compare.stats import cross_fitted_at_error
    from docrec.training.seg_real import parse_id_range

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fields", default=str(_bench.ROOT.parent / "shared" / "data" / "orand_car_a"))
    ap.add_argument("--ids", default="800-999")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    rows = readings(args.fields, parse_id_range(args.ids))
    ok = [bool(r["ok"]) for r in rows]
    agree = np.array([r["agree"] for r in rows])
    okv = np.array(ok)
    result = {"command": "python benchmarks/real_confidence.py " + " ".join(argv or sys.argv[1:]),
              "fields": len(rows), "ids": args.ids, "accuracy": float(okv.mean()),
              "agree_fields": int(agree.sum()),
              "accuracy_when_agree": float(okv[agree].mean()) if agree.any() else None,
              "accuracy_when_disagree": float(okv[~agree].mean()) if (~agree).any() else None,
              "at_1pct_error": {name: cross_fitted_at_error(conf.tolist(), ok, max_error=0.01)
                                for name, conf in confidences(rows).items()}}
    _bench.write_json(RESULTS, result)
    for name, r in result["at_1pct_error"].items():
        print(f"{name:24s} accuracy at 1% error {r['accuracy']:.3f} (error {r['error']:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
