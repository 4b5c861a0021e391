r"""Chapter 6's search study: how good the objective is, then the searches at equal budget.

For one task and kernel size, :func:`run` goes through :data:`STAGES` in order, each stored
as it goes (search logs under ``results/search/``, trainings under ``results/search-final/``),
so it can be killed and restarted at any time (``python -m wconv search``):

1. ``noise``: the objective at the papers' density with three training seeds;
2. ``grid``: a midpoint grid over the papers' box (its range is the objective's spread);
3. ``fidelity``: :data:`FIDELITY_POINTS` grid points, spread over the grid's values, trained
   at the chapter's full length, against the proxy (Spearman's rho);
4. ``direct``: DIRECT-L with as many evaluations as the grid;
5. ``random``: random search, the same budget, for each of :data:`RANDOM_SEEDS`;
6. ``learnable``: the density learned by gradient descent;
7. ``final``: DIRECT-L's density against the standard convolution and the papers' density,
   trained at the chapter's full length with :data:`FINAL_SEEDS` and scored on the test split.

The objective is the ``study`` budget of :mod:`~wconv.experiments.search.objectives`: the
chapter's own training, shortened.

Example::

    >>> from wconv.experiments.search import study
    >>> study.grid_points(7), study.grid_points(5), study.grid_points(3)
    (3, 5, 9)
"""
from __future__ import annotations

from ...density import PAPER_DEN
from . import measures
from .algorithms import direct_search, grid_search, paper_bounds, random_search
from .finals import final_runs
from .objectives import (
    classification_objective,
    denoising_objective,
    learnable_density_search,
)

__all__ = ["STAGES", "FIDELITY_POINTS", "RANDOM_SEEDS", "FINAL_SEEDS", "FINAL_ARMS", "grid_points",
           "evaluations_per_search", "objective", "full_epochs", "final_densities", "run"]

STAGES = ("noise", "grid", "fidelity", "direct", "random", "learnable", "final")
#: Densities of the fidelity check (about 8, the issue's number).
FIDELITY_POINTS = 8
#: Seeds of the random searches.
RANDOM_SEEDS = (0, 1, 2, 3, 4)
#: Seeds of the noise measurement.
NOISE_SEEDS = (0, 1, 2)
#: Seeds of the final check on the test split.
FINAL_SEEDS = (0, 1, 2)
#: The final check's arms: the found density and the two it must beat.
FINAL_ARMS = ("DIRECT-L", "uniform (standard)", "papers' density")


def grid_points(kernel_size: int) -> int:
    """Grid values per axis: about 25 evaluations in all (3 per axis for the 3-D 7x7 box)."""
    return {3: 9, 5: 5, 7: 3}[kernel_size]


