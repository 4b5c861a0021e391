r"""Weighted convolution as a reparametrisation of standard convolution.

With a fixed, positive mask ``Φ`` a weighted convolution applies the kernel
``V = W ⊙ Φ``. Every ``V`` is reachable (``W = V / Φ``), so a weighted layer
represents exactly the functions a standard one does; what changes is the
optimisation. Since ``∂L/∂W = Φ ⊙ ∂L/∂V``, one SGD step on ``W`` moves ``V`` by

.. math::  ΔV = Φ ⊙ ΔW = -η\, Φ^2 ⊙ ∂L/∂V,

a per-position learning rate ``η Φ²``. Momentum (any dampening, Nesterov) keeps
this exact, because its buffer is linear in the gradients. Weight decay ``λ`` on
``W`` (``torch.optim.SGD(weight_decay=λ)``, added to the gradient) gives
``ΔV = -η Φ² ⊙ (∂L/∂V + (λ / Φ²) ⊙ V)``: in ``V``'s coordinates the penalty is
``(λ/2) Σ V² / Φ²``, heavier where ``Φ`` is small, while the per-step shrink
``η λ V`` is the same at every position.

This module builds the standard-convolution model that follows the weighted
model's SGD trajectory exactly, and its two halves, for use as training controls:

* :func:`standard_equivalent` -- weighted convolutions become ``nn.Conv*``
  initialised at ``W₀ ⊙ Φ`` whose gradients are multiplied by ``Φ²``
  (``scale_init`` / ``scale_lr`` switch either half off);
* :func:`positionwise_lr` -- multiply a convolution's weight gradient by a
  per-position factor (a per-position learning rate for SGD);
* :func:`scale_updates` -- multiply each optimiser step's update of the marked
  convolutions by a per-position factor (a per-position learning rate for Adam);
* :func:`trajectory` -- run an optimiser and record the effective kernels.

Under Adam the gradient's per-coordinate scale is normalised away. With
``g = ∂L/∂V`` the weighted layer's gradient is ``∂L/∂W = Φ ⊙ g``, so Adam's
moments on ``W`` are ``m_W = Φ ⊙ m_V`` and ``v_W = Φ² ⊙ v_V`` (both are
running averages of the gradient and of its square, and ``Φ`` is constant), and
its step on ``W`` is

.. math::  ΔW = -η\, \frac{Φ ⊙ \hat m_V}{Φ ⊙ \sqrt{\hat v_V} + ε}
              = -η\, \frac{\hat m_V}{\sqrt{\hat v_V} + ε/Φ},
   \qquad ΔV = Φ ⊙ ΔW = -η Φ ⊙ \frac{\hat m_V}{\sqrt{\hat v_V} + ε/Φ}:

Adam on ``V`` with the per-position learning rate ``η Φ`` and per-position
``ε / Φ`` (``ε = 1e-8`` is negligible against ``√v̂`` except for vanishing
gradients), so the change is ``Φ``, not ``Φ²``. Scaling the gradient alone
(:func:`positionwise_lr`) only rescales ``ε`` under Adam; the per-position
learning rate has to act on the *update*. :func:`standard_equivalent` with
``optimizer='adam'`` does both: gradients times ``Φ`` (so ``ε`` becomes
``ε/Φ``) and, through :func:`scale_updates` on the optimizer, each step's
update times ``Φ`` -- exactly the weighted layer's Adam trajectory (decoupled
or no weight decay; coupled weight decay is added after the hook and is not
reproduced).

Example::

    >>> import torch, wconv
    >>> from wconv import reparam
    >>> net = torch.nn.Sequential(wconv.WeightedConv2d(1, 2, 3, density=[0.5]))
    >>> twin = reparam.standard_equivalent(net)
    >>> type(twin[0]).__name__, twin[0].lr_scale.shape
    ('Conv2d', torch.Size([1, 1, 3, 3]))
"""
from __future__ import annotations

import copy
from typing import Callable, Iterable

import torch
from torch import Tensor, nn

from .conv import WeightedConvMixin
from .surgery import fold

