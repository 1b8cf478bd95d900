"""The segmentation recogniser (heuristic over-segmentation + LeNet-5) trained on real cheque amounts:
local training from boxes against global training from the labels alone (docs/paper.md Sec. VI, IX).

On a folder of real labelled fields (``--fields``, e.g. ``../shared/data/orand_car_a``, training ids
``--ids``, validation ids ``--val-ids``), it measures the digit-string accuracy on the validation
fields (amount grammar, the reading's digits against the digit label) of:

- ``bundled``: the bundled ``seg-lenet5`` (local training on synthetic pieces, global on synthetic strings);
- ``local``: + local training on the real fields' true pieces (boxes), mixed with synthetic pieces;
- ``global``: + global training (discriminative forward criterion) from the labels alone, boxes
  hidden, starting from the bundled weights;
- ``both``: local (boxes) then global (labels);
- ``joint``: local (boxes) then global (labels) with the local loss on the box pieces added to every
  global step (``--joint-local``), so the 'none' class the global criterion never sees stays trained.

Each variant is one ``docrec train seg local|global --fields DIR`` run
(:func:`docrec.training.seg_real_train.train_real`) in ``--work``; a run whose record there has the
same configuration is reused (``--retrain`` runs it again). Every weights file is then re-read and
re-measured on the validation fields segmented by the current segmenter. Writes
``benchmarks/results/seg_real_training.json``.

    .venv/bin/python benchmarks/seg_real_training.py --fields ../shared/data/orand_car_a \\
        --ids 154-799 --val-ids 800-999 --work runs/segreal
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

import _bench  # repository on sys.path, development MNIST; write_json


def _run(cfg, work: Path, retrain: bool, log) -> dict:
    """The record of ``cfg``'s run in ``work``: reused when its configuration matches."""
    from docrec.training.seg_real_train import train_real

    path = work / f"{cfg.name}.json"
    if path.is_file() and not retrain:
        record = json.loads(path.read_text())
        if record.get("config") == json.loads(json.dumps(asdict(cfg), default=str)):
            log(f"reusing {path}")
            return record
    log(f"training {cfg.name} ...")
    return train_real(cfg, work=work, progress=False, log=log)


def main(argv=None) -> int:
    from docrec.training.seg_real import digit_accuracy, parse_id_range, read_folder, segment_folder
    from docrec.training.seg_real_train import RealTrainConfig
    from docrec.recognizers.seg import SegmentationRecognizer

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fields", type=Path, default=_bench.ROOT.parent / "shared" / "data" / "orand_car_a")
    ap.add_argument("--ids", default="154-799")
    ap.add_argument("--val-ids", default="800-999")
    ap.add_argument("--work", type=Path, default=_bench.ROOT / "runs" / "segreal")
    ap.add_argument("--local-epochs", type=int, default=12)
    ap.add_argument("--local-lr", type=float, default=3e-3)
    ap.add_argument("--local-lr-decay", type=float, default=0.85)
    ap.add_argument("--local-synth-ratio", type=float, default=0.5)
    ap.add_argument("--global-epochs", type=int, default=4)
    ap.add_argument("--global-lr", type=float, default=1e-4)
    ap.add_argument("--global-synth-ratio", type=float, default=0.0)
    ap.add_argument("--joint-local", type=float, default=1.0)
    ap.add_argument("--joint-epochs", type=int, default=5)
    ap.add_argument("--retrain", action="store_true", help="train every variant again")
    ap.add_argument("--out", type=Path, default=_bench.ROOT / "benchmarks" / "results" / "seg_real_training.json")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if not (args.fields / "labels.csv").is_file():
        print(f"seg_real_training: no field folder at {args.fields} (labels.csv); nothing measured", file=sys.stderr)
        return 1
    t0 = time.time()
    ids, val_ids = parse_id_range(args.ids), parse_id_range(args.val_ids)
    common = dict(fields=str(args.fields), ids=ids, val_fields=str(args.fields), val_ids=val_ids)
    local = RealTrainConfig(stage="local", epochs=args.local_epochs, lr=args.local_lr, lr_decay=args.local_lr_decay,
                            synth_ratio=args.local_synth_ratio, tag="bench-local", **common)
    glob_ = RealTrainConfig(stage="global", epochs=args.global_epochs, lr=args.global_lr,
                            synth_ratio=args.global_synth_ratio, tag="bench-global", **common)
    records = {"local": _run(local, args.work, args.retrain, print),
               "global": _run(glob_, args.work, args.retrain, print)}
    both = RealTrainConfig(stage="global", epochs=args.global_epochs, lr=args.global_lr,
                           synth_ratio=args.global_synth_ratio, tag="bench-both",
                           init=records["local"]["weights"], **common)
    records["both"] = _run(both, args.work, args.retrain, print)
    joint = RealTrainConfig(stage="global", epochs=args.joint_epochs, lr=args.global_lr,
                            synth_ratio=args.global_synth_ratio, joint_local=args.joint_local,
                            local_synth_ratio=args.local_synth_ratio, tag="bench-joint",
                            init=records["local"]["weights"], **common)
    records["joint"] = _run(joint, args.work, args.retrain, print)
    val, vstats = segment_folder(read_folder(args.fields, ids=val_ids, boxes=None), with_targets=False,
                                 cache_dir=args.work / "cache")
    weights = {"bundled": "seg-lenet5", **{k: r["weights"] for k, r in records.items()}}
    rows = {}
    for name, w in weights.items():
        rows[name] = {"weights": w, "val_digit_string_accuracy": digit_accuracy(SegmentationRecognizer(weights=w), val)}
        print(name, json.dumps(rows[name]))
    result = {
        "what": "seg (heuristic over-segmentation + LeNet-5) on real cheque courtesy amounts: digit-string "
                "accuracy on the validation ids (amount grammar, the reading's digits vs the digit label)",
        "fields": str(args.fields), "train_ids": args.ids, "val_ids": args.val_ids, "val_fields": len(val),
        "val_segmentation": vstats, "variants": rows,
        "runs": {k: {key: r.get(key) for key in ("config", "init", "history", "train_fields", "pieces",
                                                  "joint_local_pieces", "best_val_accuracy", "weights", "seconds")}
                 for k, r in records.items()},
        "seconds": time.time() - t0,
    }
    print(f"wrote {_bench.write_json(args.out, result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
