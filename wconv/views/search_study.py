r"""Chapter 6's search study on the page: how good the objective is, and the searches' regret.

Reads what :func:`wconv.experiments.search.study.run` returns (with ``train=False`` a page
trains nothing) and writes it down: one table row per task and kernel size
(:func:`study_row`, :func:`study_markdown`), the proxy-against-full-training scatter
(:func:`plot_fidelity`), the regret curves (:func:`plot_regret`), the sentences of the
findings (:func:`findings`) and the papers' "loss reduced by up to 53 %" in our units
(:func:`papers_loss_sentence`).

Example::

    >>> from wconv.views import search_study
    >>> search_study.ratio_sentence(float("nan"))
    'not measured yet'
"""
from __future__ import annotations

import math

from ..experiments.search import measures
from ..experiments.search.finals import common_seeds, compare_final
from ..experiments.search.study import FIDELITY_POINTS, FINAL_ARMS
from ..metrics import mse_reduction
from . import tables
from .published import PUBLISHED

__all__ = ["RATIO_GOAL", "searches", "best_found", "learnable_sentence", "study_row",
           "study_markdown", "ratio_sentence", "plot_fidelity", "plot_regret", "fidelity_verdict",
           "findings", "final_sentence", "papers_loss_sentence"]

#: The spread an objective needs, in units of its seed-to-seed noise, to rank densities.
RATIO_GOAL = 3.0


def searches(out: dict) -> dict:
    """``{method: SearchResult}`` of a study's searches that have evaluations."""
    found = {}
    if out.get("grid") is not None:
        found["grid"] = out["grid"]
    if out.get("direct") is not None:
        found["DIRECT-L"] = out["direct"]
    for seed, r in (out.get("random") or {}).items():
        found[f"random (seed {seed})"] = r
    return {k: r for k, r in found.items() if r.evaluations}


def _learned(out: dict):
    """A study's learnable density when its fixed-density training is stored, else ``None``."""
    learned = out.get("learnable")
    return learned if learned is not None and learned.value is not None else None


def best_found(out: dict) -> float:
    """The lowest objective value of any method of a study: its searches and the learnable
    density's fixed-density training (``nan`` with nothing stored)."""
    values = [e.value for r in searches(out).values() for e in r.evaluations]
    learned = _learned(out)
    if learned is not None:
        values.append(learned.value)
    return min((v for v in values if math.isfinite(v)), default=math.nan)


def learnable_sentence(out: dict, noise: float, unit: str) -> str:
    """The learnable density against the best any method found, in units of the noise."""
    learned = _learned(out)
    if learned is None:
        return "The learnable density is not stored yet."
    gap = learned.value - best_found(out)
    den = ", ".join(f"{v:.3f}" for v in learned.den)
    if gap <= noise:
        against_noise = "within the noise"
    elif math.isfinite(noise):
        against_noise = f"{gap / noise:.1f} times the noise"
    else:
        against_noise = "noise not measured"
    where = ("the best found" if gap == 0
             else f"{gap:.3f} {unit} from the best found, {against_noise}")
    return (f"The learnable density (learned by SGD from the box's centre, then trained as a fixed "
            f"density: {learned.evaluations} trainings, {learned.seconds / 60:.0f} min) ends at "
            f"[{den}] and scores {where}.")


