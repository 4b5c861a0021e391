r"""A small, task-agnostic training engine.

:func:`fit` trains any model on any loss with any per-sample metrics:

* inputs: a model, a loss function, metric functions, and loaders that yield
  ``(input, target)`` batches (and, optionally, have ``set_epoch(epoch)`` so
  that an epoch's order depends only on the epoch number);
* outputs: one dict of metrics per epoch (train and validation), plus the
  final test metrics.

It is seeded and deterministic on the CPU (the global RNG is re-seeded from
``(seed, epoch)`` at every epoch), writes a checkpoint after every epoch
(atomically: temp file + rename), and resumes from it: a run interrupted after
epoch ``e`` and restarted gives the same weights and metrics as one that never
stopped. It uses CUDA when present, and DistributedDataParallel when
``torch.distributed`` is initialised (see :func:`setup_distributed`; run the
same entry point under ``torchrun``).

Metric functions take ``(output, target)`` and return one value per sample
(shape ``(B,)``); the engine averages them over the data set (and over
processes). :func:`topk_accuracy` and :func:`accuracy_metrics` give top-1/top-5
accuracy in percent.

Example::

    >>> history = fit(model, train_loader, val_loader, loss_fn=nn.functional.cross_entropy,
    ...               metrics=accuracy_metrics(), epochs=10, lr=0.05)          # doctest: +SKIP
    >>> history["epochs"][-1]["val_top1"]                                       # doctest: +SKIP
"""
from __future__ import annotations

import io
import math
import os
import time
import warnings
from pathlib import Path
from typing import Callable, Iterable

import torch
import torch.distributed as dist
from torch import Tensor, nn

from . import results as _results
from .precision import forward, resolve_precision, warn_if_emulated

__all__ = ["fit", "evaluate", "topk_accuracy", "accuracy_metrics", "make_optimizer",
           "make_scheduler", "onecycle_factor", "OPTIMIZERS", "SCHEDULES", "ONECYCLE_WARMUP",
           "setup_distributed", "is_main_process", "throughput", "unwrap", "wall_times"]

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "constant", "onecycle")
#: Default warm-up fraction of the ``onecycle`` schedule (``pct_start`` of torch's OneCycleLR).
ONECYCLE_WARMUP = 0.3
#: ``onecycle`` starts at ``lr / ONECYCLE_DIV`` (``div_factor`` of torch's OneCycleLR).
ONECYCLE_DIV = 25.0


# --------------------------------------------------------------------------- metrics

def topk_accuracy(k: int) -> Callable[[Tensor, Tensor], Tensor]:
    """Metric: 100 if the target is among the ``k`` highest logits, else 0, per sample.

    Example::

        >>> top1 = topk_accuracy(1)
        >>> top1(torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([1, 1]))
        tensor([100.,   0.])
    """
    def metric(output: Tensor, target: Tensor) -> Tensor:
        kk = min(k, output.shape[1])
        hit = (output.topk(kk, dim=1).indices == target[:, None]).any(dim=1)
        return hit.to(torch.float32) * 100
    metric.__name__ = f"top{k}"
    return metric


def accuracy_metrics() -> dict:
    """``{'top1': ..., 'top5': ...}`` accuracy metrics in percent."""
    return {"top1": topk_accuracy(1), "top5": topk_accuracy(5)}


# --------------------------------------------------------------------------- distributed

def setup_distributed() -> tuple[int, int]:
    """Initialise ``torch.distributed`` from torchrun's environment, if present.

    Under ``torchrun`` (``WORLD_SIZE > 1``) this starts the default process
    group (NCCL on CUDA, else gloo) and returns ``(rank, world_size)``;
    otherwise it returns ``(0, 1)`` and does nothing.
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend)
    return dist.get_rank(), dist.get_world_size()


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main_process() -> bool:
    """True on rank 0 (or when not distributed): the process that writes files."""
    return _world()[0] == 0


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a ``DistributedDataParallel`` wrapper (or the model itself)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


# --------------------------------------------------------------------------- optimisation

def make_optimizer(params, name: str = "sgd", lr: float = 0.05, momentum: float = 0.9,
                   weight_decay: float = 5e-4, nesterov: bool = False) -> torch.optim.Optimizer:
    """An optimizer by name: ``sgd`` (with momentum), ``adam`` or ``adamw``."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {name!r}")
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                               nesterov=nesterov)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def _cos_between(start: float, end: float, progress: float) -> float:
    """Cosine interpolation from ``start`` (progress 0) to ``end`` (progress 1)."""
    return end + (start - end) / 2 * (1 + math.cos(math.pi * progress))