__all__ = ["positionwise_lr", "scale_updates", "standard_equivalent", "trajectory", "effective_kernels",
           "kernel_gaps", "compare_controls", "CONTROLS"]

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def positionwise_lr(conv: nn.Module, scale) -> torch.utils.hooks.RemovableHandle:
    r"""Multiply the weight gradient of ``conv`` by ``scale``, position by position.

    ``scale`` is stored on the module as the buffer ``lr_scale`` (so it follows
    ``.to(device)``) and applied by a hook on ``conv.weight``. Under
    ``torch.optim.SGD`` (with or without momentum and Nesterov) the gradient
    term of every step is then ``η · scale ⊙ ∂L/∂weight``: a per-position
    learning rate. Coupled weight decay is added by the optimiser after the
    hook, so it is *not* scaled (this is what makes :func:`standard_equivalent`
    exact). Adaptive optimisers such as Adam normalise the gradient's scale,
    so for them this is not a learning-rate change.

    Args:
        conv: an ``nn.Conv1d/2d/3d`` (not a weighted one: its gradient already
            carries ``Φ``).
        scale: a tensor broadcastable to ``conv.weight.shape``, e.g. the mask of
            shape ``(1, 1, *kernel_size)``; strictly positive and finite.

    Returns:
        the hook's handle; ``handle.remove()`` undoes the scaling (the buffer stays).

    Example::

        >>> conv = nn.Conv2d(1, 1, 3)
        >>> handle = positionwise_lr(conv, torch.full((1, 1, 3, 3), 0.5))
        >>> conv(torch.ones(1, 1, 3, 3)).sum().backward()
        >>> conv.weight.grad.flatten()[:3].tolist()
        [0.5, 0.5, 0.5]
    """
    if isinstance(conv, WeightedConvMixin) or not isinstance(conv, _CONVS):
        raise TypeError(
            "conv must be a plain torch.nn.Conv1d, Conv2d or Conv3d (a weighted convolution "
            f"already scales its gradient by its density), got {type(conv).__name__}")
    if not isinstance(scale, Tensor):
        raise TypeError(f"scale must be a torch.Tensor, got {type(scale).__name__} {scale!r}")
    try:
        torch.broadcast_shapes(scale.shape, conv.weight.shape)
    except RuntimeError:
        raise ValueError(
            f"scale of shape {tuple(scale.shape)} does not broadcast to the weight's shape "
            f"{tuple(conv.weight.shape)}; use shape (1, 1, *kernel_size)") from None
    if not torch.isfinite(scale).all() or (scale <= 0).any():
        raise ValueError("scale must be strictly positive and finite, got values in "
                         f"[{scale.min().item():g}, {scale.max().item():g}]")
    conv.register_buffer("lr_scale", scale.detach().to(conv.weight.device, conv.weight.dtype))
    return conv.weight.register_hook(lambda grad: grad * conv.lr_scale)


def scale_updates(optimizer: torch.optim.Optimizer, model: nn.Module) -> tuple:
    r"""Make every step of ``optimizer`` move the marked convolutions by ``update_scale ⊙ Δ``.

    Marked convolutions are those of ``model`` with a buffer ``update_scale``
    (:func:`standard_equivalent` with ``optimizer='adam'`` adds it). A step
    pre-hook keeps their weights, a post-hook replaces each weight ``w_new`` by
    ``w_old + update_scale ⊙ (w_new - w_old)``: whatever the optimiser's update
    ``Δ``, the weight moves by ``update_scale ⊙ Δ`` -- a per-position learning
    rate, also for Adam, whose update does not scale with the gradient.

    Returns:
        the two hook handles (``handle.remove()`` undoes the scaling).

    Example::

        >>> conv = nn.Conv2d(1, 1, 3, bias=False)
        >>> conv.register_buffer("update_scale", torch.full((1, 1, 3, 3), 0.5))
        >>> opt = torch.optim.Adam(conv.parameters(), lr=0.1)
        >>> _ = scale_updates(opt, conv)
        >>> w0 = conv.weight.detach().clone()
        >>> conv(torch.ones(1, 1, 3, 3)).sum().backward(); opt.step()
        >>> round((conv.weight - w0).abs().max().item(), 6)   # Adam's first step: lr, halved
        0.05
    """
    marked = [m for m in model.modules() if isinstance(getattr(m, "update_scale", None), Tensor)]
    if not marked:
        raise ValueError("model has no convolution with an 'update_scale' buffer; build it with "
                         "standard_equivalent(..., optimizer='adam')")
    ids = {id(p) for group in optimizer.param_groups for p in group["params"]}
    missing = [type(m).__name__ for m in marked if id(m.weight) not in ids]
    if missing:
        raise ValueError(f"{len(missing)} marked convolution(s) ({', '.join(missing)}) are not "
                         "among the optimizer's parameters")
    saved: list = []

    def before(opt, args, kwargs):
        saved[:] = [m.weight.detach().clone() for m in marked]

    @torch.no_grad()
    def after(opt, args, kwargs):
        for m, old in zip(marked, saved):
            m.weight.copy_(old + m.update_scale * (m.weight - old))
        saved.clear()

    return optimizer.register_step_pre_hook(before), optimizer.register_step_post_hook(after)


