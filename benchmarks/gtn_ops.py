"""Benchmark the gtn core; writes benchmarks/results/gtn_ops.json and prints a Markdown table.

Cases (issue 4):
  (i)   forward penalty + gradient, batch of 64 frame graphs (T=100, C=11) composed with 5-label
        CTC graphs; torch.nn.functional.ctc_loss on the same data in the same run as the reference.
  (ii)  forward + gradient and Viterbi path on one random DAG, 1,000 nodes, 10,000 arcs.
  (iii) composition of two random acyclic graphs, ~100 states and ~1,000 arcs each, 10 labels.

Scoring (forward, gradient, Viterbi) and the longest-path layering run on the compiled kernel
gtn._kernels when it is built; every row of ours is then measured a second time, in the same run, with
the kernel switched off (the numpy path; DOCREC_GTN_KERNEL=numpy forces it for the whole run).

Medians of repeated runs, milliseconds. Usage: python benchmarks/gtn_ops.py [--repeats 30] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

import gtn
import gtn.scoring as scoring
from gtn import _backend
from gtn.scoring import plan_of

RESULTS = Path(__file__).resolve().parent / "results" / "gtn_ops.json"
REFERENCE = {  # from the issue: measured on this 2-core machine, medians, ms
    "ctc_fwd_grad_gtn_cpp_1thread": 31.0, "ctc_fwd_grad_gtn_cpp_2threads": 22.0,
    "ctc_loss_1thread": 3.3, "ctc_loss_2threads": 1.7,
    "dag_fwd_grad_gtn_cpp": 0.26, "dag_viterbi_path_gtn_cpp": 0.10,
    "compose_gtn_cpp": 13.0, "compose_openfst_pynini": 12.0,
}


def timed(fn, repeats: int, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` in milliseconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


@contextmanager
def numpy_scoring():
    """Score on the numpy level path inside the block (the kernel, if any, is restored after)."""
    kernel, _backend.KERNEL = _backend.KERNEL, None
    try:
        yield
    finally:
        _backend.KERNEL = kernel


def random_dag(rng, n: int, a: int, labels: int) -> gtn.Graph:
    """A chain 0 -> 1 -> ... -> n-1 (so every node is on a path) plus random forward arcs."""
    extra = a - (n - 1)
    s = rng.integers(0, n - 1, extra)
    d = s + 1 + (rng.random(extra) * (n - 1 - s)).astype(np.int64)
    src = np.concatenate([np.arange(n - 1), s])
    dst = np.concatenate([np.arange(1, n), d])
    lab = rng.integers(0, labels, src.size)
    pen = torch.from_numpy(rng.normal(size=src.size).astype(np.float32))
    return gtn.Graph(src, dst, lab, None, pen, num_nodes=n)


def case_ctc(repeats: int) -> dict:
    torch.manual_seed(0)
    B, T, C, L = 64, 100, 11, 5
    logits = torch.randn(T, B, C)
    targets = torch.randint(1, C, (B, L))
    in_len, tgt_len = torch.full((B,), T), torch.full((B,), L)
    ctc_graphs = gtn.batch([gtn.ctc_graph(t.tolist()) for t in targets])
    lp = logits.log_softmax(-1).detach()
    fg = gtn.frame_graph(-lp.transpose(0, 1))
    composed, _ = gtn.compose(fg, ctc_graphs)

    def ours_compose():
        gtn.compose(gtn.frame_graph(-lp.transpose(0, 1)), ctc_graphs)

    def ours_plan():  # structure-only precomputation on a composed graph (levels, index arrays)
        g = composed.with_penalty(composed.penalty)
        g._cache = {"node_levels": composed._cache["node_levels"]}
        plan_as_used(g)

    plan_of(composed)

    def ours_fwd_grad():  # plan cached: what a training step pays when the structure is reused
        p = composed.penalty.detach().requires_grad_(True)
        gtn.forward_penalty(composed.with_penalty(p)).sum().backward()

    def ours_pipeline():  # everything from log-probs: frame graph, compose, plan, forward, backward
        x = lp.clone().requires_grad_(True)
        c, _ = gtn.compose(gtn.frame_graph(-x.transpose(0, 1)), ctc_graphs)
        gtn.forward_penalty(c).sum().backward()

    def ref_ctc():
        x = lp.clone().requires_grad_(True)
        torch.nn.functional.ctc_loss(x, targets, in_len, tgt_len, reduction="none").sum().backward()

    x = lp.clone().requires_grad_(True)
    mine = gtn.forward_penalty(gtn.compose(gtn.frame_graph(-x.transpose(0, 1)), ctc_graphs)[0])
    ref = torch.nn.functional.ctc_loss(lp, targets, in_len, tgt_len, reduction="none")
    return {
        "shape": f"B={B} T={T} C={C} L={L}", "composed_nodes": composed.num_nodes, "composed_arcs": composed.num_arcs,
        "levels": int(plan_of(composed).bounds.size - 1),
        "max_abs_loss_diff_vs_ctc_loss": float((mine - ref).detach().abs().max()),
        "compose_ms": timed(ours_compose, repeats),
        "plan_ms": timed(ours_plan, repeats),
        "fwd_grad_ms": timed(ours_fwd_grad, repeats),
        "pipeline_ms": timed(ours_pipeline, repeats),
        "compose_numpy_ms": numpy_timed(ours_compose, repeats),
        "plan_numpy_ms": numpy_timed(ours_plan, repeats),
        "fwd_grad_numpy_ms": numpy_timed(ours_fwd_grad, repeats),
        "pipeline_numpy_ms": numpy_timed(ours_pipeline, repeats),
        "ctc_loss_ms": timed(ref_ctc, repeats),
    }


def case_dag(repeats: int) -> dict:
    rng = np.random.default_rng(0)
    g = random_dag(rng, 1000, 10000, 10)

    def plan():
        h = g.with_penalty(g.penalty)
        h._cache = {}
        plan_as_used(h)

    plan_of(g)

    def fwd_grad():
        p = g.penalty.detach().requires_grad_(True)
        gtn.forward_penalty(g.with_penalty(p)).sum().backward()

    def vpath():
        gtn.viterbi_path(g)

    def vpen():
        gtn.viterbi_penalty(g)

    return {
        "nodes": g.num_nodes, "arcs": g.num_arcs, "levels": int(plan_of(g).bounds.size - 1),
        "plan_ms": timed(plan, repeats),
        "fwd_grad_ms": timed(fwd_grad, repeats),
        "viterbi_path_ms": timed(vpath, repeats),
        "viterbi_penalty_ms": timed(vpen, repeats),
        "plan_numpy_ms": numpy_timed(plan, repeats),
        "fwd_grad_numpy_ms": numpy_timed(fwd_grad, repeats),
        "viterbi_path_numpy_ms": numpy_timed(vpath, repeats),
        "viterbi_penalty_numpy_ms": numpy_timed(vpen, repeats),
    }


def plan_as_used(g: gtn.Graph) -> None:
    """Build the scoring plan of ``g`` with what the active path needs (numpy: the per-level slices)."""
    plan = plan_of(g)
    if _backend.KERNEL is None:
        plan.levels


def numpy_timed(fn, repeats: int) -> float:
    """``timed(fn)`` on the numpy level path of gtn.scoring."""
    with numpy_scoring():
        return timed(fn, repeats)


def case_compose(repeats: int) -> dict:
    rng = np.random.default_rng(1)
    a, b = random_dag(rng, 100, 1000, 10), random_dag(rng, 100, 1000, 10)
    c, _ = gtn.compose(a, b)
    return {"a": f"{a.num_nodes} nodes {a.num_arcs} arcs", "b": f"{b.num_nodes} nodes {b.num_arcs} arcs",
            "result_nodes": c.num_nodes, "result_arcs": c.num_arcs,
            "compose_ms": timed(lambda: gtn.compose(a, b), repeats),
            "compose_numpy_ms": numpy_timed(lambda: gtn.compose(a, b), repeats)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (ctc_loss); numpy ops are single-threaded")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    res = {
        "machine": {"python": sys.version.split()[0], "torch": torch.__version__, "numpy": np.__version__,
                    "cpus": os.cpu_count(), "torch_threads": args.threads, "platform": platform.platform(),
                    "load_average_at_start": os.getloadavg()},
        "repeats": args.repeats,
        "scoring_backend": scoring.backend(),
        "ctc": case_ctc(args.repeats),
        "dag": case_dag(args.repeats),
        "compose": case_compose(max(5, args.repeats // 3)),
        "reference_ms": REFERENCE,
    }
    res["machine"]["load_average_at_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(res, indent=2))
    os.replace(tmp, args.out)
    print(table(res))
    return 0


def table(res: dict) -> str:
    c, d, m, r = res["ctc"], res["dag"], res["compose"], res["reference_ms"]
    rows = [
        ("(i) CTC 64x(T=100,C=11) o 5-label CTC: forward + grad (plan cached)", c["fwd_grad_ms"],
         f"gtn C++ {r['ctc_fwd_grad_gtn_cpp_1thread']:g}", c["fwd_grad_numpy_ms"]),
        ("(i) ... scoring plan (levels, index arrays), once per structure", c["plan_ms"], "", c["plan_numpy_ms"]),
        ("(i) ... compose frame graphs with CTC graphs", c["compose_ms"], "", c["compose_numpy_ms"]),
        ("(i) ... whole pipeline from log-probs (frame graph, compose, plan, fwd, grad)", c["pipeline_ms"], "",
         c["pipeline_numpy_ms"]),
        ("(i) torch.nn.functional.ctc_loss forward + grad (same run)", c["ctc_loss_ms"],
         f"ctc_loss {r['ctc_loss_1thread']:g}"),
        (f"(ii) random DAG {d['nodes']} nodes {d['arcs']} arcs ({d['levels']} levels): forward + grad",
         d["fwd_grad_ms"], f"gtn C++ {r['dag_fwd_grad_gtn_cpp']:g}", d["fwd_grad_numpy_ms"]),
        ("(ii) ... Viterbi path", d["viterbi_path_ms"], f"gtn C++ {r['dag_viterbi_path_gtn_cpp']:g}",
         d["viterbi_path_numpy_ms"]),
        ("(ii) ... Viterbi penalty", d["viterbi_penalty_ms"], "", d["viterbi_penalty_numpy_ms"]),
        ("(ii) ... scoring plan, once per structure", d["plan_ms"], "", d["plan_numpy_ms"]),
        (f"(iii) compose two random DAGs ~100 states ~1000 arcs, 10 labels (-> {m['result_arcs']} arcs)",
         m["compose_ms"], f"gtn C++ {r['compose_gtn_cpp']:g}, OpenFst {r['compose_openfst_pynini']:g}",
         m["compose_numpy_ms"]),
    ]
    rows = [row if len(row) == 4 else (*row, None) for row in rows]
    lines = [f"| case | this library ({res['scoring_backend']} path, median ms) | same run, numpy path "
             "| reference (issue, ms) |", "|---|---:|---:|---|"]
    lines += [f"| {name} | {ms:.2f} | {'' if alt is None else f'{alt:.2f}'} | {ref} |" for name, ms, ref, alt in rows]
    lines.append(f"\n(torch threads: {res['machine']['torch_threads']}, load average at start "
                 f"{res['machine']['load_average_at_start'][0]:.2f} on {res['machine']['cpus']} cores)")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
