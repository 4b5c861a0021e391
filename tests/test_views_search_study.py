"""wconv.views.search_study: the search study's table, sentences and plots, from its numbers."""
import dataclasses
import math

import matplotlib
import pytest

from wconv.experiments import search
from wconv.views import search_study

matplotlib.use("Agg")


def _out(noise_std=0.05):
    f = lambda den: (den[0] - 0.8) ** 2 + (den[1] - 0.3) ** 2
    grid = search.grid_search(f, 5, points=3, max_evals=9)
    return {"noise": {"std": noise_std, "n": 3}, "grid": grid,
            "direct": search.direct_search(f, 5, max_evals=9),
            "random": {0: search.random_search(f, 5, max_evals=9, seed=0)},
            "fidelity": {"labels": list("abcd"), "proxy": [1.0, 2.0, 3.0, 4.0],
                         "full": [1.5, 2.5, 2.0, 4.5], "n": 4, "rho": 0.8, "ci_low": -0.4,
                         "ci_high": 0.99, "p": 0.2}}


def test_row_table_and_sentences():
    out = _out()
    row = search_study.study_row("DnCNN 5×5", out)
    spread = max(e.value for e in out["grid"].evaluations) - min(e.value for e in out["grid"].evaluations)
    assert row["spread"] == pytest.approx(spread) and row["ratio"] == pytest.approx(spread / 0.05)
    assert row["evaluations"] == {"grid": 9, "DIRECT-L": 9, "random (seed 0)": 9}
    lines = search_study.study_markdown([row], "dB").splitlines()
    assert lines[0].startswith("| task, kernel | noise: std over seeds (dB) | seeds |")
    assert lines[2].startswith(f"| DnCNN 5×5 | 0.050 | 3 | {spread:.3f} | 9 | {spread / 0.05:.1f} | 0.80 [-0.40, +0.99] | 4 |")
    text = search_study.findings([row], {"DnCNN 5×5": out}, "dB", eps=0.01)
    assert "enough to rank densities (the goal is 3)" in text
    assert "Spearman ρ 0.80 [-0.40, +0.99] against full training, no evidence that it ranks them" in text
    assert "Over those 4 densities full training spans 3.000 dB, the proxy 3.000 dB." in text
    assert search_study.fidelity_verdict(0.1, 0.9) == "so it ranks them as full training does"
    assert search_study.fidelity_verdict(-0.9, -0.1).startswith("so it ranks them in reverse")
    assert search_study.fidelity_verdict(math.nan, math.nan) == "too few densities to tell"
    assert "Evaluations to within 0.01 dB of the best found, of 9 per search: grid " in text
    assert "stored)" not in text
    assert text.endswith("The learnable density is not stored yet.")
    by_noise = search_study.findings([row], {"DnCNN 5×5": out}, "dB")   # within the noise, 0.05 dB
    assert "Evaluations to within 0.050 dB (the noise) of the best found, of 9 per search: grid " in by_noise
    # a search still running says how far it got
    f = lambda den: (den[0] - 0.8) ** 2 + (den[1] - 0.3) ** 2   # _out's function
    partial = dict(out, random={0: search.random_search(f, 5, max_evals=4, seed=0)})
    text = search_study.findings([row], {"DnCNN 5×5": partial}, "dB", eps=0.01)
    assert "random (seed 0) never (4 of 9 stored)" in text
    # every search still running: the planned budget comes from the study, not from the longest log
    short = {"grid": search.grid_search(f, 5, points=2, max_evals=4),
             "direct": search.direct_search(f, 5, max_evals=6), "evaluations_per_search": 9}
    text = search_study.findings([row], {"DnCNN 5×5": dict(out, **short, random={})}, "dB", eps=0.01)
    assert "of 9 per search: grid " in text and "(4 of 9 stored)" in text and "(6 of 9 stored)" in text
    # a fidelity check still running: too few densities for a correlation, and it says so
    two = dict(out, fidelity={"labels": ["a", "b"], "proxy": [1.0, 2.0], "full": [1.5, 1.0], "n": 2,
                              "rho": math.nan, "ci_low": math.nan, "ci_high": math.nan, "p": math.nan})
    text = search_study.findings([search_study.study_row("DnCNN 5×5", two)], {"DnCNN 5×5": two}, "dB")
    assert ("fidelity: 2 of 8 full trainings stored, too few for a rank correlation. Over those 2 "
            "densities full training spans 0.500 dB, the proxy 1.000 dB.") in text
    noisy = search_study.study_row("x", _out(noise_std=spread))
    assert search_study.ratio_sentence(noisy["ratio"]).endswith("too little to rank densities (the goal is 3)")
    empty = search_study.study_row("y", {"noise": {"std": math.nan, "n": 0}, "grid": None})
    assert search_study.study_markdown([empty], "dB").splitlines()[2] == "| y | – | 0 | – | 0 | – | – | 0 |"
    assert search_study.findings([], {}, "dB", 0.1) == "Nothing of the search study is stored yet."


