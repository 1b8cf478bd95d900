"""Shared set-up of the benchmark scripts (run as ``python benchmarks/NAME.py``): the repository on
``sys.path`` and, when ``$DOCREC_MNIST_DIR`` is unset, the development MNIST copy beside the
repository (``../shared/data/mnist``, as tests/conftest.py does). The product never needs it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
_SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"
if _SHARED_MNIST.is_dir() and not os.environ.get("DOCREC_MNIST_DIR"):
    os.environ["DOCREC_MNIST_DIR"] = str(_SHARED_MNIST)


def write_json(path: Path, obj, **dumps_kwargs) -> Path:
    """Write a results JSON atomically (``data.atomic.write_json_atomic``), creating its folder."""
    from data.atomic import write_json_atomic

    return write_json_atomic(path, obj, **dumps_kwargs)


def timed(fn, repeats: int, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` in milliseconds, after ``warmup`` untimed calls."""
    import statistics
    import time

    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def run_docrec(ranks: int, argv: list[str]) -> tuple[float, str]:
    """Run ``python -m docrec ARGV`` in one process (``ranks`` 1) or under ``torchrun`` with ``ranks``
    processes, each on 1 torch thread; returns the whole run's wall seconds and its stdout."""
    return run_python(ranks, ["-m", "docrec", *argv])


def run_python(ranks: int, argv: list[str]) -> tuple[float, str]:
    """Run ``python ARGV`` (``-m MODULE ...`` or ``SCRIPT ...``) as :func:`run_docrec` does: one
    process, or ``ranks`` processes under ``torchrun``, each on 1 torch thread, from the project root."""
    import subprocess
    import time

    cmd = [sys.executable, *argv]
    if ranks > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={ranks}", *argv]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    done = subprocess.run(cmd, check=True, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    return time.perf_counter() - t0, done.stdout


def add_unbound_option(ap) -> None:
    """``--unbound``: the ranks run with ``DOCREC_PIN_CORES=0`` (placement left to the operating
    system instead of one block of cores per rank, docs/devices.md), stored under their own key."""
    ap.add_argument("--unbound", action="store_true", help="ranks not bound to cores (DOCREC_PIN_CORES=0)")


def placement_key(key: str, *, unbound: bool) -> str:
    """``key`` for bound ranks; with ``unbound`` sets ``DOCREC_PIN_CORES=0`` for the runs to come
    (they inherit this environment) and marks the key."""
    if not unbound:
        return key
    os.environ["DOCREC_PIN_CORES"] = "0"
    return key + ", not bound to cores"


def compare_ranks(script: str, results: Path, key: str, train, *, ranks: int, seconds: str, repeat: int = 1) -> dict:
    """The data-parallel speed comparison of ``ddp_*.py``: ``train(processes, out)`` in one process
    and with ``ranks`` (each into a temporary folder), alternating, ``repeat`` pairs; the speed-ups of
    the epoch (the records' ``seconds`` field) and of the whole process, merged into ``results`` under
    ``key`` and printed. With several pairs the speed-ups are the medians of the pairs' ratios, every
    pair is kept under ``pairs``, and ``one_process`` / ``ranks`` are the pair with the median epoch
    speed-up."""
    import json
    import statistics
    import tempfile

    pairs = []
    for r in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            one = train(1, Path(tmp) / "one")
            many = train(ranks, Path(tmp) / "many")
        pairs.append({"one_process": one, "ranks": many, "epoch_speedup": round(one[seconds] / many[seconds], 2),
                      "process_speedup": round(one["process_seconds"] / many["process_seconds"], 2)})
    middle = sorted(pairs, key=lambda p: p["epoch_speedup"])[(len(pairs) - 1) // 2]
    result = {"command": f"python benchmarks/{script} " + " ".join(sys.argv[1:]),
              "cores": os.cpu_count(), "one_process": middle["one_process"], "ranks": middle["ranks"],
              "epoch_speedup": round(statistics.median(p["epoch_speedup"] for p in pairs), 2),
              "process_speedup": round(statistics.median(p["process_speedup"] for p in pairs), 2)}
    if repeat > 1:
        result["pairs"] = pairs
    runs = json.loads(results.read_text()) if results.is_file() else {}
    runs[key] = result
    write_json(results, runs, indent=1)
    print(json.dumps(result, indent=1))
    return result
