r"""Chapter 5's views of the denoising study: its tables, figures and sentences.

Numbers come from :mod:`wconv.experiments.denoise_study` (and the records of
:func:`wconv.experiments.denoise.run`); every table here is a :func:`wconv.views.tables.markdown`
table with its cells in the one format (``mean ± std`` with the number of runs, signed
differences, intervals, p-values), and the published numbers come from
:data:`wconv.views.published.PUBLISHED`.

* tables: :func:`summary_table`, :func:`sigma_table`, :func:`run_table`, :func:`tuning_table`,
  :func:`plateau_table`, :func:`comparison_table`, :func:`untrained_table`,
  :func:`published_table`;
* sentences: :func:`progress`, :func:`verdicts`, :func:`verdict`, :func:`findings`,
  :func:`reference_gap`;
* figures: :func:`plot_curves`, :func:`plot_sigma`, :func:`plot_regime`, :func:`plot_panel`.

Example::

    >>> from wconv.experiments import denoise, denoise_study, results
    >>> from wconv.views import denoising
    >>> records = [results.load(c) for c in denoise.grid("chapter5", "quick")]
    >>> rows = denoise_study.summarize(records)
    >>> print(denoising.summary_table(rows, "CBSD68", sigma=25).splitlines()[3])
    | dncnn | 3×3 | paper | 25 | 22.54 ± 0.40 | 0.5477 ± 0.0160 | +1.45 ± 0.31 | 0.015 | 3 | 0 |
"""
from __future__ import annotations

import math

import numpy as np

from ..experiments import denoise_study as study
from ..experiments.denoise import REGIME_ARMS, TIE_DB
from ..experiments.denoise_budgets import BUDGETS, steps_per_epoch, total_steps
from ..experiments.denoise_measures import (
    COLLAPSE_DB,
    PLATEAU_DB,
    PLATEAU_FRACTION,
    as_float,
    plateau,
)
from . import tables
from .published import PUBLISHED

__all__ = ["summary_table", "sigma_table", "run_table", "tuning_table", "plateau_table",
           "comparison_table", "untrained_table", "published_table", "progress", "verdicts",
           "verdict", "findings", "initial_signal_table",
           "reference_gap", "plot_curves", "plot_sigma", "plot_regime", "plot_panel"]

_D = "dncnn"


# --------------------------------------------------------------------------- tables

def _difference(mean, std) -> str:
    """A paired difference as ``'+1.45 ± 0.31'`` (signed, in the one ``mean ± std`` format)."""
    cell = tables.mean_std(mean, std)
    return cell if cell == "–" or cell.startswith("-") else "+" + cell


def _value(value, digits: int = 2) -> str:
    """One stored number (``'–'`` for a diverged run's missing one)."""
    return tables.mean_std(value, None, digits)


def _dens_label(r) -> str:
    return r["density"] + ("" if r.get("batch_norm", True) else ", no BN")


def _collapsed_cell(r) -> str:
    n = r.get("collapsed", 0)
    return f"**{n} of {r['runs']}**" if n else "0"


def summary_table(rows, test_set: str, sigma=None) -> str:
    """:func:`wconv.experiments.denoise_study.summarize` rows of one test set (and optionally
    one σ) as Markdown: PSNR and SSIM mean ± std over the runs, the weighted arms' paired
    difference from the standard one and its p-value, and how many runs collapsed."""
    header = ["model", "kernel", "density", "σ", "PSNR (dB)", "SSIM", "Δ PSNR vs standard (dB)",
              "p", "runs", "collapsed"]
    cells = []
    for r in rows:
        if r["test_set"] != test_set or (sigma is not None and r["sigma"] != sigma):
            continue
        delta = _difference(r["dpsnr_mean"], r["dpsnr_std"]) if "dpsnr_mean" in r else "–"
        cells.append([r["arch"], f"{r['kernel_size']}×{r['kernel_size']}", _dens_label(r),
                      r["sigma"], tables.mean_std(r["psnr_mean"], r["psnr_std"], 2),
                      tables.mean_std(r["ssim_mean"], r["ssim_std"], 4), delta,
                      tables.p_value(r.get("p")), r["runs"], _collapsed_cell(r)])
    return tables.markdown(header, cells)


