"""How much can two processes gain on this machine at all? LeNet-5 training steps, alone and in pairs.

A data-parallel epoch on 2 ranks can at best run as fast as two independent processes sharing the
machine. This measures that ceiling without any exchange between processes: one process runs
``--steps`` LeNet-5 training steps (Adam, ``--rows`` digits per step, random inputs, 1 torch
thread) alone, then two such processes run at the same time. ``ceiling = 2 t_alone / t_pair``
(``t_pair``: the slower of the two) is the speed-up two ranks would have with a free exchange; 2.0
on two independent cores. Pairs and single runs alternate ``--repeat`` times; medians are kept.

    .venv/bin/python benchmarks/two_process_ceiling.py [--steps 150] [--rows 128] [--repeat 3]

Writes ``benchmarks/results/two_process_ceiling.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import _bench

RESULTS = _bench.ROOT / "benchmarks" / "results" / "two_process_ceiling.json"


def child(steps: int, rows: int) -> None:
    """Time ``steps`` training steps and print the seconds."""
    import torch

    from lenet.models import LeNet5
    from lenet.train import TrainConfig, _loss_fn

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = LeNet5(10)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    loss_fn = _loss_fn(model, TrainConfig())
    x, y = torch.randn(rows, 1, 32, 32), torch.randint(0, 10, (rows,))
    for k in range(steps + 5):
        if k == 5:  # after a warm-up
            t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
    print(json.dumps({"seconds": time.perf_counter() - t0}))


def run(count: int, steps: int, rows: int) -> list[float]:
    """Start ``count`` children at once; their seconds."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(_bench.ROOT)}
    procs = [subprocess.Popen([sys.executable, __file__, "--child", str(steps), str(rows)], env=env,
                              stdout=subprocess.PIPE, text=True) for _ in range(count)]
    out = []
    for p in procs:
        stdout, _ = p.communicate()
        if p.returncode:
            raise SystemExit(f"two_process_ceiling: a child failed with exit code {p.returncode}")
        out.append(json.loads(stdout.strip().splitlines()[-1])["seconds"])
    return out


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(int(sys.argv[2]), int(sys.argv[3]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--rows", type=int, default=128, help="digits per step (a rank's half of a batch of 256)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if min(args.steps, args.rows, args.repeat) < 1:
        ap.error("--steps, --rows and --repeat must be >= 1")
    alone, pairs = [], []
    for _ in range(args.repeat):
        alone += run(1, args.steps, args.rows)
        pairs.append(run(2, args.steps, args.rows))
    t_alone = statistics.median(alone)
    t_pair = statistics.median(max(p) for p in pairs)
    result = {"description": __doc__.splitlines()[0], "command": "python benchmarks/two_process_ceiling.py "
              + " ".join(sys.argv[1:]), "cores": os.cpu_count(), "steps": args.steps, "rows": args.rows,
              "alone_seconds": alone, "pair_seconds": pairs, "alone_median": t_alone,
              "pair_slower_median": t_pair, "ceiling": 2 * t_alone / t_pair,
              "loadavg_after": list(os.getloadavg())}
    _bench.write_json(RESULTS, result)
    print(f"alone {t_alone:.2f} s, two at once {t_pair:.2f} s (the slower): ceiling {result['ceiling']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
