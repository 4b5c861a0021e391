"""Model surgery: turn the convolutions of any model into weighted ones, and back.

:func:`convert` swaps eligible ``nn.Conv1d/2d/3d`` layers for weighted ones,
keeping their weights; :func:`fold` bakes ``W ⊙ Φ`` into plain ``nn.Conv*``
layers for inference with no density overhead.
"""
from __future__ import annotations

import copy
import numbers
from collections import Counter

import torch
from torch import nn

from . import density as _density
from .conv import WeightedConv1d, WeightedConv2d, WeightedConv3d, WeightedConvMixin

__all__ = ["convert", "fold"]

_WEIGHTED = {nn.Conv1d: WeightedConv1d, nn.Conv2d: WeightedConv2d, nn.Conv3d: WeightedConv3d}
_PLAIN = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


def _conv_args(conv: nn.Module) -> dict:
    return dict(in_channels=conv.in_channels, out_channels=conv.out_channels,
                kernel_size=conv.kernel_size, stride=conv.stride, padding=conv.padding,
                dilation=conv.dilation, groups=conv.groups, bias=conv.bias is not None,
                padding_mode=conv.padding_mode, device=conv.weight.device,
                dtype=conv.weight.dtype)


def _normalise_kernel_sizes(kernel_sizes):
    if kernel_sizes is None:
        return None
    if isinstance(kernel_sizes, numbers.Integral):
        kernel_sizes = [kernel_sizes]
    try:
        items = list(kernel_sizes)
    except TypeError:
        raise TypeError(
            f"kernel_sizes must be None, an int, or a collection of ints or tuples, got "
            f"{kernel_sizes!r}") from None
    result = set()
    for item in items:
        if isinstance(item, numbers.Integral):
            result.add(int(item))
        elif isinstance(item, tuple) and all(isinstance(k, numbers.Integral) for k in item):
            result.add(tuple(int(k) for k in item))
        else:
            raise TypeError(
                f"kernel_sizes entries must be ints (every axis that size) or tuples of ints, "
                f"got {item!r}")
    return result


def _size_selected(kernel_size: tuple, selected) -> bool:
    if tuple(kernel_size) in selected:
        return True
    return len(set(kernel_size)) == 1 and kernel_size[0] in selected


def _misfit(density, kernel_size) -> str | None:
    """Why ``density`` cannot weight a kernel of ``kernel_size``; None when it can."""
    try:
        _density.mask(density, kernel_size)
    except ValueError as error:
        return str(error)
    return None


def _shape(kernel_size) -> str:
    """``3x3``, ``3x5x5``; ``size-3`` for a 1-D kernel."""
    return f"size-{kernel_size[0]}" if len(kernel_size) == 1 else "x".join(map(str, kernel_size))


def _fitted_shape(density, dims: set) -> tuple | None:
    """The one kernel shape a den list, a Symmetric, a Profile or a mask tensor fits."""
    if isinstance(density, torch.Tensor):
        return tuple(density.shape)
    if len(dims) != 1:
        return None
    if _density._is_number_sequence(density) and density:
        size = 2 * len(density) + 1
    elif isinstance(density, _density.Symmetric):
        size = density.size
    elif isinstance(density, _density.Profile):
        size = len(density.values)
    else:
        return None
    return (size,) * next(iter(dims))


def _nothing_converted(plain: list, already: int, density, selected) -> str:
    """The message of the ValueError :func:`convert` raises when it converts no layer."""
    if not plain:
        if already:
            return (f"convert found no nn.Conv1d, nn.Conv2d or nn.Conv3d to convert: the model's "
                    f"convolutions are weighted already ({already} layer{'s' * (already > 1)})")
        return "convert found no nn.Conv1d, nn.Conv2d or nn.Conv3d in the model: nothing to convert"
    counts = Counter(tuple(child.kernel_size) for child in plain)
    have = ", ".join(f"{_shape(k)} ({n} layer{'s' * (n > 1)})" for k, n in counts.most_common())
    if selected is not None:
        return (f"kernel_sizes={sorted(selected, key=str)} selects none of the model's "
                f"convolutions, whose kernel sizes are {have}")
    candidates = [k for k in counts if any(size != 1 for size in k)]
    if not candidates:
        return (f"the model's only convolutions are {have}: convert leaves 1x1 kernels alone "
                "(no neighbours to weight) unless kernel_sizes lists them, e.g. kernel_sizes=[1]")
    fitted = _fitted_shape(density, {len(k) for k in candidates})
    if fitted in candidates:
        return _misfit(density, fitted)  # the right shape, a bad value (one that overflows, say)
    given = (f"a {_shape(density.shape)} mask tensor" if isinstance(density, torch.Tensor)
             else f"density={density!r}")
    message = f"{given} fits none of the model's convolutions"
    if fitted is not None and not isinstance(density, torch.Tensor):
        message += f": it fits {_shape(fitted)} kernels"
        if _density._is_number_sequence(density) or isinstance(density, _density.Symmetric):
            message += " (a den of (k - 1) / 2 values fits k x k)"
    message += f", and the model's convolutions are {have}; nothing was converted"
    if fitted in counts:  # a 1x1 density: those layers are skipped unless selected
        message += " (1x1 kernels are converted only when kernel_sizes lists them)"
    if fitted is None:
        message += "".join(f"\n  {_shape(k)}: {_misfit(density, k)}" for k in candidates)
    return message


