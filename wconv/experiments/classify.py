r"""Classification experiments on CIFAR-100: named configurations, tuned learning rates, stored results.

A configuration is architecture x density x kernel size x seed x budget x role; the budget
(:data:`BUDGETS`, default the active :func:`wconv.settings.profile`) fixes the data size,
widths, epochs, optimiser, schedule, label smoothing and arithmetic. :func:`run` loads the
stored result of a configuration or trains and stores it; :func:`command` reproduces it;
:func:`plan` and :func:`run_plan` order and train the ``chapter4`` grid, :func:`status`
lists it. The numbers of chapter 4 come from :mod:`~wconv.experiments.classify_analysis`.

A **fixed-lr** budget (``smoke``, ``quick``) trains every run at its ``lr``. In a **tuned**
budget (``book``, ``full``) every arm picks its own learning rate from ``lr_grid`` on the
*validation* split: one short ``tuning`` run per grid value (``tuning_epochs``, the same
schedule shape compressed, seed :data:`TUNING_SEED`) is scored by its final validation top-1
and :func:`select_lr` takes the best, ties going to the smaller lr. The ``final`` runs (one
per seed) record the grid, the scores and the choice in their configuration
(``lr_selection``), so no arm runs on a recipe tuned for another. ``sweep`` runs train the
full length at every grid value (do short runs rank the values as full runs do?), and a
``reference`` run (:func:`reference_config`) trains one standard ResNet-20 for longer.

Arms (:data:`ARMS`): the densities of :func:`wconv.density.named_density` (``uniform`` is
a standard convolution), and two that start from ``paper``: ``learnable`` (every weighted
layer learns its ``den``; its ``log(den)`` gets the weights' SGD and weight decay, a mild
pull towards uniform) and the control ``reparam``, a *standard* convolution started at
``W₀ ⊙ Φ`` whose kernel gradients are scaled by ``Φ²``
(:func:`wconv.reparam.standard_equivalent`), which chapter 1 predicts follows the weighted
convolution under SGD up to rounding.

Example::

    >>> cfg = make_config("vgg11", "paper", kernel_size=3, seed=0, budget="smoke")
    >>> command(cfg)
    'python -m wconv train --arch vgg11 --density paper --kernel-size 3 --seed 0 --budget smoke'
"""
from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass

import torch
from torch import nn

from .. import density as _density
from .. import settings
from . import budgets as _budgets
from . import cifar as _data
from . import classifiers as _models
from . import precision as _precision
from . import results as _results
from . import train as _train
from . import tuning
from .configs import check_run

__all__ = ["Budget", "BUDGETS", "ARMS", "FIXED_ARMS", "ARCHS", "ARCH_LABELS", "ROLES",
           "TUNING_SEED", "TUNING_METRIC", "CONFIG_FORMAT", "CHECKPOINT_DIR",
           "MissingTuningError", "make_config", "reference_config", "command", "build",
           "loss_functions", "run", "choose_lr"]

#: Density arms; ``reparam`` and ``learnable`` start from the paper density (see above).
ARMS = ("uniform", "paper", "gaussian", "triangular", "reparam", "learnable")
#: The arms of the fixed-lr ``chapter4`` grid.
FIXED_ARMS = ("uniform", "paper", "gaussian", "triangular", "reparam")
#: Architectures of the experiments (all of :data:`wconv.experiments.classifiers.ARCHITECTURES` work).
ARCHS = tuple(_models.ARCHITECTURES)
#: Names for tables: the VGGs of :mod:`wconv.experiments.classifiers` have BatchNorm (torchvision's ``vgg11_bn``).
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
CHECKPOINT_DIR = settings.RUNS_DIR / "classify"


