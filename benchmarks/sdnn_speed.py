"""Speed of the SDNN field recogniser (issue 7): 5-digit zip codes read per second, batched.

The fields are zip codes (normal spacing, no +4) of held-out MNIST *training* digits 55000..59999
(speed does not depend on which digits; the test digits stay for accuracy). For each thread count
(``torch.set_num_threads``) the whole set is read ``--repeats`` times with
``SDNNRecognizer.recognize(images, grammar="zip")`` after one warm-up call, and the median wall
time is reported, with the time split into its stages (height normalisation, SDNN, decoding, the
rest: boxes and results), each also a median over the repeats. The machine's load average before and
after each setting is recorded, because the development machine is shared.

    .venv/bin/python benchmarks/sdnn_speed.py [--count 1000] [--repeats 5] [--threads 1 2]

Writes ``benchmarks/results/sdnn_speed.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import _bench  # benchmarks/_bench.py: repository on sys.path, write_json

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
_SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"
if _SHARED_MNIST.is_dir() and not os.environ.get("DOCREC_MNIST_DIR"):
    os.environ["DOCREC_MNIST_DIR"] = str(_SHARED_MNIST)  # the development copy, as tests/conftest.py


class _StageTimer:
    """Wraps the recogniser's stages to accumulate their wall time (seconds) per call."""

    def __init__(self, rec):
        import docrec.recognizers.sdnn as mod

        self.t = {"normalise": 0.0, "sdnn": 0.0, "decode": 0.0}
        self._mod, self._rec = mod, rec
        self._orig_norm = mod.normalize_field_ink
        self._orig_pen = rec.frame_penalties
        _, dec = rec._grammar_and_decoder("zip")  # the decoder recognize(grammar="zip") uses
        self._dec = dec
        self._orig = {k: getattr(dec, k) for k in ("viterbi", "forward_all", "forward_text")}

    def _wrap(self, fn, key):
        def inner(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self.t[key] += time.perf_counter() - t0
        return inner

    def __enter__(self):
        self._mod.normalize_field_ink = self._wrap(self._orig_norm, "normalise")
        self._rec.frame_penalties = self._wrap(self._orig_pen, "sdnn")
        for k, fn in self._orig.items():
            setattr(self._dec, k, self._wrap(fn, "decode"))
        return self

    def __exit__(self, *exc):
        self._mod.normalize_field_ink = self._orig_norm
        del self._rec.frame_penalties
        for k in self._orig:
            delattr(self._dec, k)


def measure(rec, images, repeats: int) -> dict:
    """Median wall time of reading ``images`` and of each stage, over ``repeats`` calls."""
    rec.recognize(images[:64], grammar="zip")  # warm-up
    totals, stages = [], []
    for _ in range(repeats):
        with _StageTimer(rec) as st:
            t0 = time.perf_counter()
            rec.recognize(images, grammar="zip")
            totals.append(time.perf_counter() - t0)
        stages.append(dict(st.t))
    med = statistics.median(totals)
    split = {k: statistics.median(s[k] for s in stages) for k in stages[0]}
    split["rest"] = max(0.0, med - sum(split.values()))
    return {"seconds_median": med, "seconds_all": totals, "zip_per_s": len(images) / med,
            "stage_seconds_median": split}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=1000, help="zip codes per call (default 1000)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--weights", default=None, help="SDNN weights (default: bundled sdnn)")
    ap.add_argument("--batch-size", type=int, default=256, help="fields per SDNN batch (recogniser default)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "sdnn_speed.json")
    args = ap.parse_args(argv)

    import cv2

    from data.synth import SynthConfig, field_rng, synthesize_one
    from docrec.recognizers.sdnn import SDNNRecognizer
    from docrec.training.sdnn_train import split_pools

    cv2.setNumThreads(1)
    _, val_pool = split_pools()
    cfg = SynthConfig(spacing="normal", zip_plus4=0.0)
    images = [synthesize_one("zip", val_pool, field_rng(7000, i), cfg).image for i in range(args.count)]
    rec = SDNNRecognizer(args.weights, batch_size=args.batch_size)
    rows = []
    for th in args.threads:
        torch.set_num_threads(th)
        load_before = os.getloadavg()
        m = measure(rec, images, args.repeats)
        rows.append({"threads": th, **m, "loadavg_before": load_before, "loadavg_after": os.getloadavg()})
        print(f"threads {th}: {m['zip_per_s']:.0f} zip codes/s "
              f"({json.dumps({k: round(v, 3) for k, v in m['stage_seconds_median'].items()})})", flush=True)
    out = {"description": "benchmarks/sdnn_speed.py: SDNN recogniser, 5-digit zip codes (normal spacing) "
                          "of MNIST training digits 55000..59999, grammar zip",
           "count": args.count, "repeats": args.repeats, "batch_size": args.batch_size,
           "weights": args.weights or "bundled sdnn", "cpu_count": os.cpu_count(), "torch": torch.__version__,
           "results": rows}
    _bench.write_json(args.out, out, indent=2)
    print("| threads | zip codes/s (median) | normalise s | SDNN s | decode s | rest s | load avg before |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        s = r["stage_seconds_median"]
        print(f"| {r['threads']} | {r['zip_per_s']:.0f} | {s['normalise']:.3f} | {s['sdnn']:.3f} | {s['decode']:.3f} "
              f"| {s['rest']:.3f} | {r['loadavg_before'][0]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
