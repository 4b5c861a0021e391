r"""The denoising study read back from its stored records: the numbers of chapter 5.

Every function here takes records of :func:`wconv.experiments.denoise.run` (or configurations)
and returns numbers; :mod:`wconv.views.denoising` turns them into tables, figures and
sentences.

* :func:`summarize`: mean ± std over seeds per arm, test set and σ, with the weighted arms'
  paired difference from the standard one (the ``chapter5`` grid's tables);
* :func:`progress`: what of a plan is stored, what is left, and its CPU time;
* :func:`tuning_rows`, :func:`lr_at_grid_edge`: every arm's learning-rate tuning;
* :func:`plateau_rows`, :func:`paired`, :func:`comparisons`, :func:`missing_pairs`: the
  study's final runs per arm, and its :data:`PAIRS` compared seed by seed
  (:func:`wconv.experiments.stats.paired_difference`);
* :func:`regime_points`, :func:`crossings`, :func:`regime_crossings`: the regime map;
* :func:`papers_setting`: the papers' setting reproduced (the ``quick`` runs);
* :func:`initial_psnr`, :func:`untrained`: where training starts (the head start);
* :func:`beside_published`: our numbers for the comparison with the published ones;
* :func:`panel_images`: the pixels of a record's image panel.

Only final runs (:func:`is_final`) enter the study's comparisons; tuning runs
(:func:`is_tuning`) never do.

Example::

    >>> from wconv.experiments import denoise, denoise_study, results
    >>> records = [results.load(c) for c in denoise.grid("chapter5", "quick")]
    >>> row = denoise_study.summarize(records)[0]
    >>> row["arch"], row["kernel_size"], row["density"], row["runs"], row["collapsed"]
    ('dncnn', 3, 'uniform', 3, 3)
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..metrics import psnr
from . import images as dd
from . import results as _results
from . import tuning
from .denoise import (
    ARM_DENSITIES,
    CONTROL_ARMS,
    DNCNN_ARMS,
    NAFNET_ARMS,
    TIE_DB,
    TUNE_SEED,
    Arm,
    arm_of,
    build,
    load_data,
    results_dir_for,
    test_image,
    tuning_score,
)
from .denoise_budgets import BUDGETS, total_steps
from .denoise_measures import as_float, collapsed, plateau
from .denoisers import denoise
from .stats import mean_std, paired_difference

__all__ = ["PAIRS", "REGIME_PAIRS", "GOAL_DB", "is_tuning", "is_final", "summarize", "progress",
           "tuning_rows", "plateau_rows", "lr_at_grid_edge", "paired", "comparisons",
           "missing_pairs", "regime_points", "crossings", "regime_crossings", "papers_setting",
           "initial_psnr", "untrained", "initial_signal", "beside_published", "panel_images"]

_D = "dncnn"

#: ``(arm, reference, question)``: the paired comparisons of :func:`comparisons`
#: (difference = arm minus reference, seed by seed).
PAIRS = (
    (Arm(_D, 7, "paper"), Arm(_D, 7, "uniform"), "weighted vs standard, 7×7, BN"),
    (Arm(_D, 7, "paper", False), Arm(_D, 7, "uniform", False), "weighted vs standard, 7×7, no BN"),
    (Arm(_D, 3, "paper"), Arm(_D, 3, "uniform"), "weighted vs standard, 3×3, BN"),
    (Arm(_D, 3, "uniform"), Arm(_D, 7, "paper"), "control (a): plain 3×3 vs weighted 7×7"),
    (Arm(_D, 5, "uniform"), Arm(_D, 7, "paper"), "control (a): plain 5×5 vs weighted 7×7"),
    (Arm(_D, 7, "head-start"), Arm(_D, 7, "paper"), "control (b): head start W₀⊙Φ vs weighted 7×7"),
    (Arm(_D, 7, "position-lr"), Arm(_D, 7, "paper"),
     "control (c): per-position lr·Φ vs weighted 7×7"),
    (Arm(_D, 7, "learnable"), Arm(_D, 7, "paper"), "control (d): learnable density vs fixed, 7×7"),
    (Arm("nafnet", 7, "paper"), Arm("nafnet", 7, "uniform"), "NAFNet weighted vs standard, 7×7"),
    (Arm("nafnet", 3, "paper"), Arm("nafnet", 3, "uniform"), "NAFNet weighted vs standard, 3×3"),
)

#: The test PSNR (dB, CBSD68 at σ = 25) the study's best standard DnCNN aims at.
GOAL_DB = 29.0
#: ``(arm, reference)``: the pairs whose crossing on the regime map the study reports.
REGIME_PAIRS = ((Arm(_D, 7, "paper"), Arm(_D, 7, "uniform")),
                (Arm(_D, 7, "paper", False), Arm(_D, 7, "uniform", False)))


def is_tuning(record: dict) -> bool:
    """A learning-rate tuning run (seed :data:`TUNE_SEED`, explicit ``lr``, no ``lr_tuning``)."""
    c = record["config"]
    b = BUDGETS.get(c["budget"])
    return (b is not None and b.lr_grid is not None and c["seed"] == TUNE_SEED
            and "lr_tuning" not in c)


def is_final(record: dict) -> bool:
    """A final run: the budget's length, and the tuned learning rate where the budget tunes."""
    c = record["config"]
    b = BUDGETS.get(c["budget"])
    if b is None or c["epochs"] != b.epochs:
        return False
    return "lr_tuning" in c if b.lr_grid is not None else c["lr"] == b.lr


