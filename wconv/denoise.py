r"""Denoising experiments: named configurations, stored results, tables and figures.

A configuration is architecture (``dncnn``, ``nafnet``) x kernel size x
density x seed x budget. The budget (:data:`BUDGETS`: ``smoke``, ``book``,
``full``, default the active :func:`wconv.settings.profile`) fixes the data,
the model size and the training length. :func:`run` loads the stored result of
a configuration from ``results/denoise/`` or trains it with
:func:`wconv.train.fit` and stores it; :func:`command` gives the shell command
that reproduces it.

Protocol of every run:

* data: :func:`wconv.denoise_data.protocol` with the budget's ``source``
  (``'auto'``: the reduced DIV2K protocol when DIV2K's validation images are
  on disk, else the colour sets -- BSDS500 train+test for training, CBSD68 and
  Kodak24 for testing); a seeded subset of training images, of which
  ``n_val`` are held out for validation (the curves), never the test images;
* training: blind Gaussian noise with a level drawn per patch from
  ``train_sigma`` (DnCNN-B style), random ``patch x patch`` crops redrawn every
  epoch, MSE loss, Adam with a cosine schedule;
* test: every test image (a seeded subset of ``n_test`` per set, centre-cropped
  to ``test_crop`` if set) with fixed noise at each ``sigma`` of
  :data:`wconv.denoise_data.SIGMAS`; PSNR and SSIM of the output clipped to
  ``[0, 1]`` (:mod:`wconv.metrics`).

A standard and a weighted model with the same seed start from the same
weights and see the same patches and noise.

Example::

    >>> cfg = make_config("dncnn", "paper", kernel_size=7, seed=0, budget="smoke")
    >>> cfg["den"]
    [0.25, 0.15, 0.55]
    >>> command(cfg)
    'python -m wconv.denoise --arch dncnn --density paper --kernel-size 7 --seed 0 --budget smoke'
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

from . import denoise_data as dd
from . import density as _density
from . import results as _results
from . import settings
from . import train as _train
from .denoise_models import build as build_model
from .denoise_models import denoise, evaluate
from .metrics import psnr

__all__ = ["Budget", "BUDGETS", "ARCHS", "DENSITIES", "make_config", "command", "build", "run",
           "grid", "run_grid", "summary", "format_table", "format_run", "format_wide", "plot_curves", "plot_sigma",
           "plot_panel", "panel_images", "test_image", "DATASETS", "results_dir_for", "initial_psnr", "CHECKPOINT_DIR", "SMOKE_RESULTS_DIR",
           "PUBLISHED", "reference_config"]

ARCHS = ("dncnn", "nafnet")
#: Density names (as in :func:`wconv.models.named_density`).
DENSITIES = ("uniform", "paper", "gaussian", "triangular")
#: Where unfinished runs keep their checkpoints (git-ignored).
CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "runs" / "denoise"
#: Where ``smoke`` results go by default (git-ignored): they check the code, not the science.
SMOKE_RESULTS_DIR = Path(__file__).resolve().parent.parent / "runs" / "results-smoke"


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
class Budget:
    """How much work one run does.

    Attributes:
        source: data protocol (:data:`wconv.denoise_data.SOURCES`).
        n_train: training images (a seeded subset; ``None``: all), validation excluded.
        n_val: held-out training-pool images for validation curves.
        val_crop: centre crop of the validation images.
        n_test: test images per test set (seeded subset; ``None``: all).
        test_crop: centre crop of test images (``None``: whole images).
        patch, batch_size, patches_per_epoch, epochs, lr: training.
        train_sigma: ``(low, high)`` range of the blind training noise (0--255 scale).
        precision: arithmetic of training and testing (:data:`wconv.train.PRECISIONS`).
        dncnn, nafnet: model sizes (keyword arguments of the classes).
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


