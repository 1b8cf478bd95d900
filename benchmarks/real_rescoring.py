"""Can rescoring lift real cheque amounts? Ensembles and re-tuned combinations, measured honestly.

Two questions on the ORAND-CAR-A validation split (ids 800-999, ``amount`` grammar, digits scored,
as ``benchmarks/real_fields.py``), both answered *not adopted* in docs/real_fields.md:

1. **Strip ensembles.** Several whole-strip SDNN weights (``--members``; e.g. ``sdnn-strip-real``
   and the same recipe trained with ``--seed 1``: ``docrec train --recipe sdnn-strip-real --set
   ...`` plus ``--seed 1``) read every field with 3-best readings; the union of the candidates is
   scored by every member (``SDNNRecognizer.text_penalties``: ``-log`` posterior) and the lowest
   mean wins (string-level averaging, which unlike averaging frame log-probabilities does not need
   the members' alignments to agree).
2. **The combination re-chosen on real fields.** The combined reader (``seg-modern-real`` +
   ``sdnn-strip-real``) scores 5 + 3 candidates once; the grid of ``benchmarks/combo_weights.py``
   (``w`` x ``w_severed`` x cap x candidate counts) is evaluated in-sample and *cross-fitted*: chosen
   on the even fields and scored on the odd ones, and back, so no field is judged by settings fitted
   on it.

Usage::

    python benchmarks/real_rescoring.py [--members sdnn-strip-real runs/strip-s1/sdnn-real.pt] [--orand DIR]

Results: ``benchmarks/results/real_rescoring.json``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import _bench
import numpy as np
import torch
from combo_weights import CANDIDATES, CAPS, SDNN_CANDIDATES, WEIGHTS, subset
from real_fields import SHARED, load_set

RESULTS = _bench.ROOT / "benchmarks" / "results" / "real_rescoring.json"


def strip_ensemble(members: list[str], images, truths, grammar) -> dict:
    """Each member alone, and the string-level mean of their posteriors over the union of 3-best lists."""
    from docrec.recognizers.base import digit_string
    from docrec.recognizers.sdnn import SDNNRecognizer

    recs = [SDNNRecognizer(m) for m in members]
    reads = [r.recognize(images, grammar=grammar, n_best=3) for r in recs]
    alone = {m: float(np.mean([x.digits == t for x, t in zip(res, truths)])) for m, res in zip(members, reads)}
    cands = []
    for i in range(len(images)):
        texts = [x for res in reads for x in [res[i].text] + [a for a, _ in res[i].alternatives] if x]
        cands.append(list(dict.fromkeys(texts)))
    nll = [[ft - fa for fa, ft in r.text_penalties(images, cands, grammar=grammar)] for r in recs]
    picked = [c[int(np.argmin(np.mean([np.minimum(n[i], 50.0) for n in nll], axis=0)))] if c else ""
              for i, c in enumerate(cands)]
    return {"members": alone, "ensemble": float(np.mean([digit_string(p) == t for p, t in zip(picked, truths)]))}


def combo_grid(images, truths, grammar) -> dict:
    """The combination's grid in-sample and cross-fitted (even/odd halves) on real fields."""
    from docrec.recognizers import resolve_grammar
    from docrec.recognizers.base import digit_string
    from docrec.recognizers.combo import CombinedRecognizer, combine_scores

    rec = CombinedRecognizer(weights="seg-modern-real")  # the settings that travel with the weights
    names = ("seg_weight", "seg_weight_severed", "max_nll", "candidates", "sdnn_candidates")
    bundled = tuple(getattr(rec.config, k) for k in names)
    rec.config = replace(rec.config, candidates=max(CANDIDATES), sdnn_candidates=max(SDNN_CANDIDATES))
    scored = rec.score_candidates(images, grammar=resolve_grammar(grammar))

    def hits(w, ws, cap, m, md) -> np.ndarray:
        out = np.zeros(len(scored), bool)
        for f, sc in enumerate(scored):
            idx = subset(sc, m, md)
            if idx.size:
                c, _ = combine_scores(sc.seg_nll[idx], sc.sdnn_nll[idx], seg_weight=ws if sc.severed else w,
                                      max_nll=cap)
                out[f] = digit_string(sc.texts[int(idx[int(np.argmin(c))])]) == truths[f]
        return out

    grid = {g: hits(*g) for g in itertools.product(WEIGHTS, WEIGHTS, CAPS, CANDIDATES, SDNN_CANDIDATES)}
    even, odd = np.arange(0, len(scored), 2), np.arange(1, len(scored), 2)
    on_even = max(grid, key=lambda g: grid[g][even].sum())
    on_odd = max(grid, key=lambda g: grid[g][odd].sum())
    best = max(grid, key=lambda g: grid[g].sum())
    return {"bundled_settings": float(hits(*bundled).mean()), "bundled": dict(zip(names, bundled)),
            "any_candidate": float(np.mean([t in [digit_string(x) for x in sc.texts] for sc, t in zip(scored, truths)])),
            "in_sample_best": {"accuracy": float(grid[best].mean()), **dict(zip(names, best))},
            "cross_fitted": float((grid[on_even][odd].sum() + grid[on_odd][even].sum()) / len(scored)),
            "chosen_on_even": dict(zip(names, on_even)), "chosen_on_odd": dict(zip(names, on_odd))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", nargs="+", default=["sdnn-strip-real"], help="strip weights (names or files)")
    ap.add_argument("--orand", default=os.environ.get("DOCREC_ORAND_DIR", str(SHARED / "orand_car_a")))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    images, truths, grammar, _ = load_set("orand-val", Path(args.orand), None)
    out = {"command": "python benchmarks/real_rescoring.py " + " ".join(sys.argv[1:]), "fields": len(images),
           "strip_ensemble": strip_ensemble(args.members, images, truths, grammar),
           "combo": combo_grid(images, truths, grammar)}
    out["seconds"] = round(time.time() - t0, 1)
    _bench.write_json(RESULTS, out, indent=1)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
