"""The ``docrec`` command line.

Every subcommand lives in its own module under :mod:`docrec.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (a callable taking the parsed
``argparse.Namespace`` and returning an exit code). Modules are listed in :data:`COMMAND_MODULES`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = (
    "docrec.commands.synth",
    "docrec.commands.train",
    "docrec.commands.eval",
    "docrec.commands.recognize",
    "docrec.commands.demo",
    "docrec.commands.compare",
)


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose long options accept both spellings: every
    ``--snake_case`` option also answers to ``--kebab-case`` and the other way round (so
    ``--val_fields`` and ``--val-fields`` are the same flag in every subcommand). Subparsers
    inherit the class."""

    def add_argument(self, *names, **kwargs):
        spelled = list(names)
        for name in names:
            if isinstance(name, str) and name.startswith("--"):
                body = name[2:]
                for other in ("--" + body.replace("_", "-"), "--" + body.replace("-", "_")):
                    if other not in spelled:
                        spelled.append(other)
        return super().add_argument(*spelled, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available subcommand."""
    parser = Parser(
        prog="docrec",
        description="Document recognition with graph transformer networks "
        "(LeCun, Bottou, Bengio, Haffner 1998) on PyTorch.",
    )
    parser.add_argument("--version", action="version", version=f"docrec {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _version() -> str:
    from docrec import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``docrec`` console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("docrec: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
