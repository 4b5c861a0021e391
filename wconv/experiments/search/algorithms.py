r"""The searches: NLopt's DIRECT family, a midpoint grid and random sampling, over a box of ``den``.

Every search minimises a callable ``objective(den) -> float`` within a budget of
evaluations and/or seconds, through one runner that logs each evaluation
(:mod:`~wconv.experiments.search.log`), replays the ones a log already holds and never
evaluates a point twice. :class:`SearchResult` reports what was found and what it cost;
:func:`summarize` tabulates results at equal budget.

Example::

    >>> r = direct_search(lambda den: (den[0] - 0.8) ** 2, 3, max_evals=30)
    >>> round(r.best.den[0], 2), r.evals_to_best <= 30
    (0.8, True)
"""
from __future__ import annotations

import datetime
import itertools
import json
import math
import numbers
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from ...density import PAPER_RANGES
from .log import Evaluation, SearchLog, log_path, read_log

__all__ = ["ALGORITHMS", "SearchResult", "LearnedDensity", "paper_bounds", "check_bounds",
           "check_kernel_size", "direct_search", "grid_search", "random_search", "summarize"]

#: NLopt's DIRECT variants (the first is the papers' choice and the default).
ALGORITHMS = (
    "GN_DIRECT_L", "GN_DIRECT", "GN_DIRECT_L_RAND", "GN_DIRECT_NOSCAL", "GN_DIRECT_L_NOSCAL",
    "GN_DIRECT_L_RAND_NOSCAL", "GN_ORIG_DIRECT", "GN_ORIG_DIRECT_L",
)

#: Variants that draw random numbers (seeded through ``nlopt.srand``).
_RANDOMISED = ("GN_DIRECT_L_RAND", "GN_DIRECT_L_RAND_NOSCAL")

#: Digits kept when comparing densities: points equal to this precision are one point.
_KEY_DIGITS = 12


# --------------------------------------------------------------------------- results
@dataclass
class SearchResult:
    """What a search found and what it cost.

    Attributes:
        evaluations: every distinct point, in the order the search asked for them.
        best: the evaluation with the lowest finite value (the first one on ties);
            None when no evaluation returned a finite value.
        stopped: why the search ended: ``'max_evals'``, ``'max_time'``,
            ``'exhausted'`` (grid done), ``'converged'`` (NLopt stopped by itself) or
            ``'not stored'`` (``replay_only`` reached the end of the log).
        config: the search's configuration, as written to the log.
        log: the log path, or None.
        calls: objective calls made by this run (replayed points excluded).
        stopped_after: search wall time when it stopped (summed over sessions); a time
            budget is checked before each evaluation, so this, not :attr:`seconds`, is
            what reaches ``max_time``.
    """

    evaluations: list
    best: Evaluation | None
    stopped: str
    config: dict
    log: Path | None = None
    calls: int = 0
    stopped_after: float = 0.0

    @property
    def evals_to_best(self) -> int | None:
        """Evaluations spent until the best value was first reached (1-based)."""
        return None if self.best is None else self.best.index

    @property
    def seconds_to_best(self) -> float | None:
        """Search wall time until the best value was first reached."""
        return None if self.best is None else self.best.elapsed

    @property
    def seconds(self) -> float:
        """Search wall time of all evaluations (summed over sessions)."""
        return max((e.elapsed for e in self.evaluations), default=0.0)

    def values(self) -> list[float]:
        """The objective value of each evaluation, in order."""
        return [e.value for e in self.evaluations]

    def best_so_far(self) -> list[float]:
        """Running minimum of the finite values, one per evaluation (``nan`` before the first)."""
        out, best = [], math.nan
        for e in self.evaluations:
            if math.isfinite(e.value) and not (e.value >= best):
                best = e.value
            out.append(best)
        return out

    def __repr__(self) -> str:
        best = "none" if self.best is None else (
            f"den={[round(v, 4) for v in self.best.den]} value={self.best.value:.6g} "
            f"at evaluation {self.best.index} ({self.best.elapsed:.1f} s)")
        return (f"SearchResult({self.config.get('method')}: {len(self.evaluations)} evaluations, "
                f"stopped by {self.stopped}; best {best})")


