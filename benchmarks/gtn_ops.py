"""Benchmark the gtn core; writes benchmarks/results/gtn_ops.json and prints a Markdown table.

Every row is a median of repeated runs in one process, milliseconds. Rows of ours run on the compiled
kernel (gtn._kernels) and again, in the same run, on the numpy reference path; the CTC rows run
``torch.nn.functional.ctc_loss`` on the same log-probs in the same run, so the ratio compares like
with like (the same work from log-probs to gradient).

Cases (issue 17):
  ctc      64 frame graphs (T=100, C=11) and 5-label CTC targets. "whole step": build the frame graphs
           and the CTC graphs (gtn.ctc_graphs), compose, forward penalty, backward to the log-probs.
           "Viterbi decode": build, compose, best path (a forced alignment). Also with 2 threads
           (gtn.set_num_threads(2) for ours, torch.set_num_threads(2) for ctc_loss).
  ctc_big  the whole step at B=256, T=400.
  dag      forward + gradient and Viterbi on a random DAG, 1,000 nodes, 10,000 arcs.
  compose  two random acyclic graphs, ~100 states and ~1,000 arcs each, 10 labels.
  openfst  two random cyclic transducers, 100 states, 1,000 arcs, 10 labels, 5 final states each
           (OpenFst-style workload; the result is cyclic: composition only).

Usage: python benchmarks/gtn_ops.py [--repeats 30] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from contextlib import contextmanager
from pathlib import Path

import _bench
import numpy as np
import torch
from _bench import timed

import gtn
import gtn.scoring as scoring
from gtn import _backend
from gtn.scoring import plan_of

RESULTS = Path(__file__).resolve().parent / "results" / "gtn_ops.json"
REFERENCE = {  # from issues 4 and 17: facebookresearch/gtn (C++) on this machine class, not this run
    "ctc_whole_step_gtn_cpp": 30.5, "ctc_compose_gtn_cpp": 22.0, "ctc_viterbi_decode_gtn_cpp": 36.0,
    "ctc_big_whole_step_gtn_cpp": 725.0, "ctc_fwd_grad_gtn_cpp": 8.6,
    "dag_fwd_grad_gtn_cpp": 0.26, "dag_viterbi_path_gtn_cpp": 0.10,
    "compose_gtn_cpp": 13.0, "compose_openfst_pynini": 12.0,
}


@contextmanager
def numpy_path():
    """Run gtn on its numpy reference path inside the block."""
    kernel, _backend.KERNEL = _backend.KERNEL, None
    try:
        yield
    finally:
        _backend.KERNEL = kernel


@contextmanager
def threads(*, torch_threads: int, gtn_threads: int):
    old = torch.get_num_threads(), gtn.get_num_threads()
    torch.set_num_threads(torch_threads)
    gtn.set_num_threads(gtn_threads)
    try:
        yield
    finally:
        torch.set_num_threads(old[0])
        gtn.set_num_threads(old[1])


def both(fn, repeats: int, numpy_repeats: int | None = None) -> tuple[float, float]:
    """``(kernel ms, numpy ms)`` of ``fn`` in this run."""
    c = timed(fn, repeats)
    with numpy_path():
        n = timed(fn, numpy_repeats or repeats, warmup=1)
    return c, n


def ctc_problem(B: int, T: int, C: int, L: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    lp = torch.randn(T, B, C, generator=g).log_softmax(-1)
    targets = torch.randint(1, C, (B, L), generator=g)
    return lp, targets


def ctc_rows(B: int, T: int, C: int, L: int, repeats: int, *, numpy_repeats: int, extras: bool) -> dict:
    lp, targets = ctc_problem(B, T, C, L)
    in_len, tgt_len = torch.full((B,), T), torch.full((B,), L)

    def step():  # everything from log-probs: build, compose, forward, backward
        x = lp.clone().requires_grad_(True)
        c, _ = gtn.compose(gtn.frame_graph(-x.transpose(0, 1)), gtn.ctc_graphs(targets))
        gtn.forward_penalty(c).sum().backward()

    def ref():
        x = lp.clone().requires_grad_(True)
        torch.nn.functional.ctc_loss(x, targets, in_len, tgt_len, reduction="none").sum().backward()

    x = lp.clone().requires_grad_(True)
    composed, _ = gtn.compose(gtn.frame_graph(-x.transpose(0, 1)), gtn.ctc_graphs(targets))
    mine = gtn.forward_penalty(composed)
    theirs = torch.nn.functional.ctc_loss(lp, targets, in_len, tgt_len, reduction="none")
    out = {"shape": f"B={B} T={T} C={C} L={L}", "composed_nodes": composed.num_nodes,
           "composed_arcs": composed.num_arcs,
           "max_abs_loss_diff_vs_ctc_loss": float((mine - theirs).detach().abs().max())}
    out["whole_step_ms"], out["whole_step_numpy_ms"] = both(step, repeats, numpy_repeats)
    out["ctc_loss_ms"] = timed(ref, repeats)
    out["ratio_to_ctc_loss"] = out["whole_step_ms"] / out["ctc_loss_ms"]
    if not extras:
        return out

    def build():
        gtn.frame_graph(-lp.transpose(0, 1)), gtn.ctc_graphs(targets)

    frames, ctc = gtn.frame_graph(-lp.transpose(0, 1)), gtn.ctc_graphs(targets)

    def compose():
        gtn.compose(frames, ctc)

    plan_of(composed)

    def fwd_grad():  # structure (and plan) reused
        p = composed.penalty.detach().requires_grad_(True)
        gtn.forward_penalty(composed.with_penalty(p)).sum().backward()

    def viterbi():  # decode from log-probs: build, compose, best path
        c, _ = gtn.compose(gtn.frame_graph(-lp.transpose(0, 1)), gtn.ctc_graphs(targets))
        gtn.viterbi_path(c)

    out["build_ms"], out["build_numpy_ms"] = both(build, repeats)
    out["compose_ms"], out["compose_numpy_ms"] = both(compose, repeats, numpy_repeats)
    out["fwd_grad_ms"] = timed(fwd_grad, repeats)
    out["viterbi_decode_ms"], out["viterbi_decode_numpy_ms"] = both(viterbi, repeats, numpy_repeats)
    # 2 threads each: gtn's kernel (torch kept at 1 thread: its spinning OpenMP workers would compete
    # with the kernel's threads) and ctc_loss (torch at 2 threads)
    with threads(torch_threads=1, gtn_threads=2):
        out["whole_step_2threads_ms"] = timed(step, repeats)
    with threads(torch_threads=2, gtn_threads=1):
        out["ctc_loss_2threads_ms"] = timed(ref, repeats)
    out["ratio_to_ctc_loss_2threads"] = out["whole_step_2threads_ms"] / out["ctc_loss_2threads_ms"]
    return out


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


def random_cyclic_transducer(rng, n: int, a: int, labels: int, finals: int) -> gtn.Graph:
    """Random arcs between any two of ``n`` states (cycles, self-loops), ``finals`` final states."""
    src, dst = rng.integers(0, n, a), rng.integers(0, n, a)
    src[: n - 1], dst[: n - 1] = np.arange(n - 1), np.arange(1, n)  # a chain: every state reachable
    il, ol = rng.integers(0, labels, a), rng.integers(0, labels, a)
    pen = torch.from_numpy(rng.normal(size=a).astype(np.float32))
    fin = rng.choice(n, finals, replace=False).tolist()
    return gtn.Graph(src, dst, il, ol, pen, num_nodes=n, final=fin, acyclic=False)


def case_dag(repeats: int) -> dict:
    g = random_dag(np.random.default_rng(0), 1000, 10000, 10)

    def plan():
        h = g.with_penalty(g.penalty)
        h._cache = {}
        p = plan_of(h)
        if _backend.KERNEL is None or not p.fast():
            p.levels

    def fwd_grad():
        p = g.penalty.detach().requires_grad_(True)
        gtn.forward_penalty(g.with_penalty(p)).sum().backward()

    plan_of(g)
    out = {"nodes": g.num_nodes, "arcs": g.num_arcs}
    out["fwd_grad_ms"], out["fwd_grad_numpy_ms"] = both(fwd_grad, repeats)
    out["viterbi_path_ms"], out["viterbi_path_numpy_ms"] = both(lambda: gtn.viterbi_path(g), repeats)
    out["plan_ms"], out["plan_numpy_ms"] = both(plan, repeats)
    return out


def case_compose(repeats: int) -> dict:
    rng = np.random.default_rng(1)
    a, b = random_dag(rng, 100, 1000, 10), random_dag(rng, 100, 1000, 10)
    c, _ = gtn.compose(a, b)
    out = {"a": f"{a.num_nodes} nodes {a.num_arcs} arcs", "result_arcs": c.num_arcs}
    out["compose_ms"], out["compose_numpy_ms"] = both(lambda: gtn.compose(a, b), repeats)
    return out


def case_openfst(repeats: int) -> dict:
    rng = np.random.default_rng(2)
    a = random_cyclic_transducer(rng, 100, 1000, 10, 5)
    b = random_cyclic_transducer(rng, 100, 1000, 10, 5)
    c, _ = gtn.compose(a, b)
    out = {"a": "100 states 1000 arcs 10 labels 5 finals, cyclic", "result_nodes": c.num_nodes,
           "result_arcs": c.num_arcs, "result_acyclic": c.acyclic}
    out["compose_ms"], out["compose_numpy_ms"] = both(lambda: gtn.compose(a, b), repeats, max(3, repeats // 5))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--quick", action="store_true", help="few repeats (a smoke run; not for the README)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    reps = 3 if args.quick else args.repeats
    torch.set_num_threads(1)
    res = {
        "machine": {"python": sys.version.split()[0], "torch": torch.__version__, "numpy": np.__version__,
                    "cpus": os.cpu_count(), "torch_threads": 1, "platform": platform.platform(),
                    "load_average_at_start": os.getloadavg()},
        "repeats": reps,
        "scoring_backend": scoring.backend(),
        "ctc": ctc_rows(64, 100, 11, 5, reps, numpy_repeats=max(3, reps // 3), extras=True),
        "ctc_big": ctc_rows(256, 400, 11, 5, max(3, reps // 4), numpy_repeats=2, extras=False),
        "dag": case_dag(reps),
        "compose": case_compose(max(5, reps // 3)),
        "openfst": case_openfst(max(5, reps // 3)),
        "reference_ms": REFERENCE,
    }
    res["machine"]["load_average_at_end"] = os.getloadavg()
    _bench.write_json(args.out, res)
    print(table(res))
    return 0


def table(res: dict) -> str:
    """The README table: ours (kernel), the numpy path and ctc_loss of the same run, the C++ reference."""
    c, big, d, m, o, r = res["ctc"], res["ctc_big"], res["dag"], res["compose"], res["openfst"], res["reference_ms"]
    rows = [
        ("64x100 CTC, whole step (build graphs, compose, forward, backward)", c["whole_step_ms"],
         c["whole_step_numpy_ms"], f"{c['ctc_loss_ms']:.2f} ({c['ratio_to_ctc_loss']:.1f}x)",
         r["ctc_whole_step_gtn_cpp"]),
        ("... same, 2 threads (`gtn.set_num_threads(2)`; `ctc_loss` with 2 torch threads)", c["whole_step_2threads_ms"], None,
         f"{c['ctc_loss_2threads_ms']:.2f} ({c['ratio_to_ctc_loss_2threads']:.1f}x)", None),
        ("... of which: build the frame and CTC graphs", c["build_ms"], c["build_numpy_ms"], "", None),
        (f"... of which: compose ({c['composed_arcs']:,} arcs)", c["compose_ms"], c["compose_numpy_ms"], "",
         r["ctc_compose_gtn_cpp"]),
        ("... forward + gradient of a composed graph (structure reused)", c["fwd_grad_ms"], None, "",
         r["ctc_fwd_grad_gtn_cpp"]),
        ("64x100 Viterbi decode (build, compose, best path)", c["viterbi_decode_ms"], c["viterbi_decode_numpy_ms"],
         "", r["ctc_viterbi_decode_gtn_cpp"]),
        ("256x400 CTC, whole step", big["whole_step_ms"], big["whole_step_numpy_ms"],
         f"{big['ctc_loss_ms']:.1f} ({big['ratio_to_ctc_loss']:.1f}x)", r["ctc_big_whole_step_gtn_cpp"]),
        (f"random DAG {d['nodes']:,} nodes {d['arcs']:,} arcs: forward + gradient", d["fwd_grad_ms"],
         d["fwd_grad_numpy_ms"], "", r["dag_fwd_grad_gtn_cpp"]),
        ("... Viterbi path", d["viterbi_path_ms"], d["viterbi_path_numpy_ms"], "", r["dag_viterbi_path_gtn_cpp"]),
        ("compose two random DAGs (100 states, 1,000 arcs, 10 labels)", m["compose_ms"], m["compose_numpy_ms"], "",
         r["compose_gtn_cpp"]),
        (f"compose two random cyclic transducers (100 states, 1,000 arcs, 5 finals; {o['result_arcs']:,} arcs)",
         o["compose_ms"], o["compose_numpy_ms"], "", None),
    ]
    lines = ["| case | gtn, C kernel | gtn, numpy path | `ctc_loss` (ratio) | C++ gtn (issue) |",
             "|---|---:|---:|---:|---:|"]
    for name, ms, alt, ref, cpp in rows:
        lines.append(f"| {name} | {ms:.2f} | {'' if alt is None else f'{alt:.2f}'} | {ref} | "
                     f"{'' if cpp is None else f'{cpp:g}'} |")
    lines.append(f"\n(ms, medians, 1 thread unless said; same run except the last column; load average "
                 f"{res['machine']['load_average_at_start'][0]:.2f} on {res['machine']['cpus']} cores at start)")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