def sigma_table(rows, test_set: str) -> str:
    """:func:`wconv.experiments.denoise_study.summarize` rows of one test set as Markdown, one
    row per variant: PSNR and SSIM (mean ± std over the runs) at every σ side by side."""
    sigmas = sorted({r["sigma"] for r in rows if r["test_set"] == test_set})
    header = (["model", "kernel", "density"]
              + [f"σ={s} {m}" for s in sigmas for m in ("PSNR (dB)", "SSIM")]
              + ["runs", "collapsed"])
    variants = {}
    for r in rows:
        if r["test_set"] == test_set:
            key = (r["arch"], r["kernel_size"], r["density"], r.get("batch_norm", True))
            variants.setdefault(key, {})[r["sigma"]] = r
    cells = []
    for (arch, k, _, _), by_sigma in variants.items():
        last = by_sigma[sigmas[-1]]
        row = [arch, f"{k}×{k}", _dens_label(last)]
        for s in sigmas:
            r = by_sigma[s]
            row += [tables.mean_std(r["psnr_mean"], r["psnr_std"], 2),
                    tables.mean_std(r["ssim_mean"], r["ssim_std"], 3)]
        runs = min(r["runs"] for r in by_sigma.values())
        cells.append(row + [runs, _collapsed_cell(last)])
    return tables.markdown(header, cells)


def run_table(record) -> str:
    """One run's test scores as Markdown: per test set and σ, the noisy input's PSNR and the
    output's PSNR and SSIM (means over the test set)."""
    cells = []
    for set_name, per_set in record["test"].items():
        for sigma in record["config"]["test_sigmas"]:
            s = per_set[str(sigma)]
            cells.append([f"{set_name} ({len(per_set['images'])} images)", sigma,
                          _value(s["noisy_mean_psnr"]), _value(s["mean_psnr"]),
                          _value(s["mean_ssim"], 4)])
    return tables.markdown(["test set", "σ", "noisy input (dB)", "PSNR (dB)", "SSIM"], cells)


def tuning_table(rows) -> str:
    """:func:`wconv.experiments.denoise_study.tuning_rows` as Markdown: one row per arm, its
    validation PSNR at every learning rate of the grid (the choice in bold, a collapsed run
    marked ``c``, ``…`` not stored yet), the choice and whether it is an end of the grid."""
    grid = sorted({lr for r in rows for lr in r["grid"]})
    cells = []
    for r in rows:
        by = {lr: (v, f) for lr, v, f in zip(r["grid"], r["scores"], r["collapsed"])}
        row = [r["label"]]
        for lr in grid:
            if lr not in by:
                row.append("")
                continue
            v, f = by[lr]
            cell = "…" if v is None and f is None else _value(v) + (" c" if f else "")
            row.append(f"**{cell}**" if lr == r["choice"] else cell)
        note = ("collapsed at every lr" if r["all_collapsed"] else
                ("largest of the grid" if r["choice"] == max(r["grid"]) else "smallest of the grid")
                if r["at_edge"] else "")
        row += ["…" if r["choice"] is None else f"{r['choice']:g}", note]
        cells.append(row)
    return tables.markdown(["arm"] + [f"lr {lr:g}" for lr in grid] + ["chosen lr", "edge"], cells,
                           "Validation PSNR at σ = 25 (dB) after each tuning run; c: the run "
                           f"collapsed (within {COLLAPSE_DB} dB of the noisy input on the test "
                           f"set); the choice, in bold, is the smallest lr within {TIE_DB} dB of "
                           "the best.")


def plateau_table(rows) -> str:
    """:func:`wconv.experiments.denoise_study.plateau_rows` as Markdown."""
    cells = []
    for r in rows:
        lrs = r["lr"] if isinstance(r["lr"], list) else [r["lr"]]
        lr = ", ".join(f"{v:g}" for v in lrs)
        gains = ", ".join(f"{g:.2f}" for g in r.get("plateau_gains", []))
        cells.append([r["label"], tables.mean_std(r["psnr_mean"], r["psnr_std"], 2),
                      tables.signed(r["gain_mean"]), r["n"],
                      f"**{r['collapsed']}**" if r["collapsed"] else "0",
                      f"{r['at_plateau']} of {r['n']}", gains, lr, f"{r['steps']:,}"])
    return tables.markdown(["arm", "PSNR (dB)", "gain over noisy (dB)", "runs", "collapsed",
                            "at plateau", f"val. gain, last {PLATEAU_FRACTION:.0%} (dB)", "lr",
                            "steps"], cells)


