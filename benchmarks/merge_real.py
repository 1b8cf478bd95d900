"""How many pieces may one character span, and which cuts does real writing need? Segmenter settings
chosen on real training fields.

Real handwriting is cut into more elementary pieces than MNIST-built fields: a hooked or flagged
``1``, a cursive ``0`` chained to its neighbour. When a character spans more pieces than an arc may
merge, its true piece is not in the segmentation graph and the segmentation system cannot read the
field. For each setting this script counts the ORAND-CAR-A *training* fields (ids 154-799, boxes
from ``boxes.jsonl``) whose true segmentation is a path of the graph
(``segmenter.truth.true_path``, tolerance 0.8; a property of the segmenter alone, so the choice
needs no recogniser), and the arcs per field. ``--val`` then reads the validation split (ids
800-999, ``amount`` grammar, digits scored) with the real-trained seg weights and the combined
reader at the old and the chosen setting.

``--changes`` measures the segmenter changes of issue 16 one after the other (:data:`CHANGES`,
each on top of the previous: without valley cuts and with merges of up to 8 pieces = before) on
the training fields, and ``--val-true-path`` counts the validation fields whose true segmentation
is a path for the final setting (measured once, for the report; nothing is chosen on it).

Usage::

    python benchmarks/merge_real.py [--orand DIR] [--val] [--changes] [--val-true-path] [--no-sweep]

Results: ``benchmarks/results/merge_real.json``.
"""

from __future__ import annotations

import argparse
import json
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
#: (name, SegmenterConfig.replace changes), each row including the changes of the rows above it.
CHANGES = (("before: no valley cuts, max_merge 8", {"valley_cuts": False, "max_merge": 8}),
           ("+ valley cuts", {"valley_cuts": True}),
           ("+ max_merge 10", {"max_merge": 10}))


def count_true_paths(fieldset, changes: dict) -> dict:
    """Fields whose true segmentation is a path and arcs per field for the default segmenter config
    with ``changes`` (:func:`docrec.training.seg_real.segment_folder`, boxes as targets)."""
    from docrec.recognizers.seg import default_segmenter_config
    from docrec.training.seg_real import segment_folder

    cfg = default_segmenter_config().replace(**changes)
    t0 = time.time()
    fields, stats = segment_folder(fieldset, with_targets=True, segmenter_config=cfg, log=lambda *a: None)
    return {"fields": stats["fields"], "true_path": stats["true_path"],
            "arcs_per_field": round(sum(len(f.src) for f in fields) / stats["fields"], 1),
            "seconds": round(time.time() - t0, 1)}


def segmenter_changes(orand: Path) -> list[dict]:
    """:data:`CHANGES` measured on the training fields, each on top of the previous ones."""
    from data import read_fields

    fs = read_fields(orand).select_ids(range(154, 800))
    rows, changes = [], {}
    for name, change in CHANGES:
        changes = {**changes, **change}
        rows.append({"change": name, "config": dict(changes), **count_true_paths(fs, changes)})
        print(rows[-1], flush=True)
    return rows


def true_paths(orand: Path) -> list[dict]:
    """The share of training fields whose true segmentation is a path, per setting (the count the
    real-field trainer reports, :func:`docrec.training.seg_real.segment_folder`)."""
    from data import read_fields

    fs = read_fields(orand).select_ids(range(154, 800))
    rows = []
    for merge, width in SETTINGS:
        rows.append({"max_merge": merge, "max_width_rel": width,
                     **count_true_paths(fs, {"max_merge": merge, "max_width_rel": width})})
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
    ap.add_argument("--changes", action="store_true", help="measure the segmenter changes (CHANGES) on training")
    ap.add_argument("--val-true-path", action="store_true",
                    help="count validation fields with the true path, default settings (report only)")
    ap.add_argument("--no-sweep", action="store_true", help="skip the max_merge / max_width_rel sweep")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    orand = Path(args.orand)
    old = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    out = {"command": "python benchmarks/merge_real.py " + " ".join(sys.argv[1:])}
    out["training_true_path"] = old.get("training_true_path") if args.no_sweep else true_paths(orand)
    if args.changes:
        out["segmenter_changes"] = segmenter_changes(orand)
    if args.val_true_path:
        from data import read_fields

        out["validation_true_path"] = count_true_paths(read_fields(orand).select_ids(range(800, 1000)), {})
        print(out["validation_true_path"], flush=True)
    if args.val:
        out["validation"] = validation(orand, [6, 8])
    for key in ("segmenter_changes", "validation_true_path", "validation"):
        if key not in out and key in old:  # an earlier measurement, kept with the command that made it
            out[key] = old[key]
            out[f"{key}_command"] = old.get(f"{key}_command", old.get("command"))
    _bench.write_json(RESULTS, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
