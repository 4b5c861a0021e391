"""Chapter 4's grids of classification runs: what is trained, in which order, and how long.

A grid is a named list of runs (:data:`GRIDS`). For a tuned budget each stage's tuning runs
come before its finals, and every final reads its learning rate from the stored tuning runs
(:func:`wconv.experiments.classify.choose_lr`), so :func:`run_plan` resolves each run just
before it trains it. Stored runs are loaded, never retrained; an interrupted run resumes
from its last epoch, so a grid can be killed and restarted at any time.

Example::

    >>> from wconv.experiments import classify_grid
    >>> [p.role for p in classify_grid.plan("chapter4", "book")[:3]]
    ['tuning', 'tuning', 'tuning']
"""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

import torch

from . import results as _results
from .classify import (
    ARCH_LABELS,
    BUDGETS,
    FIXED_ARMS,
    TUNING_SEED,
    Budget,
    MissingTuningError,
    _budget,
    _threads_prefix,
    choose_lr,
    make_config,
    run,
)

__all__ = ["GRIDS", "LARGE_KERNEL", "Planned", "plan", "resolve", "grid", "run_grid", "run_plan",
           "stored_records", "grid_command", "EPOCH_SECONDS", "estimate_minutes", "status",
           "totals", "format_status"]


# --------------------------------------------------------------------------- grids

#: Named grids (``python -m wconv train --grid NAME``); see :func:`plan`.
GRIDS = ("chapter4", "chapter4-tuning")

#: The larger kernel of the tuned ``chapter4`` grid: (architecture, kernel size).
LARGE_KERNEL = ("vgg11", 5)


@dataclass(frozen=True)
class Planned:
    """One run of a grid, before its configuration is known.

    A ``final`` or ``reference`` run of a tuned budget gets its learning rate
    from its tuning runs, which the grid puts before it (see :func:`resolve`).
    """

    stage: str
    arch: str
    density: str
    kernel_size: int
    seed: int
    role: str = "final"
    lr: float | None = None


def _fixed_plan(seeds) -> list[Planned]:
    out = []
    for seed in seeds:  # seed by seed, 3x3 first: a partial grid is still a paired design
        for arch in ("vgg11", "resnet20"):
            for arm in FIXED_ARMS:
                out.append(Planned(f"{ARCH_LABELS[arch]} 3×3", arch, arm, 3, seed))
    for seed in seeds:
        for arm in FIXED_ARMS[:4]:
            out.append(Planned(f"{ARCH_LABELS['vgg11']} 5×5", "vgg11", arm, 5, seed))
    return out


def _tuned_plan(b: Budget, seeds) -> list[Planned]:
    big_arch, big_k = LARGE_KERNEL
    groups = [("resnet20", 3, ("uniform", "paper")), ("resnet20", 3, ("reparam", "learnable")),
              ("vgg11", 3, ("uniform", "paper")), "sweep",
              (big_arch, big_k, ("uniform", "paper", "gaussian", "triangular")), "reference"]
    out = []
    for group in groups:
        if group == "sweep":
            for arm in ("uniform", "paper"):
                out += [Planned("lr sweep, ResNet-20 3×3", "resnet20", arm, 3, TUNING_SEED, "sweep",
                                float(lr)) for lr in b.sweep_lrs or b.lr_grid]
            continue
        if group == "reference":
            out.append(Planned("reference", "resnet20", "uniform", 3, 0, "reference"))
            continue
        arch, k, arms = group
        stage = f"{ARCH_LABELS[arch]} {k}×{k}: {', '.join(arms)}"
        out += [Planned(stage, arch, arm, k, TUNING_SEED, "tuning", float(lr))
                for arm in arms for lr in b.lr_grid]
        out += [Planned(stage, arch, arm, k, seed) for seed in seeds for arm in arms]
    return out


