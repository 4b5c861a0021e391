r"""The numbers chapter 4 reports, computed from stored classification records.

Every function takes records as :func:`wconv.experiments.classify.run` returns them (or
:func:`~wconv.experiments.classify_grid.stored_records` loads them: ``config``, ``final``,
``wall_time_s``, ...) and returns one plain dict per row, in first-seen order; nothing is
trained and nothing is formatted (:mod:`wconv.views.classification` writes the tables).
Only ``final`` runs enter :func:`summarize` and :func:`paired`; :func:`tuning_table` and
:func:`ranking_agreement` read the ``tuning`` and ``sweep`` runs of a tuned budget.

Example::

    >>> from wconv.experiments import classify_analysis, classify_grid
    >>> records = classify_grid.stored_records("chapter4", "quick")
    >>> row = classify_analysis.paired(records, baseline="uniform")[0]
    >>> row["arch"], row["kernel_size"], row["density"], row["n"]
    ('vgg11', 3, 'paper', 3)
"""
from __future__ import annotations

import math
import warnings

from . import stats as _stats
from . import tuning
from .classify import TUNING_METRIC, TUNING_SEED

__all__ = ["GOAL_TOP1", "summarize", "paired", "equal_lr", "tuning_table", "ranking_agreement"]

#: The test top-1 (%) a standard ResNet-20 3x3 of the ``book`` budget must reach on average
#: over seeds: above the papers' standard VGG (56.89 %), so the comparison is between trained
#: classifiers.
GOAL_TOP1 = 60.0


def _role(record) -> str:
    return record["config"].get("role", "final")


def _finals(records) -> list[dict]:
    return [r for r in records if _role(r) == "final"]


def _group_key(record) -> tuple:
    c = record["config"]
    return c["arch"], c["kernel_size"], c["density"]


def summarize(records) -> list[dict]:
    """Mean and sample standard deviation of the final accuracies per arm (``final`` runs only).

    Returns one row per (arch, kernel_size, density), in first-seen order, with
    ``n`` (runs), ``seeds``, ``lr`` (the learning rates used) and
    ``<split>_<metric>_mean`` / ``_std`` (:func:`wconv.experiments.stats.mean_std`; the
    deviation is NaN for one run) for ``val_top1``, ``test_top1``, ``val_top5``, ``test_top5``.
    """
    groups: dict = {}
    for r in _finals(records):
        groups.setdefault(_group_key(r), []).append(r)
    rows = []
    for (arch, k, dens), rs in groups.items():
        row = {"arch": arch, "kernel_size": k, "density": dens, "n": len(rs),
               "seeds": sorted(r["config"]["seed"] for r in rs),
               "lr": sorted({r["config"]["lr"] for r in rs})}
        for m in ("val_top1", "test_top1", "val_top5", "test_top5"):
            row[f"{m}_mean"], row[f"{m}_std"] = _stats.mean_std([r["final"][m] for r in rs])
        row["time_s_mean"], _ = _stats.mean_std([r["wall_time_s"] for r in rs])
        rows.append(row)
    return rows


def paired(records, baseline: str = "uniform", metric: str = "test_top1") -> list[dict]:
    """Paired differences ``arm - baseline`` across seeds, with a 95% confidence interval.

    Runs (``final`` only) are paired by seed: the same seed gives both arms the
    same initial weights ``W₀``, data split and batch order. For each (arch,
    kernel size, arm) the row holds ``arch``, ``kernel_size``, ``density``,
    ``baseline``, ``metric``, ``seeds`` (of the pairs) and, from
    :func:`wconv.experiments.stats.paired_difference` (percentage points), ``n``,
    ``mean``, ``std``, ``ci_low``, ``ci_high`` and ``p`` (two-sided, paired t-test).
    With all differences equal there is no test (``p`` NaN, the interval is the mean).
    """
    finals = _finals(records)
    by = {(_group_key(r), r["config"]["seed"]): r["final"][metric] for r in finals}
    rows = []
    for key in dict.fromkeys(_group_key(r) for r in finals):
        arch, k, dens = key
        if dens == baseline:
            continue
        base = (arch, k, baseline)
        seeds = sorted(seed for (group, seed) in by if group == key and (base, seed) in by)
        d = _stats.paired_difference([by[key, s] for s in seeds], [by[base, s] for s in seeds])
        rows.append({"arch": arch, "kernel_size": k, "density": dens, "baseline": baseline,
                     "metric": metric, "n": d["n"], "seeds": seeds,
                     **{f: d[f] for f in ("mean", "std", "ci_low", "ci_high", "p")}})
    return rows