@dataclass
class LearnedDensity:
    """The result of the learnable-density baseline
    (:func:`~wconv.experiments.search.objectives.learnable_density_search`).

    Attributes:
        init: the density training started from.
        layers: the learned ``den`` of each weighted layer (one per spatial axis),
            in model order.
        den: their geometric mean per position (over layers and axes), clipped into the bounds -- one
            density for all layers, comparable with what a search finds.
        value_learnable: the objective's score of the model trained with
            learnable densities (its own per-layer densities).
        value: the objective at ``den`` (a fixed-density training like a
            search evaluation), or None if not evaluated.
        seconds: wall time of both trainings.
        evaluations: trainings spent (1 or 2).
    """

    init: tuple
    layers: list
    den: tuple
    value_learnable: float
    value: float | None
    seconds: float
    evaluations: int


# --------------------------------------------------------------------------- bounds
def paper_bounds(kernel_size: int, which: int = 0) -> tuple[tuple, tuple]:
    """The papers' range number ``which`` for ``kernel_size``, as ``(lower, upper)``.

    Example::

        >>> paper_bounds(7, 1)
        ((0.15, 0.15, 0.15), (1.0, 1.0, 1.0))
    """
    size = check_kernel_size(kernel_size)
    if size not in PAPER_RANGES:
        raise ValueError(
            f"the papers give no range for kernel_size={size} (they cover "
            f"{sorted(PAPER_RANGES)}); pass bounds=(lower, upper) with {(size - 1) // 2} values each")
    ranges = PAPER_RANGES[size]
    if isinstance(which, bool) or not isinstance(which, numbers.Integral) or not 0 <= which < len(ranges):
        raise ValueError(
            f"bounds index must be an int in 0..{len(ranges) - 1} for kernel_size={size} "
            f"(the papers' ranges {ranges}), got {which!r}")
    lower, upper = ranges[which]
    return tuple(map(float, lower)), tuple(map(float, upper))


def check_bounds(bounds, kernel_size: int) -> tuple[tuple, tuple]:
    """Validate ``bounds`` for ``kernel_size`` and return ``(lower, upper)`` as float tuples.

    ``bounds`` is None (the papers' first range), an int (the papers' range with
    that index), or a pair ``(lower, upper)`` of sequences with ``(k - 1) / 2``
    numbers each, ``0 < lower < upper``.
    """
    size = check_kernel_size(kernel_size)
    if bounds is None:
        return paper_bounds(size, 0)
    if isinstance(bounds, numbers.Integral) and not isinstance(bounds, bool):
        return paper_bounds(size, bounds)
    n = (size - 1) // 2
    form = f"(lower, upper) with {n} number(s) each, e.g. ({(0.5,) * n}, {(1.5,) * n})"
    if not isinstance(bounds, (list, tuple)) or len(bounds) != 2:
        raise ValueError(f"bounds must be None, a paper range index, or {form}; got {bounds!r}")
    out = []
    for name, side in zip(("lower", "upper"), bounds):
        if isinstance(side, numbers.Real) and not isinstance(side, bool) and n == 1:
            side = (side,)
        if not isinstance(side, (list, tuple)) or not all(
                isinstance(v, numbers.Real) and not isinstance(v, bool) for v in side):
            raise ValueError(f"bounds {name} must be a sequence of numbers; bounds must be {form}, "
                             f"got {bounds!r}")
        if len(side) != n:
            raise ValueError(
                f"bounds {name} has {len(side)} value(s) but kernel_size={size} has "
                f"(kernel_size - 1) / 2 = {n} den value(s); bounds must be {form}, got {bounds!r}")
        if not all(math.isfinite(v) for v in side):
            raise ValueError(f"bounds {name} must be finite, got {bounds!r}")
        out.append(tuple(float(v) for v in side))
    lower, upper = out
    for i, (lo, hi) in enumerate(zip(lower, upper)):
        if lo <= 0:
            raise ValueError(f"bounds lower[{i}] = {lo:g} must be > 0 (den weights must stay "
                             f"positive); got bounds {bounds!r}")
        if lo >= hi:
            raise ValueError(f"bounds lower[{i}] = {lo:g} must be < upper[{i}] = {hi:g}; "
                             f"got bounds {bounds!r}")
    return lower, upper


