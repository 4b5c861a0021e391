"""The benchmark's naive formulation is correct and its runner produces ratios."""
import math

import pytest
import torch

from wconv import WeightedConv2d
from wconv.experiments import bench, precision


@pytest.mark.parametrize("k", [3, 5, 7])
def test_naive_formulation_equals_the_layer(k):
    torch.manual_seed(0)
    layer = WeightedConv2d(3, 4, k, padding=k // 2, density=[0.5] * ((k - 1) // 2),
                           dtype=torch.float64)
    x = torch.randn(2, 3, 9, 9, dtype=torch.float64)
    naive = bench.naive_weighted_conv2d(x, layer.weight, layer.density_mask[0, 0], layer.bias,
                                        padding=k // 2)
    torch.testing.assert_close(naive, layer(x))


def test_run_reports_medians_and_ratios():
    shape = bench.LayerShape("tiny", 2, 3, 4, 8, 3)
    rows = bench.run([shape], repeats=2)
    row = rows[0]
    for key in ("conv2d_train_s", "weighted_train_s", "folded_infer_s", "naive_train_s"):
        assert row[key] > 0
    assert row["train_ratio"] == pytest.approx(row["weighted_train_s"] / row["conv2d_train_s"])
    table = bench.format_table(rows)
    assert "tiny" in table and "median over shapes" in table


def test_cli_rejects_bad_arguments(capsys):
    from wconv.__main__ import main

    assert main(["bench", "--repeats", "0"]) == 2
    assert "--repeats must be >= 1" in capsys.readouterr().err
    assert main(["bench", "--kernel-sizes", "4"]) == 2
    assert "no benchmark shape has kernel size in [4]" in capsys.readouterr().err


@pytest.mark.parametrize("budget, rounds", [("smoke", 2), ("book", 1)])  # book: full width, slower
def test_engine_vs_plain_loop_reports_both_on_the_same_setup(budget, rounds):
    # 'auto' for the book: its bfloat16 is emulated, and slow, on a CPU without it
    auto = {"precision": "auto"} if budget == "book" else {}
    r = bench.engine_vs_plain("resnet20", 3, "paper", budget, steps=2, rounds=rounds, device="cpu",
                              **auto)
    assert len(r["engine_rounds"]) == len(r["plain_rounds"]) == rounds
    assert r["engine"] > 0 and r["plain"] > 0 and r["ratio"] == pytest.approx(r["engine"] / r["plain"])
    ratios = sorted(e / p for e, p in zip(r["engine_rounds"], r["plain_rounds"]))
    # the geometric mean of the rounds' ratios (exp of a mean of logs: equal up to rounding)
    assert ratios[0] * (1 - 1e-12) <= r["paired_ratio"] <= ratios[-1] * (1 + 1e-12)
    low, high = r["paired_ci"]
    if rounds > 1:
        assert low <= r["paired_ratio"] <= high
    else:   # one round: no interval
        assert math.isnan(low) and math.isnan(high)
    from wconv.experiments import classify
    expected = precision.default_precision("cpu") if auto else classify.BUDGETS[budget].precision
    assert r["precision"] == expected
    assert r["width"] == classify.BUDGETS[budget].width_of("resnet20")
    assert r["batch_size"] == classify.BUDGETS[budget].batch_size