def comparison_table(rows, missing=()) -> str:
    """:func:`wconv.experiments.denoise_study.comparisons` as Markdown: the mean paired
    difference, its 95 % interval and p-value (``–`` where no test is possible); the
    questions in ``missing`` (:func:`~wconv.experiments.denoise_study.missing_pairs`) follow
    as rows not stored yet."""
    cells = []
    for r in rows:
        tested = not math.isnan(r["p"])
        cells.append([r["question"], tables.signed(r["mean"]),
                      tables.interval(r["ci_low"], r["ci_high"]) if tested else "–",
                      tables.p_value(r["p"]), r["n"],
                      f"{r['arm_collapsed']} / {r['reference_collapsed']}"])
    cells += [[q, "not stored yet", "", "", 0, ""] for q in missing]
    return tables.markdown(["comparison", "Δ PSNR (dB)", "95 % CI", "p", "pairs",
                            "collapsed (arm / reference)"], cells)


def untrained_table(summary: dict) -> str:
    """:func:`wconv.experiments.denoise_study.untrained` as Markdown: the untrained models'
    validation PSNR per variant, with the noisy input and the 7×7 head starts under it."""
    cells = [[r["arch"], f"{r['kernel_size']}×{r['kernel_size']}", r["density"],
              tables.mean_std(r["untrained_mean"], r["untrained_std"], 2), r["n"]]
             for r in summary["rows"]]
    den = next((r["den"] for r in summary["rows"]
                if (r["kernel_size"], r["density"]) == (7, "paper")), None)
    note = f"Noisy validation input: {summary['noisy']:.2f} dB."
    if summary["head_start"]:
        note += (f" Head start of 7×7 {den} over 7×7 standard before training: "
                 + ", ".join(f"{arch} {tables.signed(v)} dB"
                             for arch, v in summary["head_start"].items())
                 + ".")
    return tables.markdown(["model", "kernel", "density", "untrained PSNR (dB)", "seeds"], cells,
                           note)


def published_table(numbers) -> str:
    """The papers' and the published colour DnCNN's numbers beside ours
    (:func:`wconv.experiments.denoise_study.beside_published`, one or a list: e.g. the papers'
    setting and the study), as Markdown."""
    w_pub, c_pub = PUBLISHED["weighted_dncnn_div2k"], PUBLISHED["cdncnn_cbsd68_sigma25"]
    cells = [
        [w_pub["label"], w_pub["data"], f"{w_pub['standard_psnr']:.2f}",
         f"{w_pub['weighted_psnr']:.2f}", w_pub["training"]],
        [c_pub["label"], c_pub["data"], f"≈ {c_pub['psnr']:.1f}", "–", c_pub["training"]]]

    def cell(row):
        return "–" if row is None else tables.mean_std(row["psnr_mean"], row["psnr_std"])

    noisy = []
    for nums in [numbers] if isinstance(numbers, dict) else numbers:
        std7, w7, std3 = nums["standard_7"], nums["weighted_7"], nums["standard_3"]
        runs = max((r["runs"] for r in (std7, w7, std3) if r is not None), default=0)
        ours = (f"{nums['steps']:,} Adam steps × {nums['batch_size']} patches of "
                f"{nums['patch']} × {nums['patch']}, {nums['n_train']} images, up to "
                f"{_seeds(runs)} ({nums.get('budget', '?')} budget)")
        size = f"DnCNN {nums['model']['depth']} × {nums['model']['width']}"
        data = f"{nums['test_set']}, σ = {nums['sigma']}"
        cells += [[f"this page: {size}, 7×7, {nums['den']}", data, cell(std7), cell(w7), ours],
                  [f"this page: {size}, 3×3", data, cell(std3), "–", ours]]
        noisy += [f"{r['noisy_psnr']:.2f} dB" for r in (std7, w7, std3) if r is not None][:1]
    nums = numbers if isinstance(numbers, dict) else numbers[0]
    formula = 20 * math.log10(255 / nums["sigma"])
    note = (f"Noisy input on {nums['test_set']} at σ = {nums['sigma']}: "
            f"{' and '.join(dict.fromkeys(noisy))}; 20 log10(255/{nums['sigma']}) = "
            f"{formula:.2f} dB.")
    return tables.markdown(["source", "data", "standard (dB)", "weighted (dB)", "training"], cells,
                           note)


