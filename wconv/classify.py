r"""Classification experiments on CIFAR-100: named configurations, tuned learning rates, stored results.

A configuration is architecture x density x kernel size x seed x budget x role.
The budget (:data:`BUDGETS`: ``smoke``, ``quick``, ``book``, ``full``; default
the active :func:`wconv.settings.profile`) fixes the data size, widths, epochs,
optimiser, schedule, label smoothing and arithmetic. :func:`run` loads the
stored result of a configuration from ``results/`` or trains it and stores it;
:func:`command` gives the shell command that reproduces it.

Two kinds of budget:

* **fixed learning rate** (``smoke``, ``quick``): every run uses the budget's
  ``lr``; the ``chapter4`` grid is VGG-11 and ResNet-20 at width 0.25 with five
  arms, and VGG-11 at 5x5 (what the book's first runs stored).
* **tuned learning rate** (``book``, ``full``): every arm picks its own learning
  rate from the budget's ``lr_grid`` on the *validation* split. For each
  (architecture, kernel size, arm), one short ``tuning`` run per grid value
  (``tuning_epochs`` epochs, the same schedule shape compressed, seed
  :data:`TUNING_SEED`) is scored by its final validation top-1; :func:`select_lr`
  takes the best, ties going to the smaller lr. The ``final`` runs (one per seed)
  record the grid, the tuning scores and the choice in their configuration
  (``lr_selection``), so the choice is stored with the results, and no arm runs on
  a recipe tuned for another. ``sweep`` runs train the full length at every grid
  value (ResNet-20 3x3, ``uniform`` and ``paper``, seed 0): do short runs rank the
  values as full runs do, and does the density move the best lr? A ``reference``
  run (:func:`reference_config`) trains one standard ResNet-20 for longer.

Densities (see :func:`wconv.models.named_density`): ``uniform`` (standard
convolution), ``paper``, ``gaussian``, ``triangular``, and two arms that start
from the paper density: ``learnable`` (every weighted layer learns its own
``den`` by gradient descent, ``learnable_density=True``; its ``log(den)`` gets
the same SGD and weight decay as the weights, a mild pull towards uniform) and the control
``reparam``: a *standard* convolution initialised as ``W₀ ⊙ Φ`` (Φ the paper
density) whose kernel gradients are scaled by ``Φ²`` (a per-position learning
rate), built by :func:`wconv.reparam.standard_equivalent`. Chapter 1 predicts
that with SGD (momentum, weight decay) it follows the weighted convolution's
trajectory, up to rounding.

Example::

    >>> cfg = make_config("vgg11", "paper", kernel_size=3, seed=0, budget="smoke")
    >>> command(cfg)
    'python -m wconv train --arch vgg11 --density paper --kernel-size 3 --seed 0 --budget smoke'
"""
from __future__ import annotations

import functools
import json
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from . import data as _data
from . import models as _models
from . import results as _results
from . import settings
from . import train as _train

__all__ = ["Budget", "BUDGETS", "ARMS", "FIXED_ARMS", "ARCHS", "ARCH_LABELS", "ROLES", "GRIDS",
           "TUNING_SEED", "TUNING_METRIC", "CONFIG_FORMAT", "MissingTuningError", "make_config",
           "command", "build", "loss_functions", "run", "reference_config", "select_lr",
           "choose_lr", "Planned", "plan", "resolve", "grid", "run_grid", "run_plan",
           "stored_records", "status", "format_status", "estimate_minutes", "compare_throughput",
           "CHECKPOINT_DIR", "grid_command", "summarize", "paired", "summary_markdown",
           "paired_markdown", "tuning_table", "tuning_markdown", "ranking_agreement",
           "ranking_markdown", "plot_learning_curves", "plot_paired"]

#: Density arms; ``reparam`` and ``learnable`` start from the paper density (see above).
ARMS = ("uniform", "paper", "gaussian", "triangular", "reparam", "learnable")
#: The arms of the fixed-lr ``chapter4`` grid.
FIXED_ARMS = ("uniform", "paper", "gaussian", "triangular", "reparam")
#: Architectures of the experiments (all of :data:`wconv.models.ARCHITECTURES` work).
ARCHS = tuple(_models.ARCHITECTURES)
#: Names for tables: the VGGs of :mod:`wconv.models` have BatchNorm (torchvision's ``vgg11_bn``).
ARCH_LABELS = {"vgg11": "VGG-11-BN", "vgg16": "VGG-16-BN", "resnet20": "ResNet-20",
               "resnet18": "ResNet-18"}
