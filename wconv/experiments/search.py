r"""Search for the density ``den`` of a weighted convolution.

The papers pick the density of a kernel size by a derivative-free global
search: DIRECT-L (NLopt) over the ``den`` values of the kernel, within a box of
bounds, minimising a validation score obtained by training a model briefly
with that density. This module holds that search and its baselines, all
driven by an objective supplied by the caller::

    objective(den: tuple[float, ...]) -> float      # lower is better

* :func:`direct_search` -- NLopt's DIRECT family (``GN_DIRECT_L`` by default,
  every variant in :data:`ALGORITHMS` selectable);
* :func:`grid_search` -- a midpoint grid over the box;
* :func:`random_search` -- seeded uniform sampling of the box.

All three share a budget (``max_evals`` evaluations and/or ``max_time``
seconds), a result (:class:`SearchResult`, which reports evaluations-to-best
and seconds-to-best) and an append-only log.

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

**Objectives that train.** The searches take any callable. For the papers'
use, :func:`classification_objective` and :func:`denoising_objective` build a
:class:`TrainingObjective`: each evaluation trains a model briefly from one
fixed initialisation and batch order (shared by every evaluation) and returns
a validation score. :func:`learnable_density_search` is the gradient-descent
baseline (``learnable_density=True``), :func:`final_runs` trains the densities
found for longer and scores them on the test split, :class:`ProgressPlot` draws
a search while it runs and :func:`search_panel` gives notebook controls.

Example::

    >>> from wconv.experiments import search
    >>> result = search.direct_search(lambda den: (den[0] - 0.8) ** 2, 3, max_evals=30)
    >>> round(result.best.den[0], 2)
    0.8
    >>> result.evals_to_best <= 30
    True
"""
from __future__ import annotations

import datetime
import itertools
import json
import math
import numbers
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from .. import settings
from ..density import PAPER_RANGES

__all__ = [
    "ALGORITHMS", "Evaluation", "SearchResult", "paper_bounds", "check_bounds",
    "direct_search", "grid_search", "random_search", "read_log", "log_path", "LOG_DIR", "summary",
    "ProgressPlot", "SEARCH_BUDGETS", "SCORES", "TrainingObjective", "classification_objective",
    "denoising_objective", "LearnedDensity", "learnable_density_search", "final_runs",
    "final_table", "compare_final", "search_panel",
]

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
@dataclass(frozen=True)
class Evaluation:
    """One evaluation of the objective.

    Attributes:
        index: position in the search's sequence of distinct points, from 1.
        den: the density evaluated, outermost value first.
        value: what the objective returned (lower is better; may be ``nan``/``inf``
            for a diverged training, which never counts as best).
        seconds: wall time of the objective call.
        elapsed: search wall time at the end of this evaluation, summed over the
            sessions that built the log (replaying a log costs nothing).
        time: UTC time the evaluation finished (ISO 8601).
        replayed: True when the value came from the log instead of a call.
    """

    index: int
    den: tuple
    value: float
    seconds: float
    elapsed: float
    time: str
    replayed: bool = False


@dataclass
class SearchResult:
    """What a search found and what it cost.

    Attributes:
        evaluations: every distinct point, in the order the search asked for them.
        best: the evaluation with the lowest finite value (the first one on ties);
            None when no evaluation returned a finite value.
        stopped: why the search ended: ``'max_evals'``, ``'max_time'``,
            ``'exhausted'`` (grid done) or ``'converged'`` (NLopt stopped by itself).
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


# --------------------------------------------------------------------------- bounds
def paper_bounds(kernel_size: int, which: int = 0) -> tuple[tuple, tuple]:
    """The papers' range number ``which`` for ``kernel_size``, as ``(lower, upper)``.

    Example::

        >>> paper_bounds(7, 1)
        ((0.15, 0.15, 0.15), (1.0, 1.0, 1.0))
    """
    size = _check_kernel_size(kernel_size)
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
    size = _check_kernel_size(kernel_size)
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


def _check_kernel_size(kernel_size) -> int:
    if (isinstance(kernel_size, bool) or not isinstance(kernel_size, numbers.Integral)
            or kernel_size < 3 or kernel_size % 2 == 0):
        raise ValueError(f"kernel_size must be an odd int >= 3 (den has (k - 1) / 2 values), "
                         f"got {kernel_size!r}")
    return int(kernel_size)


def _check_budget(max_evals, max_time, need_evals: bool = False) -> None:
    if max_evals is not None and (isinstance(max_evals, bool) or not isinstance(max_evals, numbers.Integral)
                                  or max_evals < 1):
        raise ValueError(f"max_evals must be an int >= 1 or None, got {max_evals!r}")
    if max_time is not None and (isinstance(max_time, bool) or not isinstance(max_time, numbers.Real)
                                 or not max_time >= 0):
        raise ValueError(f"max_time must be a number of seconds >= 0 or None, got {max_time!r}")
    if max_evals is None and max_time is None:
        raise ValueError("give a budget: max_evals (evaluations) and/or max_time (seconds); "
                         "both are None")


# --------------------------------------------------------------------------- log
def read_log(path) -> tuple[list[Evaluation], dict | None]:
    """Read a search log: its evaluations (in file order) and its config.

    A last line cut short by a crash is ignored; any other unreadable line
    raises :class:`ValueError`. A missing file reads as ``([], None)``.
    """
    path = Path(path)
    if not path.exists():
        return [], None
    records, config = [], None
    lines = path.read_bytes().split(b"\n")
    # The text after the last newline is a record only if complete; a crash
    # mid-write leaves a partial line there, which is dropped.
    complete, tail = lines[:-1], lines[-1]
    for number, raw in enumerate(complete, 1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
            ev = Evaluation(int(data["index"]), tuple(float(v) for v in data["den"]),
                            float(data["value"]), float(data["seconds"]), float(data["elapsed"]),
                            str(data["time"]))
            line_config = data["config"]
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"search log {path} line {number} is not a valid record ({error}); "
                             f"the file is damaged or is not a wconv search log") from None
        if config is None:
            config = line_config
        elif line_config != config:
            raise ValueError(f"search log {path} mixes configs (line {number} differs from line 1); "
                             "it is not the log of one search")
        records.append(ev)
    if tail.strip():
        try:
            json.loads(tail)
        except ValueError:
            pass  # the truncated record of an interrupted write
        else:
            raise ValueError(f"search log {path} ends with a record without its newline; "
                             "it was not written by wconv.experiments.search")
    return records, config


def _repair_log(path: Path) -> None:
    """Cut a partial last line off the log so that appends start on a fresh line."""
    if not path.exists():
        return
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end != len(data):
        with open(path, "r+b") as f:
            f.truncate(end)
            f.flush()
            os.fsync(f.fileno())


def _append(path: Path, record: dict) -> None:
    line = json.dumps(record, allow_nan=True) + "\n"
    new = not path.exists()
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())
    if new:  # make the file's directory entry durable too
        try:
            fd = os.open(path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def _config_mismatch(logged: dict, current: dict) -> str:
    keys = sorted(set(logged) | set(current))
    return "; ".join(f"{k}: log has {logged.get(k)!r}, this search has {current.get(k)!r}"
                     for k in keys if logged.get(k) != current.get(k))


# --------------------------------------------------------------------------- the runner
class _Stop(Exception):
    """Raised inside the objective wrapper when the budget is spent."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _key(den: Sequence[float]) -> tuple:
    return tuple(float(f"{v:.{_KEY_DIGITS}g}") for v in den)