def _score(record: dict, test_set: str | None, sigma: int) -> float:
    test_set = test_set or next(iter(record["test"]))
    return as_float(record["test"][test_set][str(sigma)]["mean_psnr"])


def _by_arm(records) -> dict:
    out = {}
    for r in records:
        out.setdefault(arm_of(r["config"]), {})[r["config"]["seed"]] = r
    return out


def _variant(config) -> tuple:
    return config["arch"], config["kernel_size"], config["density"], config.get("batch_norm", True)


def summarize(records) -> list[dict]:
    """Mean ± std over seeds of PSNR and SSIM per variant, test set and sigma.

    A variant is architecture, kernel size, density and BatchNorm. Each weighted variant
    is also compared with the standard (``uniform``) one of the same architecture, kernel
    size and BatchNorm, seed by seed (same initial weights and data), by
    :func:`wconv.experiments.stats.paired_difference`: ``pairs``, ``dpsnr_mean``/``dpsnr_std``
    of the differences and the two-sided paired t-test's ``p`` (NaN with fewer than two pairs
    or no spread). Tuning runs (:func:`is_tuning`) are left out. ``collapsed`` counts the
    variant's runs that :func:`wconv.experiments.denoise_measures.collapsed` flags (measured at
    σ = 25 on the first test set, so the same count on every row of the variant);
    ``gain_mean`` is the mean gain over the noisy input.

    Returns:
        One dict per (variant, test set, sigma), sorted.
    """
    by, flags = {}, {}
    for r in records:
        if is_tuning(r):
            continue
        c = r["config"]
        flags.setdefault(_variant(c), {})[c["seed"]] = collapsed(r)
        for set_name, per_set in r["test"].items():
            for sigma in c["test_sigmas"]:
                s = per_set[str(sigma)]
                by.setdefault((*_variant(c), set_name, sigma), {})[c["seed"]] = s
    rows = []
    for (arch, k, dens, bn, set_name, sigma), seeds in sorted(by.items(), key=lambda kv: (
            kv[0][0], kv[0][4], kv[0][5], not kv[0][3], kv[0][1],
            ARM_DENSITIES.index(kv[0][2]))):
        p = np.array([as_float(seeds[s]["mean_psnr"]) for s in sorted(seeds)])
        q = np.array([as_float(seeds[s]["mean_ssim"]) for s in sorted(seeds)])
        noisy = np.array([seeds[s]["noisy_mean_psnr"] for s in sorted(seeds)])
        psnr_mean, psnr_std = mean_std(p)
        ssim_mean, ssim_std = mean_std(q)
        row = {"arch": arch, "kernel_size": k, "density": dens, "batch_norm": bn,
               "test_set": set_name, "sigma": sigma, "runs": len(p), "psnr_mean": psnr_mean,
               "psnr_std": psnr_std, "ssim_mean": ssim_mean, "ssim_std": ssim_std,
               "noisy_psnr": float(noisy.mean()), "gain_mean": float((p - noisy).mean()),
               "collapsed": sum(flags[(arch, k, dens, bn)].values())}
        ref = by.get((arch, k, "uniform", bn, set_name, sigma))
        if dens != "uniform" and ref:
            common = sorted(set(ref) & set(seeds))
            d = paired_difference([as_float(seeds[s]["mean_psnr"]) for s in common],
                                  [as_float(ref[s]["mean_psnr"]) for s in common])
            row.update(pairs=d["n"], dpsnr_mean=d["mean"], dpsnr_std=d["std"], p=d["p"])
        rows.append(row)
    return rows


