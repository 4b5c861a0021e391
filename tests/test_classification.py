"""What chapter 4 shows: its tables in the one format, its verdicts, the papers' numbers, its plots."""
import json
import math
import re

import matplotlib
import pytest

from wconv.experiments import classify, classify_analysis, classify_grid
from wconv.views import classification
from wconv.views.published import PUBLISHED

from conftest import ROOT

matplotlib.use("Agg")


def _row(density="paper", mean=1.0, low=0.2, high=1.8, p=0.03, arch="resnet20", k=3,
         baseline="uniform", metric="test_top1", n=3):
    return {"arch": arch, "kernel_size": k, "density": density, "baseline": baseline,
            "metric": metric, "n": n, "seeds": list(range(n)), "mean": mean, "std": 0.5,
            "ci_low": low, "ci_high": high, "p": p}


def test_paired_table_in_the_one_format():
    text = classification.paired_markdown([_row(), _row("gaussian", -0.5, -1.0, 0.1, 2e-4),
                                           _row("triangular", 1.0, 1.0, 1.0, math.nan)])
    assert text.splitlines() == [
        "| architecture | kernel | density − uniform | pairs | mean diff (pp) | 95% CI (pp) | p (paired t) |",
        "|---|---|---|---|---|---|---|",
        "| ResNet-20 | 3×3 | paper | 3 | +1.00 | [+0.20, +1.80] | 0.030 |",
        "| ResNet-20 | 3×3 | gaussian | 3 | -0.50 | [-1.00, +0.10] | < 0.001 |",
        "| ResNet-20 | 3×3 | triangular | 3 | +1.00 | [+1.00, +1.00] | – |"]


def test_summary_tuning_and_ranking_tables():
    summary = [{"arch": "vgg11", "kernel_size": 5, "density": "paper", "lr": [0.05, 0.1], "n": 3,
                "val_top1_mean": 12.666, "val_top1_std": 0.907, "test_top1_mean": 12.503,
                "test_top1_std": 0.79, "test_top5_mean": 35.79, "test_top5_std": math.nan}]
    assert classification.summary_markdown(summary).splitlines()[2] == (
        "| VGG-11-BN | 5×5 | paper | 0.05, 0.1 | 3 | 12.67 ± 0.91 | 12.50 ± 0.79 | 35.79 |")
    tuning = [{"arch": "resnet20", "kernel_size": 3, "density": "paper", "grid": [0.05, 0.1, 0.2],
               "scores": [50.0, 51.5, 51.5], "chosen": 0.1},
              {"arch": "resnet20", "kernel_size": 3, "density": "uniform", "grid": [0.1, 0.4],
               "scores": [52.0, 49.0], "chosen": 0.1}]
    lines = classification.tuning_markdown(tuning).splitlines()
    assert lines[0] == "| model | density | lr 0.05 | lr 0.1 | lr 0.2 | lr 0.4 | chosen |"
    assert lines[2:] == ["| ResNet-20 3×3 | paper | 50.00 | 51.50 | 51.50 | – | 0.1 |",
                         "| ResNet-20 3×3 | uniform | – | 52.00 | – | 49.00 | 0.1 |"]
    tuning[1]["at_edge"] = True
    lines = classification.tuning_markdown(tuning).splitlines()
    assert lines[3] == "| ResNet-20 3×3 | uniform | – | 52.00 | – | 49.00 | 0.1 † |"
    assert lines[-1] == "† at an end of the grid: a better value may lie beyond it."
    ranking = [{"arch": "resnet20", "kernel_size": 3, "density": "paper", "grid": [0.05, 0.1, 0.2],
                "short": [50.0, 51.5, 51.5], "full": [57.0, 59.0, 60.0],
                "full_test": [56.0, 58.0, 59.5], "best_short": 0.1, "best_full": 0.2}]
    lines = classification.ranking_markdown(ranking).splitlines()
    assert lines[3] == "| ResNet-20 | 3×3 | paper | 0.1 | 51.50 ★ | 59.00 | 58.00 |"
    assert lines[4] == "| ResNet-20 | 3×3 | paper | 0.2 | 51.50 | 60.00 ★ | 59.50 |"


def test_verdicts_read_the_interval():
    assert classification.verdict(_row(low=0.2, high=1.8)) == "weighted better"
    assert classification.verdict(_row(mean=-1, low=-1.8, high=-0.2)) == "weighted worse"
    assert classification.verdict(_row(low=-0.2, high=1.8)) == "no significant difference"
    assert classification.verdict(_row(low=math.nan, high=math.nan)) == "no significant difference"
    rows = [_row(arch="vgg11"), _row("reparam", -1.02, -2.33, 0.28, metric="val_top1")]
    assert classification.verdicts(rows).splitlines() == [
        "vgg11 3×3      paper: test weighted better (+1.00 pp, n=3)",
        "resnet20 3×3    reparam: val no significant difference (-1.02 pp, n=3)"]


