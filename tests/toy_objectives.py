"""Cheap objectives with known minima for the search tests (tests/test_search_*.py)."""
import math
import time


def quadratic(optimum):
    def f(den):
        return sum((d - o) ** 2 for d, o in zip(den, optimum))
    f.name = f"quadratic{tuple(optimum)}"
    return f


class Counting:
    """An objective that counts its calls and can fail after a given number of them."""

    def __init__(self, f, fail_after=None, sleep=0.0):
        self.f, self.fail_after, self.sleep = f, fail_after, sleep
        self.calls = []
        self.name = "counting"

    def __call__(self, den):
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise KeyboardInterrupt("stopped by the test")
        self.calls.append(tuple(den))
        if self.sleep:
            time.sleep(self.sleep)
        return self.f(den)


# Branin's function moved onto the 5x5 box [0.05, 1]^2; three global minima, value 0.397887.
BRANIN_MIN = 0.397887
BRANIN_ARGMIN = [(-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475)]


def to_branin(u, v):
    return -5 + 15 * (u - 0.05) / 0.95, 15 * (v - 0.05) / 0.95


def branin(den):
    x, y = to_branin(*den)
    return ((y - 5.1 / (4 * math.pi ** 2) * x ** 2 + 5 / math.pi * x - 6) ** 2
            + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10)


def den_sequence(result):
    """The points a search evaluated, in order."""
    return [e.den for e in result.evaluations]
