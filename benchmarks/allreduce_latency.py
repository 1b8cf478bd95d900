"""What one gradient exchange costs between two ranks on this machine, by what the ranks do between
exchanges.

Two processes joined as the trainers are (``docrec.distributed.training_processes``, gloo, bound to
cores unless ``--unbound``) all-reduce LeNet-5's 61,706 gradient numbers ``--calls`` times, with
nothing, a pause (``sleep``) or computation (``busy``: 256x256 matrix products) of 4 or 8 ms
between calls, as a training step has its forward and backward pass between exchanges. The
median and mean time inside ``all_reduce`` on rank 0 are kept per gap.

Usage::

    python benchmarks/allreduce_latency.py [--calls 300] [--unbound]

Results: ``benchmarks/results/allreduce_latency.json``, one entry per placement.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import _bench

RESULTS = _bench.ROOT / "benchmarks" / "results" / "allreduce_latency.json"
NUMBERS = 61_706  # LeNet-5's trainable parameters
GAPS = [("none", 0.0), ("sleep", 4.0), ("sleep", 8.0), ("busy", 4.0), ("busy", 8.0)]


def worker(calls: int) -> None:
    """One rank: time ``calls`` all-reduces after each kind of gap; rank 0 prints the record."""
    import torch
    import torch.distributed as dist

    from docrec.distributed import is_main, training_processes

    torch.set_num_threads(1)
    with training_processes("cpu") as (shard, _):
        x, a = torch.randn(NUMBERS), torch.randn(256, 256)
        out = {}
        for kind, ms in GAPS:
            times = []
            for _ in range(calls):
                t0 = time.perf_counter()
                if kind == "sleep":
                    time.sleep(ms / 1e3)
                while kind == "busy" and (time.perf_counter() - t0) * 1e3 < ms:
                    a @ a
                t1 = time.perf_counter()
                dist.all_reduce(x)
                times.append((time.perf_counter() - t1) * 1e3)
            out[f"{kind} {ms:g} ms" if ms else "back to back"] = {
                "median_ms": round(statistics.median(times), 3), "mean_ms": round(statistics.mean(times), 3)}
        if is_main(shard):
            print("RECORD " + json.dumps(out), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    _bench.add_unbound_option(ap)
    args = ap.parse_args()
    if args.calls < 1:
        raise SystemExit("[benchmarks.allreduce_latency] --calls must be >= 1")
    if args.worker:
        worker(args.calls)
        return 0
    key = _bench.placement_key(f"2 ranks, {NUMBERS} numbers", unbound=args.unbound)
    _, out = _bench.run_python(2, [str(Path(__file__).resolve()), "--worker", "--calls", str(args.calls)])
    lines = [line[len("RECORD "):] for line in out.splitlines() if line.startswith("RECORD ")]
    if not lines:
        print("[benchmarks.allreduce_latency] rank 0 printed no record", file=sys.stderr)
        return 1
    stored = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    cmd = "python benchmarks/allreduce_latency.py" + (f" --calls {args.calls}" if args.calls != 300 else "")
    stored[key] = {"command": cmd + (" --unbound" if args.unbound else ""), "cores": os.cpu_count(),
                   "all_reduce": json.loads(lines[-1])}
    _bench.write_json(RESULTS, stored, indent=1)
    print(json.dumps(stored[key], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
