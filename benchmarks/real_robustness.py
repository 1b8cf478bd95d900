"""Real cheque amounts as other scanners and other paper would show them (issue 16, items 3-4).

The validation split of ``benchmarks/real_fields.py`` (ORAND-CAR-A ids 800-999, 200 real fields,
digits scored, grammar ``amount``) is read as it is and under each of the changes below, by the
real-trained readers that never saw these fields. Every change is deterministic, so every system
reads the same images. Nothing is chosen on these readings; they show where the preprocessing
(``segmenter.preprocess``, the SDNN's ``line_free_ink``) and the networks stop carrying over.

Conditions (``CONDITIONS``; a field is about 53 px high, 154 px wide):

* ``original``: the field as scanned.
* ``upscale-2x`` / ``downscale-0.5x``: a 300-dpi scan (cubic) / a coarse one (pixel area).
* ``pad-12`` / ``margin-150``: 12 / 150 px of the field's own paper (its median grey) around it, a
  looser crop.
* ``scanner-border``: a dark band (grey 25) 14 px wide along the top and the left edge.
* ``ruled``: a printed line (grey 70, 2 px) across the field at 90% of its height, through the
  bottoms of most digits.
* ``boxed``: 6 px of paper, then a printed frame (grey 60, 2 px).
* ``rotate+3`` / ``rotate-3``: ``pad-12``, then turned by 3 degrees (paper fills the corners);
  compare with ``pad-12``.
* ``low-contrast``: the ink at 45% of its darkness against the paper (a pale pen, a washed-out
  scan).
* ``dark-paper``: every grey level times 0.55 (an underexposed scan).
* ``jpeg-20``: JPEG at quality 20.
* ``blur-1.0`` / ``blur-1.5``: a Gaussian blur of sigma 1.0 / 1.5 px (out of focus).
* ``colour``: RGB, blue ink on pale yellow paper (the recognisers' own colour-to-grey conversion).
* ``negative``: ``255 - grey``, light ink on dark paper (MNIST's own polarity, a negative scan).

Writes ``benchmarks/results/real_robustness.json`` under ``--label`` (merged with what is there),
and prints the Markdown table (``--table`` prints it from the JSON alone).

Cross-fitted fold weights are read too: a weights path holding ``{F}`` names a pair of
``benchmarks/real_crossfit.py`` folds, ``A`` (trained with the even validation ids) reading the
odd ids and ``B`` the even ones, so no field is read by weights that saw it. This is how training
recipes are compared under these changes (docs/real_fields.md, "Rescanned copies").

    .venv/bin/python benchmarks/real_robustness.py [--label NAME] [--systems LABEL=SYSTEM:WEIGHTS ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.real_fields import SHARED, VAL_IDS, build, load_set, scored  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "real_robustness.json"

#: label -> "system:weights": the 646-field real-trained readers (the *-all ones saw these fields)
DEFAULT_SYSTEMS = {
    "seg (LeNet-5)": "seg:seg-lenet5-real",
    "seg-modern": "seg:seg-modern-real",
    "sdnn-strip": "sdnn:sdnn-strip-real",
    "combo": "combo:seg-modern-real",
}


def paper_level(image: np.ndarray) -> float:
    """The field's paper grey: its median (the ink is a small share of a field)."""
    return float(np.median(image))


def pad(image: np.ndarray, px: int) -> np.ndarray:
    """``image`` uint8 ``(H, W)`` with ``px`` pixels of its paper on every side."""
    return cv2.copyMakeBorder(image, px, px, px, px, cv2.BORDER_CONSTANT, value=paper_level(image))


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    """:func:`pad` by 12 px, then turned by ``degrees`` about the centre (paper fills the corners)."""
    big = pad(image, 12)
    h, w = big.shape
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), degrees, 1.0)
    return cv2.warpAffine(big, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=paper_level(image))


def scanner_border(image: np.ndarray) -> np.ndarray:
    return cv2.copyMakeBorder(image, 14, 0, 14, 0, cv2.BORDER_CONSTANT, value=25)


def ruled(image: np.ndarray) -> np.ndarray:
    out = image.copy()
    h, w = out.shape
    y = int(0.9 * h)
    cv2.line(out, (0, y), (w - 1, y), 70, 2)
    return out


def boxed(image: np.ndarray) -> np.ndarray:
    out = pad(image, 6)
    h, w = out.shape
    cv2.rectangle(out, (2, 2), (w - 3, h - 3), 60, 2)
    return out


def low_contrast(image: np.ndarray) -> np.ndarray:
    """The ink at 45% of its darkness against white: ``255 - 0.45 (255 - grey)``."""
    return (255.0 - 0.45 * (255.0 - image.astype(np.float32))).astype(np.uint8)


def jpeg(image: np.ndarray, quality: int = 20) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("[benchmarks.real_robustness] OpenCV could not encode a JPEG")
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)


def colour(image: np.ndarray) -> np.ndarray:
    """RGB ``(H, W, 3)``: the darkness ``1 - grey / 255`` as blue ink on pale yellow paper."""
    a = (255.0 - image.astype(np.float32))[..., None] / 255.0
    paper = np.array([250.0, 240.0, 200.0], np.float32)
    ink = np.array([20.0, 40.0, 150.0], np.float32)
    return np.clip(paper * (1.0 - a) + ink * a, 0, 255).astype(np.uint8)


