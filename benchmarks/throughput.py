"""Reading throughput: fields/s and peak memory of each system with 1 and 2 worker processes.

Each configuration runs in a fresh process (``--child``) that reads the same folder of synthetic zip
codes (MNIST test digits) with :func:`docrec.stream.read_fields`. That is what ``docrec recognize``
does, including the recogniser start-up. The parent records the wall time, the peak RSS of the child
and of its workers (``ru_maxrss``; the total adds one peak per worker), and the accuracy. Writes benchmarks/results/throughput.json and
prints a Markdown table.

Usage: python benchmarks/throughput.py [--count 300] [--systems seg sdnn combo] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import _bench

RESULTS = Path(__file__).resolve().parent / "results" / "throughput.json"


def child(folder: Path, system: str, workers: int) -> None:
    """Read ``folder`` and print one JSON line: fields, correct, seconds (inside the reading)."""
    import torch

    from docrec.stream import ReaderSpec, iter_images, read_fields

    torch.set_num_threads(1)
    truth = {row["path"]: row["text"] for row in csv.DictReader((folder / "labels.csv").open())}
    t0 = time.perf_counter()
    n = correct = 0
    for r in read_fields(iter_images([folder]), ReaderSpec(system, "zip"), batch=32, workers=workers):
        n += 1
        correct += int(r.result is not None and r.result["text"] == truth.get(r.path.name))
    dt = time.perf_counter() - t0
    own, workers_peak = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"fields": n, "correct": correct, "read_seconds": dt, "peak_rss_mb": own.ru_maxrss / 1024,
                      "worker_peak_rss_mb": workers_peak.ru_maxrss / 1024}))


def make_folder(out: Path, count: int) -> Path:
    if not (out / "labels.csv").is_file():
        subprocess.run([sys.executable, "-m", "docrec.cli", "synth", "--kind", "zip", "--count", str(count),
                        "--split", "test", "--seed", "21", "--out", str(out)], check=True, capture_output=True)
    return out


def measure(folder: Path, system: str, workers: int) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", str(folder), system, str(workers)],
                          capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    total = row["peak_rss_mb"] + (workers * row["worker_peak_rss_mb"] if workers > 1 else 0.0)
    row.update(system=system, workers=workers, wall_seconds=wall, fields_per_s_wall=row["fields"] / wall,
               fields_per_s=row["fields"] / row["read_seconds"], accuracy=row["correct"] / max(1, row["fields"]),
               peak_rss_mb_total=total)
    return row


def main(argv=None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--systems", nargs="+", default=["seg", "sdnn", "combo"])
    ap.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--work", type=Path, default=Path("runs/throughput"))
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if args.count < 1 or any(w < 1 for w in args.workers):
        ap.error("--count and --workers must be >= 1")
    folder = make_folder(args.work / f"zip{args.count}", args.count)
    rows = [measure(folder, s, w) for s in args.systems for w in args.workers]
    res = {"fields": args.count, "cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()[0], "rows": rows}
    _bench.write_json(args.out, res)
    print(table(res))
    return 0


def table(res: dict) -> str:
    lines = ["| system | workers | fields/s (reading) | fields/s (whole process) | peak RSS, all processes (MB) | accuracy |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in res["rows"]:
        lines.append(f"| {r['system']} | {r['workers']} | {r['fields_per_s']:.1f} | {r['fields_per_s_wall']:.1f} | "
                     f"{r['peak_rss_mb_total']:.0f} | {100 * r['accuracy']:.1f}% |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
