r"""Objectives that train: ``den -> validation score`` of a brief training from one fixed start.

:func:`classification_objective` and :func:`denoising_objective` build a
:class:`TrainingObjective` for the searches of :mod:`~wconv.experiments.search.algorithms`.
Each evaluation trains the task's model from one fixed initialisation with one fixed batch
order (shared by every evaluation) on the task's own data and with the task's own training
engine -- :func:`wconv.experiments.cifar.cifar100` and its loaders, the denoising protocol,
patches and metric of :mod:`wconv.experiments.denoise`, :func:`wconv.experiments.train.fit`
-- and returns a validation score; the test split is only read by final runs
(:mod:`~wconv.experiments.search.finals`). How much one evaluation trains is a budget
(:data:`BUDGETS`, looked up with :func:`wconv.experiments.budgets.lookup`).
:func:`learnable_density_search` is the gradient-descent baseline.

Example::

    >>> f = denoising_objective(5, budget="smoke")
    >>> f.name, f.config["patch"]
    ('denoise-dncnn--psnr', 24)
"""
from __future__ import annotations

import functools
import json
import math
import numbers
import time
from dataclasses import dataclass

from .. import budgets as _budgets
from .. import results as _results
from .algorithms import LearnedDensity, check_bounds, check_kernel_size

__all__ = ["ClassificationObjectiveBudget", "DenoisingObjectiveBudget", "LEGACY_RECIPE", "BUDGETS",
           "SCORES",
           "TrainingObjective", "classification_objective", "denoising_objective",
           "learnable_density_search"]


@dataclass(frozen=True)
class ClassificationObjectiveBudget(_budgets.Budget):
    """The brief CIFAR-100 training of one classification evaluation.

    The fields are the objective's settings as its configuration stores them (so their
    values are the keys of the stored logs: keep each value's JSON type).

    Attributes:
        arch: the architecture (:data:`wconv.experiments.classifiers.ARCHITECTURES`).
        width: its channel multiplier.
        n_per_class, val_per_class: CIFAR-100 training images per class, and of those the
            validation images (:func:`wconv.experiments.cifar.cifar100`, split seed 0).
        epochs, batch_size, lr: SGD with a cosine schedule.
        augment: random crop and horizontal flip.
        nesterov, schedule, label_smoothing, precision: the recipe of chapter 4's tuned
            budgets (:data:`wconv.experiments.classify.BUDGETS`), for an objective that is a
            shortened chapter-4 training; ``precision='auto'`` is this machine's
            (:func:`wconv.experiments.precision.resolve_precision`).

    Fields at their :data:`LEGACY_RECIPE` values are left out of the objective's configuration,
    so the logs of the budgets that predate them keep their keys.
    """

    arch: str
    width: float
    n_per_class: int
    val_per_class: int
    epochs: int
    batch_size: int
    lr: float
    augment: bool
    nesterov: bool = False
    schedule: str = "cosine"
    label_smoothing: float = 0.0
    precision: str = "float32"


@dataclass(frozen=True)
class DenoisingObjectiveBudget(_budgets.Budget):
    """The brief blind-denoising training of one denoising evaluation.

    The fields are the objective's settings as its configuration stores them (so their
    values are the keys of the stored logs: keep each value's JSON type).

    Attributes:
        arch, model: the denoiser (:func:`wconv.experiments.denoisers.build`) and its size.
        source: the data protocol (:data:`wconv.experiments.images.SOURCES`).
        n_train, n_val: training images (``None``: all) and the held-out validation images.
        val_crop, val_sigma: centre crop and noise level (0--255) of the validation images;
            the denoising task validates at σ = 25, so ``val_sigma`` is 25.
        patch, batch_size, patches_per_epoch, epochs, lr: Adam with a cosine schedule on
            random patches.
        train_sigma: ``(low, high)`` range of the blind training noise (0--255).
        n_test, test_crop: test images per set (``None``: all) and their centre crop, for
            the final runs.
        precision, warmup, grad_clip, zero_last: the recipe of chapter 5's study
            (:data:`wconv.experiments.denoise_budgets.BUDGETS` ``['book']``), for an objective
            that is a shortened study training.

    Fields at their :data:`LEGACY_RECIPE` values are left out of the objective's configuration,
    so the logs of the budgets that predate them keep their keys.
    """

    arch: str
    model: dict
    source: str
    n_train: int | None
    n_val: int
    val_crop: int
    val_sigma: int
    patch: int
    batch_size: int
    patches_per_epoch: int
    epochs: int
    lr: float
    train_sigma: tuple
    n_test: int | None
    test_crop: int | None
    precision: str = "float32"
    warmup: float = 0.0
    grad_clip: float | None = None
    zero_last: bool = False