#: What a run is for (see the module docstring).
ROLES = ("final", "tuning", "sweep", "reference")
#: Seed of the tuning runs and of the lr sweep.
TUNING_SEED = 0
#: What a tuning run is scored by (higher is better), read from its ``final`` record.
TUNING_METRIC = "val_top1"
#: Version of the configuration's fields (``config['format']``); 1 had no role,
#: tuning, Nesterov, warm-up, label smoothing or precision fields.
CONFIG_FORMAT = 2
#: Where interrupted runs keep their checkpoints (git-ignored).
CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "runs" / "classify"


@dataclass(frozen=True)
class Budget:
    """How much work one run does.

    Attributes:
        n_per_class: CIFAR-100 training images per class, validation included.
        val_per_class: of those, validation images per class.
        test_per_class: test images per class (``None``: all 100).
        epochs: epochs of a final run.
        width: channel multiplier of the architectures; ``widths`` overrides it
            per architecture (``(("vgg11", 0.5),)``).
        batch_size, momentum, nesterov, weight_decay, optimizer: training.
        lr: the learning rate of every run, or ``None`` when it is tuned from ``lr_grid``.
        schedule, warmup: see :func:`wconv.train.make_scheduler`.
        augment: random crop (padding 4) and horizontal flip.
        label_smoothing: of the training loss (the reported losses are plain cross-entropy).
        precision: ``float32``, ``bfloat16``, or ``auto`` (bfloat16 autocast and
            channels-last where the machine supports it: :func:`wconv.train.default_precision`).
        lr_grid: the learning rates every arm chooses from (empty: fixed ``lr``).
        tuning_epochs: epochs of a tuning run.
        reference_epochs: epochs of the reference run (:func:`reference_config`).
    """

    n_per_class: int
    val_per_class: int
    test_per_class: int | None
    epochs: int
    width: float
    batch_size: int = 128
    lr: float | None = 0.05
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    warmup: float = 0.0
    optimizer: str = "sgd"
    augment: bool = True
    label_smoothing: float = 0.0
    precision: str = "float32"
    lr_grid: tuple = ()
    tuning_epochs: int | None = None
    reference_epochs: int | None = None
    widths: tuple = ()

    @property
    def tuned(self) -> bool:
        """Whether each arm tunes its learning rate (``lr_grid`` is not empty)."""
        return bool(self.lr_grid)

    def width_of(self, arch: str) -> float:
        """The channel multiplier of ``arch``."""
        return dict(self.widths).get(arch, self.width)


#: The recipe of the tuned budgets: Nesterov SGD, one-cycle to 0, label smoothing 0.1. The grid
#: reaches 0.8 because the first tuning runs (ResNet-20 3x3) chose its top value twice: 0.2 of
#: (0.05, 0.1, 0.2) for both arms, then 0.4 for uniform; a choice at the edge is no optimum.
_TUNED = dict(lr=None, nesterov=True, schedule="onecycle", warmup=_train.ONECYCLE_WARMUP,
              label_smoothing=0.1, precision="auto", lr_grid=(0.05, 0.1, 0.2, 0.4, 0.8))

#: Named budgets. ``smoke``, ``book`` and ``full`` follow :data:`wconv.settings.PROFILES`.
BUDGETS = {
    # seconds: a check that everything runs end to end, not a measurement
    "smoke": Budget(n_per_class=6, val_per_class=2, test_per_class=2, epochs=2, width=0.125,
                    batch_size=64),
    # the book's first grid (width 0.25, 50 images per class): ~20 minutes on a 2-core CPU
    "quick": Budget(n_per_class=60, val_per_class=10, test_per_class=None, epochs=8, width=0.25,
                    batch_size=64),
    # the standard models really trained: full-width ResNet-20 (about 15 minutes a run on 2
    # cores), VGG-11-BN at quarter width (4 minutes at 3x3, 7 at 5x5), 450/50 images per
    # class, 18 epochs (15 gave 59.8% for ResNet-20, one seed); the whole chapter4 grid in
    # about 7.5 CPU hours (EPOCH_SECONDS)
    "book": Budget(n_per_class=500, val_per_class=50, test_per_class=None, epochs=18, width=1.0,
                   tuning_epochs=4, reference_epochs=60, widths=(("vgg11", 0.25),), **_TUNED),
    # the papers' scale, full widths, for a GPU
    "full": Budget(n_per_class=500, val_per_class=50, test_per_class=None, epochs=100, width=1.0,
                   tuning_epochs=20, reference_epochs=200, **_TUNED),
}


def _budget(name):
    return settings.budget(name, BUDGETS)


class MissingTuningError(LookupError):
    """A final run's learning rate is asked for before its tuning runs are stored."""

    def __init__(self, message: str, missing: list[dict]):
        super().__init__(message)
        self.missing = missing


