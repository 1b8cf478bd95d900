"""Heuristic over-segmentation: binarisation choice, guide-line removal, cut coverage, graph size.

Three measurements on synthetic fields built from MNIST digits (``data.synth`` layouts; digit strings
of 3-7 characters; fixed seeds). The binarisation choice was made on TRAINING digits (``--split
train``); the default run reports on TEST digits, for measurement only.

1. Binarisation (``segmenter.binarize``, every method with the default contrast guard) on the paper
   conditions of ``segmenter.synthtruth.render_condition`` (white, texture, lined, form, faint pen,
   uneven light and ink): pixel F1 against the clean ink mask (ink coverage > 0.5), on the raw
   binarisation and after the whole preprocessing (guide-line/border/speck removal).
2. Guide-line removal on lined/form paper: share of the true ink kept by the cleaning (true ink
   in the preprocessed mask / true ink in the raw binarisation) and share of the binarised pixels
   of printed lines and frames (paper darker than 200) that the cleaning removed.
3. Cut coverage per spacing preset (wide, normal, tight, touching, overlapping; white paper and the
   ``form`` condition for ``normal`` and ``touching``; amounts at normal spacing), with every cut
   kind (the default) and with the row-wise path cuts alone (no component or split cuts): the
   share of fields whose true segmentation is a path of the graph (``segmenter.truth.true_path``:
   one arc per character, each holding >= tol of the character's surviving ink and >= tol of its own ink from that character; tol 0.9 / 0.85 / 0.8),
   the share of true character boundaries matched by some cut (tol 0.85), graph nodes and arcs per
   character, and the median milliseconds per field.

    .venv/bin/python benchmarks/segmentation.py                 # writes benchmarks/results/segmentation.json
    .venv/bin/python benchmarks/segmentation.py --split train   # the development numbers
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from data.synth import DigitPool, SynthConfig
from data.texts import sample_text
from segmenter import BINARIZE_METHODS, SegmenterConfig, binarize, preprocess, segment
from segmenter.synthtruth import CONDITIONS, render_condition, render_with_char_map
from segmenter.truth import true_path

SPACINGS = ("wide", "normal", "tight", "touching", "overlapping")
TOLS = (0.9, 0.85, 0.8)


def f1(pred: np.ndarray, gt: np.ndarray) -> float:
    tp = float((pred & gt).sum())
    return 2.0 * tp / max(float(pred.sum() + gt.sum()), 1.0)


def binarisation(pool: DigitPool, n: int, seed: int) -> list[dict]:
    rows = []
    for cond in CONDITIONS:
        rng = np.random.default_rng([seed, CONDITIONS.index(cond)])
        fields = []
        for _ in range(n):
            text = sample_text("digits", rng, min_len=3, max_len=7)
            fields.append(render_condition(text, pool, rng, cond))
        for method in BINARIZE_METHODS:
            cfg = SegmenterConfig().replace(binarize=method)
            raw, full, kept, line_gone = [], [], [], []
            for image, gt, _, paper in fields:
                b = binarize(image, cfg)
                p = preprocess(image, cfg)
                raw.append(f1(b, gt))
                full.append(f1(p.ink, gt))
                kept.append(float((p.ink & gt).sum()) / max(float((b & gt).sum()), 1.0))
                line = b & (paper < 200)  # binarised pixels of printed lines and frames
                if cond in ("lined", "form") and line.sum() > 0:
                    line_gone.append(float((line & ~p.ink).sum()) / float(line.sum()))
            rows.append({"condition": cond, "method": method, "f1_raw": float(np.mean(raw)),
                         "f1_preprocessed": float(np.mean(full)),
                         "ink_kept_by_cleaning": float(np.mean(kept)),
                         "line_px_removed": float(np.mean(line_gone)) if line_gone else None})
    return rows


#: the cut kinds compared: every kind (the default) and the row-wise path cuts alone
CUT_SETS = {"all": {}, "paths only": {"split_cuts": False, "component_order_cuts": False}}


def coverage(pool: DigitPool, n: int, seed: int, split: str) -> list[dict]:
    rows = []
    cases = ([("digits", s, "white") for s in SPACINGS] + [("digits", "normal", "form"),
             ("digits", "touching", "form"), ("amount", "normal", "white")])
    for cut_set, changes in CUT_SETS.items():
        cfg = SegmenterConfig().replace(**changes)
        for kind, spacing, background in cases:
            rows.append(_coverage_row(pool, n, seed, split, cfg, cut_set, kind, spacing, background))
    return rows


def _coverage_row(pool, n, seed, split, cfg, cut_set, kind, spacing, background) -> dict:
    """One coverage row: ``n`` fields of ``kind`` (3-7 characters) at ``spacing`` on ``background``."""
    sc = SynthConfig(spacing=spacing, background=background, min_len=3, max_len=7)
    rng_seed = [seed, SPACINGS.index(spacing), ("white", "form").index(background)]
    if kind != "digits":
        rng_seed.append(1)
    ok = {t: 0 for t in TOLS}
    bounds = good_bounds = chars = nodes = arcs = 0
    times = []
    for i in range(n):
        rng = np.random.default_rng(rng_seed + [i])
        text = sample_text(kind, rng, min_len=3, max_len=7)
        field, cmap = render_with_char_map(text, pool, rng, sc)
        t0 = time.perf_counter()
        seg = segment(field.image, config=cfg)
        times.append(time.perf_counter() - t0)
        for t in TOLS:
            ok[t] += true_path(seg, cmap, tol=t) is not None
        chars += len(text)
        nodes += seg.graph.num_nodes
        arcs += seg.num_arcs
        b, g = boundary_hits(seg, cmap, len(text), tol=0.85)
        bounds += b
        good_bounds += g
    return {"cuts": cut_set, "text": kind, "spacing": spacing, "background": background, "split": split,
            "fields": n, **{f"path@{t}": ok[t] / n for t in TOLS},
            "boundary_cut@0.85": good_bounds / max(bounds, 1),
            "nodes_per_char": nodes / chars, "arcs_per_char": arcs / chars,
            "median_ms": 1000 * statistics.median(times)}


def boundary_hits(seg, cmap: np.ndarray, nchar: int, *, tol: float) -> tuple[int, int]:
    """(boundaries, boundaries some cut separates with quality >= tol) using the ownership sides."""
    if seg.is_empty:
        return nchar - 1, 0
    ys, xs = seg.ink_yx[:, 0], seg.ink_yx[:, 1]
    ch = cmap[ys, xs - seg.prep.shift[ys]]
    hits = 0
    for b in range(nchar - 1):
        a_, b_ = ch == b, ch == b + 1
        left, right = (ch >= 0) & (ch <= b), ch > b
        best = 0.0
        for side in seg.sides:
            q = min((a_ & ~side).sum() / max(a_.sum(), 1), (b_ & side).sum() / max(b_.sum(), 1),
                    1 - (left & side).sum() / max(left.sum(), 1),
                    1 - (right & ~side).sum() / max(right.sum(), 1))
            best = max(best, q)
        hits += best >= tol
    return nchar - 1, hits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("train", "test"), default="test")
    ap.add_argument("--fields", type=int, default=300, help="fields per spacing condition")
    ap.add_argument("--bin-fields", type=int, default=60, help="fields per paper condition")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    pool = DigitPool.load(args.split)
    t0 = time.time()
    bin_rows = binarisation(pool, args.bin_fields, args.seed)
    cov_rows = coverage(pool, args.fields, args.seed, args.split)
    out = Path(args.out or Path(__file__).parent / "results" / (
        "segmentation.json" if args.split == "test" else "segmentation_train.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {"split": args.split, "seed": args.seed, "binarisation": bin_rows, "coverage": cov_rows,
              "config": SegmenterConfig().__dict__, "seconds": time.time() - t0}
    out.write_text(json.dumps(result, indent=1, default=str))
    print(f"## Binarisation: pixel F1 vs clean ink mask ({args.split} digits, {args.bin_fields} fields each)\n")
    print("| condition | " + " | ".join(BINARIZE_METHODS) + " |")
    print("|---" * (len(BINARIZE_METHODS) + 1) + "|")
    for cond in CONDITIONS:
        cells = []
        for m in BINARIZE_METHODS:
            r = next(r for r in bin_rows if r["condition"] == cond and r["method"] == m)
            cells.append(f"{r['f1_raw']:.3f} / {r['f1_preprocessed']:.3f}")
        print(f"| {cond} | " + " | ".join(cells) + " |")
    print("\n(raw binarisation / after line, border and speck removal)\n")
    default = SegmenterConfig().binarize
    print(f"## Guide-line removal ({default})\n")
    print("| condition | true ink kept | binarised printed-line pixels removed |\n|---|---|---|")
    for cond in CONDITIONS:
        r = next(r for r in bin_rows if r["condition"] == cond and r["method"] == default)
        gone = "-" if r["line_px_removed"] is None else f"{r['line_px_removed']:.3f}"
        print(f"| {cond} | {r['ink_kept_by_cleaning']:.4f} | {gone} |")
    print(f"\n## Cut coverage ({args.split} digits, {args.fields} fields each, 3-7 digits)\n")
    print("| cuts | text | spacing | paper | true path @0.9 | @0.85 | @0.8 | boundaries cut @0.85 | "
          "nodes/char | arcs/char | ms/field |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in cov_rows:
        print(f"| {r['cuts']} | {r['text']} | {r['spacing']} | {r['background']} | {r['path@0.9']:.3f} | "
              f"{r['path@0.85']:.3f} | "
              f"{r['path@0.8']:.3f} | {r['boundary_cut@0.85']:.3f} | {r['nodes_per_char']:.2f} | "
              f"{r['arcs_per_char']:.2f} | {r['median_ms']:.0f} |")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
