"""PNG figures of a comparison, drawn from the ``results.json`` document alone (matplotlib, Agg).

Each function takes the document and an output path and returns the path, or None when the
document has nothing to draw (e.g. no synthetic set for the spacing plot). Figures are small
(about 100 dpi) so a committed study stays light.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DPI = 90
#: The paper's cheque-amount reader at its operating point (docs/paper.md Sec. X), in percent.
PAPER_CHEQUES = {"rejected": 17.0, "error": 1.0}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _labels(doc: dict) -> list[str]:
    return [s["label"] for s in doc["systems"]]


def _panels(n: int, *, width: float = 3.8, height: float = 3.2):
    """A figure with ``n`` panels, at most three a row; returns ``(fig, list of n axes)``."""
    plt = _plt()
    cols = min(3, max(n, 1))
    rows = -(-max(n, 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    _plt().close(fig)
    return path


def _bars(ax, doc: dict, key: str, ci_key: str, ylabel: str) -> None:
    labels = _labels(doc)
    sets = [s["name"] for s in doc["sets"]]
    width = 0.8 / max(len(labels), 1)
    for j, label in enumerate(labels):
        vals = np.array([100 * doc["results"][s][label][key] for s in sets])
        ci = np.array([[100 * v for v in doc["results"][s][label][ci_key]] for s in sets])
        err = np.stack([vals - ci[:, 0], ci[:, 1] - vals]).clip(min=0)
        ax.bar(np.arange(len(sets)) + (j - (len(labels) - 1) / 2) * width, vals, width, yerr=err, capsize=2,
               label=label)
    ax.set_xticks(range(len(sets)))
    ax.set_xticklabels(sets, rotation=15, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)


def accuracy_plot(doc: dict, path: Path) -> Path:
    """String accuracy (Wilson 95%) and CER (bootstrap 95%) per set, one bar per system."""
    plt = _plt()
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(11, 3.8))
    _bars(a0, doc, "accuracy", "accuracy_ci", "string accuracy % (95% Wilson)")
    _bars(a1, doc, "cer", "cer_ci", "character error rate % (95% bootstrap)")
    a0.legend(fontsize=7)
    return _save(fig, path)


def reject_plot(doc: dict, path: Path) -> Path:
    """Error against rejection rate per set, one line per system, the 1%-error point marked (and,
    on amount sets, the paper's cheque reader: 1% wrong at 17% rejected)."""
    sets = [s["name"] for s in doc["sets"]]
    grammars = {s["name"]: s["grammar"] for s in doc["sets"]}
    fig, axes = _panels(len(sets), height=3.4)
    for ax, s in zip(axes, sets):
        for label in _labels(doc):
            m = doc["results"][s][label]
            line, = ax.plot(100 * np.array(m["reject_curve"]["rejected"]),
                            100 * np.array(m["reject_curve"]["error"]), lw=1.2, label=label)
            op = m["at_1pct_in_sample"]
            ax.plot([100 * op["rejected"]], [100 * op["error"]], "o", color=line.get_color(), ms=5)
        ax.axhline(1.0, color="k", lw=0.8, ls="--")
        if grammars[s].split(":")[0] == "amount":  # the paper's cheque reader (docs/paper.md Sec. X)
            ax.plot([PAPER_CHEQUES["rejected"]], [PAPER_CHEQUES["error"]], "k*", ms=9,
                    label="the paper's cheque reader:\n82% read, 1% wrong, 17% rejected")
        ax.set_title(s, fontsize=9)
        ax.set_xlabel("rejected %")
        ax.set_ylabel("error % (of all fields)")
        ax.set_xlim(0, 100)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    handles = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5),
               title="dot: most fields read\nat <= 1% error", title_fontsize=7)
    return _save(fig, path)


def _line_with_ci(ax, xs, cells, label):
    from docrec.compare.stats import wilson

    acc = np.array([100 * k / n for k, n in cells])
    ci = np.array([[100 * v for v in wilson(k, n)] for k, n in cells])
    ax.errorbar(xs, acc, yerr=np.stack([acc - ci[:, 0], ci[:, 1] - acc]).clip(min=0), marker="o", ms=3,
                capsize=2, lw=1.2, label=label)


def _accuracy_axis(ax, title: str, xlabel: str) -> None:
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("string accuracy % (95% Wilson)")
    ax.grid(alpha=0.3)


def length_plot(doc: dict, path: Path, *, min_fields: int = 5) -> Path | None:
    """Accuracy against string length (digits), one panel per set with more than one length."""
    sets = [s["name"] for s in doc["sets"]
            if sum(1 for c in next(iter(doc["results"][s["name"]].values()))["by_length"].values()
                   if c[1] >= min_fields) > 1]
    if not sets:
        return None
    fig, axes = _panels(len(sets))
    for ax, s in zip(axes, sets):
        for label in _labels(doc):
            items = [(int(L), c) for L, c in doc["results"][s][label]["by_length"].items() if c[1] >= min_fields]
            _line_with_ci(ax, [L for L, _ in items], [c for _, c in items], label)
        _accuracy_axis(ax, f"{s} (lengths with >= {min_fields} fields)", "digits in the string")
    axes[0].legend(fontsize=7)
    return _save(fig, path)


def spacing_plot(doc: dict, path: Path) -> Path | None:
    """Accuracy against the generator's spacing preset, one panel per field kind read at two
    spacings or more (conditions of the same kind and spacing pooled)."""
    first = next(iter(doc["by_spacing"].values()), {})
    kinds = [k for k, cells in first.items() if len(cells) >= 2]
    if not kinds:
        return None
    fig, axes = _panels(len(kinds), width=5.0, height=3.4)
    for ax, kind in zip(axes, kinds):
        names = list(first[kind])
        for label, by_kind in doc["by_spacing"].items():
            cells = by_kind[kind]
            _line_with_ci(ax, range(len(names)), [(cells[n]["correct"], cells[n]["fields"]) for n in names], label)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names)
        _accuracy_axis(ax, f"kind={kind}", "spacing (wide ... overlapping)")
    axes[0].legend(fontsize=7)
    return _save(fig, path)


def speed_plot(doc: dict, path: Path) -> Path:
    """Fields per second (log scale) against string accuracy, one marker per set, one colour per system."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    markers = "osD^v<>pX*"
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, label in enumerate(_labels(doc)):
        for i, s in enumerate(doc["sets"]):
            m = doc["results"][s["name"]][label]
            if m["fields_per_s"] is None:
                continue
            ax.plot(m["fields_per_s"], 100 * m["accuracy"], markers[i % len(markers)],
                    color=colours[j % len(colours)], label=label if i == 0 else None)
    for i, s in enumerate(doc["sets"]):
        ax.plot([], [], markers[i % len(markers)], color="grey", label=s["name"])
    ax.set_xscale("log")
    ax.set_xlabel("fields per second (one process, log scale)")
    ax.set_ylabel("string accuracy %")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def draw_all(doc: dict, out: Path) -> dict[str, str]:
    """Every figure into ``out``; ``{figure: file name}`` of those drawn."""
    made = {
        "accuracy": accuracy_plot(doc, out / "accuracy.png"),
        "reject": reject_plot(doc, out / "reject.png"),
        "length": length_plot(doc, out / "length.png"),
        "spacing": spacing_plot(doc, out / "spacing.png"),
        "speed": speed_plot(doc, out / "speed.png"),
    }
    return {k: p.name for k, p in made.items() if p is not None}


__all__ = ["accuracy_plot", "draw_all", "length_plot", "reject_plot", "spacing_plot", "speed_plot"]
