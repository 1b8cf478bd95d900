"""The newcomer examples in examples/ run and print what they promise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(name: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, str(ROOT / "examples" / name)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_graph_basics_example():
    text = _run("graph_basics.py")
    assert "best path labels [1, 4] penalty 0.5" in text
    assert "text '14'" in text and "discriminative forward loss" in text


def test_read_fields_example():  # needs the bundled weights, which every clone has
    text = _run("read_fields.py")
    for system in ("seg", "sdnn", "combo"):
        line = next(l for l in text.splitlines() if l.startswith(f"{system}: "))
        correct, total = line.split()[1].split("/")
        assert int(total) == 8 and int(correct) >= 6, line  # all read most of the 8 samples
