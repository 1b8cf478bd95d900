"""Data-parallel training speed: ``docrec train lenet`` in one process against ``torchrun`` ranks.

Both runs train the same network on the same MNIST training digits for one epoch with the same
global batches (``lenet.train.Shard``), each process on 1 torch thread, and report the epoch's
training time from the run's own history (``train_seconds``: forward, backward, gradient exchange
and steps; the SDLM Hessian estimate, which every rank repeats, is ``hessian_seconds``; the time
inside the gradient ``all_reduce``, waiting for the other rank included, is ``exchange_seconds``)
and the whole process time (start-up, data loading and evaluation included).

Usage::

    python benchmarks/ddp_lenet.py [--ranks 2] [--train-limit 55000] [--optimizer adam] [--batch-size 64] [--lr 0.001]
                                   [--distort {none,affine,elastic}] [--repeat 1] [--unbound]

``--unbound``: the ranks are not bound to cores (``_bench.add_unbound_option``).

Results go to ``benchmarks/results/ddp_lenet.json``, one entry per optimizer, batch size and rank count.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import _bench

RESULTS = _bench.ROOT / "benchmarks" / "results" / "ddp_lenet.json"


def train(ranks: int, out: Path, common: list[str]) -> dict:
    """One training run; its epoch record plus the whole process's wall time."""
    wall, _ = _bench.run_docrec(ranks, ["train", "lenet", *common, "--out", str(out)])
    record = json.loads(out.with_suffix(".json").read_text())["history"][-1]
    return {"processes": ranks, "train_seconds": round(record["train_seconds"], 2),
            "hessian_seconds": round(record.get("hessian_seconds", 0.0), 2),
            "exchange_seconds": round(record.get("exchange_seconds", 0.0), 2),
            "process_seconds": round(wall, 1), "test_error": record["test_error"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--train-limit", type=int, default=55000)
    ap.add_argument("--optimizer", default="adam", choices=["sgd", "sdlm", "adam"])
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--distort", choices=["none", "affine", "elastic"], default="none",
                    help="distort every pattern on the fly (each rank distorts only its rows)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="pairs of runs (one process, then the ranks); the speed-ups are their medians")
    _bench.add_unbound_option(ap)
    args = ap.parse_args()
    common = ["--arch", "lenet5", "--epochs", "1", "--train-limit", str(args.train_limit), "--threads", "1",
              "--optimizer", args.optimizer, "--batch-size", str(args.batch_size), "--lr", str(args.lr),
              "--quiet"] + {"none": [], "affine": ["--distort"], "elastic": ["--elastic"]}[args.distort]
    key = _bench.placement_key(f"{args.optimizer}, batch {args.batch_size}, {args.ranks} ranks" + (
        "" if args.distort == "none" else f", {args.distort} distortions"), unbound=args.unbound)
    _bench.compare_ranks("ddp_lenet.py", RESULTS, key,
                         lambda n, out: train(n, out.with_suffix(".pt"), common), ranks=args.ranks,
                         seconds="train_seconds", repeat=args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
