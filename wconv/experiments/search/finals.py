r"""Final runs: the densities a search found, trained for longer and scored on the test split.

:func:`final_runs` trains every density with every seed (stored in the results store, task
``search-final``); :func:`final_table` gives mean ± std per density and
:func:`compare_final` the paired difference of two densities, seed by seed
(:func:`wconv.experiments.stats.paired_difference`): every density of one seed starts from
the same weights ``W₀`` and sees the same data, so the runs pair up by seed.

Example::

    >>> runs = final_runs(denoising_objective(5), {"uniform": None, "found": (0.42, 0.53)})  # doctest: +SKIP
    >>> compare_final(runs, "found", "uniform", "test_CBSD68_psnr")["ci_low"]               # doctest: +SKIP
"""
from __future__ import annotations

from ... import settings
from .. import results as _results
from .. import stats
from .objectives import TrainingObjective

__all__ = ["CHECKPOINT_DIR", "final_runs", "final_table", "record_seed", "common_seeds", "compare_final"]

#: Where unfinished final runs keep their checkpoints (git-ignored).
CHECKPOINT_DIR = settings.RUNS_DIR / "search-final"


def final_runs(objective: TrainingObjective, densities: dict, seeds=(0, 1, 2),
               epochs: int | None = None, results_dir=None, progress: bool = False,
               test: bool = True, train: bool = True, checkpoint_dir=None) -> dict:
    r"""Train each density with each seed for longer, and score it on the test split.

    The trainings use the objective's data and model, ``epochs`` epochs
    (default three times the search's), and ``seed`` for ``W₀`` and the batch
    order, so the densities of one seed start from the same weights and see
    the same data. Each run is stored in the results store
    (:mod:`wconv.experiments.results`, task ``search-final``) and loaded from it when
    present, so a page that shows them does not train again. A run writes a checkpoint
    after every epoch and an interrupted one resumes from it, so it loses at most an epoch.

    Args:
        objective: a :class:`~wconv.experiments.search.objectives.TrainingObjective` (its
            seed is replaced by each of ``seeds``).
        densities: ``{label: den or None}`` (None: standard convolution).
        seeds: the seeds.
        epochs: training epochs.
        results_dir: the results store (default the repository's ``results/``).
        test: score the test split too; without it (the measurements of
            :mod:`~wconv.experiments.search.measures`, which must not look at it) the runs
            are stored under their own key (``"test": false``).
        train: train what is not stored; ``False`` (a page) leaves it out of the lists.
        checkpoint_dir: where checkpoints of unfinished runs live (default
            :data:`CHECKPOINT_DIR`).

    Returns:
        ``{label: [record per seed]}``; a record holds ``config`` (its ``objective`` names
        the seed), ``final`` (validation and ``test_*`` numbers), ``epochs`` and ``seconds``.
    """
    if not isinstance(objective, TrainingObjective):
        raise TypeError(f"objective must be a TrainingObjective, got {type(objective).__name__}")
    epochs = epochs or 3 * objective.setup["epochs"]
    checkpoint_dir = checkpoint_dir if checkpoint_dir is not None else CHECKPOINT_DIR
    out = {}
    for label, den in densities.items():
        den = None if den is None else [float(v) for v in den]
        out[label] = []
        for seed in seeds:
            run = objective.with_seed(seed)
            config = {"task": "search-final", "name": f"{run.name}-k{run.kernel_size}-{label}-s{seed}",
                      "objective": run.config, "den": den, "epochs": epochs}
            if not test:   # left out otherwise, so the stored final runs keep their keys
                config["test"] = False
            record = _results.load(config, results_dir)
            if record is None and not train:
                continue
            if record is None:
                checkpoint = _results.checkpoint_path(config, checkpoint_dir)
                r = run.train(den, epochs=epochs, test=test, progress=progress,
                              checkpoint=checkpoint, checkpoint_key=_results.config_key(config))
                record = {"final": r["final"], "epochs": r["epochs"], "seconds": r["seconds"],
                          "score": r["score"]}
                if r["resumed_from"]:   # ``seconds`` then counts only the last process
                    record["resumed_from"] = r["resumed_from"]
                _results.save(config, record, results_dir)
                checkpoint.unlink(missing_ok=True)
                record = dict(record, config=config)
            out[label].append(record)
    return out


def final_table(runs: dict) -> list[dict]:
    """Mean ± std over seeds of every test metric of :func:`final_runs`, one row per density.

    Returns:
        Rows ``{'density', 'den', 'runs', 'test_...': 'mean ± std', ...}`` (two decimals;
        ``± 0.00`` for a single run).
    """
    rows = []
    for label, records in runs.items():
        keys = sorted(k for k in records[0]["final"] if k.startswith("test_"))
        den = records[0]["config"]["den"]
        row = {"density": label, "den": None if den is None else [round(v, 4) for v in den],
               "runs": len(records)}
        for k in keys:
            mean, std = stats.mean_std([r["final"][k] for r in records])
            row[k] = f"{mean:.2f} ± {std if len(records) > 1 else 0.0:.2f}"
        rows.append(row)
    return rows


def record_seed(record: dict) -> int:
    """The seed (``W₀`` and batch order) a :func:`final_runs` record was trained with."""
    return record["config"]["objective"]["seed"]


def common_seeds(runs: dict) -> dict:
    """``runs`` of :func:`final_runs` restricted to the seeds every arm has, so they pair up."""
    seeds = set.intersection(*({record_seed(r) for r in records} for records in runs.values()))
    return {arm: [r for r in records if record_seed(r) in seeds] for arm, records in runs.items()}


def _by_seed(runs: dict, arm: str, metric: str) -> dict:
    if arm not in runs:
        raise ValueError(f"arm {arm!r} is not in runs; arms: {list(runs)}")
    return {record_seed(r): r["final"][metric] for r in runs[arm]}


def compare_final(runs: dict, a: str, b: str, metric: str) -> dict:
    """Paired difference ``a - b`` of ``metric`` between two arms of :func:`final_runs`.

    The runs pair up by seed (:func:`final_runs` trains every arm of one seed from the same
    ``W₀`` on the same data), and the difference is taken seed by seed with
    :func:`wconv.experiments.stats.paired_difference` (paired t-test, 95 % interval).

    Returns:
        ``{'a', 'b', 'metric', 'seeds', 'mean_a', 'mean_b', 'difference', 'n', 'std',
        'ci_low', 'ci_high', 'p'}``: ``difference`` is the mean of the differences and
        ``std`` their standard deviation; with one seed, ``std``, the interval and ``p`` are
        NaN (no test).

    Raises:
        ValueError: an arm is missing, or the two arms were not run with the same seeds.
    """
    xa, xb = _by_seed(runs, a, metric), _by_seed(runs, b, metric)
    if sorted(xa) != sorted(xb):
        raise ValueError(f"arms {a!r} and {b!r} were run with different seeds ({sorted(xa)} and "
                         f"{sorted(xb)}); a paired comparison needs the same seeds")
    seeds = sorted(xa)
    d = stats.paired_difference([xa[s] for s in seeds], [xb[s] for s in seeds])
    return {"a": a, "b": b, "metric": metric, "seeds": seeds,
            "mean_a": stats.mean_std(list(xa.values()))[0],
            "mean_b": stats.mean_std(list(xb.values()))[0], "difference": d["mean"], "n": d["n"],
            "std": d["std"], "ci_low": d["ci_low"], "ci_high": d["ci_high"], "p": d["p"]}
