"""Tries at the paper's system on real cheques (seg, LeNet-5, ``seg-lenet5-real``): two not adopted
(``settings``, ``distill``) and one adopted (``shifts``).

``settings``: the reading settings. Every validation field (ORAND-CAR-A ids 800-999, ``amount``
grammar, digits scored) is segmented and its pieces read once; then every pair of
``seg_weight`` (the weight of the segmenter's geometric arc penalties) and eq. 9's rubbish
constant ``j`` decodes it again. The choice is cross-fitted: chosen on the even fields and scored
on the odd ones, and back; the defaults are ``seg_weight`` 1 and ``j`` 16.

``distill``: the modern CNN ``seg-modern-real`` as a teacher. Its posteriors give a target for every
arc of every training field's graph (ids 154-799) and of ``--copies`` augmented copies of each
field (``docrec.training.seg_real.augmented_fields``, which need no boxes); where the boxes label an
arc (a true digit piece, or 'none'), that label is mixed in at weight ``--hard``. LeNet-5 starts
from ``seg-lenet5-real`` and learns the targets by cross-entropy on its MAP-normalised posteriors
(Adam, cosine decay, 1 thread); the validation split is read after every epoch.

``shifts``: test-time averaging of the piece classifier over each piece and its copies moved
0, 1 or 2 pixels right, left, down and up (``SegRecognizerConfig.piece_shifts``), per weights
file; the number is chosen cross-fitted as for ``settings``; ``--store`` keeps the choice in the
weights' meta (``piece_shifts``).

Usage::

    python benchmarks/seg_lenet5_real_tries.py settings [--orand DIR]
    python benchmarks/seg_lenet5_real_tries.py distill [--orand DIR] [--copies 2] [--hard 0.5] [--epochs 6] [--lr 3e-4]
    python benchmarks/seg_lenet5_real_tries.py shifts [--orand DIR] [--weights seg-lenet5-real seg-modern-real] [--store]

Results: ``benchmarks/results/seg_lenet5_real_tries.json`` (one entry per command).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import tempfile
import time
from pathlib import Path

import _bench
import numpy as np
import torch

RESULTS = _bench.ROOT / "benchmarks" / "results" / "seg_lenet5_real_tries.json"
SHARED_ORAND = _bench.ROOT.parent / "shared" / "data" / "orand_car_a"
TRAIN_IDS, VAL_IDS = (154, 799), (800, 999)
SHIFT_GRID = (0, 1, 2)


def segmented(orand: Path, ids: tuple[int, int], *, boxes: bool, cache: Path) -> list:
    """The fields of ``ids`` segmented (``CachedField``; with box targets when ``boxes``)."""
    from docrec.training.seg_real import read_folder, segment_folder

    fs = read_folder(orand, ids=ids, boxes="boxes.jsonl" if boxes else None)
    return segment_folder(fs, with_targets=boxes, cache_dir=cache)[0]


def read_all(fields: list, raws: list, grammar, *, j: float, seg_weight: float) -> np.ndarray:
    """1/0 per field: its digits read right with these settings, from the pieces' raw penalties."""
    import gtn
    from decoders import decode
    from docrec.recognizers.seg import CHAR_CLASSES, normalized_penalties
    from docrec.training.seg_real import digits_of

    ok = []
    for f, raw in zip(fields, raws):
        graph = gtn.recognize(f.graph(), penalties=normalized_penalties(raw, j=j), classes=CHAR_CLASSES,
                              seg_weight=seg_weight)[0]
        best = decode(graph, grammar)[0]
        ok.append(int(not best.rejected and digits_of(best.text) == digits_of(f.text)))
    return np.array(ok)


def settings(args: argparse.Namespace, cache: Path) -> dict:
    from docrec.recognizers import resolve_grammar
    from docrec.recognizers.seg import SegRecognizerConfig, SegmentationRecognizer
    from docrec.training.seg_data import dequantize

    val = segmented(args.orand, VAL_IDS, boxes=False, cache=cache)
    rec = SegmentationRecognizer(weights="seg-lenet5-real")
    with torch.no_grad():
        raw = rec.model(dequantize(np.concatenate([f.pieces for f in val])))
    raws = list(torch.split(raw, [len(f.pieces) for f in val]))
    grammar = resolve_grammar("amount")
    default = SegRecognizerConfig()
    grid = list(itertools.product(sorted({default.map_j, 5.0, 10.0, 20.0}), [0.0, 0.5, 1.0, 1.5, 2.0, 3.0]))
    right = {key: read_all(val, raws, grammar, j=key[0], seg_weight=key[1]) for key in grid}
    even = np.arange(len(val)) % 2 == 0
    chosen, crossed = [], 0
    for half in (even, ~even):
        best = max(grid, key=lambda k: right[k][~half].mean())
        chosen.append({"j": best[0], "seg_weight": best[1]})
        crossed += int(right[best][half].sum())
    return {"fields": len(val),
            "accuracy": {f"j={k[0]:g} seg_weight={k[1]:g}": float(v.mean()) for k, v in right.items()},
            "default": float(right[(default.map_j, default.seg_weight)].mean()),
            "cross_fitted": crossed / len(val), "chosen_per_half": chosen}