def _check_lr(lr, grid) -> float:
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or float(lr) not in grid:
        raise ValueError(f"lr must be one of the budget's lr_grid {list(grid)}, got {lr!r}")
    return float(lr)


def make_config(arch: str = "vgg11", density: str = "paper", kernel_size: int = 3, seed: int = 0,
                budget: str | None = None, *, role: str = "final", lr: float | None = None,
                precision: str | None = None, lr_selection: dict | None = None,
                results_dir=None) -> dict:
    """The full configuration of one run, as stored with its result.

    Args:
        arch: one of :data:`ARCHS`.
        density: one of :data:`ARMS`.
        kernel_size: 3, 5 or 7.
        seed: initial weights, validation split and data order; two runs with the
            same seed and different densities start from the same ``W₀`` and see
            the same batches.
        budget: one of :data:`BUDGETS`; default the active profile.
        role: one of :data:`ROLES`; only ``final`` for a fixed-lr budget.
        lr: the grid value of a ``tuning`` or ``sweep`` run (tuned budgets only).
        precision: override the budget's precision; ``auto`` (the tuned budgets'
            default) becomes this machine's :func:`wconv.train.default_precision`,
            so the configuration, and the key of its result, name the arithmetic used.
        lr_selection: the tuning outcome of a ``final``/``reference`` run of a
            tuned budget; by default :func:`choose_lr` reads it from the stored
            tuning runs in ``results_dir`` (:class:`MissingTuningError` if absent).
        results_dir: the results store (default the repository's ``results/``).
    """
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}; got {arch!r}")
    if density not in ARMS:
        raise ValueError(f"density must be one of {', '.join(ARMS)}; got {density!r}")
    if kernel_size not in _models.KERNEL_SIZES:
        raise ValueError(f"kernel_size must be one of {_models.KERNEL_SIZES}; got {kernel_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    name, b = _budget(budget)
    precision = _train.resolve_precision(b.precision if precision is None else precision)
    epochs = b.epochs
    suffix = ""
    if not b.tuned:
        if role != "final" or lr is not None or lr_selection is not None:
            raise ValueError(f"budget {name!r} has a fixed lr ({b.lr}): no tuning, sweep or "
                             "reference runs and no lr to choose")
        lr = b.lr
    elif role in ("tuning", "sweep"):
        if lr_selection is not None:
            raise ValueError(f"a {role} run has no lr_selection")
        lr = _check_lr(lr, b.lr_grid)
        epochs = b.tuning_epochs if role == "tuning" else b.epochs
        suffix = f"-{role}-lr{lr:g}"
    else:
        if lr is not None:
            raise ValueError(f"the lr of a {role} run of budget {name!r} comes from its tuning runs "
                             f"(choose_lr); give lr only to tuning and sweep runs")
        if lr_selection is None:
            lr_selection = choose_lr(arch, density, kernel_size, name, results_dir, precision)
        lr = _check_lr(lr_selection["chosen"], b.lr_grid)
        if role == "reference":
            epochs, suffix = b.reference_epochs, "-reference"
    layer_density = _models.named_density(
        "paper" if density in ("reparam", "learnable") else density, kernel_size)
    return {"task": "classify", "name": f"{arch}-k{kernel_size}-{density}-s{seed}-{name}{suffix}",
            "arch": arch, "density": density, "density_value": repr(layer_density),
            "kernel_size": kernel_size, "seed": seed, "budget": name, "role": role,
            "n_per_class": b.n_per_class, "val_per_class": b.val_per_class,
            "test_per_class": b.test_per_class, "epochs": epochs, "width": b.width_of(arch),
            "batch_size": b.batch_size, "lr": lr, "momentum": b.momentum, "nesterov": b.nesterov,
            "weight_decay": b.weight_decay, "schedule": b.schedule, "warmup": b.warmup,
            "optimizer": b.optimizer, "augment": b.augment, "label_smoothing": b.label_smoothing,
            "precision": precision, "lr_selection": lr_selection, "dataset": "CIFAR-100",
            "format": CONFIG_FORMAT}


def reference_config(budget: str = "book", results_dir=None) -> dict:
    """The reference run: one standard ResNet-20 (3x3, seed 0) with the budget's longer schedule.

    ``reference_epochs`` (60 for ``book``) instead of ``epochs``, the learning
    rate that ``uniform`` ResNet-20 3x3 chose in tuning. It is the last run of
    the ``chapter4`` grid and is stored like the others.
    """
    return make_config("resnet20", "uniform", 3, 0, budget, role="reference",
                       results_dir=results_dir)


def _threads_prefix(threads) -> str:
    return "" if threads is None else f"OMP_NUM_THREADS={int(threads)} "


def command(config: dict, threads: int | None = None) -> str:
    """The shell command that reproduces ``config`` (run from the repository root).

    CPU results depend on the thread count through the order of floating-point
    sums; give ``threads`` (a stored record's ``environment['threads']``) to pin it.
    The precision is named when the budget leaves it to the machine (``auto``).
    """
    out = (f"{_threads_prefix(threads)}python -m wconv train --arch {config['arch']} "
           f"--density {config['density']} --kernel-size {config['kernel_size']} "
           f"--seed {config['seed']} --budget {config['budget']}")
    role = config.get("role", "final")
    if role in ("tuning", "sweep"):
        out += f" --role {role} --lr {config['lr']:g}"
    elif role == "reference":
        out += " --role reference"
    budget = BUDGETS.get(config["budget"])
    if budget is not None and budget.precision == "auto":
        out += f" --precision {config['precision']}"
    return out


def build(config: dict) -> nn.Module:
    """The model of ``config``, initialised from ``config['seed']``."""
    torch.manual_seed(config["seed"])
    density, arch, k = config["density"], config["arch"], config["kernel_size"]
    if density == "reparam":
        from .reparam import standard_equivalent

        weighted = _models.build_model(arch, 100, k, "paper", config["width"])
        return standard_equivalent(weighted, inplace=True)
    if density == "learnable":
        from .surgery import convert

        model = _models.build_model(arch, 100, k, None, config["width"])
        return convert(model, density=_models.named_density("paper", k), learnable_density=True,
                       kernel_sizes=k, inplace=True)
    return _models.build_model(arch, 100, k, density, config["width"])


def loss_functions(config: dict) -> tuple:
    """``(training loss, reported loss)``: cross-entropy with the config's label smoothing, and plain."""
    smoothing = config.get("label_smoothing", 0.0)
    plain = nn.functional.cross_entropy
    if not smoothing:
        return plain, plain
    return functools.partial(plain, label_smoothing=smoothing), plain


def _learned_den(model: nn.Module) -> list | None:
    layers = [[[float(v) for v in axis.detach().cpu()] for axis in m.den()]
              for m in model.modules() if getattr(m, "learnable_density", False)]
    return layers or None


def run(config: dict, root=None, results_dir=None, checkpoint_dir=None, progress: bool = True,
        force: bool = False, device=None) -> dict:
    """The result of ``config``: loaded from the store, or trained and stored.

    Training resumes from the run's checkpoint (one per epoch, in
    ``checkpoint_dir``) when there is one, so an interrupted run loses at most
    one epoch.

    Args:
        config: from :func:`make_config`.
        root: data root (see :func:`wconv.settings.data_root`).
        results_dir: results store (default the repository's ``results/``).
        checkpoint_dir: where checkpoints of unfinished runs live (default ``runs/classify``).
        progress: tqdm progress bar while training.
        force: train even if a stored result exists (and overwrite it).

    Returns:
        The stored record: ``config``, ``epochs`` (per-epoch metrics), ``final``,
        ``data``, ``wall_time_s``, ``environment``, ``learned_den`` (learnable
        densities: per layer, per axis), ...
    """
    if not force:
        record = _results.load(config, results_dir)
        if record is not None:
            return record
    rank, world = _train.setup_distributed()
    device = torch.device(device) if device is not None else settings.device()
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    t0 = time.perf_counter()
    d = _data.cifar100(root, config["n_per_class"], config["val_per_class"], config["seed"],
                       config["test_per_class"])
    common = dict(mean=d.mean, std=d.std, rank=rank, world_size=world, device=device)
    train_loader = _data.TensorLoader(d.train, config["batch_size"], shuffle=True,
                                      augment=config["augment"], drop_last=True,
                                      seed=config["seed"], **common)
    val_loader = _data.TensorLoader(d.val, 500, **common)
    test_loader = _data.TensorLoader(d.test, 500, **common)
    model = build(config)
    key = _results.config_key(config)
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else CHECKPOINT_DIR
    ckpt = ckpt / f"{config['name']}-{key}.pt"
    loss_fn, eval_loss_fn = loss_functions(config)
    out = _train.fit(model, train_loader, val_loader, loss_fn=loss_fn, eval_loss_fn=eval_loss_fn,
                     metrics=_train.accuracy_metrics(), epochs=config["epochs"],
                     optimizer=config["optimizer"], lr=config["lr"], momentum=config["momentum"],
                     weight_decay=config["weight_decay"], nesterov=config["nesterov"],
                     schedule=config["schedule"], warmup=config["warmup"] or None,
                     seed=config["seed"], test_loader=test_loader, checkpoint=ckpt,
                     checkpoint_key=key, device=device, precision=config["precision"],
                     progress=progress, desc=config["name"])
    record = {"epochs": out["epochs"], "final": out["final"], "data": d.info,
              "seed": config["seed"], "wall_time_s": time.perf_counter() - t0,
              "train_time_s": out["train_time_s"], "images_per_s": out["images_per_s"],
              "resumed_from_epoch": out["resumed_from"], "world_size": world,
              "parameters": sum(p.numel() for p in model.parameters()),
              "command": command(config)}
    learned = _learned_den(model)
    if learned is not None:
        record["learned_den"] = learned
    if _train.is_main_process():
        _results.save(config, record, results_dir)
        ckpt.unlink(missing_ok=True)
    record = dict(record, config=config)
    return record


# --------------------------------------------------------------------------- learning rates

def select_lr(scores) -> float:
    """The learning rate with the highest score; ties go to the smaller learning rate.

    Args:
        scores: ``[(lr, score), ...]`` (higher scores are better).

    Example::

        >>> select_lr([(0.05, 40.0), (0.1, 42.5), (0.2, 42.5)])
        0.1
    """
    scores = [(float(lr), float(score)) for lr, score in scores]
    if not scores:
        raise ValueError("select_lr needs at least one (lr, score) pair")
    return min(scores, key=lambda pair: (-pair[1], pair[0]))[0]


def choose_lr(arch: str, density: str, kernel_size: int, budget: str | None = None,
              results_dir=None, precision: str | None = None) -> dict:
    """The learning rate of an arm, chosen from its stored tuning runs.

    Loads the tuning run of every value of the budget's ``lr_grid`` (seed
    :data:`TUNING_SEED`) and applies :func:`select_lr` to their final
    :data:`TUNING_METRIC`. Deterministic: the same stored runs give the same choice.

    Returns:
        ``{'grid', 'epochs', 'seed', 'metric', 'scores': [[lr, score], ...], 'chosen'}``,
        the ``lr_selection`` a final run records.

    Raises:
        MissingTuningError: some tuning runs are not stored; the message names
            the command that trains them.
    """
    name, b = _budget(budget)
    if not b.tuned:
        raise ValueError(f"budget {name!r} has a fixed lr ({b.lr}); there is nothing to choose")
    scores, missing = [], []
    for lr in b.lr_grid:
        config = make_config(arch, density, kernel_size, TUNING_SEED, name, role="tuning", lr=lr,
                             precision=precision)
        record = _results.load(config, results_dir)
        if record is None:
            missing.append(config)
        else:
            scores.append([float(lr), float(record["final"][TUNING_METRIC])])
    if missing:
        where = "" if results_dir is None else f" --results-dir {results_dir}"
        lines = "\n".join(f"  {command(c)}{where}" for c in missing)
        raise MissingTuningError(
            f"the lr of {arch} {kernel_size}x{kernel_size} {density} (budget {name}) is chosen from "
            f"tuning runs that are not stored in {_results.RESULTS_DIR if results_dir is None else results_dir}: "
            f"lr {', '.join(format(c['lr'], 'g') for c in missing)}. Train them with\n"
            f"  python -m wconv train --grid chapter4-tuning --budget {name}{where}\n"
            f"(or all of chapter 4, tuning first: --grid chapter4), or one by one:\n{lines}",
            missing)
    return {"grid": [float(v) for v in b.lr_grid], "epochs": b.tuning_epochs, "seed": TUNING_SEED,
            "metric": TUNING_METRIC, "scores": scores, "chosen": select_lr(scores)}


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
                                float(lr)) for lr in b.lr_grid]
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
       every lr of the grid, seed :data:`TUNING_SEED` (the run at the chosen lr is
       the seed-0 final itself);
    5. :data:`LARGE_KERNEL` with ``uniform``, ``paper``, ``gaussian``, ``triangular``;
    6. the reference run (:func:`reference_config`).

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


