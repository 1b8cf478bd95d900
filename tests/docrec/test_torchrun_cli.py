"""``torchrun --nproc_per_node=2 -m docrec train lenet``: two real ranks through the command line.
Rank 0 alone reports and writes the checkpoint, ``--resume`` continues from it, and both runs
exit 0 (a rank aborting at exit would fail them: docs/devices.md#several-processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.ranks import free_port

ROOT = Path(__file__).resolve().parents[2]


def torchrun(*args: str, mnist_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "DOCREC_PIN_CORES": "0",
           "DOCREC_MNIST_DIR": str(mnist_dir)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master-port={free_port()}",
           "-m", "docrec", *args]
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_two_ranks_train_report_once_and_resume(tmp_path, mnist_dir):
    if not torch.distributed.is_available():
        pytest.skip("torch.distributed is not available in this build")
    ckpt = tmp_path / "m.pt"
    args = ["train", "lenet", "--arch", "lenet1", "--out", str(ckpt), "--train-limit", "2000", "--val-size", "500",
            "--threads", "1", "--no-bar", "--mnist", str(mnist_dir)]
    first = torchrun(*args, "--epochs", "1", mnist_dir=mnist_dir)
    assert first.returncode == 0, first.stderr[-1500:]
    reports = [json.loads(line) for line in first.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == 1 and reports[0]["processes"] == 2  # rank 0 alone reports
    assert first.stderr.count("epoch 1/1") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.png", "m.pt"]  # one writer, no temp left
    assert [h["epoch"] for h in torch.load(ckpt, map_location="cpu", weights_only=True)["history"]] == [1]

    second = torchrun(*args, "--epochs", "2", "--resume", mnist_dir=mnist_dir)
    assert second.returncode == 0, second.stderr[-1500:]
    assert "epoch 1/2" not in second.stderr and second.stderr.count("epoch 2/2") == 1  # continued, not restarted
    assert [h["epoch"] for h in torch.load(ckpt, map_location="cpu", weights_only=True)["history"]] == [1, 2]