def shifts(args: argparse.Namespace, cache: Path) -> dict:
    """Test-time shifts (``SegRecognizerConfig.piece_shifts``): every validation field read with each
    weights file at 0, 1 and 2 pixels; the number is chosen cross-fitted (on the even fields, scored
    on the odd ones, and back). ``--store`` writes the choice of the first weights into their file
    (weights trained on the validation fields cannot be chosen for here: ``benchmarks/real_crossfit.py
    --lenet5-shifts`` measures the recipe's fold weights instead)."""
    from docrec.recognizers.seg import SegRecognizerConfig, SegmentationRecognizer
    from docrec.training.seg_real import digit_accuracy, digits_of

    from data import read_fields
    from docrec.recognizers import resolve_grammar

    val = segmented(args.orand, VAL_IDS, boxes=False, cache=cache)
    scans = read_fields(args.orand, boxes=None).select_ids(range(VAL_IDS[0], VAL_IDS[1] + 1))
    images = [scans.image(i) for i in range(len(scans))]
    grammar = resolve_grammar("amount")
    even = np.arange(len(val)) % 2 == 0
    out = {"fields": len(val), "speed": f"fields/s of recognize() on the {len(images)} validation images, "
                                        f"median of 3 passes, 1 thread, one run"}
    for name in args.weights:
        right, speed = {}, {}
        for px in SHIFT_GRID:
            rec = SegmentationRecognizer(weights=name, config=SegRecognizerConfig(piece_shifts=px))
            details: list = []
            digit_accuracy(rec, val, details=details)
            right[px] = np.array([digits_of(label) == digits_of(reading) for _, label, reading in details])
            passes = []
            for _ in range(3):
                t0 = time.perf_counter()
                rec.recognize(images, grammar=grammar)
                passes.append(time.perf_counter() - t0)
            speed[px] = round(len(images) / float(np.median(passes)), 1)
        chosen, crossed = [], 0
        for half in (even, ~even):
            best = max(SHIFT_GRID, key=lambda px: (right[px][~half].mean(), -px))  # ties: fewer shifts
            chosen.append(best)
            crossed += int(right[best][half].sum())
        full = max(SHIFT_GRID, key=lambda px: (right[px].mean(), -px))
        out[name] = {"accuracy": {str(px): float(right[px].mean()) for px in SHIFT_GRID},
                     "fields_per_s": {str(px): speed[px] for px in SHIFT_GRID},
                     "chosen_per_half": chosen, "cross_fitted": crossed / len(val), "chosen_on_all": full}
        print(json.dumps({name: out[name]}), flush=True)
    out["true_pieces"] = piece_errors(args.orand, args.weights[0], cache)
    print(json.dumps({"true_pieces": out["true_pieces"]}), flush=True)
    if args.store:
        from docrec.weights import resolve

        px = out[args.weights[0]]["chosen_on_all"]
        store_meta(resolve(args.weights[0], "seg"), {"piece_shifts": int(px)})
        out["stored"] = {"piece_shifts": int(px), "in": args.weights[0]}
    return out


def piece_errors(orand: Path, weights: str, cache: Path) -> dict:
    """How ``weights`` (each piece read once) classify the true digit pieces the boxes give, on the
    training and the validation fields: share of digits misread, and share read as 'none'."""
    from docrec.recognizers.seg import SegRecognizerConfig, SegmentationRecognizer
    from docrec.training.seg_data import NONE_ID, dequantize
    from docrec.training.seg_real import real_pieces

    rec = SegmentationRecognizer(weights=weights, config=SegRecognizerConfig(piece_shifts=0))
    out = {}
    for split, ids in (("train", TRAIN_IDS), ("val", VAL_IDS)):
        x, y, _ = real_pieces(segmented(orand, ids, boxes=True, cache=cache))
        with torch.no_grad():
            pred = rec.model(dequantize(x)).argmin(1).numpy()  # penalties: the lowest wins
        digit = y != NONE_ID
        out[split] = {"digit_pieces": int(digit.sum()), "misread": float((pred != y)[digit].mean()),
                      "read_as_none": float((pred == NONE_ID)[digit].mean())}
    return out


def store_meta(path, updates: dict) -> None:
    """Merge ``updates`` into the ``meta`` of a seg weights file (atomic rewrite; weights unchanged)."""
    from docrec.training.seg_local import save_atomic

    blob = torch.load(path, map_location="cpu", weights_only=True)
    save_atomic({**blob, "meta": {**dict(blob.get("meta") or {}), **updates}}, Path(path))
    print(f"stored {updates} in {path}")


