"""``docrec export onnx``: write a network as an ONNX file, for other runtimes (docs/export.md).

``--model`` takes bundled weights or a weights path: a LeNet-family MNIST classifier (``lenet5``,
``modern``, ...) or a seg piece classifier (``seg-lenet5``, ``seg-modern``, ...) gives
``image (B, 1, 32, 32) -> penalties (B, C)``; SDNN weights (``sdnn``, ``sdnn-real``, ``sdnn-strip``,
``sdnn-strip-real``) give ``strip (B, 1, 32, W) -> penalties (B, T, 17)``, ``T = (W - 32) // 4 + 1``.
Inputs are float32 at the networks' levels (paper -0.1, ink 1.175); batch and width are dynamic.
``--check`` runs the file with onnxruntime on real inputs cut from the bundled sample fields and
prints the largest absolute difference from PyTorch. Needs ``pip install 'docrec[onnx]'``.
"""

from __future__ import annotations

import argparse

from docrec.checks import fail, output_file

WHERE = "docrec export onnx"


def register(subparsers: argparse._SubParsersAction) -> None:
    from docrec.export import DEFAULT_OPSET, OPSETS

    parser = subparsers.add_parser("export", help="export a network for other runtimes (onnx)")
    sub = parser.add_subparsers(dest="format", metavar="FORMAT")
    p = sub.add_parser("onnx", help="write a network as an ONNX file (onnxruntime, C++, C#, browsers)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="bundled weights name (lenet5, modern, seg-lenet5, sdnn, "
                                                  "sdnn-strip, ...) or a weights path")
    p.add_argument("--out", required=True, type=output_file, help="the .onnx file to write")
    p.add_argument("--opset", type=int, choices=OPSETS, metavar="N", default=DEFAULT_OPSET,
                   help=f"ONNX opset, {OPSETS.start}..{OPSETS.stop - 1} (default {DEFAULT_OPSET})")
    p.add_argument("--check", action="store_true",
                   help="run the file with onnxruntime on sample inputs; print the max abs difference from PyTorch")
    p.set_defaults(func=run)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def run(args: argparse.Namespace) -> int:
    from docrec.export import export_onnx, load_exportable, max_abs_difference, require, sample_input

    try:
        require("onnx")
        if args.check:
            require("onnxruntime")
        net = load_exportable(args.model)
        path = export_onnx(net, args.out, opset=args.opset)
        shape = "(B, 1, 32, 32) -> penalties (B, C)" if net.contract == "digit" else \
            "(B, 1, 32, W) -> penalties (B, T, 17)"
        print(f"wrote {path}: {net.arch}, {net.input_name} {shape}, {len(net.classes)} classes, opset {args.opset}")
        if args.check:
            x = sample_input(net.contract)
            diff = max_abs_difference(path, net, x)
            print(f"onnxruntime vs PyTorch on {tuple(x.shape)} sample input: max abs difference {diff:.3g}")
    except (ImportError, OSError, ValueError) as exc:
        return fail(WHERE, exc)
    return 0