# --------------------------------------------------------------------------- sentences

def _seeds(n: int) -> str:
    return f"{n} seed{'s' if n != 1 else ''}"


def verdicts(rows, alpha: float = 0.05) -> list[str]:
    """One line per weighted row of :func:`wconv.experiments.denoise_study.summarize`: its
    paired difference from the standard arm, and ``better`` / ``worse`` where the paired
    t-test's ``p < alpha``, else ``no significant difference``."""
    out = []
    for r in rows:
        if "dpsnr_mean" not in r:
            continue
        sig = r["p"] == r["p"] and r["p"] < alpha
        word = (("better" if r["dpsnr_mean"] > 0 else "worse") if sig
                else "no significant difference")
        out.append(f"{r['arch']:7s} {r['kernel_size']}x{r['kernel_size']} {r['density']:10s} "
                   f"{r['test_set']:8s} σ={r['sigma']:2d}: Δ = {r['dpsnr_mean']:+.2f} ± "
                   f"{r['dpsnr_std']:.2f} dB, p = {r['p']:.3f} ({r['pairs']} pairs) -> {word}")
    return out


def verdict(d: dict, unit: str = "dB") -> str:
    """One sentence from a :func:`wconv.experiments.denoise_study.paired` result: a difference
    whose 95 % interval holds 0 is reported as no measurable difference, as plainly as a gain or
    a loss; without a test (fewer than two pairs, or no spread) there is no verdict."""
    base = f"{d['arm']} vs {d['reference']}: {d['mean']:+.2f} {unit}"
    flags = [f"{d[k + '_collapsed']} of {d['n']} {d[k]} runs" for k in ("arm", "reference")
             if d[k + "_collapsed"]]
    flag = f" Careful: {' and '.join(flags)} collapsed." if flags else ""
    if math.isnan(d["p"]):
        return (f"{base} over {_seeds(d['n'])} "
                f"(too few pairs or no spread for a confidence interval: no verdict).{flag}")
    ci = f"95 % CI {tables.interval(d['ci_low'], d['ci_high'])} {unit}, {_seeds(d['n'])}"
    if d["ci_low"] > 0:
        word = "better"
    elif d["ci_high"] < 0:
        word = "worse"
    else:
        return f"{base} ({ci}): no measurable difference.{flag}"
    return f"{base} ({ci}): {d['arm']} is {word}.{flag}"


def progress(p: dict, command: str) -> str:
    """A sentence from :func:`wconv.experiments.denoise_study.progress`: what is stored, per
    block, the recorded time, and what is left with its estimate."""
    blocks = ", ".join(f"{b['name']} {b['stored']} of {b['total']}" for b in p["blocks"])
    left = p["total"] - p["stored"]
    rest = (f"the other {left} need about {p['hours_left']:.1f} more CPU hours (estimated for a "
            f"quiet 2-core machine); `{command}` trains them, resuming where it stopped"
            if left else "nothing is left to train")
    return (f"{p['stored']} of the study's {p['total']} runs are stored ({blocks}), "
            f"{p['hours_stored']:.1f} hours of computing as recorded by the runs; {rest}.")


def _range(values) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:.2f} dB" if round(lo, 2) == round(hi, 2) else f"{lo:.2f}–{hi:.2f} dB"


