"""``docrec synth`` and ``docrec demo`` through the real command-line entry point."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from data.folder import FieldFolder
from data.synth import DigitPool, SynthConfig, synthesize
from data.texts import AMOUNT_REGEX, CHEQUE_REGEX
from docrec.cli import main


def test_synth_writes_a_dataset_folder_reads(tmp_path, mnist_dir, mnist_test):
    out = tmp_path / "amounts"
    argv = ["synth", "--kind", "amount", "--count", "12", "--split", "test", "--seed", "3", "--out", str(out),
            "--spacing", "touching", "--background", "lined", "--mnist-dir", str(mnist_dir), "--quiet"]
    assert main(argv) == 0
    ff = FieldFolder(out, decode=True)
    assert len(ff) == 12
    # The CLI writes exactly what the library generates for the same settings.
    ref = synthesize("amount", 12, split="test", seed=3, config=SynthConfig(spacing="touching", background="lined"),
                     pool=DigitPool(*mnist_test, split="test"))
    for (img, text), f in zip(ff, ref):
        assert text == f.text and AMOUNT_REGEX.fullmatch(text)
        assert np.array_equal(img, f.image) and img.shape[0] == 32
    meta = [json.loads(line) for line in (out / "meta.jsonl").read_text().splitlines()]
    assert [m["text"] for m in meta] == ff.texts
    assert all(m["split"] == "test" and len(m["boxes"]) == len(m["text"]) for m in meta)
    assert json.loads((out / "synth.json").read_text())["config"]["spacing"] == "touching"
    # A second run refuses to overwrite, unless forced.
    assert main(argv) == 2
    assert main(argv + ["--force", "--count", "3"]) == 0 and len(FieldFolder(out)) == 3


def test_synth_options(tmp_path, mnist_dir):
    out = tmp_path / "d"
    assert main(["synth", "--kind", "digits", "--count", "4", "--min-len", "7", "--max-len", "7", "--height",
                 "natural", "--spacing", "3:4", "--out", str(out), "--mnist-dir", str(mnist_dir), "--quiet"]) == 0
    ff = FieldFolder(out)
    assert all(len(t) == 7 and t.isdigit() for t in ff.texts)
    assert any(img.shape[0] != 32 for img, _ in ff)


def test_synth_realistic_cheques(tmp_path, mnist_dir, mnist_test):
    out = tmp_path / "cheques"
    argv = ["synth", "--kind", "cheque", "--realistic", "--colour", "--count", "6", "--split", "test", "--seed", "2",
            "--out", str(out), "--mnist-dir", str(mnist_dir), "--quiet"]
    assert main(argv) == 0
    ref = synthesize("cheque", 6, split="test", seed=2, config=SynthConfig.realistic(colour=True),
                     pool=DigitPool(*mnist_test, split="test"))
    meta = [json.loads(line) for line in (out / "meta.jsonl").read_text().splitlines()]
    for f, m in zip(ref, meta):
        assert m["text"] == f.text and CHEQUE_REGEX.fullmatch(f.text) and m["end_mark"] == f.end_mark
        img = cv2.imread(str(out / m["path"]), 1)[..., ::-1]  # written as BGR PNG
        assert np.array_equal(img, f.image) and img.ndim == 3
    assert json.loads((out / "synth.json").read_text())["config"]["realism"]["colour"] is True
    # Explicit options override the preset; grey output by default.
    assert main(argv[:4] + ["--count", "2", "--height", "40", "--background", "form", "--out", str(tmp_path / "g"),
                            "--mnist-dir", str(mnist_dir), "--quiet"]) == 0
    settings = json.loads((tmp_path / "g" / "synth.json").read_text())["config"]
    assert settings["height"] == 40 and settings["background"] == "form" and settings["realism"]["colour"] is False
    assert all(img.ndim == 2 for img, _ in FieldFolder(tmp_path / "g"))


def test_synth_bad_arguments(tmp_path, mnist_dir, capsys):
    assert main(["synth", "--spacing", "squashed", "--out", str(tmp_path)]) == 2
    assert "argument --spacing" in capsys.readouterr().err
    assert main(["synth", "--count", "0", "--out", str(tmp_path), "--quiet"]) == 2
    assert "argument --count: must be >= 1" in capsys.readouterr().err
    assert main(["synth", "--height", "3", "--out", str(tmp_path), "--quiet"]) == 2
    assert "height 3" in capsys.readouterr().err
    assert main(["synth", "--colour", "--out", str(tmp_path), "--quiet"]) == 2
    assert "--colour needs --realistic" in capsys.readouterr().err
    assert main(["synth", "--out", str(tmp_path), "--mnist-dir", str(tmp_path / "none"), "--no-download",
                 "--quiet"]) == 1
    assert "cannot load MNIST" in capsys.readouterr().err


def test_demo_lists_bundled_samples(capsys):
    assert main(["demo", "--no-art"]) == 0
    out = capsys.readouterr().out
    samples = FieldFolder(__import__("docrec.commands.demo", fromlist=["SAMPLES"]).SAMPLES)
    assert all(f"true: {t}" in out for t in samples.texts)


def test_demo_synthesises_fresh_fields(tmp_path, mnist_dir, capsys):
    assert main(["demo", "--synth", "--count", "2", "--out", str(tmp_path), "--mnist-dir", str(mnist_dir)]) == 0
    texts = FieldFolder(tmp_path).texts
    out = capsys.readouterr().out
    assert len(texts) == 2 and all(f"true: {t}" in out for t in texts)
    assert "@" in out or "%" in out  # the text-art pictures show ink