#: Named budgets, one per :data:`wconv.settings.PROFILES` entry.
BUDGETS = {
    # seconds: a check that everything runs end to end, not a measurement
    "smoke": Budget(source="auto", n_train=3, n_val=1, val_crop=32, n_test=2, test_crop=48,
                    patch=24, batch_size=8, patches_per_epoch=16, epochs=1,
                    dncnn={"depth": 3, "width": 8},
                    nafnet={"width": 8, "enc_blocks": [1], "middle_blocks": 1, "dec_blocks": [1]}),
    # the book's grid on a 2-core CPU in about 20 minutes
    "book": Budget(source="auto", n_train=40, n_val=4, val_crop=96, n_test=12, test_crop=192,
                   patch=40, batch_size=16, patches_per_epoch=640, epochs=6,
                   dncnn={"depth": 7, "width": 16},
                   nafnet={"width": 12, "enc_blocks": [1, 1], "middle_blocks": 1,
                           "dec_blocks": [1, 1]}),
    # the papers' scale: DnCNN 17x64, NAFNet of the paper's SIDD size; for a GPU or an
    # AMX CPU (bfloat16 autocast: DnCNN 17x64 measured 6.4 min per epoch on 2 Xeon cores)
    "full": Budget(source="auto", n_train=None, n_val=10, val_crop=256, n_test=None,
                   test_crop=None, patch=50, batch_size=64, patches_per_epoch=64 * 500,
                   epochs=50, precision="bfloat16", dncnn={"depth": 17, "width": 64},
                   nafnet={"width": 32, "enc_blocks": [2, 2, 4, 8], "middle_blocks": 12,
                           "dec_blocks": [2, 2, 2, 2]}),
}


def _budget(name):
    return settings.budget(name, BUDGETS)


def _den(name: str, kernel_size: int):
    """The ``den`` list (outermost first) of a named density, or ``None`` for uniform."""
    from .models import named_density

    d = named_density(name, kernel_size)
    if d is None:
        return None
    p = _density.profile(d, kernel_size)[: (kernel_size - 1) // 2]
    return [round(float(v), 6) for v in p]


def make_config(arch: str = "dncnn", density: str = "paper", kernel_size: int = 3, seed: int = 0,
                budget: str | None = None, root=None, epochs: int | None = None) -> dict:
    """The full configuration of one run, as stored with its result.

    Args:
        arch: ``'dncnn'`` or ``'nafnet'``.
        density: one of :data:`DENSITIES` (``uniform`` is the standard convolution).
        kernel_size: 3, 5 or 7.
        seed: initial weights, patches and training noise (the data subset is fixed).
        budget: one of :data:`BUDGETS`; default the active profile.
        root: data root, used to resolve ``source='auto'`` (DIV2K present or not).
        epochs: train this many epochs instead of the budget's (the cosine schedule
            spans them); the run's name then ends in ``-e<epochs>``.
    """
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}; got {arch!r}")
    if density not in DENSITIES:
        raise ValueError(f"density must be one of {', '.join(DENSITIES)}; got {density!r}")
    if kernel_size not in (3, 5, 7):
        raise ValueError(f"kernel_size must be 3, 5 or 7; got {kernel_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1):
        raise ValueError(f"epochs must be a positive integer or None, got {epochs!r}")
    name, b = _budget(budget)
    source = b.source
    if source == "auto":   # DIV2K when on disk (all 900 images for the full budget), else colour
        base = settings.data_root(root)
        if name == "full" and dd.div2k_folder("train", base) and dd.div2k_folder("valid", base):
            source = "div2k-full"
        else:
            source = "div2k" if dd.div2k_folder("valid", base) else "color"
    body = asdict(b)
    body["source"] = source
    body["train_sigma"] = list(b.train_sigma)
    suffix = ""
    if epochs is not None and epochs != b.epochs:
        body["epochs"], suffix = epochs, f"-e{epochs}"
    return {"task": "denoise", "name": f"{arch}-k{kernel_size}-{density}-s{seed}-{name}{suffix}",
            "arch": arch, "density": density, "den": _den(density, kernel_size),
            "kernel_size": kernel_size, "seed": seed, "budget": name, **body,
            "model": body[arch], "test_sigmas": list(dd.SIGMAS), "format": 1}


def command(config: dict) -> str:
    """The shell command that reproduces ``config`` (run from the repository root)."""
    epochs = config["epochs"]
    extra = "" if epochs == BUDGETS[config["budget"]].epochs else f" --epochs {epochs}"
    return (f"python -m wconv.denoise --arch {config['arch']} --density {config['density']} "
            f"--kernel-size {config['kernel_size']} --seed {config['seed']} "
            f"--budget {config['budget']}{extra}")


def build(config: dict, channels: int = 3) -> nn.Module:
    """The model of ``config``, initialised from ``config['seed']``."""
    torch.manual_seed(config["seed"])
    kwargs = dict(config["model"])
    for k in ("enc_blocks", "dec_blocks"):
        if k in kwargs:
            kwargs[k] = tuple(kwargs[k])
    return build_model(config["arch"], channels=channels, kernel_size=config["kernel_size"],
                       density=config["den"], **kwargs)


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
    out = _train.fit(model, loader, val, loss_fn=nn.functional.mse_loss,
                     metrics={"psnr": _psnr_metric}, epochs=config["epochs"], optimizer="adam",
                     lr=config["lr"], weight_decay=0.0, schedule="cosine", seed=config["seed"],
                     checkpoint=ckpt, checkpoint_key=key, device=device,
                     precision=config["precision"], progress=progress, desc=config["name"])
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
    _results.save(config, record, results_dir)
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
    ``denoise-initial``, see :func:`wconv.results.cached`), so a page without the
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