def evaluations_per_search(kernel_size: int) -> int:
    """Every search's budget: the grid's size, ``grid_points(k) ** (k - 1) // 2`` (27 for 7x7)."""
    return grid_points(kernel_size) ** ((kernel_size - 1) // 2)


def objective(task: str, kernel_size: int, budget: str = "study"):
    """The task's search objective (:func:`denoising_objective` or :func:`classification_objective`)."""
    if task == "denoise":
        return denoising_objective(kernel_size, budget=budget)
    if task == "classify":
        return classification_objective(kernel_size, budget=budget)
    raise ValueError(f"task must be 'denoise' or 'classify'; got {task!r}")


def full_epochs(task: str) -> int:
    """The length of the chapter's final runs, which the fidelity check trains."""
    if task == "denoise":
        from ..denoise_budgets import BUDGETS
    else:
        from ..classify import BUDGETS
    return BUDGETS["book"].epochs


def _spread_over_values(evaluations, n: int) -> list:
    """``n`` evaluations at evenly spaced ranks of their values (best to worst)."""
    ranked = sorted(evaluations, key=lambda e: e.value)
    if len(ranked) <= n:
        return ranked
    return [ranked[round(i * (len(ranked) - 1) / (n - 1))] for i in range(n)]


def final_densities(kernel_size: int, direct) -> dict:
    """``{arm: den}`` of the final check (:data:`FINAL_ARMS`; ``None``: standard convolution)."""
    return dict(zip(FINAL_ARMS, (direct.best.den, None, PAPER_DEN[kernel_size])))


def run(task: str, kernel_size: int, budget: str = "study", stages=STAGES, log=print,
        train: bool = True, random_seeds=None) -> dict:
    """Run (or load) the study's ``stages`` for one task and kernel size, in the order of
    :data:`STAGES` (not the order of ``stages``).

    ``random_seeds`` (a subset of :data:`RANDOM_SEEDS`, default all) lets two processes share
    the random searches, a few seeds each; the other stages do not depend on it.

    With ``train=False`` (a page) nothing is trained: every stage returns what is stored
    (searches replay their logs and stop where they end; ``None`` for a stage with nothing).

    Returns:
        ``{stage: result}``: :func:`~wconv.experiments.search.measures.noise`'s row, the
        grid's and DIRECT-L's :class:`~wconv.experiments.search.algorithms.SearchResult`,
        :func:`~wconv.experiments.search.measures.fidelity`'s row, ``{seed: SearchResult}``
        of the random searches, the
        :class:`~wconv.experiments.search.algorithms.LearnedDensity`, and the final check's
        ``{arm: [record per seed]}`` (:func:`~wconv.experiments.search.finals.final_runs`;
        ``None`` until DIRECT-L has spent its budget); ``evaluations_per_search`` holds
        :func:`evaluations_per_search`.
    """
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValueError(f"stages must be among {', '.join(STAGES)}; got {unknown}")
    random_seeds = RANDOM_SEEDS if random_seeds is None else tuple(random_seeds)
    unknown = [s for s in random_seeds if s not in RANDOM_SEEDS]
    if unknown:
        raise ValueError(f"random_seeds must be among {RANDOM_SEEDS}; got {unknown}")
    f = objective(task, kernel_size, budget)
    points = grid_points(kernel_size)
    evals = evaluations_per_search(kernel_size)
    out = {"evaluations_per_search": evals}
    if "noise" in stages:
        lower, upper = paper_bounds(kernel_size)
        den = PAPER_DEN[kernel_size]
        if not all(lo <= v <= hi for v, lo, hi in zip(den, lower, upper)):
            den = tuple((lo + hi) / 2 for lo, hi in zip(lower, upper))
        out["noise"] = measures.noise(f, den, NOISE_SEEDS, train=train)
        log(f"{task} {kernel_size}x{kernel_size} noise at {list(den)}: std {out['noise']['std']:.4f} "
            f"over {out['noise']['n']} seeds")
    if "grid" in stages or "fidelity" in stages:
        out["grid"] = grid_search(f, kernel_size, points=points, max_evals=evals, log="auto",
                                  replay_only=not train)
        s = measures.spread(out["grid"])
        log(f"{task} {kernel_size}x{kernel_size} grid: {s['n']} points, range {s['range']:.4f}")
    if "fidelity" in stages:
        picks = _spread_over_values(out["grid"].evaluations, FIDELITY_POINTS)
        # the grid evaluated these densities with the proxy itself (same seed): its values
        # are the proxy's scores, so only the full-length trainings are new
        out["fidelity"] = measures.fidelity(f, {f"grid-{e.index}": e.den for e in picks},
                                            full_epochs(task), train=train,
                                            proxy={f"grid-{e.index}": e.value for e in picks})
        log(f"{task} {kernel_size}x{kernel_size} fidelity: rho {out['fidelity']['rho']:.2f} "
            f"over {out['fidelity']['n']} densities")
    if "direct" in stages:
        out["direct"] = direct_search(f, kernel_size, max_evals=evals, log="auto",
                                      replay_only=not train)
        log(f"{task} {kernel_size}x{kernel_size} DIRECT-L: {len(out['direct'].evaluations)} evaluations")
    if "random" in stages:
        out["random"] = {s: random_search(f, kernel_size, max_evals=evals, seed=s, log="auto",
                                          replay_only=not train) for s in random_seeds}
        log(f"{task} {kernel_size}x{kernel_size} random: "
            f"{sum(len(r.evaluations) for r in out['random'].values())} evaluations")
    if "learnable" in stages:
        out["learnable"] = learnable_density_search(f, train=train)
        log(f"{task} {kernel_size}x{kernel_size} learnable: "
            f"{'not stored' if out['learnable'] is None else out['learnable'].den}")
    if "final" in stages:
        direct = out.get("direct") or direct_search(f, kernel_size, max_evals=evals, log="auto",
                                                    replay_only=True)
        if direct.stopped == "not stored" or direct.best is None:   # a search still running
            out["final"] = None
            log(f"{task} {kernel_size}x{kernel_size} final: DIRECT-L has {len(direct.evaluations)} "
                f"of {evals} evaluations; the final check waits for its density")
        else:
            dens = final_densities(kernel_size, direct)
            out["final"] = {arm: [] for arm in dens}
            # seed by seed, so a check cut short still holds whole paired seeds
            for seed in FINAL_SEEDS:
                for arm, records in final_runs(f, dens, (seed,), epochs=full_epochs(task),
                                               train=train).items():
                    out["final"][arm] += records
            log(f"{task} {kernel_size}x{kernel_size} final: "
                + ", ".join(f"{arm} {len(r)} seeds" for arm, r in out["final"].items()))
    return out
