"""Benchmark weighted convolution against ``torch.nn.Conv2d``, in one process.

For each layer shape it times, interleaved so that both sides see the same
machine state:

* ``train``: forward + backward of :class:`wconv.WeightedConv2d` vs ``nn.Conv2d``;
* ``folded``: inference of the folded layer (:func:`wconv.fold`) vs ``nn.Conv2d``;
* ``naive``: forward + backward of the naive formulation that weights every
  unfolded patch by the density (``O(pixels)`` extra work) vs ``nn.Conv2d``.

:func:`engine_vs_plain` times whole training steps instead: the training
engine (:func:`wconv.experiments.train.fit`) against a plain PyTorch loop on the same model,
optimizer, autocast, memory layout and batches (``python -m wconv throughput --engine``).

Run ``python -m wconv bench`` (``--help`` for options). Example::

    >>> from wconv.experiments import bench
    >>> rows = bench.run(bench.SHAPES[:1], repeats=3)   # doctest: +SKIP
    >>> print(bench.format_table(rows))                  # doctest: +SKIP
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..conv import WeightedConv2d
from ..density import PAPER_OPTIMUM_7X7
from ..surgery import fold

__all__ = ["LayerShape", "SHAPES", "PROFILE_RUNS", "overhead_scaling", "naive_weighted_conv2d", "time_pair", "benchmark_shape",
           "run", "summarize", "format_table", "engine_vs_plain",
           "compare_throughput"]


@dataclass(frozen=True)
class LayerShape:
    """One convolution as it occurs in a model: input ``(batch, in_channels, size, size)``."""

    name: str
    batch: int
    in_channels: int
    out_channels: int
    size: int
    kernel_size: int


#: Realistic layers from CIFAR VGG and ResNet models and DnCNN, kernels 3, 5 and 7.
SHAPES = [
    LayerShape("VGG conv1_2 (CIFAR)", 32, 64, 64, 32, 3),
    LayerShape("VGG conv3_2 (CIFAR)", 32, 256, 256, 8, 3),
    LayerShape("VGG conv4_2 (CIFAR)", 32, 512, 512, 4, 3),
    LayerShape("ResNet-20 stage 1", 32, 16, 16, 32, 3),
    LayerShape("ResNet-18 layer2 (CIFAR)", 32, 128, 128, 16, 3),
    LayerShape("DnCNN body, 40x40 patches", 16, 64, 64, 40, 3),
    LayerShape("VGG conv1_2, 5x5", 32, 64, 64, 32, 5),
    LayerShape("ResNet-18 layer2, 5x5", 32, 128, 128, 16, 5),
    LayerShape("VGG conv1_2, 7x7", 32, 64, 64, 32, 7),
    LayerShape("DnCNN body, 7x7", 16, 64, 64, 40, 7),
]


#: What the book's chapter 3 times in each profile: (shapes, repeats).
PROFILE_RUNS = {
    "smoke": ([LayerShape("ResNet-20 stage 1, batch 4", 4, 16, 16, 16, 3)], 2),
    "book": ([s for s in SHAPES if s.kernel_size == 3] + [SHAPES[6]], 5),
    "full": (SHAPES, 30),
}


def _den(kernel_size: int) -> list[float]:
    if kernel_size == 7:
        return list(PAPER_OPTIMUM_7X7)
    return [0.5 + 0.25 * i for i in range((kernel_size - 1) // 2)]


def naive_weighted_conv2d(x, weight, mask, bias=None, padding=0):
    """Weighted convolution computed the naive way: unfold, weight each patch, matmul.

    Multiplying the ``N · C · k² · L`` unfolded patch values by ``Φ`` costs work
    proportional to the number of pixels, whereas multiplying the ``C_out · C_in · k²``
    weights costs work proportional to the number of weights.

    Shape:
        x: ``(N, C_in, H, W)``; weight: ``(C_out, C_in, k, k)``; mask: ``(k, k)``.
    """
    n, c, h, w = x.shape
    out_channels, _, k, _ = weight.shape
    patches = F.unfold(x, k, padding=padding).view(n, c, k * k, -1)
    patches = patches * mask.reshape(1, 1, k * k, 1)
    out = weight.reshape(out_channels, -1) @ patches.reshape(n, c * k * k, -1)
    out_h = h + 2 * padding - k + 1
    out = out.view(n, out_channels, out_h, -1)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


def _median_seconds(step, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def time_pair(baseline, candidate, repeats: int = 20, warmup: int = 3) -> tuple[float, float]:
    """Median seconds of two callables, measured alternately (ABAB...) after a warm-up."""
    for _ in range(warmup):
        baseline()
        candidate()
    base, cand = [], []
    for _ in range(repeats):
        base += _median_seconds(baseline, 1)
        cand += _median_seconds(candidate, 1)
    return statistics.median(base), statistics.median(cand)


def benchmark_shape(shape: LayerShape, repeats: int = 20, naive: bool = True,
                    seed: int = 0) -> dict:
    """Time one layer shape; returns medians (seconds) and ratios to ``nn.Conv2d``."""
    torch.manual_seed(seed)
    k = shape.kernel_size
    plain = nn.Conv2d(shape.in_channels, shape.out_channels, k, padding=k // 2)
    weighted = WeightedConv2d(shape.in_channels, shape.out_channels, k, padding=k // 2,
                              density=_den(k))
    with torch.no_grad():
        weighted.weight.copy_(plain.weight)
        weighted.bias.copy_(plain.bias)
    folded = fold(weighted)
    x = torch.randn(shape.batch, shape.in_channels, shape.size, shape.size)
    x_grad = x.clone().requires_grad_(True)

    def train_step(layer):
        def step():
            layer.zero_grad(set_to_none=True)
            x_grad.grad = None
            layer(x_grad).sum().backward()
        return step

    def naive_step():
        weighted.zero_grad(set_to_none=True)
        x_grad.grad = None
        naive_weighted_conv2d(x_grad, weighted.weight, weighted.density_mask[0, 0],
                              weighted.bias, padding=k // 2).sum().backward()

    def infer(layer):
        def step():
            with torch.no_grad():
                layer(x)
        return step

    row = {**asdict(shape)}
    row["conv2d_train_s"], row["weighted_train_s"] = time_pair(
        train_step(plain), train_step(weighted), repeats)
    row["conv2d_infer_s"], row["folded_infer_s"] = time_pair(infer(plain), infer(folded), repeats)
    row["train_ratio"] = row["weighted_train_s"] / row["conv2d_train_s"]
    row["folded_ratio"] = row["folded_infer_s"] / row["conv2d_infer_s"]
    if naive:
        base, cand = time_pair(train_step(plain), naive_step, max(3, repeats // 4), warmup=1)
        row["naive_train_s"] = cand
        row["naive_ratio"] = cand / base
    return row


def overhead_scaling(sizes, channels: int = 64, kernel_size: int = 3, batch: int = 8,
                     repeats: int = 10) -> list[dict]:
    """Time the density multiplication alone, on the weights and on the unfolded patches.

    The weighted layer multiplies ``C_out · C_in · k²`` weights by ``Φ`` whatever
    the image size; the naive form multiplies ``N · C_in · k² · H · W`` patch values.
    Returns, per image size, both element counts and median seconds. Timed on
    one thread, so that the count of multiplications, not thread start-up,
    sets the time.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _overhead_scaling(sizes, channels, kernel_size, batch, repeats)
    finally:
        torch.set_num_threads(threads)