def onecycle_factor(step: int, total_steps: int, warmup: float = ONECYCLE_WARMUP) -> float:
    """Multiplier of the peak lr at optimizer step ``step`` (0-based) of the ``onecycle`` schedule.

    Torch's :class:`~torch.optim.lr_scheduler.OneCycleLR` shape (cosine warm-up
    from ``1 / ONECYCLE_DIV`` to 1 over the first ``warmup`` fraction of the steps,
    then cosine annealing), with a final learning rate of exactly 0: the last step
    (``step = total_steps - 1``) and any later one get factor 0.
    """
    total = max(1, int(total_steps))
    last = total - 1
    peak = warmup * total - 1           # the step with the peak lr (OneCycleLR's phase boundary)
    step = min(step, last)
    if peak > 0 and step <= peak:
        return _cos_between(1 / ONECYCLE_DIV, 1.0, step / peak)
    start = max(peak, 0.0)
    if last <= start:
        return 0.0 if step >= last else 1.0
    return _cos_between(1.0, 0.0, (step - start) / (last - start))


def make_scheduler(optimizer, name: str, total_steps: int, warmup: float | None = None):
    """Per-step learning-rate schedule (one ``scheduler.step()`` after every optimizer step).

    ``warmup`` is the fraction of the steps that warm the learning rate up, for every
    schedule (``None``: the schedule's default):

    * ``cosine`` -- a linear warm-up, ``(s + 1) / w`` for the first ``w = round(warmup ·
      total_steps)`` steps (default none), then cosine annealing towards 0 over the rest;
    * ``constant`` -- the same linear warm-up, then the lr throughout;
    * ``onecycle`` -- cosine warm-up from ``lr / 25`` to the lr over the ``warmup`` fraction
      (default :data:`ONECYCLE_WARMUP`), then cosine annealing to exactly 0 at the last
      step (:func:`onecycle_factor`).

    Example::

        >>> opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> sched = make_scheduler(opt, "cosine", total_steps=10, warmup=0.2)
        >>> [round(sched.lr_lambdas[0](s), 3) for s in (0, 1, 2, 6, 10)]
        [0.5, 1.0, 1.0, 0.5, 0.0]
    """
    if name not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}; got {name!r}")
    if warmup is None:
        warmup = ONECYCLE_WARMUP if name == "onecycle" else 0.0
    if isinstance(warmup, bool) or not isinstance(warmup, (int, float)) or not 0 <= warmup < 1:
        raise ValueError(f"warmup must be a fraction in [0, 1), got {warmup!r}")
    if name == "onecycle":
        total = max(1, total_steps)
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: onecycle_factor(step, total, warmup))
    warm = int(round(warmup * total_steps))
    if name == "constant":
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: (step + 1) / warm if step < warm else 1.0)
    total = max(1, total_steps - warm)

    def factor(step):
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * min(step - warm, total) / total))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


# --------------------------------------------------------------------------- files

def _save_checkpoint(state: dict, path) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    _results.atomic_write(path, buffer.getvalue())


def _load_checkpoint(path: Path, key):
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # truncated or corrupt: start again
        warnings.warn(f"ignoring unreadable checkpoint {path} ({type(error).__name__}: {error}); "
                      "training from the start")
        return None
    if not isinstance(state, dict) or state.get("key") != key:
        warnings.warn(f"ignoring checkpoint {path}: it belongs to another run "
                      f"(key {state.get('key') if isinstance(state, dict) else None!r}, "
                      f"expected {key!r}); training from the start")
        return None
    return state


# --------------------------------------------------------------------------- loops

def _reduce(values: Tensor) -> Tensor:
    if _world()[1] > 1:
        values = values.clone()
        dist.all_reduce(values)
    return values