def convert(model: nn.Module, density=None, learnable_density: bool = False,
            kernel_sizes=None, inplace: bool = False) -> nn.Module:
    """Replace the eligible convolutions of ``model`` by weighted ones, keeping weights.

    A convolution is eligible when it is a plain ``nn.Conv1d``, ``nn.Conv2d`` or
    ``nn.Conv3d`` (not transposed, not already weighted), its kernel size is
    listed in ``kernel_sizes`` (when ``None``: every size but 1x1, which has no
    neighbours to weight), and ``density`` can
    weight a kernel of that shape. With ``kernel_sizes=None`` convolutions the
    density cannot weight (a 7x7 convolution under a 3x3 ``den``, say) are left
    as they are; with explicit ``kernel_sizes`` that is an error. A conversion
    that converts no layer at all is an error too.

    Args:
        model: any ``nn.Module``.
        density: as in :class:`wconv.WeightedConv2d`; a single density for all
            converted layers.
        learnable_density: give each converted layer its own learnable profile.
        kernel_sizes: ``None``, an int, or a collection of ints (square kernels of
            that size) and tuples (exact kernel shapes).
        inplace: modify ``model`` itself instead of a deep copy.

    Returns:
        The converted model (``model`` itself if ``inplace``).

    Raises:
        ValueError: when no convolution is converted: the model has none (or
            only weighted ones), ``kernel_sizes`` selects none, the model's only
            convolutions are 1x1, or ``density`` fits none of them (a ``den``
            of ``(k - 1) / 2`` values fits ``k x k`` kernels only); also when
            ``density`` cannot weight a size ``kernel_sizes`` lists. The model
            is left unchanged.

    Example::

        >>> import torchvision
        >>> net = convert(torchvision.models.resnet18(), density=[0.5])
        >>> type(net.layer1[0].conv1).__name__
        'WeightedConv2d'
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    selected = _normalise_kernel_sizes(kernel_sizes)
    if not inplace:
        model = copy.deepcopy(model)
    if type(model) in _WEIGHTED:
        raise TypeError("convert works on a model that contains convolutions; wrap a lone "
                        "convolution in nn.Sequential")
    # Every plain convolution, as (parent, name, layer), before anything is replaced.
    plain = [(parent, name, child) for parent in model.modules()
             for name, child in parent.named_children() if type(child) in _WEIGHTED]
    chosen = []
    for parent, name, child in plain:
        kernel_size = tuple(child.kernel_size)
        if selected is None and all(k == 1 for k in kernel_size):
            continue  # a 1x1 kernel has no neighbours to weight
        if selected is not None and not _size_selected(kernel_size, selected):
            continue
        if _misfit(density, kernel_size) is not None:
            if selected is None:
                continue
            _density.mask(density, kernel_size)  # raises the precise error
        chosen.append((parent, name, child))
    if not chosen:
        already = sum(isinstance(m, WeightedConvMixin) for m in model.modules())
        raise ValueError(_nothing_converted([c for _, _, c in plain], already, density, selected))
    replacements = []  # all built before any is set, so that an error leaves the model as it was
    for parent, name, child in chosen:
        weighted = _WEIGHTED[type(child)](**_conv_args(child), density=density,
                                          learnable_density=learnable_density)
        weighted.weight = child.weight
        weighted.bias = child.bias
        weighted.train(child.training)
        replacements.append((parent, name, weighted))
    for parent, name, weighted in replacements:
        setattr(parent, name, weighted)
    return model


def fold(model: nn.Module, inplace: bool = False) -> nn.Module:
    """Bake every weighted convolution into a plain ``nn.Conv*`` with weight ``W ⊙ Φ``.

    The folded model gives the same outputs with zero density overhead, and
    loads anywhere plain PyTorch does.

    Args:
        model: a model containing weighted convolutions (or a single one).
        inplace: modify ``model`` itself instead of a deep copy.

    Returns:
        The folded model.

    Example::

        >>> from wconv import WeightedConv2d
        >>> net = nn.Sequential(WeightedConv2d(3, 8, 3, density=[0.5]))
        >>> type(fold(net)[0]).__name__
        'Conv2d'
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(model, WeightedConvMixin):
        return _fold_layer(model)
    if not inplace:
        model = copy.deepcopy(model)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, WeightedConvMixin):
                setattr(parent, name, _fold_layer(child))
    return model


def _fold_layer(layer: WeightedConvMixin) -> nn.Module:
    plain = _PLAIN[layer._dims](**_conv_args(layer))
    plain.weight.data.copy_(layer.weighted_weight().detach())
    if layer.bias is not None:
        plain.bias.data.copy_(layer.bias.detach())
    plain.train(layer.training)
    return plain