#: The recipe fields' values before the study budgets: left out of a configuration.
LEGACY_RECIPE = {"nesterov": False, "schedule": "cosine", "label_smoothing": 0.0,
                 "precision": "float32", "warmup": 0.0, "grad_clip": None, "zero_last": False}


#: The brief training of one search evaluation, per task and run profile. Every
#: evaluation of one objective starts from the same initial weights and sees the
#: same batches; only ``den`` changes. The denoising budgets with stored logs (``smoke``,
#: ``book``, ``study``, ``study-float32``) name the colour sets they were trained on, so a machine with DIV2K
#: on disk reads them under the same keys; ``full`` keeps ``'auto'``, which the objective
#: resolves to this machine's data (:func:`wconv.experiments.images.resolve_source`).
BUDGETS = {
    "classify": {
        # seconds: a check that everything runs, not a measurement
        "smoke": ClassificationObjectiveBudget(arch="vgg11", width=0.125, n_per_class=4,
                                               val_per_class=2, epochs=1, batch_size=50, lr=0.05,
                                               augment=False),
        # about 10 s per evaluation on 2 CPU cores
        "book": ClassificationObjectiveBudget(arch="vgg11", width=0.25, n_per_class=30,
                                              val_per_class=10, epochs=2, batch_size=50, lr=0.05,
                                              augment=True),
        "full": ClassificationObjectiveBudget(arch="vgg11", width=1.0, n_per_class=500,
                                              val_per_class=50, epochs=15, batch_size=128, lr=0.1,
                                              augment=True),
        # chapter 4's book training of VGG-11-BN (quarter width, 450/50 images per class,
        # Nesterov SGD one-cycle, label smoothing 0.1, bfloat16 like it), shortened to
        # 3 of its 18 epochs; lr 0.4 is what both ResNet-20 arms chose on validation
        "study": ClassificationObjectiveBudget(arch="vgg11", width=0.25, n_per_class=500,
                                               val_per_class=50, epochs=3, batch_size=128, lr=0.4,
                                               augment=True, nesterov=True, schedule="onecycle",
                                               label_smoothing=0.1, precision="bfloat16"),
    },
    "denoise": {
        "smoke": DenoisingObjectiveBudget(arch="dncnn", model={"depth": 3, "width": 8},
                                          source="color", n_train=2, n_val=1, val_crop=32,
                                          val_sigma=25, patch=24, batch_size=8,
                                          patches_per_epoch=16, epochs=1, lr=1e-3,
                                          train_sigma=(0.0, 55.0), n_test=2, test_crop=48),
        # about 10 s per evaluation on 2 CPU cores
        "book": DenoisingObjectiveBudget(arch="dncnn", model={"depth": 5, "width": 16},
                                         source="color", n_train=20, n_val=4, val_crop=96,
                                         val_sigma=25, patch=40, batch_size=16,
                                         patches_per_epoch=320, epochs=2, lr=1e-3,
                                         train_sigma=(0.0, 55.0), n_test=12, test_crop=192),
        "full": DenoisingObjectiveBudget(arch="dncnn", model={"depth": 17, "width": 64},
                                         source="auto", n_train=None, n_val=10, val_crop=256,
                                         val_sigma=25, patch=50, batch_size=64,
                                         patches_per_epoch=64 * 200, epochs=10, lr=1e-3,
                                         train_sigma=(0.0, 55.0), n_test=None, test_crop=None),
        # chapter 5's study training (DnCNN 7 x 16 with BatchNorm, all 400 BSDS500 training
        # images but 8 held out, 40 x 40 patches, bfloat16, warm-up, clipping, last layer at
        # zero), shortened to 10 of its 50 epochs (1,000 Adam steps); lr 3e-3 is what the
        # 7x7 weighted arm chose on validation
        "study": DenoisingObjectiveBudget(arch="dncnn", model={"depth": 7, "width": 16},
                                          source="color", n_train=None, n_val=8, val_crop=128,
                                          val_sigma=25, patch=40, batch_size=16,
                                          patches_per_epoch=1600, epochs=10, lr=3e-3,
                                          train_sigma=(0.0, 55.0), n_test=None, test_crop=256,
                                          precision="bfloat16", warmup=0.05, grad_clip=1.0,
                                          zero_last=True),
    },
}
# chapters 4's and 5's study trainings in float32, for chapter 6's 5x5 denoising and 3x3
# classification studies: bfloat16 is only emulated (10-16x slower) on a CPU without AVX-512
# BF16 or AMX, float32 runs at full speed on any CPU, so any machine can continue these
# studies under the same keys
BUDGETS["denoise"]["study-float32"] = BUDGETS["denoise"]["study"].replace(precision="float32")
BUDGETS["classify"]["study-float32"] = BUDGETS["classify"]["study"].replace(precision="float32")

