"""The MNIST benchmark (docs/paper.md Sec. III-C, Fig. 9): our networks beside the paper's numbers.

For every bundled LeNet-family model (docrec/weights/<name>.pt + card) this script measures, in
one run on this machine:

* the MNIST test error (10,000 digits) of the bundled weights;
* inference speed, digits/s, batched (batch 256), with 1 and 2 torch threads (median of repeats),
  of the folded inference path (lenet.inference) and of the training module, timed alternately;

and copies from the card the training recipe, wall time and training samples/s (measured when the
weights were trained; ``--retrain`` re-runs the recipes, which takes a long time).

It also measures LeNet-5 training throughput on real digits in this run: minibatch SDLM
(batch 32) and the paper's pattern-by-pattern SDLM (batch 1) on a subset, each extrapolated to
20 passes over 60,000 digits.

Writes benchmarks/results/mnist.json and prints a Markdown table.
Usage: python benchmarks/mnist.py [--repeats 5] [--pattern-subset 2000] [--retrain]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from data import load_mnist, to_lenet_input
from docrec.weights import WEIGHTS_DIR, load_card, load_model
from lenet.losses import mse_loss
from lenet.models import LeNet5
from lenet.sdlm import SDLM, gauss_newton_diagonal
from lenet.train import penalties_of

RESULTS = Path(__file__).resolve().parent / "results" / "mnist.json"

#: bundled name -> (row label, paper's test error in %, or None when the paper has no such row)
ROWS = {
    "lenet1": ("LeNet-1", 1.7),
    "lenet4": ("LeNet-4", 1.1),
    "boosted-lenet4": ("Boosted LeNet-4, distorted", 0.7),
    "lenet5": ("LeNet-5", 0.95),
    "lenet5-distorted": ("LeNet-5, distorted", 0.8),
    "modern": ("modern CNN (ReLU, max-pool, BN, Adam; not in the paper)", None),
}


def inference_speed(model: torch.nn.Module, x: torch.Tensor, *, threads: int, repeats: int
                    ) -> dict[str, float]:
    """Median digits/s over ``repeats`` passes over ``x`` in batches of 256, both inference paths.

    ``folded``: :func:`lenet.inference.inference_model` (what ``docrec eval`` uses); ``module``: the
    training module itself. The two are timed alternately in the same run, so their ratio is fair.
    """
    torch.set_num_threads(threads)
    rates: dict[str, list[float]] = {"folded": [], "module": []}
    for path in rates:
        penalties_of(model, x[:512], fast=path == "folded")  # warm-up
    for _ in range(repeats):
        for path, r in rates.items():
            t0 = time.perf_counter()
            penalties_of(model, x, batch=256, fast=path == "folded")
            r.append(x.shape[0] / (time.perf_counter() - t0))
    return {path: statistics.median(r) for path, r in rates.items()}


def sdlm_throughput(x: torch.Tensor, y: torch.Tensor, *, batch: int, threads: int) -> float:
    """Training digits/s of LeNet-5 with SDLM (Hessian estimate excluded, it is ~1% of a pass)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = LeNet5()
    opt = SDLM(model.parameters(), eta=5e-5, lr_scale=1.0)
    opt.set_hessian(gauss_newton_diagonal(model, x[:500]))
    t0 = time.perf_counter()
    for xb, yb in zip(x.split(batch), y.split(batch)):
        opt.zero_grad(set_to_none=True)
        mse_loss(model(xb), yb).backward()
        opt.step()
    return x.shape[0] / (time.perf_counter() - t0)


