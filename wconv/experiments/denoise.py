r"""Denoising experiments: named configurations, models, data, runs, tuning and plans.

A configuration is architecture (``dncnn``, ``nafnet``) x kernel size x density (or control
arm, :data:`CONTROLS`) x BatchNorm x seed x budget. The budget
(:data:`wconv.experiments.denoise_budgets.BUDGETS`: ``smoke``, ``quick``, ``book``, ``full``,
default the active :func:`wconv.settings.profile`) fixes the data, the model size, the recipe
and the training length. :func:`run` loads the stored result of a configuration from
``results/denoise/`` or trains it with :func:`wconv.experiments.train.fit` and stores it;
:func:`command` gives the shell command that reproduces it.

The study (:func:`plan` ``'study'``, budget ``book``): every arm's learning rate is chosen on
the validation images from the budget's ``lr_grid`` (:func:`lr_tuning`, stored tuning runs),
every final run is trained to its plateau and flagged when it collapsed
(:mod:`wconv.experiments.denoise_measures`); the controls (:data:`CONTROL_ARMS`) and the
regime map (:data:`REGIME_ARMS` at the budget's ``regime_epochs``) say where a gap comes from.
:mod:`wconv.experiments.denoise_study` reads it all back from the stored records, and
:mod:`wconv.views.denoising` shows it. Run it with
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
from dataclasses import dataclass
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
from . import tuning
from .configs import check_run
from .denoise_budgets import BUDGETS, estimate_minutes
from .denoise_measures import as_float, collapsed, gains, plateau
from .denoisers import build as build_model
from .denoisers import denoise, evaluate

__all__ = ["ARCHS", "DENSITIES", "CONTROLS", "ARM_DENSITIES", "CHECKPOINT_DIR",
           "SMOKE_RESULTS_DIR", "DATASETS", "PANEL", "results_dir_for", "reference_config",
           "make_config", "command", "build", "load_data", "clipped_psnr", "run", "test_image",
           "grid", "run_grid",
           # arms, tuning, plans
           "Arm", "arm_of", "TUNE_SEED", "TIE_DB", "TuningMissing", "tuning_score",
           "tuning_configs", "lr_tuning", "final_config", "DNCNN_ARMS", "CONTROL_ARMS",
           "REGIME_ARMS", "NAFNET_ARMS", "PlanItem", "GRIDS", "plan", "status", "format_status",
           "stored_records", "run_plan"]

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
#: Denoising source -> the data sets (:data:`wconv.experiments.datasets.FOLDERS`) it reads.
DATASETS = {"color": ("bsds500", "cbsd68", "kodak24"), "gray": ("train400", "bsd68", "set12"),
            "div2k": ("div2k-valid",), "div2k-full": ("div2k-train", "div2k-valid")}


def results_dir_for(config: dict, results_dir=None):
    """``results_dir`` if given; else ``runs/results-smoke`` for smoke runs, else ``results/``."""
    if results_dir is not None:
        return results_dir
    return SMOKE_RESULTS_DIR if config.get("budget") == "smoke" else None


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
    check_run(arch, ARCHS, density, ARM_DENSITIES, kernel_size, seed)
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
            source = dd.resolve_source(source, base)
    body = b.config_fields()
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


def reference_config(root=None) -> dict:
    """The run that measures our DnCNN against the published colour DnCNN.

    A standard 17 x 64 DnCNN with the ``full`` budget's data, patches, batch and
    bfloat16 arithmetic, trained for 12 epochs (6,000 Adam steps; 77 minutes
    measured on 2 Xeon cores with AMX) instead of the budget's 50. Its result is stored
    like any other run; the book reads it and never trains it.
    """
    return make_config("dncnn", "uniform", 3, seed=0, budget="full", root=root, epochs=12)


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


def load_data(config: dict, root=None) -> tuple:
    """The images of ``config``'s protocol, as its runs read them.

    Returns:
        ``(protocol, train, val, tests, info)``: the :class:`wconv.experiments.images.Protocol`;
        the training images (``uint8`` ``(C, H, W)``, validation ones held out); the validation
        pairs ``(noisy, clean)`` (``(1, C, val_crop, val_crop)`` floats, σ = 25, fixed noise);
        ``{test set: (names, centre crops)}``; and the protocol's description with every
        training and validation file name.
    """
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


def clipped_psnr(output, target):
    """The validation metric of every denoising run: PSNR of the output clipped to ``[0, 1]``."""
    return psnr(output.clamp(0, 1), target)


#: Side of the zoomed crop stored with each result for the image panels.
PANEL = 64


def _panel_box(image: torch.Tensor) -> list:
    h, w = image.shape[-2:]
    s = min(PANEL, h, w)
    return [(h - s) // 2, (w - s) // 2, s, s]


def _json_safe(value):
    """``value`` with every non-finite float replaced by ``None`` (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


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
    p, train, val, tests, info = load_data(config, root)
    patches = dd.RandomPatches(list(train), config["patch"], config["patches_per_epoch"],
                               sigma=tuple(config["train_sigma"]), seed=config["seed"])
    loader = dd.PatchLoader(patches, config["batch_size"], drop_last=True)
    model = build(config, p.channels)
    key = _results.config_key(config)
    ckpt = _results.checkpoint_path(config, checkpoint_dir if checkpoint_dir is not None
                                    else CHECKPOINT_DIR)
    from ..reparam import scale_updates

    out = _train.fit(model, loader, val, loss_fn=nn.functional.mse_loss,
                     metrics={"psnr": clipped_psnr}, epochs=config["epochs"], optimizer="adam",
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
              "seed": config["seed"], **_train.wall_times(time.perf_counter() - t0, out),
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


def tuning_score(record: dict) -> float | None:
    """A tuning run's score: its last validation PSNR at σ = 25 (dB); ``None`` if not finite."""
    v = as_float(record["epochs"][-1]["val_psnr"])
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
        with ``grid``; ``choice =`` :func:`wconv.experiments.tuning.choose_lr` ``(grid, scores, tie_db)``), which the final runs
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
    return {"grid": grid, "scores": scores, "choice": tuning.choose_lr(grid, scores, TIE_DB),
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
#: Arms of the plateau check: trained for the budget's ``long_epochs`` too.
LONG_ARMS = (Arm(_D, 7, "uniform"), Arm(_D, 7, "paper"))
#: Arms of the regime map (each also at the budget's shorter ``regime_epochs``).
REGIME_ARMS = (Arm(_D, 7, "uniform"), Arm(_D, 7, "paper"), Arm(_D, 7, "uniform", False),
               Arm(_D, 7, "paper", False), Arm(_D, 3, "uniform"), Arm(_D, 7, "head-start"))
#: NAFNet arms.
NAFNET_ARMS = (Arm("nafnet", 7, "uniform"), Arm("nafnet", 7, "paper"),
               Arm("nafnet", 3, "uniform"), Arm("nafnet", 3, "paper"))

#: ``(arm, reference, question)``: the paired comparisons of :func:`comparisons`
#: (difference = arm minus reference, seed by seed).

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
GRIDS = ("chapter5", "dncnn", "controls", "long", "regime", "nafnet", "study")


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


def _long_block(arms, budget: str, seeds, root) -> list[PlanItem]:
    """The arms' tuning runs, then one ``long_epochs`` run per seed and arm (none without)."""
    epochs = BUDGETS[budget].long_epochs
    return _block(arms, budget, (), root) + ([PlanItem("long", arm, seed, epochs) for seed in seeds
                                              for arm in arms] if epochs else [])


def plan(name: str = "study", budget: str | None = None, seeds=(0, 1, 2), root=None) -> list[PlanItem]:
    """The runs of a named plan, in the order to run them.

    Order: within each block, every arm's tuning runs, then the final runs seed by seed
    (most important arm first), so a plan stopped half-way has whole comparisons. Blocks:

    * ``dncnn``: :data:`DNCNN_ARMS`;
    * ``controls``: :data:`CONTROL_ARMS` (paired with the weighted 7×7 of ``dncnn``);
    * ``long``: :data:`LONG_ARMS` for the budget's ``long_epochs`` (the plateau check: does
      the gap between them outlast a 3x longer training?); points of the regime map too;
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
    * ``study``: all five, in this order (items in two blocks are listed once).
    """
    if name not in GRIDS or name == "chapter5":
        raise ValueError(f"plan must be one of {', '.join(GRIDS[1:])}; got {name!r}")
    bname, _ = _budget(budget)
    blocks = {"dncnn": lambda: _block(DNCNN_ARMS, bname, seeds, root),
              "controls": lambda: _block(CONTROL_ARMS, bname, seeds, root),
              "long": lambda: _long_block(LONG_ARMS, bname, seeds, root),
              "regime": lambda: _regime_block(REGIME_ARMS, bname, seeds, root),
              "nafnet": lambda: _block(NAFNET_ARMS, bname, seeds, root)}
    items, seen = [], set()
    for n in (["dncnn", "controls", "long", "regime", "nafnet"] if name == "study" else [name]):
        for item in blocks[n]():
            if item not in seen:      # a regime arm's tuning runs are listed once
                seen.add(item)
                items.append(item)
    return items

def status(name: str = "study", budget: str | None = None, seeds=(0, 1, 2), root=None,
           results_dir=None) -> list[dict]:
    """Where each run of a plan stands, in plan order.

    Returns:
        one ``{'stage', 'arm', 'name', 'state', 'minutes', 'command'}`` per run; ``state`` is
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
            partial = _results.checkpoint_path(config, CHECKPOINT_DIR).exists()
            state = "partial" if partial else "to run"
        rows.append({"stage": item.stage, "arm": item.arm, "name": config["name"], "state": state,
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


def stored_records(name: str = "study", budget: str | None = None, seeds=(0, 1, 2), root=None,
                   results_dir=None) -> list[dict]:
    """The stored records of a plan (or of the ``chapter5`` grid), in plan order; trains nothing.

    Runs not stored yet, and final runs whose arm's tuning is not stored, are left out
    (:func:`status` lists them): what a page shows while the plan is still training.
    """
    if name == "chapter5":
        configs = grid(name, budget, seeds, root)
    else:
        configs = []
        for item in plan(name, budget, seeds, root):
            try:
                configs.append(item.config(budget, root, results_dir))
            except TuningMissing:
                pass
    found = (_results.load(c, results_dir_for(c, results_dir)) for c in configs)
    return [r for r in found if r is not None]


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
