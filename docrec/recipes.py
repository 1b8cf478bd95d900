"""Training recipes as files: ``recipes/NAME.toml`` records how ``docrec/weights/NAME.pt`` was made.

A recipe holds ``weights`` (the bundled name it makes), a ``description``, optional ``[vars]`` (e.g.
``fields``, the labelled folder; ``--set fields=/my/folder`` overrides), and ``[[step]]`` tables whose
``run`` is a ``docrec`` command line with ``{var}`` placeholders. ``after`` lists what was done by
hand once the steps finished (copying the result into ``docrec/weights/``, calibrating). That part is
shown, never run. ``docrec train --recipe FILE`` runs the steps in order and stops at the first one
that fails; ``--dry-run`` only prints them.
"""

from __future__ import annotations

import shlex
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


@dataclass
class Recipe:
    """A parsed recipe file."""

    path: Path
    weights: str
    description: str = ""
    variables: dict = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)

    def commands(self, overrides: dict | None = None) -> list[list[str]]:
        """Every step as an argv for :func:`docrec.cli.main`, ``{var}`` filled in.

        Raises:
            ValueError: a placeholder without a value, or an override of an unknown variable.
        """
        unknown = sorted(set(overrides or {}) - set(self.variables))
        if unknown:
            raise ValueError(f"[docrec.recipes] {self.path.name}: unknown variable(s) {', '.join(unknown)}; "
                             f"it has {sorted(self.variables) or 'none'}")
        values = {**self.variables, **(overrides or {})}
        out = []
        for k, step in enumerate(self.steps):
            try:  # split first, so that a value with spaces stays one argument
                out.append([token.format(**values) for token in shlex.split(step)])
            except (KeyError, IndexError) as exc:
                raise ValueError(f"[docrec.recipes] {self.path.name}: step {k + 1} uses {{{exc.args[0]}}}, "
                                 "which has no value") from None
        return out


def resolve(name_or_path: str | Path) -> Path:
    """A recipe file, or the bundled recipe of that weights name (``sdnn-strip`` -> recipes/sdnn-strip.toml)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    bundled = RECIPES / f"{path.name}.toml"
    if path.suffix == "" and bundled.is_file():
        return bundled
    raise FileNotFoundError(f"[docrec.recipes] no recipe {str(name_or_path)!r} (a .toml file, or one of "
                            f"{', '.join(sorted(p.stem for p in RECIPES.glob('*.toml')))})")


def load(name_or_path: str | Path) -> Recipe:
    """Read and check a recipe.

    Raises:
        FileNotFoundError: no such recipe. ValueError: not TOML, or a missing / malformed key.
    """
    path = resolve(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"[docrec.recipes] {path}: not valid TOML: {exc}") from None
    steps = data.get("step", [])
    if not isinstance(data.get("weights"), str) or not steps:
        raise ValueError(f"[docrec.recipes] {path}: needs weights = \"NAME\" and at least one [[step]] run = \"...\"")
    runs = []
    for k, step in enumerate(steps):
        if not isinstance(step, dict) or not isinstance(step.get("run"), str):
            raise ValueError(f"[docrec.recipes] {path}: step {k + 1} has no run = \"docrec arguments\"")
        runs.append(step["run"])
    variables = data.get("vars", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise ValueError(f"[docrec.recipes] {path}: [vars] must map names to strings")
    return Recipe(path, data["weights"], str(data.get("description", "")), dict(variables), runs,
                  [str(a) for a in data.get("after", [])])


def parse_sets(items: list[str] | None) -> dict:
    """``["KEY=VALUE", ...]`` -> dict (ValueError naming a malformed item)."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"[docrec.recipes] --set expects KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def run(recipe: Recipe, *, overrides: dict | None = None, dry_run: bool = False, log=None) -> int:
    """Run (or with ``dry_run`` print) the recipe's steps through the CLI; the first failing step's
    exit code, else 0."""
    from docrec.cli import main

    log = log or (lambda msg: print(msg, file=sys.stderr))
    commands = recipe.commands(overrides)
    for k, argv in enumerate(commands, 1):
        log(f"[{recipe.path.name} step {k}/{len(commands)}] docrec {shlex.join(argv)}")
        if dry_run:
            continue
        code = main(argv)
        if code:
            log(f"[{recipe.path.name}] step {k} failed with exit code {code}; stopping")
            return code
    for item in recipe.after:
        log(f"[{recipe.path.name}] then, by hand: {item}")
    return 0


__all__ = ["RECIPES", "Recipe", "load", "parse_sets", "resolve", "run"]
