"""The numbers of chapter 4 from stored records: summaries, paired differences, tuning choices."""
import math

import pytest
import torch

from wconv.experiments import classify_analysis, classify_grid, stats


def _fake(arch, k, dens, seed, role="final", lr=0.1, val=50.0, test=49.0, budget="book"):
    return {"config": {"arch": arch, "kernel_size": k, "density": dens, "seed": seed, "role": role,
                       "lr": lr, "budget": budget, "epochs": 15 if role != "tuning" else 4,
                       "lr_selection": {"chosen": lr} if role == "final" else None},
            "final": {"val_top1": val, "test_top1": test, "val_top5": 80.0, "test_top5": 79.0},
            "wall_time_s": 60.0, "epochs": []}


def test_summary_and_paired_differences_use_finals_and_scipy():
    from scipy import stats as scipy_stats

    base, arm = [60.1, 59.5, 60.6], [60.9, 59.8, 61.7]
    records = [_fake("resnet20", 3, "uniform", s, test=v) for s, v in enumerate(base)]
    records += [_fake("resnet20", 3, "paper", s, test=v) for s, v in enumerate(arm)]
    records += [_fake("resnet20", 3, "paper", 0, role="tuning", lr=0.2, test=10.0)]   # ignored
    summary = classify_analysis.summarize(records)
    assert [(r["density"], r["n"]) for r in summary] == [("uniform", 3), ("paper", 3)]
    assert summary[1]["test_top1_mean"] == pytest.approx(sum(arm) / 3)
    row, = classify_analysis.paired(records)
    assert list(row) == ["arch", "kernel_size", "density", "baseline", "metric", "n", "seeds",
                         "mean", "std", "ci_low", "ci_high", "p"]
    d = [a - b for a, b in zip(arm, base)]
    mean, sd = sum(d) / 3, float(torch.tensor(d).std())
    half = scipy_stats.t.ppf(0.975, 2) * sd / math.sqrt(3)
    assert row["n"] == 3 and row["seeds"] == [0, 1, 2] and row["mean"] == pytest.approx(mean)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((mean - half, mean + half))
    assert row["p"] == pytest.approx(scipy_stats.ttest_rel(arm, base).pvalue)
    expected = stats.paired_difference(arm, base)   # the book's one paired test
    assert {k: row[k] for k in ("n", "mean", "std", "ci_low", "ci_high", "p")} == {
        k: expected[k] for k in ("n", "mean", "std", "ci_low", "ci_high", "p")}
    same = [_fake("resnet20", 3, "uniform", s, test=50.0) for s in range(3)]
    same += [_fake("resnet20", 3, "paper", s, test=51.0) for s in range(3)]
    row, = classify_analysis.paired(same)
    assert row["mean"] == pytest.approx(1.0) and row["ci_low"] == row["ci_high"] == row["mean"]
    assert math.isnan(row["p"])


def test_paired_uses_only_seeds_both_arms_have():
    records = [_fake("vgg11", 3, "uniform", s, test=10.0 + s) for s in (0, 1, 2)]
    records += [_fake("vgg11", 3, "paper", s, test=12.0 + s) for s in (1, 2, 3)]
    row, = classify_analysis.paired(records)
    assert row["seeds"] == [1, 2] and row["n"] == 2 and row["mean"] == pytest.approx(2.0)
    lone = classify_analysis.paired([_fake("vgg11", 3, "paper", 0)])
    assert lone[0]["n"] == 0 and math.isnan(lone[0]["mean"])


def test_equal_lr_pairs_the_control_with_its_twin_at_the_same_lr_and_seed():
    records = [_fake("resnet20", 3, "reparam", s, lr=0.8, test=59.0 + s) for s in (0, 1, 2)]
    records += [_fake("resnet20", 3, "paper", s, lr=0.4, test=61.0) for s in (0, 1, 2)]
    assert classify_analysis.equal_lr(records) == []          # chose different lrs: no pair
    records += [_fake("resnet20", 3, "paper", 0, "sweep", 0.8, test=59.5),
                _fake("resnet20", 3, "paper", 1, "sweep", 0.8, test=59.5),
                _fake("resnet20", 3, "paper", 0, "tuning", 0.8, test=30.0),   # not full length
                _fake("vgg11", 3, "paper", 2, "sweep", 0.8, test=70.0)]      # other arch
    row, = classify_analysis.equal_lr(records)
    assert (row["arch"], row["density"], row["baseline"], row["pairs"]) == (
        "resnet20", "reparam", "paper", [(0, 0.8), (1, 0.8)])
    expected = stats.paired_difference([59.0, 60.0], [59.5, 59.5])
    assert {k: row[k] for k in ("n", "mean", "ci_low", "ci_high", "p")} == {
        k: expected[k] for k in ("n", "mean", "ci_low", "ci_high", "p")}
    records += [_fake("resnet20", 3, "reparam", 0, "tuning", 0.8, test=31.5),
                _fake("resnet20", 3, "reparam", 0, "tuning", 0.4, test=33.0)]
    twins, = classify_analysis.equal_lr(records, role="tuning")   # tuning runs, lr by lr
    assert twins["pairs"] == [(0, 0.8)] and twins["differences"] == [pytest.approx(1.5)]
    with pytest.raises(ValueError, match="role must be"):
        classify_analysis.equal_lr(records, role="sweep")