def _unique(configs) -> list[dict]:
    seen, out = set(), []
    for c in configs:
        key = _results.config_key(c)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def grid(name: str = "chapter4", budget: str | None = None, seeds=(0, 1, 2),
         results_dir=None) -> list[dict]:
    """The configurations of a named grid (see :func:`plan`), in order, without repeats.

    For a tuned budget the final runs need their stored tuning runs
    (:class:`MissingTuningError` otherwise: train them with ``python -m wconv
    train --grid chapter4-tuning``, or use :func:`run_plan`, which trains a whole
    grid in order).
    """
    return _unique(resolve(p, budget, results_dir) for p in plan(name, budget, seeds))


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
    records, seen = [], set()
    for i, p in enumerate(steps):
        config = resolve(p, budget, results_dir)
        key = _results.config_key(config)
        if key in seen:
            continue
        seen.add(key)
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
    records, seen = [], set()
    for p in plan(name, budget, seeds):
        try:
            config = resolve(p, budget, results_dir)
        except MissingTuningError:
            continue
        key = _results.config_key(config)
        record = None if key in seen else _results.load(config, results_dir)
        seen.add(key)
        if record is not None:
            records.append(dict(record, config=config))
    return records


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


def format_status(rows) -> str:
    """A plain-text table of :func:`status` rows with totals per state."""
    lines = [f"{'#':>3}  {'run':44} {'role':9} {'lr':>5}  {'state':17} {'min':>6}"]
    totals: dict = {}
    for i, r in enumerate(rows):
        lr = "" if r["lr"] is None else f"{r['lr']:g}"
        minutes = "?" if r["minutes"] is None else f"{r['minutes']:.1f}"
        state = "= seed-0 final" if r["duplicate"] else r["state"]
        lines.append(f"{i + 1:>3}  {r['name'][:44]:44} {r['role']:9} {lr:>5}  {state:17} {minutes:>6}")
        if not r["duplicate"]:
            total = totals.setdefault(r["state"], {"runs": 0, "minutes": 0.0, "unknown": 0})
            total["runs"] += 1
            if r["minutes"] is None:
                total["unknown"] += 1
            else:
                total["minutes"] += r["minutes"]
    lines.append("")
    for state, t in totals.items():
        what = "took" if state == "stored" else "estimated"
        unknown = f" (+{t['unknown']} without an estimate)" if t["unknown"] else ""
        lines.append(f"{state}: {t['runs']} runs, {what} {t['minutes']:.0f} min "
                     f"({t['minutes'] / 60:.1f} h){unknown}")
    if any(r["role"] == "sweep" and r["state"] == "waits for tuning" for r in rows):
        lines.append("(the sweep run at each arm's chosen lr will be its seed-0 final: "
                     "one sweep row per arm counts twice until the tuning is done)")
    return "\n".join(lines)