#: Scores each task can minimise.
SCORES = {"classify": ("loss", "error"), "denoise": ("-psnr", "loss")}

#: The noise of the denoising task's validation images (:mod:`wconv.experiments.denoise`).
_VALIDATION_SIGMA = 25


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
        budget: the budget's name; ``setup`` its settings (with the overrides), as JSON values.
        name, config: the objective's identity in search logs.
        history: the record of every :meth:`train` call of this object.
    """

    def __init__(self, task: str, kernel_size: int, seed: int, budget: str | None, score: str,
                 root=None, device=None, **overrides):
        if task not in BUDGETS:
            raise ValueError(f"task must be one of {', '.join(BUDGETS)}; got {task!r}")
        self.kernel_size = check_kernel_size(kernel_size)
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {seed!r}")
        budget, settings = _budgets.lookup(budget, BUDGETS[task])
        if score not in SCORES[task]:
            raise ValueError(f"score for {task} must be one of {', '.join(SCORES[task])}; got {score!r}")
        unknown = sorted(set(overrides) - set(settings.as_dict()))
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown} for the {task} objective; "
                             f"known: {sorted(settings.as_dict())}")
        setup = {k: v for k, v in settings.replace(**overrides).as_dict().items()
                 if k not in LEGACY_RECIPE or v != LEGACY_RECIPE[k]}
        if "precision" in setup:   # 'auto' becomes this machine's: the log names the arithmetic
            from ..precision import resolve_precision

            setup["precision"] = resolve_precision(setup["precision"], device)
        if setup.get("source") == "auto":   # and the data it trains on
            from ..images import resolve_source

            setup["source"] = resolve_source("auto", root)
        setup = json.loads(json.dumps(setup))
        if task == "denoise" and setup["val_sigma"] != _VALIDATION_SIGMA:
            raise ValueError(f"val_sigma must be {_VALIDATION_SIGMA}, the noise of the denoising "
                             f"task's validation images; got {setup['val_sigma']!r}")
        self.task, self.seed, self.budget, self.score = task, int(seed), budget, score
        self.setup = setup
        self.root, self.device = root, device
        self.name = f"{task}-{setup['arch']}-{score}"
        self.config = {"task": task, "kernel_size": self.kernel_size, "seed": self.seed,
                       "budget": budget, "score": score, **setup}
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
        """The task's data, loaded once.

        Classification: :class:`wconv.experiments.cifar.ClassificationData` (split seed 0).
        Denoising: ``{'protocol', 'train', 'val', 'tests', 'info'}`` of the denoising task
        (training images, validation pairs at σ = 25, test crops per set).
        """
        if self._data is None:
            s = self.setup
            if self.task == "classify":
                from .. import cifar

                self._data = cifar.cifar100(self.root, s["n_per_class"], s["val_per_class"],
                                            seed=0, download=False)
            else:
                from .. import denoise

                protocol, train, val, tests, info = denoise.load_data(s, self.root)
                self._data = {"protocol": protocol, "train": train, "val": val, "tests": tests,
                              "info": info}
        return self._data

    def data_summary(self, results_dir=None) -> dict:
        """What the objective trains and scores on: ``{'description', 'noisy_val_psnr'}``.

        ``noisy_val_psnr`` (denoising only) is the validation images' own PSNR, the score of
        a network that returns its input. Measured once on the data and kept in the results
        store (task ``search-data``), so that a page without the data can print it.
        """
        from ...metrics import psnr

        def measure():
            d = self.data()
            if self.task == "classify":
                return {"description": f"CIFAR-100: {d.info['train_size']} training, "
                                       f"{d.info['val_size']} validation images", "noisy_val_psnr": None}
            noisy = sum(float(psnr(x.clamp(0, 1), y)) for x, y in d["val"]) / len(d["val"])
            return {"description": d["protocol"].description, "noisy_val_psnr": noisy}

        return _results.cached({"task": "search-data", "name": self.name, "objective": self.config},
                               measure, results_dir)

    def build(self, den=None, learnable: bool = False):
        """The model with density ``den`` (None: standard), from the objective's ``W₀``."""
        import torch

        from ...surgery import convert

        s = self.setup
        torch.manual_seed(self.seed)
        if self.task == "classify":
            from ..classifiers import build_model
            model = build_model(s["arch"], 100, self.kernel_size, None, s["width"])
        else:
            from ..denoisers import build
            zero = {"zero_last": True} if s.get("zero_last") else {}
            model = build(s["arch"], self.data()["protocol"].channels, self.kernel_size, None,
                          **s["model"], **zero)
        if den is not None or learnable:
            density = list(den) if den is not None else None
            model = convert(model, density=density, learnable_density=learnable,
                            kernel_sizes=self.kernel_size, inplace=True)
        return model

    # -- training
    def train(self, den=None, learnable: bool = False, epochs: int | None = None,
              test: bool = False, progress: bool = False, checkpoint=None,
              checkpoint_key=None) -> dict:
        """Train once with density ``den`` and return the record.

        Args:
            den: the density (None: standard convolution, or the start of a
                learnable density: uniform).
            learnable: learn the density by gradient descent, starting from ``den``.
            epochs: override the budget's epochs.
            test: also evaluate on the test split (only for final reports).
            progress: tqdm bar.
            checkpoint: a file written after every epoch and resumed from
                (:func:`wconv.experiments.train.fit`), for the long final runs.
            checkpoint_key: names the run; a checkpoint of another run is ignored.

        Returns:
            ``{'den', 'learnable', 'score', 'final', 'epochs', 'seconds', 'learned',
            'resumed_from'}`` where ``learned`` lists, for each weighted layer, the learned
            ``den`` of each spatial axis (learnable only), ``seconds`` is this call's wall
            time and ``resumed_from`` the epoch its checkpoint held (0: a fresh start).
        """
        if den is not None:
            den = tuple(float(v) for v in den)
            if len(den) != (self.kernel_size - 1) // 2:
                raise ValueError(f"den must hold {(self.kernel_size - 1) // 2} values for "
                                 f"kernel_size={self.kernel_size}, got {list(den)}")
        self.data()   # loaded before the model is seeded and built, as every evaluation sees it
        t0 = time.perf_counter()
        model = self.build(den, learnable)
        fit = self._fit_classifier if self.task == "classify" else self._fit_denoiser
        out = fit(model, den, epochs or self.setup["epochs"], test, progress, checkpoint,
                  checkpoint_key)
        score, final = out["score"], out["final"]
        learned = None
        if learnable:
            learned = [[[float(v) for v in axis.detach().cpu()] for axis in m.den()]
                       for m in model.modules() if getattr(m, "learnable_density", False)]
        record = {"den": None if den is None else list(den), "learnable": learnable,
                  "score": float(score), "final": final, "epochs": out["epochs"],
                  "seconds": time.perf_counter() - t0, "learned": learned,
                  "resumed_from": out["resumed_from"]}
        self.history.append(record)
        return record

    def _fit_classifier(self, model, den, epochs, test, progress, checkpoint, checkpoint_key):
        """Cross-entropy SGD on the CIFAR-100 loaders of :mod:`wconv.experiments.cifar`."""
        from torch import nn

        from .. import cifar
        from .. import train as _train

        s, d = self.setup, self.data()
        common = dict(mean=d.mean, std=d.std, device=self.device)
        train_loader = cifar.TensorLoader(d.train, s["batch_size"], shuffle=True,
                                          augment=s["augment"], drop_last=True, seed=self.seed,
                                          **common)
        val_loader = cifar.TensorLoader(d.val, 500, **common)
        test_loader = cifar.TensorLoader(d.test, 500, **common) if test else None
        smoothing = s.get("label_smoothing", 0.0)
        loss = (functools.partial(nn.functional.cross_entropy, label_smoothing=smoothing)
                if smoothing else nn.functional.cross_entropy)
        schedule = s.get("schedule", "cosine")
        out = _train.fit(model, train_loader, val_loader, loss_fn=loss,
                         eval_loss_fn=nn.functional.cross_entropy,
                         metrics=_train.accuracy_metrics(), epochs=epochs, lr=s["lr"],
                         nesterov=s.get("nesterov", False), schedule=schedule,
                         precision=s.get("precision", "float32"), seed=self.seed,
                         test_loader=test_loader, device=self.device, progress=progress,
                         desc=f"den={None if den is None else [round(v, 3) for v in den]}",
                         checkpoint=checkpoint, checkpoint_key=checkpoint_key)
        final = out["final"]
        score = final["val_loss"] if self.score == "loss" else 1 - final["val_top1"] / 100
        return dict(out, score=score)

    def _fit_denoiser(self, model, den, epochs, test, progress, checkpoint, checkpoint_key):
        """MSE Adam on the denoising task's patches, scored by its PSNR metric."""
        from torch import nn

        from .. import denoise, images
        from .. import train as _train
        from ..denoisers import evaluate

        s, d = self.setup, self.data()
        patches = images.RandomPatches(list(d["train"]), s["patch"], s["patches_per_epoch"],
                                       sigma=tuple(s["train_sigma"]), seed=self.seed)
        loader = images.PatchLoader(patches, s["batch_size"], device=self.device, drop_last=True)
        out = _train.fit(model, loader, d["val"], loss_fn=nn.functional.mse_loss,
                         metrics={"psnr": denoise.clipped_psnr}, epochs=epochs, optimizer="adam",
                         lr=s["lr"], weight_decay=0.0, schedule="cosine", seed=self.seed,
                         device=self.device, progress=progress,
                         precision=s.get("precision", "float32"), warmup=s.get("warmup") or None,
                         grad_clip=s.get("grad_clip"), checkpoint=checkpoint,
                         checkpoint_key=checkpoint_key)
        final = dict(out["final"])
        if test:
            for name, (names, crops) in d["tests"].items():
                noisy = images.noisy_images(crops, names, s["val_sigma"], seed=0)
                scores = evaluate(model.cpu(), noisy, [images.to_float(c) for c in crops],
                                  s.get("precision", "float32"))
                final[f"test_{name}_psnr"] = scores["mean_psnr"]
                final[f"test_{name}_ssim"] = scores["mean_ssim"]
        score = -final["val_psnr"] if self.score == "-psnr" else final["val_loss"]
        return dict(out, score=score, final=final)


