r"""Chapter 5's views of the denoising study: its tables, figures and sentences.

Numbers come from :mod:`wconv.experiments.denoise_study` (and the records of
:func:`wconv.experiments.denoise.run`); every table here is a :func:`wconv.views.tables.markdown`
table with its cells in the one format (``mean ± std`` with the number of runs, signed
differences, intervals, p-values), and the published numbers come from
:data:`wconv.views.published.PUBLISHED`.

* tables: :func:`summary_table`, :func:`sigma_table`, :func:`run_table`, :func:`plateau_table`,
  :func:`comparison_table`, :func:`untrained_table`, :func:`published_table`;
* sentences: :func:`verdicts`, :func:`verdict`, :func:`findings`, :func:`reference_gap`;
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
from ..experiments.denoise import REGIME_ARMS
from ..experiments.denoise_budgets import steps_per_epoch, total_steps
from ..experiments.denoise_measures import (
    COLLAPSE_DB,
    PLATEAU_DB,
    PLATEAU_FRACTION,
    as_float,
    plateau,
)
from . import tables
from .published import PUBLISHED

__all__ = ["summary_table", "sigma_table", "run_table", "plateau_table", "comparison_table",
           "untrained_table", "published_table", "verdicts", "verdict", "findings",
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


def plateau_table(rows) -> str:
    """:func:`wconv.experiments.denoise_study.plateau_rows` as Markdown."""
    cells = []
    for r in rows:
        lrs = r["lr"] if isinstance(r["lr"], list) else [r["lr"]]
        lr = ", ".join(f"{v:g}" for v in lrs)
        cells.append([r["label"], tables.mean_std(r["psnr_mean"], r["psnr_std"], 2),
                      tables.signed(r["gain_mean"]), r["n"],
                      f"**{r['collapsed']}**" if r["collapsed"] else "0",
                      f"{r['at_plateau']} of {r['n']}", lr, f"{r['steps']:,}"])
    return tables.markdown(["arm", "PSNR (dB)", "gain over noisy (dB)", "runs", "collapsed",
                            "at plateau", "lr", "steps"], cells)


def comparison_table(rows) -> str:
    """:func:`wconv.experiments.denoise_study.comparisons` as Markdown: the mean paired
    difference, its 95 % interval and p-value (``–`` where no test is possible)."""
    cells = []
    for r in rows:
        tested = not math.isnan(r["p"])
        cells.append([r["question"], tables.signed(r["mean"]),
                      tables.interval(r["ci_low"], r["ci_high"]) if tested else "–",
                      tables.p_value(r["p"]), r["n"],
                      f"{r['arm_collapsed']} / {r['reference_collapsed']}"])
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


def published_table(numbers: dict) -> str:
    """The papers' and the published colour DnCNN's numbers beside ours
    (:func:`wconv.experiments.denoise_study.beside_published`), as Markdown."""
    w_pub, c_pub = PUBLISHED["weighted_dncnn_div2k"], PUBLISHED["cdncnn_cbsd68_sigma25"]
    std7, w7, std3 = numbers["standard_7"], numbers["weighted_7"], numbers["standard_3"]
    ours = (f"{numbers['steps']} Adam steps × {numbers['batch_size']} patches of "
            f"{numbers['patch']} × {numbers['patch']}, {numbers['n_train']} images, "
            f"{std7['runs']} seeds")
    size = f"DnCNN {numbers['model']['depth']} × {numbers['model']['width']}"
    data = f"{numbers['test_set']}, σ = {numbers['sigma']}"
    cells = [
        [w_pub["label"], w_pub["data"], f"{w_pub['standard_psnr']:.2f}",
         f"{w_pub['weighted_psnr']:.2f}", w_pub["training"]],
        [c_pub["label"], c_pub["data"], f"≈ {c_pub['psnr']:.1f}", "–", c_pub["training"]],
        [f"this page: {size}, 7×7, {numbers['den']}", data,
         tables.mean_std(std7["psnr_mean"], std7["psnr_std"]),
         tables.mean_std(w7["psnr_mean"], w7["psnr_std"]), ours],
        [f"this page: {size}, 3×3", data, tables.mean_std(std3["psnr_mean"], std3["psnr_std"]),
         "–", ours]]
    formula = 20 * math.log10(255 / numbers["sigma"])
    note = (f"Noisy input on {numbers['test_set']} at σ = {numbers['sigma']}: "
            f"{std7['noisy_psnr']:.2f} dB; 20 log10(255/{numbers['sigma']}) = {formula:.2f} dB.")
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
    if math.isnan(d["p"]):
        return (f"{base} over {_seeds(d['n'])} "
                "(too few pairs or no spread for a confidence interval: no verdict).")
    ci = f"95 % CI {tables.interval(d['ci_low'], d['ci_high'])} {unit}, {_seeds(d['n'])}"
    if d["ci_low"] > 0:
        word = "better"
    elif d["ci_high"] < 0:
        word = "worse"
    else:
        return f"{base} ({ci}): no measurable difference."
    flag = ""
    if d["reference_collapsed"] or d["arm_collapsed"]:
        flag = (f" Careful: {d['reference_collapsed']} reference and {d['arm_collapsed']} arm "
                "runs collapsed.")
    return f"{base} ({ci}): the first is {word}.{flag}"


def findings(records, test_set: str | None = None, sigma: int = 25) -> dict[str, str]:
    """Verdict sentences for the chapter, computed from the stored records.

    Keys: ``collapse`` (collapsed final runs per arm), ``plateau`` (runs that did not reach
    it), ``lr_edge`` (arms whose tuned learning rate is an end of the grid, if any),
    ``best_standard`` (against :data:`~wconv.experiments.denoise_study.GOAL_DB` and the
    published colour DnCNN), every
    :data:`wconv.experiments.denoise_study.PAIRS` question present, ``regime`` (crossing points)
    and ``papers_setting``.
    A difference whose 95 % CI contains 0 reads "no measurable difference".
    """
    out = {}
    finals = [r for r in records if study.is_final(r) and r["config"]["budget"] != "quick"]
    table = study.plateau_rows(finals, test_set, sigma)
    bad = [f"{r['label']} ({r['collapsed']} of {r['n']})" for r in table if r["collapsed"]]
    out["collapse"] = (f"No final run collapsed ({sum(r['n'] for r in table)} runs, "
                       f"{len(table)} arms)." if not bad else
                       f"Collapsed final runs (within {COLLAPSE_DB} dB of the noisy input): "
                       + "; ".join(bad) + ".")
    short = [f"{r['label']} ({r['n'] - r['at_plateau']} of {r['n']})" for r in table
             if r["at_plateau"] < r["n"]]
    out["plateau"] = ("Every final run reached its plateau (validation gain < "
                      f"{PLATEAU_DB} dB over the last {PLATEAU_FRACTION:.0%} of steps)."
                      if not short else "Not at the plateau: " + "; ".join(short) + ".")
    edge = sorted({f"{label} ({lr:g})" for label, lr in study.lr_at_grid_edge(finals)})
    if edge:
        out["lr_edge"] = ("Learning rates chosen at an end of the grid (a better one may lie "
                          "beyond it): " + "; ".join(edge) + ".")
    std = [r for r in table if r["arm"].density == "uniform" and r["arm"].arch == _D]
    if std:
        best = max(std, key=lambda r: r["psnr_mean"])
        goal = "meets" if best["psnr_mean"] >= study.GOAL_DB else "misses"
        out["best_standard"] = (
            f"The best standard DnCNN is {best['label']}: {best['psnr_mean']:.2f} dB on "
            f"{best['test_set']} at σ = {sigma} ({_seeds(best['n'])}); it {goal} the "
            f"{study.GOAL_DB:.1f} dB goal, "
            f"{best['psnr_mean'] - PUBLISHED['cdncnn_cbsd68_sigma25']['psnr']:+.2f} dB from the "
            "published colour DnCNN.")
    for d in study.comparisons(finals, test_set, sigma):
        out[d["question"]] = verdict(d)
    cross = []
    for a, b in study.REGIME_PAIRS:
        pa = study.regime_points(records, a, test_set, sigma)
        if len(pa) > 1 and study.regime_points(records, b, test_set, sigma):
            c = study.regime_crossings(records, a, b, test_set, sigma)
            cross.append(f"{a.label} and {b.label} cross at "
                         + ", ".join(f"{x:,.0f}" for x in c) + " steps" if c else
                         f"{a.label} and {b.label} do not cross between {pa[0]['steps']:,} and "
                         f"{pa[-1]['steps']:,} steps")
    if cross:
        out["regime"] = "; ".join(cross) + "."
    ps = study.papers_setting(records, test_set, sigma)
    if ps is not None:
        out["papers_setting"] = (
            f"In {ps['label']}, weighted minus standard is {ps['delta']:+.2f} dB "
            f"({ps['standard_collapsed']} of {ps['n']} standard runs collapsed, noisy input "
            f"{ps['noisy']:.2f} dB): a gain over a network that returns its input.")
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