def _lr_sentence(r) -> str:
    lo, hi = min(r["grid"]), max(r["grid"])
    if r["all_collapsed"]:
        return (f"{r['label']} collapsed at every learning rate of its grid ({lo:g} to {hi:g}), "
                f"so its choice ({r['choice']:g}, by the tie rule) is no optimum")
    top = r["choice"] == hi
    i = r["grid"].index(r["choice"])
    nb = r["grid"][i - 1 if top else i + 1]
    rise = (f"; its validation PSNR is {r['edge_rise']:.2f} dB above that at {nb:g}"
            if r["edge_rise"] is not None else "")
    return (f"{r['label']} chose {r['choice']:g}, the {'largest' if top else 'smallest'} rate "
            f"of its grid ({lo:g} to {hi:g}){rise}, so a {'larger' if top else 'smaller'} "
            "rate might score higher")


def findings(records, test_set: str | None = None, sigma: int = 25, papers=None) -> dict[str, str]:
    """Verdict sentences for the chapter, computed from the stored records.

    Args:
        records: the study's records (tuning, final and regime-map runs); ``quick``-budget
            records among them are taken as ``papers`` when that is not given.
        papers: the records of the papers' setting (the ``chapter5`` grid at its short budget).

    Keys, always there: ``collapse`` (collapsed final runs per arm), ``plateau`` (runs that
    did not reach it), ``lr_edge`` (arms whose tuned learning rate is an end of the grid, or
    that collapsed at every rate), ``best`` and ``best_standard`` (against
    :data:`~wconv.experiments.denoise_study.GOAL_DB` and the published colour DnCNN),
    ``regime`` (crossing points, or what the map lacks) and ``papers_setting``,
    ``papers_collapse``; then every :data:`wconv.experiments.denoise_study.PAIRS` question
    present. A difference whose 95 % CI contains 0 reads "no measurable difference".
    """
    if papers is None:
        papers = [r for r in records if r["config"]["budget"] == "quick"]
    records = [r for r in records if r["config"]["budget"] != "quick"]
    out = {}
    finals = [r for r in records if study.is_final(r)]
    table = study.plateau_rows(finals, test_set, sigma)
    n_runs = sum(r["n"] for r in table)
    bad = [f"{r['label']} ({r['collapsed']} of {r['n']})" for r in table if r["collapsed"]]
    out["collapse"] = (
        f"No stored final run collapsed ({n_runs} runs, {len(table)} arms)." if not bad else
        f"{sum(r['collapsed'] for r in table)} of the {n_runs} stored final runs collapsed "
        f"(ended within {COLLAPSE_DB} dB of the noisy input): " + "; ".join(bad) + ".")
    short = [r for r in table if r["at_plateau"] < r["n"]]
    crit = (f"validation PSNR gained less than {PLATEAU_DB} dB over the last "
            f"{PLATEAU_FRACTION:.0%} of the steps")
    if not table:
        out["plateau"] = "No final run is stored yet."
    elif not short:
        out["plateau"] = f"Every stored final run reached its plateau ({crit})."
    else:
        at = sum(r["at_plateau"] for r in table)
        lines = []
        for r in short:
            gaining = [g for g in r["plateau_gains"] if g >= PLATEAU_DB]
            lines.append(f"{r['label']} ({r['n'] - r['at_plateau']} of {r['n']}"
                         + (f", still gaining {_range(gaining)}" if gaining else "") + ")")
        out["plateau"] = (f"{at} of the {n_runs} stored final runs reached their plateau ({crit});"
                          f" {n_runs - at} did not, so their scores are not plateau scores yet: "
                          + "; ".join(lines) + ".")
    edge = [_lr_sentence(r) for r in study.tuning_rows(records) if r["at_edge"]]
    out["lr_edge"] = ("No arm chose a learning rate at an end of its grid." if not edge else
                      "At an end of the learning-rate grid: " + "; ".join(edge) + ".")
    live = [r for r in table if not r["collapsed"]]
    if live:
        best = max(live, key=lambda r: r["psnr_mean"])
        out["best"] = (f"The best stored arm is {best['label']}: "
                       f"{tables.mean_std(best['psnr_mean'], best['psnr_std'])} dB on "
                       f"{best['test_set']} at σ = {sigma} ({_seeds(best['n'])}).")
    else:
        out["best"] = "No final run that denoises is stored yet."
    std = [r for r in table if r["arm"].density == "uniform" and r["arm"].arch == _D]
    if std:
        best = max(std, key=lambda r: r["psnr_mean"])
        goal = "meets" if best["psnr_mean"] >= study.GOAL_DB else "misses"
        pub = PUBLISHED["cdncnn_cbsd68_sigma25"]["psnr"]
        few = f", with only {_seeds(best['n'])} stored so far" if best["n"] < 3 else ""
        out["best_standard"] = (
            f"The best standard DnCNN is {best['label']}: "
            f"{tables.mean_std(best['psnr_mean'], best['psnr_std'])} dB on {best['test_set']} "
            f"at σ = {sigma} ({_seeds(best['n'])}); it {goal} the {study.GOAL_DB:.1f} dB goal "
            f"by {abs(best['psnr_mean'] - study.GOAL_DB):.2f} dB{few}, and is "
            f"{pub - best['psnr_mean']:.2f} dB below the published colour DnCNN (≈ {pub:.1f} dB, "
            "a 17 × 64 network trained far longer).")
    else:
        out["best_standard"] = "No final run of a standard DnCNN is stored yet."
    cross = []
    lengths = set()
    for a, b in study.REGIME_PAIRS:
        pa = study.regime_points(records, a, test_set, sigma)
        pb = study.regime_points(records, b, test_set, sigma)
        lengths |= {p["steps"] for p in pa} & {p["steps"] for p in pb}
        common = {p["steps"] for p in pa} & {p["steps"] for p in pb}
        if len(common) > 1:
            c = study.regime_crossings(records, a, b, test_set, sigma)
            cross.append(f"{a.label} and {b.label} cross at "
                         + ", ".join(f"{x:,.0f}" for x in c) + " steps" if c else
                         f"{a.label} and {b.label} do not cross between {min(common):,} and "
                         f"{max(common):,} steps")
    if cross:
        out["regime"] = "On the regime map, " + "; ".join(cross) + "."
    else:
        b = BUDGETS.get(finals[0]["config"]["budget"]) if finals else None
        planned = ([e * b.steps_per_epoch for e in b.regime_epochs]
                   if b is not None and b.regime_epochs else [])
        have = (f"{len(lengths)} training length ({', '.join(f'{x:,}' for x in sorted(lengths))}"
                " steps)" if lengths else "no training length")
        out["regime"] = (f"So far the regime map has {have} where both arms of a pair are "
                         "stored: too few points to find a crossing"
                         + (f"; its shorter runs ({', '.join(f'{x:,}' for x in planned)} steps) "
                            "are still to train." if planned else "."))
    ps = (study.papers_setting(papers, test_set, sigma, papers[0]["config"]["budget"])
          if papers else None)
    if ps is None:
        out["papers_setting"] = "The papers' setting (the quick grid) is not stored."
        out["papers_collapse"] = out["papers_setting"]
    else:
        w_pub = PUBLISHED["weighted_dncnn_div2k"]
        formula = 20 * math.log10(255 / sigma)
        same = ps["standard_collapsed"] == ps["n"]
        out["papers_setting"] = (
            f"In the papers' setting ({ps['label']}), the standard 7×7 DnCNN scores "
            f"{tables.mean_std(ps['standard'], ps['standard_std'])} dB at σ = {sigma} against "
            f"{ps['noisy']:.2f} dB for the noisy input ({ps['standard_collapsed']} of {ps['n']} "
            f"runs collapsed), and the weighted one is {abs(ps['delta']):.2f} dB "
            f"{'above' if ps['delta'] >= 0 else 'below'} it. "
            + (f"The papers' standard DnCNN is the same case: its {w_pub['standard_psnr']:.2f}"
               f" dB is 20 log10(255/{sigma}) = {formula:.2f} dB, the PSNR of a noisy input, "
               "so their gain too is one over a network that returns its input."
               if same else "Not every standard run collapsed here, unlike the papers' "
               f"standard DnCNN ({w_pub['standard_psnr']:.2f} dB = 20 log10(255/{sigma}))."))
        gone = [f"{label} ({k} of {n})" for label, k, n in ps["arms"] if k]
        out["papers_collapse"] = (
            f"Collapsed runs per arm at {ps['steps']:,} steps: "
            + ("; ".join(gone) if gone else "none")
            + f"; none in the other {len(ps['arms']) - len(gone)} arms of the grid."
            if gone and len(gone) < len(ps["arms"]) else
            f"Collapsed runs per arm at {ps['steps']:,} steps: "
            + ("; ".join(gone) if gone else "none") + ".")
    for d in study.comparisons(finals, test_set, sigma):
        out[d["question"]] = verdict(d)
    return out