@dataclass(frozen=True)
class Budget(_budgets.Budget):
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
        schedule, warmup: see :func:`wconv.experiments.train.make_scheduler`.
        augment: random crop (padding 4) and horizontal flip.
        label_smoothing: of the training loss (the reported losses are plain cross-entropy).
        precision: ``float32``, ``bfloat16``, or ``auto`` (bfloat16 autocast and
            channels-last where the machine supports it: :func:`wconv.experiments.precision.default_precision`).
        lr_grid: the learning rates every arm chooses from (empty: fixed ``lr``).
        tuning_epochs: epochs of a tuning run.
        sweep_lrs: the learning rates of the full-length sweep (empty: all of ``lr_grid``).
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
    sweep_lrs: tuple = ()
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
    # a paired grid a reader reruns in under 20 minutes: the book's first grid (width 0.25,
    # fixed lr) on 30 training images per class for 5 epochs; its 42 runs took 17.7 minutes
    # wall, test scoring included, on a quiet 2-core AVX2 CPU (2026-12-07). 6 epochs took
    # 20.8, the first grid's own budget (50 images per class, 8 epochs) 34
    "quick": Budget(n_per_class=40, val_per_class=10, test_per_class=None, epochs=5, width=0.25,
                    batch_size=64),
    # the standard models really trained: full-width ResNet-20 (about 15 minutes a run on 2
    # cores with AVX-512 BF16), VGG-11-BN at quarter width (4 minutes at 3x3, 7 at 5x5),
    # 450/50 images per class, 18 epochs (15 gave 59.8% for ResNet-20, one seed). The
    # full-length sweep keeps the tuning runs' choice (0.4 for both arms) and its two
    # neighbours, which is what a short-vs-full ranking check needs, for 1 CPU hour less than
    # the whole lr grid. The stored grid was trained in bfloat16; its precision is fixed, not
    # 'auto', so that every machine reads it under the same keys
    "book": Budget(n_per_class=500, val_per_class=50, test_per_class=None, epochs=18, width=1.0,
                   tuning_epochs=4, sweep_lrs=(0.2, 0.4, 0.8), reference_epochs=60,
                   widths=(("vgg11", 0.25),), **dict(_TUNED, precision="bfloat16")),
    # the papers' scale, full widths, for a GPU
    "full": Budget(n_per_class=500, val_per_class=50, test_per_class=None, epochs=100, width=1.0,
                   tuning_epochs=20, reference_epochs=200, **_TUNED),
}


def _budget(name):
    return _budgets.lookup(name, BUDGETS)


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
            default) becomes this machine's :func:`wconv.experiments.precision.default_precision`,
            so the configuration, and the key of its result, name the arithmetic used.
        lr_selection: the tuning outcome of a ``final``/``reference`` run of a
            tuned budget; by default :func:`choose_lr` reads it from the stored
            tuning runs in ``results_dir`` (:class:`MissingTuningError` if absent).
        results_dir: the results store (default the repository's ``results/``).
    """
    check_run(arch, ARCHS, density, ARMS, kernel_size, seed)
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    name, b = _budget(budget)
    precision = _precision.resolve_precision(b.precision if precision is None else precision)
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
    layer_density = _density.named_density(
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
    The precision is named when it is not the budget's own (an override, or ``auto``).
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
    if budget is not None and budget.precision != config["precision"]:
        out += f" --precision {config['precision']}"
    return out


def build(config: dict) -> nn.Module:
    """The model of ``config``, initialised from ``config['seed']``."""
    torch.manual_seed(config["seed"])
    density, arch, k = config["density"], config["arch"], config["kernel_size"]
    if density == "reparam":
        from ..reparam import standard_equivalent

        weighted = _models.build_model(arch, 100, k, "paper", config["width"])
        return standard_equivalent(weighted, inplace=True)
    if density == "learnable":
        from ..surgery import convert

        model = _models.build_model(arch, 100, k, None, config["width"])
        return convert(model, density=_density.named_density("paper", k), learnable_density=True,
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
        ``data``, ``wall_time_s`` (across resumes; see :func:`wconv.experiments.train.wall_times`),
        ``environment``, ``learned_den`` (learnable
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
    ckpt = _results.checkpoint_path(config, checkpoint_dir if checkpoint_dir is not None
                                    else CHECKPOINT_DIR)
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
              "seed": config["seed"], **_train.wall_times(time.perf_counter() - t0, out),
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
            "metric": TUNING_METRIC, "scores": scores,
            "chosen": tuning.choose_lr([lr for lr, _ in scores], [v for _, v in scores])}
