"""``docrec eval strings --system seg|sdnn DIR``: string-level metrics on a labelled folder.

``DIR`` holds images and ``labels.csv`` (``path,text``; e.g. made by ``docrec synth``). Reported:
string accuracy (exact text, rejected counts as wrong), character error rate (Levenshtein distance
/ true length, summed over fields; a rejected field counts its whole truth as errors), and the
accuracy at 1% error with rejection: fields sorted by confidence, the largest accepted set whose
errors are at most 1% of all fields (docs/paper.md Sec. X reports check reading this way). On a folder
that threshold is chosen *on the folder itself* (an optimistic figure, flagged as such);
``benchmarks/strings.py`` chooses it on a validation set instead.

``--score text`` (default) compares the reading's text with the label; ``--score digits`` compares
only their digits (:func:`docrec.recognizers.base.digit_string`), as a bank keys an amount: real
cheque labels (ORAND) hold the digits only, while the reading keeps separators and end marks
(``15.728.-`` is right for the label ``15728``), and the recogniser reads with ``score="digits"``: the
confidence, and so the rejection, is that of the digit string, every reading with it counted.

``--errors OUT.csv`` lists every wrong or rejected field (``path,label,reading,confidence``), the
most confident first. On real labelled scans the top of that list is where wrong labels show up: a
field read confidently, and by more than one system, against its label is worth a look before it
is trained on or counted (docs/real_fields.md, "Wrong labels").

The metric helpers here are shared with ``benchmarks/strings.py``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from data.atomic import atomic_write
from data.folder import FieldFolder
from docrec.checks import one_line, output_file, weights_arg
from docrec.devices import add_device_option


def levenshtein(a: str, b: str) -> int:
    """Edit distance between two strings (unit insert/delete/substitute costs)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def threshold_at_error(confidences: Sequence[float], correct: Sequence[bool], *, max_error: float = 0.01
                       ) -> float:
    """The lowest confidence threshold whose accepted errors are at most ``max_error`` of all fields
    (accept ``confidence >= threshold``); ``inf`` if even the single most confident field is wrong
    beyond the budget."""
    conf = np.asarray(confidences, np.float64)
    ok = np.asarray(correct, bool)
    n = len(conf)
    if n == 0:
        return float("inf")
    order = np.argsort(-conf, kind="stable")
    errors = np.cumsum(~ok[order])
    best = float("inf")
    for k in range(n):  # accept the k+1 most confident; only cut between distinct confidences
        if errors[k] > max_error * n:
            break
        if k + 1 == n or conf[order[k + 1]] < conf[order[k]]:
            best = float(conf[order[k]])
    return best


def at_threshold(confidences, correct, threshold: float) -> dict:
    """Accuracy, error and rejection rates (fractions of all fields) when accepting
    ``confidence >= threshold``."""
    conf = np.asarray(confidences, np.float64)
    ok = np.asarray(correct, bool)
    acc = conf >= threshold
    n = max(len(conf), 1)
    return {"threshold": float(threshold), "accuracy": float((acc & ok).sum() / n),
            "error": float((acc & ~ok).sum() / n), "rejected": float((~acc).sum() / n)}


def string_metrics(texts: Sequence[str | None], truths: Sequence[str], confidences: Sequence[float]) -> dict:
    """String accuracy and CER; ``texts[i] = None`` for a rejected or failed field."""
    n = len(truths)
    correct = [t is not None and t == g for t, g in zip(texts, truths)]
    dist = sum(levenshtein(t or "", g) for t, g in zip(texts, truths))
    chars = sum(len(g) for g in truths)
    return {"fields": n, "string_accuracy": sum(correct) / max(n, 1), "cer": dist / max(chars, 1),
            "correct": correct}


