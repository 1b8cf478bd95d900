"""The README's headline results table, generated from the benchmark JSON in benchmarks/results/.

Writes the table between the ``<!-- headline:start -->`` and ``<!-- headline:end -->`` markers of
README.md; ``--check`` only compares (exit 1 when the README is stale; the test suite runs it). Every
figure comes from a JSON that a benchmark script wrote; nothing here is typed in.

Usage: python benchmarks/headline.py [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
START, END = "<!-- headline:start -->", "<!-- headline:end -->"
SYSTEMS = [("seg", "bundled", "seg, LeNet-5"), ("seg", "modern", "seg, modern CNN"),
           ("sdnn", "bundled", "SDNN, LeNet-5"), ("sdnn", "strip", "SDNN, StripNet"),
           ("combo", "bundled", "combo")]
CONDITIONS = [("zip5-normal", "zip codes"), ("zip5-touching", "touching zip codes"),
              ("amount-normal", "amounts")]
REAL = [("seg (LeNet-5)", "seg, LeNet-5"), ("seg-modern", "seg, modern CNN"), ("sdnn (LeNet-5)", "SDNN, LeNet-5"),
        ("sdnn-strip", "SDNN, StripNet"), ("combo", "combo")]


def load(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f}%"


def mnist_rows() -> list[str]:
    rows = []
    for m in load("mnist")["models"]:
        paper = "" if m["paper_error_pct"] is None else f" (paper {m['paper_error_pct']:g}%)"
        rows.append(f"| MNIST test error, {m['label']} | {m['test_error_pct']:.2f}%{paper} |")
    return rows


def strings_rows() -> list[str]:
    res = load("strings")["results"]
    by = {(r["system"], r["variant"], r["condition"]): r for r in res}
    rows = []
    for cond, title in CONDITIONS:
        cells = [f"{label} {pct(by[(s, v, cond)]['string_accuracy'])}" for s, v, label in SYSTEMS
                 if (s, v, cond) in by]
        n = next((by[(s, v, cond)]["fields"] for s, v, _ in SYSTEMS if (s, v, cond) in by), 0)
        rows.append(f"| synthetic {title} (MNIST test digits, {n} strings): string accuracy | {'; '.join(cells)} |")
    return rows


def real_rows() -> list[str]:
    res = load("real_fields")
    rows = []
    for split, title in (("orand-val", "real cheque amounts (ORAND-CAR-A ids 800-999)"),
                         ("usps-zip", "zip codes of held-back USPS digits")):
        cells = []
        for key, label in REAL:
            before, after = res.get(f"before/{key}"), res.get(f"after/{key}")
            if before and after:
                cells.append(f"{label} {pct(before[split]['string_accuracy'])} -> "
                             f"{pct(after[split]['string_accuracy'])}")
        rows.append(f"| {title}: digit-string accuracy, MNIST-built -> real-trained weights | {'; '.join(cells)} |")
    combo = res["after/combo"]["orand-val"]
    rows.append(f"| real cheque amounts, combo: accuracy at 1% error (rejecting the rest) | "
                f"{pct(combo['accuracy_at_1pct'])} ({pct(combo['error_at_1pct'])} error) |")
    return rows


def gtn_rows() -> list[str]:
    c, big = load("gtn_ops")["ctc"], load("gtn_ops")["ctc_big"]
    return [f"| gtn, one CTC training step from log-probs (build, compose, forward, backward), 64x100 / 256x400 | "
            f"{c['whole_step_ms']:.1f} / {big['whole_step_ms']:.0f} ms = {c['ratio_to_ctc_loss']:.1f}x / "
            f"{big['ratio_to_ctc_loss']:.1f}x `ctc_loss` in the same run |"]


def table() -> str:
    lines = ["| what | measured |", "|---|---|"]
    lines += mnist_rows() + strings_rows() + real_rows() + gtn_rows()
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check that README.md is up to date")
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md")
    args = ap.parse_args(argv)
    text = args.readme.read_text()
    if START not in text or END not in text:
        print(f"benchmarks/headline.py: {args.readme} has no {START} ... {END} markers", file=sys.stderr)
        return 2
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{table()}\n{END}{tail}"
    if args.check:
        if new != text:
            print(f"benchmarks/headline.py: {args.readme}'s headline table is stale; run python benchmarks/headline.py",
                  file=sys.stderr)
            return 1
        return 0
    args.readme.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
