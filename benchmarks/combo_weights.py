"""Choose the combined recogniser's settings on validation strings (never on test strings).

``docrec.recognizers.combo.CombinedRecognizer`` rescores the candidate readings of the
segmentation system and the SDNN with both: ``c(t) = w d_seg(t) + (1 - w) d_sdnn(t)``, each ``d``
a ``-log`` posterior capped at ``max_nll``; ``w`` is one weight for fields whose segmentation
reading cuts only between ink components and another (``seg_weight_severed``) for those it cuts
through; candidates come from the segmentation system's ``m_seg`` best and the SDNN's ``m_sdnn``
best. This script reads ``--count`` strings per condition built from the held-out MNIST
*training* digits 55,000-59,999 (``docrec.training.seg_data.train_pools``; field ``i`` of a
condition uses ``field_rng(seed, i)`` with the seeds of :data:`CONDITIONS`, distinct from every
other validation set of the project), scores every candidate once with both systems
(``--weights``: the seg piece classifier, default the bundled one), then evaluates the grid of
``w`` x ``w_severed`` x ``max_nll`` x ``m_seg`` x ``m_sdnn``. The best mean string accuracy over
the conditions wins; settings within ``--tolerance`` of it count as tied and the fastest of those
is taken (fewest SDNN candidates, whose n-best decoding is slow, then fewest seg candidates; then
the best mean, then the two weights nearest each other, then ``w`` nearer 0.5). Writes
``benchmarks/results/combo_weights.json`` (the 300 best grid rows and every one-weight row);
``--store`` also writes the choice into the weights' meta, where the recogniser reads it (the
confidence mode stored there by ``combo_confidence.py --store`` stays; re-run that afterwards, since
the best mode depends on these settings).

    .venv/bin/python benchmarks/combo_weights.py --count 200 [--weights W.pt] [--store]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import _bench  # repository on sys.path, development MNIST; write_json
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "combo_weights.json"
#: (kind, spacing, grammar, seed)
CONDITIONS = (("zip", "normal", "zip", 7300), ("zip", "touching", "zip", 7301), ("zip", "tight", "zip", 7302),
              ("digits", "normal", "digits:3-8", 7303), ("digits", "touching", "digits:3-8", 7304),
              ("amount", "normal", "amount", 7305))
WEIGHTS = tuple(round(0.1 * k, 1) for k in range(11))
CAPS = (2.0, 4.0, 8.0, 12.0, 20.0, 1e9)
CANDIDATES = (1, 2, 3, 5)
SDNN_CANDIDATES = (1, 2, 3)


def subset(sc, m_seg: int, m_sdnn: int) -> np.ndarray:
    """Indices (into ``sc.texts``) of the candidates of :func:`docrec.recognizers.combo.candidate_texts`
    with ``m_seg`` / ``m_sdnn`` texts from the two lists."""
    from docrec.recognizers.combo import candidate_texts

    keep = candidate_texts(sc.seg, sc.sdnn, m_seg, m_sdnn)
    return np.asarray([sc.texts.index(t) for t in keep], np.int64)


def update_combo_meta(weights, updates: dict, *, drop: tuple[str, ...] = ()) -> None:
    """Merge ``updates`` into ``meta["combo"]`` of a seg weights file (keys in ``drop`` removed,
    other keys kept; atomic rewrite). ``weights`` None: the combined recogniser's default seg
    weights, the ones it scored with."""
    from docrec.recognizers.combo import DEFAULT_SEG_WEIGHTS
    from docrec.training.seg_local import save_atomic

    path = Path(weights) if weights else DEFAULT_SEG_WEIGHTS
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if not (isinstance(blob, dict) and "model" in blob):
        blob = {"model": blob, "meta": {}}
    meta = dict(blob.get("meta") or {})
    combo = {k: v for k, v in dict(meta.get("combo") or {}).items() if k not in drop}
    meta["combo"] = {**combo, **updates}
    save_atomic({**blob, "meta": meta}, path)
    print(f"stored {meta['combo']} in {path}")


def store_settings(weights: Path | None, best: dict, sdnn_weights: str | None = None) -> None:
    """Put the chosen settings under ``meta["combo"]`` of a seg weights file (the confidence mode
    stays; ``sdnn_weights`` None removes a stored SDNN choice: the bundled SDNN was scored)."""
    updates = {k: best[k] for k in ("seg_weight", "seg_weight_severed", "max_nll", "candidates",
                                    "sdnn_candidates")}
    if sdnn_weights is not None:
        updates["sdnn_weights"] = str(sdnn_weights)
    update_combo_meta(weights, updates, drop=("sdnn_weights",))


def main(argv: list[str] | None = None) -> int:
    from data.synth import SynthConfig, field_rng, synthesize_one
    from docrec.recognizers import resolve_grammar
    from docrec.recognizers.combo import CombinedConfig, CombinedRecognizer, combine_scores
    from docrec.training.seg_data import train_pools

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=200, help="fields per condition")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--tolerance", type=float, default=0.0025,
                    help="settings whose mean accuracy is within this of the best count as tied; the "
                         "fastest of them (fewest SDNN, then seg candidates) is chosen (default 0.0025: "
                         "3 of 1,200 strings)")
    ap.add_argument("--weights", default=None, help="piece-classifier weights of the segmentation system")
    ap.add_argument("--sdnn_weights", default=None,
                    help="SDNN weights (file or bundled name; default the bundled sdnn); stored with --store")
    ap.add_argument("--store", action="store_true",
                    help="write the chosen settings into those weights' meta (key 'combo'; atomic), where "
                         "CombinedRecognizer finds them")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    _, pool = train_pools()
    rec = CombinedRecognizer(weights=args.weights, config=CombinedConfig(candidates=max(CANDIDATES),
                                                                         sdnn_candidates=max(SDNN_CANDIDATES),
                                                                         sdnn_weights=args.sdnn_weights))
    scored, truths, names = {}, {}, []
    t0 = time.time()
    for kind, spacing, gspec, seed in CONDITIONS:
        name = f"{kind}-{spacing}"
        synth = SynthConfig(spacing=spacing, min_len=3, max_len=8, zip_plus4=0.0)
        fields = [synthesize_one(kind, pool, field_rng(seed, i), synth) for i in range(args.count)]
        scored[name] = rec.score_candidates([f.image for f in fields], grammar=resolve_grammar(gspec))
        truths[name] = [f.text for f in fields]
        names.append(name)
        print(f"scored {name} ({time.time() - t0:.0f} s)", flush=True)
    subsets = {(name, m, md): [subset(sc, m, md) for sc in scored[name]]
               for name in names for m in CANDIDATES for md in SDNN_CANDIDATES}
    severed = {name: np.array([sc.severed for sc in scored[name]]) for name in names}
    # correct[(name, w, cap, m, md)]: bool per field; w and w_severed act on disjoint fields
    correct = {}
    for name in names:
        for w, cap, m, md in itertools.product(WEIGHTS, CAPS, CANDIDATES, SDNN_CANDIDATES):
            hits = np.zeros(len(truths[name]), bool)
            for f, (sc, idx, truth) in enumerate(zip(scored[name], subsets[(name, m, md)], truths[name])):
                if idx.size:
                    c, _ = combine_scores(sc.seg_nll[idx], sc.sdnn_nll[idx], seg_weight=w, max_nll=cap)
                    hits[f] = sc.texts[int(idx[int(np.argmin(c))])] == truth
            correct[(name, w, cap, m, md)] = hits
    grid = []
    for w, ws, cap, m, md in itertools.product(WEIGHTS, WEIGHTS, CAPS, CANDIDATES, SDNN_CANDIDATES):
        row = {"seg_weight": w, "seg_weight_severed": ws, "max_nll": cap, "candidates": m, "sdnn_candidates": md}
        for name in names:
            row[name] = float(np.where(severed[name], correct[(name, ws, cap, m, md)],
                                       correct[(name, w, cap, m, md)]).mean())
        row["mean"] = float(np.mean([row[n] for n in names]))
        grid.append(row)
    alone = {"seg": {n: float(np.mean([sc.seg.text == t for sc, t in zip(scored[n], truths[n])])) for n in names},
             "sdnn": {n: float(np.mean([sc.sdnn.text == t for sc, t in zip(scored[n], truths[n])])) for n in names},
             "either": {n: float(np.mean([t in (sc.seg.text, sc.sdnn.text) for sc, t in zip(scored[n], truths[n])]))
                        for n in names},
             "any_candidate": {n: float(np.mean([t in sc.texts for sc, t in zip(scored[n], truths[n])]))
                               for n in names},
             "severed_share": {n: float(severed[n].mean()) for n in names}}
    top = max(r["mean"] for r in grid)
    near = [r for r in grid if r["mean"] >= top - args.tolerance]  # within noise of the best: cheapest
    best = max(near, key=lambda r: (-r["sdnn_candidates"], -r["candidates"], round(r["mean"], 6),
                                    -abs(r["seg_weight"] - r["seg_weight_severed"]),
                                    -abs(r["seg_weight"] - 0.5)))
    uniform = max((r for r in grid if r["seg_weight"] == r["seg_weight_severed"]), key=lambda r: r["mean"])
    out = {"description": __doc__.split("\n\n")[0], "count": args.count, "weights": args.weights or "bundled",
           "sdnn_weights": args.sdnn_weights or "bundled",
           "data": "strings of MNIST training digits 55000..59999 (validation); test digits never used",
           "conditions": [list(c) for c in CONDITIONS], "tolerance": args.tolerance, "alone": alone,
           "best": best, "best_one_weight": uniform, "grid_rows": len(grid),
           "grid": sorted(grid, key=lambda r: -r["mean"])[:300]
           + [r for r in grid if r["seg_weight"] == r["seg_weight_severed"]],
           "seconds": time.time() - t0}
    _bench.write_json(args.out, out)
    if args.store:
        store_settings(Path(args.weights) if args.weights else None, best, args.sdnn_weights)
    for k, v in alone.items():
        print(f"{k:14s}", " ".join(f"{n} {v[n]:.3f}" for n in names))
    print("best", json.dumps(best))
    print("best with one weight", json.dumps(uniform))
    for m, md in itertools.product(CANDIDATES, SDNN_CANDIDATES):
        top = max((r for r in grid if (r["candidates"], r["sdnn_candidates"]) == (m, md)), key=lambda r: r["mean"])
        print(f"best with m_seg={m} m_sdnn={md}:", json.dumps(top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