def _batch_sums(loss: Tensor, out: Tensor, y: Tensor, metrics: dict) -> Tensor:
    """``[loss * n, sum of each metric]`` of one batch, float64, where the batch is.

    The sample count stays on the host (``len(y)``): making a device tensor of it
    every step would be a blocking host-to-device copy on CUDA.
    """
    n = len(y)
    return torch.stack([loss.detach().double() * n]
                       + [m(out.detach(), y).double().sum() for m in metrics.values()])


def _means(sums: Tensor, count: int, names) -> tuple[dict, int]:
    """``({'loss': mean, name: mean, ...}, count)`` over all processes (one sync)."""
    totals = _reduce(torch.cat([sums, sums.new_tensor([float(count)])])).tolist()
    count = int(totals[-1])
    means = [v / max(count, 1) for v in totals[:-1]]
    return dict(zip(["loss", *names], means)), count


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, loss_fn: Callable, metrics: dict | None = None,
             device=None, precision: str = "float32") -> dict:
    """Mean loss and metrics of ``model`` over ``loader`` (eval mode, no gradients).

    Under DistributedDataParallel each process evaluates its share of every
    batch and the sums are all-reduced, so every process returns the same numbers.
    ``precision`` is as in :func:`fit`; losses and metrics are computed in float32.

    Returns:
        ``{'loss': float, <metric name>: float, ...}``.
    """
    metrics = metrics or {}
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    sums = torch.zeros(len(metrics) + 1, dtype=torch.float64, device=device)
    count = 0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        out = forward(model, x, device, precision)
        sums += _batch_sums(loss_fn(out, y), out, y, metrics)
        count += len(y)
    model.train(was_training)
    return _means(sums, count, metrics)[0]


def wall_times(segment_s: float, out: dict) -> dict:
    """A run's wall-clock seconds for its record, from this process's ``segment_s`` and
    :func:`fit`'s ``out``: ``wall_time_s``, the whole run across resumes (an earlier
    process counts by the ``time_s`` of the epochs its checkpoint brought back), and
    ``segment_wall_time_s``, this process alone."""
    return {"wall_time_s": segment_s + out["resumed_time_s"], "segment_wall_time_s": segment_s}