def reference_gap(record: dict) -> str:
    """How far a run's CBSD68 σ = 25 PSNR is from the published colour DnCNN's."""
    pub = PUBLISHED["cdncnn_cbsd68_sigma25"]["psnr"]
    ours = record["test"]["CBSD68"]["25"]["mean_psnr"]
    return (f"CBSD68, σ = 25: {ours:.2f} dB against ≈ {pub:.1f} dB published: "
            f"gap {ours - pub:+.2f} dB")


# --------------------------------------------------------------------------- figures

def _label(config) -> str:
    k = config["kernel_size"]
    dens = "standard" if config["density"] == "uniform" else config["density"]
    return f"{k}×{k} {dens}" + ("" if config.get("batch_norm", True) else ", no BN")


def plot_curves(records, arch: str, ax=None, x: str = "epoch"):
    """Validation PSNR (σ = 25), mean ± std over seeds, one line per variant.

    ``x='epoch'`` or ``'steps'`` (Adam steps); with ``'steps'`` the last
    :data:`PLATEAU_FRACTION` of the steps, where :func:`plateau` measures the gain, is
    shaded and each variant's label says how many of its runs reached the plateau.
    """
    import matplotlib.pyplot as plt

    if x not in ("epoch", "steps"):
        raise ValueError(f"x must be 'epoch' or 'steps', got {x!r}")
    ax = ax or plt.gca()
    groups = {}
    for r in records:
        if r["config"]["arch"] == arch:
            groups.setdefault((_label(r["config"]), total_steps(r["config"])), []).append(r)
    end = 0
    for (label, steps), rs in groups.items():
        a = np.array([[as_float(e["val_psnr"]) for e in r["epochs"]] for r in rs])
        n = steps_per_epoch(rs[0]["config"]) if x == "steps" else 1
        xs = np.arange(1, a.shape[1] + 1) * n
        end = max(end, xs[-1])
        m = a.mean(0)
        runs = f"{len(a)} run{'s' if len(a) > 1 else ''}"
        if x == "steps":
            runs += f", {sum(plateau(r)['reached'] for r in rs)} at plateau"
        line, = ax.plot(xs, m, marker="o", ms=3, label=f"{label} ({runs})")
        if len(a) > 1:
            s = a.std(0, ddof=1)
            ax.fill_between(xs, m - s, m + s, color=line.get_color(), alpha=0.2)
    if x == "steps" and end:
        ax.axvspan(end * (1 - PLATEAU_FRACTION), end, color="0.9", zorder=0,
                   label=f"last {PLATEAU_FRACTION:.0%}: plateau if gain < {PLATEAU_DB} dB")
    ax.set_xlabel("epoch" if x == "epoch" else "training steps (Adam)")
    ax.set_ylabel("validation PSNR at σ = 25 (dB)")
    ax.set_title(arch)
    ax.legend(fontsize=8)
    return ax