def _block(row) -> str:
    arm = row["arm"]
    if arm.arch == "nafnet":
        return "NAFNet"
    if row["stage"] == "regime":
        return "regime map"
    if row["stage"] == "long":
        return "plateau check"
    return "controls" if arm in CONTROL_ARMS else "DnCNN arms"


def progress(rows, records) -> dict:
    """What of a plan is stored: :func:`wconv.experiments.denoise.status` ``rows`` per block.

    Args:
        rows: ``status(...)`` of the plan; records: its stored records (for their recorded time).

    Returns:
        ``{'stored', 'total', 'hours_stored', 'hours_left', 'blocks'}``: run counts, the recorded
        wall time of the stored runs and the estimated CPU time of the rest (hours), and per
        block (``DnCNN arms``, ``controls``, ``plateau check``, ``regime map``, ``NAFNet``; tuning runs in their
        arm's block) ``{'name', 'stored', 'total'}`` in plan order.
    """
    blocks = {}
    for r in rows:
        b = blocks.setdefault(_block(r), {"name": _block(r), "stored": 0, "total": 0})
        b["total"] += 1
        b["stored"] += r["state"] == "stored"
    return {"stored": sum(r["state"] == "stored" for r in rows), "total": len(rows),
            "hours_stored": sum(r["wall_time_s"] for r in records) / 3600,
            "hours_left": sum(r["minutes"] or 0.0 for r in rows if r["state"] != "stored") / 60,
            "blocks": list(blocks.values())}


def tuning_rows(records) -> list[dict]:
    """Every arm's learning-rate tuning among ``records`` (of one budget), in arm order.

    The grid, scores and choice are those its final runs store (``config['lr_tuning']``);
    an arm without a stored final run gets them from its stored tuning runs (no ``choice``
    until all are there).

    Returns:
        one ``{'arm', 'label', 'grid', 'scores', 'collapsed', 'choice', 'at_edge',
        'edge_rise', 'all_collapsed'}`` per arm: ``collapsed[i]`` whether the tuning run at
        ``grid[i]`` collapsed (``None`` where it is not among ``records``); ``edge_rise`` for
        a choice at an end of the grid, how much its score beats its one neighbour's (dB).
    """
    runs, stored = {}, {}
    for r in records:
        arm = arm_of(r["config"])
        if is_tuning(r):
            runs.setdefault(arm, {})[r["config"]["lr"]] = r
        elif "lr_tuning" in r["config"]:
            stored.setdefault(arm, r["config"]["lr_tuning"])
    rows = []
    for arm in sorted(set(runs) | set(stored), key=_arm_order):
        mine, t = runs.get(arm, {}), stored.get(arm)
        if t is None:
            grid = list(BUDGETS[next(iter(mine.values()))["config"]["budget"]].lr_grid)
            scores = [tuning_score(mine[lr]) if lr in mine else None for lr in grid]
            whole = all(lr in mine for lr in grid) and any(v is not None for v in scores)
            choice = tuning.choose_lr(grid, scores, TIE_DB) if whole else None
        else:
            grid, scores, choice = list(t["grid"]), list(t["scores"]), t["choice"]
        flags = [collapsed(mine[lr]) if lr in mine else None for lr in grid]
        edge = choice is not None and tuning.at_edge(grid, choice)
        rise = None
        if edge and len(grid) > 1:
            i = grid.index(choice)
            j = 1 if i == 0 else i - 1
            if scores[i] is not None and scores[j] is not None:
                rise = scores[i] - scores[j]
        rows.append({"arm": arm, "label": arm.label, "grid": grid, "scores": scores,
                     "collapsed": flags, "choice": choice, "at_edge": edge, "edge_rise": rise,
                     "all_collapsed": all(f is True for f in flags)})
    return rows


