"""The denoising study read back from stored records: summaries, paired comparisons (one
statistics routine), the regime map, the papers' setting, the head start, the published side."""
from __future__ import annotations

import math

import pytest

from wconv.experiments import denoise as D
from wconv.experiments import denoise_study as S
from wconv.experiments import results
from wconv.experiments.stats import paired_difference


def _tuned(arm, seed, budget, epochs=None, lr=1e-3):
    t = {"grid": [1e-3, 3e-3], "scores": [28.0, 27.0], "choice": lr, "rule": "test", "tie_db": 0.05,
         "seed": D.TUNE_SEED, "epochs": 1, "runs": []}
    return arm.config(seed, budget, epochs=epochs, lr=lr, lr_tuning=t)


def _fake(config, psnr25, noisy=20.5, curve=None):
    per = {str(s): {"mean_psnr": psnr25 - (s - 25) / 5, "noisy_mean_psnr": noisy - (s - 25) / 5,
                    "mean_ssim": 0.8} for s in config["test_sigmas"]}
    curve = curve or [psnr25] * config["epochs"]
    return {"config": config, "test": {"CBSD68": per, "Kodak24": per},
            "epochs": [{"epoch": i, "val_psnr": v} for i, v in enumerate(curve, 1)]}


STD, WTD, HEAD = D.Arm("dncnn", 7, "uniform"), D.Arm("dncnn", 7, "paper"), D.Arm("dncnn", 7, "head-start")


def study_records() -> list[dict]:
    """A smoke-budget study of three arms and three seeds: the weighted arm leads after 1 epoch,
    the standard one after 2 (the budget's length); one tuning run."""
    recs = []
    for seed, (s1, w1, s2, w2, h2) in enumerate([(21.0, 25.0, 29.1, 28.9, 28.95),
                                                 (21.5, 25.2, 29.3, 28.9, 29.3),
                                                 (21.2, 25.1, 29.0, 28.9, 28.9)]):
        recs += [_fake(_tuned(STD, seed, "smoke", epochs=1), s1),
                 _fake(_tuned(WTD, seed, "smoke", epochs=1), w1),
                 _fake(_tuned(STD, seed, "smoke"), s2), _fake(_tuned(WTD, seed, "smoke"), w2),
                 _fake(_tuned(HEAD, seed, "smoke"), h2)]
    recs.append(_fake(STD.config(D.TUNE_SEED, "smoke", epochs=1, lr=3e-3), 20.6))   # a tuning run
    return recs


def quick_records() -> list[dict]:
    """The stored ``chapter5`` grid of the ``quick`` budget (the page's runs)."""
    recs = [results.load(c) for c in D.grid("chapter5", "quick")]
    assert all(r is not None for r in recs)
    return recs


def test_paired_comparisons_are_the_one_paired_difference():
    recs = study_records()
    assert sum(S.is_final(r) for r in recs) == 9 and sum(S.is_tuning(r) for r in recs) == 1
    d = S.paired(recs, WTD, STD)
    expected = paired_difference([28.9] * 3, [29.1, 29.3, 29.0])
    assert {k: d[k] for k in expected if k != "differences"} == \
        pytest.approx({k: v for k, v in expected.items() if k != "differences"})
    assert d["differences"] == pytest.approx(expected["differences"])
    assert d["n"] == 3 and d["mean"] == pytest.approx(-0.2333333) and d["ci_low"] < 0 < d["ci_high"]
    assert d["arm"] == WTD.label and d["seeds"] == [0, 1, 2] and d["reference_collapsed"] == 0
    assert S.paired(recs, WTD, STD, test_set="Kodak24", sigma=15)["mean"] == pytest.approx(d["mean"])
    assert S.paired(recs, WTD, D.Arm("nafnet", 7, "paper")) is None
    rows = S.comparisons(recs)
    assert [r["question"] for r in rows] == ["weighted vs standard, 7×7, BN",
                                            "control (b): head start W₀⊙Φ vs weighted 7×7"]
    # no spread: no test (p NaN), the interval is the mean itself
    flat = [_fake(_tuned(a, s, "smoke"), v + s) for s in range(2) for a, v in ((STD, 28.0), (WTD, 28.5))]
    same = S.paired(flat, WTD, STD)
    assert math.isnan(same["p"]) and same["ci_low"] == same["ci_high"] == pytest.approx(0.5)


def test_summarize_per_variant_with_paired_differences_and_collapse_counts():
    recs = quick_records()
    rows = S.summarize(recs)
    assert len(rows) == 10 * 2 * 3                     # variants x test sets x sigmas
    row = next(r for r in rows if (r["arch"], r["kernel_size"], r["density"], r["test_set"],
                                   r["sigma"]) == ("dncnn", 7, "uniform", "CBSD68", 25))
    assert row["collapsed"] == 3 and row["gain_mean"] < 1.0 and "dpsnr_mean" not in row
    paper = next(r for r in rows if (r["arch"], r["kernel_size"], r["density"], r["test_set"],
                                     r["sigma"]) == ("dncnn", 7, "paper", "CBSD68", 25))
    by = {(r["config"]["density"], r["config"]["seed"]): r["test"]["CBSD68"]["25"]["mean_psnr"]
          for r in recs if (r["config"]["arch"], r["config"]["kernel_size"]) == ("dncnn", 7)}
    d = paired_difference([by["paper", s] for s in range(3)], [by["uniform", s] for s in range(3)])
    assert (paper["pairs"], paper["dpsnr_mean"], paper["dpsnr_std"], paper["p"]) == \
        (3, d["mean"], d["std"], d["p"])
    assert S.summarize([r for r in study_records() if S.is_tuning(r)]) == []


