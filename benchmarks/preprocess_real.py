"""How much of the writer's ink the field preprocessing keeps on real cheques (issue 16, item 4).

On the ORAND-CAR-A fields of ``../shared/data/orand_car_a`` (real Chilean cheque courtesy amounts,
one box per digit in ``boxes.jsonl``), for the SDNN's ink map (``docrec.recognizers.sdnn.
line_free_ink``) and the segmenter's ink mask (``segmenter.preprocess``), it reports:

- ``fields_over_5pct``: fields losing more than 5% of their raw ink (printed ruling and frames are
  *meant* to go, so this counts correct removals too);
- ``in_box``: the fraction of the raw ink inside the true digit boxes that is removed (mean, max,
  fields over 5%): the handwriting that is lost, plus the ruling lines crossing the boxes;
- ``in_box_off_ruling``: the same without the pixels of long straight horizontal runs (a simple
  detector independent of the preprocessing), i.e. the pen strokes that are lost;
- ``digits_over_10pct``: digits losing more than 10% of their off-ruling ink (and how many of them
  are ``1``s or ``7``s, the tall strokes once taken for frame lines);
- ``margins``: fields read alike when surrounded by ``--margin`` pixels of their own paper (its
  median grey): SDNN strip of the same scale (within 5%) and width (within 4 px), segmenter ink of
  the same size (within 5%).

"Raw ink" is the segmenter's binarisation (``segmenter.binarize``, background-normalised local
midpoint) before any cleaning. Writes ``benchmarks/results/preprocess_real.json``.

    .venv/bin/python benchmarks/preprocess_real.py [--data DIR] [--ids 154-999] [--margin 400]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch

import _bench  # repository on sys.path; write_json


def parse_ids(spec: str) -> tuple[int, int]:
    """``"800-999"`` -> ``(800, 999)`` (inclusive)."""
    try:
        lo, hi = (int(v) for v in spec.split("-"))
    except ValueError as err:
        raise ValueError(f"[benchmarks.preprocess_real] --ids {spec!r}; expected LO-HI") from err
    return lo, hi


def load_fields(root: Path, ids: tuple[int, int]) -> list[dict]:
    """The ``boxes.jsonl`` records of the fields whose id (``a_car_NNNNNN``) lies in ``ids``."""
    path = root / "boxes.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"[benchmarks.preprocess_real] no boxes.jsonl in {root}")
    out = []
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if ids[0] <= int(Path(rec["path"]).stem.split("_")[-1]) <= ids[1]:
            out.append(rec)
    return out


def ruling_runs(raw: np.ndarray, grey: np.ndarray) -> np.ndarray:
    """Pixels of long straight horizontal runs, bool ``(H, W)``: the raw ink or anything 20% darker
    than the paper, opened with a ``1 x max(24, 2H)`` kernel (at most 80% of the width), grown by
    one row each way. Independent of the preprocessing being measured."""
    from segmenter.preprocess import background

    h, w = raw.shape
    bg = background(grey, kernel=max(3, int(0.2 * h) | 1))
    loose = raw | (1.0 - grey / np.maximum(bg, 1.0) >= 0.2)
    length = min(int(0.8 * w), max(24, 2 * h))
    grown = cv2.dilate(loose.astype(np.uint8), np.ones((3, 1), np.uint8))
    run = cv2.morphologyEx(grown, cv2.MORPH_OPEN, np.ones((1, max(length, 2)), np.uint8))
    return cv2.dilate(run, np.ones((3, 1), np.uint8)).astype(bool)


def ink_loss(raw: np.ndarray, kept: np.ndarray, rec: dict, ruling: np.ndarray) -> dict:
    """Loss of one field's raw ink under a kept mask (bool ``(H, W)`` each)."""
    lost = raw & ~kept
    box = np.zeros(raw.shape, bool)
    digits = []
    for ch in rec["chars"]:
        x, y, w, h = ch["box"]
        box[y:y + h, x:x + w] = True
        own = (raw & ~ruling)[y:y + h, x:x + w].sum()
        digits.append((ch["char"], float((lost & ~ruling)[y:y + h, x:x + w].sum() / max(own, 1))))
    return {
        "field": float(lost.sum() / max(raw.sum(), 1)),
        "in_box": float((lost & box).sum() / max((raw & box).sum(), 1)),
        "off_ruling": float((lost & box & ~ruling).sum() / max((raw & box & ~ruling).sum(), 1)),
        "digits": digits,
    }


