"""``docrec compare mnist``: the paper's Fig. 9 from the bundled LeNet family on the MNIST test set."""

from __future__ import annotations

import json

import pytest

from docrec.cli import main
from docrec.compare import mnist


def test_fig9_rows_measured_beside_the_paper(tmp_path, mnist_dir, monkeypatch):
    rows = mnist.LENET_ROWS[:1] + (("LeNet-7 (never trained)", "no-such-lenet", 0.5),) + mnist.LENET_ROWS[3:4]
    monkeypatch.setattr(mnist, "LENET_ROWS", rows)
    assert main(["compare", "mnist", "--out", str(tmp_path), "--mnist-dir", str(mnist_dir), "--quiet"]) == 0
    doc = json.loads((tmp_path / "mnist.json").read_text())
    by_label = {r["label"]: r for r in doc["rows"]}
    lenet5 = by_label["LeNet-5"]["measured"]
    assert doc["digits"] == 10_000 and lenet5["digits"] == 10_000
    assert lenet5["error"] == pytest.approx(lenet5["errors"] / 10_000)
    lo, hi = lenet5["error_ci"]
    assert lo < lenet5["error"] < hi and hi - lo < 0.005
    assert lenet5["error"] < 0.012  # the bundled LeNet-5 is near the paper's 0.95%, not a broken model
    assert by_label["LeNet-5"]["paper"] == 0.95
    assert by_label["LeNet-7 (never trained)"]["measured"] is None
    assert by_label["linear"]["paper"] == 12.0 and "measured" not in by_label["linear"]
    report = (tmp_path / "mnist.md").read_text()
    assert "| LeNet-7 (never trained) | 0.5% | not bundled: not measured |" in report
    assert f"{100 * lenet5['error']:.2f}%" in report
    assert (tmp_path / "mnist.png").stat().st_size > 5000
    # measured once: a second run reads the cache
    cached = list((tmp_path / "cache").glob("mnist-lenet5-*.json"))
    assert len(cached) == 1


def test_unknown_model_is_one_line(tmp_path, mnist_dir, capsys):
    assert main(["compare", "mnist", "--models", "lenet9", "--out", str(tmp_path), "--mnist-dir", str(mnist_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'lenet9'" in err