def _overhead_scaling(sizes, channels, kernel_size, batch, repeats):
    torch.manual_seed(0)
    k = kernel_size
    weight = torch.randn(channels, channels, k, k)
    mask = torch.rand(k, k) + 0.5
    rows = []
    for size in sizes:
        x = torch.randn(batch, channels, size, size)
        patches = F.unfold(x, k, padding=k // 2).view(batch, channels, k * k, -1)
        flat_mask = mask.reshape(1, 1, k * k, 1)
        t_weights, t_patches = time_pair(lambda: weight * mask, lambda: patches * flat_mask,
                                         repeats)
        rows.append({"size": size, "pixels": size * size, "weight_elements": weight.numel(),
                     "patch_elements": patches.numel(), "weights_s": t_weights,
                     "patches_s": t_patches})
    return rows


def run(shapes=SHAPES, repeats: int = 20, naive: bool = True, progress: bool = False) -> list[dict]:
    """Benchmark every shape in ``shapes``; returns one dict per shape."""
    rows = []
    for shape in shapes:
        rows.append(benchmark_shape(shape, repeats, naive))
        if progress:
            print(f"  done: {shape.name}", flush=True)
    return rows


def summarize(rows: list[dict]) -> dict:
    """Median of each ratio over the shapes."""
    keys = [k for k in ("train_ratio", "folded_ratio", "naive_ratio") if k in rows[0]]
    return {k: statistics.median(r[k] for r in rows) for k in keys}


def format_table(rows: list[dict]) -> str:
    """A plain-text table of medians (ms) and ratios to ``nn.Conv2d``."""
    has_naive = "naive_ratio" in rows[0]
    header = (f"{'layer':28} {'k':>2} {'input':>16} | {'Conv2d ms':>9} {'weighted ms':>11} "
              f"{'ratio':>6} | {'infer ms':>8} {'folded ms':>9} {'ratio':>6}")
    if has_naive:
        header += f" | {'naive ms':>9} {'ratio':>6}"
    lines = [header, "-" * len(header)]
    for r in rows:
        shape = f"{r['batch']}x{r['in_channels']}x{r['size']}x{r['size']}"
        line = (f"{r['name'][:28]:28} {r['kernel_size']:>2} {shape:>16} | "
                f"{1e3 * r['conv2d_train_s']:9.2f} {1e3 * r['weighted_train_s']:11.2f} "
                f"{r['train_ratio']:6.3f} | {1e3 * r['conv2d_infer_s']:8.2f} "
                f"{1e3 * r['folded_infer_s']:9.2f} {r['folded_ratio']:6.3f}")
        if has_naive:
            line += f" | {1e3 * r['naive_train_s']:9.2f} {r['naive_ratio']:6.2f}"
        lines.append(line)
    summary = summarize(rows)
    lines.append("-" * len(header))
    lines.append("median over shapes: " + ", ".join(f"{k} {v:.3f}" for k, v in summary.items()))
    return "\n".join(lines)


def engine_vs_plain(arch: str = "resnet20", kernel_size: int = 3, density: str = "paper",
                    budget: str | None = "book", steps: int = 20, rounds: int = 5,
                    device=None, progress: bool = False, precision: str | None = None) -> dict:
    """Training images/s of the engine (:func:`wconv.experiments.train.fit`) and of a plain PyTorch loop.

    Both train the model of :func:`wconv.experiments.classify.build` (the budget's width; one
    copy each, the same ``W₀``) with the budget's optimizer settings, loss
    (label smoothing), precision (bfloat16 autocast and channels-last where
    supported) and batch size, on the same batches: one
    :class:`wconv.experiments.cifar.TensorLoader` (shuffle, augmentation) over ``steps``
    batches of random images. The engine adds what it does every step -- the
    schedule, the running loss and top-1/top-5 sums, the progress bar (shown
    when ``progress``) -- and its time is the one it reports
    (``images_per_s``: the epoch's training loop, as in every stored run). The
    plain loop is ``forward, loss, zero_grad, backward, step``. Rounds
    alternate which goes first, after one untimed round each; ``engine`` and ``plain`` are
    the medians over rounds.

    ``precision`` overrides the budget's (``'auto'``: this machine's
    :func:`wconv.experiments.precision.default_precision`, the fair choice on a machine
    that would only emulate the budget's bfloat16).

    Returns:
        ``{'engine': ips, 'plain': ips, 'ratio': engine / plain, 'paired_ratio'`` (the
        geometric mean of the rounds' engine / plain ratios), ``'paired_ci'`` (its 95 %
        interval, from :func:`wconv.experiments.stats.paired_difference` of the logs; NaN
        with one round), ``'engine_rounds': [...],
        'plain_rounds': [...], 'arch', 'kernel_size', 'density', 'budget', 'width',
        'batch_size', 'precision', 'steps', 'rounds', 'threads', 'device'}``.
    """
    from .. import settings
    from . import budgets, cifar, classify, stats, train

    device = torch.device(device) if device is not None else settings.device()
    name, b = budgets.lookup(budget, classify.BUDGETS)
    # a tuned budget's lr comes from stored runs; any value of its grid times the same
    lr = {"role": "sweep", "lr": b.lr_grid[len(b.lr_grid) // 2]} if b.tuned else {}
    config = classify.make_config(arch, density, kernel_size, 0, name, precision=precision, **lr)
    precision = config["precision"]
    g = torch.Generator().manual_seed(0)
    n = steps * config["batch_size"]
    images = torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, 100, (n,), generator=g)
    loader = cifar.TensorLoader(cifar.TensorDataset(images, labels), config["batch_size"],
                               cifar.CIFAR100_MEAN, cifar.CIFAR100_STD, shuffle=True,
                               augment=config["augment"], drop_last=True, seed=0, device=device)
    loss_fn, _ = classify.loss_functions(config)
    engine_model, plain_model = classify.build(config), classify.build(config)
    plain_model.to(device).train()
    if precision == "bfloat16":
        plain_model.to(memory_format=torch.channels_last)
    autocast = precision == "bfloat16"

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def plain() -> float:
        # a fresh optimizer per round, as every fit() call makes one: the first step's
        # momentum buffers are allocated inside the timed loop on both sides
        opt = train.make_optimizer(plain_model.parameters(), config["optimizer"], config["lr"],
                                   config["momentum"], config["weight_decay"], config["nesterov"])
        loader.set_epoch(0)
        sync()
        t0 = time.perf_counter()
        seen = 0
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if autocast:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                out = plain_model(x)
            loss = loss_fn(out.float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            seen += len(y)
        sync()
        return seen / (time.perf_counter() - t0)

    def engine() -> float:
        out = train.fit(engine_model, loader, loss_fn=loss_fn, metrics=train.accuracy_metrics(),
                        epochs=1, optimizer=config["optimizer"], lr=config["lr"],
                        momentum=config["momentum"], weight_decay=config["weight_decay"],
                        nesterov=config["nesterov"], schedule=config["schedule"],
                        warmup=config["warmup"] or None, device=device, precision=precision,
                        progress=progress, desc="engine")
        return out["images_per_s"]

    engine(), plain()   # untimed: allocations, oneDNN primitive creation
    times = {"engine": [], "plain": []}
    for r in range(rounds):
        for name, fn in ((("engine", engine), ("plain", plain)) if r % 2 == 0 else
                         (("plain", plain), ("engine", engine))):
            times[name].append(fn())
    result = {name: statistics.median(v) for name, v in times.items()}
    # each round's engine/plain pair ran back to back: their ratio cancels slow drifts, and
    # the paired difference of the logs gives the ratio's geometric mean and its interval
    d = stats.paired_difference([math.log(v) for v in times["engine"]],
                                [math.log(v) for v in times["plain"]])
    return {"engine": result["engine"], "plain": result["plain"],
            "ratio": result["engine"] / result["plain"], "paired_ratio": math.exp(d["mean"]),
            "paired_ci": (math.exp(d["ci_low"]), math.exp(d["ci_high"])),
            "engine_rounds": times["engine"],
            "plain_rounds": times["plain"], "arch": arch, "kernel_size": kernel_size,
            "density": density, "budget": config["budget"], "width": config["width"],
            "batch_size": config["batch_size"], "precision": precision, "steps": steps,
            "rounds": rounds, "threads": torch.get_num_threads(), "device": device.type}


def compare_throughput(arch: str = "vgg11", kernel_size: int = 3, density: str = "paper",
                       budget: str | None = None, steps: int = 10, rounds: int = 5,
                       device=None, precision: str | None = None) -> dict:
    """Training images/s of the standard and the weighted model, side by side.

    Both models are built as in :func:`wconv.experiments.classify.build` with the budget's width, batch
    size and precision, or ``precision`` if given (``'auto'``: this machine's
    :func:`wconv.experiments.precision.default_precision`); see
    :func:`wconv.experiments.train.throughput`. Returns ``{'standard': ips, 'weighted': ips, 'ratio': weighted / standard, ...}``.
    """
    from . import budgets, classifiers, classify, train
    from .precision import resolve_precision

    _, b = budgets.lookup(budget, classify.BUDGETS)
    chosen = resolve_precision(b.precision if precision is None else precision, device)
    width = b.width_of(arch)
    torch.manual_seed(0)
    standard = classifiers.build_model(arch, 100, kernel_size, None, width)
    weighted = classifiers.build_model(arch, 100, kernel_size, density, width)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(b.batch_size, 3, 32, 32, generator=g)
    y = torch.randint(0, 100, (b.batch_size,), generator=g)
    r = train.throughput({"standard": standard, "weighted": weighted}, lambda: (x, y),
                          nn.functional.cross_entropy, steps=steps, rounds=rounds, device=device,
                          precision=chosen)
    return {"standard": r["standard"], "weighted": r["weighted"], "ratio": r["ratio/weighted"],
            "arch": arch, "kernel_size": kernel_size, "density": density,
            "batch_size": b.batch_size, "width": width, "precision": chosen,
            "threads": torch.get_num_threads()}