#: Where ``log="auto"`` puts search logs: the repository's results store.
LOG_DIR = settings.RESULTS_DIR / "search"


def log_path(config: dict, root=None) -> Path:
    """The log file of a search ``config`` under ``root`` (default :data:`LOG_DIR`).

    The name is ``<objective>-<method>-k<kernel_size>[-<budget>]-<key>.jsonl``, ``key`` the
    first 16 hex digits of the sha256 of the canonical JSON of ``config``: the
    same search always finds its log, a different one never does.
    """
    import hashlib
    import re

    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    label = f"{config.get('objective')}-{config.get('method')}-k{config.get('kernel_size')}"
    objective_config = config.get("objective_config")
    if isinstance(objective_config, dict) and "budget" in objective_config:
        label += f"-{objective_config['budget']}"
    label = re.sub(r"[^A-Za-z0-9._+-]+", "_", label)
    return (Path(root) if root is not None else LOG_DIR) / f"{label}-{key}.jsonl"


def _lock(path: Path):
    """Open ``path`` (created if missing) and hold an exclusive lock on it.

    Two searches appending to one log would interleave their records, so a
    second search on a log in use fails at once. Returns the open file, whose
    closing releases the lock; without ``fcntl`` (Windows) nothing is locked.
    """
    handle = open(path, "ab")
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Linux/macOS
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise RuntimeError(f"search log {path} is in use by another running search; wait for "
                           "it to finish (it will have logged its evaluations) or use another "
                           "log") from None
    return handle