def classification_objective(kernel_size: int = 3, *, seed: int = 0, budget: str | None = None,
                             score: str = "loss", root=None, device=None,
                             **overrides) -> TrainingObjective:
    r"""Objective: validation loss (or ``1 - accuracy``) of a brief CIFAR-100 training.

    Reduced, class-balanced CIFAR-100 (:func:`wconv.experiments.cifar.cifar100`, the
    validation split carved from the training set), a VGG-11 of the budget's
    width, SGD with a cosine schedule; :data:`BUDGETS` ``['classify']``
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

    The data of the denoising task (:mod:`wconv.experiments.denoise`: the protocol of
    :func:`wconv.experiments.images.protocol`, the reduced DIV2K protocol when DIV2K is on
    disk, else the colour sets): a seeded subset of training images, ``n_val`` of them held
    out and centre-cropped for validation with fixed noise σ = 25; a DnCNN trained with
    Adam on random patches with blind noise ``train_sigma``. ``train(..., test=True)``
    also scores ``n_test`` images of each test set (centre crop ``test_crop``) at the
    same noise. Settings per profile in :data:`BUDGETS` ``['denoise']``; ``overrides``
    change any of them.

    Args:
        kernel_size: 3, 5 or 7.
        seed: initial weights, patches and noise, shared by every evaluation.
        budget: ``smoke``, ``book`` or ``full`` (default the active profile).
        score: ``'-psnr'`` (minus the mean validation PSNR, dB) or ``'loss'`` (validation MSE).
    """
    return TrainingObjective("denoise", kernel_size, seed, budget, score, root, device, **overrides)


