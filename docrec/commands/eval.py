"""``docrec eval {mnist,strings}``: each evaluation lives in its own module with ``register(sub)``."""

from __future__ import annotations

import argparse
import importlib

EVAL_MODULES = (
    "docrec.commands.eval_mnist",
    "docrec.commands.eval_strings",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("eval", help="evaluate a model (mnist, strings)")
    sub = parser.add_subparsers(dest="evaluation", metavar="WHAT")
    for name in EVAL_MODULES:
        importlib.import_module(name).register(sub)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
