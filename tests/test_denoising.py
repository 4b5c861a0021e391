"""Chapter 5's views: the denoising tables (the one format), sentences and figures."""
from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from test_denoise_study import (  # noqa: E402
    HEAD,
    STD,
    WTD,
    _fake,
    _tuned,
    quick_records,
    study_records,
)

from wconv.experiments import denoise as D  # noqa: E402
from wconv.experiments import denoise_study as S  # noqa: E402
from wconv.experiments import results  # noqa: E402
from wconv.views import denoising as V  # noqa: E402
from wconv.views.published import PUBLISHED  # noqa: E402


def test_tables_of_the_stored_quick_grid():
    recs = quick_records()
    rows = S.summarize(recs)
    table = V.summary_table(rows, "CBSD68", 25).splitlines()
    assert len(table) == 2 + 10 and table[1].startswith("|---|")
    assert "**3 of 3**" in table[2] and " – | – |" in table[2]           # standard: no Δ, no p
    paper7 = next(line for line in table if line.startswith("| dncnn | 7×7 | paper |"))
    assert "| +5.14 ± 0.33 |" in paper7                                  # a signed difference
    wide = V.sigma_table(rows, "Kodak24").splitlines()
    assert len(wide) == 12 and "σ=50 SSIM" in wide[0]
    one = V.run_table(results.load(D.reference_config())).splitlines()
    assert len(one) == 2 + 2 * 3 and one[3].startswith("| CBSD68 (68 images) | 25 | ")
    pub = V.published_table(S.beside_published(rows, recs))
    w = PUBLISHED["weighted_dncnn_div2k"]
    assert f"| {w['standard_psnr']:.2f} | {w['weighted_psnr']:.2f} |" in pub
    assert "7×7, [0.25, 0.15, 0.55] | CBSD68, σ = 25 | 20.45 ± 0.02 | 25.59 ± 0.31 |" in pub
    assert "20 log10(255/25) = 20.17 dB" in pub
    start = V.untrained_table(S.untrained(D.grid("chapter5", "quick")))
    assert "Noisy validation input: 20.54 dB" in start and "nafnet +5.83 dB" in start
    assert V.reference_gap(results.load(D.reference_config())).endswith("gap -6.25 dB")


def test_verdicts_of_the_summary_rows():
    lines = V.verdicts([r for r in S.summarize(quick_records()) if r["sigma"] == 25])
    assert len(lines) == 12
    assert lines[0] == ("dncnn   3x3 paper      CBSD68   σ=25: Δ = +1.45 ± 0.31 dB, p = 0.015 "
                        "(3 pairs) -> better")
    assert lines[6].endswith("p = 0.082 (3 pairs) -> no significant difference")


