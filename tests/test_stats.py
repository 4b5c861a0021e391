"""Paired differences: the one statistics routine of the book, against scipy.stats."""
import math

import numpy as np
import pytest
from scipy import stats as sps

from wconv.experiments import stats


def test_paired_difference_matches_ttest_rel():
    x, y = [60.1, 59.7, 60.4, 61.0], [59.8, 59.9, 60.0, 60.2]
    d = stats.paired_difference(x, y)
    t = sps.ttest_rel(x, y)
    ci = t.confidence_interval(0.95)
    assert d["n"] == 4 and d["mean"] == pytest.approx(np.mean(np.subtract(x, y)))
    assert d["std"] == pytest.approx(np.std(np.subtract(x, y), ddof=1))
    assert (d["ci_low"], d["ci_high"], d["p"]) == pytest.approx((ci.low, ci.high, t.pvalue))
    assert d["ci_low"] < d["mean"] < d["ci_high"]


def test_degenerate_pairs():
    one = stats.paired_difference([1.0], [0.5])
    assert one["mean"] == 0.5 and math.isnan(one["std"]) and math.isnan(one["p"])
    same = stats.paired_difference([2.0, 3.0], [1.0, 2.0])
    assert same["ci_low"] == same["ci_high"] == 1.0 and math.isnan(same["p"])
    assert math.isnan(stats.paired_difference([], [])["mean"])
    with pytest.raises(ValueError, match="pair up"):
        stats.paired_difference([1.0, 2.0], [1.0])
    assert stats.mean_std([1.0, 3.0]) == (2.0, pytest.approx(math.sqrt(2)))