def check_kernel_size(kernel_size) -> int:
    """``kernel_size`` as an int, if it is odd and at least 3 (``den`` has ``(k - 1) / 2`` values)."""
    if (isinstance(kernel_size, bool) or not isinstance(kernel_size, numbers.Integral)
            or kernel_size < 3 or kernel_size % 2 == 0):
        raise ValueError(f"kernel_size must be an odd int >= 3 (den has (k - 1) / 2 values), "
                         f"got {kernel_size!r}")
    return int(kernel_size)


def _check_budget(max_evals, max_time) -> None:
    if max_evals is not None and (isinstance(max_evals, bool) or not isinstance(max_evals, numbers.Integral)
                                  or max_evals < 1):
        raise ValueError(f"max_evals must be an int >= 1 or None, got {max_evals!r}")
    if max_time is not None and (isinstance(max_time, bool) or not isinstance(max_time, numbers.Real)
                                 or not max_time >= 0):
        raise ValueError(f"max_time must be a number of seconds >= 0 or None, got {max_time!r}")
    if max_evals is None and max_time is None:
        raise ValueError("give a budget: max_evals (evaluations) and/or max_time (seconds); "
                         "both are None")


# --------------------------------------------------------------------------- the runner
class _Stop(Exception):
    """Raised inside the objective wrapper when the budget is spent."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _key(den: Sequence[float]) -> tuple:
    return tuple(float(f"{v:.{_KEY_DIGITS}g}") for v in den)


class _Run:
    """Wraps the objective: budget, log, replay and cache, in the search's order."""

    def __init__(self, objective, config, max_evals, max_time, log, callback, replay_only=False):
        if not callable(objective):
            raise TypeError(f"objective must be a callable den -> float, got {objective!r}")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable or None, got {callback!r}")
        self.objective = objective
        self.replay_only = bool(replay_only)
        self.config = json.loads(json.dumps(config))  # the form it has once logged
        self.max_evals, self.max_time = max_evals, max_time
        self.callback = callback
        if isinstance(log, str) and log == "auto":
            log = log_path(self.config)
        self.log = None if log is None else Path(log)
        if self.replay_only:   # read, never lock or create: the search may be running elsewhere
            self._log = None
            records = read_log(self.log)[0] if self.log is not None and self.log.exists() else []
        else:
            self._log = None if self.log is None else SearchLog(self.log, self.config)
            records = [] if self._log is None else self._log.records
        self.cache: dict = {}
        for ev in records:
            self.cache.setdefault(_key(ev.den), ev)
        self.logged = len(records)
        self.offset = max((ev.elapsed for ev in records), default=0.0)
        self.start = time.perf_counter()
        self.evaluations: list[Evaluation] = []
        self.seen: dict = {}
        self.calls = 0
        self.worst = None

    def elapsed(self) -> float:
        return self.offset + time.perf_counter() - self.start

    def close(self) -> None:
        """Release the log (another search may then resume it)."""
        if self._log is not None:
            self._log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __call__(self, den) -> float:
        den = tuple(float(v) for v in den)
        key = _key(den)
        if key in self.seen:  # the search asked again for a point of this run
            return self._for_search(self.seen[key].value)
        if self.max_evals is not None and len(self.evaluations) >= self.max_evals:
            raise _Stop("max_evals")
        index = len(self.evaluations) + 1
        hit = self.cache.get(key)
        if hit is not None:
            ev = replace(hit, index=index, replayed=True)
        else:
            if self.replay_only:   # a page that reads a search: stop where its log ends
                raise _Stop("not stored")
            if self.max_time is not None and self.elapsed() >= self.max_time:
                raise _Stop("max_time")
            t0 = time.perf_counter()
            value = self.objective(den)
            seconds = time.perf_counter() - t0
            self.calls += 1
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                try:  # 0-d tensors and numpy scalars
                    value = float(value)
                except (TypeError, ValueError):
                    raise TypeError(f"objective must return a real number, got {value!r} "
                                    f"for den={list(den)}") from None
            stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            ev = Evaluation(index, den, float(value), seconds, self.elapsed(), stamp)
            if self._log is not None:
                self._log.append(ev)
            self.cache[key] = ev
        self.seen[key] = ev
        self.evaluations.append(ev)
        value = self._for_search(ev.value)
        if math.isfinite(ev.value) and (self.worst is None or ev.value > self.worst):
            self.worst = ev.value
        if self.callback is not None:
            self.callback(ev)
        return value

    def _for_search(self, value: float) -> float:
        """What the optimiser sees: a non-finite value becomes the worst finite one so far."""
        if math.isfinite(value):
            return value
        return self.worst if self.worst is not None else 1e300

    def result(self, stopped: str) -> SearchResult:
        best = None
        for ev in self.evaluations:
            if math.isfinite(ev.value) and (best is None or ev.value < best.value):
                best = ev
        return SearchResult(list(self.evaluations), best, stopped, self.config, self.log, self.calls,
                            self.elapsed())


