"""``docrec train {lenet,seg,sdnn}``: each trainer lives in its own module with ``register(sub)``;
``docrec train --recipe NAME_OR_FILE`` runs a recorded recipe (:mod:`docrec.recipes`)."""

from __future__ import annotations

import argparse
import importlib

from docrec.checks import one_line

TRAINER_MODULES = (
    "docrec.commands.train_lenet",
    "docrec.commands.train_seg",
    "docrec.commands.train_sdnn",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train a model (lenet, seg, sdnn), or run a recipe",
        description="Train a model, or run the recipe that made a bundled weights file: "
                    "docrec train --recipe sdnn-strip-real [--set fields=DIR] [--dry-run] (recipes/*.toml).")
    parser.add_argument("--recipe", metavar="NAME_OR_FILE", help="a recipes/*.toml file or a bundled weights name")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a recipe variable (repeatable)")
    parser.add_argument("--dry-run", action="store_true", help="print the recipe's commands without running them")
    sub = parser.add_subparsers(dest="trainer", metavar="TRAINER")
    for name in TRAINER_MODULES:
        importlib.import_module(name).register(sub)
    parser.set_defaults(func=lambda args: _run_recipe(args) if args.recipe else (parser.print_help(), 2)[1])


def _run_recipe(args: argparse.Namespace) -> int:
    import sys

    from docrec import recipes

    try:
        recipe = recipes.load(args.recipe)
        return recipes.run(recipe, overrides=recipes.parse_sets(args.set), dry_run=args.dry_run)
    except (FileNotFoundError, ValueError) as exc:
        print(f"docrec train: error: {one_line(exc)}", file=sys.stderr)
        return 2
