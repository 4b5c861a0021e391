r"""Search for the density ``den`` of a weighted convolution.

The papers pick the density of a kernel size by a derivative-free global
search: DIRECT-L (NLopt) over the ``den`` values of the kernel, within a box of
bounds, minimising a validation score obtained by training a model briefly
with that density. This package holds that search and its baselines, all
driven by an objective supplied by the caller::

    objective(den: tuple[float, ...]) -> float      # lower is better

* :mod:`~wconv.experiments.search.algorithms` -- :func:`direct_search` (NLopt's DIRECT
  family, ``GN_DIRECT_L`` by default, every variant in :data:`ALGORITHMS` selectable),
  :func:`grid_search` (a midpoint grid over the box), :func:`random_search` (seeded
  uniform sampling), their :class:`SearchResult` (evaluations-to-best, seconds-to-best)
  and :func:`summarize`;
* :mod:`~wconv.experiments.search.log` -- the append-only, resumable log of a search;
* :mod:`~wconv.experiments.search.objectives` -- objectives that train
  (:func:`classification_objective`, :func:`denoising_objective`, their :data:`BUDGETS`)
  and the learnable-density baseline :func:`learnable_density_search`;
* :mod:`~wconv.experiments.search.finals` -- the densities found, trained longer and
  judged on the test split (:func:`final_runs`, :func:`final_table`, :func:`compare_final`);
* :mod:`~wconv.experiments.search.measures` -- whether an objective can tell densities
  apart (noise, spread, their ratio), whether it ranks them like full training (fidelity),
  and regret curves of searches at equal budget.

The progress plot and the notebook panel are views: :mod:`wconv.views.search`.

All three searches share a budget (``max_evals`` evaluations and/or ``max_time``
seconds), a result and a log.

**The log.** With ``log=path`` every evaluation is appended to a JSON-lines
file (``index``, ``den``, ``value``, ``seconds``, ``elapsed``, ``time``,
``config``) and flushed to disk before the search moves on. Running the same
search with the same log resumes it: the search restarts from scratch, and
every point it asks for that the log already holds is answered from the log
without calling the objective (DIRECT is deterministic, so it asks for the
same points in the same order). A density already evaluated is never
evaluated twice. A truncated last line (a crash mid-write) is dropped; a log
written by a different search (other bounds, algorithm, kernel size,
objective, seed...) is refused with a :class:`ValueError`.

The bounds default to the papers' ranges, :data:`wconv.density.PAPER_RANGES`
(``bounds=1`` picks the second range of the kernel size, and so on).

Example::

    >>> from wconv.experiments import search
    >>> result = search.direct_search(lambda den: (den[0] - 0.8) ** 2, 3, max_evals=30)
    >>> round(result.best.den[0], 2)
    0.8
    >>> result.evals_to_best <= 30
    True
"""
from . import measures
from .algorithms import (
    ALGORITHMS,
    LearnedDensity,
    SearchResult,
    check_bounds,
    direct_search,
    grid_search,
    paper_bounds,
    random_search,
    summarize,
)
from .finals import compare_final, final_runs, final_table
from .log import LOG_DIR, Evaluation, SearchLog, log_path, read_log
from .objectives import (
    BUDGETS,
    LEGACY_RECIPE,
    SCORES,
    ClassificationObjectiveBudget,
    DenoisingObjectiveBudget,
    TrainingObjective,
    classification_objective,
    denoising_objective,
    learnable_density_search,
)

__all__ = [
    "ALGORITHMS", "Evaluation", "SearchResult", "LearnedDensity", "paper_bounds", "check_bounds",
    "direct_search", "grid_search", "random_search", "summarize", "read_log", "log_path", "LOG_DIR",
    "SearchLog", "BUDGETS", "LEGACY_RECIPE", "SCORES", "ClassificationObjectiveBudget", "DenoisingObjectiveBudget",
    "TrainingObjective", "classification_objective", "denoising_objective",
    "learnable_density_search", "final_runs", "final_table", "compare_final", "measures",
]