#: name -> change of one uint8 (H, W) field (module docstring)
CONDITIONS = {
    "original": lambda x: x,
    "upscale-2x": lambda x: cv2.resize(x, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC),
    "downscale-0.5x": lambda x: cv2.resize(x, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
    "pad-12": lambda x: pad(x, 12),
    "margin-150": lambda x: pad(x, 150),
    "scanner-border": scanner_border,
    "ruled": ruled,
    "boxed": boxed,
    "rotate+3": lambda x: rotate(x, 3.0),
    "rotate-3": lambda x: rotate(x, -3.0),
    "low-contrast": low_contrast,
    "dark-paper": lambda x: (x.astype(np.float32) * 0.55).astype(np.uint8),
    "jpeg-20": jpeg,
    "blur-1.0": lambda x: cv2.GaussianBlur(x, (0, 0), 1.0),
    "blur-1.5": lambda x: cv2.GaussianBlur(x, (0, 0), 1.5),
    "colour": colour,
    "negative": lambda x: 255 - x,
}


class FoldReader:
    """Reads the validation fields with the cross-fitted pair of ``spec``: ``{F}`` becomes each fold
    of ``benchmarks.real_crossfit.FOLDS``, which reads the half it was not trained on (A the odd
    ids, B the even ones); ``ids`` are the field ids of the images in reading order."""

    def __init__(self, spec: str, ids: list[int], *, score: str):
        from benchmarks.real_crossfit import FOLDS

        self.ids = list(ids)
        self.by_half = {half: build(spec.replace("{F}", fold), score=score)
                        for fold, (_, half) in FOLDS.items() if half is not None}  # the trained folds

    def recognize(self, images: list, *, grammar=None) -> list:
        from benchmarks.real_crossfit import read_halves, split_halves

        if len(images) != len(self.ids):
            raise ValueError(f"[benchmarks.real_robustness] {len(images)} images for {len(self.ids)} field ids")
        out, _ = read_halves(self.by_half.__getitem__, split_halves(self.ids, images), grammar)
        by_id = dict(zip(sorted(self.ids), out))  # read_halves returns them in id order
        return [by_id[i] for i in self.ids]


def markdown(results: dict, label: str) -> str:
    """One row per condition, one column per system: digit-string accuracy (and at 1% error)."""
    runs = results.get(label, {}).get("systems", {})
    names = list(runs)
    lines = ["| condition | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for cond in CONDITIONS:
        cells = []
        for n in names:
            r = runs[n].get(cond)
            cells.append("-" if r is None else f"{100 * r['string_accuracy']:.1f}%")
        if any(c != "-" for c in cells):  # conditions this run did not read are left out
            lines.append(f"| {cond} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    from benchmarks._bench import write_json

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--systems", nargs="+", default=None, metavar="LABEL=SYSTEM:WEIGHTS",
                   help="systems to run (default: the four real-trained readers of the 646 training fields)")
    p.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=list(CONDITIONS))
    p.add_argument("--label", default="current", help="key of this run in the JSON (e.g. a commit)")
    p.add_argument("--orand", default=os.environ.get("DOCREC_ORAND_DIR", str(SHARED / "orand_car_a")))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--table", action="store_true", help="print the table of --label from the JSON and stop")
    args = p.parse_args(argv)
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    if args.table:
        print(markdown(results, args.label))
        return 0
    torch.set_num_threads(args.threads)
    from docrec.recognizers import resolve_grammar

    systems = dict(s.split("=", 1) for s in args.systems) if args.systems else dict(DEFAULT_SYSTEMS)
    images, truths, grammar, _ = load_set("orand-val", Path(args.orand), None)
    g = resolve_grammar(grammar)
    run = results.setdefault(args.label, {})
    run["set"] = "ORAND-CAR-A ids 800-999 (200 fields), digits scored, grammar amount"
    run["threads"] = args.threads
    ids = None
    for label, spec in systems.items():
        if "{F}" in spec:
            if ids is None:
                from data import read_fields
                from data.fields import field_id

                fs = read_fields(Path(args.orand), boxes=None).select_ids(VAL_IDS)
                ids = [field_id(fs[i].path) for i in range(len(fs))]
            rec = FoldReader(spec, ids, score="digits")
        else:
            rec = build(spec, score="digits")
        entry = run.setdefault("systems", {}).setdefault(label, {})
        entry["spec"] = spec
        for cond in args.conditions:
            changed = [CONDITIONS[cond](x) for x in images]
            t0 = time.perf_counter()
            out = rec.recognize(changed, grammar=g)
            res, _ = scored(out, truths, time.perf_counter() - t0, digits_only=True, max_errors=10)
            res["rejected"] = sum(bool(r.rejected) for r in out)
            entry[cond] = res
            print(f"{label:16s} {cond:15s} acc {res['string_accuracy']:.3f}  at1% {res['accuracy_at_1pct']:.3f}  "
                  f"{res['fields_per_s']:.0f} fields/s", flush=True)
        write_json(args.out, results)
    print(markdown(results, args.label))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
