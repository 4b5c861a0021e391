"""The book's statistics: paired differences between two arms, seed by seed.

Every comparison of the book pairs runs by seed (same seed: same initial weights ``W₀``,
same data split and batches), so every chapter reports the same thing: the mean of the
differences, their standard deviation, the 95 % confidence interval of the mean and the
two-sided p-value of the paired t-test, both from :func:`scipy.stats.ttest_rel`.

Example::

    >>> from wconv.experiments import stats
    >>> d = stats.paired_difference([60.1, 59.7, 60.4], [59.8, 59.9, 60.0])
    >>> d["n"], round(d["mean"], 3)
    (3, 0.167)
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["CONFIDENCE", "paired_difference", "mean_std", "rank_correlation"]

#: The confidence level of every interval in the book.
CONFIDENCE = 0.95


def _values(name: str, values) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of numbers, got shape {array.shape}")
    return array


def paired_difference(x: Sequence[float], y: Sequence[float],
                      confidence: float = CONFIDENCE) -> dict:
    """``x - y``, pair by pair, with the paired t-test's interval and p-value.

    Args:
        x, y: the two arms' scores, in the same (seed) order; equal lengths.
        confidence: level of the interval.

    Returns:
        ``{'n', 'mean', 'std', 'ci_low', 'ci_high', 'p', 'differences'}``. ``std`` is the
        sample standard deviation (``ddof=1``). With one pair, ``std``, the interval and
        ``p`` are NaN; with two or more equal differences there is no test: ``p`` is NaN
        and the interval is the mean itself. With no pair, every number is NaN.
    """
    from scipy import stats

    x, y = _values("x", x), _values("y", y)
    if len(x) != len(y):
        raise ValueError(f"x and y must pair up: {len(x)} values against {len(y)}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    d = x - y
    nan = math.nan
    row = {"n": len(d), "mean": nan, "std": nan, "ci_low": nan, "ci_high": nan, "p": nan,
           "differences": d.tolist()}
    if len(d) == 0:
        return row
    row["mean"] = float(d.mean())
    if len(d) == 1:
        return row
    row["std"] = float(d.std(ddof=1))
    if row["std"] == 0 or not math.isfinite(row["std"]):
        row.update(ci_low=row["mean"], ci_high=row["mean"])
        return row
    test = stats.ttest_rel(x, y)
    ci = test.confidence_interval(confidence)
    row.update(ci_low=float(ci.low), ci_high=float(ci.high), p=float(test.pvalue))
    return row


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """``(mean, sample standard deviation)``; the deviation is NaN for fewer than two values."""
    v = _values("values", values)
    if len(v) == 0:
        return math.nan, math.nan
    return float(v.mean()), (float(v.std(ddof=1)) if len(v) > 1 else math.nan)


def rank_correlation(x: Sequence[float], y: Sequence[float],
                     confidence: float = CONFIDENCE) -> dict:
    """Spearman's rank correlation of ``x`` and ``y`` with a confidence interval.

    The interval is Fisher's ``z = atanh(rho)`` with Bonett and Wright's (2000) standard
    error for Spearman's rho, ``sqrt((1 + rho**2 / 2) / (n - 3))``, back-transformed: an
    approximation, honest about how little a few points say (it needs ``n >= 4``).

    Returns:
        ``{'n', 'rho', 'ci_low', 'ci_high', 'p'}`` (``p``: ``scipy.stats.spearmanr``'s
        two-sided test of no correlation); NaN where there is too little to say.
    """
    from scipy import stats

    x, y = _values("x", x), _values("y", y)
    if len(x) != len(y):
        raise ValueError(f"x and y must pair up: {len(x)} values against {len(y)}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    n, nan = len(x), math.nan
    row = {"n": n, "rho": nan, "ci_low": nan, "ci_high": nan, "p": nan}
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return row
    test = stats.spearmanr(x, y)
    rho = float(test.statistic)
    row.update(rho=rho, p=float(test.pvalue))
    if n >= 4 and abs(rho) < 1:
        z, se = math.atanh(rho), math.sqrt((1 + rho ** 2 / 2) / (n - 3))
        q = float(stats.norm.ppf(0.5 + confidence / 2))
        row.update(ci_low=math.tanh(z - q * se), ci_high=math.tanh(z + q * se))
    elif abs(rho) == 1:
        row.update(ci_low=rho, ci_high=rho)
    return row
