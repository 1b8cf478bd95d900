"""Run every benchmark script in turn (``make bench``); each writes its JSON to benchmarks/results/.

Long: the MNIST and strings benchmarks read tens of thousands of digits and thousands of fields
(about an hour in all on a 2-core machine). ``--only NAME ...`` runs a subset; ``--list`` lists them.
A failing script is reported and the others still run; the exit code is 1 if any failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: script -> extra arguments (the README's tables come from these runs)
SCRIPTS = {
    "gtn_ops.py": [],
    "decode_beam.py": [],
    "synth_speed.py": [],
    "segmentation.py": [],
    "piece_normalisation.py": [],
    "mnist.py": [],
    "strings.py": ["--system", "seg", "sdnn", "--threads", "1"],
    "sdnn_speed.py": [],
    "robustness.py": [],
    "foreign_strings.py": [],
    "preprocess_real.py": [],
    "real_fields.py": [],
    "real_robustness.py": [],
    "throughput.py": ["--count", "1000"],
    "export_onnx.py": [],
    "ddp_lenet.py": ["--batch-size", "256", "--lr", "0.002"],
    "ddp_strip.py": [],
    "ddp_seg_local.py": [],
    "global_step.py": ["--label", "after"],
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="*", default=None, help="script names (e.g. gtn_ops.py)")
    p.add_argument("--list", action="store_true")
    args = p.parse_args(argv)
    if args.list:
        print("\n".join(SCRIPTS))
        return 0
    names = args.only or list(SCRIPTS)
    unknown = [n for n in names if n not in SCRIPTS]
    if unknown:
        print(f"benchmarks/run_all.py: unknown script(s) {unknown}; choose from {list(SCRIPTS)}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        t0 = time.time()
        print(f"=== {name} {' '.join(SCRIPTS[name])}", flush=True)
        rc = subprocess.call([sys.executable, str(HERE / name), *SCRIPTS[name]])
        print(f"=== {name}: exit {rc} after {time.time() - t0:.0f} s", flush=True)
        if rc != 0:
            failed.append(name)
    if failed:
        print(f"failed: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
