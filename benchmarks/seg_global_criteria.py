"""The four global criteria of docs/paper.md Sec. VI on the segmentation system with the modern-CNN piece
reader: a short global fine-tuning of the bundled ``seg-modern`` (local training only) with each.

Criteria (``docrec.training.seg_global.CRITERIA``): discriminative forward (the paper's choice),
discriminative Viterbi, and the non-discriminative forward and Viterbi criteria (the constrained
penalty alone). Each run: 2,000 generated training strings of MNIST training digits 0..54,999 whose
true segmentation is a path of the graph, 300 validation strings of digits 55,000..59,999 (all
spacings), 3 epochs, Adam 1e-4, batches of 8 fields; the epoch with the best validation string
accuracy is kept (epoch 0 = the starting weights), as ``docrec train seg global`` does. The same as

    docrec train seg global --work runs/global --arch modern --init docrec/weights/seg-modern.pt \\
        --criterion forward --fields 2000 --val-fields 300 --epochs 3 --threads 1

for the two criteria the command line offers. A checkpoint already in ``--work`` is kept
(``--retrain`` trains again). Test strings are measured by ``docrec compare global --global-work
runs/global``; this script writes the training histories to
``benchmarks/results/seg_global_criteria.json``.

    .venv/bin/python benchmarks/seg_global_criteria.py [--work runs/global] [--criteria forward-nd viterbi-nd]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import _bench  # repository on sys.path, development MNIST; write_json


def main(argv=None) -> int:
    from docrec.recognizers.seg_model import new_piece_model
    from docrec.training.seg_global import CRITERIA, GlobalTrainConfig, train_global

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", type=Path, default=Path("runs/global"))
    p.add_argument("--criteria", nargs="+", default=list(CRITERIA), choices=list(CRITERIA))
    p.add_argument("--fields", type=int, default=2000)
    p.add_argument("--val-fields", type=int, default=300)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--retrain", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=_bench.ROOT / "benchmarks" / "results" / "seg_global_criteria.json")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    init = _bench.ROOT / "docrec" / "weights" / "seg-modern.pt"
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    args.work.mkdir(parents=True, exist_ok=True)
    for criterion in args.criteria:
        ckpt = args.work / f"global-{criterion}.pt"
        if ckpt.is_file() and not args.retrain:
            record = args.work / f"global-{criterion}.json"  # as docrec train seg global writes it too
            if record.is_file():
                results[criterion] = {"checkpoint": str(ckpt), **json.loads(record.read_text())}
                _bench.write_json(args.out, results)
            print(f"{criterion}: keeping {ckpt}", flush=True)
            continue
        cfg = GlobalTrainConfig(criterion=criterion, epochs=args.epochs, fields=args.fields,
                                val_fields=args.val_fields)
        model = new_piece_model("modern", init, seed=cfg.seed)
        t0 = time.perf_counter()
        history = train_global(model, cfg, checkpoint=ckpt, progress=False)
        results[criterion] = {"init": "seg-modern", "checkpoint": str(ckpt), "config": cfg.__dict__,
                              "history": history, "seconds": time.perf_counter() - t0}
        (args.work / f"global-{criterion}.json").write_text(json.dumps(results[criterion], indent=2) + "\n")
        _bench.write_json(args.out, results)
        print(f"{criterion}: {[h['val_string_accuracy'] for h in history]}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
