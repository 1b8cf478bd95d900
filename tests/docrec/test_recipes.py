"""Training recipes (recipes/*.toml): every bundled weights file has one, each step is a command the
CLI parses, variables fill in, and `docrec train --recipe` runs or prints them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docrec import recipes
from docrec.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def test_every_bundled_weights_file_has_a_recipe_named_by_its_card():
    cards = sorted((ROOT / "docrec" / "weights").glob("*.json"))
    assert cards
    for card in cards:
        assert (ROOT / "recipes" / f"{card.stem}.toml").is_file(), card.stem
        assert json.loads(card.read_text()).get("recipe_file") == f"recipes/{card.stem}.toml"
        assert recipes.load(card.stem).weights == card.stem


@pytest.mark.parametrize("path", sorted((ROOT / "recipes").glob("*.toml")), ids=lambda p: p.stem)
def test_every_step_is_a_command_the_cli_parses(path):
    recipe = recipes.load(path)
    parser = build_parser()
    for argv in recipe.commands():
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # argparse says why on stderr
            pytest.fail(f"{path.name}: {argv} does not parse (exit {exc.code})")
        assert getattr(args, "func", None) is not None


def test_variables_overrides_and_dry_run(tmp_path, capsys):
    recipe = recipes.load("sdnn-strip-real")
    argv = recipe.commands({"fields": "/data/my cheques"})[0]
    assert "/data/my cheques" in argv and "../shared/data/orand_car_a" not in argv
    with pytest.raises(ValueError, match="unknown variable"):
        recipe.commands({"colour": "red"})
    assert main(["train", "--recipe", "sdnn-strip-real", "--set", f"fields={tmp_path}", "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert f"--real {tmp_path}" in err and "step 1/1" in err
    assert main(["train", "--recipe", "sdnn-strip-real", "--set", "fields"]) == 2
    assert "--set expects KEY=VALUE" in capsys.readouterr().err


def test_bad_recipe_files_are_named(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("weights = 'x'\n[[step]]\nrun = 'train sdnn --out {missing}'\n")
    with pytest.raises(ValueError, match=r"step 1 uses \{missing\}"):
        recipes.load(bad).commands()
    bad.write_text("weights = ")
    assert main(["train", "--recipe", str(bad)]) == 2
    assert "not valid TOML" in capsys.readouterr().err