def piece_targets(fields: list) -> np.ndarray:
    """The box label of every arc of ``fields`` in order: class id, or -1 where it has none
    (an ambiguous arc, or a field without boxes)."""
    from docrec.training.seg_data import CHARS, NONE_ID

    out = []
    for f in fields:
        if f.targets is None:
            out.append(np.full(len(f.pieces), -1, np.int64))
            continue
        t = np.asarray(f.targets)
        out.append(np.array([CHARS.index(f.text[int(c)]) if c >= 0 else (NONE_ID if c == -1 else -1) for c in t],
                            np.int64))
    return np.concatenate(out)


def distill(args: argparse.Namespace, cache: Path) -> dict:
    from docrec.recognizers.seg import SegRecognizerConfig, normalized_penalties
    from docrec.recognizers.seg_model import load_piece_model
    from docrec.training.seg_data import dequantize
    from docrec.training.seg_real import augmented_fields, evaluate_weights, read_folder
    from docrec.weights import resolve

    torch.manual_seed(0)
    j = SegRecognizerConfig().map_j
    train = segmented(args.orand, TRAIN_IDS, boxes=True, cache=cache)
    copies = augmented_fields(read_folder(args.orand, ids=TRAIN_IDS), args.copies, seed=0, cache_dir=cache)[0] \
        if args.copies else []
    val = segmented(args.orand, VAL_IDS, boxes=False, cache=cache)
    x = np.concatenate([f.pieces for f in train + copies])
    hard = torch.from_numpy(piece_targets(train + copies))
    teacher, _ = load_piece_model(resolve("seg-modern-real", "seg"))
    with torch.no_grad():
        target = torch.cat([torch.exp(-normalized_penalties(teacher(dequantize(x[k:k + 1024])), j=j))
                            for k in range(0, len(x), 1024)])
    labelled = hard >= 0
    onehot = torch.nn.functional.one_hot(hard[labelled], target.shape[1]).to(target.dtype)
    target[labelled] = (1 - args.hard) * target[labelled] + args.hard * onehot
    student, _ = load_piece_model(resolve("seg-lenet5-real", "seg"))
    curve = [{"epoch": 0, "val_accuracy": evaluate_weights(student, val)}]
    print(json.dumps(curve[-1]), flush=True)
    opt = torch.optim.Adam(student.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)
    for epoch in range(args.epochs):
        student.train()
        t0, total = time.perf_counter(), 0.0
        order = torch.randperm(len(x))
        for k in range(0, len(x), 128):
            idx = order[k:k + 128]
            logq = -normalized_penalties(student(dequantize(x[idx.numpy()])), j=j)
            loss = -(target[idx] * logq).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        sched.step()
        student.eval()
        curve.append({"epoch": epoch + 1, "loss": total / len(x), "val_accuracy": evaluate_weights(student, val),
                      "seconds": round(time.perf_counter() - t0, 1)})
        print(json.dumps(curve[-1]), flush=True)
    return {"pieces": int(len(x)), "box_labelled": int(labelled.sum()), "training_fields": len(train),
            "copies": len(copies), "hard": args.hard, "lr": args.lr, "epochs": args.epochs, "curve": curve}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["settings", "distill", "shifts"])
    ap.add_argument("--weights", nargs="+", default=["seg-lenet5-real", "seg-modern-real"],
                    help="shifts: the weights read (the first one's choice is stored with --store)")
    ap.add_argument("--store", action="store_true", help="shifts: store the choice in the first weights")
    ap.add_argument("--orand", type=Path, default=Path(os.environ.get("DOCREC_ORAND_DIR", SHARED_ORAND)))
    ap.add_argument("--copies", type=int, default=2)
    ap.add_argument("--hard", type=float, default=0.5)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--lr", type=float, default=3e-4)
    args = ap.parse_args()
    if not (args.orand / "labels.csv").is_file():
        raise SystemExit(f"[benchmarks.seg_lenet5_real_tries] no labels.csv in {args.orand} (--orand DIR)")
    if not 0.0 <= args.hard <= 1.0 or args.copies < 0 or args.epochs < 1 or not args.lr > 0:
        raise SystemExit("[benchmarks.seg_lenet5_real_tries] need 0 <= --hard <= 1, --copies >= 0, --epochs >= 1, "
                         "--lr > 0")
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        result = {"settings": settings, "distill": distill, "shifts": shifts}[args.what](args, Path(tmp))
    argv = " ".join(["python benchmarks/seg_lenet5_real_tries.py", args.what]
                    + ([f"--copies {args.copies} --hard {args.hard} --epochs {args.epochs} --lr {args.lr}"]
                       if args.what == "distill" else [])
                    + ([f"--weights {' '.join(args.weights)}"] + (["--store"] if args.store else [])
                       if args.what == "shifts" else []))
    stored = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    stored[args.what] = {"command": argv, **result}
    _bench.write_json(RESULTS, stored, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k not in ("accuracy", "curve")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
