"""ONNX export: parity and speed of onnxruntime against PyTorch, per exported network.

For each network, the exported model and the PyTorch module read the same batch (1,000 MNIST test
digits for the digit classifiers; 100 strips cut from the bundled sample fields for the SDNN and the
StripNet); reported: the largest absolute difference of their penalties, the largest penalty (for
scale), and the median wall time of 5 calls each, 2 threads on both sides. The PyTorch times are
the plain modules, not the recognisers' folded inference path.

Usage::

    python benchmarks/export_onnx.py [--threads 2] [--repeats 5]

Results go to ``benchmarks/results/export_onnx.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

import _bench

RESULTS = _bench.ROOT / "benchmarks" / "results" / "export_onnx.json"
NETWORKS = ("lenet5", "modern", "sdnn", "sdnn-strip")


def main() -> int:
    import onnxruntime as ort

    from data import load_mnist, to_lenet_input
    from docrec.export import export_onnx, load_exportable, sample_input

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    images, _ = load_mnist("test", download=False)
    digits = to_lenet_input(images[:1000])
    strips = sample_input("strip", batch=8).repeat(13, 1, 1, 1)[:100]
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in NETWORKS:
            net = load_exportable(name)
            path = export_onnx(net, Path(tmp) / f"{name}.onnx")
            x = digits if net.contract == "digit" else strips
            options = ort.SessionOptions()
            options.intra_op_num_threads = args.threads
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            feed = {net.input_name: x.numpy()}
            with torch.no_grad():
                ref = net.module(x).numpy()
                torch_ms = _bench.timed(lambda: net.module(x), args.repeats, warmup=1)
            got = session.run(None, feed)[0]
            ort_ms = _bench.timed(lambda: session.run(None, feed), args.repeats, warmup=1)
            rows[name] = {"input": list(x.shape), "max_abs_diff": float(np.abs(got - ref).max()),
                          "max_penalty": float(np.abs(ref).max()), "torch_ms": round(torch_ms, 1),
                          "onnxruntime_ms": round(ort_ms, 1)}
            print(name, json.dumps(rows[name]), flush=True)
    _bench.write_json(RESULTS, {"command": "python benchmarks/export_onnx.py " + " ".join(sys.argv[1:]),
                                "threads": args.threads, "networks": rows}, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