def _objective_name(objective, name) -> str:
    if name is not None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty str or None, got {name!r}")
        return name
    for attr in ("name", "__qualname__", "__name__"):
        value = getattr(objective, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(objective).__qualname__


def _base_config(method, objective, kernel_size, bounds, name, config) -> tuple[dict, tuple, tuple]:
    size = check_kernel_size(kernel_size)
    lower, upper = check_bounds(bounds, size)
    if config is None:
        config = getattr(objective, "config", None)
    try:
        json.dumps(config, allow_nan=False)
    except (TypeError, ValueError):
        raise TypeError(f"config must be JSON-serialisable (dicts, lists, str, numbers), "
                        f"got {config!r}") from None
    return ({"method": method, "kernel_size": size, "bounds": [list(lower), list(upper)],
             "objective": _objective_name(objective, name), "objective_config": config},
            lower, upper)


def _drive(run: _Run, points: Iterable) -> str:
    try:
        for den in points:
            run(den)
    except _Stop as stop:
        return stop.reason
    return "exhausted"


# --------------------------------------------------------------------------- searches
def direct_search(objective: Callable[[tuple], float], kernel_size: int, bounds=None, *,
                  algorithm: str = "GN_DIRECT_L", max_evals: int | None = 50,
                  max_time: float | None = None, log=None, seed: int = 0,
                  name: str | None = None, config: dict | None = None,
                  callback: Callable[[Evaluation], None] | None = None,
                replay_only: bool = False) -> SearchResult:
    r"""Minimise ``objective(den)`` over a box of ``den`` values with NLopt's DIRECT.

    DIRECT (DIviding RECTangles) splits the box into thirds along its longest
    sides and evaluates the centres, refining the boxes that are "potentially
    optimal" for some Lipschitz constant; DIRECT-L (``GN_DIRECT_L``, the
    papers' choice) leans towards local refinement.

    Args:
        objective: ``den -> float`` to minimise; ``den`` is a tuple of
            ``(kernel_size - 1) / 2`` floats, outermost first.
        kernel_size: odd kernel size ``k``.
        bounds: None (the papers' first range for ``k``), an index into the
            papers' ranges (:data:`wconv.density.PAPER_RANGES`), or
            ``(lower, upper)``, each with ``(k - 1) / 2`` numbers.
        algorithm: one of :data:`ALGORITHMS`.
        max_evals: budget in distinct evaluations (None: no limit).
        max_time: budget in seconds of search wall time, summed over resumed
            sessions (None: no limit); checked before each new evaluation.
        log: path of the JSON-lines log, ``"auto"`` for
            :func:`~wconv.experiments.search.log.log_path` of the search's config (under
            ``results/search/``), or None; an existing log of the same search is resumed
            (see :mod:`wconv.experiments.search`).
        seed: seeds ``nlopt.srand`` for the randomised variants.
        name: the objective's name in the config (default: ``objective.name``
            or its ``__qualname__``). Logs of another objective are refused.
        config: JSON-serialisable settings of the objective (default:
            ``objective.config`` if present); part of the search's identity.
        callback: called with each :class:`Evaluation`, replayed ones included.
        replay_only: never call the objective: replay the log and stop where it ends
            (``stopped == 'not stored'``), for a page that shows a search it must not run.

    Returns:
        :class:`SearchResult`.

    Example::

        >>> r = direct_search(lambda den: sum((d - 0.3) ** 2 for d in den), 5, max_evals=60)
        >>> [round(v, 1) for v in r.best.den]
        [0.3, 0.3]
    """
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}; got {algorithm!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int, got {seed!r}")
    _check_budget(max_evals, max_time)
    cfg, lower, upper = _base_config("direct", objective, kernel_size, bounds, name, config)
    cfg["algorithm"] = algorithm
    if algorithm in _RANDOMISED:
        cfg["seed"] = int(seed)
    try:
        import nlopt
    except ImportError as error:  # pragma: no cover - nlopt is pinned in requirements.txt
        raise ImportError("direct_search needs NLopt: pip install nlopt "
                          "(or pip install 'wconv[search]')") from error
    with _Run(objective, cfg, max_evals, max_time, log, callback, replay_only) as run:
        return _direct(run, nlopt, algorithm, lower, upper, max_evals, seed)


def _direct(run: _Run, nlopt, algorithm, lower, upper, max_evals, seed) -> SearchResult:
    n = len(lower)
    opt = nlopt.opt(getattr(nlopt, algorithm), n)
    opt.set_lower_bounds(list(lower))
    opt.set_upper_bounds(list(upper))
    # The budget is enforced by the wrapper; NLopt's own cap only guards
    # against endless repeats of known points.
    opt.set_maxeval(100 * max_evals + 1000 if max_evals is not None else 1_000_000)
    stop: list[str] = []

    def f(x, grad):
        try:
            return run(x)
        except _Stop as reason:
            stop.append(reason.reason)
            raise nlopt.ForcedStop() from None

    opt.set_min_objective(f)
    if algorithm in _RANDOMISED:
        nlopt.srand(int(seed))
    try:
        opt.optimize([(lo + hi) / 2 for lo, hi in zip(lower, upper)])
    except nlopt.ForcedStop:
        if not stop:
            raise
        return run.result(stop[0])
    return run.result("converged")


def grid_search(objective: Callable[[tuple], float], kernel_size: int, bounds=None, *,
                max_evals: int | None = 50, points: int | None = None,
                max_time: float | None = None, log=None, name: str | None = None,
                config: dict | None = None,
                callback: Callable[[Evaluation], None] | None = None,
                replay_only: bool = False) -> SearchResult:
    r"""Evaluate ``objective`` on a midpoint grid of the box (a baseline).

    The grid has ``points`` values per axis, at the centres of equal cells
    (``lower + (i + 1/2) (upper - lower) / points``), visited in row-major
    order. By default ``points = floor(max_evals ** (1 / d))`` so that the
    grid fits the budget (``d = (kernel_size - 1) / 2``).

    Arguments as in :func:`direct_search`; ``points`` fixes the grid (and is
    part of the search's identity in the log).

    Example::

        >>> r = grid_search(lambda den: (den[0] - 0.8) ** 2, 3, max_evals=10)
        >>> [round(e.den[0], 2) for e in r.evaluations][:3], r.stopped
        ([0.55, 0.65, 0.75], 'exhausted')
    """
    _check_budget(max_evals, max_time)
    cfg, lower, upper = _base_config("grid", objective, kernel_size, bounds, name, config)
    d = len(lower)
    if points is None:
        if max_evals is None:
            raise ValueError("grid_search needs points= (values per axis) when max_evals is None")
        points = max(1, int(math.floor(max_evals ** (1 / d) + 1e-9)))
    elif isinstance(points, bool) or not isinstance(points, numbers.Integral) or points < 1:
        raise ValueError(f"points must be an int >= 1 (grid values per axis), got {points!r}")
    cfg["points"] = int(points)
    axes = [[lo + (i + 0.5) * (hi - lo) / points for i in range(points)]
            for lo, hi in zip(lower, upper)]
    with _Run(objective, cfg, max_evals, max_time, log, callback, replay_only) as run:
        return run.result(_drive(run, itertools.product(*axes)))


def random_search(objective: Callable[[tuple], float], kernel_size: int, bounds=None, *,
                  max_evals: int | None = 50, max_time: float | None = None, log=None,
                  seed: int = 0, name: str | None = None, config: dict | None = None,
                  callback: Callable[[Evaluation], None] | None = None,
                replay_only: bool = False) -> SearchResult:
    r"""Evaluate ``objective`` at points drawn uniformly in the box (a baseline).

    The points come one at a time from ``numpy.random.default_rng(seed)``, so
    the first ``n`` points do not depend on the budget.

    Arguments as in :func:`direct_search`.

    Example::

        >>> r = random_search(lambda den: (den[0] - 0.8) ** 2, 3, max_evals=20, seed=1)
        >>> len(r.evaluations), r.stopped
        (20, 'max_evals')
    """
    import numpy as np

    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int, got {seed!r}")
    _check_budget(max_evals, max_time)
    cfg, lower, upper = _base_config("random", objective, kernel_size, bounds, name, config)
    cfg["seed"] = int(seed)

    def draws() -> Iterator[tuple]:
        rng = np.random.default_rng(int(seed))
        while True:
            yield tuple(float(rng.uniform(lo, hi)) for lo, hi in zip(lower, upper))

    with _Run(objective, cfg, max_evals, max_time, log, callback, replay_only) as run:
        return run.result(_drive(run, draws()))


# --------------------------------------------------------------------------- reporting
def summarize(results: dict) -> list[dict]:
    """One row per named search result, for a comparison table at equal budget.

    Args:
        results: ``{label: SearchResult or LearnedDensity}``.

    Returns:
        Rows with ``method``, ``evaluations``, ``best value``, ``best den``,
        ``evals to best``, ``seconds to best`` and ``seconds`` (all evaluations).
    """
    rows = []
    for label, r in results.items():
        if isinstance(r, LearnedDensity):
            rows.append({
                "method": label, "evaluations": r.evaluations,
                "best value": r.value if r.value is not None else r.value_learnable,
                "best den": tuple(round(v, 4) for v in r.den), "evals to best": r.evaluations,
                "seconds to best": round(r.seconds, 2), "seconds": round(r.seconds, 2)})
            continue
        if not isinstance(r, SearchResult):
            raise TypeError(f"results[{label!r}] must be a SearchResult or LearnedDensity, "
                            f"got {type(r).__name__}")
        rows.append({
            "method": label, "evaluations": len(r.evaluations),
            "best value": None if r.best is None else r.best.value,
            "best den": None if r.best is None else tuple(round(v, 4) for v in r.best.den),
            "evals to best": r.evals_to_best,
            "seconds to best": None if r.best is None else round(r.seconds_to_best, 2),
            "seconds": round(r.seconds, 2)})
    return rows