#: Named grids of configurations.
GRIDS = ("chapter5",)


def grid(name: str = "chapter5", budget: str | None = None, seeds=(0, 1, 2), root=None) -> list[dict]:
    """The configurations of a named grid.

    ``chapter5``: DnCNN and NAFNet, 3x3 ``uniform`` and ``paper``, 7x7
    ``uniform``, ``paper`` (the papers' optimum ``[0.25, 0.15, 0.55]``) and
    ``triangular``; every arm with each of ``seeds``.
    """
    if name not in GRIDS:
        raise ValueError(f"grid must be one of {', '.join(GRIDS)}; got {name!r}")
    arms = [(3, "uniform"), (3, "paper"), (7, "uniform"), (7, "paper"), (7, "triangular")]
    return [make_config(arch, d, k, seed, budget, root)
            for seed in seeds for arch in ARCHS for k, d in arms]


def run_grid(configs, progress: bool = True, **kwargs) -> list[dict]:
    """:func:`run` every configuration (stored ones are loaded, the rest trained)."""
    results_dir = kwargs.get("results_dir")
    return _results.run_grid(
        configs, run, lambda c: _results.load(c, results_dir_for(c, results_dir)) is not None,
        progress, **kwargs)


# --------------------------------------------------------------------------- summaries

def _variant(config) -> tuple:
    return config["arch"], config["kernel_size"], config["density"]


def summary(records) -> list[dict]:
    """Mean ± std over seeds of PSNR and SSIM per variant, test set and sigma.

    Each weighted variant is also compared with the standard (``uniform``) one
    of the same architecture and kernel size, seed by seed (same initial
    weights and data): ``dpsnr_mean``/``dpsnr_std`` of the paired differences
    and the two-sided paired t-test ``p_value`` (``nan`` with fewer than two
    pairs).

    Returns:
        One dict per (variant, test set, sigma), sorted.
    """
    from scipy import stats

    by = {}
    for r in records:
        c = r["config"]
        for set_name, per_set in r["test"].items():
            for sigma in c["test_sigmas"]:
                s = per_set[str(sigma)]
                by.setdefault((*_variant(c), set_name, sigma), {})[c["seed"]] = s
    rows = []
    for (arch, k, dens, set_name, sigma), seeds in sorted(by.items(), key=lambda kv: (
            kv[0][0], kv[0][3], kv[0][4], kv[0][1], DENSITIES.index(kv[0][2]))):
        p = np.array([seeds[s]["mean_psnr"] for s in sorted(seeds)])
        q = np.array([seeds[s]["mean_ssim"] for s in sorted(seeds)])
        row = {"arch": arch, "kernel_size": k, "density": dens, "test_set": set_name,
               "sigma": sigma, "runs": len(p), "psnr_mean": float(p.mean()),
               "psnr_std": float(p.std(ddof=1)) if len(p) > 1 else float("nan"),
               "ssim_mean": float(q.mean()),
               "ssim_std": float(q.std(ddof=1)) if len(q) > 1 else float("nan"),
               "noisy_psnr": float(np.mean([v["noisy_mean_psnr"] for v in seeds.values()]))}
        ref = by.get((arch, k, "uniform", set_name, sigma))
        if dens != "uniform" and ref:
            common = sorted(set(ref) & set(seeds))
            d = np.array([seeds[s]["mean_psnr"] - ref[s]["mean_psnr"] for s in common])
            row["pairs"] = len(d)
            row["dpsnr_mean"] = float(d.mean()) if len(d) else float("nan")
            row["dpsnr_std"] = float(d.std(ddof=1)) if len(d) > 1 else float("nan")
            row["p_value"] = (float(stats.ttest_rel([seeds[s]["mean_psnr"] for s in common],
                                                    [ref[s]["mean_psnr"] for s in common]).pvalue)
                              if len(d) > 1 and d.std() > 0 else float("nan"))
        rows.append(row)
    return rows


