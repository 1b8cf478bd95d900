"""Data-parallel training speed of the piece classifier's local stage (``docrec train seg local``,
``docrec.training.seg_local.train_local``): one process against ``torchrun`` ranks.

Both runs train the same network (``--arch``, default the modern CNN) from the same seed for one
epoch of ``--pieces`` MNIST training digits used as 32x32 pieces (the shape and labels the local
stage trains on; the CLI cuts them from synthetic or real fields first, which is not timed here),
batch 64, half of every batch distorted, each process on 1 torch thread, on the same global
batches (``Shard.mean_backward``). The ranks join through ``docrec.distributed.training_processes``,
as the CLI's do (bound to cores unless ``--unbound``). The epoch time is measured around
``train_local``; the whole process time includes start-up and loading MNIST.

Usage::

    python benchmarks/ddp_seg_local.py [--arch modern] [--pieces 12000] [--ranks 2] [--repeat 1] [--unbound]

Results go to ``benchmarks/results/ddp_seg_local.json``, one entry per architecture and rank count.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import _bench

RESULTS = _bench.ROOT / "benchmarks" / "results" / "ddp_seg_local.json"


def worker(args: argparse.Namespace) -> None:
    """One process of a run (alone, or one rank under torchrun): train one epoch, print its record."""
    import numpy as np
    import torch

    from data.mnist import load_mnist
    from docrec.distributed import is_main, training_processes
    from docrec.recognizers.seg_model import new_piece_model
    from docrec.training.seg_local import LocalTrainConfig, train_local

    torch.set_num_threads(1)
    images, labels = load_mnist("train")
    x = np.zeros((args.pieces, 1, 32, 32), np.uint8)
    x[:, 0, 2:30, 2:30] = images[: args.pieces]
    y = labels[: args.pieces].astype(np.int64)
    with training_processes("cpu") as (shard, _):
        net = new_piece_model(args.arch, None, seed=0)
        cfg = LocalTrainConfig(epochs=1, batch_size=64, lr=1e-3, distort=0.5, seed=0)
        t0 = time.perf_counter()
        hist = train_local(net, x, y, cfg, progress=False, log=lambda *a, **k: None, shard=shard)
        seconds = time.perf_counter() - t0
        if is_main(shard):
            print(json.dumps({"epoch_seconds": round(seconds, 2), "train_loss": hist[-1]["loss"]}), flush=True)


def train(ranks: int, args: argparse.Namespace) -> dict:
    """One run in ``ranks`` processes: its epoch record plus the whole process's wall time."""
    wall, out = _bench.run_python(ranks, [str(Path(__file__).resolve()), "--worker", "--arch", args.arch,
                                          "--pieces", str(args.pieces)])
    records = [json.loads(line) for line in out.splitlines() if line.startswith('{"epoch_seconds"')]
    if not records:
        raise RuntimeError(f"[benchmarks.ddp_seg_local] no epoch record in the output of {ranks} process(es)")
    return {"processes": ranks, **records[-1], "process_seconds": round(wall, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", choices=["modern", "lenet5"], default="modern")
    ap.add_argument("--pieces", type=int, default=12000)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1,
                    help="pairs of runs (one process, then the ranks); the speed-ups are their medians")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    _bench.add_unbound_option(ap)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return 0
    key = _bench.placement_key(f"{args.arch}, batch 64, {args.pieces} pieces, {args.ranks} ranks", unbound=args.unbound)
    _bench.compare_ranks("ddp_seg_local.py", RESULTS, key, lambda n, out: train(n, args), ranks=args.ranks,
                         seconds="epoch_seconds", repeat=args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