def compare_throughput(arch: str = "vgg11", kernel_size: int = 3, density: str = "paper",
                       budget: str | None = None, steps: int = 10, rounds: int = 5,
                       device=None) -> dict:
    """Training images/s of the standard and the weighted model, side by side.

    Both models are built as in :func:`build` with the budget's width, batch
    size and precision (``auto``: this machine's); see :func:`wconv.train.throughput`.
    Returns ``{'standard': ips, 'weighted': ips, 'ratio': weighted / standard, ...}``.
    """
    _, b = _budget(budget)
    precision = _train.resolve_precision(b.precision, device)
    width = b.width_of(arch)
    torch.manual_seed(0)
    standard = _models.build_model(arch, 100, kernel_size, None, width)
    weighted = _models.build_model(arch, 100, kernel_size, density, width)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(b.batch_size, 3, 32, 32, generator=g)
    y = torch.randint(0, 100, (b.batch_size,), generator=g)
    r = _train.throughput({"standard": standard, "weighted": weighted}, lambda: (x, y),
                          nn.functional.cross_entropy, steps=steps, rounds=rounds, device=device,
                          precision=precision)
    return {"standard": r["standard"], "weighted": r["weighted"], "ratio": r["ratio/weighted"],
            "arch": arch, "kernel_size": kernel_size, "density": density,
            "batch_size": b.batch_size, "width": width, "precision": precision,
            "threads": torch.get_num_threads()}


