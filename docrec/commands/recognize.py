"""``docrec recognize IMAGE_OR_DIR...``: read field images with a recogniser and a grammar.

Folders are expanded to the image files they hold (sorted; not recursive). Every input gives one
line: ``path<TAB>text<TAB>confidence``, with an amount grammar (``amount``, ``amount:strict``)
``path<TAB>text<TAB>confidence<TAB>digits`` (the digits a bank keys: ``15.728.-`` -> ``15728``; the
confidence is then the posterior of those digits, ``--score``); or
``--json``: one JSON object per line with at least ``path``, ``text``, ``digits``, ``confidence``,
``rejected``, ``boxes``; per-file errors as ``{"path": ..., "error": ...}``). Unreadable files,
empty images and images above ``--max-pixels`` give an error entry and the run goes on; the exit
code is 1 if any input failed, else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from docrec.checks import fail, one_line, output_file, weights_arg
from docrec.devices import add_device_option

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm", ".pbm", ".ppm", ".webp"}


def register(subparsers: argparse._SubParsersAction) -> None:
    from decoders import SCORES
    from docrec.recognizers import DEFAULT_MAX_PIXELS, SYSTEMS

    p = subparsers.add_parser(
        "recognize", help="read field images (zip codes, amounts, digit strings)",
        description="Recognise field images with the segmentation-based (seg) or SDNN system, or both "
                    "combined (combo: each reading rescored by the two), and a grammar.")
    p.add_argument("inputs", nargs="+", type=Path, metavar="IMAGE_OR_DIR", help="image files or folders of images")
    p.add_argument("--system", choices=sorted(SYSTEMS), default="combo",
                   help="recogniser (default combo, the most accurate; seg is the paper's system)")
    p.add_argument("--grammar", default="digits",
                   help="zip | amount (cheque amounts as written, e.g. 15.728.-; the digits are shown too) "
                        "| amount:strict (no end marks) | digits | digits:M-N | none | a pattern such as "
                        "'\\d{3}-\\d{4}' (default digits)")
    p.add_argument("--score", choices=SCORES, default=None,
                   help="what the confidence is the posterior of: the text as read, or its digits (every "
                        "reading with the same digits counted, as a bank keys an amount; the default with an "
                        "amount grammar, text otherwise)")
    p.add_argument("--json", action="store_true", help="one JSON object per input line")
    p.add_argument("--draw", type=output_file, default=None, metavar="OUT.png",
                   help="write a picture of the recognition (with several inputs: OUT-<name>.png each)")
    p.add_argument("--reject-threshold", type=float, default=None,
                   help="reject results whose confidence is below this (0..1)")
    p.add_argument("--weights", type=weights_arg, default=None,
                   help="weights file or bundled name (default: the bundled ones trained on generated fields; with "
                        "an amount grammar the ones trained on real cheques too: seg-lenet5-real-all (seg), "
                        "seg-modern-real-all (combo), sdnn-real (sdnn). seg and combo: the segmentation system's piece "
                        "classifier, seg-lenet5 or seg-modern (generated fields only), seg-lenet5-real or "
                        "seg-modern-real (646 real fields), seg-lenet5-real-all or seg-modern-real-all (846); combo "
                        "also SEG+SDNN to choose its SDNN, e.g. seg-modern-real+sdnn-strip-real-all; sdnn: sdnn "
                        "(LeNet-5), sdnn-way2, sdnn-modern, sdnn-strip, sdnn-strip-real or sdnn-strip-real-all)")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                   help=f"refuse larger images (default {DEFAULT_MAX_PIXELS})")
    p.add_argument("--batch", type=int, default=32, help="images per recogniser call (default 32)")
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes, each with its own recogniser and 1 torch thread (default 1)")
    p.add_argument("--out", type=output_file, default=None, metavar="FILE",
                   help="write the readings to FILE instead of stdout (needed by --resume)")
    p.add_argument("--resume", action="store_true",
                   help="skip the inputs already in --out and append the rest (after an interruption)")
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    add_device_option(p, training=False)
    p.set_defaults(func=run)


def draw_path(base: Path, image_path: Path, multiple: bool) -> Path:
    """Where ``--draw`` writes the picture of ``image_path``."""
    if not multiple:
        return base
    return base.with_name(f"{base.stem}-{image_path.stem}{base.suffix or '.png'}")


def _emit(args, path: Path, result: dict | None = None, error: str | None = None, out=None) -> None:
    out = out or sys.stdout
    if args.json:
        entry = {"path": str(path)}
        if error is not None:
            entry.update({"error": one_line(error), "text": None, "digits": None, "confidence": None,
                          "rejected": True, "boxes": []})
        else:
            entry.update(result)
        print(json.dumps(entry), file=out, flush=True)
    elif error is not None:  # text mode: errors go to stderr, one line each; the output keeps the readings
        print(f"docrec recognize: error: {path}: {one_line(error)}", file=sys.stderr, flush=True)
    else:
        text = result["text"] if not result["rejected"] else f"{result['text'] or '-'} (rejected: {result['reason']})"
        digits = f"\t{result['digits'] or '-'}" if is_amount_spec(args.grammar) else ""
        print(f"{path}\t{text}\t{result['confidence']:.4f}{digits}", file=out, flush=True)


def is_amount_spec(spec: str | None) -> bool:
    """True for the amount grammar specs (``amount``, ``amount:strict``), whose output shows the digits."""
    return spec is not None and spec.split(":", 1)[0] == "amount"


def run(args: argparse.Namespace) -> int:
    from docrec.recognizers import default_weights, get_recognizer, resolve_grammar

    if args.reject_threshold is not None and not 0.0 <= args.reject_threshold <= 1.0:
        print(f"docrec recognize: error: --reject-threshold must lie in [0, 1], got {args.reject_threshold}",
              file=sys.stderr)
        return 2
    try:
        grammar = resolve_grammar(args.grammar)
    except ValueError as exc:
        print(f"docrec recognize: error: bad --grammar {args.grammar!r}: {one_line(exc)}", file=sys.stderr)
        return 2
    kwargs = {"max_pixels": args.max_pixels,
              "score": args.score or ("digits" if is_amount_spec(args.grammar) else "text")}
    if args.device is not None:
        kwargs["device"] = args.device
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
    if args.resume and args.out is None:
        return fail("docrec recognize", "--resume needs --out FILE (the readings to continue)", 2)
    if args.draw is not None and args.workers > 1:
        return fail("docrec recognize", "--draw works with --workers 1 only", 2)
    return _read_all(args, recognizer, grammar, kwargs)


def _read_all(args, recognizer, grammar, kwargs) -> int:
    """Stream the inputs through the recogniser (or ``--workers`` processes); one line per input."""
    from tqdm import tqdm

    from docrec.stream import ReaderSpec, done_paths, iter_images, read_fields

    paths = iter_images(args.inputs)
    if args.resume:
        done = done_paths(args.out)
        paths = (p for p in paths if str(p) not in done)
    out = sys.stdout if args.out is None else open(args.out, "a" if args.resume else "w", encoding="utf-8")
    if args.resume and out.tell() > 0:
        with open(args.out, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":  # a line torn by the interruption: start on a fresh one
                out.write("\n")
    spec = ReaderSpec(args.system, args.grammar, tuple(sorted(kwargs.items())))
    bar = tqdm(desc="docrec recognize", unit="field", file=sys.stderr,
               disable=args.quiet or not sys.stderr.isatty())
    failed = seen = 0
    try:
        if args.draw is not None or args.workers == 1:
            results = _in_process(args, recognizer, grammar, paths)
        else:
            results = ((r.path, r.result, r.error) for r in read_fields(paths, spec, batch=args.batch,
                                                                        workers=args.workers))
        for path, result, error in results:
            seen += 1
            bar.update(1)
            if error is None and result["rejected"] and not result["text"] and \
                    str(result.get("reason", "")).startswith("[docrec"):
                error = result["reason"]
            if error is not None:
                failed += 1
            _emit(args, path, result=result, error=error, out=out)
    finally:
        bar.close()
        if out is not sys.stdout:
            out.close()
    if seen == 0 and not args.resume:
        return fail("docrec recognize", "no image files among the inputs", 2)
    return 1 if failed else 0


def _in_process(args, recognizer, grammar, paths):
    """``(path, Recognition.to_json() or None, error or None)`` per input, batch by batch; with
    ``--draw``, each reading's picture too."""
    from docrec.recognizers import load_field_image

    chunk: list[Path] = []
    drawn = 0
    for p in [*paths, None]:
        if p is not None:
            chunk.append(p)
            if len(chunk) < args.batch:
                continue
        if not chunk:
            break
        loaded = []
        for q in chunk:
            try:
                loaded.append((q, load_field_image(q, max_pixels=args.max_pixels)))
            except (OSError, ValueError) as exc:
                loaded.append((q, exc))
        good = [(q, img) for q, img in loaded if not isinstance(img, Exception)]
        try:
            results = dict(zip([q for q, _ in good], recognizer.recognize([img for _, img in good], grammar=grammar)))
        except (ValueError, RuntimeError):  # a whole-batch failure: one by one, so good inputs survive
            results = {}
            for q, img in good:
                try:
                    results[q] = recognizer.recognize([img], grammar=grammar)[0]
                except (ValueError, RuntimeError) as exc1:
                    results[q] = exc1
        for q, img in loaded:
            res = img if isinstance(img, Exception) else results[q]
            if isinstance(res, Exception):
                yield q, None, str(res)
                continue
            yield q, res.to_json(), None
            if args.draw is not None:
                drawn += 1
                target = draw_path(args.draw, q, len(args.inputs) > 1 or args.inputs[0].is_dir())
                try:
                    recognizer.draw(img, res, target)
                except (ValueError, RuntimeError, OSError) as exc:
                    print(f"docrec recognize: warning: could not draw {q}: {one_line(exc)}", file=sys.stderr)
        chunk = []