def study_row(label: str, out: dict) -> dict:
    """The numbers of one task and kernel size: noise, spread, ratio, fidelity, evaluations."""
    noise = out.get("noise") or {"std": math.nan, "n": 0}
    spread = measures.spread(out["grid"]) if out.get("grid") is not None else {"range": math.nan, "n": 0}
    fid = out.get("fidelity") or {"rho": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n": 0}
    return {"label": label, "noise_std": noise["std"], "noise_n": noise["n"],
            "spread": spread["range"], "spread_n": spread["n"],
            "ratio": measures.signal_to_noise(spread, noise), "rho": fid["rho"],
            "rho_low": fid["ci_low"], "rho_high": fid["ci_high"], "rho_n": fid["n"],
            "evaluations": {k: len(r.evaluations) for k, r in searches(out).items()}}


def _number(v, digits=3) -> str:
    return f"{v:.{digits}f}" if v is not None and math.isfinite(v) else "–"


def study_markdown(rows, unit: str) -> str:
    """A table of :func:`study_row` rows (``unit``: the objective's, e.g. ``'dB'``)."""
    header = ["task, kernel", f"noise: std over seeds ({unit})", "seeds",
              f"spread over the box ({unit})", "grid points", "spread / noise",
              "fidelity: Spearman ρ [95 % CI]", "densities"]
    cells = [[r["label"], _number(r["noise_std"]), r["noise_n"], _number(r["spread"]),
              r["spread_n"], _number(r["ratio"], 1),
              ("–" if not math.isfinite(r["rho"]) else
               f"{r['rho']:.2f} {tables.interval(r['rho_low'], r['rho_high'])}"), r["rho_n"]]
             for r in rows]
    return tables.markdown(header, cells)


def ratio_sentence(ratio: float, goal: float = RATIO_GOAL) -> str:
    """What a spread/noise ratio says, against ``goal``."""
    if not math.isfinite(ratio):
        return "not measured yet"
    verdict = "enough to rank densities" if ratio >= goal else "too little to rank densities"
    return f"{ratio:.1f} times the noise: {verdict} (the goal is {goal:.0f})"


def plot_fidelity(fidelity: dict, ax=None, unit: str = ""):
    """Proxy score against full-training score, one point per density. Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(fidelity["proxy"], fidelity["full"])
    for label, x, y in zip(fidelity["labels"], fidelity["proxy"], fidelity["full"]):
        ax.annotate(label, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    suffix = f" ({unit})" if unit else ""
    ax.set_xlabel(f"proxy objective: short training{suffix}")
    ax.set_ylabel(f"full training, same score{suffix}")
    rho = fidelity["rho"]
    ax.set_title(f"Spearman ρ = {rho:.2f}" if math.isfinite(rho) else "too few densities")
    ax.grid(alpha=0.3)
    return ax


def plot_regret(out: dict, ax=None, x: str = "evals", unit: str = ""):
    """Best-so-far minus the best value any method found (:func:`best_found`), per search,
    against evaluations (``x='evals'``) or search seconds (``x='seconds'``), log y; the learnable
    density is one star at its trainings (or seconds). Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    best = best_found(out)
    curves = measures.regret_curves(searches(out), best=best)
    for method, c in curves.items():
        xs = c["evals"] if x == "evals" else c["seconds"]
        ys = [max(g, 1e-4) for g in c["regret"]]   # the best itself sits at the floor
        ax.step(xs, ys, where="post", label=method, alpha=0.9 if "random" not in method else 0.5)
    learned = _learned(out)
    if learned is not None:
        ax.plot(learned.evaluations if x == "evals" else learned.seconds,
                max(learned.value - best, 1e-4), "k*", markersize=10, label="learned by SGD")
    ax.set_yscale("log")
    ax.set_xlabel("evaluations (trainings)" if x == "evals" else "search time (s)")
    ax.set_ylabel(f"regret: best so far − best found{f' ({unit})' if unit else ''}")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    return ax


def fidelity_verdict(rho_low: float, rho_high: float) -> str:
    """What a rank correlation's 95 % interval says of the proxy as a stand-in for full training."""
    if not (math.isfinite(rho_low) and math.isfinite(rho_high)):
        return "too few densities to tell"
    if rho_low > 0:
        return "so it ranks them as full training does"
    if rho_high < 0:
        return "so it ranks them in reverse: a search on it finds full training's worst"
    return ("no evidence that it ranks them as full training does (the interval holds 0), so the "
            "density a search finds on it is the proxy's best, not full training's")


def findings(rows, outs: dict, unit: str, eps: float | None = None) -> str:
    """The study's sentences: each row's ratio and fidelity, and evaluations-to-within-``eps``.

    ``eps`` defaults to each row's measured noise (its ``noise_std``): a search that lands
    closer than that to the best value found has found it, as far as the objective can tell.
    """
    parts = []
    for r in rows:
        if not r["rho_n"]:
            fid = "fidelity not measured yet"
        elif not math.isfinite(r["rho"]):
            fid = (f"fidelity: {r['rho_n']} of {FIDELITY_POINTS} full trainings stored, too few "
                   "for a rank correlation")
        else:
            fid = (f"the proxy ranks {r['rho_n']} densities with Spearman ρ {r['rho']:.2f} "
                   f"{tables.interval(r['rho_low'], r['rho_high'])} against full training, "
                   + fidelity_verdict(r["rho_low"], r["rho_high"]))
        parts.append(f"{r['label']}: the spread over the box is {ratio_sentence(r['ratio'])}; {fid}.")
        fidelity = outs[r["label"]].get("fidelity") or {}
        if fidelity.get("n", 0) >= 2:
            full, proxy = fidelity["full"], fidelity["proxy"]
            parts.append(f"Over those {fidelity['n']} densities full training spans "
                         f"{max(full) - min(full):.3f} {unit}, the proxy {max(proxy) - min(proxy):.3f} {unit}.")
        found = searches(outs[r["label"]])
        within = r["noise_std"] if eps is None else eps
        if len(found) > 1 and math.isfinite(within):
            n = measures.evals_to_within(found, within, best=best_found(outs[r["label"]]))
            # the searches have one budget; one still running is compared on what it has so far
            planned = outs[r["label"]].get("evaluations_per_search") or max(
                len(f.evaluations) for f in found.values())

            def reached(method, at):
                done = len(found[method].evaluations)
                text = f"{method} {'never' if at is None else at}"
                return text + (f" ({done} of {planned} stored)" if done < planned else "")

            how_close = (f"{within:.3f} {unit} (the noise)" if eps is None else f"{within:g} {unit}")
            parts.append(f"Evaluations to within {how_close} of the best found, of {planned} "
                         "per search: " + ", ".join(reached(m, v) for m, v in n.items()) + ".")
            parts.append(learnable_sentence(outs[r["label"]], within, unit))
    return " ".join(parts) if parts else "Nothing of the search study is stored yet."


def final_sentence(label: str, final: dict | None, metric: str, unit: str) -> str:
    """The study's final check in words: DIRECT-L's density against each other arm on ``metric``.

    Args:
        label: the study's name, e.g. ``'DnCNN 5×5'``.
        final: the ``final`` stage of :func:`wconv.experiments.search.study.run`
            (``{arm: [record per seed]}``, keyed by the arms of
            :data:`~wconv.experiments.search.study.FINAL_ARMS`), or ``None``.
        metric: a test metric of the records, e.g. ``'test_CBSD68_psnr'``.
        unit: the metric's unit.

    Only the seeds every arm has are compared, so a check still running is read on whole
    paired seeds (:func:`~wconv.experiments.search.finals.common_seeds`,
    :func:`~wconv.experiments.search.finals.compare_final`).
    """
    found = FINAL_ARMS[0]
    if not final or not final.get(found):
        return f"{label}: the final check of {found}'s density is not stored yet."
    runs = common_seeds(final)
    n = len(runs[found])
    if not n:
        return f"{label}: the final check of {found}'s density has no seed with every arm yet."
    first = runs[found][0]["config"]
    den = ", ".join(f"{v:.3f}" for v in first["den"])
    name = metric.removeprefix("test_").replace("_", " ").replace("psnr", "PSNR").replace("top1", "top-1")
    against = []
    for arm in runs:
        if arm == found:
            continue
        c = compare_final(runs, found, arm, metric)
        mse = f", an MSE change of {_mse_change(c['difference'])}" if unit == "dB" else ""
        against.append(f"{tables.signed(c['difference'])} {unit} against {arm} "
                       f"(95 % CI {tables.interval(c['ci_low'], c['ci_high'])}, "
                       f"p {tables.p_value(c['p'])}{mse})")
    return (f"{label}: {found}'s density [{den}], trained for {first['epochs']} epochs and scored "
            f"on the test split ({name}), gives " + "; ".join(against)
            + f" (n = {n} paired seed{'s' if n > 1 else ''}).")


def _mse_change(gain_db: float) -> str:
    """A PSNR gain as the signed change of the MSE it stands for, e.g. ``'-15.1 %'``."""
    return f"{-100 * mse_reduction(gain_db) + 0.0:+.1f} %"   # + 0.0: no "-0.0"


def papers_loss_sentence(plateau: dict | None, grid_range_db: float, box_upper,
                         test_set: str = "CBSD68", sigma: int = 25) -> str:
    """The second paper's "denoising loss reduced by up to 53 %" beside ours, as MSE changes.

    Args:
        plateau: chapter 5's paired difference, weighted 7×7 minus standard 7×7 at the end of
            training (:func:`wconv.experiments.denoise_study.paired`: test PSNR, dB), or ``None``.
        grid_range_db: the search grid's spread (best minus worst proxy PSNR, dB).
        box_upper: the search box's upper bounds; below 1 everywhere, the box leaves out the
            standard convolution (``den = 1``).
        test_set, sigma: where ``plateau`` was scored (pass the same to ``paired``).
    """
    claim = PUBLISHED["optimal_density_denoising_loss"]
    parts = [f"The second paper reports the denoising loss reduced by up to "
             f"{100 * claim['loss_reduction']:.0f} % at {100 * claim['time_overhead']:.0f} % more time."]
    if plateau is None:
        parts.append("Chapter 5's paired comparison of the 7×7 arms is not stored yet.")
    else:
        parts.append(
            f"In the same units, chapter 5's weighted 7×7 DnCNN (the papers' density) changes the "
            f"mean squared error of the standard 7×7 one by {_mse_change(plateau['mean'])} "
            f"(95 % interval {_mse_change(plateau['ci_high'])} to "
            f"{_mse_change(plateau['ci_low'])}; {test_set}, σ = {sigma}, n = {plateau['n']} paired "
            f"seeds): a paired gain of {plateau['mean']:+.2f} dB, read as the change of the geometric "
            f"mean of the per-image MSEs.")
    if math.isfinite(grid_range_db):
        box = ("the search's box, which leaves out the standard convolution (den = 1)"
               if max(box_upper) < 1 else "the search's box")
        parts.append(f"Inside {box}, the best grid density changes the worst one's validation "
                     f"MSE by {_mse_change(grid_range_db)} on the proxy "
                     f"({grid_range_db:.3f} dB apart).")
    return " ".join(parts)