_ARM_ORDER = (*DNCNN_ARMS, *CONTROL_ARMS, *NAFNET_ARMS)


def _arm_order(arm) -> int:
    return _ARM_ORDER.index(arm) if arm in _ARM_ORDER else len(_ARM_ORDER)


def plateau_rows(records, test_set: str | None = None, sigma: int = 25) -> list[dict]:
    """One row per arm of the final runs among ``records``: test PSNR mean ± std, ``n``,
    the noisy input, the gain, how many runs collapsed and how many reached the plateau (with
    each run's validation gain over its last steps, ``plateau_gains``, seed order), and the
    tuned learning rate (``test_set``: default the first of each record)."""
    rows = []
    for arm, seeds in _by_arm([r for r in records if is_final(r)]).items():
        rs = [seeds[k] for k in sorted(seeds)]
        p = np.array([_score(r, test_set, sigma) for r in rs])
        first = test_set or next(iter(rs[0]["test"]))
        noisy = float(np.mean([r["test"][first][str(sigma)]["noisy_mean_psnr"] for r in rs]))
        lrs = sorted({r["config"]["lr"] for r in rs})
        psnr_mean, psnr_std = mean_std(p)
        rows.append({"arm": arm, "label": arm.label, "test_set": first, "sigma": sigma,
                     "n": len(p), "psnr_mean": psnr_mean, "psnr_std": psnr_std,
                     "noisy_psnr": noisy, "gain_mean": psnr_mean - noisy,
                     "collapsed": sum(collapsed(r) for r in rs),
                     "at_plateau": sum(plateau(r)["reached"] for r in rs),
                     "plateau_gains": [plateau(r)["gain_db"] for r in rs],
                     "lr": lrs[0] if len(lrs) == 1 else lrs, "steps": total_steps(rs[0]["config"])})
    rows.sort(key=lambda r: _arm_order(r["arm"]))
    return rows


def lr_at_grid_edge(records) -> list[tuple[str, float]]:
    """``(arm label, lr)`` of the tuned runs among ``records`` whose chosen learning rate is the
    smallest or the largest of its grid (a better one may lie beyond it), sorted, each once."""
    return sorted({(arm_of(r["config"]).label, r["config"]["lr"]) for r in records
                   if "lr_tuning" in r["config"]
                   and tuning.at_edge(r["config"]["lr_tuning"]["grid"], r["config"]["lr"])})


def paired(records, arm: Arm, reference: Arm, test_set: str | None = None, sigma: int = 25,
           final: bool = True) -> dict | None:
    """``arm`` minus ``reference``, seed by seed (same seed: same W₀, patches and noise).

    Returns:
        :func:`wconv.experiments.stats.paired_difference` of the two arms' test PSNR
        (``'n', 'mean', 'std', 'ci_low', 'ci_high', 'p', 'differences'``: the 95 % interval and
        the p-value of the paired t-test; ``p`` NaN with fewer than two pairs or no spread),
        with ``'arm'``, ``'reference'`` (labels), ``'seeds'`` and how many runs of each
        collapsed (``'arm_collapsed'``, ``'reference_collapsed'``); ``None`` when no seed has
        both.
    """
    pool = [r for r in records if is_final(r)] if final else list(records)
    by = _by_arm(pool)
    a, b = by.get(arm, {}), by.get(reference, {})
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return None
    d = paired_difference([_score(a[s], test_set, sigma) for s in seeds],
                          [_score(b[s], test_set, sigma) for s in seeds])
    return {"arm": arm.label, "reference": reference.label, **d, "seeds": seeds,
            "arm_collapsed": sum(collapsed(a[s]) for s in seeds),
            "reference_collapsed": sum(collapsed(b[s]) for s in seeds)}