def plan(name: str = "chapter4", budget: str | None = None, seeds=(0, 1, 2)) -> list[Planned]:
    """The runs of a named grid, in the order they are trained.

    ``chapter4`` with a fixed-lr budget (``smoke``, ``quick``): VGG-11 and
    ResNet-20 at 3x3 with the five :data:`FIXED_ARMS`, then VGG-11 at 5x5 with
    ``uniform``, ``paper``, ``gaussian`` and ``triangular``; seed by seed.

    ``chapter4`` with a tuned budget (``book``, ``full``), most important first,
    each stage's tuning runs before its finals, finals seed by seed (so a partial
    grid is still paired):

    1. ResNet-20 3x3 ``uniform`` and ``paper``;
    2. ResNet-20 3x3 ``reparam`` and ``learnable``;
    3. VGG-11-BN 3x3 ``uniform`` and ``paper``;
    4. the lr sweep: ResNet-20 3x3 ``uniform`` and ``paper`` for the full length at
       every lr of the budget's ``sweep_lrs`` (default its whole grid), seed
       :data:`TUNING_SEED` (the run at the chosen lr is the seed-0 final itself);
    5. :data:`LARGE_KERNEL` with ``uniform``, ``paper``, ``gaussian``, ``triangular``;
    6. the reference run (:func:`wconv.experiments.classify.reference_config`).

    ``chapter4-tuning``: only the tuning runs of ``chapter4`` (tuned budgets).
    """
    if name not in GRIDS:
        raise ValueError(f"grid must be one of {', '.join(GRIDS)}; got {name!r}")
    budget_name, b = _budget(budget)
    if not b.tuned:
        if name == "chapter4-tuning":
            raise ValueError(f"budget {budget_name!r} has a fixed lr: it has no tuning runs")
        return _fixed_plan(seeds)
    steps = _tuned_plan(b, seeds)
    return [p for p in steps if p.role == "tuning"] if name == "chapter4-tuning" else steps


def resolve(planned: Planned, budget: str | None = None, results_dir=None) -> dict:
    """The configuration of a planned run (finals read their tuning runs: :func:`choose_lr`).

    A sweep run at the chosen learning rate is the seed-0 final run itself, so
    its configuration is that final's.
    """
    p = planned
    if p.role == "sweep":
        selection = choose_lr(p.arch, p.density, p.kernel_size, budget, results_dir)
        if p.lr == selection["chosen"]:
            return make_config(p.arch, p.density, p.kernel_size, p.seed, budget,
                               lr_selection=selection)
    return make_config(p.arch, p.density, p.kernel_size, p.seed, budget, role=p.role, lr=p.lr,
                       results_dir=results_dir)


def _distinct(steps, budget, results_dir, skip_missing: bool = False):
    """``(index, config)`` of every distinct run of ``steps``, each resolved only when reached
    (so a final sees the tuning runs stored just before it); ``skip_missing`` passes over the
    runs whose tuning runs are not stored instead of raising :class:`MissingTuningError`."""
    seen = set()
    for i, p in enumerate(steps):
        try:
            config = resolve(p, budget, results_dir)
        except MissingTuningError:
            if skip_missing:
                continue
            raise
        key = _results.config_key(config)
        if key not in seen:
            seen.add(key)
            yield i, config


def grid(name: str = "chapter4", budget: str | None = None, seeds=(0, 1, 2),
         results_dir=None) -> list[dict]:
    """The configurations of a named grid (see :func:`plan`), in order, without repeats.

    For a tuned budget the final runs need their stored tuning runs
    (:class:`MissingTuningError` otherwise: train them with ``python -m wconv
    train --grid chapter4-tuning``, or use :func:`run_plan`, which trains a whole
    grid in order).
    """
    return [c for _, c in _distinct(plan(name, budget, seeds), budget, results_dir)]


def run_grid(configs, progress: bool = True, **kwargs) -> list[dict]:
    """:func:`run` every configuration (stored ones are loaded, the rest trained)."""
    results_dir = kwargs.get("results_dir")
    return _results.run_grid(configs, run, lambda c: _results.load(c, results_dir) is not None,
                             progress, **kwargs)


