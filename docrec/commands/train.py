"""``docrec train {lenet,seg,sdnn}``: each trainer lives in its own module with ``register(sub)``."""

from __future__ import annotations

import argparse
import importlib

TRAINER_MODULES = (
    "docrec.commands.train_lenet",
    "docrec.commands.train_seg",
    "docrec.commands.train_sdnn",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train a model (lenet, seg, sdnn)")
    sub = parser.add_subparsers(dest="trainer", metavar="TRAINER")
    for name in TRAINER_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
