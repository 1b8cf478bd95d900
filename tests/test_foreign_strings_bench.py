"""``benchmarks/foreign_strings.py`` builds its strings without ``data.synth``: pasted 28x28 arrays."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import foreign_strings as fs  # noqa: E402


def fake_mnist(n: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 28x28 white-on-black 'digits': a bar whose column encodes the label."""
    images = np.zeros((n, 28, 28), np.uint8)
    labels = np.arange(n) % 10
    for i, v in enumerate(labels):
        images[i, 4:24, 4 + 2 * v: 7 + 2 * v] = 255
    return images, labels


def test_strings_are_black_on_white_deterministic_and_labelled_in_order():
    images, labels = fake_mnist()
    a = fs.make_sets(images, labels, 4)
    b = fs.make_sets(images, labels, 4)
    assert list(a) == list(fs.CONDITIONS)
    for cond, (fields, texts) in a.items():
        assert len(fields) == len(texts) == 4
        for f, g, t in zip(fields, b[cond][0], texts):
            assert f.dtype == np.uint8 and f.shape[0] == fs.HEIGHT and np.array_equal(f, g)
            paper, ink = (0, 255) if cond == "white-on-black" else (255, 0)
            assert np.median(f) == paper and ink in f  # paper is the majority
            assert len(t) == fs.DIGITS and t.isdigit()
    # plain: five whole boxes side by side, 0-3 px apart, so the ink spans at least 5 bars
    f = a["plain"][0][0]
    cols = np.flatnonzero((f < 128).any(axis=0))
    assert cols[-1] - cols[0] >= 4 * 28 - 2 * 9


def test_pasting_overlaps_keep_the_darker_ink_and_stay_in_the_canvas():
    rng = np.random.default_rng(0)
    d = np.zeros((3, 28, 28), np.uint8)
    d[:, 2:26, 2:26] = 200
    out = fs.paste_string(d, rng, scale=(1.3, 1.3), jitter=20, gap=(-30, -29))
    assert out.shape[0] == fs.HEIGHT and out.min() == 55  # 255 - 200 where ink overlaps: not darker


def test_table_reads_the_results():
    res = {"systems": {"seg": {c: {"string_accuracy": 0.5} for c in fs.CONDITIONS}, "combo": {"plain": {"string_accuracy": 1.0}}}}
    table = fs.markdown(res).splitlines()
    assert table[0] == "| condition | seg | combo |"
    assert table[2] == "| `plain` | 50.0% | 100.0% |" and table[3] == "| `scale` | 50.0% | - |"
