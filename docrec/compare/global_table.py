"""``docrec compare global``: the paper's Sec. IX table, string error with local training only against
local + global training, on generated and on real fields, measured with the same harness.

Rows are pairs "local only" / "+ global (criterion)" of one recogniser. A row is *measured* when its
weights exist (bundled, or trained in ``--global-work`` by the command the row names), *recorded*
when only a benchmark's JSON holds its number (the real-field variants of
``benchmarks/seg_real_training.py``, whose weights are not bundled: shown with a Wilson interval,
no paired test), and *not available* otherwise (said so, never filled in). Each "+ global" row is
tested against its local row on the same fields (exact McNemar). Results keep whatever sign they
have. Writes ``OUT/global.md``, ``OUT/global.json``, ``OUT/global.png`` and the full comparison
of the measured rows under ``OUT/study/``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from docrec.compare import stats

REPO = Path(__file__).resolve().parents[2]
RECORDED_REAL = REPO / "benchmarks" / "results" / "seg_real_training.json"
SHARED_ORAND = REPO.parent / "shared" / "data" / "orand_car_a"
#: generator conditions (the same seeds as the committed field study) and the real validation split
SYNTH_SETS = ("kind=zip,spacing=normal,n={n},seed=12", "kind=zip,spacing=touching,n={n},seed=13",
              "kind=amount,spacing=normal,n={n},seed=14")
GLOBAL_CMD = "python benchmarks/seg_global_criteria.py --work {work}"
#: the modern-CNN global variants: row label, criterion (docrec.training.seg_global.CRITERIA), training text
MODERN_GLOBAL = (("m-fwd", "forward", "+ global, discriminative forward"),
                 ("m-vit", "viterbi", "+ global, discriminative Viterbi"),
                 ("m-fwd-nd", "forward-nd", "+ global, forward (non-discriminative)"),
                 ("m-vit-nd", "viterbi-nd", "+ global, Viterbi (non-discriminative)"))


@dataclass
class Row:
    """One line of the table: ``group`` (the recogniser), ``training``, ``system`` and ``weights``
    (None: not measurable here), ``local`` (label of the local-only row it is compared with),
    ``recorded`` (benchmark key of a recorded number), ``note``, ``history`` (validation string
    accuracy per training epoch, epoch 0 = before global training, when the run recorded it)."""

    label: str
    group: str
    training: str
    system: str | None = None
    weights: str | None = None
    local: str | None = None
    recorded: str | None = None
    note: str = ""
    history: list[float] | None = None


def rows(work: Path) -> list[Row]:
    """The table's rows; the modern-CNN global variants are read from ``work``."""
    modern_global = []
    for label, criterion, training in MODERN_GLOBAL:
        ckpt = work / f"global-{criterion}.pt"
        modern_global.append(Row(label, "seg, modern CNN (synthetic)", training, "seg",
                                 str(ckpt) if ckpt.is_file() else None, local="m-local",
                                 note=f"{criterion}, trained by `{GLOBAL_CMD.format(work=work)}`",
                                 history=_history(work / f"global-{criterion}.json")))
    return [
        Row("l5-local", "seg, LeNet-5 (synthetic)", "local only", note=(
            "its checkpoint (runs/seg5/local.pt) is not bundled and the pieces + local stages "
            "take about an hour (README, segmentation system)")),
        Row("l5-global", "seg, LeNet-5 (synthetic)", "local + global, discriminative forward", "seg", "seg-lenet5",
            local="l5-local", note="bundled `seg-lenet5` (its card: local, then global on 4,000 strings)"),
        Row("m-local", "seg, modern CNN (synthetic)", "local only", "seg", "seg-modern",
            note="bundled `seg-modern` (no global stage)"),
        *modern_global,
        Row("r-local", "seg, LeNet-5 (real cheques)", "local (real boxes + synthetic pieces)", recorded="local",
            note="benchmarks/seg_real_training.py; weights not bundled"),
        Row("r-global", "seg, LeNet-5 (real cheques)", "global only (labels), discriminative forward",
            recorded="global", note="the same benchmark; weights not bundled"),
        Row("r-both", "seg, LeNet-5 (real cheques)", "local, then global (labels), discriminative forward",
            recorded="both", note="the same benchmark; weights not bundled"),
        Row("r-joint", "seg, LeNet-5 (real cheques)", "local, then global + local loss (joint)", "seg",
            "seg-lenet5-real", note="bundled `seg-lenet5-real` (recorded as 'joint' too)"),
        Row("s-way1", "SDNN, LeNet-5 (synthetic)", "way 1: local (centred-character windows)", "sdnn", "sdnn-way1",
            note="bundled `sdnn-way1`"),
        Row("s-way2", "SDNN, LeNet-5 (synthetic)", "way 2: + global, discriminative forward (with way 1's loss)",
            "sdnn", "sdnn-way2", local="s-way1", note="bundled `sdnn-way2` (last epoch)"),
    ]