def test_papers_setting_untrained_head_start_published_side_and_panel_from_the_store():
    recs = quick_records()
    ps = S.papers_setting(recs)
    assert ps["standard_collapsed"] == 3 and ps["delta"] > 4 and "240 Adam steps" in ps["label"]
    assert ps["arms"][:3] == [("dncnn 3×3 standard", 3, 3), ("dncnn 3×3 paper", 0, 3),
                              ("dncnn 7×7 standard", 3, 3)] and len(ps["arms"]) == 10
    assert S.papers_setting(recs, budget="smoke") is None          # no smoke grid among them
    start = S.untrained(D.grid("chapter5", "quick"))          # stored: no data needed
    assert len(start["rows"]) == 10 and all(r["n"] == 3 for r in start["rows"])
    assert 20 < start["noisy"] < 21 and set(start["head_start"]) == {"dncnn", "nafnet"}
    side = S.beside_published(S.summarize(recs), recs)
    assert side["test_set"] == "CBSD68" and side["den"] == [0.25, 0.15, 0.55]
    assert side["steps"] == 240 and side["standard_7"]["collapsed"] == 3
    assert side["weighted_7"]["psnr_mean"] > side["standard_7"]["psnr_mean"]
    imgs = S.panel_images(recs[0])
    assert imgs["output"].shape == imgs["clean"].shape == imgs["noisy"].shape


def test_regime_points_crossings_and_plateau_rows():
    assert S.crossings([100, 1000, 10000], [25, 27, 28], [20, 26, 29]) == [3162.27766]
    assert S.crossings([100, 1000], [25, 27], [20, 26]) == []
    assert S.crossings([100, 1000, 10000], [25, 26, 27], [24, 26, 28]) == [1000.0]
    assert S.crossings([100, 1000], [20, 30], [30, 20]) == [316.22777]
    recs = study_records()
    pts = S.regime_points(recs, STD)
    assert [p["steps"] for p in pts] == [2, 4] and [p["n"] for p in pts] == [3, 3]
    cross = S.regime_crossings(recs, WTD, STD)
    assert len(cross) == 1 and 2 < cross[0] < 4
    table = S.plateau_rows(recs)
    assert [r["label"] for r in table] == [STD.label, WTD.label, HEAD.label]
    assert all(r["n"] == 3 and r["collapsed"] == 0 and r["at_plateau"] == 3 for r in table)


def test_stored_records_progress_tuning_rows_and_missing_pairs(tmp_path):
    # an empty store: nothing is loaded, nothing is trained, every run is left to train
    assert D.stored_records("study", "smoke", results_dir=tmp_path) == []
    rows = D.status("dncnn", "smoke", results_dir=tmp_path)
    p = S.progress(rows, [])
    assert p["stored"] == 0 and p["total"] == len(rows) and p["hours_stored"] == 0
    assert [b["name"] for b in p["blocks"]] == ["DnCNN arms"]
    # store the 7x7 standard's two tuning runs (1e-3 collapsed): its finals get a learning rate
    arm = D.DNCNN_ARMS[0]
    tune = D.tuning_configs(arm, "smoke")
    for c, v in zip(tune, (20.9, 26.0)):
        results.save(c, dict(_fake(c, v), wall_time_s=60.0, train_time_s=50.0), tmp_path)
    recs = D.stored_records("study", "smoke", results_dir=tmp_path)
    assert [r["config"]["name"] for r in recs] == [c["name"] for c in tune]     # plan order
    final = D.final_config(arm, 0, "smoke", results_dir=tmp_path)
    results.save(final, dict(_fake(final, 28.0), wall_time_s=120.0, train_time_s=100.0), tmp_path)
    recs = D.stored_records("study", "smoke", results_dir=tmp_path)
    assert len(recs) == 3 and S.is_final(recs[-1])
    p = S.progress(D.status("study", "smoke", results_dir=tmp_path), recs)
    assert p["stored"] == 3 and p["hours_stored"] == pytest.approx(240 / 3600)
    assert p["blocks"][0] == {"name": "DnCNN arms", "stored": 3, "total": p["blocks"][0]["total"]}
    (row,) = S.tuning_rows(recs)
    assert row["grid"] == [1e-3, 3e-3] and row["scores"] == [20.9, 26.0]
    assert row["collapsed"] == [True, False] and row["choice"] == 3e-3
    assert row["at_edge"] and row["edge_rise"] == pytest.approx(5.1) and not row["all_collapsed"]
    # from the tuning runs alone (no final stored): the same choice; one run missing: no choice
    assert S.tuning_rows(recs[:2])[0]["choice"] == 3e-3
    assert S.tuning_rows(recs[:1])[0]["choice"] is None
    assert S.missing_pairs(recs)[0] == "weighted vs standard, 7×7, BN"
    assert "weighted vs standard, 7×7, BN" not in S.missing_pairs(study_records())
    plat = S.plateau_rows(study_records())
    assert all(r["plateau_gains"] == [0.0] * 3 for r in plat)


def test_initial_signal_measures_how_much_of_the_image_reaches_the_last_layer():
    from wconv.views import denoising

    arms = [D.Arm("dncnn", 7, "uniform", False), D.Arm("dncnn", 7, "paper", False)]
    standard, weighted = S.initial_signal(arms, "book")
    # the papers' 7x7 density has rms 0.254: six weighted layers shrink the image's part ~0.254^6
    assert weighted["input_std"] / standard["input_std"] == pytest.approx(0.254 ** 6, rel=1.0)
    assert weighted["fraction"] < 1e-3 < standard["fraction"] < 1
    assert denoising.initial_signal_table([standard]).splitlines()[2].startswith("| dncnn 7×7 standard, no BN | ")
