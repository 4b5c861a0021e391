"""wconv.experiments.search.algorithms: DIRECT finds known optima, the baselines, resumed searches
replay exactly, the budget and bad input."""
import math

import pytest
from toy_objectives import (
    BRANIN_ARGMIN,
    BRANIN_MIN,
    Counting,
    branin,
    den_sequence,
    quadratic,
    to_branin,
)

from wconv.density import PAPER_OPTIMUM_7X7, PAPER_RANGES
from wconv.experiments import search
from wconv.experiments.search import algorithms


@pytest.mark.parametrize("kernel_size, optimum, bounds", [
    (3, (0.8,), None),                       # 3x3 paper range [0.5, 1.5]
    (5, (0.3, 0.7), None),                   # 5x5 paper range [0.05, 1]
    (7, PAPER_OPTIMUM_7X7, 1),               # the papers' 7x7 optimum, in range [0.15, 1]
])
def test_direct_l_finds_quadratic_optimum(kernel_size, optimum, bounds):
    result = search.direct_search(quadratic(optimum), kernel_size, bounds, max_evals=100)
    assert result.stopped == "max_evals" and len(result.evaluations) == 100
    assert max(abs(a - b) for a, b in zip(result.best.den, optimum)) < 5e-3
    lower, upper = search.check_bounds(bounds, kernel_size)
    for ev in result.evaluations:
        assert all(lo <= d <= hi for d, lo, hi in zip(ev.den, lower, upper))
    assert 1 <= result.evals_to_best <= 100
    assert result.seconds_to_best <= result.seconds


def test_direct_l_finds_a_branin_minimum():
    result = search.direct_search(branin, 5, max_evals=150)
    assert result.best.value == pytest.approx(BRANIN_MIN, abs=5e-3)
    x, y = to_branin(*result.best.den)
    assert min(math.hypot(x - a, y - b) for a, b in BRANIN_ARGMIN) < 0.1


@pytest.mark.parametrize("algorithm", search.ALGORITHMS)
def test_every_direct_variant_runs_and_improves(algorithm):
    f = quadratic((0.3, 0.7))
    result = search.direct_search(f, 5, algorithm=algorithm, max_evals=40)
    assert len(result.evaluations) == 40 and result.config["algorithm"] == algorithm
    assert result.best.value < 0.01 < result.evaluations[0].value + 0.01


@pytest.mark.parametrize("algorithm", ["GN_DIRECT_L", "GN_DIRECT_L_RAND", "GN_ORIG_DIRECT_L"])
def test_interrupted_search_resumes_with_the_same_points(tmp_path, algorithm):
    f = quadratic(PAPER_OPTIMUM_7X7)
    whole = search.direct_search(f, 7, 1, algorithm=algorithm, max_evals=60, seed=3)

    log = tmp_path / "direct.jsonl"
    failing = Counting(f, fail_after=17)
    with pytest.raises(KeyboardInterrupt):
        search.direct_search(failing, 7, 1, algorithm=algorithm, max_evals=60, seed=3, log=log,
                             name=f.name)
    assert len(log.read_text().splitlines()) == 17

    resumed_objective = Counting(f)
    replayed = []
    resumed = search.direct_search(resumed_objective, 7, 1, algorithm=algorithm, max_evals=60,
                                   seed=3, log=log, name=f.name,
                                   callback=lambda ev: replayed.append(ev.replayed))
    assert den_sequence(resumed) == den_sequence(whole)
    assert [e.value for e in resumed.evaluations] == [e.value for e in whole.evaluations]
    # the 17 logged points were replayed, never recomputed
    assert replayed == [True] * 17 + [False] * 43
    assert resumed_objective.calls == den_sequence(whole)[17:]
    assert resumed.calls == 43
    assert [e.index for e in resumed.evaluations] == list(range(1, 61))
    assert resumed.best.den == whole.best.den and resumed.evals_to_best == whole.evals_to_best

    # a finished search resumed again trains nothing; a larger budget extends it
    again = Counting(f)
    assert den_sequence(search.direct_search(again, 7, 1, algorithm=algorithm, max_evals=60,
                                              seed=3, log=log, name=f.name)) == den_sequence(whole)
    assert again.calls == []
    longer = search.direct_search(again, 7, 1, algorithm=algorithm, max_evals=70, seed=3,
                                  log=log, name=f.name)
    assert len(again.calls) == 10 and den_sequence(longer)[:60] == den_sequence(whole)