def test_study_tables_verdicts_and_findings():
    recs = study_records()
    d = S.paired(recs, WTD, STD)
    assert V.verdict(d).endswith("no measurable difference.")
    assert V.verdict(dict(d, ci_low=0.1, ci_high=0.5, mean=0.3)).endswith(
        f"{WTD.label} is better.")
    assert V.verdict(dict(d, p=float("nan"), arm_collapsed=1)).endswith(
        f"Careful: 1 of 3 {WTD.label} runs collapsed.")
    assert "no measurable difference" in V.verdict(S.paired(recs, HEAD, WTD))
    assert "no verdict" in V.verdict(dict(d, p=float("nan")))
    cmp = V.comparison_table(S.comparisons(recs)).splitlines()
    assert cmp[2].startswith("| weighted vs standard, 7×7, BN | -0.23 | [")
    plat = V.plateau_table(S.plateau_rows(recs)).splitlines()
    assert plat[2] == ("| dncnn 7×7 standard | 29.13 ± 0.15 | +8.63 | 3 | 0 | 3 of 3 | "
                       "0.00, 0.00, 0.00 | 0.001 | 4 |")
    missing = V.comparison_table(S.comparisons(recs), S.missing_pairs(recs)).splitlines()
    assert missing[-1].startswith("| NAFNet weighted vs standard, 3×3 | not stored yet |")
    assert len(missing) == 2 + len(S.PAIRS)
    f = V.findings(recs)
    assert f["collapse"].startswith("No stored final run collapsed (9 runs, 3 arms)")
    assert "crosses" not in f["regime"] and "cross at" in f["regime"]
    assert "meets the 29.0 dB goal" in f["best_standard"]
    pub = PUBLISHED["cdncnn_cbsd68_sigma25"]["psnr"]
    assert f"{pub - 29.13333:.2f} dB below the published colour DnCNN" in f["best_standard"]
    assert "no measurable difference" in f["control (b): head start W₀⊙Φ vs weighted 7×7"]
    # 1e-3 is the end of [1e-3, 3e-3], chosen with a score 1 dB above the other's
    assert ("dncnn 7×7 paper chose 0.001, the smallest rate of its grid (0.001 to 0.003); its "
            "validation PSNR is 1.00 dB above that at 0.003") in f["lr_edge"]
    assert "Every stored final run reached its plateau" in f["plateau"]
    assert "too few points to find a crossing" not in f["regime"]
    assert set(f) >= {"collapse", "plateau", "lr_edge", "best", "best_standard", "regime",
                      "papers_setting", "papers_collapse"}
    assert f["papers_setting"] == "The papers' setting (the quick grid) is not stored."
    finals = [r for r in recs if S.is_final(r) and r["config"]["epochs"] == 2]
    one = V.findings(finals)            # the final runs only: one length on the regime map
    assert one["regime"].startswith("So far the regime map has 1 training length (4 steps)")
    table = V.tuning_table(S.tuning_rows(recs)).splitlines()
    assert table[0] == "| arm | lr 0.001 | lr 0.003 | chosen lr | edge |"
    assert table[2] == "| dncnn 7×7 standard | **28.00** | 27.00 c | 0.001 | smallest of the grid |"
    sentence = V.progress({"stored": 3, "total": 5, "hours_stored": 0.5, "hours_left": 1.25,
                           "blocks": [{"name": "DnCNN arms", "stored": 3, "total": 5}]}, "cmd")
    assert sentence.startswith("3 of the study's 5 runs are stored (DnCNN arms 3 of 5), 0.5 hours")
    assert "the other 2 need about 1.2 more CPU hours" in sentence
    recs.append(_fake(_tuned(D.Arm("dncnn", 3, "uniform"), 0, "smoke"), 20.9))
    assert "dncnn 3×3 standard (1 of 1)" in V.findings(recs)["collapse"]   # a collapse is said so
    quick = V.findings(quick_records())
    assert quick["papers_setting"].startswith(
        "In the papers' setting (DnCNN 7 × 16, 240 Adam steps, quick budget), the standard 7×7 "
        "DnCNN scores 20.45 ± 0.02 dB")
    assert "(3 of 3 runs collapsed)" in quick["papers_setting"]
    assert "20 log10(255/25) = 20.17 dB" in quick["papers_setting"]
    assert quick["papers_collapse"] == ("Collapsed runs per arm at 240 steps: dncnn 3×3 standard "
                                        "(3 of 3); dncnn 7×7 standard (3 of 3); none in the "
                                        "other 8 arms of the grid.")
    assert quick["collapse"].startswith("No stored final run collapsed (0 runs")   # no study


def test_figures():
    recs = study_records()
    fig, ax = plt.subplots()
    V.plot_regime(recs, ax=ax)
    assert ax.get_xscale() == "log" and "steps" in ax.get_xlabel() and "dB" in ax.get_ylabel()
    assert len(ax.lines) >= 3 and ax.texts                       # the crossing is marked
    fig, ax = plt.subplots()
    V.plot_curves(recs, "dncnn", ax=ax, x="steps")
    assert any("at plateau" in t.get_text() for t in ax.get_legend().get_texts())
    with pytest.raises(ValueError, match="x must be"):
        V.plot_curves(recs, "dncnn", ax=ax, x="time")
    quick = quick_records()
    fig, ax = plt.subplots()
    V.plot_sigma(S.summarize(quick), "nafnet", "CBSD68", ax=ax)
    assert len(ax.containers) == 5 and "σ" in ax.get_xlabel()          # one errorbar per variant
    seed0 = [r for r in quick if r["seed"] == 0 and r["config"]["arch"] == "dncnn"][:2]
    fig = V.plot_panel({r["config"]["name"]: r for r in seed0})
    assert len(fig.axes) == 5
    plt.close("all")
