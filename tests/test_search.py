"""Tests of wconv.experiments.search: DIRECT finds known optima, logs resume exactly, bad input is refused."""
import json
import math
import time

import pytest
from conftest import require_data

from wconv.experiments import search
from wconv.density import PAPER_OPTIMUM_7X7, PAPER_RANGES


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


def _to_branin(u, v):
    return -5 + 15 * (u - 0.05) / 0.95, 15 * (v - 0.05) / 0.95


def branin(den):
    x, y = _to_branin(*den)
    return ((y - 5.1 / (4 * math.pi ** 2) * x ** 2 + 5 / math.pi * x - 6) ** 2
            + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10)


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
    x, y = _to_branin(*result.best.den)
    assert min(math.hypot(x - a, y - b) for a, b in BRANIN_ARGMIN) < 0.1


@pytest.mark.parametrize("algorithm", search.ALGORITHMS)
def test_every_direct_variant_runs_and_improves(algorithm):
    f = quadratic((0.3, 0.7))
    result = search.direct_search(f, 5, algorithm=algorithm, max_evals=40)
    assert len(result.evaluations) == 40 and result.config["algorithm"] == algorithm
    assert result.best.value < 0.01 < result.evaluations[0].value + 0.01


def _den_sequence(result):
    return [e.den for e in result.evaluations]


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
    assert _den_sequence(resumed) == _den_sequence(whole)
    assert [e.value for e in resumed.evaluations] == [e.value for e in whole.evaluations]
    # the 17 logged points were replayed, never recomputed
    assert replayed == [True] * 17 + [False] * 43
    assert resumed_objective.calls == _den_sequence(whole)[17:]
    assert resumed.calls == 43
    assert [e.index for e in resumed.evaluations] == list(range(1, 61))
    assert resumed.best.den == whole.best.den and resumed.evals_to_best == whole.evals_to_best

    # a finished search resumed again trains nothing; a larger budget extends it
    again = Counting(f)
    assert _den_sequence(search.direct_search(again, 7, 1, algorithm=algorithm, max_evals=60,
                                              seed=3, log=log, name=f.name)) == _den_sequence(whole)
    assert again.calls == []
    longer = search.direct_search(again, 7, 1, algorithm=algorithm, max_evals=70, seed=3,
                                  log=log, name=f.name)
    assert len(again.calls) == 10 and _den_sequence(longer)[:60] == _den_sequence(whole)


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
    assert _den_sequence(resumed) == _den_sequence(whole)
    assert len(rest.calls) == 25 - len(stopped.evaluations)
    # replayed evaluations keep their logged times; elapsed never goes back
    elapsed = [e.elapsed for e in resumed.evaluations]
    assert elapsed == sorted(elapsed)


def test_truncated_last_line_is_ignored_and_repaired(tmp_path):
    f = quadratic((0.8,))
    log = tmp_path / "cut.jsonl"
    first = search.direct_search(f, 3, max_evals=6, log=log, name="q")
    lines = log.read_text().splitlines()
    # simulate a crash while writing record 6: keep 5 records and half of the 6th
    log.write_text("\n".join(lines[:5]) + "\n" + lines[5][: len(lines[5]) // 2])
    records, config = search.read_log(log)
    assert len(records) == 5 and config["objective"] == "q"
    again = Counting(f)
    resumed = search.direct_search(again, 3, max_evals=6, log=log, name="q")
    assert again.calls == [first.evaluations[5].den]
    assert _den_sequence(resumed) == _den_sequence(first)
    reread = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["index"] for r in reread] == [1, 2, 3, 4, 5, 6]


def test_damaged_middle_line_is_an_error(tmp_path):
    log = tmp_path / "bad.jsonl"
    search.direct_search(quadratic((0.8,)), 3, max_evals=4, log=log, name="q")
    lines = log.read_text().splitlines()
    lines[1] = lines[1][:10]
    log.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="line 2"):
        search.direct_search(quadratic((0.8,)), 3, max_evals=4, log=log, name="q")