def plot_sigma(rows, arch: str, test_set: str, ax=None):
    """PSNR gain over the noisy input vs σ, mean ± std over seeds, one line per variant."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    variants = {}
    for r in rows:
        if r["arch"] == arch and r["test_set"] == test_set:
            variants.setdefault((r["kernel_size"], r["density"]), []).append(r)
    for (k, dens), rs in variants.items():
        rs = sorted(rs, key=lambda r: r["sigma"])
        x = [r["sigma"] for r in rs]
        y = [r["psnr_mean"] - r["noisy_psnr"] for r in rs]
        e = [0 if math.isnan(r["psnr_std"]) else r["psnr_std"] for r in rs]
        ax.errorbar(x, y, yerr=e, marker="o", capsize=3,
                    label=f"{k}×{k} {'standard' if dens == 'uniform' else dens}")
    ax.set_xlabel("noise level σ (0–255 scale)")
    ax.set_ylabel("PSNR gain over noisy input (dB)")
    ax.set_title(f"{arch} on {test_set}")
    ax.legend(fontsize=8)
    return ax



def plot_regime(records, arms=REGIME_ARMS, test_set: str | None = None, sigma: int = 25,
                ax=None, pairs=study.REGIME_PAIRS):
    """The regime map: test PSNR at ``sigma`` against training steps (log axis), mean ± std
    over seeds, one line per arm; the noisy input as a dashed line; the crossings of each
    ``(arm, reference)`` of ``pairs`` marked with a vertical dotted line."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    noisy = None
    for arm in arms:
        pts = study.regime_points(records, arm, test_set, sigma)
        if not pts:
            continue
        x = [p["steps"] for p in pts]
        m = np.array([p["psnr_mean"] for p in pts])
        e = np.array([0 if math.isnan(p["psnr_std"]) else p["psnr_std"] for p in pts])
        n = min(p["n"] for p in pts)
        ax.errorbar(x, m, yerr=e, marker="o", capsize=3, label=f"{arm.label} ({n}+ seeds)")
    for r in records:
        first = test_set or next(iter(r["test"]))
        noisy = r["test"][first][str(sigma)]["noisy_mean_psnr"]
        break
    if noisy is not None:
        ax.axhline(noisy, color="0.5", ls="--", lw=1, label=f"noisy input ({noisy:.2f} dB)")
    for a, b in pairs:
        for c in study.regime_crossings(records, a, b, test_set, sigma):
            ax.axvline(c, color="0.3", ls=":", lw=1)
            ax.annotate(f"{a.label.split(' ', 1)[1]} = {b.label.split(' ', 1)[1]}\nat {c:,.0f} steps",
                        (c, ax.get_ylim()[0]), fontsize=7, rotation=90, va="bottom", ha="right")
    ax.set_xscale("log")
    ax.set_xlabel("training steps (Adam, log scale; each length its own full schedule)")
    ax.set_ylabel(f"test PSNR at σ = {sigma} (dB)")
    ax.set_title(f"regime map, {test_set or 'first test set'}")
    ax.legend(fontsize=7)
    return ax



