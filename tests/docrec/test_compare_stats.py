"""docrec.compare.stats against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from docrec.compare import stats


def test_wilson_hand_computed():
    # 8 of 10, z = 1.96: centre (0.8 + 3.8416/20) / 1.38416 = 0.716767, half 1.416020 * sqrt(0.016 + 0.009604)
    lo, hi = stats.wilson(8, 10, z=1.96)
    centre = (0.8 + 1.96 ** 2 / 20) / (1 + 1.96 ** 2 / 10)
    half = 1.96 / (1 + 1.96 ** 2 / 10) * math.sqrt(0.016 + 1.96 ** 2 / 400)
    assert (lo, hi) == pytest.approx((centre - half, centre + half))
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    # 0 of 10: the interval is [0, z^2 / (n + z^2)] = [0, 0.2775]
    assert stats.wilson(0, 10, z=1.96) == pytest.approx((0.0, 3.8416 / 13.8416))
    # symmetric about 1/2 for k = n/2, and narrower with more fields
    lo, hi = stats.wilson(50, 100)
    assert lo + hi == pytest.approx(1.0)
    assert hi - lo > stats.wilson(500, 1000)[1] - stats.wilson(500, 1000)[0]
    assert stats.wilson(0, 0) == (0.0, 1.0)


def test_wilson_rejects_bad_counts():
    with pytest.raises(ValueError, match="k=11"):
        stats.wilson(11, 10)
    with pytest.raises(ValueError):
        stats.wilson(-1, 10)


def test_mcnemar_exact_hand_computed():
    # b = 1, c = 9: 2 * P(X <= 1), X ~ Bin(10, 1/2) = 2 * 11 / 1024
    assert stats.mcnemar_exact(1, 9) == pytest.approx(22 / 1024)
    assert stats.mcnemar_exact(9, 1) == pytest.approx(22 / 1024)
    assert stats.mcnemar_exact(0, 3) == pytest.approx(0.25)
    assert stats.mcnemar_exact(5, 5) == 1.0
    assert stats.mcnemar_exact(0, 0) == 1.0
    # 0 vs 10: 2 / 1024
    assert stats.mcnemar_exact(0, 10) == pytest.approx(2 / 1024)
    with pytest.raises(ValueError):
        stats.mcnemar_exact(-1, 2)


def test_bootstrap_cer():
    # every field has the same rate: every resample gives 3/15, the interval has no width
    assert stats.bootstrap_cer([1, 1, 1], [5, 5, 5]) == pytest.approx((0.2, 0.2, 0.2))
    rng = np.random.default_rng(3)
    d = rng.integers(0, 3, size=200)
    lengths = np.full(200, 5)
    cer, lo, hi = stats.bootstrap_cer(d, lengths, seed=1)
    assert cer == pytest.approx(d.sum() / 1000)
    assert lo < cer < hi
    # about +-1.96 standard errors of the mean rate
    se = d.std() / 5 / math.sqrt(200)
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.2)
    assert stats.bootstrap_cer(d, lengths, seed=1) == (cer, lo, hi)  # deterministic for a seed
    with pytest.raises(ValueError, match="same length"):
        stats.bootstrap_cer([1, 2], [3])


def test_reject_curve_and_operating_point():
    curve = stats.reject_curve([0.9, 0.8, 0.7, 0.6], [True, True, False, True])
    assert curve["rejected"] == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.0])
    assert curve["error"] == pytest.approx([0.0, 0.0, 0.0, 0.25, 0.25])
    assert curve["accuracy"] == pytest.approx([0.0, 0.25, 0.5, 0.5, 0.75])
    assert stats.operating_point(curve) == pytest.approx({"rejected": 0.5, "error": 0.0, "accuracy": 0.5})
    # tied confidences are accepted together: no cut between the two 0.9 fields
    tied = stats.reject_curve([0.9, 0.9, 0.5], [True, False, True])
    assert tied["rejected"] == pytest.approx([1.0, 1 / 3, 0.0])
    assert tied["error"] == pytest.approx([0.0, 1 / 3, 1 / 3])


def test_cross_fitted_at_error():
    # even fields (0, 2, 4) fit: surest wrong is 0.5, so threshold 0.7 -> odd fields 0.8 (right), 0.6 (rejected);
    # odd fields (1, 3, 5) fit: 0.4 is wrong, so threshold 0.6 -> even fields 0.9, 0.7 right, 0.5 rejected
    conf = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    ok = [True, True, True, True, False, False]
    res = stats.cross_fitted_at_error(conf, ok)
    assert res["accepted_right"] == 3 and res["accepted_wrong"] == 0
    assert res["accuracy"] == pytest.approx(0.5) and res["rejected"] == pytest.approx(0.5)


def test_agreement_counts_and_oracle():
    a = [True, True, False, False, True]
    b = [True, False, True, False, False]
    res = stats.agreement(a, b)
    assert (res["both"], res["only_a"], res["only_b"], res["neither"]) == (1, 2, 1, 1)
    assert res["oracle"] == pytest.approx(0.8)
    assert res["mcnemar_p"] == pytest.approx(stats.mcnemar_exact(2, 1))
    with pytest.raises(ValueError, match="not the same fields"):
        stats.agreement([True], [True, False])