def test_learnable_density_is_a_method_of_the_study():
    out = _out()
    best = search_study.best_found(out)
    assert best == min(e.value for r in search_study.searches(out).values() for e in r.evaluations)
    learned = search.LearnedDensity(init=(0.5, 0.5), layers=[], den=(0.7, 0.35),
                                    value_learnable=best + 0.3, value=best + 0.2, seconds=600.0,
                                    evaluations=2)
    out["learnable"] = learned
    assert search_study.learnable_sentence(out, 0.05, "dB") == (
        "The learnable density (learned by SGD from the box's centre, then trained as a fixed "
        "density: 2 trainings, 10 min) ends at [0.700, 0.350] and scores 0.200 dB from the best "
        "found, 4.0 times the noise.")
    assert search_study.learnable_sentence(out, 0.5, "dB").endswith("0.200 dB from the best found, within the noise.")
    # a learnable density better than every search becomes the reference of the searches' regret
    out["learnable"] = dataclasses.replace(learned, value=best - 1.0)
    assert search_study.best_found(out) == best - 1.0
    assert search_study.learnable_sentence(out, 0.05, "dB").endswith("scores the best found.")
    row = search_study.study_row("DnCNN 5×5", out)
    assert "grid never, DIRECT-L never, random (seed 0) never." in search_study.findings(
        [row], {"DnCNN 5×5": out}, "dB", eps=0.5)
    ax = search_study.plot_regret(dict(out, learnable=learned), unit="dB")
    assert [t.get_text() for t in ax.get_legend().get_texts()][-1] == "learned by SGD"
    star = ax.get_lines()[-1]
    assert list(star.get_xdata()) == [2] and star.get_ydata()[0] == pytest.approx(0.2)
    assert search_study.learnable_sentence({}, 0.05, "dB") == "The learnable density is not stored yet."


def _final_record(den, seed, psnr):
    return {"config": {"den": den, "epochs": 50, "objective": {"seed": seed}},
            "final": {"test_CBSD68_psnr": psnr}}


def test_final_sentence_pairs_whole_seeds():
    assert search_study.final_sentence("DnCNN 5×5", None, "test_CBSD68_psnr", "dB") == (
        "DnCNN 5×5: the final check of DIRECT-L's density is not stored yet.")
    found, paper = [0.1, 0.5], [0.2, 0.8]
    final = {"DIRECT-L": [_final_record(found, s, v) for s, v in [(0, 29.5), (1, 29.7), (2, 29.6)]],
             "uniform (standard)": [_final_record(None, s, v) for s, v in [(0, 29.0), (1, 29.4)]],
             "papers' density": [_final_record(paper, s, v) for s, v in [(0, 29.5), (1, 29.7)]]}
    text = search_study.final_sentence("DnCNN 5×5", final, "test_CBSD68_psnr", "dB")
    # seed 2 has only DIRECT-L, so it is left out; the differences are +0.5, +0.3 and 0, 0
    assert text.startswith("DnCNN 5×5: DIRECT-L's density [0.100, 0.500], trained for 50 epochs and "
                           "scored on the test split (CBSD68 PSNR), gives +0.40 dB against uniform "
                           "(standard) (95 % CI [")
    assert "+0.00 dB against papers' density" in text and text.endswith("(n = 2 paired seeds).")
    assert "p 0.156, an MSE change of -8.8 %)" in text     # 10 ** (-0.04) - 1
    final["uniform (standard)"] = [_final_record(None, 2, 29.0)]
    assert search_study.final_sentence("x", final, "test_CBSD68_psnr", "dB") == (
        "x: the final check of DIRECT-L's density has no seed with every arm yet.")


def test_plots_have_labelled_axes():
    out = _out()
    ax = search_study.plot_fidelity(out["fidelity"], unit="dB")
    assert ax.get_xlabel() == "proxy objective: short training (dB)" and ax.get_title() == "Spearman ρ = 0.80"
    ax = search_study.plot_regret(out, unit="dB")
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "evaluations (trainings)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["grid", "DIRECT-L", "random (seed 0)"]
    assert search_study.plot_regret(out, x="seconds").get_xlabel() == "search time (s)"


def test_papers_loss_sentence_converts_db_into_mse_changes():
    plateau = {"mean": 10 * math.log10(2), "ci_low": 0.0, "ci_high": 10.0, "n": 3}
    text = search_study.papers_loss_sentence(plateau, 10 * math.log10(4 / 3), (0.5, 0.5))
    assert "up to 53 % at 11 % more time" in text
    # +3.01 dB halves the MSE; the interval's ends are 0 dB (no change) and 10 dB (-90 %)
    assert "by -50.0 % (95 % interval -90.0 % to +0.0 %; CBSD68, σ = 25, n = 3" in text
    assert "leaves out the standard convolution" in text and "by -25.0 % on the proxy" in text
    assert "standard convolution" not in search_study.papers_loss_sentence(None, 0.1, (1.0, 0.5))
    assert "not stored yet" in search_study.papers_loss_sentence(None, math.nan, (0.5,))