def equal_lr(records, arm: str = "reparam", twin: str = "paper", metric: str = "test_top1",
             role: str = "final") -> list[dict]:
    """``arm - twin`` between runs at the same learning rate and seed.

    :func:`paired` compares each arm at the learning rate it chose; two arms that
    chose different ones differ by that too. Here each run of ``arm`` is paired
    with the run of ``twin`` of the same arch, kernel size, seed and lr (same
    ``W₀`` and batches): with ``role='final'``, a ``final`` run with the twin's
    ``final`` or ``sweep`` run; with ``role='tuning'``, the two arms' tuning
    runs, lr by lr. For ``reparam`` against ``paper`` the two follow the same SGD
    trajectory in exact arithmetic (:mod:`wconv.reparam`), so the difference
    measures floating-point rounding and the chaos it seeds, not an operator:
    the noise of one run's score.

    One row per (arch, kernel size) with such pairs: ``arch``, ``kernel_size``,
    ``density`` (``arm``), ``baseline`` (``twin``), ``metric``, ``pairs`` (one
    ``(seed, lr)`` per pair) and, from :func:`wconv.experiments.stats.paired_difference`
    (percentage points), ``n``, ``mean``, ``std``, ``ci_low``, ``ci_high``, ``p``
    and ``differences``.
    """
    if role not in ("final", "tuning"):
        raise ValueError(f"role must be 'final' or 'tuning', got {role!r}")
    twin_roles = ("final", "sweep") if role == "final" else ("tuning",)
    full = {}
    for r in records:
        c = r["config"]
        if c["density"] == twin and _role(r) in twin_roles:
            full[c["arch"], c["kernel_size"], c["seed"], c["lr"]] = r["final"][metric]
    groups: dict = {}
    for r in records:
        c = r["config"]
        key = c["arch"], c["kernel_size"], c["seed"], c["lr"]
        if c["density"] == arm and _role(r) == role and key in full:
            groups.setdefault(key[:2], []).append((key[2:], r["final"][metric], full[key]))
    rows = []
    for (arch, k), matched in groups.items():
        matched.sort()
        d = _stats.paired_difference([a for _, a, _ in matched], [b for _, _, b in matched])
        rows.append({"arch": arch, "kernel_size": k, "density": arm, "baseline": twin,
                     "metric": metric, "pairs": [p for p, _, _ in matched],
                     **{f: d[f] for f in ("n", "mean", "std", "ci_low", "ci_high", "p",
                                          "differences")}})
    return rows


def tuning_table(records) -> list[dict]:
    """The learning-rate choice of every arm, from its ``tuning`` records.

    One row per (arch, kernel size, density) with tuning runs, in first-seen
    order: ``grid`` (the tuned values), ``scores`` (final validation top-1 of
    each, in grid order), ``chosen`` (:func:`wconv.experiments.tuning.choose_lr`), ``at_edge``
    (:func:`wconv.experiments.tuning.at_edge`: the best may lie outside the grid), ``margin``
    (the chosen lr's score minus the next best, in pp; NaN with one lr), ``epochs`` (of a tuning
    run), and ``recorded``: the choices the arm's final runs in ``records`` carry
    in their ``lr_selection`` (a stored final always agrees: its configuration,
    hence its key, was made from these runs).
    """
    groups: dict = {}
    for r in records:
        if _role(r) == "tuning":
            groups.setdefault(_group_key(r), {})[r["config"]["lr"]] = r
    rows = []
    for (arch, k, dens), by_lr in groups.items():
        lrs = sorted(by_lr)
        scores = [by_lr[lr]["final"][TUNING_METRIC] for lr in lrs]
        recorded = sorted({r["config"]["lr_selection"]["chosen"] for r in records
                           if _role(r) in ("final", "reference") and _group_key(r) == (arch, k, dens)
                           and r["config"].get("lr_selection")})
        chosen = tuning.choose_lr(lrs, scores)
        others = [v for lr, v in zip(lrs, scores) if lr != chosen and math.isfinite(v)]
        margin = scores[lrs.index(chosen)] - max(others) if others else math.nan
        rows.append({"arch": arch, "kernel_size": k, "density": dens, "grid": lrs,
                     "scores": scores, "chosen": chosen, "at_edge": tuning.at_edge(lrs, chosen),
                     "margin": margin,
                     "epochs": by_lr[lrs[0]]["config"]["epochs"], "recorded": recorded})
    return rows


def ranking_agreement(records, metric: str = TUNING_METRIC) -> list[dict]:
    """Do the short tuning runs rank the learning rates as full-length runs do?

    For every arm with full-length runs at two or more learning rates at seed
    :data:`TUNING_SEED` (``sweep`` runs, plus the seed-0 ``final`` at the chosen
    lr), one row: ``grid``; ``short`` and ``full``, the tuning and full-length
    scores (``metric``, validation top-1) per lr; ``full_test``, test top-1 of the
    full runs; ``best_short`` and ``best_full`` (:func:`wconv.experiments.tuning.choose_lr`); ``agree``
    (same best lr); and ``kendall_tau`` between the two rankings
    (``scipy.stats.kendalltau``, NaN with fewer than 2 values or a constant side).
    """
    from scipy import stats

    short: dict = {}
    full: dict = {}
    for r in records:
        c = r["config"]
        if c["seed"] != TUNING_SEED:
            continue
        if _role(r) == "tuning":
            short.setdefault(_group_key(r), {})[c["lr"]] = r["final"]
        elif _role(r) in ("sweep", "final"):
            full.setdefault(_group_key(r), {})[c["lr"]] = r["final"]
    rows = []
    for key, by_lr in full.items():
        lrs = sorted(lr for lr in by_lr if lr in short.get(key, {}))
        if len(lrs) < 2:
            continue
        s = [short[key][lr][metric] for lr in lrs]
        f = [by_lr[lr][metric] for lr in lrs]
        with warnings.catch_warnings():  # a constant side: NaN, and scipy warns
            warnings.simplefilter("ignore")
            tau = stats.kendalltau(s, f).statistic
        arch, k, dens = key
        rows.append({"arch": arch, "kernel_size": k, "density": dens, "grid": lrs, "short": s,
                     "full": f, "full_test": [by_lr[lr]["test_top1"] for lr in lrs],
                     "best_short": tuning.choose_lr(lrs, s), "best_full": tuning.choose_lr(lrs, f),
                     "kendall_tau": float(tau) if tau is not None and math.isfinite(tau) else float("nan")})
        rows[-1]["agree"] = rows[-1]["best_short"] == rows[-1]["best_full"]
    return rows
