"""``report.md`` of a comparison, written from the ``results.json`` document alone.

:func:`summary_table` is also what ``docrec compare table RESULTS.json`` prints, so a README table
is regenerated from the JSON rather than typed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from docrec.compare.specs import ALIASES

_START = re.compile(r"<!-- docrec compare --table (\S+) -->")
_END = "<!-- end docrec compare -->"

CRNN_NOTE = ("`crnn` is the SDNN recogniser with the whole-strip StripNet (`sdnn-strip`; `sdnn-strip-real` "
             "for real amounts): a conv trunk and a 2-layer BiLSTM trained from scratch with the CTC criterion "
             "(discriminative forward through the default character model, 'none' as the blank), i.e. a "
             "standard CRNN + CTC reader. The paper's SDNN (`sdnn`: LeNet-5 replicated over 32x32 windows, "
             "trained on centred-character windows) keeps its own row; see docs/compare.md.")


def _pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{100 * x:.{digits}f}%"


def _ci(lo: float, hi: float, digits: int = 1) -> str:
    return f"[{100 * lo:.{digits}f}, {100 * hi:.{digits}f}]"


def _p(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def summary_table(doc: dict) -> str:
    """One row per system, one column per set: accuracy [95% Wilson] / CER."""
    sets = [s["name"] for s in doc["sets"]]
    lines = ["| system | " + " | ".join(f"{s} ({doc['results'][s][doc['systems'][0]['label']]['fields']})"
                                         for s in sets) + " |",
             "|---|" + "---|" * len(sets)]
    for sys_ in doc["systems"]:
        cells = []
        for s in sets:
            m = doc["results"][s][sys_["label"]]
            cells.append(f"{_pct(m['accuracy'])} {_ci(*m['accuracy_ci'])} / CER {_pct(m['cer'])}")
        lines.append(f"| {sys_['label']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fill_tables(text: str, *, root: Path) -> tuple[str, int]:
    """Regenerate every summary table marked in a Markdown text.

    A block between ``<!-- docrec compare --table PATH -->`` and ``<!-- end docrec compare -->``
    is replaced by :func:`summary_table` of the ``results.json`` at ``PATH`` (relative to ``root``),
    so a README's table is never typed by hand.

    Returns:
        ``(new text, number of tables filled)``.

    Raises:
        ValueError: a start marker without its end, or a results file that cannot be read (named).
    """
    out, count, pos = [], 0, 0
    for m in _START.finditer(text):
        end = text.find(_END, m.end())
        if end < 0:
            raise ValueError(f"[docrec.compare] table marker for {m.group(1)!r} has no {_END!r} after it")
        path = root / m.group(1)
        try:
            table = summary_table(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"[docrec.compare] cannot make the table of {path}: {exc}") from None
        out += [text[pos: m.end()], "\n", table, "\n"]
        pos, count = end, count + 1
    out.append(text[pos:])
    return "".join(out), count


def _set_table(doc: dict, name: str) -> list[str]:
    lines = ["| system | weights | accuracy [95% Wilson] | CER [95% bootstrap] | at 1% error, cross-fitted: read / wrong "
             "| at 1% error, in-sample: read / rejected | fields/s |", "|---|---|---|---|---|---|---|"]
    for sys_ in doc["systems"]:
        m = doc["results"][name][sys_["label"]]
        cf, ins = m["at_1pct_cross_fitted"], m["at_1pct_in_sample"]
        speed = "-" if m["fields_per_s"] is None else f"{m['fields_per_s']:.1f}"
        lines.append(f"| {sys_['label']} | `{sys_['weights'][name]}` | {m['correct']}/{m['fields']} = "
                     f"{_pct(m['accuracy'])} {_ci(*m['accuracy_ci'])} | {_pct(m['cer'], 2)} "
                     f"{_ci(*m['cer_ci'], 2)} | {_pct(cf['accuracy'])} / {_pct(cf['error'])} | "
                     f"{_pct(ins['accuracy'])} / {_pct(ins['rejected'])} | {speed} |")
    return lines


def _pair_table(doc: dict, name: str) -> list[str]:
    lines = ["| A | B | both right | only A | only B | neither | either (oracle) [95% Wilson] | McNemar p |",
             "|---|---|---|---|---|---|---|---|"]
    for r in doc["pairs"][name]:
        lines.append(f"| {r['a']} | {r['b']} | {r['both']} | {r['only_a']} | {r['only_b']} | {r['neither']} | "
                     f"{_pct(r['oracle'])} {_ci(*r['oracle_ci'])} | {_p(r['mcnemar_p'])} |")
    return lines


def _spacing_table(doc: dict) -> list[str]:
    first = next(iter(doc["by_spacing"].values()), {})
    columns = [(kind, sp) for kind, cells in first.items() for sp in cells]
    if not columns:
        return []
    lines = ["| system | " + " | ".join(f"{kind} {sp}" for kind, sp in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for label, by_kind in doc["by_spacing"].items():
        lines.append(f"| {label} | " + " | ".join(
            f"{_pct(by_kind[k][sp]['accuracy'])} {_ci(*by_kind[k][sp]['accuracy_ci'])}" for k, sp in columns) + " |")
    return lines


def _gallery(doc: dict) -> list[str]:
    lines = []
    for set_name, by_system in doc.get("gallery", {}).items():
        for label, g in by_system.items():
            draws = [f"[{e['name']}]({e['draw']})" for e in g["errors"] if e.get("draw")]
            lines.append(f"- {label} on {set_name}: ![errors]({g['strip']})"
                         + (f" recogniser pictures: {', '.join(draws)}" if draws else ""))
    return lines


def render(doc: dict) -> str:
    """The whole Markdown report."""
    out = ["# docrec compare", ""]
    if doc.get("command"):
        out += ["```", " ".join(doc["command"]), "```", ""]
    out += ["Every system read the same images. Intervals are 95%: Wilson for string accuracy, a percentile "
            "bootstrap over fields for the character error rate (CER). Paired differences: exact McNemar test "
            "on the fields where exactly one system is right. 'At 1% error': fields accepted in order of "
            "confidence; *cross-fitted* = threshold chosen on the even fields and applied to the odd ones and "
            "back (no field judged by a threshold fitted on itself), *in-sample* = the most fields the curve "
            "reads with at most 1% of all fields wrong (optimistic; the dot on the reject curves). Fields/s: "
            "wall time of `recognize` per field, one process.", ""]
    out += ["## Systems", "", "| label | system | weights per set |", "|---|---|---|"]
    for s in doc["systems"]:
        weights = ", ".join(f"{k}: `{v}`" for k, v in s["weights"].items())
        out.append(f"| {s['label']} | {s['alias'] or s['system']} | {weights} |")
    if any(s["alias"] in ALIASES for s in doc["systems"]):
        out += ["", CRNN_NOTE]
    out += ["", "## Field sets", "", "| set | source | fields | grammar | scored on |", "|---|---|---|---|---|"]
    for s in doc["sets"]:
        src = s["spec"] if s["source"] == "synth" else f"folder `{s['path']}`" + (
            f", ids {s['ids'][0]}-{s['ids'][1]}" if s["ids"] else "")
        digits = {"usps": "held-back USPS digits"}.get((s.get("synth") or {}).get("digits"), "MNIST test digits")
        what = f"synthetic ({digits}): " if s["source"] == "synth" else ""
        out.append(f"| {s['name']} | {what}{src} | {s['fields']} | `{s['grammar']}` | {s['score']} |")
    out += ["", "## Summary", "", summary_table(doc), ""]
    plots = doc.get("plots", {})
    if "accuracy" in plots:
        out += [f"![accuracy and CER]({plots['accuracy']})", ""]
    for s in doc["sets"]:
        out += [f"## {s['name']}", ""] + _set_table(doc, s["name"]) + [""]
        if doc["pairs"][s["name"]]:
            out += ["Agreement (paired, same fields):", ""] + _pair_table(doc, s["name"]) + [""]
    out += ["## Reject curves", ""]
    if "reject" in plots:
        out += [f"![reject curves]({plots['reject']})", ""]
    spacing = _spacing_table(doc)
    if spacing or "length" in plots:
        out += ["## Length and spacing", ""]
        if spacing:
            out += ["String accuracy by field kind and spacing preset (generator conditions of the same kind and spacing pooled):", ""] + spacing + [""]
        for key in ("spacing", "length"):
            if key in plots:
                out += [f"![accuracy by {key}]({plots[key]})", ""]
    if "speed" in plots:
        out += ["## Speed against accuracy", "", f"![speed]({plots['speed']})", ""]
    gallery = _gallery(doc)
    if gallery:
        out += ["## Errors", ""] + gallery + [""]
    return "\n".join(out)


__all__ = ["CRNN_NOTE", "fill_tables", "render", "summary_table"]