def test_chapter4_findings_from_the_stored_quick_runs():
    records = classify_grid.stored_records("chapter4", "quick")
    diffs = classify_analysis.paired(records, baseline="uniform", metric="test_top1")
    lines = classification.verdicts(diffs).splitlines()
    assert lines[0] == "vgg11 3×3      paper: test weighted better (+3.33 pp, n=3)"
    assert lines[4] == "resnet20 3×3      paper: test no significant difference (-0.21 pp, n=3)"
    assert lines[5] == "resnet20 3×3   gaussian: test no significant difference (-0.74 pp, n=3)"
    assert classification.per_seed(records).splitlines() == [
        "vgg11 test top-1 per seed  paper: [6.59, 8.92, 6.13]  reparam: [6.77, 9.06, 6.19]",
        "resnet20 test top-1 per seed  paper: [2.81, 4.52, 1.82]  reparam: [3.45, 3.99, 3.22]"]
    table = classification.beside_paper_markdown(classify_analysis.summarize(records),
                                                 classify.BUDGETS["quick"], "cpu")
    paper = PUBLISHED["weighted_vgg_cifar100"]
    assert table.splitlines()[2:] == [
        f"| paper | {paper['standard_top1']:.2f} | {paper['weighted_top1']:.2f} | +10.05 | "
        f"{classification.PAPER_SETTING} |",
        "| this book | 3.88 | 7.21 | +3.33 | VGG-11 width 0.25, 30 img/class, 5 epochs, den [0.7], "
        "cpu, mean of 3 seeds |"]


def test_chapter4_types_no_published_number_and_builds_no_table():
    nb = json.loads((ROOT / "book" / "04_classification.ipynb").read_text(encoding="utf-8"))
    text = "\n".join("".join(c["source"]) for c in nb["cells"])
    numbers = {f"{v}" for p in PUBLISHED.values() for v in p.values() if isinstance(v, float)}
    typed = {n for n in numbers if re.search(rf"(?<![\d.]){re.escape(n)}(?![\d])", text)}
    assert typed == set(), f"chapter 4 types published numbers {typed}: read them from PUBLISHED"
    assert "|---" not in text and "verdict = " not in text


def test_plots_draw_and_label():
    records = classify_grid.stored_records("chapter4", "quick")
    ax = classification.plot_learning_curves(records, "vgg11", 3, "train_loss")
    assert ax.get_ylabel() == "training loss (cross-entropy, nats)" and len(ax.lines) == 5
    assert ax.get_title() == "VGG-11-BN, 3×3 kernels"
    rows = classify_analysis.paired(records)
    ax = classification.plot_paired(rows)
    assert len(ax.get_yticklabels()) == len(rows) == 11
    assert ax.get_xlabel() == ("test top-1 accuracy difference vs uniform "
                               "(percentage points, 95% CI)")


@pytest.mark.parametrize("arch, label", [("resnet20", "ResNet-20"), ("vgg11", "VGG-11-BN"),
                                         ("other", "other")])
def test_arch_label(arch, label):
    assert classification.arch_label(arch) == label


def _record(density, seed, test_top1, role="final", lr=0.4, epochs=18, arch="resnet20", k=3,
            val_top1=None):
    val = test_top1 if val_top1 is None else val_top1
    return {"config": {"arch": arch, "kernel_size": k, "density": density, "seed": seed,
                       "role": role, "lr": lr, "epochs": epochs, "lr_selection": None},
            "final": {"val_top1": val, "test_top1": test_top1, "val_top5": 80.0, "test_top5": 80.0},
            "wall_time_s": 60.0}


