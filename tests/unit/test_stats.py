"""Tests for metrics.stats and metrics.bands, with the expected values worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as sps

from metrics.bands import METRICS, YEARS, Band, bands
from metrics.stats import (
    Trend,
    mann_kendall,
    median_ci,
    order_statistic_ranks,
    trend,
    wilson_interval,
)

# --------------------------------------------------------------------------------------------
# median_ci


def test_median_ci_n10_uses_second_and_ninth_order_statistics():
    # B ~ Bin(10, 1/2); P(B <= 1) = (1 + 10) / 1024 = 11/1024.
    # j = 2: coverage P(2 <= B <= 8) = 1 - 2 * 11/1024 = 1002/1024 = 0.978515625 >= 0.95.
    # j = 3: P(B <= 2) = (1 + 10 + 45) / 1024 = 56/1024; coverage 1 - 112/1024 = 0.890625 < 0.95.
    # So the narrowest is j = 2: (x_(2), x_(10-2+1)) = (x_(2), x_(9)) = (2, 9).
    assert order_statistic_ranks(10) == (2, 9)
    assert median_ci(list(range(1, 11))) == (2.0, 9.0)


def test_median_ci_order_does_not_matter():
    assert median_ci([9, 1, 10, 3, 2, 8, 4, 7, 6, 5]) == (2.0, 9.0)


def test_median_ci_n5_is_too_small():
    # j = 1 is the widest possible: coverage 1 - 2 * P(B <= 0) = 1 - 2/32 = 0.9375 < 0.95.
    assert order_statistic_ranks(5) is None
    assert median_ci([1, 2, 3, 4, 5]) == (None, None)


def test_median_ci_n6_is_min_max():
    # j = 1: coverage 1 - 2 * (1/64) = 62/64 = 0.96875 >= 0.95; j = 2: 1 - 2 * 7/64 = 0.78125.
    assert median_ci([4.0, 1.5, 3.0, 6.0, 2.0, 5.0]) == (1.5, 6.0)
    # Coverage exactly equal to the confidence still counts.
    assert median_ci([1, 2, 3, 4, 5, 6], confidence=0.96875) == (1.0, 6.0)


def test_median_ci_ignores_none_and_nan():
    values = [None, 1, 2, float("nan"), 3, 4, 5, 6, 7, 8, 9, 10, np.nan]
    assert median_ci(values) == (2.0, 9.0)
    assert median_ci([None, float("nan")]) == (None, None)
    assert median_ci([]) == (None, None)


def test_median_ci_rejects_bad_confidence():
    with pytest.raises(ValueError):
        median_ci([1, 2, 3], confidence=1.0)
    with pytest.raises(ValueError):
        median_ci([1, 2, 3], confidence=0.0)


@given(st.integers(min_value=1, max_value=400), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_order_statistic_ranks_are_the_narrowest_with_enough_coverage(n, confidence):
    def coverage(j: int) -> float:
        return 1.0 - 2.0 * sps.binom.cdf(j - 1, n, 0.5)

    ranks = order_statistic_ranks(n, confidence)
    if ranks is None:
        assert coverage(1) < confidence
        return
    j, k = ranks
    assert k == n - j + 1
    assert 1 <= j <= k <= n
    assert coverage(j) >= confidence - 1e-12
    assert coverage(j + 1) < confidence


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(st.lists(finite, min_size=6, max_size=200))
def test_median_ci_contains_sample_median(xs):
    lo, hi = median_ci(xs)
    assert lo is not None and hi is not None
    assert lo <= hi
    assert lo <= float(np.median(xs)) <= hi
    assert min(xs) <= lo and hi <= max(xs)


# --------------------------------------------------------------------------------------------
# wilson_interval


def test_wilson_3_of_10_known_value():
    # p̂ = 0.3, z = 1.959964, z² = 3.841459, n = 10.
    # centre = (p̂ + z²/2n) / (1 + z²/n) = (0.3 + 0.192073) / 1.384146 = 0.355506
    # half   = z * sqrt(p̂(1-p̂)/n + z²/4n²) / (1 + z²/n)
    #        = 1.959964 * sqrt(0.021 + 0.009604) / 1.384146 = 1.959964 * 0.174940 / 1.384146
    #        = 0.247716
    # → (0.107790, 0.603222)
    lo, hi = wilson_interval(3, 10)
    assert lo == pytest.approx(0.1078, abs=5e-5)
    assert hi == pytest.approx(0.6032, abs=5e-5)


def _wilson_formula(k: int, n: int, confidence: float) -> tuple[float, float]:
    z = sps.norm.isf((1 - confidence) / 2)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return centre - half, centre + half


@pytest.mark.parametrize(("k", "n"), [(0, 1), (0, 20), (7, 7), (3, 10), (45, 200), (1, 1000)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_matches_textbook_formula(k, n, confidence):
    lo, hi = wilson_interval(k, n, confidence)
    exp_lo, exp_hi = _wilson_formula(k, n, confidence)
    assert lo == pytest.approx(max(exp_lo, 0.0), abs=1e-9)
    assert hi == pytest.approx(min(exp_hi, 1.0), abs=1e-9)


def test_wilson_empty_and_invalid():
    assert wilson_interval(0, 0) == (None, None)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)
    with pytest.raises(ValueError):
        wilson_interval(-1, 2)


@given(
    st.integers(min_value=1, max_value=10_000).flatmap(
        lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
    )
)
def test_wilson_bounds_in_unit_interval_and_around_estimate(kn):
    k, n = kn
    lo, hi = wilson_interval(k, n)
    assert lo is not None and hi is not None
    assert 0.0 <= lo <= k / n <= hi <= 1.0


# --------------------------------------------------------------------------------------------
# Mann–Kendall


def test_mann_kendall_hand_worked_with_a_tie():
    # y = [1, 2, 2, 4, 3, 5], n = 6. sign(y_j - y_i) for i < j, row by row:
    #   i=1 (1): vs 2,2,4,3,5 → + + + + +  = +5
    #   i=2 (2): vs 2,4,3,5   → 0 + + +    = +3
    #   i=3 (2): vs 4,3,5     → + + +      = +3
    #   i=4 (4): vs 3,5       → - +        =  0
    #   i=5 (3): vs 5         → +          = +1
    #   S = 12
    # Var(S) = [n(n-1)(2n+5) - Σ t(t-1)(2t+5)] / 18, one tied pair (t = 2):
    #        = [6·5·17 - 2·1·9] / 18 = (510 - 18) / 18 = 492/18 = 27.3333
    # Z = (S - 1) / sqrt(Var) = 11 / 5.228129 = 2.104003
    # p = 2 (1 - Φ(2.104003)) = 2 · 0.017689 = 0.035378
    mk = mann_kendall([1, 2, 2, 4, 3, 5])
    assert mk.s == 12
    assert mk.var_s == pytest.approx(492 / 18)
    assert mk.z == pytest.approx(2.104003, abs=1e-6)
    assert mk.p_value == pytest.approx(0.035378, abs=1e-6)


def test_mann_kendall_negative_and_zero_s():
    # y = [3, 2, 1]: pairs (3,2) -, (3,1) -, (2,1) -  → S = -3; Var = 3·2·11/18 = 66/18.
    # Z = (S + 1)/sqrt(Var) = -2 / 1.914854 = -1.044466
    mk = mann_kendall([3, 2, 1])
    assert mk.s == -3
    assert mk.z == pytest.approx(-2 / math.sqrt(66 / 18))
    # Alternating up/down with S = 0 → Z = 0, p = 1.
    mk0 = mann_kendall([1, 3, 2, 4, 0])
    # pairs: 1→(3+,2+,4+,0-)=+2; 3→(2-,4+,0-)=-1; 2→(4+,0-)=0; 4→(0-)=-1 → S = 0
    assert mk0.s == 0 and mk0.z == 0.0 and mk0.p_value == 1.0


def test_mann_kendall_all_tied_has_no_evidence():
    mk = mann_kendall([4.0] * 8)
    assert mk.s == 0 and mk.var_s == 0.0 and mk.p_value == 1.0


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n", [8, 12, 30, 60])
def test_mann_kendall_agrees_with_kendalltau_on_tie_free_data(seed, n):
    rng = np.random.default_rng(seed)
    y = rng.permutation(n).astype(float) + 0.3 * np.arange(n)  # tie-free, mild trend
    x = np.arange(n)
    mk = mann_kendall(y)
    tau = sps.kendalltau(x, y, method="asymptotic")
    # Without ties Kendall's tau test uses z = S / sqrt(Var(S)); Mann–Kendall subtracts the
    # continuity correction: |Z| = (|S| - 1) / sqrt(Var(S)). Undo it and they must match exactly.
    z_tau = sps.norm.isf(tau.pvalue / 2)
    if mk.s != 0:
        assert abs(mk.z) == pytest.approx(z_tau * (abs(mk.s) - 1) / abs(mk.s), rel=1e-9)
    # The correction only ever makes the test more conservative ...
    assert mk.p_value >= tau.pvalue
    # ... and matters less as n grows: from n = 30 the p-values agree to within 0.02.
    if n >= 30:
        assert mk.p_value == pytest.approx(tau.pvalue, abs=0.02)


# --------------------------------------------------------------------------------------------
# trend


def test_trend_strictly_decreasing_lead_time_is_improving_with_slope_minus_one():
    # 12, 11, ..., 1 at x = 0..11: every pairwise slope is exactly -1, so Theil–Sen = -1.0.
    # S = -C(12, 2) = -66, Var = 12·11·29/18 = 212.667, Z = -65/14.583 = -4.457, p ≈ 8.3e-6.
    t = trend(list(range(12, 0, -1)), lower_is_better=True)
    assert t.direction == "improving"
    assert t.slope_per_period == -1.0
    assert t.p_value == pytest.approx(8.3e-6, rel=0.01)
    assert t.periods == 12


def test_trend_same_series_is_worsening_when_higher_is_better():
    t = trend(list(range(12, 0, -1)), lower_is_better=False)
    assert t.direction == "worsening"


def test_trend_constant_series_is_no_clear_trend():
    t = trend([5.0] * 12, lower_is_better=True)
    assert t.direction == "no clear trend"
    assert t.slope_per_period == 0.0
    assert t.p_value == 1.0


def test_trend_short_series_is_not_enough_data():
    t = trend([3.0, 2.0, 1.0, 0.5], lower_is_better=True)
    assert not t.enough_data
    assert t.slope_per_period is None and t.p_value is None
    assert t.periods == 4
    assert t.direction == "no clear trend"


def test_trend_uses_only_last_n_and_skips_nulls_keeping_spacing():
    # The first 10 values are outside the 12-period window and must be ignored.
    old = [1000.0] * 10
    # In the window, x = 0..11 with gaps at 3 and 7; y = 2x exactly → Theil–Sen slope 2.0.
    window = [2.0 * i if i not in (3, 7) else None for i in range(12)]
    t = trend(old + window, lower_is_better=True)
    assert t.periods == 10
    assert t.slope_per_period == 2.0
    assert t.direction == "worsening"
    # A NaN is as missing as a None.
    t_nan = trend(old + [float("nan") if v is None else v for v in window], lower_is_better=True)
    assert t_nan == t


def test_trend_noise_is_no_clear_trend():
    t = trend([5, 7, 4, 6, 5, 8, 4, 6, 7, 5, 6, 5], lower_is_better=True)
    assert t.direction == "no clear trend"
    assert t.p_value is not None and t.p_value > 0.05


def test_trend_validates_arguments():
    with pytest.raises(ValueError):
        trend([1, 2, 3], True, last_n=1)
    with pytest.raises(ValueError):
        trend([1, 2, 3], True, min_points=1)


@given(
    st.lists(st.one_of(st.none(), st.integers(-50, 50).map(float)), min_size=0, max_size=20),
    st.integers(-1000, 1000),
)
def test_trend_properties(values, shift):
    t = trend(values, lower_is_better=True)
    flipped = trend(values, lower_is_better=False)
    shifted = trend([None if v is None else v + shift for v in values], lower_is_better=True)
    swap = {"improving": "worsening", "worsening": "improving", "no clear trend": "no clear trend"}
    assert flipped.direction == swap[t.direction]
    assert shifted.direction == t.direction
    assert shifted.periods == t.periods
    assert t.periods == sum(v is not None for v in values[-12:])
    if t.p_value is not None:
        assert 0.0 <= t.p_value <= 1.0


# --------------------------------------------------------------------------------------------
# Trend.sentence


def test_sentence_improving():
    t = Trend("improving", -2.1, 0.01, 12)
    assert (
        t.sentence("lead time", "h") == "lead time improving: −2.1 h/week, p = 0.01 over 12 weeks"
    )


def test_sentence_worsening_positive_slope_and_small_p():
    t = Trend("worsening", 0.25, 0.0004, 9)
    assert t.sentence("time to restore", "h") == (
        "time to restore worsening: +0.25 h/week, p < 0.001 over 9 weeks"
    )


def test_sentence_no_clear_trend():
    t = Trend("no clear trend", 0.3, 0.4, 12)
    assert (
        t.sentence("deployments", "deploys")
        == "deployments: no clear trend (p = 0.40 over 12 weeks)"
    )


def test_sentence_not_enough_data():
    t = trend([1.0, 2.0, None, 3.0, 4.0], lower_is_better=True)
    assert t.sentence("lead time", "h") == "lead time: not enough data for a trend (4 of 12 weeks)"


def test_sentence_other_period_and_no_unit():
    t = Trend("improving", 3.0, 0.012, 8, window=8)
    assert t.sentence("deployments", "", period="month") == (
        "deployments improving: +3.0/month, p = 0.012 over 8 months"
    )


def test_sentence_end_to_end():
    t = trend(list(range(12, 0, -1)), lower_is_better=True)
    assert (
        t.sentence("lead time", "h") == "lead time improving: −1.0 h/week, p < 0.001 over 12 weeks"
    )


# --------------------------------------------------------------------------------------------
# bands


@pytest.mark.parametrize("year", YEARS)
@pytest.mark.parametrize("metric", METRICS)
def test_bands_shape(year, metric):
    result = bands(year, metric)
    assert [b.name for b in result] == ["elite", "high", "medium", "low"]
    for b in result:
        assert isinstance(b, Band)
        assert 0.0 <= b.low <= b.high
        assert b.published
        if metric == "change_failure_rate":
            assert b.high <= 1.0


def test_bands_unit_conversions():
    # once per month = 7 days / (365.25/12 days) = 7 / 30.4375 ≈ 0.23 deployments/week
    medium_2024 = bands(2024, "deployments_per_week")[2]
    assert medium_2024.low == pytest.approx(0.23, abs=0.001)
    assert medium_2024.high == 1.0
    assert bands(2024, "deployments_per_week")[0] == Band("elite", 7.0, math.inf)
    # one week = 168 h, one month = 730.5 h
    assert bands(2023, "lead_time_hours")[2] == Band("medium", 168.0, 730.5)
    assert bands(2021, "lead_time_hours")[3] == Band("low", 4383.0, math.inf)


def test_bands_change_failure_rate_points_as_published():
    cfr_2023 = bands(2023, "change_failure_rate")
    assert [(b.low, b.is_point) for b in cfr_2023] == [
        (0.05, True),
        (0.10, True),
        (0.15, True),
        (0.64, True),
    ]
    # 2024: high 20% above medium 10%, as the report found.
    assert [b.low for b in bands(2024, "change_failure_rate")] == [0.05, 0.20, 0.10, 0.40]


def test_bands_returns_a_fresh_list():
    a = bands(2023, "lead_time_hours")
    a.clear()
    assert len(bands(2023, "lead_time_hours")) == 4


def test_bands_unknown_year_or_metric():
    with pytest.raises(ValueError, match="2022"):
        bands(2022, "lead_time_hours")
    with pytest.raises(ValueError, match="mttr"):
        bands(2023, "mttr")


def test_bands_docstring_says_context_not_ranking():
    import metrics.bands as mod

    assert mod.__doc__ is not None
    assert "never a ranking" in mod.__doc__
