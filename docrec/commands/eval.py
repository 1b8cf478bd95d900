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
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