# --------------------------------------------------------------------------- analysis

def grid_command(name: str = "chapter4", budget: str | None = None, seeds=(0, 1, 2),
                 threads: int | None = None) -> str:
    """The shell command that trains (or loads) a whole named grid (``threads``: see :func:`command`)."""
    budget, _ = _budget(budget)
    return (f"{_threads_prefix(threads)}python -m wconv train --grid {name} --budget {budget} --seeds "
            + " ".join(str(s) for s in seeds))


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
    ``<split>_<metric>_mean`` / ``_std`` for ``val_top1``, ``test_top1``,
    ``val_top5``, ``test_top5``.
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
            values = [r["final"][m] for r in rs]
            row[f"{m}_mean"] = statistics.fmean(values)
            row[f"{m}_std"] = statistics.stdev(values) if len(values) > 1 else float("nan")
        row["time_s_mean"] = statistics.fmean(r["wall_time_s"] for r in rs)
        rows.append(row)
    return rows


def paired(records, baseline: str = "uniform", metric: str = "test_top1") -> list[dict]:
    """Paired differences ``arm - baseline`` across seeds, with a 95% confidence interval.

    Runs (``final`` only) are paired by seed: the same seed gives both arms the
    same initial weights ``W₀``, data split and batch order. For each (arch,
    kernel size, arm) the row holds ``n`` pairs, the mean and standard deviation
    of the differences (percentage points), and the paired t-test
    (``scipy.stats.ttest_rel``): its two-sided p-value and the 95% interval of
    its ``confidence_interval()``. With all differences equal there is no test
    (``p`` NaN, the interval is the mean).
    """
    from scipy import stats

    finals = _finals(records)
    by = {(_group_key(r), r["config"]["seed"]): r["final"][metric] for r in finals}
    rows = []
    for (arch, k, dens) in dict.fromkeys(_group_key(r) for r in finals):
        if dens == baseline:
            continue
        seeds = sorted(seed for (key, seed) in by
                       if key == (arch, k, dens) and ((arch, k, baseline), seed) in by)
        arm = [by[((arch, k, dens), s)] for s in seeds]
        base = [by[((arch, k, baseline), s)] for s in seeds]
        diffs = [a - b for a, b in zip(arm, base)]
        n = len(diffs)
        row = {"arch": arch, "kernel_size": k, "density": dens, "baseline": baseline,
               "metric": metric, "n": n, "seeds": seeds, "mean": float("nan"),
               "std": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"),
               "p": float("nan")}
        if n >= 1:
            row["mean"] = statistics.fmean(diffs)
        if n >= 2:
            sd = statistics.stdev(diffs)
            row["std"] = sd
            if sd > 0:
                test = stats.ttest_rel(arm, base)
                ci = test.confidence_interval(0.95)
                row.update(ci_low=float(ci.low), ci_high=float(ci.high), p=float(test.pvalue))
            else:
                row.update(ci_low=row["mean"], ci_high=row["mean"])
        rows.append(row)
    return rows