class _Run:
    """Wraps the objective: budget, log, replay and cache, in the search's order."""

    def __init__(self, objective, config, max_evals, max_time, log, callback):
        if not callable(objective):
            raise TypeError(f"objective must be a callable den -> float, got {objective!r}")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable or None, got {callback!r}")
        self.objective = objective
        self.config = json.loads(json.dumps(config))  # the form it has once logged
        self.max_evals, self.max_time = max_evals, max_time
        self.callback = callback
        if isinstance(log, str) and log == "auto":
            log = log_path(self.config)
        self.log = None if log is None else Path(log)
        self._lock = None
        if self.log is not None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            self._lock = _lock(self.log)
        self.cache: dict = {}
        offset = 0.0
        if self.log is not None:
            try:
                records, logged = read_log(self.log)
            except ValueError:
                self.close()
                raise
            if logged is not None and logged != self.config:
                self.close()
                raise ValueError(
                    f"search log {self.log} was written by a different search and cannot be "
                    f"resumed by this one ({_config_mismatch(logged, self.config)}); pass another "
                    "log path, or delete the file to start afresh")
            _repair_log(self.log)
            for ev in records:
                self.cache.setdefault(_key(ev.den), ev)
            offset = max((ev.elapsed for ev in records), default=0.0)
            self.logged = len(records)
        else:
            self.logged = 0
        self.offset = offset
        self.start = time.perf_counter()
        self.evaluations: list[Evaluation] = []
        self.seen: dict = {}
        self.calls = 0
        self.worst = None

    def elapsed(self) -> float:
        return self.offset + time.perf_counter() - self.start

    def close(self) -> None:
        """Release the log (another search may then resume it)."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

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
            if self.log is not None:
                _append(self.log, {"index": index, "den": list(den), "value": ev.value,
                                   "seconds": seconds, "elapsed": ev.elapsed, "time": stamp,
                                   "config": self.config})
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
    size = _check_kernel_size(kernel_size)
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
                  callback: Callable[[Evaluation], None] | None = None) -> SearchResult:
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
        log: path of the JSON-lines log, ``"auto"`` for :func:`log_path` of the
            search's config (under ``results/search/``), or None; an existing
            log of the same search is resumed (see the module docs).
        seed: seeds ``nlopt.srand`` for the randomised variants.
        name: the objective's name in the config (default: ``objective.name``
            or its ``__qualname__``). Logs of another objective are refused.
        config: JSON-serialisable settings of the objective (default:
            ``objective.config`` if present); part of the search's identity.
        callback: called with each :class:`Evaluation`, replayed ones included.

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
    with _Run(objective, cfg, max_evals, max_time, log, callback) as run:
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
                callback: Callable[[Evaluation], None] | None = None) -> SearchResult:
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
    with _Run(objective, cfg, max_evals, max_time, log, callback) as run:
        return run.result(_drive(run, itertools.product(*axes)))


def random_search(objective: Callable[[tuple], float], kernel_size: int, bounds=None, *,
                  max_evals: int | None = 50, max_time: float | None = None, log=None,
                  seed: int = 0, name: str | None = None, config: dict | None = None,
                  callback: Callable[[Evaluation], None] | None = None) -> SearchResult:
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

    with _Run(objective, cfg, max_evals, max_time, log, callback) as run:
        return run.result(_drive(run, draws()))


# --------------------------------------------------------------------------- reporting
def summary(results: dict) -> list[dict]:
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


class ProgressPlot:
    r"""A figure of a search that redraws after each evaluation (pass it as ``callback``).

    Left: the objective value of each evaluation and the best so far. Right:
    where the search sampled -- for one ``den`` value, the values against
    ``den`` over the ``landscape`` curve; for two, the points in the plane over
    the landscape's contours (colour = order of evaluation); for more, each
    ``den`` value against the objective.

    Args:
        kernel_size, bounds: as in :func:`direct_search` (fix the axes).
        landscape: optional background (darker = higher): a cheap callable
            ``den -> float`` (sampled on a fine grid), or a :class:`SearchResult`
            whose evaluations are drawn as the known landscape (a finished 2-D
            :func:`grid_search` as one shaded cell per grid point).
        value_label: what the objective measures, with units, for the y axis.
        title: figure title.
        live: show the figure in a notebook and update it in place
            (``IPython.display``); otherwise only draw.
        every: redraw after every ``every`` evaluations (and on :meth:`finish`).
        logy: logarithmic value axis (positive objectives spanning decades).

    Example::

        >>> import matplotlib; matplotlib.use("Agg")
        >>> f = lambda den: (den[0] - 0.8) ** 2
        >>> plot = ProgressPlot(3, landscape=f, live=False)
        >>> r = direct_search(f, 3, max_evals=10, callback=plot)
        >>> len(plot.evaluations)
        10
    """

    def __init__(self, kernel_size: int, bounds=None, *, landscape=None,
                 value_label: str = "objective (lower is better)", title: str | None = None,
                 live: bool = True, every: int = 1, logy: bool = False):
        import matplotlib.pyplot as plt

        self.lower, self.upper = check_bounds(bounds, kernel_size)
        if landscape is not None and not (callable(landscape) or isinstance(landscape, SearchResult)):
            raise TypeError(f"landscape must be a callable den -> float, a SearchResult or None, "
                            f"got {landscape!r}")
        if isinstance(every, bool) or not isinstance(every, numbers.Integral) or every < 1:
            raise ValueError(f"every must be an int >= 1, got {every!r}")
        self.landscape, self.value_label, self.every = landscape, value_label, int(every)
        self.logy = bool(logy)
        self.evaluations: list[Evaluation] = []
        self.fig, (self.ax_values, self.ax_points) = plt.subplots(
            1, 2, figsize=(10, 3.8), layout="constrained")
        if title:
            self.fig.suptitle(title)
        self._background = self._landscape_data()
        self.handle = None
        if live:
            from IPython.display import display
            plt.close(self.fig)  # shown through the display handle only
            self.handle = display(self.fig, display_id=True)
        self.draw()

    def _landscape_data(self):
        d = len(self.lower)
        if self.landscape is None:
            return None
        if isinstance(self.landscape, SearchResult):
            r = self.landscape
            n = r.config.get("points")
            if (d == 2 and r.config.get("method") == "grid" and n
                    and len(r.evaluations) == n * n):
                # a finished midpoint grid: draw each value over its cell
                edges = [[lo + (hi - lo) * i / n for i in range(n + 1)]
                         for lo, hi in zip(self.lower, self.upper)]
                values = [e.value if math.isfinite(e.value) else math.nan for e in r.evaluations]
                rows = [[values[i * n + j] for i in range(n)] for j in range(n)]
                return ("cells", edges[0], edges[1], rows)
            evs = [e for e in r.evaluations if math.isfinite(e.value)]
            return ("points", [e.den for e in evs], [e.value for e in evs])
        if d == 1:
            xs = [self.lower[0] + (self.upper[0] - self.lower[0]) * i / 200 for i in range(201)]
            return ("curve", xs, [float(self.landscape((x,))) for x in xs])
        if d == 2:
            n = 60
            xs = [self.lower[0] + (self.upper[0] - self.lower[0]) * i / (n - 1) for i in range(n)]
            ys = [self.lower[1] + (self.upper[1] - self.lower[1]) * i / (n - 1) for i in range(n)]
            zs = [[float(self.landscape((x, y))) for x in xs] for y in ys]
            return ("grid", xs, ys, zs)
        return None

    def __call__(self, evaluation: Evaluation) -> None:
        self.evaluations.append(evaluation)
        if len(self.evaluations) % self.every == 0:
            self.draw()

    def finish(self, result: SearchResult | None = None) -> None:
        """Final redraw (marks the best point of ``result`` if given)."""
        self.draw(result)

    def draw(self, result: SearchResult | None = None) -> None:
        evs = self.evaluations
        d = len(self.lower)
        ax = self.ax_values
        ax.clear()
        idx = [e.index for e in evs]
        vals = [e.value for e in evs]
        ax.plot(idx, vals, "o", ms=3, color="tab:blue", label="evaluation")
        best = SearchResult(evs, None, "", {}).best_so_far()
        ax.plot(idx, best, "-", color="tab:red", label="best so far")
        ax.set_xlabel("evaluation")
        ax.set_ylabel(self.value_label)
        if self.logy:
            ax.set_yscale("log")
        if evs:
            ax.legend(loc="upper right", fontsize="small")
        ax = self.ax_points
        ax.clear()
        bg = self._background
        colour = {"c": list(range(1, len(evs) + 1)), "cmap": "viridis"} if evs else {}
        if d == 1:
            if bg is not None and bg[0] == "curve":
                ax.plot(bg[1], bg[2], "-", color="0.6", label="landscape")
            elif bg is not None:
                pts = sorted(zip([p[0] for p in bg[1]], bg[2]))
                ax.plot([p[0] for p in pts], [p[1] for p in pts], ".-", color="0.6", label="landscape")
            sc = ax.scatter([e.den[0] for e in evs], vals, s=18, zorder=3, label="sampled", **colour)
            ax.set_xlabel("den[0] (outer tap weight)")
            ax.set_ylabel(self.value_label)
            ax.set_xlim(self.lower[0], self.upper[0])
        elif d == 2:
            if bg is not None and bg[0] == "grid":
                ax.contourf(bg[1], bg[2], bg[3], levels=20, cmap="Greys")
            elif bg is not None and bg[0] == "cells":
                ax.pcolormesh(bg[1], bg[2], bg[3], cmap="Greys", alpha=0.8)
            elif bg is not None and len(bg[1]) >= 3:
                ax.tricontourf([p[0] for p in bg[1]], [p[1] for p in bg[1]], bg[2], levels=20,
                               cmap="Greys")
            sc = ax.scatter([e.den[0] for e in evs], [e.den[1] for e in evs], s=18, zorder=3,
                            **colour)
            ax.set_xlabel("den[0] (outermost tap)")
            ax.set_ylabel("den[1]")
            ax.set_xlim(self.lower[0], self.upper[0])
            ax.set_ylim(self.lower[1], self.upper[1])
        else:
            for j in range(d):
                ax.plot([e.den[j] for e in evs], vals, "o", ms=3, label=f"den[{j}]")
            ax.set_xlabel("den value (tap weight)")
            ax.set_ylabel(self.value_label)
            if evs:
                ax.legend(loc="upper right", fontsize="small")
            sc = None
        if result is not None and result.best is not None:
            b = result.best
            if d == 1:
                ax.plot([b.den[0]], [b.value], "*", ms=14, color="tab:red", zorder=4, label="best")
            elif d == 2:
                ax.plot([b.den[0]], [b.den[1]], "*", ms=14, color="tab:red", zorder=4, label="best")
        ax.set_title(f"{len(evs)} evaluations (colour: order)" if sc is not None else
                     f"{len(evs)} evaluations")
        if self.handle is not None:
            self.handle.update(self.fig)


# --------------------------------------------------------------------------- training objectives
#: The brief training of one search evaluation, per task and run profile. Every
#: evaluation of one objective starts from the same initial weights and sees the
#: same batches; only ``den`` changes. ``score`` is what is minimised.
SEARCH_BUDGETS = {
    "classify": {
        # seconds: a check that everything runs, not a measurement
        "smoke": dict(arch="vgg11", width=0.125, n_per_class=4, val_per_class=2, epochs=1,
                      batch_size=50, lr=0.05, augment=False),
        # about 10 s per evaluation on 2 CPU cores
        "book": dict(arch="vgg11", width=0.25, n_per_class=30, val_per_class=10, epochs=2,
                     batch_size=50, lr=0.05, augment=True),
        "full": dict(arch="vgg11", width=1.0, n_per_class=500, val_per_class=50, epochs=15,
                     batch_size=128, lr=0.1, augment=True),
    },
    "denoise": {
        "smoke": dict(arch="dncnn", model={"depth": 3, "width": 8}, source="auto", n_train=2,
                      n_val=1, val_crop=32, val_sigma=25, patch=24, batch_size=8,
                      patches_per_epoch=16, epochs=1, lr=1e-3, train_sigma=[0.0, 55.0],
                      n_test=2, test_crop=48),
        # about 10 s per evaluation on 2 CPU cores
        "book": dict(arch="dncnn", model={"depth": 5, "width": 16}, source="auto", n_train=20,
                     n_val=4, val_crop=96, val_sigma=25, patch=40, batch_size=16,
                     patches_per_epoch=320, epochs=2, lr=1e-3, train_sigma=[0.0, 55.0],
                     n_test=12, test_crop=192),
        "full": dict(arch="dncnn", model={"depth": 17, "width": 64}, source="auto", n_train=None,
                     n_val=10, val_crop=256, val_sigma=25, patch=50, batch_size=64,
                     patches_per_epoch=64 * 200, epochs=10, lr=1e-3, train_sigma=[0.0, 55.0],
                     n_test=None, test_crop=None),
    },
}

#: Scores each task can minimise.
SCORES = {"classify": ("loss", "error"), "denoise": ("-psnr", "loss")}


class TrainingObjective:
    r"""``den -> validation score`` of a brief training from one fixed start.

    Every call builds the standard model under ``torch.manual_seed(seed)`` (so
    every evaluation starts from the same weights ``W₀``), converts its
    ``k x k`` convolutions to :class:`wconv.WeightedConv2d` with density
    ``den``, trains it with :func:`wconv.experiments.train.fit` on batches whose order
    depends only on ``seed``, and returns the validation score -- the test
    split is never looked at. Build one with :func:`classification_objective`
    or :func:`denoising_objective`.

    Attributes:
        task: ``'classify'`` or ``'denoise'``.
        name, config: the objective's identity in search logs.
        history: the record of every :meth:`train` call of this object.
    """

    def __init__(self, task: str, kernel_size: int, seed: int, budget: str | None, score: str,
                 root=None, device=None, **overrides):
        from .. import settings

        if task not in SEARCH_BUDGETS:
            raise ValueError(f"task must be one of {', '.join(SEARCH_BUDGETS)}; got {task!r}")
        self.kernel_size = _check_kernel_size(kernel_size)
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {seed!r}")
        budget = settings.profile() if budget is None else budget
        if budget not in SEARCH_BUDGETS[task]:
            raise ValueError(f"budget must be one of {', '.join(SEARCH_BUDGETS[task])}; got {budget!r}")
        if score not in SCORES[task]:
            raise ValueError(f"score for {task} must be one of {', '.join(SCORES[task])}; got {score!r}")
        setup = dict(SEARCH_BUDGETS[task][budget])
        unknown = sorted(set(overrides) - set(setup))
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown} for the {task} objective; "
                             f"known: {sorted(setup)}")
        setup.update(overrides)
        self.task, self.seed, self.budget, self.score = task, int(seed), budget, score
        self.setup = setup
        self.root, self.device = root, device
        self.name = f"{task}-{setup['arch']}-{score}"
        self.config = {"task": task, "kernel_size": self.kernel_size, "seed": self.seed,
                       "budget": budget, "score": score, **json.loads(json.dumps(setup))}
        self.history: list[dict] = []
        self._data = None

    def __repr__(self) -> str:
        return (f"TrainingObjective({self.name}, kernel_size={self.kernel_size}, seed={self.seed}, "
                f"budget={self.budget!r})")

    def __call__(self, den) -> float:
        return self.train(den)["score"]

    def with_seed(self, seed: int) -> "TrainingObjective":
        """The same objective with another seed (other ``W₀`` and batch order), sharing the data."""
        other = TrainingObjective(self.task, self.kernel_size, seed, self.budget, self.score,
                                  self.root, self.device, **self.setup)
        other._data = self._data
        return other

    # -- data and models
    def data(self):
        """The task's data, loaded once."""
        if self._data is None:
            self._data = (self._classify_data() if self.task == "classify" else self._denoise_data())
        return self._data

    def _classify_data(self):
        from . import cifar as _data

        s = self.setup
        return _data.cifar100(self.root, s["n_per_class"], s["val_per_class"], seed=0,
                              download=False)

    def _denoise_data(self):
        from . import images as dd

        s = self.setup
        pool = None if s["n_train"] is None else s["n_train"] + s["n_val"]
        p = dd.protocol(s["source"], self.root, n_train=pool, n_test=s["n_test"], seed=0)
        order = torch_randperm(len(p.train), seed=1)
        val_files = sorted((p.train[i] for i in order[:s["n_val"]]), key=lambda f: f.name)
        train_files = sorted((p.train[i] for i in order[s["n_val"]:]), key=lambda f: f.name)
        train = dd.load_images(train_files, p.color)
        val_clean = [dd.centre_crop(im, s["val_crop"]) for im in dd.load_images(val_files, p.color)]
        val_noisy = dd.noisy_images(val_clean, [f.name for f in val_files], s["val_sigma"], seed=0)
        val = [(n[None], dd.to_float(c)[None]) for n, c in zip(val_noisy, val_clean)]
        return {"protocol": p, "train": train, "val": val,
                "info": {"protocol": p.description, "train": [f.name for f in train_files],
                         "val": [f.name for f in val_files]}}

    def data_summary(self, results_dir=None) -> dict:
        """What the objective trains and scores on: ``{'description', 'noisy_val_psnr'}``.

        ``noisy_val_psnr`` (denoising only) is the validation images' own PSNR, the score of
        a network that returns its input. Measured once on the data and kept in the results
        store (task ``search-data``), so that a page without the data can print it.
        """
        from ..metrics import psnr
        from . import results as _results

        def measure():
            d = self.data()
            if self.task == "classify":
                return {"description": f"CIFAR-100: {d.info['train_size']} training, "
                                       f"{d.info['val_size']} validation images", "noisy_val_psnr": None}
            noisy = sum(float(psnr(x.clamp(0, 1), y)) for x, y in d["val"]) / len(d["val"])
            return {"description": d["info"]["protocol"], "noisy_val_psnr": noisy}

        return _results.cached({"task": "search-data", "name": self.name, "objective": self.config},
                               measure, results_dir)

    def build(self, den=None, learnable: bool = False):
        """The model with density ``den`` (None: standard), from the objective's ``W₀``."""
        import torch

        from ..surgery import convert

        s = self.setup
        torch.manual_seed(self.seed)
        if self.task == "classify":
            from .classifiers import build_model
            model = build_model(s["arch"], 100, self.kernel_size, None, s["width"])
        else:
            from .denoisers import build
            model = build(s["arch"], self.data()["protocol"].channels, self.kernel_size, None,
                          **s["model"])
        if den is not None or learnable:
            density = list(den) if den is not None else None
            model = convert(model, density=density, learnable_density=learnable,
                            kernel_sizes=self.kernel_size, inplace=True)
        return model

    # -- training
    def train(self, den=None, learnable: bool = False, epochs: int | None = None,
              test: bool = False, progress: bool = False) -> dict:
        """Train once with density ``den`` and return the record.

        Args:
            den: the density (None: standard convolution, or the start of a
                learnable density: uniform).
            learnable: learn the density by gradient descent, starting from ``den``.
            epochs: override the budget's epochs.
            test: also evaluate on the test split (only for final reports).
            progress: tqdm bar.

        Returns:
            ``{'den', 'score', 'final', 'epochs', 'seconds', 'learned'}`` where
            ``learned`` lists, for each weighted layer, the learned ``den`` of
            each spatial axis (learnable only).
        """
        import time as _time

        from torch import nn

        from . import train as _train

        if den is not None:
            den = tuple(float(v) for v in den)
            if len(den) != (self.kernel_size - 1) // 2:
                raise ValueError(f"den must hold {(self.kernel_size - 1) // 2} values for "
                                 f"kernel_size={self.kernel_size}, got {list(den)}")
        s, d = self.setup, self.data()
        t0 = _time.perf_counter()
        model = self.build(den, learnable)
        device = self.device
        if self.task == "classify":
            from . import cifar as _data
            common = dict(mean=d.mean, std=d.std, device=device)
            train_loader = _data.TensorLoader(d.train, s["batch_size"], shuffle=True,
                                              augment=s["augment"], drop_last=True,
                                              seed=self.seed, **common)
            val_loader = _data.TensorLoader(d.val, 500, **common)
            test_loader = _data.TensorLoader(d.test, 500, **common) if test else None
            out = _train.fit(model, train_loader, val_loader, loss_fn=nn.functional.cross_entropy,
                             metrics=_train.accuracy_metrics(), epochs=epochs or s["epochs"],
                             lr=s["lr"], schedule="cosine", seed=self.seed,
                             test_loader=test_loader, device=device, progress=progress,
                             desc=f"den={None if den is None else [round(v, 3) for v in den]}")
            final = out["final"]
            score = final["val_loss"] if self.score == "loss" else 1 - final["val_top1"] / 100
        else:
            from ..metrics import psnr
            from . import images as dd

            patches = dd.RandomPatches(list(d["train"]), s["patch"], s["patches_per_epoch"],
                                       sigma=tuple(s["train_sigma"]), seed=self.seed)
            loader = dd.PatchLoader(patches, s["batch_size"], device=device, drop_last=True)
            out = _train.fit(model, loader, d["val"], loss_fn=nn.functional.mse_loss,
                             metrics={"psnr": lambda o, t: psnr(o.clamp(0, 1), t)},
                             epochs=epochs or s["epochs"], optimizer="adam", lr=s["lr"],
                             weight_decay=0.0, schedule="cosine", seed=self.seed, device=device,
                             progress=progress)
            final = dict(out["final"])
            if test:
                final.update(self._denoise_test(model))
            score = -final["val_psnr"] if self.score == "-psnr" else final["val_loss"]
        learned = None
        if learnable:
            learned = [[[float(v) for v in axis.detach().cpu()] for axis in m.den()]
                       for m in model.modules() if getattr(m, "learnable_density", False)]
        record = {"den": None if den is None else list(den), "learnable": learnable,
                  "score": float(score), "final": final, "epochs": out["epochs"],
                  "seconds": _time.perf_counter() - t0, "learned": learned}
        self.history.append(record)
        return record

    def _denoise_test(self, model) -> dict:
        from . import images as dd
        from .denoisers import evaluate

        p, s = self.data()["protocol"], self.setup
        out = {}
        for name, files in p.test.items():
            clean_u8 = [dd.centre_crop(im, s["test_crop"]) for im in dd.load_images(files, p.color)]
            noisy = dd.noisy_images(clean_u8, [f.name for f in files], s["val_sigma"], seed=0)
            scores = evaluate(model.cpu(), noisy, [dd.to_float(c) for c in clean_u8])
            out[f"test_{name}_psnr"] = scores["mean_psnr"]
            out[f"test_{name}_ssim"] = scores["mean_ssim"]
        return out


