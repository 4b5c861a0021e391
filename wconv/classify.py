r"""Classification experiments on reduced CIFAR-100: named configurations, stored results.

A configuration is architecture x density x kernel size x seed x budget. The
budget (:data:`BUDGETS`: ``smoke``, ``book``, ``full``, default the active
:func:`wconv.settings.profile`) fixes the data size, width, epochs and
optimiser. :func:`run` loads the stored result of a configuration from
``results/`` or trains it and stores it; :func:`command` gives the shell
command that reproduces it.

Densities (see :func:`wconv.models.named_density`): ``uniform`` (standard
convolution), ``paper``, ``gaussian``, ``triangular``, and the control
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

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from . import data as _data
from . import models as _models
from . import results as _results
from . import settings
from . import train as _train

__all__ = ["Budget", "BUDGETS", "ARMS", "ARCHS", "GRIDS", "make_config", "command", "run",
           "grid", "run_grid", "build", "compare_throughput", "CHECKPOINT_DIR", "grid_command",
           "summarize", "paired", "summary_markdown", "paired_markdown", "plot_learning_curves",
           "plot_paired"]

#: Density arms of the experiments; ``reparam`` is the control described above.
ARMS = ("uniform", "paper", "gaussian", "triangular", "reparam")
#: Architectures of the experiments (all of :data:`wconv.models.ARCHITECTURES` work).
ARCHS = tuple(_models.ARCHITECTURES)
#: Where interrupted runs keep their checkpoints (git-ignored).
CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "runs" / "classify"


@dataclass(frozen=True)
class Budget:
    """How much work one run does.

    Attributes:
        n_per_class: CIFAR-100 training images per class, validation included.
        val_per_class: of those, validation images per class.
        test_per_class: test images per class (``None``: all 100).
        epochs, batch_size, lr, momentum, weight_decay, schedule, optimizer: training.
        width: channel multiplier of the architectures.
        augment: random crop (padding 4) and horizontal flip.
    """

    n_per_class: int
    val_per_class: int
    test_per_class: int | None
    epochs: int
    width: float
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    optimizer: str = "sgd"
    augment: bool = True


#: Named budgets, one per :data:`wconv.settings.PROFILES` entry.
BUDGETS = {
    # seconds: a check that everything runs end to end, not a measurement
    "smoke": Budget(n_per_class=6, val_per_class=2, test_per_class=2, epochs=2, width=0.125,
                    batch_size=64),
    # the book's grid on a 2-core CPU in about 20 minutes
    "book": Budget(n_per_class=60, val_per_class=10, test_per_class=None, epochs=8, width=0.25,
                   batch_size=64),
    # the papers' scale: all 500 images per class, full width; for a GPU
    "full": Budget(n_per_class=500, val_per_class=50, test_per_class=None, epochs=100, width=1.0,
                   batch_size=128, lr=0.1),
}


def _budget(name):
    return settings.budget(name, BUDGETS)


def make_config(arch: str = "vgg11", density: str = "paper", kernel_size: int = 3, seed: int = 0,
                budget: str | None = None) -> dict:
    """The full configuration of one run, as stored with its result.

    Args:
        arch: one of :data:`ARCHS`.
        density: one of :data:`ARMS`.
        kernel_size: 3, 5 or 7.
        seed: initial weights, data subset and data order; two runs with the same
            seed and different densities start from the same ``W₀`` and see the
            same batches.
        budget: one of :data:`BUDGETS`; default the active profile.
    """
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}; got {arch!r}")
    if density not in ARMS:
        raise ValueError(f"density must be one of {', '.join(ARMS)}; got {density!r}")
    if kernel_size not in _models.KERNEL_SIZES:
        raise ValueError(f"kernel_size must be one of {_models.KERNEL_SIZES}; got {kernel_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    name, b = _budget(budget)
    layer_density = _models.named_density("paper" if density == "reparam" else density, kernel_size)
    return {"task": "classify", "name": f"{arch}-k{kernel_size}-{density}-s{seed}-{name}",
            "arch": arch, "density": density, "density_value": repr(layer_density),
            "kernel_size": kernel_size, "seed": seed, "budget": name, **asdict(b),
            "dataset": "CIFAR-100", "format": 1}


def _threads_prefix(threads) -> str:
    return "" if threads is None else f"OMP_NUM_THREADS={int(threads)} "


def command(config: dict, threads: int | None = None) -> str:
    """The shell command that reproduces ``config`` (run from the repository root).

    CPU results depend on the thread count through the order of floating-point
    sums; give ``threads`` (a stored record's ``environment['threads']``) to pin it.
    """
    return (f"{_threads_prefix(threads)}python -m wconv train --arch {config['arch']} --density {config['density']} "
            f"--kernel-size {config['kernel_size']} --seed {config['seed']} "
            f"--budget {config['budget']}")


def build(config: dict) -> nn.Module:
    """The model of ``config``, initialised from ``config['seed']``."""
    torch.manual_seed(config["seed"])
    density = config["density"]
    if density == "reparam":
        from .reparam import standard_equivalent

        weighted = _models.build_model(config["arch"], 100, config["kernel_size"], "paper",
                                       config["width"])
        return standard_equivalent(weighted, inplace=True)
    return _models.build_model(config["arch"], 100, config["kernel_size"], density, config["width"])


def run(config: dict, root=None, results_dir=None, checkpoint_dir=None, progress: bool = True,
        force: bool = False, device=None) -> dict:
    """The result of ``config``: loaded from the store, or trained and stored.

    Args:
        config: from :func:`make_config`.
        root: data root (see :func:`wconv.settings.data_root`).
        results_dir: results store (default the repository's ``results/``).
        checkpoint_dir: where checkpoints of unfinished runs live (default ``runs/classify``).
        progress: tqdm progress bar while training.
        force: train even if a stored result exists (and overwrite it).

    Returns:
        The stored record: ``config``, ``epochs`` (per-epoch metrics), ``final``,
        ``data``, ``wall_time_s``, ``environment``, ...
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
    out = _train.fit(model, train_loader, val_loader, loss_fn=nn.functional.cross_entropy,
                     metrics=_train.accuracy_metrics(), epochs=config["epochs"],
                     optimizer=config["optimizer"], lr=config["lr"], momentum=config["momentum"],
                     weight_decay=config["weight_decay"], schedule=config["schedule"],
                     seed=config["seed"], test_loader=test_loader, checkpoint=ckpt,
                     checkpoint_key=key, device=device, progress=progress,
                     desc=config["name"])
    record = {"epochs": out["epochs"], "final": out["final"], "data": d.info,
              "seed": config["seed"], "wall_time_s": time.perf_counter() - t0,
              "train_time_s": out["train_time_s"], "images_per_s": out["images_per_s"],
              "resumed_from_epoch": out["resumed_from"], "world_size": world,
              "parameters": sum(p.numel() for p in model.parameters()),
              "command": command(config)}
    if _train.is_main_process():
        _results.save(config, record, results_dir)
        ckpt.unlink(missing_ok=True)
    record = dict(record, config=config)
    return record


#: Named grids of configurations (``python -m wconv train --grid NAME``).
GRIDS = ("chapter4",)


def grid(name: str = "chapter4", budget: str | None = None, seeds=(0, 1, 2)) -> list[dict]:
    """The configurations of a named grid.

    ``chapter4``: VGG-11 and ResNet-20 at 3x3 with all :data:`ARMS`, and VGG-11
    at 5x5 with ``uniform``, ``paper``, ``gaussian`` and ``triangular``; every
    arm with each of ``seeds``.
    """
    if name not in GRIDS:
        raise ValueError(f"grid must be one of {', '.join(GRIDS)}; got {name!r}")
    configs = []
    for seed in seeds:  # seed by seed, 3x3 first: a partial grid is still a paired design
        for arch in ("vgg11", "resnet20"):
            for arm in ARMS:
                configs.append(make_config(arch, arm, 3, seed, budget))
    for seed in seeds:
        for arm in ARMS[:4]:
            configs.append(make_config("vgg11", arm, 5, seed, budget))
    return configs


def run_grid(configs, progress: bool = True, **kwargs) -> list[dict]:
    """:func:`run` every configuration (stored ones are loaded, the rest trained)."""
    results_dir = kwargs.get("results_dir")
    return _results.run_grid(configs, run, lambda c: _results.load(c, results_dir) is not None,
                             progress, **kwargs)


def compare_throughput(arch: str = "vgg11", kernel_size: int = 3, density: str = "paper",
                       budget: str | None = None, steps: int = 10, rounds: int = 5,
                       device=None) -> dict:
    """Training images/s of the standard and the weighted model, side by side.

    Both models are built as in :func:`build` with the budget's width and batch
    size; see :func:`wconv.train.throughput`. Returns ``{'standard': ips,
    'weighted': ips, 'ratio': weighted / standard, ...}``.
    """
    _, b = _budget(budget)
    torch.manual_seed(0)
    standard = _models.build_model(arch, 100, kernel_size, None, b.width)
    weighted = _models.build_model(arch, 100, kernel_size, density, b.width)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(b.batch_size, 3, 32, 32, generator=g)
    y = torch.randint(0, 100, (b.batch_size,), generator=g)
    r = _train.throughput({"standard": standard, "weighted": weighted}, lambda: (x, y),
                          nn.functional.cross_entropy, steps=steps, rounds=rounds, device=device)
    return {"standard": r["standard"], "weighted": r["weighted"], "ratio": r["ratio/weighted"],
            "arch": arch, "kernel_size": kernel_size, "density": density,
            "batch_size": b.batch_size, "width": b.width, "threads": torch.get_num_threads()}


# --------------------------------------------------------------------------- analysis

def grid_command(name: str = "chapter4", budget: str | None = None, seeds=(0, 1, 2),
                 threads: int | None = None) -> str:
    """The shell command that trains (or loads) a whole named grid (``threads``: see :func:`command`)."""
    budget, _ = _budget(budget)
    return (f"{_threads_prefix(threads)}python -m wconv train --grid {name} --budget {budget} --seeds "
            + " ".join(str(s) for s in seeds))


def _group_key(record) -> tuple:
    c = record["config"]
    return c["arch"], c["kernel_size"], c["density"]


def summarize(records) -> list[dict]:
    """Mean and sample standard deviation of the final accuracies per arm.

    Returns one row per (arch, kernel_size, density), in first-seen order, with
    ``n`` (runs), ``seeds`` and ``<split>_<metric>_mean`` / ``_std`` for
    ``val_top1``, ``test_top1``, ``val_top5``, ``test_top5``.
    """
    import statistics

    groups: dict = {}
    for r in records:
        groups.setdefault(_group_key(r), []).append(r)
    rows = []
    for (arch, k, dens), rs in groups.items():
        row = {"arch": arch, "kernel_size": k, "density": dens, "n": len(rs),
               "seeds": sorted(r["config"]["seed"] for r in rs)}
        for m in ("val_top1", "test_top1", "val_top5", "test_top5"):
            values = [r["final"][m] for r in rs]
            row[f"{m}_mean"] = statistics.fmean(values)
            row[f"{m}_std"] = statistics.stdev(values) if len(values) > 1 else float("nan")
        row["time_s_mean"] = statistics.fmean(r["wall_time_s"] for r in rs)
        rows.append(row)
    return rows


def paired(records, baseline: str = "uniform", metric: str = "test_top1") -> list[dict]:
    """Paired differences ``arm - baseline`` across seeds, with a 95% t confidence interval.

    Runs are paired by seed: the same seed gives both arms the same initial
    weights ``W₀``, data subset and batch order. For each (arch, kernel size,
    arm) the row holds ``n`` pairs, the mean and standard deviation of the
    differences (percentage points), the interval ``mean ± t_{0.975, n-1} ·
    sd / √n`` and the two-sided p-value of the paired t-test.
    """
    import math
    import statistics

    from scipy import stats

    by = {(_group_key(r), r["config"]["seed"]): r["final"][metric] for r in records}
    rows = []
    for (arch, k, dens) in dict.fromkeys(_group_key(r) for r in records):
        if dens == baseline:
            continue
        diffs = [v - by[((arch, k, baseline), seed)] for ((key, seed), v) in by.items()
                 if key == (arch, k, dens) and ((arch, k, baseline), seed) in by]
        n = len(diffs)
        row = {"arch": arch, "kernel_size": k, "density": dens, "baseline": baseline,
               "metric": metric, "n": n, "mean": float("nan"), "std": float("nan"),
               "ci_low": float("nan"), "ci_high": float("nan"), "p": float("nan")}
        if n >= 1:
            row["mean"] = statistics.fmean(diffs)
        if n >= 2:
            sd = statistics.stdev(diffs)
            half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
            row.update(std=sd, ci_low=row["mean"] - half, ci_high=row["mean"] + half)
            if sd > 0:
                row["p"] = float(2 * stats.t.sf(abs(row["mean"]) / (sd / math.sqrt(n)), n - 1))
        rows.append(row)
    return rows


def summary_markdown(rows) -> str:
    """A Markdown table of :func:`summarize` rows (accuracies in %, mean ± std)."""
    lines = ["| architecture | kernel | density | runs | val top-1 (%) | test top-1 (%) | test top-5 (%) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['arch']} | {r['kernel_size']}×{r['kernel_size']} | {r['density']} | "
                     f"{r['n']} | {r['val_top1_mean']:.2f} ± {r['val_top1_std']:.2f} | "
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
        lines.append(f"| {r['arch']} | {r['kernel_size']}×{r['kernel_size']} | {r['density']} | "
                     f"{r['n']} | {r['mean']:+.2f} | [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}] | "
                     f"{_fmt_p(r['p'])} |")
    return "\n".join(lines)


def plot_learning_curves(records, arch: str, kernel_size: int, metric: str = "val_top1", ax=None):
    """Mean (line) and min-max over seeds (band) of ``metric`` per epoch, one colour per arm."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    groups: dict = {}
    for r in records:
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
    ax.set_title(f"{arch}, {kernel_size}×{kernel_size} kernels")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def plot_paired(rows, ax=None):
    """Paired differences with their 95% confidence intervals, one row per comparison."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.35 * len(rows) + 1.2))
    labels = [f"{r['arch']} {r['kernel_size']}×{r['kernel_size']}: {r['density']}" for r in rows]
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
