r"""Denoising experiments: named configurations, stored results, tables and figures.

A configuration is architecture (``dncnn``, ``nafnet``) x kernel size x
density (or control arm, :data:`CONTROLS`) x BatchNorm x seed x budget. The
budget (:data:`BUDGETS`: ``smoke``, ``quick``, ``book``, ``full``, default the
active :func:`wconv.settings.profile`) fixes the data, the model size, the
recipe and the training length. :func:`run` loads the stored result of a
configuration from ``results/denoise/`` or trains it with
:func:`wconv.experiments.train.fit` and stores it; :func:`command` gives the shell command
that reproduces it.

The study (:func:`plan` ``'study'``, budget ``book``): every arm's learning rate
is chosen on the validation images from the budget's ``lr_grid``
(:func:`lr_tuning`, stored tuning runs), every final run is trained to its
plateau (:func:`plateau`) and flagged when it collapsed (:func:`collapsed`); the
controls (:data:`CONTROL_ARMS`) and the regime map (:data:`REGIME_ARMS` at the
budget's ``regime_epochs``) say where a gap comes from; :func:`plateau_table`,
:func:`comparisons`, :func:`regime_crossings` and :func:`findings` read it all
back from the stored records. Run it with
``python -m wconv denoise --grid study --budget book`` (``--status`` lists it).

Protocol of every run:

* data: :func:`wconv.experiments.images.protocol` with the budget's ``source``
  (``'auto'``: the reduced DIV2K protocol when DIV2K's validation images are
  on disk, else the colour sets -- BSDS500 train+test for training, CBSD68 and
  Kodak24 for testing); a seeded subset of training images, of which
  ``n_val`` are held out for validation (the curves), never the test images;
* training: blind Gaussian noise with a level drawn per patch from
  ``train_sigma`` (DnCNN-B style), random ``patch x patch`` crops redrawn every
  epoch, MSE loss, Adam with a cosine schedule (``book``: after a linear
  warm-up, with gradient-norm clipping and DnCNN's last layer started at zero);
* test: every test image (a seeded subset of ``n_test`` per set, centre-cropped
  to ``test_crop`` if set) with fixed noise at each ``sigma`` of
  :data:`wconv.experiments.images.SIGMAS`; PSNR and SSIM of the output clipped to
  ``[0, 1]`` (:mod:`wconv.metrics`).

A standard and a weighted model with the same seed start from the same
weights and see the same patches and noise.

Example::

    >>> cfg = make_config("dncnn", "paper", kernel_size=7, seed=0, budget="smoke")
    >>> cfg["den"]
    [0.25, 0.15, 0.55]
    >>> command(cfg)
    'python -m wconv denoise --arch dncnn --density paper --kernel-size 7 --seed 0 --budget smoke'
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import density as _density
from .. import settings
from ..metrics import psnr
from . import budgets as _budgets
from . import export as _export
from . import images as dd
from . import results as _results
from . import train as _train
from .denoisers import build as build_model
from .denoisers import denoise, evaluate

__all__ = ["Budget", "BUDGETS", "ARCHS", "DENSITIES", "make_config", "command", "build", "run",
           "grid", "run_grid", "summary", "format_table", "format_run", "format_wide", "plot_curves", "plot_sigma",
           "plot_panel", "panel_images", "test_image", "DATASETS", "results_dir_for", "initial_psnr", "CHECKPOINT_DIR", "SMOKE_RESULTS_DIR",
           "PUBLISHED", "reference_config", "CONTROLS", "ARM_DENSITIES", "GRIDS", "RECIPE_TRIALS",
           "CONTROL_PILOTS",
           # the study: measured properties, tuning, plans, analysis
           "COLLAPSE_DB", "PLATEAU_DB", "PLATEAU_FRACTION", "steps_per_epoch", "total_steps",
           "warmup_steps", "gains", "collapsed", "curve", "plateau", "Arm", "arm_of", "TUNE_SEED",
           "TIE_DB", "TuningMissing", "choose_lr", "tuning_score", "tuning_configs", "lr_tuning",
           "final_config", "DNCNN_ARMS", "CONTROL_ARMS", "REGIME_ARMS", "NAFNET_ARMS", "PAIRS",
           "PlanItem", "plan", "estimate_minutes", "status", "format_status", "run_plan",
           "is_tuning", "is_final", "plateau_table", "format_plateau_table", "paired",
           "comparisons", "format_comparisons", "verdict", "regime_points", "crossings",
           "regime_crossings", "plot_regime", "papers_setting", "findings"]

ARCHS = ("dncnn", "nafnet")
#: Density names (as in :func:`wconv.experiments.classifiers.named_density`).
DENSITIES = ("uniform", "paper", "gaussian", "triangular")
#: Control arms (``density`` names): what of the weighted ``paper`` arm each one keeps.
#: Each uses the ``paper`` density of its kernel size (stored as ``den``).
CONTROLS = {
    "head-start": "standard convolution started at W₀ ⊙ Φ, trained like a standard one "
                  "(wconv.reparam.standard_equivalent(..., scale_lr=False))",
    "position-lr": "standard convolution started at W₀ with Adam's per-position learning rate "
                   "lr·Φ of the weighted layer (standard_equivalent(..., scale_init=False, "
                   "optimizer='adam') + scale_updates)",
    "learnable": "weighted convolution whose density is learnt, started at Φ "
                 "(WeightedConv2d(learnable_density=True))",
}
#: Every ``density`` name a configuration may have.
ARM_DENSITIES = DENSITIES + tuple(CONTROLS)
#: Where unfinished runs keep their checkpoints (git-ignored).
CHECKPOINT_DIR = settings.RUNS_DIR / "denoise"
#: Where ``smoke`` results go by default (git-ignored): they check the code, not the science.
SMOKE_RESULTS_DIR = settings.RUNS_DIR / "results-smoke"


def results_dir_for(config: dict, results_dir=None):
    """``results_dir`` if given; else ``runs/results-smoke`` for smoke runs, else ``results/``."""
    if results_dir is not None:
        return results_dir
    return SMOKE_RESULTS_DIR if config.get("budget") == "smoke" else None

#: Published numbers quoted on the book's page (quoted from the papers, not computed here).
PUBLISHED = {
    "weighted_dncnn_div2k": {
        "label": "Cammarasana & Patanè 2025 (arXiv 2505.24558), DnCNN", "data": "DIV2K",
        "standard_psnr": 20.17, "weighted_psnr": 22.63,
        "training": "the paper's protocol (see the paper)"},
    "cdncnn_cbsd68_sigma25": {
        "label": "Zhang et al. 2017, colour DnCNN (CDnCNN-B)", "data": "CBSD68, σ = 25",
        "psnr": 31.2,
        "training": "432 colour BSD images, 50 epochs of 128 × 3,000 patches of 50 × 50 "
                    "(about 19 million patches), 20 layers × 64 channels"},
}


def reference_config(root=None) -> dict:
    """The run that measures our DnCNN against the published colour DnCNN.

    A standard 17 x 64 DnCNN with the ``full`` budget's data, patches, batch and
    bfloat16 arithmetic, trained for 12 epochs (6,000 Adam steps; 77 minutes
    measured on 2 Xeon cores with AMX) instead of the budget's 50. Its result is stored
    like any other run; the book reads it and never trains it.
    """
    return make_config("dncnn", "uniform", 3, seed=0, budget="full", root=root, epochs=12)


@dataclass(frozen=True)
class Budget(_budgets.Budget):
    """How much work one run does.

    Attributes:
        source: data protocol (:data:`wconv.experiments.images.SOURCES`).
        n_train: training images (a seeded subset; ``None``: all), validation excluded.
        n_val: held-out training-pool images for validation curves.
        val_crop: centre crop of the validation images.
        n_test: test images per test set (seeded subset; ``None``: all).
        test_crop: centre crop of test images (``None``: whole images).
        patch, batch_size, patches_per_epoch, epochs, lr: training.
        train_sigma: ``(low, high)`` range of the blind training noise (0--255 scale).
        precision: arithmetic of training and testing (:data:`wconv.experiments.train.PRECISIONS`).
        dncnn, nafnet: model sizes (keyword arguments of the classes).
        zero_last: DnCNN's last convolution starts at zero (see
            :class:`wconv.experiments.denoisers.DnCNN`); the same ``W₀`` for every arm of a seed.
        warmup: fraction of the steps with a linear learning-rate warm-up before the cosine.
        grad_clip: clip the gradients' global norm to this (``None``: no clipping).
        lr_grid: learning rates every arm is tuned over (``None``: every run uses ``lr``);
            see :func:`lr_tuning`.
        tune_epochs: length of a tuning run (``None``: ``epochs``).
        regime_epochs: the shorter training lengths of the regime map (:func:`plan`).

    ``zero_last``, ``warmup``, ``grad_clip`` are part of a run's configuration only where they
    differ from the legacy recipe (``False``, 0 and ``None``), so the configurations, keys and stored runs of the
    budgets that predate them (``quick``, ``full``) are unchanged; ``lr_grid``,
    ``tune_epochs`` and ``regime_epochs`` describe the grid, not one run, and are never part
    of a run's configuration.
    """
    source: str
    n_train: int | None
    n_val: int
    val_crop: int
    n_test: int | None
    test_crop: int | None
    patch: int
    batch_size: int
    patches_per_epoch: int
    epochs: int
    lr: float = 1e-3
    train_sigma: tuple = (0.0, 55.0)
    precision: str = "float32"
    dncnn: dict = field(default_factory=dict)
    nafnet: dict = field(default_factory=dict)
    zero_last: bool = False
    warmup: float = 0.0
    grad_clip: float | None = None
    lr_grid: tuple | None = None
    tune_epochs: int | None = None
    regime_epochs: tuple | None = None

    @property
    def steps_per_epoch(self) -> int:
        return self.patches_per_epoch // self.batch_size


#: Recipe fields left out of a run's configuration where they have these (legacy) values.
_LEGACY = {"zero_last": False, "warmup": 0.0, "grad_clip": None}
#: Budget fields that describe the grid, never part of a run's configuration.
_PLAN_FIELDS = ("lr_grid", "tune_epochs", "regime_epochs")


#: Named budgets: ``smoke``, ``book`` and ``full`` are the :data:`wconv.settings.PROFILES`
#: entries; ``quick`` is the earlier book budget (a reader's rerun in minutes).
BUDGETS = {
    # seconds: a check that everything runs end to end, not a measurement; it tunes over
    # two learning rates so the smoke plan goes through tuning, finals and the regime map
    "smoke": Budget(source="auto", n_train=3, n_val=1, val_crop=32, n_test=2, test_crop=48,
                    patch=24, batch_size=8, patches_per_epoch=16, epochs=2,
                    dncnn={"depth": 3, "width": 8},
                    nafnet={"width": 8, "enc_blocks": [1], "middle_blocks": 1, "dec_blocks": [1]},
                    zero_last=True, warmup=0.25, grad_clip=1.0, lr_grid=(1e-3, 3e-3), tune_epochs=1,
                    regime_epochs=(1,)),
    # the earlier book grid on a 2-core CPU in about 20 minutes: 240 steps, the standard
    # 7x7 DnCNN collapses (see collapsed()); kept for a reader's quick rerun
    "quick": Budget(source="auto", n_train=40, n_val=4, val_crop=96, n_test=12, test_crop=192,
                    patch=40, batch_size=16, patches_per_epoch=640, epochs=6,
                    dncnn={"depth": 7, "width": 16},
                    nafnet={"width": 12, "enc_blocks": [1, 1], "middle_blocks": 1,
                            "dec_blocks": [1, 1]}),
    # the book's study (plan('study')): every arm tuned over lr_grid and trained to its
    # plateau, bfloat16 on 2 cores with AMX; the short trials behind the recipe are
    # RECIPE_TRIALS
    "book": Budget(source="auto", n_train=None, n_val=8, val_crop=128, n_test=None,
                   test_crop=256, patch=40, batch_size=16, patches_per_epoch=1600, epochs=50,
                   precision="bfloat16", dncnn={"depth": 7, "width": 16},
                   nafnet={"width": 12, "enc_blocks": [1, 1], "middle_blocks": 1,
                           "dec_blocks": [1, 1]},
                   zero_last=True, warmup=0.05, grad_clip=1.0, lr_grid=(1e-4, 3e-4, 1e-3, 3e-3),
                   tune_epochs=15,
                   regime_epochs=(1, 3, 10, 20)),
    # the papers' scale: DnCNN 17x64, NAFNet of the paper's SIDD size; for a GPU or an
    # AMX CPU (bfloat16 autocast: DnCNN 17x64 measured 6.4 min per epoch on 2 Xeon cores)
    "full": Budget(source="auto", n_train=None, n_val=10, val_crop=256, n_test=None,
                   test_crop=None, patch=50, batch_size=64, patches_per_epoch=64 * 500,
                   epochs=50, precision="bfloat16", dncnn={"depth": 17, "width": 64},
                   nafnet={"width": 32, "enc_blocks": [2, 2, 4, 8], "middle_blocks": 12,
                           "dec_blocks": [2, 2, 2, 2]}),
}


#: The short trials that chose the ``book`` recipe (DnCNN 7 x 16, batch 16 of 40 x 40, blind
#: σ in [0, 55], bfloat16, 392 BSDS500 images, Adam + cosine, seed 0, one run each): test PSNR
#: (dB) at σ = 25 on 12 CBSD68 centre crops of 192 px (noisy input 20.4 dB) after ``steps``.
#: Measured with a stand-alone loop before the engine had these options, so they are notes,
#: not stored runs. ``zero_last``: last convolution started at zero; ``wu``: 5 % linear
#: warm-up; ``clip``: gradient norm clipped to 1.
RECIPE_TRIALS = (
    {"arm": "7x7 standard, BN", "recipe": "lr 1e-3 (the quick recipe)", "psnr": {150: 20.42, 600: 20.44}},
    {"arm": "7x7 standard, BN", "recipe": "lr 1e-3, wu, clip", "psnr": {150: 20.40, 600: 20.45}},
    {"arm": "7x7 paper, BN", "recipe": "lr 1e-3, wu, clip", "psnr": {150: 24.12, 600: 27.52}},
    {"arm": "7x7 standard, no BN", "recipe": "lr 1e-3, wu, clip", "psnr": {150: 20.44, 600: 20.44}},
    {"arm": "7x7 standard, BN", "recipe": "lr 1e-3, wu, clip, zero_last", "psnr": {150: 22.45, 600: 26.15}},
    {"arm": "7x7 standard, BN", "recipe": "lr 1e-3, wu, clip, last layer x0.1",
     "psnr": {150: 22.11, 600: 26.18}},
    {"arm": "7x7 paper, BN", "recipe": "lr 1e-3, wu, clip, zero_last", "psnr": {150: 27.02, 600: 28.97}},
    {"arm": "3x3 standard, BN", "recipe": "lr 1e-3, wu, clip, zero_last", "psnr": {150: 25.41, 600: 27.22}},
    {"arm": "7x7 standard, no BN", "recipe": "lr 1e-3, wu, clip, zero_last", "psnr": {150: 20.44, 600: 20.44}},
    {"arm": "7x7 standard, no BN", "recipe": "lr 3e-4, wu, clip, zero_last", "psnr": {150: 21.95, 600: 24.56}},
    {"arm": "7x7 standard, no BN", "recipe": "lr 1e-4, wu, clip, zero_last", "psnr": {150: 21.50, 600: 22.61}},
    {"arm": "7x7 standard, BN", "recipe": "lr 1e-3, wu, clip, zero_last (3,000-step schedule)",
     "psnr": {500: 20.47, 1000: 20.77, 1500: 27.73, 2000: 27.85, 2500: 28.42, 3000: 28.32}},
    {"arm": "7x7 paper, BN", "recipe": "lr 1e-3, wu, clip, zero_last (3,000-step schedule)",
     "psnr": {500: 26.54, 1000: 26.92, 1500: 29.35, 2000: 29.41, 2500: 28.60, 3000: 29.47}},
    {"arm": "7x7 standard, BN", "recipe": "lr 3e-4, wu, clip, zero_last (3,000-step schedule)",
     "psnr": {500: 23.32, 1000: 20.51, 1500: 26.69, 2000: 25.67, 2500: 26.86, 3000: 26.63}},
)
#: Pilot runs of the controls with the engine: the ``book`` budget's data, model and recipe,
#: 600 steps (``epochs=6``) at lr 1e-3, seed 0, one run each; CBSD68 σ = 25 on its 68 centre
#: crops of 256 px (noisy input 20.51 dB). At this short length the head start W₀ ⊙ Φ gives
#: most of the weighted lead; the per-position learning rate alone does not.
CONTROL_PILOTS = {"7x7 paper (weighted)": 29.08, "7x7 head-start": 28.14, "7x7 standard": 26.09,
                  "7x7 position-lr": 24.94}


def _budget(name):
    return _budgets.lookup(name, BUDGETS)


def _den(name: str, kernel_size: int):
    """The ``den`` list (outermost first) of a named density, or ``None`` for uniform."""
    d = _density.named_density(name, kernel_size)
    if d is None:
        return None
    p = _density.profile(d, kernel_size)[: (kernel_size - 1) // 2]
    return [round(float(v), 6) for v in p]


def make_config(arch: str = "dncnn", density: str = "paper", kernel_size: int = 3, seed: int = 0,
                budget: str | None = None, root=None, epochs: int | None = None, *,
                batch_norm: bool = True, lr: float | None = None,
                lr_tuning: dict | None = None) -> dict:
    """The full configuration of one run, as stored with its result.

    Args:
        arch: ``'dncnn'`` or ``'nafnet'``.
        density: one of :data:`ARM_DENSITIES` (``uniform`` is the standard convolution;
            :data:`CONTROLS` are the control arms).
        kernel_size: 3, 5 or 7.
        seed: initial weights, patches and training noise (the data subset is fixed).
        budget: one of :data:`BUDGETS`; default the active profile.
        root: data root, used to resolve ``source='auto'`` (DIV2K present or not).
        epochs: train this many epochs instead of the budget's (the schedule
            spans them); the run's name then ends in ``-e<epochs>``.
        batch_norm: DnCNN with BatchNorm (the paper's) or without (``'batch_norm': false``
            in the configuration and ``-nobn`` in the name; NAFNet has none).
        lr: the learning rate instead of the budget's (a tuning run; name ``-lr<lr>``).
        lr_tuning: the tuning that chose ``lr`` (:func:`lr_tuning`); a final run stores it.
    """
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}; got {arch!r}")
    if density not in ARM_DENSITIES:
        raise ValueError(f"density must be one of {', '.join(ARM_DENSITIES)}; got {density!r}")
    if kernel_size not in _density.KERNEL_SIZES:
        raise ValueError(f"kernel_size must be one of {_density.KERNEL_SIZES}; got {kernel_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1):
        raise ValueError(f"epochs must be a positive integer or None, got {epochs!r}")
    if not isinstance(batch_norm, bool):
        raise ValueError(f"batch_norm must be True or False, got {batch_norm!r}")
    if not batch_norm and arch != "dncnn":
        raise ValueError(f"batch_norm=False applies to DnCNN only ({arch} has no BatchNorm)")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0):
        raise ValueError(f"lr must be a positive number or None, got {lr!r}")
    if lr_tuning is not None and (lr is None or lr_tuning.get("choice") != lr):
        raise ValueError("lr_tuning needs lr equal to its choice")
    name, b = _budget(budget)
    source = b.source
    if source == "auto":   # DIV2K when on disk (all 900 images for the full budget), else colour
        base = settings.data_root(root)
        if name == "full" and dd.div2k_folder("train", base) and dd.div2k_folder("valid", base):
            source = "div2k-full"
        else:
            source = "div2k" if dd.div2k_folder("valid", base) else "color"
    body = asdict(b)
    for k in _PLAN_FIELDS:
        del body[k]
    for k, legacy in _LEGACY.items():
        if body[k] == legacy:
            del body[k]
    body["source"] = source
    body["train_sigma"] = list(b.train_sigma)
    suffix = ""
    if epochs is not None and epochs != b.epochs:
        body["epochs"], suffix = epochs, f"-e{epochs}"
    extra = {}
    if not batch_norm:
        extra["batch_norm"] = False
    if lr is not None:
        body["lr"] = float(lr)
        if lr_tuning is None:
            suffix += f"-lr{lr:g}"
        else:
            extra["lr_tuning"] = lr_tuning
    bn = "" if batch_norm else "-nobn"
    den = _den("paper" if density in CONTROLS else density, kernel_size)
    return {"task": "denoise", "name": f"{arch}-k{kernel_size}-{density}{bn}-s{seed}-{name}{suffix}",
            "arch": arch, "density": density, "den": den,
            "kernel_size": kernel_size, "seed": seed, "budget": name, **body,
            "model": body[arch], "test_sigmas": list(dd.SIGMAS), "format": 1, **extra}


def command(config: dict) -> str:
    """The shell command that reproduces ``config`` (run from the repository root)."""
    epochs = config["epochs"]
    extra = "" if epochs == BUDGETS[config["budget"]].epochs else f" --epochs {epochs}"
    if config.get("batch_norm", True) is False:
        extra += " --no-batch-norm"
    if "lr_tuning" in config:
        extra += " --lr tuned"
    elif config["name"].endswith(f"-lr{config['lr']:g}"):    # an explicit lr (a tuning run)
        extra += f" --lr {config['lr']:g}"
    return (f"python -m wconv denoise --arch {config['arch']} --density {config['density']} "
            f"--kernel-size {config['kernel_size']} --seed {config['seed']} "
            f"--budget {config['budget']}{extra}")


def build(config: dict, channels: int = 3) -> nn.Module:
    """The model of ``config``, initialised from ``config['seed']``.

    A standard and a weighted model (and every control) of the same seed start from the
    same ``W₀``; the control arms (:data:`CONTROLS`) are built from the weighted model.
    """
    from .. import reparam

    torch.manual_seed(config["seed"])
    kwargs = dict(config["model"])
    for k in ("enc_blocks", "dec_blocks"):
        if k in kwargs:
            kwargs[k] = tuple(kwargs[k])
    if config.get("batch_norm", True) is False:
        kwargs["batch_norm"] = False
    if config.get("zero_last", False) and config["arch"] == "dncnn":
        kwargs["zero_last"] = True
    density = config["density"]
    model = build_model(config["arch"], channels=channels, kernel_size=config["kernel_size"],
                        density=config["den"], learnable_density=density == "learnable", **kwargs)
    if density == "head-start":
        model = reparam.standard_equivalent(model, scale_lr=False, inplace=True)
    elif density == "position-lr":
        model = reparam.standard_equivalent(model, scale_init=False, optimizer="adam",
                                            inplace=True)
    return model


# --------------------------------------------------------------------------- data

@functools.lru_cache(maxsize=16)
def _images(files: tuple, color: bool) -> tuple:
    return tuple(dd.load_images(files, color))


def _data(config: dict, root=None):
    """Protocol, training images, validation pairs and test images of ``config``."""
    n_pool = None if config["n_train"] is None else config["n_train"] + config["n_val"]
    p = dd.protocol(config["source"], root, n_train=n_pool, n_test=config["n_test"], seed=0)
    order = torch.randperm(len(p.train), generator=torch.Generator().manual_seed(1)).tolist()
    val_files = tuple(sorted((p.train[i] for i in order[:config["n_val"]]), key=lambda f: f.name))
    train_files = tuple(sorted((p.train[i] for i in order[config["n_val"]:]), key=lambda f: f.name))
    train = _images(train_files, p.color)
    val_clean = [dd.centre_crop(im, config["val_crop"]) for im in _images(val_files, p.color)]
    val_noisy = dd.noisy_images(val_clean, [f.name for f in val_files], 25, seed=0)
    val = [(n[None], dd.to_float(c)[None]) for n, c in zip(val_noisy, val_clean)]
    tests = {name: ([f.name for f in files],
                    [dd.centre_crop(im, config["test_crop"]) for im in _images(files, p.color)])
             for name, files in p.test.items()}
    info = p.to_dict()
    info["train"], info["val"] = [f.name for f in train_files], [f.name for f in val_files]
    return p, train, val, tests, info


def _psnr_metric(output, target):
    return psnr(output.clamp(0, 1), target)


#: Side of the zoomed crop stored with each result for the image panels.
PANEL = 64


def _panel_box(image: torch.Tensor) -> list:
    h, w = image.shape[-2:]
    s = min(PANEL, h, w)
    return [(h - s) // 2, (w - s) // 2, s, s]


def run(config: dict, root=None, results_dir=None, checkpoint_dir=None, progress: bool = True,
        force: bool = False, device=None) -> dict:
    """The result of ``config``: loaded from the store, or trained, tested and stored.

    Returns:
        The stored record: ``config``, ``epochs`` (per-epoch training loss and
        validation PSNR), ``test`` (per test set and sigma: per-image PSNR/SSIM,
        means, and the noisy input's scores), ``panel`` (a zoomed crop of the
        first test image's output at sigma 25, PNG base64), ``data`` (the
        protocol and every file name), times and parameter count.
    """
    results_dir = results_dir_for(config, results_dir)
    if not force:
        record = _results.load(config, results_dir)
        if record is not None:
            return record
    device = torch.device(device) if device is not None else settings.device()
    t0 = time.perf_counter()
    p, train, val, tests, info = _data(config, root)
    patches = dd.RandomPatches(list(train), config["patch"], config["patches_per_epoch"],
                               sigma=tuple(config["train_sigma"]), seed=config["seed"])
    loader = dd.PatchLoader(patches, config["batch_size"], drop_last=True)
    model = build(config, p.channels)
    key = _results.config_key(config)
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else CHECKPOINT_DIR
    ckpt = ckpt / f"{config['name']}-{key}.pt"
    from ..reparam import scale_updates

    out = _train.fit(model, loader, val, loss_fn=nn.functional.mse_loss,
                     metrics={"psnr": _psnr_metric}, epochs=config["epochs"], optimizer="adam",
                     lr=config["lr"], weight_decay=0.0, schedule="cosine", seed=config["seed"],
                     checkpoint=ckpt, checkpoint_key=key, device=device,
                     precision=config["precision"], progress=progress, desc=config["name"],
                     warmup=config.get("warmup"), grad_clip=config.get("grad_clip"),
                     configure_optimizer=(scale_updates if config["density"] == "position-lr"
                                          else None))
    model = model.cpu()
    t_test = time.perf_counter()
    test, panel = {}, None
    for set_name, (names, images) in tests.items():
        clean = [dd.to_float(im) for im in images]
        test[set_name] = {"images": names}
        for sigma in config["test_sigmas"]:
            noisy = dd.noisy_images(images, names, sigma, seed=0)
            scores = evaluate(model, noisy, clean, config["precision"])
            inp = [n.clamp(0, 1) for n in noisy]
            scores["noisy_mean_psnr"] = float(np.mean([float(psnr(a, b)) for a, b in zip(inp, clean)]))
            test[set_name][str(sigma)] = scores
            if panel is None and sigma == 25:
                y, x, h, w = _panel_box(images[0])
                out_img = denoise(model, noisy[0], precision=config["precision"])
                crop = (out_img[:, y:y + h, x:x + w] * 255).round().to(torch.uint8)
                panel = {"test_set": set_name, "image": names[0], "sigma": sigma,
                         "box": [y, x, h, w], "crop_size": config["test_crop"],
                         "psnr": scores["psnr"][0], "png_base64": _results.image_to_text(crop)}
                test_image(config["source"], set_name, names[0], config["test_crop"], root,
                           results_dir)   # the panel's clean pixels, for pages without the data
    record = {"epochs": out["epochs"], "test": test, "panel": panel, "data": info,
              "seed": config["seed"], "wall_time_s": time.perf_counter() - t0,
              "train_time_s": out["train_time_s"], "test_time_s": time.perf_counter() - t_test,
              "patches_per_s": out["images_per_s"], "resumed_from_epoch": out["resumed_from"],
              "parameters": sum(q.numel() for q in model.parameters()),
              "command": command(config)}
    record = _json_safe(record)   # a diverged run's NaN scores are stored as null
    record.update(gain_db=gains(record, config), collapsed=collapsed(dict(record, config=config)),
                  plateau=_json_safe(plateau(dict(record, config=config))))
    _results.save(config, record, results_dir)
    if config["seed"] == 0:   # the models the book's browser panel runs (a few MB in all)
        _export.save_weights(model, config, results_dir)
    ckpt.unlink(missing_ok=True)
    # Return what the store holds, so a fresh and a stored result look exactly alike.
    return _results.load(config, results_dir) or dict(record, config=config)


def initial_psnr(configs, root=None, results_dir=None) -> list[dict]:
    """Mean validation PSNR (σ = 25, dB) of the *untrained* model of each configuration.

    Where training starts: a weighted model's effective kernel ``W ⊙ Φ`` is
    smaller than ``W`` (``Φ <= 1``), which can put its untrained output closer
    to its input than the standard model's. Models run in eval mode on the
    validation crops of :func:`run`.

    Measured once where the data is and kept in the results store (task
    ``denoise-initial``, see :func:`wconv.experiments.results.cached`), so a page without the
    data reads it back.

    Args:
        configs: one configuration or a list of them.
        root: data root; results_dir: as in :func:`run`.

    Returns:
        One ``{'untrained': dB, 'noisy': dB}`` per configuration (a single dict
        for a single configuration); ``noisy`` is the noisy input's own PSNR.
    """
    single = isinstance(configs, dict)
    out, cache = [], {}
    for config in ([configs] if single else configs):
        def measure(config=config):
            key = tuple(config[k] for k in ("source", "n_train", "n_val", "val_crop", "n_test"))
            if key not in cache:
                p, _, val, _, _ = _data(config, root)
                noisy = torch.cat([x for x, _ in val])
                clean = torch.cat([y for _, y in val])
                cache[key] = (p.channels, noisy, clean, float(psnr(noisy.clamp(0, 1), clean).mean()))
            channels, noisy, clean, noisy_psnr = cache[key]
            model = build(config, channels)
            return {"untrained": float(psnr(denoise(model, noisy), clean).mean()), "noisy": noisy_psnr}

        stored = _results.cached({"task": "denoise-initial", "name": config["name"], "run": config},
                                 measure, results_dir_for(config, results_dir))
        out.append({"untrained": stored["untrained"], "noisy": stored["noisy"]})
    return out[0] if single else out


def grid(name: str = "chapter5", budget: str | None = None, seeds=(0, 1, 2), root=None,
         results_dir=None) -> list[dict]:
    """The configurations of a named grid.

    ``chapter5``: DnCNN and NAFNet, 3x3 ``uniform`` and ``paper``, 7x7
    ``uniform``, ``paper`` (the papers' optimum ``[0.25, 0.15, 0.55]``) and
    ``triangular``; every arm with each of ``seeds``, at the budget's learning rate.
    The other names are the runs of :func:`plan` (a final run's configuration needs its
    tuning runs stored: :class:`TuningMissing` otherwise).
    """
    if name not in GRIDS:
        raise ValueError(f"grid must be one of {', '.join(GRIDS)}; got {name!r}")
    if name != "chapter5":
        return [item.config(budget, root, results_dir) for item in plan(name, budget, seeds, root)]
    arms = [(3, "uniform"), (3, "paper"), (7, "uniform"), (7, "paper"), (7, "triangular")]
    return [make_config(arch, d, k, seed, budget, root)
            for seed in seeds for arch in ARCHS for k, d in arms]


def run_grid(configs, progress: bool = True, **kwargs) -> list[dict]:
    """:func:`run` every configuration (stored ones are loaded, the rest trained)."""
    results_dir = kwargs.get("results_dir")
    return _results.run_grid(
        configs, run, lambda c: _results.load(c, results_dir_for(c, results_dir)) is not None,
        progress, **kwargs)


# --------------------------------------------------------------------------- measured properties

#: A run gaining less than this over the noisy input (first test set, σ = 25) has collapsed:
#: its network returns (nearly) its input.
COLLAPSE_DB = 1.0
#: A run is at its plateau when its validation PSNR gains less than ``PLATEAU_DB`` over
#: the last ``PLATEAU_FRACTION`` of its steps.
PLATEAU_DB = 0.1
PLATEAU_FRACTION = 0.2


def steps_per_epoch(config: dict) -> int:
    """Adam steps per epoch of ``config``."""
    return config["patches_per_epoch"] // config["batch_size"]


def total_steps(config: dict) -> int:
    """Adam steps of the whole run of ``config``."""
    return config["epochs"] * steps_per_epoch(config)


def warmup_steps(config: dict) -> int:
    """Warm-up steps of ``config`` (its ``warmup`` fraction of :func:`total_steps`; 0 if unset)."""
    return int(round(config.get("warmup", 0.0) * total_steps(config)))


def _json_safe(value):
    """``value`` with every non-finite float replaced by ``None`` (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _num(value) -> float:
    """A stored number, ``None`` (a diverged run's NaN) read back as NaN."""
    return float("nan") if value is None else float(value)


def gains(record: dict, config: dict | None = None) -> dict:
    """PSNR gain of the output over the noisy input (dB), per test set and σ (``str``);
    ``None`` where the output's PSNR is not a number (a diverged run)."""
    config = config or record["config"]
    out = {}
    for name, per_set in record["test"].items():
        out[name] = {}
        for sg in config["test_sigmas"]:
            g = _num(per_set[str(sg)]["mean_psnr"]) - per_set[str(sg)]["noisy_mean_psnr"]
            out[name][str(sg)] = g if math.isfinite(g) else None
    return out


def collapsed(record: dict, threshold: float = COLLAPSE_DB) -> bool:
    """Whether a run's output is within ``threshold`` dB of its noisy input on the first
    test set at σ = 25: the network learnt to return its input.

    Computed from the test scores, so it applies to records stored before the flag was.

    Example::

        >>> rec = {"test": {"CBSD68": {"25": {"mean_psnr": 20.9, "noisy_mean_psnr": 20.5}}}}
        >>> collapsed(rec), collapsed(rec, threshold=0.3)
        (True, False)
    """
    first = next(iter(record["test"].values()))["25"]
    gain = _num(first["mean_psnr"]) - first["noisy_mean_psnr"]
    return bool(not gain >= threshold)      # a diverged run (NaN) does not denoise either


def curve(record: dict) -> list[tuple[int, float]]:
    """``(steps, validation PSNR at σ = 25)`` after every epoch of a run."""
    n = steps_per_epoch(record["config"])
    return [(e["epoch"] * n, _num(e["val_psnr"])) for e in record["epochs"]]


def plateau(record: dict, tol_db: float = PLATEAU_DB, fraction: float = PLATEAU_FRACTION) -> dict:
    """Whether a run trained to its plateau: validation PSNR gained less than ``tol_db`` over
    the last ``fraction`` of its steps.

    The gain is the last epoch's validation PSNR minus that of the last epoch at or before
    ``(1 - fraction)`` of the steps. A run with one epoch cannot show a plateau (``reached``
    is False). A falling curve counts as a plateau (its fall is what :func:`collapsed` and
    the test scores show).

    Returns:
        ``{'reached', 'gain_db', 'from_step', 'to_step', 'tol_db', 'fraction'}``.

    Example::

        >>> cfg = {"patches_per_epoch": 100, "batch_size": 10}
        >>> rec = {"config": cfg, "epochs": [{"epoch": e, "val_psnr": v}
        ...        for e, v in enumerate([25.0, 27.0, 27.9, 28.0, 28.05], 1)]}
        >>> p = plateau(rec); p["reached"], round(p["gain_db"], 2), p["from_step"]
        (True, 0.05, 40)
    """
    points = curve(record)
    end, last = points[-1]
    start = end * (1 - fraction)
    before = [pt for pt in points[:-1] if pt[0] <= start + 1e-9]
    ref = before[-1] if before else points[0]
    gain = last - ref[1]
    reached = len(points) > 1 and ref[0] < end and math.isfinite(gain) and gain < tol_db
    return {"reached": bool(reached), "gain_db": float(gain), "from_step": ref[0], "to_step": end,
            "tol_db": tol_db, "fraction": fraction}


# --------------------------------------------------------------------------- arms, tuning, plans

@dataclass(frozen=True)
class Arm:
    """One arm of a grid: an architecture, kernel size, density (or control) and BatchNorm."""
    arch: str
    kernel_size: int
    density: str
    batch_norm: bool = True

    @property
    def label(self) -> str:
        """E.g. ``'dncnn 7×7 paper'`` or ``'dncnn 7×7 standard, no BN'``."""
        k = self.kernel_size
        dens = "standard" if self.density == "uniform" else self.density
        return f"{self.arch} {k}×{k} {dens}" + ("" if self.batch_norm else ", no BN")

    def config(self, seed: int = 0, budget: str | None = None, root=None, **kwargs) -> dict:
        """:func:`make_config` of this arm."""
        return make_config(self.arch, self.density, self.kernel_size, seed, budget, root,
                           batch_norm=self.batch_norm, **kwargs)


def arm_of(config: dict) -> Arm:
    """The :class:`Arm` of a configuration."""
    return Arm(config["arch"], config["kernel_size"], config["density"],
               config.get("batch_norm", True))


#: Seed of the tuning runs: none of the final runs' seeds, so that no reported run is one the
#: learning rate was picked on.
TUNE_SEED = 100
#: Learning rates whose tuning scores are within this of the best tie; the smaller one wins.
TIE_DB = 0.05


class TuningMissing(LookupError):
    """A final run's learning rate is asked for before its tuning runs are stored."""


def choose_lr(grid, scores, tie_db: float = TIE_DB) -> float:
    """The learning rate of ``grid`` chosen from its tuning ``scores`` (dB, higher is better).

    The smallest learning rate whose score is within ``tie_db`` of the best: ties go to
    the smaller rate. A missing score (``None`` or NaN: a diverged run) never wins.

    Example::

        >>> choose_lr([3e-4, 1e-3, 3e-3], [28.1, 28.4, 28.43])
        0.001
    """
    grid, scores = list(grid), list(scores)
    if not grid or len(grid) != len(scores):
        raise ValueError(f"need one score per learning rate, got {len(grid)} rates and "
                         f"{len(scores)} scores")
    valid = [(lr, sc) for lr, sc in zip(grid, scores) if sc is not None and math.isfinite(sc)]
    if not valid:
        raise ValueError(f"no finite tuning score among {scores}")
    best = max(sc for _, sc in valid)
    return min(lr for lr, sc in valid if sc >= best - tie_db)


def tuning_score(record: dict) -> float | None:
    """A tuning run's score: its last validation PSNR at σ = 25 (dB); ``None`` if not finite."""
    v = _num(record["epochs"][-1]["val_psnr"])
    return round(v, 4) if math.isfinite(v) else None


def tuning_configs(arm: Arm, budget: str | None = None, root=None) -> list[dict]:
    """The tuning runs of ``arm``: one per learning rate of the budget's ``lr_grid``, seed
    :data:`TUNE_SEED`, ``tune_epochs`` long (each with its own full schedule)."""
    name, b = _budget(budget)
    if b.lr_grid is None:
        raise ValueError(f"budget {name!r} has no lr_grid: its runs use lr={b.lr}")
    return [arm.config(TUNE_SEED, name, root, epochs=b.tune_epochs, lr=lr) for lr in b.lr_grid]


def lr_tuning(arm: Arm, budget: str | None = None, root=None, results_dir=None) -> dict:
    """The learning rate of ``arm``, chosen on the validation images from its stored tuning runs.

    Returns:
        ``{'grid', 'scores', 'choice', 'rule', 'seed', 'epochs', 'runs'}`` (``scores`` aligned
        with ``grid``; ``choice = choose_lr(grid, scores, tie_db)``), which the final runs
        store in their configuration.

    Raises:
        TuningMissing: some tuning runs are not stored; the message names their commands.
    """
    configs = tuning_configs(arm, budget, root)
    where = results_dir_for(configs[0], results_dir)
    records = [_results.load(c, where) for c in configs]
    missing = [c for c, r in zip(configs, records) if r is None]
    if missing:
        cmds = "\n".join(command(c) for c in missing)
        raise TuningMissing(
            f"{arm.label}: {len(missing)} of {len(configs)} learning-rate tuning runs are not "
            f"stored, so its final runs have no learning rate yet. Run them first:\n{cmds}\n"
            f"(or the whole plan, tuning first: python -m wconv denoise --grid study "
            f"--budget {configs[0]['budget']})")
    grid = [c["lr"] for c in configs]
    scores = [tuning_score(r) for r in records]
    return {"grid": grid, "scores": scores, "choice": choose_lr(grid, scores),
            "rule": f"smallest lr within {TIE_DB} dB of the best last validation PSNR (σ = 25)",
            "tie_db": TIE_DB, "seed": TUNE_SEED, "epochs": configs[0]["epochs"],
            "runs": [c["name"] for c in configs]}


def final_config(arm: Arm, seed: int, budget: str | None = None, root=None, results_dir=None,
                 epochs: int | None = None) -> dict:
    """The configuration of a final run of ``arm``: the budget's, with the tuned learning rate
    (and the tuning that chose it) where the budget has an ``lr_grid``."""
    name, b = _budget(budget)
    if b.lr_grid is None:
        return arm.config(seed, name, root, epochs=epochs)
    t = lr_tuning(arm, name, root, results_dir)
    return arm.config(seed, name, root, epochs=epochs, lr=t["choice"], lr_tuning=t)


_D = "dncnn"
#: DnCNN arms, most important first: standard and weighted, 7×7 and 3×3, with and without BN.
DNCNN_ARMS = (Arm(_D, 7, "uniform"), Arm(_D, 7, "paper"), Arm(_D, 3, "uniform"), Arm(_D, 3, "paper"),
              Arm(_D, 7, "uniform", False), Arm(_D, 7, "paper", False), Arm(_D, 3, "uniform", False))
#: The controls of the weighted 7×7 DnCNN (with BN): plain smaller kernels (3×3 is in
#: DNCNN_ARMS), head start, per-position learning rate, learnable density.
CONTROL_ARMS = (Arm(_D, 5, "uniform"), Arm(_D, 7, "head-start"), Arm(_D, 7, "position-lr"),
                Arm(_D, 7, "learnable"))
#: Arms of the regime map (each also at the budget's shorter ``regime_epochs``).
REGIME_ARMS = (Arm(_D, 7, "uniform"), Arm(_D, 7, "paper"), Arm(_D, 7, "uniform", False),
               Arm(_D, 7, "paper", False), Arm(_D, 3, "uniform"), Arm(_D, 7, "head-start"))
#: NAFNet arms.
NAFNET_ARMS = (Arm("nafnet", 7, "uniform"), Arm("nafnet", 7, "paper"),
               Arm("nafnet", 3, "uniform"), Arm("nafnet", 3, "paper"))

#: ``(arm, reference, question)``: the paired comparisons of :func:`comparisons`
#: (difference = arm minus reference, seed by seed).
PAIRS = (
    (Arm(_D, 7, "paper"), Arm(_D, 7, "uniform"), "weighted vs standard, 7×7, BN"),
    (Arm(_D, 7, "paper", False), Arm(_D, 7, "uniform", False), "weighted vs standard, 7×7, no BN"),
    (Arm(_D, 3, "paper"), Arm(_D, 3, "uniform"), "weighted vs standard, 3×3, BN"),
    (Arm(_D, 3, "uniform"), Arm(_D, 7, "paper"), "control (a): plain 3×3 vs weighted 7×7"),
    (Arm(_D, 5, "uniform"), Arm(_D, 7, "paper"), "control (a): plain 5×5 vs weighted 7×7"),
    (Arm(_D, 7, "head-start"), Arm(_D, 7, "paper"), "control (b): head start W₀⊙Φ vs weighted 7×7"),
    (Arm(_D, 7, "position-lr"), Arm(_D, 7, "paper"),
     "control (c): per-position lr·Φ vs weighted 7×7"),
    (Arm(_D, 7, "learnable"), Arm(_D, 7, "paper"), "control (d): learnable density vs fixed, 7×7"),
    (Arm("nafnet", 7, "paper"), Arm("nafnet", 7, "uniform"), "NAFNet weighted vs standard, 7×7"),
    (Arm("nafnet", 3, "paper"), Arm("nafnet", 3, "uniform"), "NAFNet weighted vs standard, 3×3"),
)


@dataclass(frozen=True)
class PlanItem:
    """One run of a plan: a tuning run (``lr`` set), a final run or a regime-map run
    (``epochs`` shorter than the budget's), of ``arm`` and ``seed``."""
    stage: str
    arm: Arm
    seed: int
    epochs: int | None = None
    lr: float | None = None

    def config(self, budget: str | None = None, root=None, results_dir=None) -> dict:
        """The configuration (raises :class:`TuningMissing` for a final run before its tuning)."""
        if self.stage == "tune":
            return self.arm.config(self.seed, budget, root, epochs=self.epochs, lr=self.lr)
        return final_config(self.arm, self.seed, budget, root, results_dir, self.epochs)


#: Named plans (see :func:`plan`); ``chapter5`` is the earlier five-arm grid (no tuning).
GRIDS = ("chapter5", "dncnn", "controls", "regime", "nafnet", "study")


def _block(arms, budget: str, seeds, root) -> list[PlanItem]:
    """Every arm's tuning runs (if the budget tunes), then its final runs seed by seed."""
    b = BUDGETS[budget]
    items = []
    if b.lr_grid is not None:
        for arm in arms:
            items += [PlanItem("tune", arm, c["seed"], c["epochs"] if c["epochs"] != b.epochs
                               else None, c["lr"]) for c in tuning_configs(arm, budget, root)]
    return items + [PlanItem("final", arm, seed) for seed in seeds for arm in arms]


def _regime_block(arms, budget: str, seeds, root) -> list[PlanItem]:
    """The regime arms' tuning runs, then their shorter runs seed by seed, shortest first."""
    lengths = BUDGETS[budget].regime_epochs or ()
    return _block(arms, budget, (), root) + [PlanItem("regime", arm, seed, e) for seed in seeds
                                             for e in lengths for arm in arms]


def plan(name: str = "study", budget: str | None = None, seeds=(0, 1, 2), root=None) -> list[PlanItem]:
    """The runs of a named plan, in the order to run them.

    Order: within each block, every arm's tuning runs, then the final runs seed by seed
    (most important arm first), so a plan stopped half-way has whole comparisons. Blocks:

    * ``dncnn``: :data:`DNCNN_ARMS`;
    * ``controls``: :data:`CONTROL_ARMS` (paired with the weighted 7×7 of ``dncnn``);
    * ``regime``: :data:`REGIME_ARMS` at each of the budget's ``regime_epochs`` (separate
      runs, each with its own warm-up and cosine over its own length; their learning rate
      is the arm's tuned one), shortest first; the budget's own length is the ``dncnn`` runs.
      Separate runs, not one long run read at its checkpoints: a checkpoint at step ``s`` of
      a ``T``-step cosine is a model whose learning rate has not been annealed and whose
      warm-up and schedule were sized for ``T``; it measures "a longer run, interrupted",
      not "a run of ``s`` steps", underestimates the latter, and by different amounts for
      arms that differ in how they take a high learning rate -- the very thing compared.
      The shorter runs cost ``sum(regime_epochs) / epochs`` of a final run each (0.68);
    * ``nafnet``: :data:`NAFNET_ARMS`;
    * ``study``: all four, in this order (items in two blocks are listed once).
    """
    if name not in GRIDS or name == "chapter5":
        raise ValueError(f"plan must be one of {', '.join(GRIDS[1:])}; got {name!r}")
    bname, _ = _budget(budget)
    blocks = {"dncnn": lambda: _block(DNCNN_ARMS, bname, seeds, root),
              "controls": lambda: _block(CONTROL_ARMS, bname, seeds, root),
              "regime": lambda: _regime_block(REGIME_ARMS, bname, seeds, root),
              "nafnet": lambda: _block(NAFNET_ARMS, bname, seeds, root)}
    items, seen = [], set()
    for n in (["dncnn", "controls", "regime", "nafnet"] if name == "study" else [name]):
        for item in blocks[n]():
            if item not in seen:      # a regime arm's tuning runs are listed once
                seen.add(item)
                items.append(item)
    return items


#: Seconds per Adam step of the ``book`` budget per (budget, arch, kernel size), bfloat16 on
#: 2 Xeon cores with AMX, for :func:`estimate_minutes` until a stored run of the same kind
#: tells: DnCNN 7x7 and 3x3 measured on a quiet machine (22.7 and 71 steps/s, batch 16 of
#: 40 x 40, one process); 5x5 and NAFNet estimated from their multiply-adds and the stored
#: float32 ``quick`` runs. Under another process on the same cores they run 2-8x slower.
STEP_SECONDS = {("book", "dncnn", 7): 0.044, ("book", "dncnn", 5): 0.025,
                ("book", "dncnn", 3): 0.014, ("book", "nafnet", 7): 0.07,
                ("book", "nafnet", 3): 0.05}
#: Seconds of a run outside its training steps (loading, validation after every epoch,
#: testing 92 crops at 3 noise levels), estimated likewise.
TEST_SECONDS = {("book", "dncnn", 7): 40.0, ("book", "dncnn", 5): 30.0, ("book", "dncnn", 3): 25.0,
                ("book", "nafnet", 7): 45.0, ("book", "nafnet", 3): 40.0}


def estimate_minutes(config: dict, records=()) -> float | None:
    """Estimated CPU minutes of one run: from stored ``records`` of the same budget,
    architecture, kernel size and model (their training and testing speed), else
    :data:`STEP_SECONDS`/:data:`TEST_SECONDS`; ``None`` when neither knows."""
    kind = (config["budget"], config["arch"], config["kernel_size"])
    same = [r for r in records if (r["config"]["budget"], r["config"]["arch"],
                                   r["config"]["kernel_size"]) == kind
            and r["config"]["model"] == config["model"] and r["config"]["density"] != "learnable"]
    steps = total_steps(config)
    if same:
        step_s = float(np.median([r["train_time_s"] / total_steps(r["config"]) for r in same]))
        test_s = float(np.median([r["wall_time_s"] - r["train_time_s"] for r in same]))
    elif kind in STEP_SECONDS:
        step_s, test_s = STEP_SECONDS[kind], TEST_SECONDS.get(kind, 0.0)
    else:
        return None
    return (steps * step_s + test_s) / 60


def status(name: str = "study", budget: str | None = None, seeds=(0, 1, 2), root=None,
           results_dir=None) -> list[dict]:
    """Where each run of a plan stands, in plan order.

    Returns:
        one ``{'stage', 'name', 'state', 'minutes', 'command'}`` per run; ``state`` is
        ``stored``, ``to run``, ``partial`` (a checkpoint in :data:`CHECKPOINT_DIR`) or
        ``after tuning`` (a final run whose learning rate is not chosen yet: its name, command
        and estimate use the budget's ``lr``).
    """
    items = plan(name, budget, seeds, root)
    rows, known = [], []
    for item in items:
        try:
            config = item.config(budget, root, results_dir)
            waiting = False
        except TuningMissing:
            config = item.arm.config(item.seed, budget, root, epochs=item.epochs)
            waiting = True
        stored = None if waiting else _results.load(config, results_dir_for(config, results_dir))
        if stored is not None:
            known.append(stored)
            state = "stored"
        elif waiting:
            state = "after tuning"
        else:
            ck = CHECKPOINT_DIR / f"{config['name']}-{_results.config_key(config)}.pt"
            state = "partial" if ck.exists() else "to run"
        rows.append({"stage": item.stage, "name": config["name"], "state": state,
                     "config": config, "command": command(config)})
    for row in rows:
        m = estimate_minutes(row.pop("config"), known)
        row["minutes"] = None if m is None else round(m, 1)
    return rows


def format_status(rows) -> str:
    """:func:`status` as text: one line per run, then the totals per state."""
    lines = [f"{'stage':7s} {'state':12s} {'min':>6s}  run"]
    totals = {}
    for r in rows:
        m = "?" if r["minutes"] is None else f"{r['minutes']:.1f}"
        lines.append(f"{r['stage']:7s} {r['state']:12s} {m:>6s}  {r['name']}")
        n, t = totals.get(r["state"], (0, 0.0))
        totals[r["state"]] = (n + 1, t + (r["minutes"] or 0.0))
    for state, (n, t) in totals.items():
        lines.append(f"{state}: {n} runs, about {t:.0f} CPU minutes")
    left = sum(t for state, (n, t) in totals.items() if state != "stored")
    lines.append(f"all: {len(rows)} runs; left to train: about {left / 60:.1f} CPU hours "
                 "(estimates for a quiet 2-core machine)")
    return "\n".join(lines)


def run_plan(name: str = "study", budget: str | None = None, seeds=(0, 1, 2), root=None,
             results_dir=None, progress: bool = True, log=print, **kwargs) -> list[dict]:
    """Run (or load) every run of a plan, in plan order; safe to kill and restart.

    Stored runs are loaded, an interrupted one resumes from its last epoch's checkpoint,
    and a final run's learning rate is chosen when its arm's tuning runs (earlier in the
    plan) are stored. ``log`` gets one line per run.
    """
    records = []
    items = plan(name, budget, seeds, root)
    for i, item in enumerate(items):
        config = item.config(budget, root, results_dir)
        where = results_dir_for(config, results_dir)
        stored = _results.load(config, where)
        record = stored or run(config, root, results_dir, progress=progress, **kwargs)
        records.append(record)
        if log is not None:
            how = "stored" if stored else f"trained in {record['wall_time_s'] / 60:.1f} min"
            flag = " COLLAPSED" if collapsed(record) else ""
            first = next(iter(record["test"]))
            log(f"[{i + 1}/{len(items)}] {item.stage} {config['name']}: {first} σ=25 "
                f"{record['test'][first]['25']['mean_psnr']:.2f} dB{flag} ({how})")
    return records


# --------------------------------------------------------------------------- summaries

def _variant(config) -> tuple:
    return config["arch"], config["kernel_size"], config["density"], config.get("batch_norm", True)


def summary(records) -> list[dict]:
    """Mean ± std over seeds of PSNR and SSIM per variant, test set and sigma.

    A variant is architecture, kernel size, density and BatchNorm. Each weighted variant
    is also compared with the standard (``uniform``) one of the same architecture, kernel
    size and BatchNorm, seed by seed (same initial weights and data): ``dpsnr_mean``/
    ``dpsnr_std`` of the paired differences and the two-sided paired t-test ``p_value``
    (``nan`` with fewer than two pairs). Tuning runs (:func:`is_tuning`) are left out.
    ``collapsed`` counts the variant's runs that
    :func:`collapsed` flags (measured at σ = 25 on the first test set, so the same count
    on every row of the variant); ``gain_mean`` is the mean gain over the noisy input.

    Returns:
        One dict per (variant, test set, sigma), sorted.
    """
    from scipy import stats

    by, flags = {}, {}
    for r in records:
        if is_tuning(r):
            continue
        c = r["config"]
        flags.setdefault(_variant(c), {})[c["seed"]] = collapsed(r)
        for set_name, per_set in r["test"].items():
            for sigma in c["test_sigmas"]:
                s = per_set[str(sigma)]
                by.setdefault((*_variant(c), set_name, sigma), {})[c["seed"]] = s
    rows = []
    for (arch, k, dens, bn, set_name, sigma), seeds in sorted(by.items(), key=lambda kv: (
            kv[0][0], kv[0][4], kv[0][5], not kv[0][3], kv[0][1],
            ARM_DENSITIES.index(kv[0][2]))):
        p = np.array([_num(seeds[s]["mean_psnr"]) for s in sorted(seeds)])
        q = np.array([_num(seeds[s]["mean_ssim"]) for s in sorted(seeds)])
        noisy = np.array([seeds[s]["noisy_mean_psnr"] for s in sorted(seeds)])
        row = {"arch": arch, "kernel_size": k, "density": dens, "batch_norm": bn,
               "test_set": set_name, "sigma": sigma, "runs": len(p), "psnr_mean": float(p.mean()),
               "psnr_std": float(p.std(ddof=1)) if len(p) > 1 else float("nan"),
               "ssim_mean": float(q.mean()),
               "ssim_std": float(q.std(ddof=1)) if len(q) > 1 else float("nan"),
               "noisy_psnr": float(noisy.mean()), "gain_mean": float((p - noisy).mean()),
               "collapsed": sum(flags[(arch, k, dens, bn)].values())}
        ref = by.get((arch, k, "uniform", bn, set_name, sigma))
        if dens != "uniform" and ref:
            common = sorted(set(ref) & set(seeds))
            d = np.array([_num(seeds[s]["mean_psnr"]) - _num(ref[s]["mean_psnr"]) for s in common])
            row["pairs"] = len(d)
            row["dpsnr_mean"] = float(d.mean()) if len(d) else float("nan")
            row["dpsnr_std"] = float(d.std(ddof=1)) if len(d) > 1 else float("nan")
            row["p_value"] = (float(stats.ttest_rel([_num(seeds[s]["mean_psnr"]) for s in common],
                                                    [_num(ref[s]["mean_psnr"]) for s in common]).pvalue)
                              if len(d) > 1 and d.std() > 0 else float("nan"))
        rows.append(row)
    return rows


def _pm(mean, std, digits):
    return f"{mean:.{digits}f}" if math.isnan(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def format_table(rows, test_set: str, sigma=None) -> str:
    """A Markdown table of :func:`summary` rows for one test set (and optionally one sigma)."""
    lines = ["| model | kernel | density | σ | PSNR (dB) | SSIM | Δ PSNR vs standard (dB) | p | runs "
             "| collapsed |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if r["test_set"] != test_set or (sigma is not None and r["sigma"] != sigma):
            continue
        delta = _pm(r["dpsnr_mean"], r["dpsnr_std"], 2) if "dpsnr_mean" in r else "—"
        pv = f"{r['p_value']:.2f}" if "p_value" in r and not math.isnan(r["p_value"]) else "—"
        lines.append(f"| {r['arch']} | {r['kernel_size']}×{r['kernel_size']} | {_dens_label(r)} | "
                     f"{r['sigma']} | {_pm(r['psnr_mean'], r['psnr_std'], 2)} | "
                     f"{_pm(r['ssim_mean'], r['ssim_std'], 4)} | {delta} | {pv} | {r['runs']} | "
                     f"{_collapsed_cell(r)} |")
    return "\n".join(lines)


def _dens_label(r) -> str:
    return r["density"] + ("" if r.get("batch_norm", True) else ", no BN")


def _collapsed_cell(r) -> str:
    n = r.get("collapsed", 0)
    return f"**{n} of {r['runs']}**" if n else "0"


def format_run(record) -> str:
    """A Markdown table of one run's test scores: per test set and sigma, the noisy
    input's PSNR and the output's PSNR and SSIM (whole test set means)."""
    lines = ["| test set | σ | noisy input (dB) | PSNR (dB) | SSIM |", "| --- | --- | --- | --- | --- |"]
    for set_name, per_set in record["test"].items():
        for sigma in record["config"]["test_sigmas"]:
            s = per_set[str(sigma)]
            lines.append(f"| {set_name} ({len(per_set['images'])} images) | {sigma} | "
                         f"{s['noisy_mean_psnr']:.2f} | {s['mean_psnr']:.2f} | {s['mean_ssim']:.4f} |")
    return "\n".join(lines)


def format_wide(rows, test_set: str) -> str:
    """A Markdown table of :func:`summary` rows for one test set: one row per variant,
    PSNR and SSIM (mean ± std over seeds) for every sigma side by side."""
    sigmas = sorted({r["sigma"] for r in rows if r["test_set"] == test_set})
    head = "| model | kernel | density | " + " | ".join(
        f"σ={s} PSNR (dB) | σ={s} SSIM" for s in sigmas) + " | runs | collapsed |"
    lines = [head, "| " + " | ".join(["---"] * (5 + 2 * len(sigmas))) + " |"]
    variants = {}
    for r in rows:
        if r["test_set"] == test_set:
            key = (r["arch"], r["kernel_size"], r["density"], r.get("batch_norm", True))
            variants.setdefault(key, {})[r["sigma"]] = r
    for (arch, k, dens, bn), by_sigma in variants.items():
        cells = []
        for s in sigmas:
            r = by_sigma[s]
            cells += [_pm(r["psnr_mean"], r["psnr_std"], 2), _pm(r["ssim_mean"], r["ssim_std"], 3)]
        runs = min(r["runs"] for r in by_sigma.values())
        lines.append(f"| {arch} | {k}×{k} | {_dens_label(r)} | " + " | ".join(cells)
                     + f" | {runs} | {_collapsed_cell(r)} |")
    return "\n".join(lines)


def _label(config) -> str:
    k = config["kernel_size"]
    dens = "standard" if config["density"] == "uniform" else config["density"]
    return f"{k}×{k} {dens}" + ("" if config.get("batch_norm", True) else ", no BN")


def plot_curves(records, arch: str, ax=None, x: str = "epoch"):
    """Validation PSNR (σ = 25), mean ± std over seeds, one line per variant.

    ``x='epoch'`` or ``'steps'`` (Adam steps); with ``'steps'`` the last
    :data:`PLATEAU_FRACTION` of the steps, where :func:`plateau` measures the gain, is
    shaded and each variant's label says how many of its runs reached the plateau.
    """
    import matplotlib.pyplot as plt

    if x not in ("epoch", "steps"):
        raise ValueError(f"x must be 'epoch' or 'steps', got {x!r}")
    ax = ax or plt.gca()
    groups = {}
    for r in records:
        if r["config"]["arch"] == arch:
            groups.setdefault((_label(r["config"]), total_steps(r["config"])), []).append(r)
    end = 0
    for (label, steps), rs in groups.items():
        a = np.array([[_num(e["val_psnr"]) for e in r["epochs"]] for r in rs])
        n = steps_per_epoch(rs[0]["config"]) if x == "steps" else 1
        xs = np.arange(1, a.shape[1] + 1) * n
        end = max(end, xs[-1])
        m = a.mean(0)
        runs = f"{len(a)} run{'s' if len(a) > 1 else ''}"
        if x == "steps":
            runs += f", {sum(plateau(r)['reached'] for r in rs)} at plateau"
        line, = ax.plot(xs, m, marker="o", ms=3, label=f"{label} ({runs})")
        if len(a) > 1:
            s = a.std(0, ddof=1)
            ax.fill_between(xs, m - s, m + s, color=line.get_color(), alpha=0.2)
    if x == "steps" and end:
        ax.axvspan(end * (1 - PLATEAU_FRACTION), end, color="0.9", zorder=0,
                   label=f"last {PLATEAU_FRACTION:.0%}: plateau if gain < {PLATEAU_DB} dB")
    ax.set_xlabel("epoch" if x == "epoch" else "training steps (Adam)")
    ax.set_ylabel("validation PSNR at σ = 25 (dB)")
    ax.set_title(arch)
    ax.legend(fontsize=8)
    return ax


def plot_sigma(rows, arch: str, test_set: str, ax=None):
    """PSNR gain over the noisy input vs σ, mean ± std over seeds, one line per variant."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    variants = {}
    for r in rows:
        if r["arch"] == arch and r["test_set"] == test_set:
            variants.setdefault((r["kernel_size"], r["density"]), []).append(r)
    for (k, dens), rs in variants.items():
        rs = sorted(rs, key=lambda r: r["sigma"])
        x = [r["sigma"] for r in rs]
        y = [r["psnr_mean"] - r["noisy_psnr"] for r in rs]
        e = [0 if math.isnan(r["psnr_std"]) else r["psnr_std"] for r in rs]
        ax.errorbar(x, y, yerr=e, marker="o", capsize=3,
                    label=f"{k}×{k} {'standard' if dens == 'uniform' else dens}")
    ax.set_xlabel("noise level σ (0–255 scale)")
    ax.set_ylabel("PSNR gain over noisy input (dB)")
    ax.set_title(f"{arch} on {test_set}")
    ax.legend(fontsize=8)
    return ax


# --------------------------------------------------------------------------- the study's analysis

def is_tuning(record: dict) -> bool:
    """A learning-rate tuning run (seed :data:`TUNE_SEED`, explicit ``lr``, no ``lr_tuning``)."""
    c = record["config"]
    b = BUDGETS.get(c["budget"])
    return (b is not None and b.lr_grid is not None and c["seed"] == TUNE_SEED
            and "lr_tuning" not in c)


def is_final(record: dict) -> bool:
    """A final run: the budget's length, and the tuned learning rate where the budget tunes."""
    c = record["config"]
    b = BUDGETS.get(c["budget"])
    if b is None or c["epochs"] != b.epochs:
        return False
    return "lr_tuning" in c if b.lr_grid is not None else c["lr"] == b.lr


def _score(record: dict, test_set: str | None, sigma: int) -> float:
    test_set = test_set or next(iter(record["test"]))
    return _num(record["test"][test_set][str(sigma)]["mean_psnr"])


def _by_arm(records) -> dict:
    out = {}
    for r in records:
        out.setdefault(arm_of(r["config"]), {})[r["config"]["seed"]] = r
    return out


def plateau_table(records, test_set: str | None = None, sigma: int = 25) -> list[dict]:
    """One row per arm of the final runs among ``records``: test PSNR mean ± std, ``n``,
    the noisy input, the gain, how many runs collapsed and how many reached the plateau,
    and the tuned learning rate (``test_set``: default the first of each record)."""
    rows = []
    for arm, seeds in _by_arm([r for r in records if is_final(r)]).items():
        rs = [seeds[k] for k in sorted(seeds)]
        p = np.array([_score(r, test_set, sigma) for r in rs])
        first = test_set or next(iter(rs[0]["test"]))
        noisy = float(np.mean([r["test"][first][str(sigma)]["noisy_mean_psnr"] for r in rs]))
        lrs = sorted({r["config"]["lr"] for r in rs})
        rows.append({"arm": arm, "label": arm.label, "test_set": first, "sigma": sigma,
                     "n": len(p), "psnr_mean": float(p.mean()),
                     "psnr_std": float(p.std(ddof=1)) if len(p) > 1 else float("nan"),
                     "noisy_psnr": noisy, "gain_mean": float(p.mean() - noisy),
                     "collapsed": sum(collapsed(r) for r in rs),
                     "at_plateau": sum(plateau(r)["reached"] for r in rs),
                     "lr": lrs[0] if len(lrs) == 1 else lrs, "steps": total_steps(rs[0]["config"])})
    order = [*DNCNN_ARMS, *CONTROL_ARMS, *NAFNET_ARMS]
    rows.sort(key=lambda r: order.index(r["arm"]) if r["arm"] in order else len(order))
    return rows


def format_plateau_table(rows) -> str:
    """:func:`plateau_table` as Markdown."""
    lines = ["| arm | PSNR (dB) | gain over noisy (dB) | runs | collapsed | at plateau | lr | steps |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lr = f"{r['lr']:g}" if not isinstance(r["lr"], list) else ", ".join(f"{v:g}" for v in r["lr"])
        col = f"**{r['collapsed']}**" if r["collapsed"] else "0"
        lines.append(f"| {r['label']} | {_pm(r['psnr_mean'], r['psnr_std'], 2)} | "
                     f"{r['gain_mean']:+.2f} | {r['n']} | {col} | {r['at_plateau']} of {r['n']} | "
                     f"{lr} | {r['steps']:,} |")
    return "\n".join(lines)


def paired(records, arm: Arm, reference: Arm, test_set: str | None = None, sigma: int = 25,
           final: bool = True) -> dict | None:
    """``arm`` minus ``reference``, seed by seed (same seed: same W₀, patches and noise).

    Returns:
        ``{'arm', 'reference', 'n', 'mean', 'std', 'ci_low', 'ci_high', 'p_value', 'seeds',
        'differences'}`` with the 95 % confidence interval of the mean difference from
        ``scipy.stats.ttest_rel(...).confidence_interval()`` (NaN with fewer than two pairs
        or no spread); ``None`` when no seed has both.
    """
    from scipy import stats

    pool = [r for r in records if is_final(r)] if final else list(records)
    by = _by_arm(pool)
    a, b = by.get(arm, {}), by.get(reference, {})
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return None
    x = np.array([_score(a[s], test_set, sigma) for s in seeds])
    y = np.array([_score(b[s], test_set, sigma) for s in seeds])
    d = x - y
    lo = hi = pv = float("nan")
    if len(d) > 1 and d.std() > 0:
        t = stats.ttest_rel(x, y)
        ci = t.confidence_interval(0.95)
        lo, hi, pv = float(ci.low), float(ci.high), float(t.pvalue)
    return {"arm": arm.label, "reference": reference.label, "n": len(d), "mean": float(d.mean()),
            "std": float(d.std(ddof=1)) if len(d) > 1 else float("nan"), "ci_low": lo,
            "ci_high": hi, "p_value": pv, "seeds": seeds, "differences": d.tolist(),
            "arm_collapsed": sum(collapsed(a[s]) for s in seeds),
            "reference_collapsed": sum(collapsed(b[s]) for s in seeds)}


def comparisons(records, test_set: str | None = None, sigma: int = 25, pairs=PAIRS) -> list[dict]:
    """:func:`paired` for every ``(arm, reference, question)`` of ``pairs`` present in
    ``records``, each with its ``question``."""
    out = []
    for arm, ref, question in pairs:
        d = paired(records, arm, ref, test_set, sigma)
        if d is not None:
            out.append(dict(d, question=question))
    return out


def format_comparisons(rows) -> str:
    """:func:`comparisons` as Markdown."""
    lines = ["| comparison | Δ PSNR (dB) | 95 % CI | p | pairs | collapsed (arm / reference) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        ci = "—" if math.isnan(r["ci_low"]) else f"[{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]"
        pv = "—" if math.isnan(r["p_value"]) else f"{r['p_value']:.3f}"
        lines.append(f"| {r['question']} | {r['mean']:+.2f} | {ci} | {pv} | {r['n']} | "
                     f"{r['arm_collapsed']} / {r['reference_collapsed']} |")
    return "\n".join(lines)


def _seeds(n: int) -> str:
    return f"{n} seed{'s' if n != 1 else ''}"


def verdict(d: dict, unit: str = "dB") -> str:
    """One sentence from a :func:`paired` result: a difference whose 95 % interval holds 0 is
    reported as no measurable difference, as plainly as a gain or a loss."""
    base = f"{d['arm']} vs {d['reference']}: {d['mean']:+.2f} {unit}"
    if math.isnan(d["ci_low"]):
        return (f"{base} over {_seeds(d['n'])} "
                "(too few pairs or no spread for a confidence interval: no verdict).")
    ci = f"95 % CI [{d['ci_low']:+.2f}, {d['ci_high']:+.2f}] {unit}, {_seeds(d['n'])}"
    if d["ci_low"] > 0:
        word = "better"
    elif d["ci_high"] < 0:
        word = "worse"
    else:
        return f"{base} ({ci}): no measurable difference."
    flag = ""
    if d["reference_collapsed"] or d["arm_collapsed"]:
        flag = (f" Careful: {d['reference_collapsed']} reference and {d['arm_collapsed']} arm "
                "runs collapsed.")
    return f"{base} ({ci}): the first is {word}.{flag}"


def regime_points(records, arm: Arm, test_set: str | None = None, sigma: int = 25) -> list[dict]:
    """Test PSNR of ``arm`` against training length: one point per length (its final runs and
    its regime-map runs, each trained with its own full schedule), mean ± std over seeds."""
    by = {}
    for r in records:
        c = r["config"]
        if arm_of(c) != arm or c["seed"] == TUNE_SEED:
            continue
        b = BUDGETS.get(c["budget"])
        tuned = "lr_tuning" in c if b is not None and b.lr_grid is not None else True
        if tuned:
            by.setdefault(total_steps(c), []).append(_score(r, test_set, sigma))
    out = []
    for steps in sorted(by):
        v = np.array(by[steps])
        out.append({"steps": steps, "psnr_mean": float(v.mean()), "n": len(v),
                    "psnr_std": float(v.std(ddof=1)) if len(v) > 1 else float("nan")})
    return out


def crossings(steps, a, b) -> list[float]:
    """Where curve ``a`` crosses curve ``b`` (same ``steps``), on a log-steps axis.

    Between two consecutive lengths where ``a - b`` changes sign, the crossing is
    interpolated linearly in ``log(steps)``; a length where they are equal is a crossing.

    Example::

        >>> crossings([100, 1000, 10000], [25.0, 27.0, 28.0], [20.0, 26.0, 29.0])
        [3162.27766]
    """
    steps, d = list(steps), [x - y for x, y in zip(a, b)]
    out = []
    for i in range(len(d)):
        if d[i] == 0:
            out.append(float(steps[i]))
        elif i + 1 < len(d) and d[i] * d[i + 1] < 0:
            la, lb = math.log(steps[i]), math.log(steps[i + 1])
            t = d[i] / (d[i] - d[i + 1])
            out.append(round(math.exp(la + t * (lb - la)), 5))
    return out


def regime_crossings(records, arm: Arm, reference: Arm, test_set: str | None = None,
                     sigma: int = 25) -> list[float]:
    """Training lengths (steps) where the mean test PSNR of ``arm`` and ``reference`` cross
    (:func:`crossings` over the lengths both have)."""
    pa = {p["steps"]: p["psnr_mean"] for p in regime_points(records, arm, test_set, sigma)}
    pb = {p["steps"]: p["psnr_mean"] for p in regime_points(records, reference, test_set, sigma)}
    common = sorted(set(pa) & set(pb))
    return crossings(common, [pa[s] for s in common], [pb[s] for s in common])


def plot_regime(records, arms=REGIME_ARMS, test_set: str | None = None, sigma: int = 25,
                ax=None, pairs=((Arm(_D, 7, "paper"), Arm(_D, 7, "uniform")),
                                (Arm(_D, 7, "paper", False), Arm(_D, 7, "uniform", False)))):
    """The regime map: test PSNR at ``sigma`` against training steps (log axis), mean ± std
    over seeds, one line per arm; the noisy input as a dashed line; the crossings of each
    ``(arm, reference)`` of ``pairs`` marked with a vertical dotted line."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    noisy = None
    for arm in arms:
        pts = regime_points(records, arm, test_set, sigma)
        if not pts:
            continue
        x = [p["steps"] for p in pts]
        m = np.array([p["psnr_mean"] for p in pts])
        e = np.array([0 if math.isnan(p["psnr_std"]) else p["psnr_std"] for p in pts])
        n = min(p["n"] for p in pts)
        ax.errorbar(x, m, yerr=e, marker="o", capsize=3, label=f"{arm.label} ({n}+ seeds)")
    for r in records:
        first = test_set or next(iter(r["test"]))
        noisy = r["test"][first][str(sigma)]["noisy_mean_psnr"]
        break
    if noisy is not None:
        ax.axhline(noisy, color="0.5", ls="--", lw=1, label=f"noisy input ({noisy:.2f} dB)")
    for a, b in pairs:
        for c in regime_crossings(records, a, b, test_set, sigma):
            ax.axvline(c, color="0.3", ls=":", lw=1)
            ax.annotate(f"{a.label.split(' ', 1)[1]} = {b.label.split(' ', 1)[1]}\nat {c:,.0f} steps",
                        (c, ax.get_ylim()[0]), fontsize=7, rotation=90, va="bottom", ha="right")
    ax.set_xscale("log")
    ax.set_xlabel("training steps (Adam, log scale; each length its own full schedule)")
    ax.set_ylabel(f"test PSNR at σ = {sigma} (dB)")
    ax.set_title(f"regime map, {test_set or 'first test set'}")
    ax.legend(fontsize=7)
    return ax


def papers_setting(records, test_set: str | None = None, sigma: int = 25) -> dict | None:
    """The papers' setting reproduced, as one labelled row: the ``quick`` budget's 7×7 DnCNN
    (the earlier book runs), whose standard baseline collapsed, against its weighted one.

    Returns:
        ``{'label', 'standard', 'weighted', 'delta', 'standard_collapsed', 'n', 'noisy'}``
        (PSNR means over the seeds both have), or ``None`` without such runs.
    """
    quick = [r for r in records if r["config"]["budget"] == "quick" and is_final(r)]
    d = paired(quick, Arm(_D, 7, "paper"), Arm(_D, 7, "uniform"), test_set, sigma)
    if d is None:
        return None
    by = _by_arm(quick)
    std = [_score(by[Arm(_D, 7, "uniform")][s], test_set, sigma) for s in d["seeds"]]
    first = test_set or next(iter(quick[0]["test"]))
    noisy = float(np.mean([r["test"][first][str(sigma)]["noisy_mean_psnr"] for r in quick]))
    c = quick[0]["config"]
    return {"label": (f"the papers' setting: DnCNN {c['dncnn']['depth']} × {c['dncnn']['width']}, "
                      f"{total_steps(c)} steps (quick budget), standard baseline collapsed"),
            "standard": float(np.mean(std)), "weighted": float(np.mean(std) + d["mean"]),
            "delta": d["mean"], "standard_collapsed": d["reference_collapsed"], "n": d["n"],
            "noisy": noisy}


def findings(records, test_set: str | None = None, sigma: int = 25) -> dict[str, str]:
    """Verdict sentences for the chapter, computed from the stored records.

    Keys: ``collapse`` (collapsed final runs per arm), ``plateau`` (runs that did not reach
    it), ``lr_edge`` (arms whose tuned learning rate is an end of the grid, if any),
    ``best_standard`` (against the 29 dB goal and the published 31.2 dB), every
    :data:`PAIRS` question present, ``regime`` (crossing points) and ``papers_setting``.
    A difference whose 95 % CI contains 0 reads "no measurable difference".
    """
    out = {}
    finals = [r for r in records if is_final(r) and r["config"]["budget"] != "quick"]
    table = plateau_table(finals, test_set, sigma)
    bad = [f"{r['label']} ({r['collapsed']} of {r['n']})" for r in table if r["collapsed"]]
    out["collapse"] = (f"No final run collapsed ({sum(r['n'] for r in table)} runs, "
                       f"{len(table)} arms)." if not bad else
                       f"Collapsed final runs (within {COLLAPSE_DB} dB of the noisy input): "
                       + "; ".join(bad) + ".")
    short = [f"{r['label']} ({r['n'] - r['at_plateau']} of {r['n']})" for r in table
             if r["at_plateau"] < r["n"]]
    out["plateau"] = ("Every final run reached its plateau (validation gain < "
                      f"{PLATEAU_DB} dB over the last {PLATEAU_FRACTION:.0%} of steps)."
                      if not short else "Not at the plateau: " + "; ".join(short) + ".")
    edge = sorted({f"{arm_of(r['config']).label} ({r['config']['lr']:g})" for r in finals
                   if "lr_tuning" in r["config"] and r["config"]["lr"] in
                   (min(r["config"]["lr_tuning"]["grid"]), max(r["config"]["lr_tuning"]["grid"]))})
    if edge:
        out["lr_edge"] = ("Learning rates chosen at an end of the grid (a better one may lie "
                          "beyond it): " + "; ".join(edge) + ".")
    std = [r for r in table if r["arm"].density == "uniform" and r["arm"].arch == _D]
    if std:
        best = max(std, key=lambda r: r["psnr_mean"])
        goal = "meets" if best["psnr_mean"] >= 29.0 else "misses"
        out["best_standard"] = (
            f"The best standard DnCNN is {best['label']}: {best['psnr_mean']:.2f} dB on "
            f"{best['test_set']} at σ = {sigma} ({_seeds(best['n'])}); it {goal} the 29.0 dB goal, "
            f"{best['psnr_mean'] - PUBLISHED['cdncnn_cbsd68_sigma25']['psnr']:+.2f} dB from the "
            "published colour DnCNN.")
    for d in comparisons(finals, test_set, sigma):
        out[d["question"]] = verdict(d)
    cross = []
    for a, b in ((Arm(_D, 7, "paper"), Arm(_D, 7, "uniform")),
                 (Arm(_D, 7, "paper", False), Arm(_D, 7, "uniform", False))):
        pa = regime_points(records, a, test_set, sigma)
        if len(pa) > 1 and regime_points(records, b, test_set, sigma):
            c = regime_crossings(records, a, b, test_set, sigma)
            cross.append(f"{a.label} and {b.label} cross at "
                         + ", ".join(f"{x:,.0f}" for x in c) + " steps" if c else
                         f"{a.label} and {b.label} do not cross between {pa[0]['steps']:,} and "
                         f"{pa[-1]['steps']:,} steps")
    if cross:
        out["regime"] = "; ".join(cross) + "."
    ps = papers_setting(records, test_set, sigma)
    if ps is not None:
        out["papers_setting"] = (
            f"In {ps['label']}, weighted minus standard is {ps['delta']:+.2f} dB "
            f"({ps['standard_collapsed']} of {ps['n']} standard runs collapsed, noisy input "
            f"{ps['noisy']:.2f} dB): a gain over a network that returns its input.")
    return out


#: Denoising source -> the data sets (:data:`wconv.experiments.datasets.FOLDERS`) it reads.
DATASETS = {"color": ("bsds500", "cbsd68", "kodak24"), "gray": ("train400", "bsd68", "set12"),
            "div2k": ("div2k-valid",), "div2k-full": ("div2k-train", "div2k-valid")}


def test_image(source: str, test_set: str, image: str, crop: int | None, root=None,
               results_dir=None) -> torch.Tensor:
    """The clean centre crop (``uint8`` ``(C, crop, crop)``) of one test image, as runs score it.

    Read from the image files when they are there and kept in the results store (task
    ``denoise-image``), so that a page without the data still shows the pixels its
    numbers were measured on.
    """
    def read():
        p = dd.protocol(source, root, seed=0)
        files = {f.name: f for f in p.test[test_set]}
        return {"image": _results.image_to_text(dd.centre_crop(dd.load_image(files[image], p.color), crop))}

    config = {"task": "denoise-image", "name": f"{test_set}-{Path(image).stem}-c{crop}",
              "source": source, "test_set": test_set, "image": image, "crop": crop}
    return _results.image_from_text(_results.cached(config, read, results_dir)["image"])


def panel_images(record: dict, root=None) -> dict:
    """Clean, noisy and denoised zoomed crops (``uint8`` ``(C, h, w)``) of a record's panel."""
    c, pnl = record["config"], record["panel"]
    image = test_image(c["source"], pnl["test_set"], pnl["image"], c["test_crop"], root,
                       results_dir_for(c))
    noisy = dd.noisy_images([image], [pnl["image"]], pnl["sigma"], seed=0)[0]
    y, x, h, w = pnl["box"]
    return {"full": image, "clean": image[:, y:y + h, x:x + w],
            "noisy": (noisy[:, y:y + h, x:x + w].clamp(0, 1) * 255).round().to(torch.uint8),
            "output": _results.image_from_text(pnl["png_base64"]), "box": pnl["box"]}


def plot_panel(records: dict, root=None):
    """Figure: the test image with the crop marked, then zoomed clean / noisy / each model.

    Args:
        records: ``{title: record}`` of runs with the same panel (same data and seed).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    first = next(iter(records.values()))
    imgs = panel_images(first, root)

    def show(ax, t):
        a = t.permute(1, 2, 0).numpy()
        ax.imshow(a[..., 0] if a.shape[2] == 1 else a, cmap="gray" if a.shape[2] == 1 else None,
                  vmin=0, vmax=255, interpolation="nearest")
        ax.set_xticks([]), ax.set_yticks([])

    n = 3 + len(records)
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 3.3))
    show(axes[0], imgs["full"])
    y, x, h, w = imgs["box"]
    axes[0].add_patch(Rectangle((x - 0.5, y - 0.5), w, h, fill=False, edgecolor="red", lw=1.5))
    pnl = first["panel"]
    axes[0].set_title(f"{pnl['image']} ({pnl['test_set']})", fontsize=9)
    show(axes[1], imgs["clean"])
    axes[1].set_title("clean (zoom)", fontsize=9)
    show(axes[2], imgs["noisy"])
    axes[2].set_title(f"noisy σ={pnl['sigma']}", fontsize=9)
    for ax, (title, r) in zip(axes[3:], records.items()):
        show(ax, panel_images(r, root)["output"] if r is not first else imgs["output"])
        ax.set_title(f"{title}\n{r['panel']['psnr']:.2f} dB (whole crop)", fontsize=9)
    fig.tight_layout()
    return fig