def comparisons(records, test_set: str | None = None, sigma: int = 25, pairs=PAIRS) -> list[dict]:
    """:func:`paired` for every ``(arm, reference, question)`` of ``pairs`` present in
    ``records``, each with its ``question``."""
    out = []
    for arm, ref, question in pairs:
        d = paired(records, arm, ref, test_set, sigma)
        if d is not None:
            out.append(dict(d, question=question))
    return out


def missing_pairs(records, pairs=PAIRS) -> list[str]:
    """The questions of ``pairs`` that :func:`comparisons` cannot answer yet: no seed has a
    final run of both arms among ``records``."""
    return [q for arm, ref, q in pairs if paired(records, arm, ref) is None]


def regime_points(records, arm: Arm, test_set: str | None = None, sigma: int = 25) -> list[dict]:
    """Test PSNR of ``arm`` against training length: one point per length (its final runs and
    its regime-map runs, each trained with its own full schedule), mean ± std over seeds."""
    by = {}
    for r in records:
        c = r["config"]
        if arm_of(c) != arm or c["seed"] == TUNE_SEED:
            continue
        b = BUDGETS.get(c["budget"])
        tuned = "lr_tuning" in c if b is not None and b.lr_grid is not None else True
        if tuned:
            by.setdefault(total_steps(c), []).append(_score(r, test_set, sigma))
    out = []
    for steps in sorted(by):
        v = np.array(by[steps])
        out.append({"steps": steps, "psnr_mean": float(v.mean()), "n": len(v),
                    "psnr_std": float(v.std(ddof=1)) if len(v) > 1 else float("nan")})
    return out


def crossings(steps, a, b) -> list[float]:
    """Where curve ``a`` crosses curve ``b`` (same ``steps``), on a log-steps axis.

    Between two consecutive lengths where ``a - b`` changes sign, the crossing is
    interpolated linearly in ``log(steps)``; a length where they are equal is a crossing.

    Example::

        >>> crossings([100, 1000, 10000], [25.0, 27.0, 28.0], [20.0, 26.0, 29.0])
        [3162.27766]
    """
    steps, d = list(steps), [x - y for x, y in zip(a, b)]
    out = []
    for i in range(len(d)):
        if d[i] == 0:
            out.append(float(steps[i]))
        elif i + 1 < len(d) and d[i] * d[i + 1] < 0:
            la, lb = math.log(steps[i]), math.log(steps[i + 1])
            t = d[i] / (d[i] - d[i + 1])
            out.append(round(math.exp(la + t * (lb - la)), 5))
    return out


def regime_crossings(records, arm: Arm, reference: Arm, test_set: str | None = None,
                     sigma: int = 25) -> list[float]:
    """Training lengths (steps) where the mean test PSNR of ``arm`` and ``reference`` cross
    (:func:`crossings` over the lengths both have)."""
    pa = {p["steps"]: p["psnr_mean"] for p in regime_points(records, arm, test_set, sigma)}
    pb = {p["steps"]: p["psnr_mean"] for p in regime_points(records, reference, test_set, sigma)}
    common = sorted(set(pa) & set(pb))
    return crossings(common, [pa[s] for s in common], [pb[s] for s in common])


def papers_setting(records, test_set: str | None = None, sigma: int = 25,
                   budget: str = "quick") -> dict | None:
    """The papers' setting reproduced, as one labelled row: the ``chapter5`` grid at a short
    ``budget`` (``quick``: the earlier book runs, 240 Adam steps), its 7×7 weighted DnCNN
    against its standard one, and how many runs of each of the grid's arms collapsed.

    Args:
        records: any records; those of ``budget`` at the budget's own length and learning rate
            (the ``chapter5`` grid: no tuning, no tuned runs) are used.

    Returns:
        ``{'label', 'budget', 'steps', 'standard', 'standard_std', 'weighted', 'delta',
        'standard_collapsed', 'n', 'noisy', 'arms'}``: PSNR means over the seeds both 7×7 arms
        have; ``arms`` one ``(label, collapsed runs, runs)`` per arm of the grid, in grid order.
        ``None`` without such runs.
    """
    b = BUDGETS[budget]
    pool = [r for r in records if r["config"]["budget"] == budget and not is_tuning(r)
            and "lr_tuning" not in r["config"] and r["config"]["epochs"] == b.epochs]
    d = paired(pool, Arm(_D, 7, "paper"), Arm(_D, 7, "uniform"), test_set, sigma, final=False)
    if d is None:
        return None
    by = _by_arm(pool)
    std = [_score(by[Arm(_D, 7, "uniform")][s], test_set, sigma) for s in d["seeds"]]
    first = test_set or next(iter(pool[0]["test"]))
    noisy = float(np.mean([r["test"][first][str(sigma)]["noisy_mean_psnr"] for r in pool]))
    c = pool[0]["config"]
    m, sd = mean_std(std)
    return {"label": (f"DnCNN {c['dncnn']['depth']} × {c['dncnn']['width']}, {total_steps(c)} "
                      f"Adam steps, {budget} budget"),
            "budget": budget, "steps": total_steps(c), "standard": m, "standard_std": sd,
            "weighted": m + d["mean"], "delta": d["mean"],
            "standard_collapsed": d["reference_collapsed"], "n": d["n"], "noisy": noisy,
            "arms": [(arm.label, sum(collapsed(r) for r in rs.values()), len(rs))
                     for arm, rs in by.items()]}


