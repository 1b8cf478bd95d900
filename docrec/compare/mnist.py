"""``docrec compare mnist``: the paper's Fig. 9 (MNIST test error of the classifiers of Sec. III-C)
as a bar chart, our bundled LeNet family measured beside the published errors.

Every model is measured on the 10,000 MNIST test digits (never trained or selected on them; see the
weight cards) with a Wilson 95% interval of its error. Classifiers of the paper that this project
does not build (linear, k-NN, SVM, ...) are drawn from docs/paper.md only, and marked so; a model of the
LeNet family whose weights are not bundled is listed as "not bundled", never given a number.
Measured errors are cached in ``OUT/cache/mnist-<model>-<weights digest>.json``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from docrec.compare.specs import SpecError
from docrec.compare.stats import wilson

#: (label, bundled weights name or None, the paper's test error % or None), in Fig. 9's spirit:
#: the LeNet family first, then the modern CNN (not in the paper).
LENET_ROWS = (
    ("LeNet-1", "lenet1", 1.7),
    ("LeNet-4", "lenet4", 1.1),
    ("Boosted LeNet-4, distorted", "boosted-lenet4", 0.7),
    ("LeNet-5", "lenet5", 0.95),
    ("LeNet-5, distorted", "lenet5-distorted", 0.8),
    ("modern CNN (not in the paper)", "modern", None),
)
#: Classifiers of docs/paper.md's table that this project does not build: published errors only.
PAPER_ONLY = (
    ("linear", 12.0), ("pairwise linear", 7.6), ("k-NN Euclidean", 5.0), ("40 PCA + quadratic", 3.3),
    ("RBF network", 3.6), ("MLP 300 hidden", 4.7), ("MLP 1000 hidden", 4.5), ("MLP 300-100", 3.05),
    ("MLP 1000-150", 2.95), ("tangent distance", 1.1), ("SVM poly 4", 1.1), ("V-SVM", 1.0),
)


def measure(name: str, x, y, *, cache_dir: Path, batch: int = 256, device: str | None = None) -> dict:
    """Test errors of the bundled model ``name`` on ``x (N, 1, 32, 32)``, ``y (N,)`` (cached); the
    network runs on ``device`` (None: the CPU)."""
    from docrec.commands.eval_mnist import evaluate
    from docrec.weights import load_model, resolve

    path = resolve(name)
    digest = hashlib.sha1(path.read_bytes()).hexdigest()[:12]
    cache = cache_dir / f"mnist-{name}-{digest}-{int(y.numel())}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    res = evaluate(load_model(path).to(device or "cpu"), x, y, batch=batch)
    n, k = int(y.numel()), int(res["wrong"].numel())
    out = {"errors": k, "digits": n, "error": k / n, "error_ci": list(wilson(k, n)),
           "digits_per_s": n / max(res["seconds"], 1e-9), "wrong": res["wrong"].tolist()}
    cache_dir.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(out) + "\n")
    return out


def chart(doc: dict, path: Path) -> Path:
    """Horizontal bars of test error (log scale): paper and ours side by side, paper-only rows grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = doc["rows"]
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(rows) + 1.2))
    ys = np.arange(len(rows))[::-1]
    for y, r in zip(ys, rows):
        if r["paper"] is not None:
            ax.barh(y + 0.18, r["paper"], 0.34, color="#999999" if r["weights"] is None else "#4c72b0")
        if r.get("measured"):
            m = r["measured"]
            err = 100 * m["error"]
            lo, hi = (100 * v for v in m["error_ci"])
            ax.barh(y - 0.18, err, 0.34, color="#dd8452", xerr=[[err - lo], [hi - err]], capsize=2)
            ax.text(hi * 1.05, y - 0.18, f"{err:.2f}", va="center", fontsize=7)
        elif r["weights"] is not None:
            ax.text(0.3, y - 0.18, "not bundled", va="center", fontsize=7, color="red")
        if r["paper"] is not None:
            ax.text(r["paper"] * 1.05, y + 0.18, f"{r['paper']:g}", va="center", fontsize=7, color="#333333")
    from matplotlib.patches import Patch

    handles = [Patch(color="#4c72b0", label="paper (docs/paper.md Sec. III-C)"),
               Patch(color="#999999", label="paper only, not built here"),
               Patch(color="#dd8452", label="ours, measured (95% Wilson)")]
    ax.set_yticks(ys)
    ax.set_yticklabels([r["label"] for r in rows], fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(0.2, 20)
    ax.set_xlabel("MNIST test error % (log scale)")
    ax.grid(axis="x", alpha=0.3, which="both")
    ax.legend(handles=handles, fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def render(doc: dict) -> str:
    """The Markdown report of the MNIST comparison."""
    out = ["# docrec compare mnist: the paper's Fig. 9", ""]
    if doc.get("command"):
        out += ["```", " ".join(doc["command"]), "```", ""]
    out += [f"Test error on the {doc['digits']:,} MNIST test digits, 95% Wilson intervals. Paper numbers from "
            "docs/paper.md (Sec. III-C); rows without weights here are the paper's only.", "",
            "| classifier | paper | ours [95% Wilson] | errors | weights | digits/s |", "|---|---|---|---|---|---|"]
    for r in doc["rows"]:
        paper = "-" if r["paper"] is None else f"{r['paper']:g}%"
        if r.get("measured"):
            m = r["measured"]
            ours = f"{100 * m['error']:.2f}% [{100 * m['error_ci'][0]:.2f}, {100 * m['error_ci'][1]:.2f}]"
            cells = [ours, str(m["errors"]), f"`{r['weights']}`", f"{m['digits_per_s']:,.0f}"]
        elif r["weights"] is not None:
            cells = ["not bundled: not measured", "-", f"`{r['weights']}` missing", "-"]
        else:
            cells = ["not built here", "-", "-", "-"]
        out.append(f"| {r['label']} | {paper} | " + " | ".join(cells) + " |")
    out += ["", f"![Fig. 9]({doc['plot']})", "",
            "An interval that contains the paper's number means this test set cannot tell the two apart; "
            "10,000 digits give about +-0.2 points at 1% error."]
    return "\n".join(out) + "\n"


def run_mnist(*, out: Path, models: list[str] | None = None, mnist_dir=None, command=None, log=None,
              device: str | None = None) -> dict:
    """Measure the LeNet rows (or ``models``: bundled names / checkpoints) and write
    ``OUT/mnist.md``, ``OUT/mnist.json`` and ``OUT/mnist.png``; returns the JSON document.

    Raises:
        ValueError: no MNIST test set.
        SpecError: a model of ``models`` that cannot be found or loaded (named).
    """
    from data import load_mnist, to_lenet_input
    from docrec.compare.study import write_json
    from docrec.weights import resolve

    import torch

    try:
        images, labels = load_mnist("test", root=mnist_dir)
    except (OSError, RuntimeError, ValueError) as exc:
        raise ValueError(f"MNIST test set not available (--mnist-dir or $DOCREC_MNIST_DIR): {exc}") from None
    x, y = to_lenet_input(images), torch.from_numpy(labels)
    rows = [{"label": lab, "weights": w, "paper": p} for lab, w, p in LENET_ROWS] if models is None else \
        [{"label": m, "weights": m, "paper": None} for m in models]
    out = Path(out)
    for r in rows:
        try:
            resolve(r["weights"])
        except FileNotFoundError:
            if models is not None:
                raise SpecError(f"--models {r['weights']!r}: neither a bundled model nor a file") from None
            r["measured"] = None
            continue
        if log:
            log(f"mnist: measuring {r['weights']}")
        try:
            r["measured"] = measure(r["weights"], x, y, cache_dir=out / "cache", device=device)
        except ValueError as exc:
            raise SpecError(f"--models {r['weights']!r}: {exc}") from None
    if models is None:
        rows += [{"label": lab, "weights": None, "paper": p} for lab, p in PAPER_ONLY]
    doc = {"schema": "docrec-compare-mnist/1", "command": command or [], "digits": int(y.numel()), "rows": rows,
           "plot": "mnist.png"}
    for r in doc["rows"]:
        if r.get("measured"):
            r["measured"] = {k: v for k, v in r["measured"].items() if k != "wrong"}
    chart(doc, out / "mnist.png")
    write_json(out / "mnist.json", doc)
    (out / "mnist.md").write_text(render(doc))
    return doc


__all__ = ["LENET_ROWS", "PAPER_ONLY", "chart", "measure", "render", "run_mnist"]