def _pm(mean, std, digits):
    return f"{mean:.{digits}f}" if math.isnan(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def format_table(rows, test_set: str, sigma=None) -> str:
    """A Markdown table of :func:`summary` rows for one test set (and optionally one sigma)."""
    lines = ["| model | kernel | density | σ | PSNR (dB) | SSIM | Δ PSNR vs standard (dB) | p | runs |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if r["test_set"] != test_set or (sigma is not None and r["sigma"] != sigma):
            continue
        delta = _pm(r["dpsnr_mean"], r["dpsnr_std"], 2) if "dpsnr_mean" in r else "—"
        pv = f"{r['p_value']:.2f}" if "p_value" in r and not math.isnan(r["p_value"]) else "—"
        lines.append(f"| {r['arch']} | {r['kernel_size']}×{r['kernel_size']} | {r['density']} | "
                     f"{r['sigma']} | {_pm(r['psnr_mean'], r['psnr_std'], 2)} | "
                     f"{_pm(r['ssim_mean'], r['ssim_std'], 4)} | {delta} | {pv} | {r['runs']} |")
    return "\n".join(lines)


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
        f"σ={s} PSNR (dB) | σ={s} SSIM" for s in sigmas) + " | runs |"
    lines = [head, "| " + " | ".join(["---"] * (4 + 2 * len(sigmas))) + " |"]
    variants = {}
    for r in rows:
        if r["test_set"] == test_set:
            variants.setdefault((r["arch"], r["kernel_size"], r["density"]), {})[r["sigma"]] = r
    for (arch, k, dens), by_sigma in variants.items():
        cells = []
        for s in sigmas:
            r = by_sigma[s]
            cells += [_pm(r["psnr_mean"], r["psnr_std"], 2), _pm(r["ssim_mean"], r["ssim_std"], 3)]
        runs = min(r["runs"] for r in by_sigma.values())
        lines.append(f"| {arch} | {k}×{k} | {dens} | " + " | ".join(cells) + f" | {runs} |")
    return "\n".join(lines)


def _label(config) -> str:
    k = config["kernel_size"]
    return f"{k}×{k} {'standard' if config['density'] == 'uniform' else config['density']}"


def plot_curves(records, arch: str, ax=None):
    """Validation PSNR (σ = 25) per epoch, mean ± std over seeds, one line per variant."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    groups = {}
    for r in records:
        if r["config"]["arch"] == arch:
            groups.setdefault(_label(r["config"]), []).append([e["val_psnr"] for e in r["epochs"]])
    for label, curves in groups.items():
        a = np.array(curves)
        x = np.arange(1, a.shape[1] + 1)
        m = a.mean(0)
        runs = f"{len(a)} run{'s' if len(a) > 1 else ''}"
        line, = ax.plot(x, m, marker="o", label=f"{label} ({runs})")
        if len(a) > 1:
            s = a.std(0, ddof=1)
            ax.fill_between(x, m - s, m + s, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("epoch")
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


#: Denoising source -> the data sets (:data:`wconv.datasets.FOLDERS`) it reads.
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


# --------------------------------------------------------------------------- command line

def main(argv=None) -> int:
    """``python -m wconv.denoise ...``: the same as ``python -m wconv denoise ...``."""
    import sys

    from .__main__ import main as cli

    return cli(["denoise", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
