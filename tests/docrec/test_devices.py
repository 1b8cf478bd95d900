"""``--device`` (docrec.devices): parsed and checked in one place, the CPU gives the default's
results, a missing GPU is a one-line error, and (where a GPU exists) CUDA matches the CPU."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from docrec.cli import main
from docrec.devices import check_device, default_device, device_problem, resolve_device, to_graph_device

SAMPLES = Path(__file__).resolve().parents[2] / "docrec" / "samples"
NO_CUDA = "no CUDA device on this machine (torch.cuda.is_available() is False)"


def run(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_names_are_parsed_and_checked():
    assert check_device("cpu") == torch.device("cpu")
    assert check_device(" CPU ") == torch.device("cpu")
    assert resolve_device(None, training=False) == torch.device("cpu")
    assert default_device(training=True).type == ("cuda" if torch.cuda.is_available() else "cpu")
    for bad in ("tpu", "", "cuda:", "cuda:x", "cpu:0", "mps:1"):
        assert "is not a device" in device_problem(bad), bad
    with pytest.raises(ValueError, match=r"^\[docrec.check_device\] 'gpu' is not a device"):
        check_device("gpu")
    assert device_problem("cuda:99") is not None


def test_graph_side_transfer_keeps_the_gradient():
    x = torch.ones(3, requires_grad=True)
    y = to_graph_device(x * 2)
    assert y.device.type == "cpu"
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the missing-GPU error cannot occur")
@pytest.mark.parametrize("argv", [
    ["recognize", str(SAMPLES / "000000.png"), "--device", "cuda"],
    ["eval", "mnist", "--model", "lenet5", "--limit", "10", "--device", "cuda"],
    ["train", "lenet", "--out", "{tmp}/x.pt", "--epochs", "1", "--device", "cuda"],
    ["train", "sdnn", "--way", "1", "--out", "{tmp}/sdnn", "--device", "cuda"],
    ["train", "seg", "local", "--work", "{tmp}/seg", "--device", "cuda"],
])
def test_cuda_without_a_gpu_is_a_one_line_error(argv, tmp_path, capsys):
    code, out, err = run(capsys, [a.format(tmp=tmp_path) for a in argv])
    lines = err.strip().splitlines()
    assert code == 2 and out == ""
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith("docrec ") and "--device" in lines[0]
    assert "cuda: CUDA is not available on this machine" in lines[0]
    assert not any(tmp_path.iterdir())  # refused before any work


@pytest.mark.parametrize("system", ["seg", "sdnn", "combo"])
def test_cpu_reads_like_the_default(system, capsys):
    inputs = [str(SAMPLES / "000000.png"), str(SAMPLES / "000001.png")]
    common = ["recognize", *inputs, "--system", system, "--grammar", "zip", "--json", "--quiet"]
    code_a, default, _ = run(capsys, common)
    code_b, on_cpu, _ = run(capsys, common + ["--device", "cpu"])
    assert code_a == code_b == 0
    assert [json.loads(line) for line in on_cpu.splitlines()] == [json.loads(line) for line in default.splitlines()]
    assert len(default.splitlines()) == 2


def test_cpu_evaluates_mnist_like_the_default(capsys, mnist_dir):
    base = ["eval", "mnist", "--model", "lenet5", "--limit", "300", "--json", "--quiet"]
    code_a, default, _ = run(capsys, base)
    code_b, on_cpu, _ = run(capsys, base + ["--device", "cpu"])
    a, b = json.loads(default), json.loads(on_cpu)
    assert code_a == code_b == 0 and a["n_test"] == 300
    assert a["test_error"] == b["test_error"] and a["confusion"] == b["confusion"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="with CUDA the default training device is not the CPU")
def test_cpu_trains_lenet_like_the_default(tmp_path, capsys, mnist_dir):
    base = ["train", "lenet", "--arch", "lenet5", "--optimizer", "sgd", "--lr", "0.01", "--epochs", "1",
            "--train-limit", "256", "--threads", "1", "--quiet"]
    assert run(capsys, base + ["--out", str(tmp_path / "a.pt")])[0] == 0
    assert run(capsys, base + ["--out", str(tmp_path / "b.pt"), "--device", "cpu"])[0] == 0
    a = torch.load(tmp_path / "a.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "b.pt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ----------------------------------------------------------------------------------------- CUDA smoke
@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)
def test_cuda_trains_a_few_steps():
    from lenet.models import LeNet5
    from lenet.train import Split, TrainConfig, make_optimizer, train_epoch

    g = torch.Generator().manual_seed(0)
    data = Split(torch.rand(96, 1, 32, 32, generator=g), torch.randint(0, 10, (96,), generator=g))
    cfg = TrainConfig(epochs=1, optimizer="sgd", batch_size=32, lr=0.01)
    torch.manual_seed(0)
    model = LeNet5().cuda()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    record = train_epoch(model, make_optimizer(model, cfg), data, cfg, 0)
    assert np.isfinite(record["train_loss"])
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert next(model.parameters()).is_cuda


@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)
@pytest.mark.parametrize("system", ["seg", "sdnn"])
def test_cuda_reads_like_the_cpu(system):
    from docrec.recognizers import get_recognizer

    image = cv2.imread(str(SAMPLES / "000000.png"), cv2.IMREAD_GRAYSCALE)
    cpu = get_recognizer(system, device="cpu").recognize([image], grammar="zip")[0]
    gpu = get_recognizer(system, device="cuda").recognize([image], grammar="zip")[0]
    assert gpu.text == cpu.text
    assert gpu.penalty == pytest.approx(cpu.penalty, rel=1e-3, abs=1e-3)
    assert gpu.confidence == pytest.approx(cpu.confidence, abs=1e-3)