def initial_psnr(configs, root=None, results_dir=None) -> list[dict]:
    """Mean validation PSNR (σ = 25, dB) of the *untrained* model of each configuration.

    Where training starts: a weighted model's effective kernel ``W ⊙ Φ`` is
    smaller than ``W`` (``Φ <= 1``), which can put its untrained output closer
    to its input than the standard model's. Models run in eval mode on the
    validation crops of :func:`wconv.experiments.denoise.run`.

    Measured once where the data is and kept in the results store (task
    ``denoise-initial``, see :func:`wconv.experiments.results.cached`), so a page without the
    data reads it back.

    Args:
        configs: one configuration or a list of them.
        root: data root; results_dir: as in :func:`wconv.experiments.denoise.run`.

    Returns:
        One ``{'untrained': dB, 'noisy': dB}`` per configuration (a single dict
        for a single configuration); ``noisy`` is the noisy input's own PSNR.
    """
    single = isinstance(configs, dict)
    out, cache = [], {}
    for config in ([configs] if single else configs):
        def measure(config=config):
            key = tuple(config[k] for k in ("source", "n_train", "n_val", "val_crop", "n_test"))
            if key not in cache:
                p, _, val, _, _ = load_data(config, root)
                noisy = torch.cat([x for x, _ in val])
                clean = torch.cat([y for _, y in val])
                cache[key] = (p.channels, noisy, clean, float(psnr(noisy.clamp(0, 1), clean).mean()))
            channels, noisy, clean, noisy_psnr = cache[key]
            model = build(config, channels)
            return {"untrained": float(psnr(denoise(model, noisy), clean).mean()), "noisy": noisy_psnr}

        stored = _results.cached({"task": "denoise-initial", "name": config["name"], "run": config},
                                 measure, results_dir_for(config, results_dir))
        out.append({"untrained": stored["untrained"], "noisy": stored["noisy"]})
    return out[0] if single else out


def untrained(configs, root=None, results_dir=None) -> dict:
    """:func:`initial_psnr` of every configuration, per variant: the head start before training.

    Returns:
        ``{'rows', 'noisy', 'head_start'}``: one row per (architecture, kernel size, density),
        in first-seen order, with ``n`` (seeds), ``untrained_mean``, ``untrained_std`` (dB) and
        the variant's ``den``; the noisy validation input's PSNR; and per architecture the
        7×7 ``paper`` variant's mean minus the 7×7 ``uniform`` one's (where both are there).
    """
    scores = initial_psnr(list(configs), root, results_dir)
    by, dens = {}, {}
    for config, s in zip(configs, scores):
        key = (config["arch"], config["kernel_size"], config["density"])
        by.setdefault(key, []).append(s["untrained"])
        dens[key] = config["den"]
    rows = []
    for (arch, k, d), v in by.items():
        m, sd = mean_std(v)
        rows.append({"arch": arch, "kernel_size": k, "density": d, "den": dens[(arch, k, d)],
                     "n": len(v), "untrained_mean": m, "untrained_std": sd})
    head = {}
    for arch in dict.fromkeys(a for a, _, _ in by):
        if (arch, 7, "paper") in by and (arch, 7, "uniform") in by:
            head[arch] = float(np.mean(by[(arch, 7, "paper")]) - np.mean(by[(arch, 7, "uniform")]))
    return {"rows": rows, "noisy": scores[-1]["noisy"], "head_start": head}