def run_plan(name: str = "chapter4", budget: str | None = None, seeds=(0, 1, 2), *, root=None,
             results_dir=None, checkpoint_dir=None, progress: bool = True, force: bool = False,
             device=None, report=None) -> list[dict]:
    """Train (or load) a whole named grid in its order; safe to kill and restart.

    Every run's configuration is resolved just before it runs, so the finals of
    a stage find the tuning runs the same call has just stored. Stored runs are
    loaded, not retrained; an interrupted run resumes from its last epoch.

    Args:
        report: called as ``report(i, n, config, record, trained)`` after each run.

    Returns:
        The records, in order, one per distinct run.
    """
    steps = plan(name, budget, seeds)
    records = []
    for i, config in _distinct(steps, budget, results_dir):
        record = None if force else _results.load(config, results_dir)
        trained = record is None
        if trained:
            record = run(config, root=root, results_dir=results_dir,
                         checkpoint_dir=checkpoint_dir, progress=progress, force=force,
                         device=device)
        records.append(record)
        if report is not None:
            report(i, len(steps), config, record, trained)
    return records


def stored_records(name: str = "chapter4", budget: str | None = None, seeds=(0, 1, 2),
                   results_dir=None) -> list[dict]:
    """The stored records of a grid (possibly partial), in grid order; trains nothing."""
    records = []
    for _, config in _distinct(plan(name, budget, seeds), budget, results_dir, skip_missing=True):
        record = _results.load(config, results_dir)
        if record is not None:
            records.append(dict(record, config=config))
    return records


def grid_command(name: str = "chapter4", budget: str | None = None, seeds=(0, 1, 2),
                 threads: int | None = None) -> str:
    """The shell command that trains (or loads) a whole named grid (``threads``: see :func:`command`)."""
    budget, _ = _budget(budget)
    return (f"{_threads_prefix(threads)}python -m wconv train --grid {name} --budget {budget} --seeds "
            + " ".join(str(s) for s in seeds))


# --------------------------------------------------------------------------- status and time

#: Seconds per epoch (training on 45,000 images plus validation on 5,000) for batch 128
#: in bfloat16 on the book's 2-core CPU (AVX-512 BF16), when no stored run tells better:
#: ``(arch, kernel size, width) -> seconds``; scaled by the training-set size. From the
#: CPU time of one thread per training step and per evaluation batch (a shared machine's
#: wall times are no measure), halved for 2 threads, which a quiet run confirmed for
#: ResNet-20 3x3 (about 900 img/s).
EPOCH_SECONDS = {("resnet20", 3, 1.0): 50, ("resnet20", 5, 1.0): 100, ("resnet20", 7, 1.0): 156,
                 ("vgg11", 3, 0.25): 12, ("vgg11", 5, 0.25): 23, ("vgg11", 7, 0.25): 39,
                 ("vgg11", 3, 0.5): 37, ("vgg11", 5, 0.5): 78, ("vgg11", 7, 0.5): 131}


def _time_key(c: dict, threads: int) -> tuple:
    return (c["arch"], c["kernel_size"], c["width"], c["batch_size"], c.get("precision", "float32"),
            c["n_per_class"], c["val_per_class"], threads)