def summarise(rows: list[dict], names: list[str]) -> dict:
    """Aggregate the :func:`ink_loss` rows of every field."""
    field = np.array([r["field"] for r in rows])
    in_box = np.array([r["in_box"] for r in rows])
    off = np.array([r["off_ruling"] for r in rows])
    digits = [d for r in rows for d in r["digits"]]
    worst = np.argsort(-off)[:10]
    return {
        "fields_over_5pct": int((field > 0.05).sum()),
        "in_box": {"mean": float(in_box.mean()), "max": float(in_box.max()),
                   "fields_over_5pct": int((in_box > 0.05).sum())},
        "in_box_off_ruling": {"mean": float(off.mean()), "max": float(off.max()),
                              "fields_over_5pct": int((off > 0.05).sum()),
                              "fields_over_2pct": int((off > 0.02).sum())},
        "digits_over_10pct": int(sum(v > 0.1 for _, v in digits)),
        "ones_sevens_over_10pct": int(sum(v > 0.1 and c in "17" for c, v in digits)),
        "digits": len(digits),
        "worst_off_ruling": [[names[i], round(float(off[i]), 4)] for i in worst],
    }


def same_with_margins(grey: np.ndarray, margin: int) -> tuple[bool, bool, bool]:
    """Whether a field reads alike inside ``margin`` px of its own paper (its median grey) all
    round: SDNN strip of the same scale (within 5%) and width (within one frame, 4 px), and the
    segmenter's ink of the same size (within 5%)."""
    from data.sdnn_samples import STRIDE, normalize_field_ink
    from docrec.recognizers.sdnn import line_free_ink
    from segmenter import preprocess

    paper = int(np.median(grey))
    big = cv2.copyMakeBorder(grey, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=paper)
    a = normalize_field_ink(grey, ink=line_free_ink(grey))
    b = normalize_field_ink(big, ink=line_free_ink(big))
    if a is None or b is None:
        same_scale = same_width = (a is None) == (b is None)
    else:
        same_scale = abs(b[1].scale / a[1].scale - 1.0) <= 0.05
        same_width = abs(b[0].shape[1] - a[0].shape[1]) <= STRIDE
    n0, n1 = int(preprocess(grey).ink.sum()), int(preprocess(big).ink.sum())
    return bool(same_scale), bool(same_width), bool(abs(n1 - n0) <= 0.05 * max(n0, 1))


def main(argv=None) -> int:
    from data.folder import read_image
    from docrec.recognizers.sdnn import line_free_ink
    from segmenter import binarize, preprocess

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(_bench.ROOT.parent / "shared" / "data" / "orand_car_a"),
                    help="ORAND-CAR-A folder with boxes.jsonl and images/")
    ap.add_argument("--ids", default="154-999", help="field id range, inclusive (validation: 800-999)")
    ap.add_argument("--margin", type=int, default=400, help="white margin of the margins check (0: skip)")
    ap.add_argument("--out", default=str(_bench.ROOT / "benchmarks" / "results" / "preprocess_real.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    root = Path(args.data)
    fields = load_fields(root, parse_ids(args.ids))
    if not fields:
        raise SystemExit(f"[benchmarks.preprocess_real] no fields with ids {args.ids} in {root}")
    sdnn_rows, seg_rows, names, margins = [], [], [], []
    t_sdnn = t_seg = 0.0
    for rec in fields:
        grey = read_image(root / rec["path"])
        raw = binarize(grey)
        ruling = ruling_runs(raw, grey)
        t0 = time.perf_counter()
        sdnn_kept = line_free_ink(grey) > 0.0
        t1 = time.perf_counter()
        seg_kept = preprocess(grey).ink
        t2 = time.perf_counter()
        t_sdnn += t1 - t0
        t_seg += t2 - t1
        sdnn_rows.append(ink_loss(raw, sdnn_kept, rec, ruling))
        seg_rows.append(ink_loss(raw, seg_kept, rec, ruling))
        names.append(Path(rec["path"]).stem)
        if args.margin > 0:
            margins.append(same_with_margins(grey, args.margin))
    result = {
        "description": __doc__.split("\n\n")[0],
        "data": f"{root.name} ids {args.ids}", "fields": len(fields),
        "sdnn_line_free_ink": summarise(sdnn_rows, names) | {"ms_per_field": 1000 * t_sdnn / len(fields)},
        "seg_preprocess": summarise(seg_rows, names) | {"ms_per_field": 1000 * t_seg / len(fields)},
    }
    if margins:
        result["margins"] = {"margin_px": args.margin, "margin_grey": "the field's median grey",
                             "same_sdnn_scale": int(sum(m[0] for m in margins)),
                             "same_sdnn_width": int(sum(m[1] for m in margins)),
                             "same_seg_ink": int(sum(m[2] for m in margins)), "of": len(margins)}
    for key in ("sdnn_line_free_ink", "seg_preprocess"):
        r = result[key]
        off = r["in_box_off_ruling"]
        print(f"{key}: fields >5% removed {r['fields_over_5pct']}/{len(fields)}; in digit boxes removed "
              f"mean {r['in_box']['mean']:.4f} max {r['in_box']['max']:.4f}; off ruling mean "
              f"{off['mean']:.4f} max {off['max']:.4f}; digits >10% {r['digits_over_10pct']} "
              f"(1/7: {r['ones_sevens_over_10pct']}); {r['ms_per_field']:.1f} ms/field")
    if margins:
        print("margins:", result["margins"])
    _bench.write_json(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