def torch_randperm(n: int, seed: int) -> list[int]:
    """A seeded permutation of ``range(n)`` (torch's generator, as the data modules use)."""
    import torch

    return torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()


def classification_objective(kernel_size: int = 3, *, seed: int = 0, budget: str | None = None,
                             score: str = "loss", root=None, device=None,
                             **overrides) -> TrainingObjective:
    r"""Objective: validation loss (or ``1 - accuracy``) of a brief CIFAR-100 training.

    Reduced, class-balanced CIFAR-100 (:func:`wconv.experiments.cifar.cifar100`, the
    validation split carved from the training set), a VGG-11 of the budget's
    width, SGD with a cosine schedule; :data:`SEARCH_BUDGETS` ``['classify']``
    gives the settings of each profile, and ``overrides`` change any of them.

    Args:
        kernel_size: 3, 5 or 7.
        seed: initial weights and batch order, shared by every evaluation.
        budget: ``smoke``, ``book`` or ``full`` (default the active profile).
        score: ``'loss'`` (validation cross-entropy) or ``'error'`` (``1 - top-1``).

    Example::

        >>> f = classification_objective(3, budget="smoke")     # doctest: +SKIP
        >>> direct_search(f, 3, max_evals=10, log="auto")        # doctest: +SKIP
    """
    return TrainingObjective("classify", kernel_size, seed, budget, score, root, device, **overrides)