def _epoch_times(results_dir) -> dict:
    folder = Path(results_dir) if results_dir is not None else _results.RESULTS_DIR
    times: dict = {}
    for path in sorted((folder / "classify").glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            key = _time_key(record["config"], record.get("environment", {}).get("threads"))
            per_epoch = [e["time_s"] for e in record["epochs"]]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        times.setdefault(key, []).extend(per_epoch)
    return {k: statistics.median(v) for k, v in times.items() if v}


def estimate_minutes(config: dict, epoch_times: dict | None = None) -> float | None:
    """Expected minutes to train ``config`` here, with this process's threads (``None``: no basis).

    From the median epoch time of stored runs of the same architecture, kernel,
    width, batch, precision, data size and thread count (``epoch_times``, from
    the store), else from :data:`EPOCH_SECONDS` (bfloat16, batch 128, 2 threads;
    one thread takes twice as long); plus a tenth of an epoch for loading the
    data and testing.
    """
    c, threads = config, torch.get_num_threads()
    seconds = (epoch_times or {}).get(_time_key(c, threads))
    if seconds is None and c["precision"] == "bfloat16" and c["batch_size"] == 128:
        base = EPOCH_SECONDS.get((c["arch"], c["kernel_size"], c["width"]))
        if base is not None:
            seconds = base * (c["n_per_class"] - c["val_per_class"]) / 450 * 2 / min(threads, 2)
    if seconds is None:
        return None
    return seconds * (c["epochs"] + 0.1) / 60


def status(name: str = "chapter4", budget: str | None = None, seeds=(0, 1, 2),
           results_dir=None) -> list[dict]:
    """One row per planned run: ``stage``, ``name``, ``role``, ``state``, ``minutes``.

    ``state`` is ``stored``, ``to run``, or ``waits for tuning`` (a final whose
    tuning runs are not all stored; its name and time are known, its lr not yet).
    ``minutes`` is the stored run's wall time, or :func:`estimate_minutes`. A
    sweep run that will turn out to be the seed-0 final is listed once
    (``duplicate`` true on the sweep row when the choice is known; while it is
    not, every sweep row counts and the total is an upper bound).
    """
    epoch_times = _epoch_times(results_dir)
    rows, seen = [], set()
    name_b, _ = _budget(budget)
    for p in plan(name, budget, seeds):
        try:
            config, state = resolve(p, budget, results_dir), None
        except MissingTuningError:
            # the same run with a stand-in lr: its name and time do not depend on the lr
            stand_in = {"chosen": BUDGETS[name_b].lr_grid[0]} if p.lr is None else None
            config = make_config(p.arch, p.density, p.kernel_size, p.seed, name_b, role=p.role,
                                 lr=p.lr, lr_selection=stand_in)
            state = "waits for tuning"
        key = _results.config_key(config)
        duplicate = state is None and key in seen
        seen.add(key)
        record = None if state or duplicate else _results.load(config, results_dir)
        if record is not None:
            state, minutes = "stored", record.get("wall_time_s", 0) / 60
        else:
            state, minutes = state or "to run", estimate_minutes(config, epoch_times)
        rows.append({"stage": p.stage, "name": config["name"], "role": p.role,
                     "lr": p.lr if p.role in ("tuning", "sweep") else (
                         None if state == "waits for tuning" else config["lr"]),
                     "state": state, "minutes": minutes, "duplicate": duplicate})
    return rows


def totals(rows) -> dict:
    """Runs and minutes per state of :func:`status` rows (each run once):
    ``{state: {"runs", "minutes", "unknown"}}``, ``unknown`` counting runs without an estimate."""
    out: dict = {}
    for r in rows:
        if r["duplicate"]:
            continue
        total = out.setdefault(r["state"], {"runs": 0, "minutes": 0.0, "unknown": 0})
        total["runs"] += 1
        if r["minutes"] is None:
            total["unknown"] += 1
        else:
            total["minutes"] += r["minutes"]
    return out


def format_status(rows) -> str:
    """A plain-text table of :func:`status` rows with totals per state."""
    lines = [f"{'#':>3}  {'run':44} {'role':9} {'lr':>5}  {'state':17} {'min':>6}"]
    for i, r in enumerate(rows):
        lr = "" if r["lr"] is None else f"{r['lr']:g}"
        minutes = "?" if r["minutes"] is None else f"{r['minutes']:.1f}"
        state = "= seed-0 final" if r["duplicate"] else r["state"]
        lines.append(f"{i + 1:>3}  {r['name'][:44]:44} {r['role']:9} {lr:>5}  {state:17} {minutes:>6}")
    lines.append("")
    for state, t in totals(rows).items():
        what = "took" if state == "stored" else "estimated"
        unknown = f" (+{t['unknown']} without an estimate)" if t["unknown"] else ""
        lines.append(f"{state}: {t['runs']} runs, {what} {t['minutes']:.0f} min "
                     f"({t['minutes'] / 60:.1f} h){unknown}")
    if any(r["role"] == "sweep" and r["state"] == "waits for tuning" for r in rows):
        lines.append("(the sweep run at each arm's chosen lr will be its seed-0 final: "
                     "one sweep row per arm counts twice until the tuning is done)")
    return "\n".join(lines)
