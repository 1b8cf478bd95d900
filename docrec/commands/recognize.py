"""``docrec recognize IMAGE_OR_DIR...``: read field images with a recogniser and a grammar.

Folders are expanded to the image files they hold (sorted; not recursive). Every input gives one
line: ``path<TAB>text<TAB>confidence``, with an amount grammar (``amount``, ``amount:strict``)
``path<TAB>text<TAB>confidence<TAB>digits`` (the digits a bank keys: ``15.728.-`` -> ``15728``); or
``--json``: one JSON object per line with at least ``path``, ``text``, ``digits``, ``confidence``,
``rejected``, ``boxes``; per-file errors as ``{"path": ..., "error": ...}``). Unreadable files,
empty images and images above ``--max-pixels`` give an error entry and the run goes on; the exit
code is 1 if any input failed, else 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from docrec.checks import one_line, output_file

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm", ".pbm", ".ppm", ".webp"}


def register(subparsers: argparse._SubParsersAction) -> None:
    from docrec.recognizers import DEFAULT_MAX_PIXELS, SYSTEMS

    p = subparsers.add_parser(
        "recognize", help="read field images (zip codes, amounts, digit strings)",
        description="Recognise field images with the segmentation-based (seg) or SDNN system, or both "
                    "combined (combo: each reading rescored by the two), and a grammar.")
    p.add_argument("inputs", nargs="+", type=Path, metavar="IMAGE_OR_DIR", help="image files or folders of images")
    p.add_argument("--system", choices=sorted(SYSTEMS), default="seg", help="recogniser (default seg)")
    p.add_argument("--grammar", default="digits",
                   help="zip | amount (cheque amounts as written, e.g. 15.728.-; the digits are shown too) "
                        "| amount:strict (no end marks) | digits | digits:M-N | none | a pattern such as "
                        "'\\d{3}-\\d{4}' (default digits)")
    p.add_argument("--json", action="store_true", help="one JSON object per input line")
    p.add_argument("--draw", type=output_file, default=None, metavar="OUT.png",
                   help="write a picture of the recognition (with several inputs: OUT-<name>.png each)")
    p.add_argument("--reject-threshold", type=float, default=None,
                   help="reject results whose confidence is below this (0..1)")
    p.add_argument("--weights", type=Path, default=None,
                   help="weights file or bundled name (default: the bundled ones; with an amount grammar the ones "
                        "trained on real cheques too: seg-lenet5-real, seg-modern-real, sdnn-real; seg and combo: the "
                        "segmentation system's piece classifier: seg-lenet5-real (seg default) or seg-modern-real "
                        "(combo default), trained on real cheques too, or seg-lenet5 / seg-modern (MNIST-built "
                        "fields only); sdnn: sdnn (LeNet-5), sdnn-way2, sdnn-modern, sdnn-strip or sdnn-strip-real)")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                   help=f"refuse larger images (default {DEFAULT_MAX_PIXELS})")
    p.add_argument("--batch", type=int, default=32, help="images per recogniser call (default 32)")
    p.set_defaults(func=run)


def expand_inputs(inputs: list[Path]) -> list[Path]:
    """Files as given; folders replaced by their image files (sorted)."""
    out = []
    for p in inputs:
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES))
        else:
            out.append(p)
    return out


def draw_path(base: Path, image_path: Path, multiple: bool) -> Path:
    """Where ``--draw`` writes the picture of ``image_path``."""
    if not multiple:
        return base
    return base.with_name(f"{base.stem}-{image_path.stem}{base.suffix or '.png'}")


def _emit(args, path: Path, result=None, error: str | None = None) -> None:
    if args.json:
        entry = {"path": str(path)}
        if error is not None:
            entry.update({"error": error, "text": None, "digits": None, "confidence": None, "rejected": True,
                          "boxes": []})
        else:
            entry.update(result.to_json())
        print(json.dumps(entry), flush=True)
    elif error is not None:  # text mode: errors go to stderr, one line each; stdout keeps the readings
        print(f"docrec recognize: error: {path}: {' '.join(str(error).split())}", file=sys.stderr, flush=True)
    else:
        text = result.text if not result.rejected else f"{result.text or '-'} (rejected: {result.reason})"
        digits = f"\t{result.digits or '-'}" if is_amount_spec(args.grammar) else ""
        print(f"{path}\t{text}\t{result.confidence:.4f}{digits}", flush=True)


def is_amount_spec(spec: str | None) -> bool:
    """True for the amount grammar specs (``amount``, ``amount:strict``), whose output shows the digits."""
    return spec is not None and spec.split(":", 1)[0] == "amount"


def run(args: argparse.Namespace) -> int:
    from docrec.recognizers import default_weights, get_recognizer, load_field_image, resolve_grammar

    if args.reject_threshold is not None and not 0.0 <= args.reject_threshold <= 1.0:
        print(f"docrec recognize: error: --reject-threshold must lie in [0, 1], got {args.reject_threshold}",
              file=sys.stderr)
        return 2
    try:
        grammar = resolve_grammar(args.grammar)
    except ValueError as exc:
        print(f"docrec recognize: error: bad --grammar {args.grammar!r}: {one_line(exc)}", file=sys.stderr)
        return 2
    kwargs = {"max_pixels": args.max_pixels}
    if args.reject_threshold is not None:
        kwargs["reject_threshold"] = args.reject_threshold
    weights = args.weights if args.weights is not None else default_weights(args.system, args.grammar)
    if weights is not None:
        kwargs["weights"] = weights
    try:
        recognizer = get_recognizer(args.system, **kwargs)
    except (ImportError, FileNotFoundError, ValueError) as exc:
        print(f"docrec recognize: error: cannot build the {args.system!r} recogniser: {one_line(exc)}", file=sys.stderr)
        return 1
    paths = expand_inputs(args.inputs)
    if not paths:
        print("docrec recognize: error: no image files among the inputs", file=sys.stderr)
        return 2
    failed = 0
    for k in range(0, len(paths), max(1, args.batch)):
        chunk = paths[k: k + max(1, args.batch)]
        loaded = []
        for p in chunk:
            try:
                loaded.append((p, load_field_image(p, max_pixels=args.max_pixels)))
            except (OSError, ValueError) as exc:
                loaded.append((p, exc))
        good = [(p, img) for p, img in loaded if not isinstance(img, Exception)]
        try:
            results = dict(zip([p for p, _ in good],
                               recognizer.recognize([img for _, img in good], grammar=grammar)))
        except (ValueError, RuntimeError) as exc:  # a whole-batch failure: retry one by one
            results = {}
            for p, img in good:
                try:
                    results[p] = recognizer.recognize([img], grammar=grammar)[0]
                except (ValueError, RuntimeError) as exc1:
                    results[p] = exc1
            del exc
        for p, img in loaded:
            res = img if isinstance(img, Exception) else results[p]
            if isinstance(res, Exception):
                failed += 1
                _emit(args, p, error=str(res))
                continue
            if res.rejected and not res.text and res.reason.startswith("[docrec"):
                failed += 1
                _emit(args, p, error=res.reason)
                continue
            _emit(args, p, result=res)
            if args.draw is not None:
                out = draw_path(args.draw, p, len(paths) > 1)
                try:
                    recognizer.draw(img, res, out)
                except (ValueError, RuntimeError, OSError) as exc:
                    print(f"docrec recognize: warning: could not draw {p}: {exc}", file=sys.stderr)
    return 1 if failed else 0
