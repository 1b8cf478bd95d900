"""How many pieces may one character span? ``GraphConfig.max_merge`` chosen on real training fields.

Real handwriting is cut into more elementary pieces than MNIST-built fields: a hooked or flagged
``1``, a cursive ``0`` chained to its neighbour. When a character spans more pieces than an arc may
merge, its true piece is not in the segmentation graph and the segmentation system cannot read the
field. For each setting this script counts the ORAND-CAR-A *training* fields (ids 154-799, boxes
from ``boxes.jsonl``) whose true segmentation is a path of the graph
(``segmenter.truth.true_path``, tolerance 0.8; a property of the segmenter alone, so the choice
needs no recogniser), and the arcs per field. ``--val`` then reads the validation split (ids
800-999, ``amount`` grammar, digits scored) with the real-trained seg weights and the combined
reader at the old and the chosen setting.

Usage::

    python benchmarks/merge_real.py [--orand DIR] [--val]

Results: ``benchmarks/results/merge_real.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import _bench
import numpy as np
import torch
from real_fields import SHARED, load_set

RESULTS = _bench.ROOT / "benchmarks" / "results" / "merge_real.json"
#: (max_merge, max_width_rel)
SETTINGS = ((6, 2.0), (8, 2.0), (10, 2.0), (8, 2.5), (10, 2.5), (12, 3.0))


def true_paths(orand: Path) -> list[dict]:
    """The share of training fields whose true segmentation is a path, per setting (the count the
    real-field trainer reports, :func:`docrec.training.seg_real.segment_folder`)."""
    from data import read_fields
    from docrec.recognizers.seg import default_segmenter_config
    from docrec.training.seg_real import segment_folder

    fs = read_fields(orand).select_ids(range(154, 800))
    rows = []
    for merge, width in SETTINGS:
        cfg = default_segmenter_config().replace(max_merge=merge, max_width_rel=width)
        t0 = time.time()
        fields, stats = segment_folder(fs, with_targets=True, segmenter_config=cfg, log=lambda *a: None)
        rows.append({"max_merge": merge, "max_width_rel": width, "fields": stats["fields"],
                     "true_path": stats["true_path"],
                     "arcs_per_field": round(sum(len(f.src) for f in fields) / stats["fields"], 1),
                     "seconds": round(time.time() - t0, 1)})
        print(rows[-1], flush=True)
    return rows


def validation(orand: Path, settings: list[int]) -> list[dict]:
    """Digit-string accuracy on the validation split for each ``max_merge`` in ``settings``."""
    from docrec.recognizers.combo import CombinedRecognizer
    from docrec.recognizers.seg import SegmentationRecognizer, default_segmenter_config

    images, truths, grammar, _ = load_set("orand-val", orand, None)
    rows = []
    for merge in settings:
        cfg = default_segmenter_config().replace(max_merge=merge)
        readers = {w: SegmentationRecognizer(weights=w, segmenter_config=cfg)
                   for w in ("seg-lenet5-real", "seg-modern-real")}
        readers["combo-real"] = CombinedRecognizer(seg=SegmentationRecognizer(weights="seg-modern-real",
                                                                              segmenter_config=cfg))
        row = {"max_merge": merge}
        for name, rec in readers.items():
            res = rec.recognize(images, grammar=grammar)
            row[name] = float(np.mean([r.digits == t for r, t in zip(res, truths)]))
        rows.append(row)
        print(row, flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orand", default=os.environ.get("DOCREC_ORAND_DIR", str(SHARED / "orand_car_a")))
    ap.add_argument("--val", action="store_true", help="also read the validation split at max_merge 6 and 8")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = {"command": "python benchmarks/merge_real.py " + " ".join(sys.argv[1:]),
           "training_true_path": true_paths(Path(args.orand))}
    if args.val:
        out["validation"] = validation(Path(args.orand), [6, 8])
    _bench.write_json(RESULTS, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