def denoising_objective(kernel_size: int = 3, *, seed: int = 0, budget: str | None = None,
                        score: str = "-psnr", root=None, device=None,
                        **overrides) -> TrainingObjective:
    r"""Objective: ``-PSNR`` (dB) on held-out images after a brief blind-denoising training.

    The data protocol of :func:`wconv.experiments.images.protocol` (the reduced
    DIV2K protocol when DIV2K is on disk, else the colour sets): a seeded
    subset of training images, ``n_val`` of them held out and centre-cropped
    for validation with fixed noise ``val_sigma``; a DnCNN trained with Adam on
    random patches with blind noise ``train_sigma``. ``train(..., test=True)``
    also scores ``n_test`` images of each test set (centre crop ``test_crop``)
    at noise ``val_sigma``. Settings per profile in
    :data:`SEARCH_BUDGETS` ``['denoise']``; ``overrides`` change any of them.

    Args:
        kernel_size: 3, 5 or 7.
        seed: initial weights, patches and noise, shared by every evaluation.
        budget: ``smoke``, ``book`` or ``full`` (default the active profile).
        score: ``'-psnr'`` (minus the mean validation PSNR, dB) or ``'loss'`` (validation MSE).
    """
    return TrainingObjective("denoise", kernel_size, seed, budget, score, root, device, **overrides)