def register(subparsers: argparse._SubParsersAction) -> None:
    from decoders import SCORES
    from docrec.recognizers import SYSTEMS

    p = subparsers.add_parser("strings", help="string accuracy, CER and accuracy at 1%% error on a labelled folder")
    p.add_argument("folder", type=Path, help="folder with images and labels.csv")
    p.add_argument("--system", choices=sorted(SYSTEMS), default="combo",
                   help="recogniser (default combo, the most accurate; seg is the paper's system)")
    p.add_argument("--grammar", default="digits", help="grammar spec as for `docrec recognize` (default digits)")
    p.add_argument("--weights", type=weights_arg, default=None,
                   help="weights file or bundled name (default: the system's; with an amount grammar the "
                        "real-trained ones, as in docrec recognize)")
    p.add_argument("--score", choices=SCORES, default="text",
                   help="compare the whole text with the label (default), or only the digits of both "
                        "(amounts with digit-only labels, e.g. real cheques; the confidence is then the "
                        "posterior of the digits)")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N fields")
    p.add_argument("--allow-outside", action="store_true",
                   help="accept labels.csv rows whose image lies outside the folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    p.add_argument("--json", type=output_file, default=None, help="also write the metrics to this JSON file")
    p.add_argument("--errors", type=output_file, default=None,
                   help="write the wrong and rejected fields to this CSV (path,label,reading,confidence), "
                        "most confident first: on real scans, where wrong labels show up")
    add_device_option(p, training=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from docrec.recognizers import default_weights, get_recognizer, resolve_grammar
    from docrec.recognizers.base import digit_string

    try:
        folder = FieldFolder(args.folder, allow_outside=args.allow_outside)
        grammar = resolve_grammar(args.grammar)
        weights = args.weights if args.weights is not None else default_weights(args.system, args.grammar)
        kwargs = {"score": args.score, **({} if weights is None else {"weights": weights})}
        if args.device is not None:
            kwargs["device"] = args.device
        rec = get_recognizer(args.system, **kwargs)
    except (OSError, ValueError, ImportError) as exc:
        print(f"docrec eval strings: error: {one_line(exc)}", file=sys.stderr)
        return 1
    n = len(folder) if args.limit is None else min(args.limit, len(folder))
    truths = folder.texts[:n]
    t0 = time.perf_counter()
    results = _read(folder, n, rec, grammar, quiet=args.quiet)
    seconds = time.perf_counter() - t0
    texts = [None if r.rejected and not r.text else r.text for r in results]
    labels, readings = truths, texts  # as written, for --errors
    if args.score == "digits":
        texts = [None if t is None else digit_string(t) for t in texts]
        truths = [digit_string(t) for t in truths]
    conf = [r.confidence for r in results]
    m = string_metrics(texts, truths, conf)
    thr = threshold_at_error(conf, m["correct"])
    out = {"folder": str(args.folder), "system": args.system, "grammar": args.grammar, "score": args.score,
           "fields": n, "string_accuracy": m["string_accuracy"], "cer": m["cer"],
           "at_1pct_error_oracle": at_threshold(conf, m["correct"], thr), "strings_per_s": n / seconds}
    what = "digit-string" if args.score == "digits" else "string"
    print(f"{n} fields  {what} accuracy {100 * m['string_accuracy']:.2f}%  CER {100 * m['cer']:.2f}%  "
          f"accuracy at 1% error {100 * out['at_1pct_error_oracle']['accuracy']:.2f}% "
          f"(threshold chosen on this folder)  {out['strings_per_s']:.1f} strings/s")
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    if args.errors is not None:
        wrong = write_errors(args.errors, folder.paths[:n], labels, readings, conf, m["correct"])
        print(f"{wrong} wrong or rejected fields written to {args.errors} (most confident first)")
    return 0


def write_errors(csv_path: str | Path, paths: Sequence, truths: Sequence[str], texts: Sequence[str | None],
                 confidences: Sequence[float], correct: Sequence[bool]) -> int:
    """Write the fields that are not ``correct`` to ``csv_path`` (header ``path,label,reading,
    confidence``; a rejected field's reading is empty), sorted by confidence, highest first (ties
    keep the folder's order), atomically. Returns how many were written."""
    rows = [(float(c), i) for i, (c, ok) in enumerate(zip(confidences, correct)) if not ok]
    rows.sort(key=lambda r: -r[0])

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["path", "label", "reading", "confidence"])
            for c, i in rows:
                w.writerow([str(paths[i]), truths[i], texts[i] or "", f"{c:.4f}"])

    atomic_write(csv_path, write)
    return len(rows)


def _read(folder, n: int, rec, grammar, *, quiet: bool) -> list:
    """Recognitions of the first ``n`` fields, 32 at a time with a progress bar on a terminal; an
    image that cannot be read is reported on stderr and counts as a rejected (wrong) reading, and
    the others are still read."""
    from tqdm import tqdm

    from docrec.recognizers import Recognition

    results: list = []
    bar = tqdm(total=n, desc="docrec eval strings", unit="field", file=sys.stderr,
               disable=quiet or not sys.stderr.isatty())
    for start in range(0, n, 32):
        images, slots = [], []
        for i in range(start, min(n, start + 32)):
            try:
                images.append(folder[i][0])
                slots.append(len(results))
                results.append(None)
            except (OSError, ValueError) as exc:
                print(f"docrec eval strings: error: {folder.paths[i]}: {one_line(exc)}", file=sys.stderr)
                results.append(Recognition.reject(one_line(exc)))
        for slot, res in zip(slots, rec.recognize(images, grammar=grammar)):
            results[slot] = res
        bar.update(min(n, start + 32) - start)
    bar.close()
    return results

