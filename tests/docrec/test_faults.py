"""Faults and determinism: a training killed mid-run resumes from its last checkpoint; an interrupted
``synth`` leaves a usable folder; the same seed and data give the same weights."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from docrec.cli import main; sys.exit(main(sys.argv[1:]))", *args]


def env_with(mnist_dir: Path) -> dict:
    return {**os.environ, "DOCREC_MNIST_DIR": str(mnist_dir), "PYTHONPATH": str(ROOT)}


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    t0 = time.time()
    while not path.exists():
        assert proc.poll() is None, f"the run ended before writing {path}: {proc.stderr.read().decode()[-500:]}"
        assert time.time() - t0 < timeout, f"{path} never appeared"
        time.sleep(0.05)


def test_training_killed_mid_run_resumes_from_its_checkpoint(tmp_path, mnist_dir):
    ckpt = tmp_path / "m.pt"
    args = ["train", "lenet", "--arch", "lenet1", "--out", str(ckpt), "--epochs", "3", "--train-limit", "3000",
            "--val-size", "500", "--threads", "1", "--no-bar", "--mnist", str(mnist_dir)]
    proc = subprocess.Popen(cli(*args), env=env_with(mnist_dir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(ckpt, proc)  # the checkpoint of epoch 1, written atomically
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    blob = torch.load(ckpt, map_location="cpu", weights_only=True)  # not torn
    done = len(blob["history"])
    assert 1 <= done <= 3
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temp file left behind
    out = subprocess.run(cli(*args, "--resume"), env=env_with(mnist_dir), capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-800:]
    history = torch.load(ckpt, map_location="cpu", weights_only=True)["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]


def test_interrupted_synth_leaves_a_usable_folder(tmp_path, mnist_dir):
    from data.folder import FieldFolder

    out = tmp_path / "fields"
    proc = subprocess.Popen(cli("synth", "--count", "5000", "--out", str(out), "--quiet", "--mnist-dir",
                                str(mnist_dir)), env=env_with(mnist_dir), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        wait_for(out / "000020.png", proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not (out / "synth.json").exists()  # the marker of a complete run is absent
    rows = list(csv.reader((out / "labels.csv").open()))
    assert rows[0] == ["path", "text"] and len(rows) > 10
    folder = FieldFolder(out)  # every listed image exists and reads (a last torn row may be dropped)
    assert len(folder) >= len(rows) - 2
    assert all(item.path.is_file() for item in folder.items)


def test_same_seed_same_weights(tmp_path, mnist_dir):
    def train(name: str) -> dict:
        out = subprocess.run(cli("train", "lenet", "--arch", "lenet1", "--out", str(tmp_path / name), "--epochs",
                                 "1", "--train-limit", "1000", "--val-size", "0", "--seed", "7", "--threads", "1",
                                 "--no-bar", "--mnist", str(mnist_dir)),
                             env=env_with(mnist_dir), capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr[-800:]
        return torch.load(tmp_path / name, map_location="cpu", weights_only=True)["state_dict"]

    a, b = train("a.pt"), train("b.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