def fit(model: nn.Module, train_loader: Iterable, val_loader: Iterable | None = None, *,
        loss_fn: Callable, metrics: dict | None = None, epochs: int, optimizer: str = "sgd",
        lr: float = 0.05, momentum: float = 0.9, weight_decay: float = 5e-4,
        nesterov: bool = False, schedule: str = "cosine", warmup: float | None = None,
        seed: int = 0, test_loader: Iterable | None = None, checkpoint=None, checkpoint_key=None,
        device=None, precision: str = "float32", progress: bool = True, desc: str = "train",
        on_epoch_end: Callable[[int, dict], None] | None = None,
        eval_loss_fn: Callable | None = None,
        grad_clip: float | None = None,
        configure_optimizer: Callable[[torch.optim.Optimizer, nn.Module], None] | None = None
        ) -> dict:
    """Train ``model`` for ``epochs`` epochs and return its metrics.

    Args:
        model: the network; moved to ``device`` and, when ``torch.distributed`` is
            initialised with several processes, wrapped in DistributedDataParallel.
        train_loader: yields ``(input, target)``; ``set_epoch(e)`` is called if present.
        val_loader: evaluated after every epoch (optional).
        loss_fn: ``loss_fn(output, target)`` -> scalar mean loss (the training objective).
        metrics: ``{name: fn(output, target) -> per-sample values (B,)}``.
        epochs: number of epochs.
        optimizer, lr, momentum, weight_decay, nesterov: see :func:`make_optimizer`.
        schedule, warmup: see :func:`make_scheduler` (``cosine``, ``constant``, ``onecycle``).
        seed: the global RNG is seeded with ``(seed, epoch)`` before every epoch.
        test_loader: evaluated once at the end (optional).
        checkpoint: file to write after every epoch and to resume from.
        checkpoint_key: any picklable value naming the run; a checkpoint with
            another key is ignored (training starts over).
        device: default :func:`wconv.settings.device`.
        precision: ``'float32'``, or ``'bfloat16'`` for mixed precision: the forward
            pass runs under :func:`torch.autocast` in bfloat16 (weights, optimizer
            and loss stay float32) and 4-D models use the channels-last layout.
            On CPUs with AMX and on recent GPUs this is several times faster.
            ``'auto'``: :func:`wconv.experiments.precision.default_precision` of ``device``.
        progress: show a tqdm bar (``tqdm.auto``: notebook or terminal).
        desc: the bar's label.
        on_epoch_end: called as ``on_epoch_end(epoch, row)`` after each checkpoint;
            an exception raised there interrupts training (the checkpoint is kept).
        eval_loss_fn: the loss reported on the validation and test data (default
            ``loss_fn``; e.g. plain cross-entropy when training with label smoothing).
        grad_clip: clip the gradients' global L2 norm to this value before every step
            (``None``: no clipping). The epoch rows then hold ``clipped``, the fraction of
            steps whose norm was above it.
        configure_optimizer: called once as ``configure_optimizer(optimizer, model)`` after the
            optimizer is built (e.g. to register step hooks, see
            :func:`wconv.reparam.positionwise_adam_lr`).

    Returns:
        ``{'epochs': [row, ...], 'final': {...}, 'train_time_s': float,
        'images_per_s': float, 'resumed_from': int, 'resumed_time_s': float, 'precision': str}``
        (``resumed_time_s``: the ``time_s`` of the epochs a checkpoint brought back, which an
        earlier process spent; ``train_time_s`` counts them too); each row has ``epoch``,
        ``lr``, ``train_loss``, ``train_<metric>``, ``val_loss``, ``val_<metric>``
        and ``time_s``; ``final`` has the last epoch's validation numbers and the
        test numbers (``test_loss``, ``test_<metric>``).
    """
    from tqdm.auto import tqdm

    from .. import settings

    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    metrics = metrics or {}
    device = torch.device(device) if device is not None else settings.device()
    precision = resolve_precision(precision, device)
    warn_if_emulated(precision, device)
    eval_loss_fn = eval_loss_fn or loss_fn
    rank, world = _world()
    model = model.to(device)
    if precision == "bfloat16":
        model = model.to(memory_format=torch.channels_last)
    core = model
    if world > 1 and not isinstance(model, nn.parallel.DistributedDataParallel):
        model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    opt = make_optimizer(core.parameters(), optimizer, lr, momentum, weight_decay, nesterov)
    steps_per_epoch = len(train_loader)
    if configure_optimizer is not None:
        configure_optimizer(opt, core)
    sched = make_scheduler(opt, schedule, epochs * steps_per_epoch, warmup)
    if grad_clip is not None and not (isinstance(grad_clip, (int, float)) and grad_clip > 0):
        raise ValueError(f"grad_clip must be a positive number or None, got {grad_clip!r}")

    history, start, elapsed, seen = [], 0, 0.0, 0
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None:
        state = _load_checkpoint(path, checkpoint_key)
        if state is not None:
            core.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            history, start = state["history"], state["epoch"]
            elapsed, seen = state["elapsed"], state["seen"]
    resumed_from = start

    bar = tqdm(total=epochs * steps_per_epoch, initial=start * steps_per_epoch, desc=desc,
               disable=not progress or rank != 0, leave=False, dynamic_ncols=True)
    try:
        for epoch in range(start, epochs):
            torch.manual_seed(seed * 1_000_003 + epoch)
            if hasattr(train_loader, "set_epoch"):
                train_loader.set_epoch(epoch)
            model.train()
            t0 = time.perf_counter()
            sums = torch.zeros(len(metrics) + 1, dtype=torch.float64, device=device)
            count = 0
            lr_now = opt.param_groups[0]["lr"]
            clipped = steps = 0
            for x, y in train_loader:
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                out = forward(model, x, device, precision)
                loss = loss_fn(out, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if grad_clip is not None:
                    norm = nn.utils.clip_grad_norm_(core.parameters(), grad_clip)
                    clipped += int(norm.item() > grad_clip)
                steps += 1
                opt.step()
                sched.step()
                with torch.no_grad():
                    sums += _batch_sums(loss, out, y, metrics)
                count += len(y)
                bar.update(1)
            if device.type == "cuda":
                torch.cuda.synchronize(device)   # the epoch's queued kernels belong to its time
            train_time = time.perf_counter() - t0
            means, count = _means(sums, count, metrics)
            seen += count
            row = {"epoch": epoch + 1, "lr": lr_now}
            row.update({f"train_{k}": v for k, v in means.items()})
            if grad_clip is not None:
                row["clipped"] = clipped / max(steps, 1)
            if val_loader is not None:
                row.update({f"val_{k}": v for k, v in
                            evaluate(model, val_loader, eval_loss_fn, metrics, device,
                                     precision).items()})
            row["train_time_s"] = train_time
            row["time_s"] = time.perf_counter() - t0
            elapsed += train_time
            history.append(row)
            bar.set_postfix({k: f"{v:.3g}" for k, v in row.items()
                             if k in ("train_loss", "val_loss", "val_top1")})
            if path is not None and rank == 0:
                _save_checkpoint({"key": checkpoint_key, "epoch": epoch + 1, "model": core.state_dict(),
                             "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                             "history": history, "elapsed": elapsed, "seen": seen}, path)
            if world > 1:
                dist.barrier()
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, row)
    finally:
        bar.close()

    final = {k: v for k, v in history[-1].items() if k.startswith("val_")}
    if test_loader is not None:
        final.update({f"test_{k}": v for k, v in
                      evaluate(model, test_loader, eval_loss_fn, metrics, device,
                               precision).items()})
    return {"epochs": history, "final": final, "train_time_s": elapsed,
            "images_per_s": seen / elapsed if elapsed > 0 else float("nan"),
            "resumed_from": resumed_from,
            "resumed_time_s": sum(row["time_s"] for row in history[:resumed_from]),
            "precision": precision}


# --------------------------------------------------------------------------- speed

def throughput(models: dict, make_batch: Callable[[], tuple], loss_fn: Callable, *,
               steps: int = 10, rounds: int = 5, warmup: int = 2, lr: float = 0.01,
               device=None, precision: str = "float32") -> dict:
    """Training throughput (images/s) of several models, measured side by side.

    Every round times ``steps`` SGD steps of each model in turn on the same
    batch, so slow phases of a shared machine hit all models alike; a model's
    throughput is its median over rounds.

    Args:
        models: ``{name: model}``.
        make_batch: returns ``(input, target)``.
        loss_fn: ``loss_fn(output, target)`` -> scalar.
        steps, rounds, warmup: timed steps per round, rounds, untimed steps first.
        precision: as in :func:`fit` (``'bfloat16'``: autocast and channels-last).

    Returns:
        ``{name: images_per_s}``, plus ``{'ratio/<name>': throughput / first model's}``.

    Example::

        >>> x, y = torch.randn(64, 3, 32, 32), torch.randint(0, 100, (64,))
        >>> r = throughput({"standard": build_model("vgg11", width=0.25),
        ...                 "weighted": build_model("vgg11", width=0.25, density="paper")},
        ...                lambda: (x, y), nn.functional.cross_entropy)     # doctest: +SKIP
    """
    from .. import settings

    device = torch.device(device) if device is not None else settings.device()
    precision = resolve_precision(precision, device)
    x, y = make_batch()
    x, y = x.to(device), y.to(device)
    opts = {}
    for name, m in models.items():
        m.to(device).train()
        if precision == "bfloat16":
            m.to(memory_format=torch.channels_last)
        opts[name] = torch.optim.SGD(m.parameters(), lr=lr, momentum=0.9)

    def step(name):
        opts[name].zero_grad(set_to_none=True)
        loss_fn(forward(models[name], x, device, precision), y).backward()
        opts[name].step()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for name in models:
        for _ in range(warmup):
            step(name)
    times = {name: [] for name in models}
    for _ in range(rounds):
        for name in models:
            sync()
            t0 = time.perf_counter()
            for _ in range(steps):
                step(name)
            sync()
            times[name].append(time.perf_counter() - t0)
    result = {}
    for name, ts in times.items():
        ts = sorted(ts)
        result[name] = len(x) * steps / ts[len(ts) // 2]
    first = next(iter(models))
    for name in models:
        result[f"ratio/{name}"] = result[name] / result[first]
    return result