def plot_panel(records: dict, root=None):
    """Figure: the test image with the crop marked, then zoomed clean / noisy / each model.

    Args:
        records: ``{title: record}`` of runs with the same panel (same data and seed).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    first = next(iter(records.values()))
    imgs = study.panel_images(first, root)

    def show(ax, t):
        a = t.permute(1, 2, 0).numpy()
        ax.imshow(a[..., 0] if a.shape[2] == 1 else a, cmap="gray" if a.shape[2] == 1 else None,
                  vmin=0, vmax=255, interpolation="nearest")
        ax.set_xticks([]), ax.set_yticks([])

    n = 3 + len(records)
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 3.3))
    show(axes[0], imgs["full"])
    y, x, h, w = imgs["box"]
    axes[0].add_patch(Rectangle((x - 0.5, y - 0.5), w, h, fill=False, edgecolor="red", lw=1.5))
    pnl = first["panel"]
    axes[0].set_title(f"{pnl['image']} ({pnl['test_set']})", fontsize=9)
    show(axes[1], imgs["clean"])
    axes[1].set_title("clean (zoom)", fontsize=9)
    show(axes[2], imgs["noisy"])
    axes[2].set_title(f"noisy σ={pnl['sigma']}", fontsize=9)
    for ax, (title, r) in zip(axes[3:], records.items()):
        show(ax, study.panel_images(r, root)["output"] if r is not first else imgs["output"])
        ax.set_title(f"{title}\n{r['panel']['psnr']:.2f} dB (whole crop)", fontsize=9)
    fig.tight_layout()
    return fig


def initial_signal_table(rows) -> str:
    """A Markdown table of :func:`~wconv.experiments.denoise_study.initial_signal` rows."""
    return tables.markdown(
        ["arm", "image-driven std at the last layer", "total std", "image-driven fraction"],
        [[r["label"], f"{r['input_std']:.1e}", f"{r['total_std']:.1e}", f"{r['fraction']:.1e}"]
         for r in rows])