def test_log_of_another_search_is_refused(tmp_path):
    log = tmp_path / "a.jsonl"
    f = quadratic((0.3, 0.7))
    search.direct_search(f, 5, max_evals=5, log=log, name="q")
    with pytest.raises(ValueError, match="bounds"):
        search.direct_search(f, 5, 1, max_evals=5, log=log, name="q")
    with pytest.raises(ValueError, match="algorithm"):
        search.direct_search(f, 5, algorithm="GN_DIRECT", max_evals=5, log=log, name="q")
    with pytest.raises(ValueError, match="objective"):
        search.direct_search(f, 5, max_evals=5, log=log, name="other")
    with pytest.raises(ValueError, match="kernel_size"):
        search.direct_search(quadratic((0.8,)), 3, max_evals=5, log=log, name="q")
    with pytest.raises(ValueError, match="method"):
        search.random_search(f, 5, max_evals=5, log=log, name="q")
    with pytest.raises(ValueError, match="objective_config"):
        search.direct_search(f, 5, max_evals=5, log=log, name="q", config={"epochs": 2})


def test_duplicate_points_are_evaluated_once():
    calls = Counting(quadratic((0.8,)))
    run = search._Run(calls, {"x": 1}, max_evals=10, max_time=None, log=None, callback=None)
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
    assert _den_sequence(full) == _den_sequence(result) and len(rest.calls) == 18


def test_random_search_baseline_is_seeded(tmp_path):
    f = quadratic((0.3, 0.7))
    a = search.random_search(f, 5, max_evals=20, seed=1)
    b = search.random_search(f, 5, max_evals=30, seed=1)
    c = search.random_search(f, 5, max_evals=20, seed=2)
    assert _den_sequence(a) == _den_sequence(b)[:20]
    assert _den_sequence(a) != _den_sequence(c)
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
    rows = search.summary(results)
    assert [r["method"] for r in rows] == ["DIRECT-L", "random"]
    for row, r in zip(rows, results.values()):
        assert row["evaluations"] == 20 and row["best value"] == r.best.value
        assert row["evals to best"] == r.evals_to_best
    with pytest.raises(TypeError, match="must be a SearchResult"):
        search.summary({"x": 1})