def test_findings_are_sentences_from_the_records():
    records = [_record(d, 0, s, role="tuning", lr=lr, epochs=4)
               for d in ("uniform", "paper") for lr, s in ((0.1, 40.0), (0.4, 43.0), (0.8, 41.0))]
    records += [_record("uniform", s, 61.0 + s) for s in range(3)]
    records += [_record("paper", s, 61.5 + s + 0.1 * s) for s in range(3)]
    f = classification.findings(records)
    assert f["standard"].startswith("The standard ResNet-20 (3×3) reaches 62.00 ± 1.00 % test top-1")
    assert "meets the 60 % goal and" in f["standard"]
    assert f["densities"].startswith("ResNet-20 3×3 `paper` − `uniform`: +0.60 pp test top-1")
    assert f["densities"].endswith("): higher.")
    assert f["tuning"].endswith("No choice is at an end of the grid.")   # no twins: no noise
    assert "`uniform` 0.4; ResNet-20 3×3 `paper` 0.4" in f["tuning"]
    assert f["reparam"] == "No `reparam` final run is stored yet."
    assert "not stored yet" in f["ranking"]
    # one seed of the standard arm below the goal, and an edge choice
    edge = [_record("uniform", 0, s, role="tuning", lr=lr, epochs=4) for lr, s in ((0.1, 40.0), (0.8, 44.0))]
    f = classification.findings(edge + [_record("uniform", 0, 58.0)])
    assert "misses the 60 % goal so far (the goal is over 3 seeds; 1 stored)" in f["standard"]
    assert f["tuning"].endswith("beyond it: ResNet-20 3×3 `uniform`.")
    # the control at its own lr, then at the twin's
    control = records + [_record("reparam", 0, 59.0, lr=0.8)]
    f = classification.findings(control)
    assert f["reparam"].startswith("ResNet-20 3×3 `reparam` − `paper`: -2.50 pp test top-1 from 1 pair")
    assert f["reparam"].endswith("still mixes the operator with the learning rate.")
    f = classification.findings(control + [_record("paper", 0, 59.25, role="sweep", lr=0.8)])
    assert f["learnable"] == "No `learnable` final run is stored yet."
    assert f["reparam"].endswith("up to rounding: ResNet-20 3×3 `reparam` − `paper`: -0.25 pp test "
                                 "top-1 from 1 pair, too few for an interval (seed 0 at lr 0.8).")
    # the learnable density against uniform, then against the fixed density it starts from
    learn = records + [_record("learnable", 0, 60.0, lr=0.8)]
    f = classification.findings(learn)
    assert f["learnable"] == ("ResNet-20 3×3 `learnable` − `uniform`: -1.00 pp test top-1 from 1 pair, "
                              "too few for an interval. Against the papers' fixed density it starts "
                              "from: ResNet-20 3×3 `learnable` − `paper`: -1.50 pp test top-1 from 1 "
                              "pair, too few for an interval.")
    f = classification.findings(learn + [_record("paper", 0, 59.5, role="sweep", lr=0.8)])
    assert f["learnable"].endswith("At the same learning rate and seed: ResNet-20 3×3 `learnable` − "
                                   "`paper`: +0.50 pp test top-1 from 1 pair, too few for an interval "
                                   "(seed 0 at lr 0.8).")
    # the short runs' noise, from the twins' tuning runs
    twins = [_record("reparam", 0, s, role="tuning", lr=lr, epochs=4) for lr, s in ((0.1, 41.5), (0.4, 42.0))]
    f = classification.findings(records + twins)
    assert f["tuning"].endswith(
        "their validation top-1 differs by up to 1.50 pp at equal lr (ResNet-20 3×3, 2 lrs). Choices "
        "that lead the next-best lr by less are within that noise: ResNet-20 3×3 `reparam` (+0.50 pp)."
        " Choices that lead by more: ResNet-20 3×3 `uniform` (+2.00 pp), ResNet-20 3×3 `paper` "
        "(+2.00 pp).")


def test_grid_sentence_counts_what_is_left():
    rows = [{"state": "stored", "minutes": 90.0, "duplicate": False},
            {"state": "to run", "minutes": 30.0, "duplicate": False},
            {"state": "waits for tuning", "minutes": 60.0, "duplicate": False},
            {"state": "to run", "minutes": 30.0, "duplicate": True}]
    totals = classify_grid.totals(rows)
    assert totals["to run"] == {"runs": 1, "minutes": 30.0, "unknown": 0}
    text = classification.grid_sentence(totals, 3, "python -m wconv train --grid chapter4")
    assert text.startswith("1 of the grid's 3 runs are stored (1.5 h of training as recorded); "
                           "2 are still to train (about 1.5 h")
    done = classification.grid_sentence(classify_grid.totals(rows[:1]), 1, "x")
    assert done == "1 of the grid's 1 runs are stored (1.5 h of training as recorded)."


def test_tuning_plot_has_labelled_log_axes():
    rows = [{"arch": "resnet20", "kernel_size": 3, "density": d, "grid": [0.1, 0.4, 0.8],
             "scores": [40.0, 43.0 + i, 41.0], "chosen": 0.4, "epochs": 4} for i, d in enumerate(("uniform", "paper"))]
    ax = classification.plot_tuning(rows)
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "peak learning rate (one-cycle, log scale)"
    assert ax.get_ylabel() == "validation top-1 after 4 epochs (%)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["ResNet-20 3×3 uniform", "ResNet-20 3×3 paper"]