@dataclass
class LearnedDensity:
    """The learnable-density baseline (:func:`learnable_density_search`).

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


def learnable_density_search(objective: TrainingObjective, bounds=None, init=None, *,
                             evaluate: bool = True, store: bool = True,
                             results_dir=None) -> LearnedDensity:
    r"""Baseline: learn ``den`` by gradient descent instead of searching for it.

    Trains the objective's model once with ``learnable_density=True`` (every
    weighted layer learns its own ``den``, from ``init``; same ``W₀``, batches
    and epochs as a search evaluation), then, with ``evaluate``, trains once
    more with the geometric mean of the learned densities as a fixed density,
    so that its score compares with the densities a search finds.

    Args:
        objective: a :class:`TrainingObjective`.
        bounds: as in :func:`direct_search`; ``init`` defaults to the box's centre,
            and the mean learned density is clipped into the box.
        init: starting ``den``.
        evaluate: spend the second training.
        store: keep the result in the results store (:mod:`wconv.experiments.results`, task
            ``search-learnable``) and load it from there when present.
        results_dir: the results store (default the repository's ``results/``).
    """
    import time as _time

    if not isinstance(objective, TrainingObjective):
        raise TypeError("objective must be a TrainingObjective (classification_objective or "
                        f"denoising_objective), got {type(objective).__name__}")
    lower, upper = check_bounds(bounds, objective.kernel_size)
    if init is None:
        init = tuple((lo + hi) / 2 for lo, hi in zip(lower, upper))
    init = tuple(float(v) for v in init)
    config = {"task": "search-learnable",
              "name": f"{objective.name}-k{objective.kernel_size}",
              "objective": objective.config, "bounds": [list(lower), list(upper)],
              "init": list(init), "evaluate": bool(evaluate)}
    if store:
        from . import results as _results
        stored = _results.load(config, results_dir)
        if stored is not None:
            return LearnedDensity(tuple(stored["init"]), stored["layers"], tuple(stored["den"]),
                                  stored["value_learnable"], stored["value"], stored["seconds"],
                                  stored["evaluations"])
    t0 = _time.perf_counter()
    record = objective.train(init, learnable=True)
    layers = record["learned"]
    axes = [axis for layer in layers for axis in layer]
    mean = tuple(math.exp(sum(math.log(axis[j]) for axis in axes) / len(axes))
                 for j in range(len(lower)))
    den = tuple(min(max(v, lo), hi) for v, lo, hi in zip(mean, lower, upper))
    value = objective(den) if evaluate else None
    result = LearnedDensity(tuple(init), layers, den, record["score"], value,
                            _time.perf_counter() - t0, 2 if evaluate else 1)
    if store:
        _results.save(config, {"init": list(result.init), "layers": result.layers,
                               "den": list(result.den), "value_learnable": result.value_learnable,
                               "value": result.value, "seconds": result.seconds,
                               "evaluations": result.evaluations}, results_dir)
    return result


# --------------------------------------------------------------------------- final comparison
def final_runs(objective: TrainingObjective, densities: dict, seeds=(0, 1, 2),
               epochs: int | None = None, results_dir=None, progress: bool = False) -> dict:
    r"""Train each density with each seed for longer, and score it on the test split.

    The trainings use the objective's data and model, ``epochs`` epochs
    (default three times the search's), and ``seed`` for ``W₀`` and the batch
    order, so the densities of one seed start from the same weights and see
    the same data. Each run is stored in the results store
    (:mod:`wconv.experiments.results`, task ``search-final``) and loaded from it when
    present, so a page that shows them does not train again.

    Args:
        objective: a :class:`TrainingObjective` (its seed is replaced by each of ``seeds``).
        densities: ``{label: den or None}`` (None: standard convolution).
        seeds: the seeds.
        epochs: training epochs.
        results_dir: the results store (default the repository's ``results/``).

    Returns:
        ``{label: [record per seed]}``; a record holds ``config``, ``final``
        (validation and ``test_*`` numbers), ``epochs`` and ``seconds``.
    """
    from . import results as _results

    if not isinstance(objective, TrainingObjective):
        raise TypeError(f"objective must be a TrainingObjective, got {type(objective).__name__}")
    epochs = epochs or 3 * objective.setup["epochs"]
    out = {}
    for label, den in densities.items():
        den = None if den is None else [float(v) for v in den]
        out[label] = []
        for seed in seeds:
            run = objective.with_seed(seed)
            config = {"task": "search-final", "name": f"{run.name}-k{run.kernel_size}-{label}-s{seed}",
                      "objective": run.config, "den": den, "epochs": epochs}
            record = _results.load(config, results_dir)
            if record is None:
                r = run.train(den, epochs=epochs, test=True, progress=progress)
                record = {"final": r["final"], "epochs": r["epochs"], "seconds": r["seconds"],
                          "score": r["score"]}
                _results.save(config, record, results_dir)
                record = dict(record, config=config)
            out[label].append(record)
    return out


def final_table(runs: dict) -> list[dict]:
    """Mean ± std over seeds of every test metric of :func:`final_runs`, one row per density."""
    rows = []
    for label, records in runs.items():
        keys = sorted(k for k in records[0]["final"] if k.startswith("test_"))
        den = records[0]["config"]["den"]
        row = {"density": label, "den": None if den is None else [round(v, 4) for v in den],
               "runs": len(records)}
        for k in keys:
            values = [r["final"][k] for r in records]
            mean = sum(values) / len(values)
            std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0
            row[k] = f"{mean:.2f} ± {std:.2f}"
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- interactive panel
def search_panel(max_evals: int = 10):
    """Controls to run a new search in a live notebook (ipywidgets).

    Task, kernel size, paper range, search method and evaluation budget, and a
    Run button; the search runs in the notebook's kernel with a live
    :class:`ProgressPlot` and its log under ``results/search/`` (so a search
    already run is replayed, and an interrupted one resumes). Training uses
    the active run profile's :data:`SEARCH_BUDGETS`.
    """
    import ipywidgets as w

    task = w.Dropdown(options=[("denoising (DnCNN, -PSNR)", "denoise"),
                               ("classification (VGG-11, val. loss)", "classify")],
                      description="task")
    size = w.Dropdown(options=[3, 5, 7], value=3, description="kernel")
    which = w.Dropdown(description="range")
    method = w.Dropdown(options=["DIRECT-L", "grid", "random"], description="method")
    budget = w.IntSlider(value=max_evals, min=2, max=60, description="evaluations")
    run = w.Button(description="Run", button_style="primary")
    out = w.Output()

    def ranges(*_):
        k = size.value
        which.options = [(f"[{lo[0]:g}, {hi[0]:g}]^{len(lo)}", i)
                         for i, (lo, hi) in enumerate(PAPER_RANGES[k])]
        which.value = 0

    def go(_):
        run.disabled = True
        out.clear_output()
        try:
            with out:
                make = classification_objective if task.value == "classify" else denoising_objective
                f = make(size.value)
                plot = ProgressPlot(size.value, which.value, title=f"{f.name}, {size.value}x{size.value}",
                                    value_label="validation score (lower is better)")
                kw = dict(max_evals=budget.value, log="auto", callback=plot)
                if method.value == "DIRECT-L":
                    r = direct_search(f, size.value, which.value, **kw)
                elif method.value == "grid":
                    r = grid_search(f, size.value, which.value, **kw)
                else:
                    r = random_search(f, size.value, which.value, seed=0, **kw)
                plot.finish(r)
                print(r)
        finally:
            run.disabled = False

    size.observe(ranges, names="value")
    ranges()
    run.on_click(go)
    return w.VBox([w.HBox([task, size, which]), w.HBox([method, budget, run]), out])


def compare_final(runs: dict, a: str, b: str, metric: str) -> dict:
    """Difference of means of ``metric`` between arms ``a`` and ``b`` of :func:`final_runs`.

    Returns ``{'a', 'b', 'metric', 'mean_a', 'mean_b', 'difference', 'n_a', 'n_b', 'p'}``;
    ``p`` is the two-sided Welch t-test p-value (``nan`` with fewer than two runs per arm).
    """
    from scipy import stats

    for arm in (a, b):
        if arm not in runs:
            raise ValueError(f"arm {arm!r} is not in runs; arms: {list(runs)}")
    xa = [r["final"][metric] for r in runs[a]]
    xb = [r["final"][metric] for r in runs[b]]
    p = float(stats.ttest_ind(xa, xb, equal_var=False).pvalue) if min(len(xa), len(xb)) > 1 else math.nan
    ma, mb = sum(xa) / len(xa), sum(xb) / len(xb)
    return {"a": a, "b": b, "metric": metric, "mean_a": ma, "mean_b": mb, "difference": ma - mb,
            "n_a": len(xa), "n_b": len(xb), "p": p}
