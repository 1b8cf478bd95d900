"""``make bench``'s runner lists real scripts and refuses unknown names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_run_all_lists_existing_scripts_and_rejects_unknown():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--list"],
                         capture_output=True, text=True, timeout=60)
    names = out.stdout.split()
    assert out.returncode == 0 and "strings.py" in names and "gtn_ops.py" in names
    assert all((ROOT / "benchmarks" / n).is_file() for n in names)
    bad = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--only", "nope.py"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown script" in bad.stderr