def test_time_budget_stops_and_resume_continues_the_sequence(tmp_path):
    f = quadratic((0.3, 0.7))
    whole = search.direct_search(f, 5, max_evals=25)
    log = tmp_path / "timed.jsonl"
    # 25 evaluations of 0.05 s cannot fit in 0.3 s; the margin keeps a loaded machine from
    # spending the whole budget before the first evaluation
    slow = Counting(f, sleep=0.05)
    stopped = search.direct_search(slow, 5, max_evals=25, max_time=0.3, log=log, name="q")
    assert stopped.stopped == "max_time" and 1 <= len(stopped.evaluations) < 25
    last = stopped.evaluations[-1]
    assert last.elapsed - last.seconds < 0.3 <= stopped.stopped_after   # started in budget, spent it
    rest = Counting(f)
    resumed = search.direct_search(rest, 5, max_evals=25, log=log, name="q")
    assert resumed.stopped == "max_evals"
    assert den_sequence(resumed) == den_sequence(whole)
    assert len(rest.calls) == 25 - len(stopped.evaluations)
    # replayed evaluations keep their logged times; elapsed never goes back
    elapsed = [e.elapsed for e in resumed.evaluations]
    assert elapsed == sorted(elapsed)


def test_duplicate_points_are_evaluated_once():
    calls = Counting(quadratic((0.8,)))
    run = algorithms._Run(calls, {"x": 1}, max_evals=10, max_time=None, log=None, callback=None)
    assert run((0.7,)) == run((0.7,)) == run((0.7 + 1e-15,))
    assert len(calls.calls) == 1 and len(run.evaluations) == 1


def test_non_finite_values_are_logged_but_never_best(tmp_path):
    def f(den):
        return math.nan if den[0] > 1.2 else (den[0] - 0.78) ** 2
    log = tmp_path / "nan.jsonl"
    result = search.grid_search(f, 3, max_evals=10, log=log, name="nan")
    assert any(math.isnan(v) for v in result.values())
    assert result.best.den[0] == pytest.approx(0.75)
    records, _ = search.read_log(log)
    assert sum(math.isnan(r.value) for r in records) == 3  # 1.25, 1.35, 1.45
    direct = search.direct_search(f, 3, max_evals=30)
    assert direct.best.den[0] == pytest.approx(0.78, abs=1e-3)


def test_grid_search_baseline(tmp_path):
    f = quadratic((0.3, 0.7))
    result = search.grid_search(f, 5, max_evals=30)  # 5 x 5 midpoint grid fits 30
    assert result.config["points"] == 5 and len(result.evaluations) == 25
    assert result.stopped == "exhausted"
    firsts = sorted({round(e.den[0], 6) for e in result.evaluations})
    assert firsts == pytest.approx([0.05 + (i + 0.5) * 0.19 for i in range(5)])
    assert result.best.den == pytest.approx((0.335, 0.715))
    assert result.evaluations[result.evals_to_best - 1] is result.best
    # a grid cut by the evaluation budget resumes into the same grid
    log = tmp_path / "grid.jsonl"
    part = search.grid_search(f, 5, max_evals=7, points=5, log=log, name="q")
    assert part.stopped == "max_evals" and len(part.evaluations) == 7
    rest = Counting(f)
    full = search.grid_search(rest, 5, max_evals=30, points=5, log=log, name="q")
    assert den_sequence(full) == den_sequence(result) and len(rest.calls) == 18


def test_random_search_baseline_is_seeded(tmp_path):
    f = quadratic((0.3, 0.7))
    a = search.random_search(f, 5, max_evals=20, seed=1)
    b = search.random_search(f, 5, max_evals=30, seed=1)
    c = search.random_search(f, 5, max_evals=20, seed=2)
    assert den_sequence(a) == den_sequence(b)[:20]
    assert den_sequence(a) != den_sequence(c)
    assert all(0.05 <= d <= 1.0 for e in b.evaluations for d in e.den)
    log = tmp_path / "random.jsonl"
    search.random_search(f, 5, max_evals=20, seed=1, log=log, name="q")
    with pytest.raises(ValueError, match="seed"):
        search.random_search(f, 5, max_evals=20, seed=2, log=log, name="q")