@pytest.mark.parametrize("kernel_size, bounds", [(3, None), (5, None), (7, 1)])
def test_progress_plot_draws_each_dimension(kernel_size, bounds):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f = quadratic(PAPER_OPTIMUM_7X7[: (kernel_size - 1) // 2])
    grid = search.grid_search(f, kernel_size, bounds, max_evals=9)
    for landscape in (f, grid):
        plot = search.ProgressPlot(kernel_size, bounds, landscape=landscape, live=False, every=4,
                                   logy=landscape is f)
        result = search.direct_search(f, kernel_size, bounds, max_evals=9, callback=plot)
        plot.finish(result)
        assert len(plot.evaluations) == 9
        assert plot.ax_values.get_xlabel() == "evaluation"
        assert len(plot.ax_values.lines[0].get_xdata()) == 9
        plt.close(plot.fig)


# --------------------------------------------------------------------------- training objectives
def _denoise_data_or_skip():
    require_data("denoise/BSDS500/train", "denoise/BSDS500/test", "denoise/CBSD68", "denoise/Kodak24")


def test_denoising_objective_is_a_deterministic_function_of_den(tmp_path):
    _denoise_data_or_skip()
    f = search.denoising_objective(3, budget="smoke", source="color", patches_per_epoch=8)
    assert f.name == "denoise-dncnn--psnr" and f.config["kernel_size"] == 3
    a, b, c = f((0.7,)), f((0.7,)), f((1.3,))
    assert a == b  # same W0, same patches and noise: the same score
    assert a != c and all(math.isfinite(v) for v in (a, c))
    assert 5 < -a < 60  # minus a PSNR in dB
    # a search over it logs, and resumes without training again
    log = tmp_path / "denoise.jsonl"
    first = search.direct_search(f, 3, max_evals=2, log=log)
    assert [e.den for e in first.evaluations] == [(1.0,), pytest.approx((2 / 3,))]
    trained = len(f.history)
    again = search.direct_search(f, 3, max_evals=2, log=log)
    assert len(f.history) == trained and again.values() == first.values()
    with pytest.raises(ValueError, match="objective_config"):
        search.direct_search(search.denoising_objective(3, budget="smoke", source="color", seed=1),
                             3, max_evals=2, log=log)


def test_learnable_density_baseline(tmp_path):
    _denoise_data_or_skip()
    f = search.denoising_objective(5, budget="smoke", source="color", patches_per_epoch=8)
    learned = search.learnable_density_search(f, results_dir=tmp_path)
    assert learned.init == (0.525, 0.525)  # centre of the 5x5 paper range [0.05, 1]
    assert len(learned.layers) == 3 and all(len(layer) == 2 for layer in learned.layers)
    assert learned.layers[0][0] != list(learned.init)  # it moved
    assert all(0.05 <= v <= 1.0 for v in learned.den)
    assert learned.value == f(learned.den) and learned.evaluations == 2
    assert search.summary({"learnable": learned})[0]["evals to best"] == 2
    trained = len(f.history)
    assert search.learnable_density_search(f, results_dir=tmp_path) == learned  # stored
    assert len(f.history) == trained


def test_objective_arguments_are_checked():
    with pytest.raises(ValueError, match="score for classify must be one of loss, error"):
        search.classification_objective(3, score="psnr")
    with pytest.raises(ValueError, match="budget must be one of smoke, book, full"):
        search.denoising_objective(3, budget="huge")
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['epoch'\]"):
        search.denoising_objective(3, epoch=3)
    with pytest.raises(TypeError, match="must be a TrainingObjective"):
        search.learnable_density_search(quadratic((0.8,)))


def test_final_runs_are_stored_and_reloaded(tmp_path):
    _denoise_data_or_skip()
    f = search.denoising_objective(3, budget="smoke", source="color", patches_per_epoch=8)
    runs = search.final_runs(f, {"uniform": None, "den 0.7": (0.7,)}, seeds=(0,), epochs=1,
                             results_dir=tmp_path)
    assert set(runs) == {"uniform", "den 0.7"}
    first = runs["den 0.7"][0]["final"]
    assert {"test_CBSD68_psnr", "test_Kodak24_psnr"} <= set(first)
    assert len(list((tmp_path / "search-final").glob("*.json"))) == 2
    again = search.final_runs(f, {"den 0.7": [0.7]}, seeds=(0,), epochs=1, results_dir=tmp_path)
    assert again["den 0.7"][0]["final"] == first  # loaded, not retrained
    rows = search.final_table(runs)
    assert rows[0]["density"] == "uniform" and rows[0]["runs"] == 1
    assert rows[1]["test_CBSD68_psnr"].endswith("± 0.00")
    diff = search.compare_final(runs, "den 0.7", "uniform", "test_CBSD68_psnr")
    assert diff["difference"] == pytest.approx(first["test_CBSD68_psnr"]
                                               - runs["uniform"][0]["final"]["test_CBSD68_psnr"])
    assert math.isnan(diff["p"])  # one run per arm: no test
    with pytest.raises(ValueError, match="arm 'paper' is not in runs"):
        search.compare_final(runs, "paper", "uniform", "test_CBSD68_psnr")


def test_search_panel_builds():
    panel = search.search_panel(max_evals=7)
    (task, size, which), (method, budget, run) = (panel.children[0].children,
                                                  panel.children[1].children)
    assert budget.value == 7 and len(which.options) == 1
    size.value = 7
    assert [label for label, _ in which.options] == ["[0.05, 0.5]^3", "[0.15, 1]^3", "[0.25, 1.5]^3"]


def test_log_path_names_the_search_and_hashes_its_config(tmp_path):
    config = {"method": "direct", "kernel_size": 5, "objective": "denoise-dncnn--psnr",
              "objective_config": {"budget": "book"}, "algorithm": "GN_DIRECT_L"}
    path = search.log_path(config, tmp_path)
    assert path.parent == tmp_path and path.name.startswith("denoise-dncnn--psnr-direct-k5-book-")
    assert search.log_path(dict(config), tmp_path) == path
    assert search.log_path(dict(config, algorithm="GN_DIRECT"), tmp_path) != path
    assert search.log_path(config).parent == search.LOG_DIR


def test_a_log_in_use_is_refused_until_released(tmp_path):
    log = tmp_path / "busy.jsonl"
    f = quadratic((0.8,))
    config = {"method": "direct", "objective": "q"}
    with search._Run(f, config, 5, None, log, None):
        with pytest.raises(RuntimeError, match="is in use by another running search"):
            search.direct_search(f, 3, max_evals=3, log=log, name="q")
    # released on exit, and after a search that raised
    with pytest.raises(KeyboardInterrupt):
        search.direct_search(Counting(f, fail_after=2), 3, max_evals=5, log=log, name="q")
    assert len(search.direct_search(f, 3, max_evals=5, log=log, name="q").evaluations) == 5
