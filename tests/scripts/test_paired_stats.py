"""The statistics behind CLAIMS.md on constructed data with known answers (scripts/paired_stats.py)."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import paired_stats as ps  # noqa: E402


def test_paired_t_interval_and_p_match_the_textbook_values():
    test = ps.t_test([1.0, 2.0, 3.0, 4.0, 5.0])
    # mean 3, sd sqrt(2.5), t(0.975, 4) = 2.7764: half-width 1.9632; t = 4.2426, p = 0.01324
    assert (test.n, test.mean, test.sd) == (5, 3.0, pytest.approx(math.sqrt(2.5)))
    assert (test.lo, test.hi) == (pytest.approx(1.0368, abs=1e-4), pytest.approx(4.9632, abs=1e-4))
    assert test.p == pytest.approx(0.01324, abs=1e-5)
    assert ps.t_test([0.1, 0.1, 0.1]).p == pytest.approx(0.25)  # sd 0: the exact sign-flip p, 2 / 2^3
    assert math.isnan(ps.t_test([1.0]).p) and ps.t_test([0.0, 0.0]).p == 1.0


def test_t_interval_keeps_its_coverage_at_three_pairs_where_a_bootstrap_does_not():
    rng = np.random.default_rng(0)
    draws = rng.normal(size=(2000, 3))
    t_cover = np.mean([(lambda t: t.lo <= 0 <= t.hi)(ps.t_test(d)) for d in draws])
    boot = [np.percentile(d[rng.integers(0, 3, size=(400, 3))].mean(1), [2.5, 97.5]) for d in draws[:500]]
    boot_cover = np.mean([lo <= 0 <= hi for lo, hi in boot])
    assert 0.93 < t_cover < 0.97  # nominal 95 %
    assert boot_cover < 0.85  # the percentile bootstrap of 3 pairs is about [min, max]: 75 %


def test_sign_flip_p_is_exact():
    assert ps.sign_flip_p([1.0, 2.0, 3.0]) == pytest.approx(2 / 8)
    assert ps.sign_flip_p([1.0] * 6) == pytest.approx(2 / 64)
    assert ps.sign_flip_p([1.0, -1.0]) == 1.0
    assert ps.sign_flip_p(np.arange(1.0, 21.0)) < 1e-4  # Monte Carlo beyond 16 pairs


def test_holm_adjusts_in_step_down_order():
    assert ps.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    adjusted = ps.holm([0.5, float("nan"), 0.001])
    assert adjusted[0] == pytest.approx(0.5) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.002)


def test_power_mde_and_pairs_needed_match_known_designs():
    assert ps.power(0.0, 1.0, 10) == pytest.approx(0.05)  # no effect: the test's size
    assert ps.pairs_for_power(0.5, 1.0) == 34  # the classic paired design: d = 0.5, 80 % power, alpha 0.05
    mde = ps.min_detectable_effect(1.0, 34)
    assert mde == pytest.approx(0.495, abs=2e-3)  # (t(.975, 33) + t(.8, 33)) / sqrt(34) = 0.4952
    assert ps.power(mde, 1.0, 34) == pytest.approx(0.8)
    assert ps.pairs_for_power(0.0, 1.0) == math.inf


def test_the_procedure_decides_nothing_on_pure_noise_and_finds_a_real_effect():
    rng = np.random.default_rng(1)
    family = [ps.t_test(rng.normal(size=6)).p for _ in range(20)] + [ps.t_test(rng.normal(3.0, 0.5, size=6)).p]
    adjusted = ps.holm(family)
    assert sum(p < ps.ALPHA for p in adjusted[:20]) == 0 and adjusted[20] < ps.ALPHA