def _history(path: Path) -> list[float] | None:
    """Validation string accuracy per epoch of a global-training run record, if there is one."""
    try:
        return [float(h["val_string_accuracy"]) for h in json.loads(path.read_text())["history"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _recorded(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text())
        return {"fields": int(doc["val_fields"]), "ids": doc.get("val_ids"),
                "accuracy": {k: float(v["val_digit_string_accuracy"]) for k, v in doc["variants"].items()}}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _cell_from_counts(k: int, n: int) -> dict:
    lo, hi = stats.wilson(n - k, n)
    return {"error": (n - k) / n, "error_ci": [lo, hi], "correct": k, "fields": n}


def build_table(table_rows: list[Row], doc: dict | None, recorded: dict, *, real_set: str | None) -> dict:
    """``{"sets": [...], "rows": [...]}``: per row and set the string error with its interval, and
    for "+ global" rows the change against the local row and its McNemar p-value."""
    sets = [s["name"] for s in doc["sets"]] if doc else ([real_set] if real_set else [])
    out_rows = []
    for r in table_rows:
        entry = {"label": r.label, "group": r.group, "training": r.training, "weights": r.weights,
                 "note": r.note, "val_history": r.history, "status": "measured" if r.weights and doc else
                 ("recorded" if r.recorded and recorded else "not available"), "cells": {}}
        for s in sets:
            if entry["status"] == "measured":
                m = doc["results"][s][r.label]
                entry["cells"][s] = _cell_from_counts(m["correct"], m["fields"])
                local = next((x for x in table_rows if x.label == r.local), None)
                if local is not None and local.weights:
                    a = np.array(doc["results"][s][local.label]["right"], bool)
                    b = np.array(m["right"], bool)
                    entry["cells"][s]["vs_local"] = {"change": float(a.mean() - b.mean()),  # error change
                                                     **stats.agreement(a, b)}
            elif entry["status"] == "recorded" and s == real_set and r.recorded in recorded["accuracy"]:
                n = recorded["fields"]
                entry["cells"][s] = _cell_from_counts(round(recorded["accuracy"][r.recorded] * n), n)
        out_rows.append(entry)
    return {"sets": sets, "rows": out_rows}


def render(table: dict, *, command=None) -> str:
    """Markdown of the table (error %, 95% Wilson; change against the local row, McNemar p)."""
    sets = table["sets"]
    out = ["# docrec compare global: local against local + global training (the paper's Sec. IX)", ""]
    if command:
        out += ["```", " ".join(command), "```", ""]
    out += ["String error % [95% Wilson] on each set; under a '+ global' row, the change of error against its "
            "local row on the same fields and the exact McNemar p-value. The paper (docs/paper.md Sec. IX): "
            "on-line words 4.6% -> 3.2% with global training (heuristic segmentation, lexicon), SDNN/HMM 38% -> 26%.",
            "Validation: string accuracy on the trainer's 300 validation strings (MNIST training digits "
            "55,000-59,999, all spacings) after each epoch, epoch 0 = before global training; the trainer keeps "
            "the best epoch (the first of equals), so a criterion that only hurts leaves the local weights.",
            "", "| recogniser | training | " + " | ".join(sets) + " | validation by epoch (kept) | source |",
            "|---|---|" + "---|" * len(sets) + "---|---|"]
    for r in table["rows"]:
        cells = []
        for s in sets:
            c = r["cells"].get(s)
            if c is None:
                cells.append("-")
                continue
            text = f"{100 * c['error']:.1f}% [{100 * c['error_ci'][0]:.1f}, {100 * c['error_ci'][1]:.1f}]"
            if "vs_local" in c:
                v = c["vs_local"]
                p = "<0.001" if v["mcnemar_p"] < 0.001 else f"{v['mcnemar_p']:.3f}"
                text += f" ({100 * v['change']:+.1f}, p {p})"
            cells.append(text)
        hist = r.get("val_history")
        kept = f" ({int(np.argmax(hist))})" if hist else ""
        val = " / ".join(f"{100 * v:.1f}" for v in hist) + kept if hist else "-"
        out.append(f"| {r['group']} | {r['training']} | " + " | ".join(cells)
                   + f" | {val} | {r['status']}: {r['note']} |")
    out += ["", "![string error](global.png)", ""]
    return "\n".join(out)


def chart(table: dict, path: Path) -> Path:
    """Grouped bars of string error per row and set, with Wilson intervals (rows with numbers only)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [r for r in table["rows"] if r["cells"]]
    sets = table["sets"]
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(shown) * max(1, len(sets)) / 2 + 1.5))
    height = 0.8 / max(len(sets), 1)
    for j, s in enumerate(sets):
        ys, vals, lo, hi = [], [], [], []
        for i, r in enumerate(shown):
            c = r["cells"].get(s)
            if c is None:
                continue
            ys.append(len(shown) - 1 - i + (j - (len(sets) - 1) / 2) * height)
            vals.append(100 * c["error"])
            lo.append(100 * (c["error"] - c["error_ci"][0]))
            hi.append(100 * (c["error_ci"][1] - c["error"]))
        ax.barh(ys, vals, height, xerr=[lo, hi], capsize=2, label=s)
    ax.set_yticks(range(len(shown)))
    ax.set_yticklabels([f"{r['group']}: {r['training']}" for r in shown][::-1], fontsize=7)
    ax.set_xlabel("string error % (95% Wilson)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=85)
    plt.close(fig)
    return path


def run_global(*, out: Path, count: int = 200, orand: Path | None = None, work: Path | None = None,
               mnist_dir=None, batch: int = 16, progress: bool = True, command=None, log=None) -> dict:
    """Measure the rows that have weights on the generator conditions and the real validation split
    (ORAND ids 800-999, when the folder exists), and write the table; returns its JSON document."""
    from docrec.compare.specs import SystemSpec, parse_folder, parse_synth
    from docrec.compare.study import StudyConfig, run_study, write_json

    out = Path(out)
    work = Path(work) if work is not None else Path("runs") / "global"
    orand = Path(orand or os.environ.get("DOCREC_ORAND_DIR") or SHARED_ORAND)
    table_rows = rows(work)
    sets = [parse_synth(s.format(n=count), score="auto") for s in SYNTH_SETS]
    real_set = None
    if (orand / "labels.csv").is_file():
        real = parse_folder(f"{orand}:ids=800-999,grammar=amount,score=digits,name=orand-val",
                            grammar="amount", score="digits")
        sets.append(real)
        real_set = real.name
    elif log:
        log(f"global: no real field folder at {orand} (--orand): real column left out")
    systems = [SystemSpec(label=r.label, system=r.system, weights=r.weights) for r in table_rows if r.weights]
    doc = run_study(StudyConfig(systems=systems, sets=sets, out=out / "study", gallery=0, progress=progress,
                                mnist_dir=mnist_dir, batch=batch, command=command or []), log=log)
    table = build_table(table_rows, doc, _recorded(RECORDED_REAL), real_set=real_set)
    table.update(schema="docrec-compare-global/1", command=command or [], work=str(work),
                 recorded_from=str(RECORDED_REAL.relative_to(REPO)) if RECORDED_REAL.is_file() else None)
    chart(table, out / "global.png")
    write_json(out / "global.json", table)
    (out / "global.md").write_text(render(table, command=command))
    return table


__all__ = ["Row", "build_table", "chart", "render", "rows", "run_global"]
