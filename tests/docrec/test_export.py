"""ONNX export (docrec.export, ``docrec export onnx``): onnxruntime against PyTorch on real inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("onnx", reason="onnx not installed (pip install 'docrec[onnx]')")
pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install 'docrec[onnx]')")

from docrec.cli import main  # noqa: E402
from docrec.export import export_onnx, load_exportable, run_onnx, sample_input  # noqa: E402


def _difference(path, net, x: torch.Tensor) -> tuple[float, float]:
    """``(max |onnxruntime - PyTorch|, max |PyTorch|)``; shapes must agree."""
    with torch.no_grad():
        ref = net.module(x).numpy()
    got = run_onnx(path, x)
    assert got.shape == ref.shape
    return float(np.abs(got - ref).max()), float(np.abs(ref).max())


def _close(diff: float, scale: float) -> bool:
    """float32 rounding: 1e-5 absolute, or 1e-6 of the penalties' size (RBF penalties reach hundreds)."""
    return diff <= 1e-5 + 1e-6 * scale


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx")
    nets = {name: load_exportable(name) for name in ("lenet5", "modern", "sdnn", "sdnn-strip")}
    return {name: (net, export_onnx(net, out / f"{name}.onnx")) for name, net in nets.items()}


@pytest.mark.parametrize("name", ["lenet5", "modern"])
def test_digit_networks_match_on_mnist(exported, mnist_test, name):
    from data import to_lenet_input

    net, path = exported[name]
    images, _ = mnist_test
    for x in (to_lenet_input(images[:1]), to_lenet_input(images[:64])):  # batch 1 and 64
        diff, scale = _difference(path, net, x)
        assert _close(diff, scale), (name, tuple(x.shape), diff, scale)
    pen = run_onnx(path, to_lenet_input(images[:200]))
    assert (pen.argmin(1) == mnist_test[1][:200]).mean() > 0.95


@pytest.mark.parametrize("name", ["sdnn", "sdnn-strip"])
def test_strip_networks_match_on_real_fields(exported, name):
    net, path = exported[name]
    strips = sample_input("strip", batch=4)  # four real fields cut to one width
    for x in (strips, strips[:1], strips[:2, ..., :72]):  # batch 4, 1; a second width
        diff, scale = _difference(path, net, x)
        assert _close(diff, scale), (name, tuple(x.shape), diff, scale)
        assert run_onnx(path, x).shape[1] == (x.shape[3] - 32) // 4 + 1


def test_strip_net_is_what_the_recogniser_runs(exported):
    """The exported StripNet on one whole field equals the recogniser's frame penalties (packed path)."""
    from docrec.recognizers.sdnn import SDNNRecognizer

    _, path = exported["sdnn-strip"]
    rec = SDNNRecognizer("sdnn-strip")
    x = sample_input("strip", batch=2)
    for b in range(2):
        want, _ = rec.frame_penalties([x[b, 0].numpy()])
        assert np.abs(run_onnx(path, x[b: b + 1]) - want.numpy()).max() < 1e-4
    with torch.no_grad():
        packed = rec.sdnn(x)
        plain = rec.sdnn.forward_full_width(x)
    torch.testing.assert_close(plain, packed, atol=1e-5, rtol=0)


def test_cli_exports_and_checks(tmp_path, capsys):
    out = tmp_path / "seg.onnx"
    assert main(["export", "onnx", "--model", "seg-modern", "--out", str(out), "--check"]) == 0
    text = capsys.readouterr().out
    assert out.is_file() and "max abs difference" in text
    assert float(text.rsplit(" ", 1)[1]) < 1e-4


@pytest.mark.parametrize("args, problem", [
    (["--model", "no-such-weights"], "neither bundled"),
    (["--model", "sdnn-modern"], "not exported"),
    (["--model", "lenet5", "--opset", "5"], "--opset"),
])
def test_cli_bad_models_are_one_line(tmp_path, capsys, args, problem):
    assert main(["export", "onnx", *args, "--out", str(tmp_path / "x.onnx")]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and problem in err
    assert not (tmp_path / "x.onnx").exists()


def test_cli_refuses_a_folder_as_out(tmp_path, capsys):
    assert main(["export", "onnx", "--model", "lenet5", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "existing folder" in err


def test_cli_without_onnx_says_what_to_install(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    assert main(["export", "onnx", "--model", "lenet5", "--out", str(tmp_path / "x.onnx")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'docrec[onnx]'" in err