def beside_published(rows, records, test_set: str | None = None, sigma: int = 25) -> dict:
    """Our DnCNN numbers to set beside the published ones (chapter 5).

    Args:
        rows: :func:`summarize` of ``records`` (the ``chapter5`` grid, or the study's final runs).
        records: the grid's records; the first one's configuration describes the training.
        test_set: default the first test set of the records.

    Returns:
        ``{'test_set', 'sigma', 'model', 'den', 'steps', 'batch_size', 'patch', 'n_train',
        'budget', 'standard_7', 'weighted_7', 'standard_3'}``: ``model`` the DnCNN size,
        ``den`` the weighted 7×7 density, ``n_train`` the training images, and the three
        :func:`summarize` rows (7×7 standard and ``paper``, 3×3 standard; BatchNorm on;
        ``None`` where not stored).
    """
    c = records[0]["config"]
    first = test_set or next(iter(records[0]["test"]))

    def row(k, density):
        return next((r for r in rows if (r["arch"], r["kernel_size"], r["density"],
                                         r["batch_norm"], r["test_set"], r["sigma"])
                     == (_D, k, density, True, first, sigma)), None)

    den = next(r["config"]["den"] for r in records
               if arm_of(r["config"]) == Arm(_D, 7, "paper"))
    return {"test_set": first, "sigma": sigma, "model": c[_D], "den": den,
            "steps": total_steps(c), "batch_size": c["batch_size"], "patch": c["patch"],
            "n_train": c["n_train"] or len(records[0]["data"]["train"]),
            "budget": c["budget"], "standard_7": row(7, "uniform"),
            "weighted_7": row(7, "paper"), "standard_3": row(3, "uniform")}


def panel_images(record: dict, root=None) -> dict:
    """Clean, noisy and denoised zoomed crops (``uint8`` ``(C, h, w)``) of a record's panel."""
    c, pnl = record["config"], record["panel"]
    image = test_image(c["source"], pnl["test_set"], pnl["image"], c["test_crop"], root,
                       results_dir_for(c))
    noisy = dd.noisy_images([image], [pnl["image"]], pnl["sigma"], seed=0)[0]
    y, x, h, w = pnl["box"]
    return {"full": image, "clean": image[:, y:y + h, x:x + w],
            "noisy": (noisy[:, y:y + h, x:x + w].clamp(0, 1) * 255).round().to(torch.uint8),
            "output": _results.image_from_text(pnl["png_base64"]), "box": pnl["box"]}


def initial_signal(arms, budget: str = "book", seed: int = 0, size: int = 64) -> list[dict]:
    """How much of the input reaches DnCNN's last layer at initialisation, per arm.

    Each untrained network (the seed's ``W₀``, where its runs start; in eval mode, so a
    BatchNorm layer is the identity its running statistics start as) sees two uniform-noise
    images (``size`` pixels square). ``input_std`` is the standard deviation of the difference
    of the two inputs to the last convolution, the part that depends on the image;
    ``total_std`` that of one of them, mostly the layers' biases. Without BatchNorm nothing
    rescales the layers, and a weighted ``k × k`` layer scales the image's part by about the
    root mean square of ``Φ``, layer after layer.

    Returns:
        one ``{'arm', 'label', 'input_std', 'total_std', 'fraction'}`` per arm
        (``fraction = input_std / total_std``).
    """
    g = torch.Generator().manual_seed(seed)
    x1, x2 = torch.rand(2, 1, 3, size, size, generator=g)
    rows = []
    for arm in arms:
        model = build(arm.config(seed, budget)).eval()
        with torch.no_grad():
            a, b = model.body[:-1](x1), model.body[:-1](x2)
        input_std, total_std = float((a - b).std()), float(a.std())
        rows.append({"arm": arm, "label": arm.label, "input_std": input_std,
                     "total_std": total_std, "fraction": input_std / total_std})
    return rows
