"""``docrec eval mnist`` and ``docrec train lenet`` end to end, on genuine MNIST digits."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from docrec.cli import main
from docrec.weights import available, load_model


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _run(capsys, argv):
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_bundled_lenet5_json_matches_direct_evaluation(capsys, mnist_dir, mnist_test):
    assert "lenet5" in available()
    rc, out, _ = _run(capsys, ["eval", "mnist", "--model", "lenet5", "--json", "--limit", "1000",
                               "--mnist", str(mnist_dir), "--threads", "1"])
    assert rc == 0
    res = json.loads(out)
    assert res["model"] == "lenet5" and res["n_test"] == 1000
    from data import to_lenet_input

    model = load_model("lenet5")
    with torch.no_grad():
        pred = model(to_lenet_input(mnist_test[0][:1000])).argmin(1)
    wrong = int((pred != torch.from_numpy(mnist_test[1][:1000])).sum())
    assert res["n_errors"] == wrong and res["test_error"] == pytest.approx(wrong / 1000)
    assert res["test_error"] < 0.03  # a trained network, not chance (0.9)
    conf = np.array(res["confusion"])
    assert conf.sum() == 1000 and np.trace(conf) == 1000 - wrong


def test_text_report_and_gallery(capsys, mnist_dir, tmp_path):
    png = tmp_path / "errors.png"
    rc, out, _ = _run(capsys, ["eval", "mnist", "--model", "lenet5", "--limit", "600", "--gallery", str(png),
                               "--mnist", str(mnist_dir)])
    assert rc == 0 and "confusion matrix" in out and png.stat().st_size > 1000


def test_bad_models_are_clear_errors(capsys, tmp_path):
    rc, _, err = _run(capsys, ["eval", "mnist", "--model", "lenet99"])
    assert rc == 2 and "neither bundled lenet weights" in err and "lenet5" in err
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00garbage")
    rc, _, err = _run(capsys, ["eval", "mnist", "--model", str(bad)])
    assert rc == 2 and "not a readable checkpoint" in err


def test_28x28_float_input_says_32x32_is_expected(capsys, tmp_path, mnist_test):
    imgs = tmp_path / "x.npy"
    labs = tmp_path / "y.npy"
    np.save(imgs, mnist_test[0][:20].astype(np.float32)[:, None] / 255.0)  # (20, 1, 28, 28) floats
    np.save(labs, mnist_test[1][:20])
    rc, _, err = _run(capsys, ["eval", "mnist", "--model", "lenet5", "--images", str(imgs), "--labels", str(labs)])
    assert rc == 2 and "(B, 1, 32, 32)" in err and "28x28" in err
    # raw uint8 MNIST-style digits are padded to 32x32 and work
    np.save(imgs, mnist_test[0][:20])
    rc, out, _ = _run(capsys, ["eval", "mnist", "--model", "lenet5", "--images", str(imgs), "--labels", str(labs),
                               "--json"])
    assert rc == 0 and json.loads(out)["n_test"] == 20
    np.save(labs, mnist_test[1][:19])
    rc, _, err = _run(capsys, ["eval", "mnist", "--model", "lenet5", "--images", str(imgs), "--labels", str(labs)])
    assert rc == 2 and "labels must be N=20" in err


def test_train_resume_then_eval(capsys, mnist_dir, tmp_path):
    out = tmp_path / "run" / "l5.pt"
    common = ["train", "lenet", "--arch", "lenet5", "--out", str(out), "--train-limit", "600",
              "--val-size", "100", "--batch-size", "8", "--threads", "1", "--no-bar", "--mnist", str(mnist_dir)]
    rc, _, _ = _run(capsys, common + ["--epochs", "1"])
    assert rc == 0 and out.exists() and out.with_suffix(".png").exists()
    rc, _, err = _run(capsys, common + ["--epochs", "2", "--resume"])
    assert rc == 0 and "resuming" in err
    run = json.loads(out.with_suffix(".json").read_text())
    assert [r["epoch"] for r in run["history"]] == [1, 2]
    assert run["meta"]["data"] == {"train": 500, "val": 100, "test": 10000, "source": "MNIST (genuine IDX files)"}
    rc, res, _ = _run(capsys, ["eval", "mnist", "--model", str(out), "--json", "--limit", "200",
                               "--mnist", str(mnist_dir)])
    assert rc == 0 and json.loads(res)["arch"] == "lenet5"
    # resuming with another architecture is refused clearly
    rc, _, err = _run(capsys, ["train", "lenet", "--arch", "lenet4", "--out", str(out), "--resume",
                               "--train-limit", "600", "--no-bar", "--mnist", str(mnist_dir)])
    assert rc == 2 and "expected 'lenet4'" in err