def retrain(name: str) -> None:
    card = load_card(name)
    cmd = card.get("command")
    if not cmd:
        raise SystemExit(f"[benchmarks/mnist] card of {name} has no command")
    subprocess.run(cmd, shell=True, check=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--pattern-subset", type=int, default=2000,
                    help="digits used to time pattern-by-pattern SDLM")
    ap.add_argument("--batch-subset", type=int, default=20000, help="digits used to time minibatch SDLM")
    ap.add_argument("--retrain", action="store_true", help="re-run every card's training command first")
    args = ap.parse_args(argv)

    ti, tl = load_mnist("test")
    x_test, y_test = to_lenet_input(ti), torch.from_numpy(tl)
    rows = []
    for name, (label, paper) in ROWS.items():
        if not (WEIGHTS_DIR / f"{name}.pt").is_file():
            print(f"[benchmarks/mnist] {name}: no bundled weights, skipped", file=sys.stderr)
            continue
        if args.retrain:
            retrain(name)
        model = load_model(name)
        card = load_card(name)
        torch.set_num_threads(2)
        pred = penalties_of(model, x_test).argmin(1)
        pred_module = penalties_of(model, x_test, fast=False).argmin(1)
        err = float((pred != y_test).float().mean())
        speed2 = inference_speed(model, x_test, threads=2, repeats=args.repeats)
        speed1 = inference_speed(model, x_test, threads=1, repeats=args.repeats)
        rows.append({
            "name": name, "label": label, "paper_error_pct": paper, "test_error_pct": 100 * err,
            "n_test": int(y_test.numel()), "epochs": card.get("epochs"),
            "recipe": card.get("recipe"), "train_wall_seconds": card.get("train_wall_seconds"),
            "train_samples_per_second": card.get("train_samples_per_second"),
            "predictions_differing_from_module": int((pred != pred_module).sum()),
            "infer_digits_per_second_2threads": speed2["folded"],
            "infer_digits_per_second_1thread": speed1["folded"],
            "infer_module_digits_per_second_2threads": speed2["module"],
            "infer_module_digits_per_second_1thread": speed1["module"],
        })

    tr, trl = load_mnist("train")
    xs, ys = to_lenet_input(tr[:args.batch_subset]), torch.from_numpy(trl[:args.batch_subset])
    speed = {}
    for threads in (1, 2):
        speed[f"minibatch32_{threads}thread"] = sdlm_throughput(xs, ys, batch=32, threads=threads)
        speed[f"pattern_{threads}thread"] = sdlm_throughput(xs[:args.pattern_subset], ys[:args.pattern_subset],
                                                            batch=1, threads=threads)
    extrap = {k: 20 * 60000 / v / 60 for k, v in speed.items()}

    result = {"machine": {"platform": platform.platform(), "torch": torch.__version__,
                          "cpus": torch.get_num_threads()},
              "models": rows, "lenet5_training_digits_per_second": speed,
              "lenet5_20_passes_minutes_extrapolated": extrap,
              "pattern_subset": args.pattern_subset, "batch_subset": args.batch_subset}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")

    print("| classifier | paper test error | ours | epochs | training wall time | training digits/s "
          "| inference digits/s, 2 thr / 1 thr (folded) | same, training module |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        paper = "—" if r["paper_error_pct"] is None else f"{r['paper_error_pct']:.2f}%"
        wall = r["train_wall_seconds"]
        wall = "—" if wall is None else f"{wall / 60:.1f} min"
        tps = r["train_samples_per_second"]
        tps = "—" if tps is None else f"{tps:,.0f}"
        print(f"| {r['label']} | {paper} | {r['test_error_pct']:.2f}% | {r['epochs']} | {wall} | {tps} | "
              f"{r['infer_digits_per_second_2threads']:,.0f} / {r['infer_digits_per_second_1thread']:,.0f} | "
              f"{r['infer_module_digits_per_second_2threads']:,.0f} / "
              f"{r['infer_module_digits_per_second_1thread']:,.0f} |")
    print()
    print("| LeNet-5 SDLM training | digits/s (1 thread) | digits/s (2 threads) | 20 passes x 60,000, extrapolated |")
    print("|---|---|---|---|")
    for mode, label in (("minibatch32", "minibatch (B=32)"), ("pattern", "pattern by pattern (paper)")):
        a, b = speed[f"{mode}_1thread"], speed[f"{mode}_2thread"]
        best = min(extrap[f"{mode}_1thread"], extrap[f"{mode}_2thread"])
        print(f"| {label} | {a:,.0f} | {b:,.0f} | {best:.1f} min |")
    print(f"\nwritten {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
