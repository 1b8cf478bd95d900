"""Cross-fitted validation: what 100 more real training fields are worth, measured without losing the split.

The real-field weights are chosen on the validation split (ORAND-CAR-A ids 800-999), so training on
it as well leaves nothing to measure them on. Cross-fitting measures the effect anyway: weights ``A``
are trained on the training split (ids 154-799) plus the *even* validation ids and read only the
*odd* ones; weights ``B`` are trained on the training split plus the odd ids and read only the even
ones. Every validation field is then read by a model that never saw it, trained on 746 real fields
instead of 646, with the recipe frozen (same settings, the *last* epoch kept: no epoch is chosen on
the fields that are read). The same run reads the split with the weights trained on the training
split alone (the bundled ``*-real`` weights; their epoch was chosen on the validation split, which
flatters them by a point or two) for comparison.

Systems: seg with LeNet-5, seg with the modern CNN, ``sdnn-strip`` and ``combo`` (the modern seg system
and the strip net with the settings of ``seg-modern-real``, early acceptance included), each with the
bundled weights trained on the training split (646 fields) and cross-fitted (746 fields). Metrics as
``benchmarks/real_fields.py``: digit-string accuracy, CER, accuracy at 1% error with the rejection
threshold cross-fitted over the same two halves (and at 0.5%; every field's confidence is stored),
fields/s. Every recogniser reads with ``score="digits"`` (``--score``; confidences of digit strings,
as ``docrec`` reads amounts).

Usage::

    python benchmarks/real_crossfit.py --make-folds runs/crossfit   # writes the folders, prints the trainings
    # ... run the printed commands (the strip net about an hour per fold on one core, seg-lenet5 about 10 min,
    # seg-modern about 25 min) ...
    python benchmarks/real_crossfit.py --strip runs/crossfit/strip{A,B}/sdnn-real-last.pt \\
        --seg-lenet5 runs/crossfit/seg-lenet5-{A,B}/joint-weights.pt \\
        --seg-modern runs/crossfit/seg-modern-{A,B}/joint-weights.pt

Results go to ``benchmarks/results/real_crossfit.json`` (``--out`` for another file, e.g. the seg
recipes trained again with ``--seed 1``: ``real_crossfit_seg_seed1.json``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.real_fields import SHARED, VAL_IDS, scored  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "real_crossfit.json"


def _sha(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


#: fold -> (training ids, the validation ids it reads); A reads the odd ids, B the even ones
FOLDS = {"A": (lambda i: 154 <= i <= 799 or (i in VAL_IDS and i % 2 == 0), "odd"),
         "B": (lambda i: 154 <= i <= 799 or (i in VAL_IDS and i % 2 == 1), "even"),
         "odd": (lambda i: i in VAL_IDS and i % 2 == 1, None),
         "even": (lambda i: i in VAL_IDS and i % 2 == 0, None)}
#: the frozen recipes (recipes/sdnn-strip-real.toml, seg-lenet5-real.toml, seg-modern-real.toml) for one
#: fold, without epoch selection: the strip net logs its accuracy on the half it reads but the last epoch
#: (``sdnn-real-last.pt``) is what is measured; the seg stages get no validation folder at all
TRAIN = ("docrec train sdnn --real {dir}/{fold} --val-real {dir}/{reads} --init sdnn-strip --epochs 60 "
         "--threads 1 --out {dir}/strip{fold}",
         "docrec train seg local --fields {dir}/{fold} --epochs 12 --lr 3e-3 --lr-decay 0.85 --synth-ratio 0.5 "
         "--work {dir}/seg-lenet5-{fold} --tag local",
         "docrec train seg global --fields {dir}/{fold} --epochs 5 --synth-ratio 0 --joint-local 1 "
         "--init {dir}/seg-lenet5-{fold}/local-weights.pt --work {dir}/seg-lenet5-{fold} --tag joint",
         "docrec train seg local --fields {dir}/{fold} --arch modern --epochs 8 --lr 1e-3 --lr-decay 0.8 "
         "--synth-ratio 0.5 --work {dir}/seg-modern-{fold} --tag local",
         "docrec train seg global --fields {dir}/{fold} --epochs 5 --synth-ratio 0 --joint-local 1 "
         "--init {dir}/seg-modern-{fold}/local-weights.pt --work {dir}/seg-modern-{fold} --tag joint")


def make_folds(orand: Path, out: Path) -> None:
    """Write the labelled folders ``out/{A,B,odd,even}`` (images copied, ``labels.csv``, ``boxes.jsonl``
    of the chosen ids) and print the training commands of the two folds."""
    import json
    import shutil

    from data import read_fields
    from data.fields import field_id

    fs = read_fields(orand, boxes=None)
    boxes = {}
    if (orand / "boxes.jsonl").is_file():
        for line in (orand / "boxes.jsonl").read_text().splitlines():
            if line.strip():
                boxes[json.loads(line)["path"]] = line
    for name, (keep, _) in FOLDS.items():
        folder = out / name
        (folder / "images").mkdir(parents=True, exist_ok=True)
        rows, lines = [], []
        for i in range(len(fs)):
            src = Path(fs[i].path)
            fid = field_id(src)
            if fid is None or not keep(fid):
                continue
            rel = f"images/{src.name}"
            shutil.copyfile(src, folder / rel)
            rows.append(f"{rel},{fs.texts[i]}")
            lines += [boxes[rel]] if rel in boxes else []
        (folder / "labels.csv").write_text("path,text\n" + "\n".join(rows) + "\n")
        (folder / "boxes.jsonl").write_text("".join(line + "\n" for line in lines))
        print(f"{folder}: {len(rows)} fields", file=sys.stderr)
    for fold in ("A", "B"):
        for command in TRAIN:
            print(command.format(dir=out, fold=fold, reads=FOLDS[fold][1]))


def split_halves(ids: list[int], images: list) -> dict:
    """``{"even": (ids, images), "odd": (ids, images)}``: the validation fields split by id parity,
    the halves the folds read (:data:`FOLDS`)."""
    return {h: ([i for i in ids if i % 2 == r], [im for i, im in zip(ids, images) if i % 2 == r])
            for h, r in (("even", 0), ("odd", 1))}


def read_halves(make, halves: dict, grammar) -> tuple[list, float]:
    """``make(half) -> recogniser``; each half's images read by its own recogniser. Returns the
    :class:`Recognition` list in validation-id order and the summed reading time."""
    out: dict[int, object] = {}
    seconds = 0.0
    for half, (ids, images) in halves.items():
        rec = make(half)
        t0 = time.perf_counter()
        for i, r in zip(ids, rec.recognize(images, grammar=grammar)):
            out[i] = r
        seconds += time.perf_counter() - t0
    return [out[i] for i in sorted(out)], seconds


def score(results: list, truths: list[str], seconds: float) -> dict:
    """:func:`benchmarks.real_fields.scored` on the digits, with the accuracy's 95% Wilson interval
    and the accuracy of each half."""
    from docrec.compare.stats import cross_fitted_at_error, wilson

    res, ok = scored(results, truths, seconds, digits_only=True)
    conf = [float(r.confidence) for r in results]
    # with 100 fields per half, a threshold fitted at 1% error may make more on the other half; the
    # stricter operating point, and every field's confidence, let a reader see the whole trade-off
    strict = cross_fitted_at_error(conf, ok, max_error=0.005)
    return {**res, "accuracy_ci": list(wilson(int(ok.sum()), len(ok))),
            "accuracy_odd": float(ok[1::2].mean()), "accuracy_even": float(ok[0::2].mean()),
            "accuracy_at_0.5pct": strict["accuracy"], "error_at_0.5pct": strict["error"],
            "confidences": [round(c, 6) for c in conf], "correct": ok.tolist()}


def _pair(p, args, flag: str) -> dict | None:
    """``{"odd": path, "even": path}`` of a ``--FLAG ODD EVEN`` option (None when not given)."""
    given = getattr(args, flag.replace("-", "_"))
    if given is None:
        return None
    for path in given:
        if not Path(path).is_file():
            p.error(f"--{flag} {path}: no such weights file")
    return {"odd": given[0], "even": given[1]}


def main(argv=None) -> int:
    from benchmarks._bench import write_json
    from data import read_fields
    from data.fields import field_id
    from docrec.recognizers import resolve_grammar
    from docrec.recognizers.combo import CombinedRecognizer
    from docrec.recognizers.sdnn import SDNNRecognizer
    from docrec.recognizers.seg import SegmentationRecognizer, SegRecognizerConfig

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--make-folds", default=None, metavar="DIR", help="write the fold folders into DIR, "
                   "print the training commands and stop")
    p.add_argument("--strip", nargs=2, metavar=("ODD", "EVEN"), help="strip weights trained without the "
                   "odd / the even validation ids (recipes/sdnn-strip-real.toml on fold A / B; without "
                   "them the strip and combined rows are left out)")
    p.add_argument("--seg-lenet5", nargs=2, metavar=("ODD", "EVEN"),
                   help="the same for recipes/seg-lenet5-real.toml (optional)")
    p.add_argument("--seg-modern", nargs=2, metavar=("ODD", "EVEN"),
                   help="the same for recipes/seg-modern-real.toml (optional; the combined reader's seg half)")
    p.add_argument("--lenet5-shifts", type=int, default=None, metavar="PX",
                   help="piece_shifts of the cross-fitted LeNet-5 weights (default: the bundled seg-lenet5-real's)")
    p.add_argument("--orand", default=os.environ.get("DOCREC_ORAND_DIR", str(SHARED / "orand_car_a")))
    p.add_argument("--score", choices=("text", "digits"), default="digits",
                   help="confidences of digit strings (default, as docrec reads amounts) or of texts")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(RESULTS), help=f"results JSON (default {RESULTS.relative_to(ROOT)})")
    args = p.parse_args(argv)
    if args.make_folds:
        make_folds(Path(args.orand), Path(args.make_folds))
        return 0
    torch.set_num_threads(args.threads)
    strip, lenet5, modern = _pair(p, args, "strip"), _pair(p, args, "seg-lenet5"), _pair(p, args, "seg-modern")
    if not (strip or lenet5 or modern):
        p.error("give fold weights (--strip, --seg-lenet5, --seg-modern ODD EVEN) or --make-folds DIR")

    fs = read_fields(args.orand, boxes=None).select_ids(VAL_IDS)
    ids = [field_id(fs[i].path) for i in range(len(fs))]
    order = np.argsort(ids)
    ids = [ids[k] for k in order]
    images = [fs.image(int(k)) for k in order]
    truths = [fs.texts[int(k)] for k in order]
    halves = split_halves(ids, images)
    grammar = resolve_grammar("amount")
    sc = args.score
    bundled = CombinedRecognizer(weights="seg-modern-real", score=sc)  # its settings are kept for the cross-fitted one

    def combo(h: str):
        seg = SegmentationRecognizer(weights=modern[h], score=sc) if modern else bundled.seg
        return CombinedRecognizer(seg=seg, sdnn=SDNNRecognizer(strip[h], score=sc), config=bundled.config)

    runs = {}
    if lenet5:
        lenet_bundled = SegmentationRecognizer(weights="seg-lenet5-real", score=sc)
        # the bundled weights' reading settings (piece_shifts) are kept for the cross-fitted ones
        lenet_cfg = SegRecognizerConfig(piece_shifts=lenet_bundled.config.piece_shifts if args.lenet5_shifts is None
                                        else args.lenet5_shifts)
        runs["seg, LeNet-5: seg-lenet5-real (646 fields)"] = lambda h: lenet_bundled
        runs["seg, LeNet-5: cross-fitted (746 fields)"] = lambda h: SegmentationRecognizer(weights=lenet5[h], score=sc,
                                                                                           config=lenet_cfg)
    if modern:
        runs["seg, modern CNN: seg-modern-real (646 fields)"] = lambda h: bundled.seg
        runs["seg, modern CNN: cross-fitted (746 fields)"] = lambda h: SegmentationRecognizer(weights=modern[h],
                                                                                              score=sc)
    if strip:
        runs["sdnn-strip: sdnn-strip-real (646 fields)"] = lambda h: SDNNRecognizer("sdnn-strip-real", score=sc)
        runs["sdnn-strip: cross-fitted (746 fields)"] = lambda h: SDNNRecognizer(strip[h], score=sc)
        runs["combo: seg-modern-real + sdnn-strip-real (646 fields)"] = lambda h: bundled
        runs["combo: cross-fitted (746 fields)"] = combo
    results = {"split": "ORAND-CAR-A ids 800-999; the cross-fitted weights read the half they were not "
                        "trained on (odd: fold A, even: fold B)",
               "combo_cross_fitted": ("seg half " + ("cross-fitted" if modern else "seg-modern-real (646 fields)")
                                      + ", strip half cross-fitted, settings of seg-modern-real") if strip else None,
               "seg_lenet5_piece_shifts": lenet_cfg.piece_shifts if lenet5 else None,
               "weights": {flag: {h: [w, _sha(w)] for h, w in pair.items()}
                           for flag, pair in (("strip", strip), ("seg-lenet5", lenet5), ("seg-modern", modern))
                           if pair},
               "score": sc, "combo_settings": {k: v for k, v in vars(bundled.config).items()},
               "threads": args.threads, "systems": {}}
    for label, make in runs.items():
        out, seconds = read_halves(make, halves, grammar)
        r = results["systems"][label] = score(out, truths, seconds)
        print(f"{label:55s} acc {r['string_accuracy']:.3f} (odd {r['accuracy_odd']:.2f}, even "
              f"{r['accuracy_even']:.2f})  cer {r['cer']:.3f}  at1% {r['accuracy_at_1pct']:.3f}", flush=True)
    write_json(Path(args.out), results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