def learnable_density_search(objective: TrainingObjective, bounds=None, init=None, *,
                             evaluate: bool = True, store: bool = True,
                             results_dir=None, train: bool = True) -> LearnedDensity | None:
    r"""Baseline: learn ``den`` by gradient descent instead of searching for it.

    Trains the objective's model once with ``learnable_density=True`` (every
    weighted layer learns its own ``den``, from ``init``; same ``W₀``, batches
    and epochs as a search evaluation), then, with ``evaluate``, trains once
    more with the geometric mean of the learned densities as a fixed density,
    so that its score compares with the densities a search finds.

    Args:
        objective: a :class:`TrainingObjective`.
        bounds: as in :func:`~wconv.experiments.search.algorithms.direct_search`; ``init``
            defaults to the box's centre, and the mean learned density is clipped into the box.
        init: starting ``den``.
        evaluate: spend the second training.
        store: keep the result in the results store (:mod:`wconv.experiments.results`, task
            ``search-learnable``) and load it from there when present.
        results_dir: the results store (default the repository's ``results/``).
        train: ``False`` only reads the store (``None`` when the result is not there).

    Returns:
        :class:`~wconv.experiments.search.algorithms.LearnedDensity`.
    """
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
        stored = _results.load(config, results_dir)
        if stored is not None:
            return LearnedDensity(tuple(stored["init"]), stored["layers"], tuple(stored["den"]),
                                  stored["value_learnable"], stored["value"], stored["seconds"],
                                  stored["evaluations"])
    if not train:
        return None
    t0 = time.perf_counter()
    record = objective.train(init, learnable=True)
    layers = record["learned"]
    axes = [axis for layer in layers for axis in layer]
    mean = tuple(math.exp(sum(math.log(axis[j]) for axis in axes) / len(axes))
                 for j in range(len(lower)))
    den = tuple(min(max(v, lo), hi) for v, lo, hi in zip(mean, lower, upper))
    value = objective(den) if evaluate else None
    result = LearnedDensity(tuple(init), layers, den, record["score"], value,
                            time.perf_counter() - t0, 2 if evaluate else 1)
    if store:
        _results.save(config, {"init": list(result.init), "layers": result.layers,
                               "den": list(result.den), "value_learnable": result.value_learnable,
                               "value": result.value, "seconds": result.seconds,
                               "evaluations": result.evaluations}, results_dir)
    return result
