"""Data-parallel training speed of the heaviest trainer: ``docrec train sdnn --arch strip`` (StripNet,
global CTC criterion on fields rendered on the fly) in one process against ``torchrun`` ranks.

Both runs train from the same start for one epoch of ``--steps`` global batches of ``--batch-size``
fields with the same seed (the strip trainer renders each global batch in shares, one per rank, and
exchanges them, so every rank count sees the same fields), each process on 1 torch thread. The epoch
time is the trainer's own ``seconds`` (rendering, forward, backward, gradient exchange and steps;
validation excluded); the whole process time includes start-up. One run each, same machine.

Usage::

    python benchmarks/ddp_strip.py [--ranks 2] [--steps 40] [--batch-size 32] [--repeat 1] [--unbound]

``--unbound``: the ranks are not bound to cores (``_bench.add_unbound_option``).

Results go to ``benchmarks/results/ddp_strip.json``, one entry per batch size and rank count.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import _bench

RESULTS = _bench.ROOT / "benchmarks" / "results" / "ddp_strip.json"


def train(ranks: int, out: Path, common: list[str]) -> dict:
    """One training run: the epoch record its log printed, plus the whole process's wall time."""
    wall, stdout = _bench.run_docrec(ranks, ["train", "sdnn", "--arch", "strip", *common, "--out", str(out)])
    records = [json.loads(line) for line in stdout.splitlines() if line.startswith("{") and '"epoch"' in line]
    if not records:
        raise RuntimeError(f"[benchmarks.ddp_strip] no epoch record in the output of {ranks} process(es)")
    return {"processes": ranks, "epoch_seconds": records[-1]["seconds"], "train_loss": records[-1]["train_loss"],
            "process_seconds": round(wall, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=1,
                    help="pairs of runs (one process, then the ranks); the speed-ups are their medians")
    _bench.add_unbound_option(ap)
    args = ap.parse_args()
    key = _bench.placement_key(f"batch {args.batch_size}, {args.steps} steps, {args.ranks} ranks", unbound=args.unbound)
    common = ["--epochs", "1", "--steps", str(args.steps), "--batch-size", str(args.batch_size), "--threads", "1",
              "--val-fields", "1", "--seed", "0", "--quiet"]
    _bench.compare_ranks("ddp_strip.py", RESULTS, key,
                         lambda n, out: train(n, out, common), ranks=args.ranks, seconds="epoch_seconds",
                         repeat=args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