def standard_equivalent(model: nn.Module, *, scale_init: bool = True, scale_lr: bool = True,
                        optimizer: str = "sgd", inplace: bool = False) -> nn.Module:
    r"""The standard-convolution model that SGD (or Adam) trains exactly like ``model``.

    Every fixed-density weighted convolution (weight ``W₀``, mask ``Φ``) becomes
    a plain ``nn.Conv*`` with

    * weight ``W₀ ⊙ Φ`` when ``scale_init`` (else ``W₀``: the initial scale of a
      standard layer), and
    * when ``scale_lr``, for ``optimizer='sgd'``: its gradient multiplied by
      ``Φ²`` (see :func:`positionwise_lr`): per-position learning rate ``η Φ²``;
      for ``optimizer='adam'``: its gradient multiplied by ``Φ`` and a buffer
      ``update_scale = Φ`` that :func:`scale_updates` applies to every step:
      per-position learning rate ``η Φ`` and ``ε / Φ`` (the module docstring
      derives it). Call ``scale_updates(opt, model)`` after building the optimiser.

    With both (the default), training the result with ``torch.optim.SGD``
    (any ``lr``, ``momentum``, ``dampening``, ``nesterov``, ``weight_decay``)
    gives, step after step, kernels equal to the weighted model's ``W_t ⊙ Φ``,
    up to floating-point rounding; so does ``torch.optim.Adam`` (without
    coupled weight decay) with ``optimizer='adam'``. With one of the two
    switched off it is a control that keeps only the other effect. Other layers
    are copied as they are.

    Args:
        model: a model holding weighted convolutions with fixed densities (or one such layer).
        scale_init: start from ``W₀ ⊙ Φ`` (True) or from ``W₀`` (False).
        scale_lr: give the weights the per-position learning rate of the weighted layer.
        optimizer: ``'sgd'`` (gradient times ``Φ²``) or ``'adam'`` (gradient times
            ``Φ`` and update times ``Φ``, see :func:`scale_updates`).
        inplace: modify ``model`` instead of a deep copy.

    Returns:
        the converted model; each converted convolution has, when ``scale_lr``, a
        buffer ``lr_scale`` (the gradient factor, ``Φ²`` or ``Φ``, shape
        ``(1, 1, *kernel_size)``) and, for Adam, ``update_scale`` (``Φ``).

    Example::

        >>> from wconv import WeightedConv2d
        >>> layer = WeightedConv2d(3, 8, 3, density=[0.5])
        >>> twin = standard_equivalent(layer)
        >>> torch.equal(twin.weight, layer.weighted_weight())
        True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    for name, module in model.named_modules():
        if isinstance(module, WeightedConvMixin) and module.learnable_density:
            raise ValueError(
                f"layer {name or type(module).__name__!r} has learnable_density=True; the "
                "reparametrisation is exact only for a fixed density")
    if isinstance(model, WeightedConvMixin):
        return _convert_layer(model, scale_init, scale_lr, optimizer)
    if not inplace:
        model = copy.deepcopy(model)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, WeightedConvMixin):
                setattr(parent, name, _convert_layer(child, scale_init, scale_lr, optimizer))
    return model


def _convert_layer(layer: WeightedConvMixin, scale_init: bool, scale_lr: bool,
                   optimizer: str = "sgd") -> nn.Module:
    plain = fold(layer)
    phi = layer.weight_mask().detach()
    if not scale_init:
        plain.weight.data.copy_(layer.weight.detach())
    if scale_lr:
        positionwise_lr(plain, phi ** 2 if optimizer == "sgd" else phi)
        if optimizer == "adam":
            plain.register_buffer("update_scale", phi.to(plain.weight.dtype).clone())
    return plain


def effective_kernels(model: nn.Module) -> list[Tensor]:
    """The kernel each convolution of ``model`` applies (``W ⊙ Φ`` or ``W``), detached copies."""
    kernels = []
    for module in model.modules():
        if isinstance(module, WeightedConvMixin):
            kernels.append(module.weighted_weight().detach().clone())
        elif isinstance(module, _CONVS):
            kernels.append(module.weight.detach().clone())
    return kernels


def trajectory(model: nn.Module, optimizer: torch.optim.Optimizer,
               batches: Iterable, loss_fn: Callable[[Tensor, Tensor], Tensor]) -> dict:
    """Train ``model`` on ``batches`` and record the effective kernels after each step.

    Args:
        model: the model to train (modified in place).
        optimizer: an optimiser over ``model``'s parameters.
        batches: an iterable of ``(input, target)`` pairs; one optimiser step each.
        loss_fn: ``loss_fn(model(input), target)`` gives the scalar loss.

    Returns:
        ``{'loss': [float per step], 'kernels': [list of kernels per step]}``, where
        ``kernels[0]`` holds the kernels before the first step (so it is one
        longer than ``loss``).
    """
    losses, kernels = [], [effective_kernels(model)]
    for inputs, targets in batches:
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        kernels.append(effective_kernels(model))
    return {"loss": losses, "kernels": kernels}


def kernel_gaps(a: dict, b: dict) -> list[float]:
    """Per step, the largest ``|V_a - V_b|`` over all convolutions of two :func:`trajectory` results."""
    if len(a["kernels"]) != len(b["kernels"]):
        raise ValueError(f"trajectories differ in length: {len(a['kernels'])} and "
                         f"{len(b['kernels'])} recorded steps")
    return [max((x - y).abs().max().item() for x, y in zip(ka, kb))
            for ka, kb in zip(a["kernels"], b["kernels"])]


#: The controls :func:`compare_controls` trains, with their :func:`standard_equivalent` switches.
CONTROLS = {
    "standard, W₀⊙Φ and lr·Φ²": dict(scale_init=True, scale_lr=True),
    "standard, W₀⊙Φ only": dict(scale_init=True, scale_lr=False),
    "standard, lr·Φ² only": dict(scale_init=False, scale_lr=True),
}


def compare_controls(weighted: nn.Module, batches, make_optimizer: Callable,
                     loss_fn: Callable[[Tensor, Tensor], Tensor]) -> dict:
    """Train a weighted model and its three standard-convolution controls on the same batches.

    The controls (:data:`CONTROLS`) are built from ``weighted`` *before* it is trained, so all
    four start from the same ``W₀``.

    Args:
        weighted: a model with fixed-density weighted convolutions (trained in place).
        batches: ``(input, target)`` pairs, one optimiser step each.
        make_optimizer: ``make_optimizer(parameters) -> torch.optim.Optimizer``.
        loss_fn: ``loss_fn(output, target)``.

    Returns:
        ``{'weighted': trajectory, <control name>: trajectory, ...}`` (see :func:`trajectory`).
    """
    models = {"weighted": weighted}
    models.update({name: standard_equivalent(weighted, **switches)
                   for name, switches in CONTROLS.items()})
    batches = list(batches)
    return {name: trajectory(model, make_optimizer(model.parameters()), batches, loss_fn)
            for name, model in models.items()}
