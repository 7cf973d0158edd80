"""The trend a report states for every metric of every page, computed without scipy.stats
(slow to import, slow per call): the same floats as scipy's functions, and no scipy.stats."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from metrics.stats import mann_kendall, theil_sen_slope


def test_theil_sen_slope_by_hand():
    # points (0, 1), (1, 3), (2, 2), (3, 5): the six pairwise slopes are 2, 1/2, 4/3, -1, 1, 3;
    # sorted -1, 1/2, 1, 4/3, 2, 3, so the median is (1 + 4/3) / 2 = 7/6
    slope = theil_sen_slope(np.array([1.0, 3.0, 2.0, 5.0]), np.array([0.0, 1.0, 2.0, 3.0]))
    assert slope == (1 + 4 / 3) / 2


VALUES = st.lists(st.one_of(st.integers(-5, 5).map(float),  # ties in y
                            st.floats(-1e6, 1e6, allow_nan=False)), min_size=2, max_size=12)


@settings(derandomize=True, database=None, max_examples=300)
@given(VALUES, st.randoms(use_true_random=False))
def test_theil_sen_slope_is_scipys_to_the_bit(values, random):
    # x: the places of the present periods in a window (gaps keep their spacing)
    x = np.array(sorted(random.sample(range(24), len(values))), dtype=float)
    y = np.array(values, dtype=float)
    assert theil_sen_slope(y, x) == float(sps.theilslopes(y, x).slope)


@settings(derandomize=True, database=None, max_examples=300)
@given(st.lists(st.integers(0, 6).map(float), min_size=2, max_size=12))
def test_mann_kendall_p_is_scipys_normal_tail_to_the_bit(values):
    mk = mann_kendall(values)
    if mk.var_s > 0:
        assert mk.p_value == float(min(1.0, 2.0 * sps.norm.sf(abs(mk.z))))


def test_a_trend_does_not_import_scipy_stats():
    # a report worker stating trends never pays for importing scipy.stats (about a second)
    code = ("import sys; from metrics.stats import trend; "
            "t = trend([5, 4, 4, 3, 2, 2, 1], lower_is_better=True); "
            "print(t.direction, 'scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["improving", "False"]