def _label(arch: str) -> str:
    return ARCH_LABELS.get(arch, arch)


def summary_markdown(rows) -> str:
    """A Markdown table of :func:`summarize` rows (accuracies in %, mean ± std)."""
    lines = ["| architecture | kernel | density | lr | runs | val top-1 (%) | test top-1 (%) | test top-5 (%) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lrs = ", ".join(f"{v:g}" for v in r["lr"])
        lines.append(f"| {_label(r['arch'])} | {r['kernel_size']}×{r['kernel_size']} | {r['density']} | "
                     f"{lrs} | {r['n']} | {r['val_top1_mean']:.2f} ± {r['val_top1_std']:.2f} | "
                     f"{r['test_top1_mean']:.2f} ± {r['test_top1_std']:.2f} | "
                     f"{r['test_top5_mean']:.2f} ± {r['test_top5_std']:.2f} |")
    return "\n".join(lines)


def _fmt_p(p: float) -> str:
    return "–" if p != p else f"{p:.3f}"  # NaN: all differences equal, no test possible


def paired_markdown(rows) -> str:
    """A Markdown table of :func:`paired` rows (percentage points)."""
    lines = ["| architecture | kernel | density − " + (rows[0]["baseline"] if rows else "baseline")
             + " | pairs | mean diff (pp) | 95% CI (pp) | p (paired t) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {_label(r['arch'])} | {r['kernel_size']}×{r['kernel_size']} | {r['density']} | "
                     f"{r['n']} | {r['mean']:+.2f} | [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}] | "
                     f"{_fmt_p(r['p'])} |")
    return "\n".join(lines)


def tuning_table(records) -> list[dict]:
    """The learning-rate choice of every arm, from its ``tuning`` records.

    One row per (arch, kernel size, density) with tuning runs, in first-seen
    order: ``grid`` (the tuned values), ``scores`` (final validation top-1 of
    each, in grid order), ``chosen`` (:func:`select_lr`), ``epochs`` (of a tuning
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
        rows.append({"arch": arch, "kernel_size": k, "density": dens, "grid": lrs,
                     "scores": scores, "chosen": select_lr(zip(lrs, scores)),
                     "epochs": by_lr[lrs[0]]["config"]["epochs"], "recorded": recorded})
    return rows


def tuning_markdown(rows) -> str:
    """A Markdown table of :func:`tuning_table` rows."""
    lrs = sorted({lr for r in rows for lr in r["grid"]})
    lines = ["| architecture | kernel | density | " + " | ".join(f"lr {v:g}" for v in lrs)
             + " | chosen |", "|---|---|---|" + "---|" * (len(lrs) + 1)]
    for r in rows:
        score = dict(zip(r["grid"], r["scores"]))
        cells = " | ".join(f"{score[v]:.2f}" if v in score else "–" for v in lrs)
        lines.append(f"| {_label(r['arch'])} | {r['kernel_size']}×{r['kernel_size']} | {r['density']} | "
                     f"{cells} | {r['chosen']:g} |")
    return "\n".join(lines)


def ranking_agreement(records, metric: str = TUNING_METRIC) -> list[dict]:
    """Do the short tuning runs rank the learning rates as full-length runs do?

    For every arm with full-length runs at two or more learning rates at seed
    :data:`TUNING_SEED` (``sweep`` runs, plus the seed-0 ``final`` at the chosen
    lr), one row: ``grid``; ``short`` and ``full``, the tuning and full-length
    scores (``metric``, validation top-1) per lr; ``full_test``, test top-1 of the
    full runs; ``best_short`` and ``best_full`` (:func:`select_lr`); ``agree``
    (same best lr); and ``kendall_tau`` between the two rankings
    (``scipy.stats.kendalltau``, NaN with fewer than 2 values or a constant side).
    """
    import math
    import warnings

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
                     "best_short": select_lr(zip(lrs, s)), "best_full": select_lr(zip(lrs, f)),
                     "kendall_tau": float(tau) if tau is not None and math.isfinite(tau) else float("nan")})
        rows[-1]["agree"] = rows[-1]["best_short"] == rows[-1]["best_full"]
    return rows


def ranking_markdown(rows) -> str:
    """A Markdown table of :func:`ranking_agreement` rows (short / full val top-1, full test top-1)."""
    lines = ["| architecture | kernel | density | lr | short val top-1 (%) | full val top-1 (%) "
             "| full test top-1 (%) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        for i, lr in enumerate(r["grid"]):
            mark = lambda best: " ★" if best == lr else ""  # noqa: E731
            lines.append(f"| {_label(r['arch'])} | {r['kernel_size']}×{r['kernel_size']} | "
                         f"{r['density']} | {lr:g} | {r['short'][i]:.2f}{mark(r['best_short'])} | "
                         f"{r['full'][i]:.2f}{mark(r['best_full'])} | {r['full_test'][i]:.2f} |")
    return "\n".join(lines)


def plot_learning_curves(records, arch: str, kernel_size: int, metric: str = "val_top1", ax=None):
    """Mean (line) and min-max over seeds (band) of ``metric`` per epoch, one colour per arm (finals)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    groups: dict = {}
    for r in _finals(records):
        if r["config"]["arch"] == arch and r["config"]["kernel_size"] == kernel_size:
            groups.setdefault(r["config"]["density"], []).append(r)
    for dens, rs in groups.items():
        curves = torch.tensor([[e[metric] for e in r["epochs"]] for r in rs], dtype=torch.float64)
        epochs = range(1, curves.shape[1] + 1)
        line, = ax.plot(epochs, curves.mean(0).tolist(), marker="o", ms=3,
                        label=f"{dens} (n={len(rs)})")
        ax.fill_between(epochs, curves.min(0).values.tolist(), curves.max(0).values.tolist(),
                        color=line.get_color(), alpha=0.15)
    label = {"val_top1": "validation top-1 accuracy (%)", "train_loss": "training loss (cross-entropy, nats)",
             "val_loss": "validation loss (cross-entropy, nats)",
             "train_top1": "training top-1 accuracy (%)"}.get(metric, metric)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(label)
    ax.set_title(f"{_label(arch)}, {kernel_size}×{kernel_size} kernels")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def plot_paired(rows, ax=None):
    """Paired differences with their 95% confidence intervals, one row per comparison."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.35 * len(rows) + 1.2))
    labels = [f"{_label(r['arch'])} {r['kernel_size']}×{r['kernel_size']}: {r['density']}" for r in rows]
    y = list(range(len(rows)))[::-1]
    means = [r["mean"] for r in rows]
    err = [[r["mean"] - r["ci_low"] for r in rows], [r["ci_high"] - r["mean"] for r in rows]]
    ax.errorbar(means, y, xerr=err, fmt="o", capsize=3)
    ax.axvline(0, color="grey", lw=1, ls="--")
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    metric = rows[0]["metric"].replace("_top1", " top-1") if rows else ""
    base = rows[0]["baseline"] if rows else ""
    ax.set_xlabel(f"{metric} accuracy difference vs {base} (percentage points, 95% CI)")
    ax.grid(alpha=0.3, axis="x")
    return ax