def test_direct_beats_random_and_grid_on_branin_at_equal_budget():
    budget = 64
    direct = search.direct_search(branin, 5, max_evals=budget)
    grid = search.grid_search(branin, 5, max_evals=budget)
    rand = search.random_search(branin, 5, max_evals=budget, seed=0)
    assert direct.best.value < grid.best.value and direct.best.value < rand.best.value


def test_paper_bounds_default_and_index():
    assert search.check_bounds(None, 3) == ((0.5,), (1.5,))
    for k, ranges in PAPER_RANGES.items():
        for i, (lo, hi) in enumerate(ranges):
            assert search.check_bounds(i, k) == (tuple(lo), tuple(hi))
    assert search.check_bounds((0.2, 0.9), 3) == ((0.2,), (0.9,))
    with pytest.raises(ValueError, match="bounds index"):
        search.check_bounds(3, 7)
    with pytest.raises(ValueError, match="no range for kernel_size=9"):
        search.check_bounds(None, 9)


@pytest.mark.parametrize("bounds, message", [
    (((0.1,), (1.0,)), r"bounds lower has 1 value\(s\) but kernel_size=5"),
    (((0.1, 0.1), (1.0, 1.0, 1.0)), "bounds upper has 3 value"),
    (((0.1, 0.9), (1.0, 0.5)), r"bounds lower\[1\] = 0.9 must be < upper\[1\] = 0.5"),
    (((0.1, 0.5), (1.0, 0.5)), r"lower\[1\] = 0.5 must be < upper"),
    (((0.0, 0.1), (1.0, 1.0)), r"bounds lower\[0\] = 0 must be > 0"),
    (((0.1, float("nan")), (1.0, 1.0)), "bounds lower must be finite"),
    ((0.1, 1.0), "bounds lower must be a sequence"),
    ("wide", "bounds must be None"),
])
def test_bad_bounds_raise_value_error_naming_bounds(bounds, message):
    with pytest.raises(ValueError, match=message):
        search.direct_search(quadratic((0.3, 0.7)), 5, bounds, max_evals=5)


def test_unknown_algorithm_lists_the_valid_ones():
    with pytest.raises(ValueError, match="algorithm must be one of GN_DIRECT_L, GN_DIRECT,.*GN_ORIG_DIRECT_L; "
                                         "got 'GN_DIRECT_LL'"):
        search.direct_search(quadratic((0.8,)), 3, algorithm="GN_DIRECT_LL")


def test_other_bad_arguments():
    f = quadratic((0.8,))
    with pytest.raises(ValueError, match=r"kernel_size must be an odd int >= 3 .* got 4"):
        search.direct_search(f, 4)
    with pytest.raises(ValueError, match="max_evals must be an int >= 1"):
        search.direct_search(f, 3, max_evals=0)
    with pytest.raises(ValueError, match="give a budget"):
        search.random_search(f, 3, max_evals=None)
    with pytest.raises(TypeError, match="objective must be a callable"):
        search.direct_search("f", 3)
    with pytest.raises(TypeError, match="objective must return a real number"):
        search.direct_search(lambda den: "low", 3, max_evals=3)
    with pytest.raises(TypeError, match="config must be JSON-serialisable"):
        search.direct_search(f, 3, config={"model": object()})


def test_summary_rows():
    f = quadratic((0.3, 0.7))
    results = {"DIRECT-L": search.direct_search(f, 5, max_evals=20),
               "random": search.random_search(f, 5, max_evals=20, seed=0)}
    rows = search.summarize(results)
    assert [r["method"] for r in rows] == ["DIRECT-L", "random"]
    for row, r in zip(rows, results.values()):
        assert row["evaluations"] == 20 and row["best value"] == r.best.value
        assert row["evals to best"] == r.evals_to_best
    with pytest.raises(TypeError, match="must be a SearchResult"):
        search.summarize({"x": 1})
