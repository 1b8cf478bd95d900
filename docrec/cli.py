"""The ``docrec`` command line.

Every subcommand lives in its own module under :mod:`docrec.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (a callable taking the parsed
``argparse.Namespace`` and returning an exit code). Modules are listed in :data:`COMMAND_MODULES`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from docrec.checks import fail, ranged

COMMAND_MODULES = (
    "docrec.commands.synth",
    "docrec.commands.train",
    "docrec.commands.eval",
    "docrec.commands.recognize",
    "docrec.commands.demo",
    "docrec.commands.compare",
    "docrec.commands.export",
)


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with the checks every command shares (:mod:`docrec.checks`): long
    options answer to both spellings (``--val-fields`` is current, ``--val_fields`` the old one, with
    a note), numeric options get their range, a bad argument is one line on stderr. Subparsers and
    argument groups inherit the rules."""

    def add_argument(self, *names, **kwargs):
        return super().add_argument(*_spellings(names, kwargs), **kwargs)

    def add_argument_group(self, *args, **kwargs):
        group = super().add_argument_group(*args, **kwargs)
        plain = group.add_argument
        group.add_argument = lambda *names, **kw: plain(*_spellings(names, kw), **kw)  # same rules in groups
        return group

    def error(self, message: str):
        """A bad argument: one line on stderr (no usage block), exit code 2."""
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


def _spellings(names: tuple, kwargs: dict) -> list:
    """Both spellings of every long option (``--a_b`` and ``--a-b``), and the range of a numeric
    option from its name (:data:`docrec.checks.RANGES`; ``kwargs["type"]`` is replaced)."""
    kind = kwargs.get("type")
    if kind in (int, float):
        dest = kwargs.get("dest") or next((n for n in names if str(n).startswith("--")), names[0])
        kwargs["type"] = ranged(kind, str(dest).lstrip("-").replace("-", "_"))
    spelled: list = []
    for name in names:  # the current (kebab) spelling first, so help and errors show it
        forms = [name]
        if isinstance(name, str) and name.startswith("--"):
            body = name[2:]
            forms = ["--" + body.replace("_", "-"), "--" + body.replace("-", "_")]
        for form in forms:
            if form not in spelled:
                spelled.append(form)
    return spelled


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
    _note_old_spellings(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # a bad argument (already reported on one line) or --help / --version
        return exc.code if isinstance(exc.code, int) else 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("docrec: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError, RuntimeError) as exc:  # a bad input found while working
        if os.environ.get("DOCREC_DEBUG"):
            raise
        return fail(f"docrec {args.command}", exc)
    except Exception as exc:  # a bug: still one line, the traceback on request
        if os.environ.get("DOCREC_DEBUG"):
            raise
        return fail(f"docrec {args.command}", f"internal error {type(exc).__name__}: {exc} "
                    "(DOCREC_DEBUG=1 shows the traceback; please report it)")


def _note_old_spellings(argv: list[str]) -> None:
    """One note per ``--snake_case`` option given: the ``--kebab-case`` spelling is the one to use."""
    seen = set()
    for token in argv:
        name = str(token).split("=", 1)[0]
        if name.startswith("--") and "_" in name and name not in seen:
            seen.add(name)
            print(f"docrec: note: {name} is the old spelling of {name.replace('_', '-')}; it still works for now",
                  file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
