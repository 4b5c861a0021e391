r"""Can an objective tell densities apart, and does it rank them like full training?

A search is only as good as its objective. Three measurements say how good that is:

* :func:`noise`: one density trained with several seeds: how much the objective moves when
  only ``W₀`` and the batch order change;
* :func:`spread`: how much it moves over the box (the values a search or a grid found);
  :func:`signal_to_noise` is their ratio, the number that says whether "which density is
  best" has an answer at this proxy length;
* :func:`fidelity`: the proxy objective against the same trainings at full length, for a
  set of densities: Spearman's rank correlation with its interval
  (:func:`wconv.experiments.stats.rank_correlation`).

:func:`regret_curves` and :func:`evals_to_within` compare searches at equal budget. Every
training here is stored (:func:`~wconv.experiments.search.finals.final_runs` with
``test=False``: validation scores only), so a measurement resumes where it stopped and a
page without the data reads it back.

Example::

    >>> import math
    >>> from wconv.experiments.search import measures
    >>> measures.signal_to_noise({"range": 0.6}, {"std": 0.2})
    3.0
    >>> measures.evals_to_within({"a": [3.0, 1.0, 0.5]}, eps=0.6, best=0.0)
    {'a': 3}
"""
from __future__ import annotations

import math

from .. import stats
from .algorithms import SearchResult
from .finals import final_runs, record_seed
from .objectives import TrainingObjective

__all__ = ["noise", "spread", "signal_to_noise", "fidelity", "best_so_far", "regret_curves",
           "evals_to_within"]


def _scores(runs: dict) -> dict:
    return {label: [r["score"] for r in records] for label, records in runs.items()}


def noise(objective: TrainingObjective, den, seeds=(0, 1, 2), results_dir=None,
          train: bool = True) -> dict:
    """The objective at ``den`` under several seeds (its own length, validation only).

    Returns:
        ``{'den', 'seeds', 'values', 'mean', 'std', 'n'}`` (``std``: sample deviation over
        the seeds, in the objective's unit); with ``train=False``, only the stored seeds.
    """
    den = [float(v) for v in den]
    runs = final_runs(objective, {"noise": den}, seeds, epochs=objective.setup["epochs"],
                      results_dir=results_dir, test=False, train=train)
    values = _scores(runs)["noise"]
    seeds = [record_seed(r) for r in runs["noise"]]
    mean, std = stats.mean_std(values)
    return {"den": den, "seeds": list(seeds), "values": values, "mean": mean, "std": std,
            "n": len(values)}


def spread(result: SearchResult) -> dict:
    """The range of a search's finite values over the box: ``{'min', 'max', 'range', 'n'}``."""
    values = [e.value for e in result.evaluations if math.isfinite(e.value)]
    if not values:
        return {"min": math.nan, "max": math.nan, "range": math.nan, "n": 0}
    return {"min": min(values), "max": max(values), "range": max(values) - min(values),
            "n": len(values)}


def signal_to_noise(spread_row: dict, noise_row: dict) -> float:
    """Range over the box divided by the seed-to-seed standard deviation (NaN if unknown)."""
    r, s = spread_row["range"], noise_row["std"]
    if not (math.isfinite(r) and math.isfinite(s)) or s == 0:
        return math.nan
    return r / s


def fidelity(objective: TrainingObjective, densities: dict, full_epochs: int, seed: int = 0,
             results_dir=None, train: bool = True, proxy: dict | None = None) -> dict:
    """The proxy objective against full-length training, density by density (one seed).

    Args:
        objective: the proxy (its ``epochs`` are the proxy's length).
        densities: ``{label: den}``, e.g. the points of a grid over the box.
        full_epochs: the length of the full training (e.g. the chapter's final runs').
        train: ``False`` only reads the stored trainings (the densities with both).
        proxy: ``{label: score}`` the proxy already has for ``densities`` (e.g. a search's
            evaluations of the same objective and seed), so they are not trained again.

    Returns:
        ``{'labels', 'dens', 'proxy', 'full', 'n', 'rho', 'ci_low', 'ci_high', 'p'}``: the
        two scores per density (the objective's unit, lower is better) and their Spearman
        correlation (:func:`wconv.experiments.stats.rank_correlation`).
    """
    dens = {k: [float(v) for v in d] for k, d in densities.items()}
    if proxy is None:
        proxy = _scores(final_runs(objective, dens, (seed,), epochs=objective.setup["epochs"],
                                   results_dir=results_dir, test=False, train=train))
    else:
        proxy = {k: [proxy[k]] for k in dens}
    full = _scores(final_runs(objective, dens, (seed,), epochs=full_epochs,
                              results_dir=results_dir, test=False, train=train))
    labels = [k for k in dens if proxy[k] and full[k]]   # with train=False: the stored pairs
    x, y = [proxy[k][0] for k in labels], [full[k][0] for k in labels]
    return {"labels": labels, "dens": [dens[k] for k in labels], "proxy": x, "full": y,
            **stats.rank_correlation(x, y)}


def best_so_far(values) -> list[float]:
    """The lowest finite value up to each evaluation (``inf`` before the first finite one)."""
    out, best = [], math.inf
    for v in values:
        if math.isfinite(v):
            best = min(best, v)
        out.append(best)
    return out


def _values(result) -> list[float]:
    return [e.value for e in result.evaluations] if isinstance(result, SearchResult) else list(result)


def regret_curves(results: dict, best: float | None = None) -> dict:
    """Best-so-far minus the best value any method found, per evaluation and per second.

    Args:
        results: ``{method: SearchResult}`` (or ``{method: [values]}``, without seconds).
        best: the reference value (default: the lowest finite value of all ``results``).

    Returns:
        ``{method: {'evals', 'regret', 'seconds'}}``: ``regret[i]`` after evaluation
        ``evals[i]`` (1-based), ``seconds[i]`` the search's elapsed wall time then (``None``
        without it).
    """
    if best is None:
        best = min((v for r in results.values() for v in _values(r) if math.isfinite(v)),
                   default=math.nan)
    out = {}
    for method, r in results.items():
        values = _values(r)
        seconds = ([e.elapsed for e in r.evaluations] if isinstance(r, SearchResult)
                   else [None] * len(values))
        out[method] = {"evals": list(range(1, len(values) + 1)),
                       "regret": [b - best for b in best_so_far(values)], "seconds": seconds}
    return out


def evals_to_within(results: dict, eps: float, best: float | None = None) -> dict:
    """The first evaluation (1-based) whose best-so-far is within ``eps`` of ``best``
    (default: the best of all ``results``), per method; ``None`` if never."""
    curves = regret_curves(results, best)
    return {m: next((n for n, g in zip(c["evals"], c["regret"]) if g <= eps), None)
            for m, c in curves.items()}
