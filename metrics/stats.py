"""Pure statistics behind the product's "honest numbers".

Every median carries a distribution-free 95% interval, every rate a Wilson 95% interval, and a
trend is only ever stated together with its test (Theil–Sen slope, Mann–Kendall p-value).

No Dagster, no I/O: plain functions over sequences of numbers, so the same code serves the
pipeline, the SQL-backed reports and the tests.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

__all__ = [
    "MannKendall",
    "Trend",
    "mann_kendall",
    "median_ci",
    "order_statistic_ranks",
    "trend",
    "wilson_interval",
]

IMPROVING = "improving"
WORSENING = "worsening"
NO_CLEAR_TREND = "no clear trend"

# Absorbs floating-point error when a coverage equals the requested confidence exactly
# (e.g. n = 6 at confidence 0.96875).
_COVERAGE_EPS = 1e-12


# --------------------------------------------------------------------------------------------
# helpers


def _is_missing(value: float | None) -> bool:
    """True for None and NaN, the two spellings of "no value" the pipeline produces."""
    return value is None or math.isnan(float(value))


def _present(values: Sequence[float | None]) -> list[float]:
    """The non-missing values, as floats, in their original order."""
    return [float(v) for v in values if not _is_missing(v)]


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")


# --------------------------------------------------------------------------------------------
# median interval


@functools.lru_cache(maxsize=4096)
def order_statistic_ranks(n: int, confidence: float = 0.95) -> tuple[int, int] | None:
    """1-based ranks ``(j, n - j + 1)`` of the distribution-free interval for a median.

    The number of observations below the population median is B ~ Bin(n, 1/2), so
    ``[x_(j), x_(n-j+1)]`` covers the median with probability ``P(j <= B <= n - j)``
    ``= 1 - 2 * P(B <= j - 1)``. Coverage falls as j grows; the narrowest symmetric interval
    is the largest j whose coverage is still >= ``confidence``. None when even
    ``(x_(1), x_(n))`` falls short (n <= 5 at 95%).
    """
    _check_confidence(confidence)
    if n < 1:
        return None
    js = np.arange(1, (n + 1) // 2 + 1)
    coverage = 1.0 - 2.0 * special.bdtr(js - 1, n, 0.5)  # binom.cdf
    ok = js[coverage >= confidence - _COVERAGE_EPS]
    if ok.size == 0:
        return None
    j = int(ok.max())
    return j, n - j + 1


def median_ci(
    values: Sequence[float | None], confidence: float = 0.95
) -> tuple[float | None, float | None]:
    """Distribution-free order-statistic interval for the median of ``values``.

    None and NaN values are ignored. Returns ``(None, None)`` when there are too few values for
    the requested coverage (5 or fewer at 95%). See :func:`order_statistic_ranks`.
    """
    xs = sorted(_present(values))
    ranks = order_statistic_ranks(len(xs), confidence)
    if ranks is None:
        return None, None
    lo_rank, hi_rank = ranks
    return xs[lo_rank - 1], xs[hi_rank - 1]


# --------------------------------------------------------------------------------------------
# rate interval


def wilson_interval(
    successes: int, n: int, confidence: float = 0.95
) -> tuple[float | None, float | None]:
    """Wilson score interval for a proportion ``successes / n``; ``(None, None)`` when n == 0.

    The textbook score interval without continuity correction (the same numbers as
    ``scipy.stats.binomtest(...).proportion_ci(method="wilson")``, which the tests check), in
    closed form so that thousands of periods cost microseconds, not seconds.
    """
    _check_confidence(confidence)
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return None, None
    low, high = wilson_intervals(np.array([successes]), np.array([n]), confidence)
    return float(low[0]), float(high[0])


def wilson_intervals(
    successes: np.ndarray, n: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised Wilson intervals; NaN where n == 0."""
    z = float(special.ndtri(0.5 + confidence / 2))  # norm.ppf
    k = np.asarray(successes, dtype=float)
    m = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / m
        denom = 1 + z * z / m
        centre = (p + z * z / (2 * m)) / denom
        half = z / denom * np.sqrt(p * (1 - p) / m + z * z / (4 * m * m))
    # At k = 0 (k = n) the bound is exactly 0 (1); say so rather than leave rounding noise.
    low = np.where(k == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high = np.where(k == m, 1.0, np.clip(centre + half, 0.0, 1.0))
    # No trials, no interval: NaN here, NULL in the tables.
    return np.where(m == 0, np.nan, low), np.where(m == 0, np.nan, high)


# --------------------------------------------------------------------------------------------
# trend


@dataclass(frozen=True)
class MannKendall:
    """Mann–Kendall test statistics for a series in time order."""

    s: int  # S = sum over i < j of sign(y_j - y_i)
    var_s: float  # Var(S) under H0, tie-corrected
    z: float  # continuity-corrected normal score
    p_value: float  # two-sided


def mann_kendall(y: Sequence[float]) -> MannKendall:
    """Mann–Kendall trend test on ``y`` (already in time order, no missing values).

    S = sum_{i<j} sign(y_j - y_i);
    Var(S) = [n(n-1)(2n+5) - sum_t t(t-1)(2t+5)] / 18, t running over the sizes of tied groups;
    Z = (S - 1)/sqrt(Var) if S > 0, 0 if S == 0, (S + 1)/sqrt(Var) if S < 0;
    p = 2 * (1 - Phi(|Z|)). When Var(S) == 0 (every value tied) there is no evidence: p = 1.
    """
    arr = np.asarray(y, dtype=float)
    n = arr.size
    if n < 2:
        raise ValueError(f"Mann–Kendall needs at least 2 values, got {n}")
    i, j = np.triu_indices(n, k=1)
    s = int(np.sign(arr[j] - arr[i]).sum())
    ties = sum(t * (t - 1) * (2 * t + 5) for t in Counter(arr.tolist()).values() if t > 1)
    var_s = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    if var_s <= 0.0:
        return MannKendall(s=s, var_s=0.0, z=0.0, p_value=1.0)
    if s > 0:
        z = (s - 1) / math.sqrt(var_s)
    elif s < 0:
        z = (s + 1) / math.sqrt(var_s)
    else:
        z = 0.0
    p = float(min(1.0, 2.0 * special.ndtr(-abs(z))))  # norm.sf
    return MannKendall(s=s, var_s=var_s, z=z, p_value=p)


def _fmt_number(x: float) -> str:
    """Compact signed number with a true minus sign: −2.1, +0.25, +12."""
    mag = abs(x)
    if mag >= 100:
        body = f"{mag:.0f}"
    elif mag >= 1:
        body = f"{mag:.1f}"
    else:
        body = f"{mag:.2g}"
    sign = "−" if x < 0 else "+"
    return sign + body


def _fmt_p(p: float) -> str:
    """'p = 0.40', 'p = 0.012', 'p < 0.001'."""
    if p < 0.001:
        return "p < 0.001"
    if p < 0.1:
        return f"p = {p:.2g}"
    return f"p = {p:.2f}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


@dataclass(frozen=True)
class Trend:
    """A stated trend, always with its test.

    ``slope_per_period`` and ``p_value`` are None when there were too few points to test;
    ``window`` is the number of periods the trend looked back over (``last_n``).
    """

    direction: str  # "improving" | "worsening" | "no clear trend"
    slope_per_period: float | None  # Theil–Sen slope, metric units per period
    p_value: float | None  # Mann–Kendall two-sided p-value
    periods: int  # non-null points used
    window: int = 12  # periods looked back over

    @property
    def enough_data(self) -> bool:
        """False when the trend was not tested for lack of points."""
        return self.p_value is not None and self.slope_per_period is not None

    def sentence(self, metric_label: str, unit: str, period: str = "week") -> str:
        """One plain sentence for a report.

        "lead time improving: −2.1 h/week, p = 0.01 over 12 weeks",
        "deployments: no clear trend (p = 0.40 over 12 weeks)",
        "lead time: not enough data for a trend (4 of 12 weeks)".
        """
        if not self.enough_data:
            return (
                f"{metric_label}: not enough data for a trend "
                f"({self.periods} of {_plural(self.window, period)})"
            )
        assert self.p_value is not None and self.slope_per_period is not None
        over = f"over {_plural(self.periods, period)}"
        if self.direction == NO_CLEAR_TREND:
            return f"{metric_label}: no clear trend ({_fmt_p(self.p_value)} {over})"
        slope = _fmt_number(self.slope_per_period)
        rate = f"{slope} {unit}/{period}" if unit else f"{slope}/{period}"
        return f"{metric_label} {self.direction}: {rate}, {_fmt_p(self.p_value)} {over}"


def theil_sen_slope(y: np.ndarray, x: np.ndarray) -> float:
    """The Theil–Sen slope: the median of the slopes of every pair of points with x_i < x_j,
    as ``scipy.stats.theilslopes(y, x).slope`` computes it (the same operations, so the same
    float), without its intervals and input checks (a trend is read for every metric of
    every page)."""
    deltax = x[:, np.newaxis] - x
    deltay = y[:, np.newaxis] - y
    return float(np.median(deltay[deltax > 0] / deltax[deltax > 0]))


def _direction(slope: float, p_value: float, lower_is_better: bool, alpha: float) -> str:
    if p_value >= alpha or slope == 0:
        return NO_CLEAR_TREND
    good = slope < 0 if lower_is_better else slope > 0
    return IMPROVING if good else WORSENING


def trend(
    values: Sequence[float | None],
    lower_is_better: bool,
    last_n: int = 12,
    alpha: float = 0.05,
    min_points: int = 6,
) -> Trend:
    """Trend over the last ``last_n`` periods of ``values`` (one value per period, oldest first).

    Missing periods (None/NaN) are skipped but keep their place: x is the period index, so a gap
    keeps the spacing. Slope is Theil–Sen (``scipy.stats.theilslopes``); significance is the
    Mann–Kendall two-sided test. "improving"/"worsening" only when p < ``alpha`` and the slope
    is non-zero; otherwise "no clear trend". Fewer than ``min_points`` non-null points gives an
    untested Trend (slope and p None).
    """
    if last_n < 2:
        raise ValueError(f"last_n must be at least 2, got {last_n}")
    if min_points < 2:
        raise ValueError(f"min_points must be at least 2, got {min_points}")
    window = list(values)[-last_n:]
    points = [(i, float(v)) for i, v in enumerate(window) if not _is_missing(v)]
    if len(points) < min_points:
        return Trend(NO_CLEAR_TREND, None, None, len(points), last_n)
    x = np.array([p[0] for p in points], dtype=float)
    y = np.array([p[1] for p in points], dtype=float)
    slope = theil_sen_slope(y, x)  # not scipy.stats: a second to import, slow per call
    p_value = mann_kendall(y).p_value
    direction = _direction(slope, p_value, lower_is_better, alpha)
    return Trend(direction, slope, p_value, len(points), last_n)
