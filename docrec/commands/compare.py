"""``docrec compare``: the segmentation-vs-SDNN study as one command (docs/compare.md).

    docrec compare --systems seg sdnn combo crnn [LABEL=SYSTEM:WEIGHTS ...] \\
        --fields DIR[:ids=800-999,grammar=amount,score=digits,name=NAME] ... \\
        --synth kind=zip,spacing=touching,n=200,seed=1 ... --grammar zip --out OUT
    docrec compare mnist  --out OUT      # Fig. 9: the LeNet family on the MNIST test set
    docrec compare global --out OUT      # Sec. IX: local against local + global training
    docrec compare --table OUT/results.json   # the summary table, from the JSON alone
    docrec compare --fill README.md           # regenerate the tables marked in README.md

Writes ``OUT/report.md``, ``OUT/results.json`` and PNG plots; readings are cached in
``OUT/cache`` by field hash, so an interrupted run resumes where it stopped. Bad input (unknown
system, missing folder, bad condition) gives one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from docrec.checks import one_line, output_dir
from docrec.devices import add_device_option

WHERE = "docrec compare"
STUDIES = ("fields", "mnist", "global")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("compare", help="compare recognisers on the same fields: report, JSON, plots",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("study", nargs="?", default="fields", choices=STUDIES,
                   help="fields (default): systems x field sets; mnist: Fig. 9; global: the Sec. IX table")
    p.add_argument("--systems", nargs="+", default=["seg", "sdnn", "combo"], metavar="SPEC",
                   help="seg, sdnn, combo, crnn, SYSTEM:WEIGHTS or LABEL=SYSTEM:WEIGHTS (default seg sdnn combo)")
    p.add_argument("--fields", nargs="+", default=[], metavar="DIR[:k=v,...]",
                   help="labelled folders (labels.csv); options ids=A-B, grammar=, score=text|digits, name=, limit=N")
    p.add_argument("--synth", nargs="+", default=[], metavar="CONDITION",
                   help="generator conditions of MNIST test digits, e.g. kind=zip,spacing=touching,n=200,seed=1 "
                        "(keys kind, n, seed, length, spacing, paper, noise, scale, grammar, score, name)")
    p.add_argument("--grammar", default="digits",
                   help="grammar of the folders that name none (default digits); a generator condition "
                        "defaults to its kind's grammar")
    p.add_argument("--score", default="auto", choices=("auto", "text", "digits"),
                   help="score whole texts or digits only (auto: digits for amount grammars with digit-only labels)")
    p.add_argument("--out", type=output_dir, default=None, help="output folder (required)")
    p.add_argument("--gallery", type=int, default=3, help="errors drawn per system and set (default 3; 0: none)")
    p.add_argument("--batch", type=int, default=16, help="fields per recognize call (default 16)")
    p.add_argument("--boot", type=int, default=2000, help="bootstrap resamples for CER intervals (default 2000)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    add_device_option(p, training=False)
    p.add_argument("--mnist-dir", default=None, help="MNIST folder (default $DOCREC_MNIST_DIR or the user cache)")
    p.add_argument("--usps-dir", default=None,
                   help="USPS folder for --synth digits=usps (default $DOCREC_USPS_DIR or the user cache)")
    p.add_argument("--models", nargs="+", default=None, help="mnist: bundled names or checkpoints to measure")
    p.add_argument("--count", type=int, default=200, help="global: synthetic fields per condition (default 200)")
    p.add_argument("--orand", type=Path, default=None,
                   help="global: the real field folder (default $DOCREC_ORAND_DIR or ../shared/data/orand_car_a)")
    p.add_argument("--global-work", type=Path, default=Path("runs/global"),
                   help="global: folder of the global-training runs of seg-modern (global-forward.pt, "
                        "global-viterbi.pt; default runs/global); missing ones are reported as not available")
    p.add_argument("--table", type=Path, default=None, metavar="RESULTS.json",
                   help="print the summary table of a results.json and stop")
    p.add_argument("--fill", type=Path, default=None, metavar="FILE.md",
                   help="regenerate the tables marked <!-- docrec compare --table RESULTS.json --> ... "
                        "<!-- end docrec compare --> in FILE.md (paths relative to its folder's repository "
                        "root: the current folder) and stop")
    p.add_argument("--quiet", action="store_true", help="no progress bars or log lines")
    p.set_defaults(func=run)


def _fail(message: str) -> int:
    first = message.strip().splitlines()[0] if message.strip() else "unknown problem"
    print(f"{WHERE}: error: {first}", file=sys.stderr)
    return 2


def _table(path: Path) -> int:
    from docrec.compare.report import summary_table

    try:
        doc = json.loads(path.read_text())
        print(summary_table(doc))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return _fail(f"--table {str(path)!r}: not a readable docrec compare results.json ({exc})")
    return 0


def _fill(path: Path) -> int:
    from docrec.compare.report import fill_tables

    try:
        text, count = fill_tables(path.read_text(), root=Path.cwd())
    except (OSError, ValueError) as exc:
        return _fail(f"--fill {str(path)!r}: {exc}")
    if count == 0:
        return _fail(f"--fill {str(path)!r}: no <!-- docrec compare --table RESULTS.json --> marker")
    path.write_text(text)
    print(f"{WHERE}: {count} table(s) regenerated in {path}", file=sys.stderr)
    return 0


def _check_numbers(args: argparse.Namespace) -> str | None:
    for name, lo in (("gallery", 0), ("batch", 1), ("boot", 1), ("threads", 1), ("count", 1)):
        if getattr(args, name) < lo:
            return f"--{name} must be >= {lo}, got {getattr(args, name)}"
    return None


def run(args: argparse.Namespace) -> int:
    import torch

    from docrec.compare.specs import SpecError

    if args.table is not None:
        return _table(args.table)
    if args.fill is not None:
        return _fill(args.fill)
    problem = _check_numbers(args)
    if problem:
        return _fail(problem)
    if args.out is None:
        return _fail("--out OUT is required (the folder for report.md, results.json and the plots)")
    if args.out.exists() and not args.out.is_dir():
        return _fail(f"--out {str(args.out)!r} exists and is not a folder")
    torch.set_num_threads(args.threads)
    log = (lambda msg: None) if args.quiet else (lambda msg: print(f"{WHERE}: {msg}", file=sys.stderr, flush=True))
    command = ["docrec", "compare"] + sys.argv[2:] if sys.argv[1:2] == ["compare"] else []
    try:
        if args.study == "mnist":
            from docrec.compare.mnist import run_mnist

            doc = run_mnist(out=args.out, models=args.models, mnist_dir=args.mnist_dir, command=command, log=log,
                            device=args.device)
        elif args.study == "global":
            from docrec.compare.global_table import run_global

            doc = run_global(out=args.out, count=args.count, orand=args.orand, work=args.global_work,
                             mnist_dir=args.mnist_dir, batch=args.batch, progress=not args.quiet, command=command, log=log)
        else:
            doc = _run_fields(args, command, log)
    except SpecError as exc:
        return _fail(str(exc))
    except (OSError, ValueError) as exc:
        print(f"{WHERE}: error: {one_line(exc)}", file=sys.stderr)
        return 1
    if not args.quiet and doc is not None:
        stem = {"mnist": "mnist", "global": "global"}.get(args.study, "report")
        json_name = "results.json" if stem == "report" else f"{stem}.json"
        print(f"{WHERE}: wrote {args.out / (stem + '.md')} and {args.out / json_name}", file=sys.stderr)
    return 0


def _run_fields(args: argparse.Namespace, command: list[str], log) -> dict:
    from docrec.compare.report import summary_table
    from docrec.compare.specs import parse_folder, parse_synth, parse_systems
    from docrec.compare.study import StudyConfig, run_study

    systems = parse_systems(args.systems)
    sets = [parse_folder(f, grammar=args.grammar, score=args.score) for f in args.fields]
    sets += [parse_synth(s, score=args.score) for s in args.synth]
    config = StudyConfig(systems=systems, sets=sets, out=args.out, batch=args.batch, gallery=args.gallery,
                         n_boot=args.boot, progress=not args.quiet, mnist_dir=args.mnist_dir,
                         usps_dir=args.usps_dir, command=command, device=args.device)
    doc = run_study(config, log=log)
    if not args.quiet:
        print(summary_table(doc))
    return doc