def test_tuning_table_and_short_vs_full_ranking():
    records = [_fake("resnet20", 3, d, 0, "tuning", lr, val=v)
               for d, vs in (("uniform", (50.0, 52.0, 51.0)), ("paper", (50.0, 51.5, 51.5)))
               for lr, v in zip((0.05, 0.1, 0.2), vs)]
    records += [_fake("resnet20", 3, "uniform", 0, "final", 0.1, val=60.0, test=59.0),
                _fake("resnet20", 3, "uniform", 0, "sweep", 0.05, val=58.0, test=57.5),
                _fake("resnet20", 3, "uniform", 0, "sweep", 0.2, val=59.0, test=58.0),
                _fake("resnet20", 3, "paper", 0, "final", 0.1, val=59.0, test=58.0),
                _fake("resnet20", 3, "paper", 0, "sweep", 0.05, val=57.0, test=56.0),
                _fake("resnet20", 3, "paper", 0, "sweep", 0.2, val=60.0, test=59.5),
                _fake("resnet20", 3, "paper", 1, "final", 0.1, val=61.0)]
    table = classify_analysis.tuning_table(records)
    assert [(r["density"], r["chosen"], r["recorded"], r["epochs"]) for r in table] == [
        ("uniform", 0.1, [0.1], 4), ("paper", 0.1, [0.1], 4)]
    assert table[1]["scores"] == [50.0, 51.5, 51.5]
    assert table[0]["margin"] == pytest.approx(1.0) and table[1]["margin"] == 0.0   # a tie: no lead
    uniform, paper = classify_analysis.ranking_agreement(records)
    assert uniform["full"] == [58.0, 60.0, 59.0] and uniform["agree"] and uniform["kendall_tau"] == pytest.approx(1.0)
    assert paper["best_short"] == 0.1 and paper["best_full"] == 0.2 and not paper["agree"]
    assert paper["full_test"] == [56.0, 58.0, 59.5]


def test_chapter4_numbers_from_the_stored_quick_runs():
    """What chapter 4 prints from the committed results (no data needed, nothing trained)."""
    records = classify_grid.stored_records("chapter4", "quick")
    assert len(records) == 42
    summary = {(r["arch"], r["kernel_size"], r["density"]): r
               for r in classify_analysis.summarize(records)}
    vgg = summary["vgg11", 3, "uniform"], summary["vgg11", 3, "paper"]
    assert [(round(r["test_top1_mean"], 2), round(r["test_top1_std"], 2), r["n"]) for r in vgg] == [
        (3.88, 1.95, 3), (7.21, 1.50, 3)]
    diffs = {(r["arch"], r["kernel_size"], r["density"]): r
             for r in classify_analysis.paired(records, baseline="uniform", metric="test_top1")}
    assert len(diffs) == 11
    r = diffs["vgg11", 3, "paper"]
    assert [round(r[k], 2) for k in ("mean", "ci_low", "ci_high")] == [3.33, 2.20, 4.47]
    assert round(r["p"], 3) == 0.006
    r = diffs["resnet20", 3, "paper"]
    assert [round(r[k], 2) for k in ("mean", "ci_low", "ci_high")] == [-0.21, -2.07, 1.66]
    assert diffs["vgg11", 5, "gaussian"]["p"] == pytest.approx(0.1403, rel=1e-3)
    control = [r for r in classify_analysis.paired(records, baseline="paper") if r["density"] == "reparam"]
    assert [round(r["mean"], 2) for r in control] == [0.13, 0.50]
