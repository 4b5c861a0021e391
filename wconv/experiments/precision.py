"""The arithmetic of a forward pass: float32, or bfloat16 autocast with channels-last.

bfloat16 runs the convolutions in bfloat16 under :func:`torch.autocast` (weights, optimizer
state and losses stay float32) where the device supports it natively: on this book's CPU
(AVX-512 BF16) it trains the full-width models several times faster than float32. Every run
records the precision it used (``'auto'`` resolves to :func:`default_precision`).

Example::

    >>> import torch
    >>> from wconv.experiments.precision import forward
    >>> forward(torch.nn.Conv2d(3, 4, 3), torch.randn(1, 3, 8, 8), "cpu", "float32").shape
    torch.Size([1, 4, 6, 6])
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["PRECISIONS", "check_precision", "bfloat16_supported", "default_precision",
           "resolve_precision", "is_emulated", "warn_if_emulated", "forward"]


#: Arithmetic of the forward pass (see :func:`wconv.experiments.train.fit`); ``'auto'`` picks :func:`default_precision`.
PRECISIONS = ("float32", "bfloat16")


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS` (``ValueError`` otherwise)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    return precision


def bfloat16_supported(device=None) -> bool:
    """Whether ``device`` runs bfloat16 arithmetic natively.

    On the CPU: oneDNN's own check (``torch.ops.mkldnn._is_mkldnn_bf16_supported()``,
    true with AVX-512 BF16 or AMX); without it autocast would emulate bfloat16,
    slower than float32. On CUDA: ``torch.cuda.is_bf16_supported()`` (Ampere and later).
    """
    from .. import settings

    device = torch.device(device) if device is not None else settings.device()
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    try:
        return bool(torch.backends.mkldnn.is_available()
                    and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):   # a build without oneDNN or without the check
        return False


def default_precision(device=None) -> str:
    """``'bfloat16'`` (autocast, channels-last) where :func:`bfloat16_supported`, else ``'float32'``."""
    return "bfloat16" if bfloat16_supported(device) else "float32"


def resolve_precision(precision: str, device=None) -> str:
    """``precision``, with ``'auto'`` replaced by :func:`default_precision` of ``device``."""
    return default_precision(device) if precision == "auto" else check_precision(precision)


def is_emulated(precision: str, device=None) -> bool:
    """Whether ``precision`` is ``'bfloat16'`` on a device without it natively (slow, not wrong)."""
    return precision == "bfloat16" and not bfloat16_supported(device)


def warn_if_emulated(precision: str, device=None) -> None:
    """Warn when ``precision`` is ``'bfloat16'`` on a device that would only emulate it.

    A stored grid names its arithmetic in its configuration, so rerunning it on such a
    machine keeps ``'bfloat16'``: correct, but slow (ResNet-20 trained at 22 images/s in
    emulated bfloat16 against 242 in float32 on a 2-core AVX2 CPU); a float32 run is another
    configuration, stored under another key.
    """
    if is_emulated(precision, device):
        import warnings

        warnings.warn("bfloat16 is emulated on this device, about 10x slower than float32; "
                      "precision='float32' (python -m wconv train --precision float32) trains "
                      "a separate float32 run instead", RuntimeWarning, stacklevel=3)


def forward(model: nn.Module, x: Tensor, device, precision: str = "float32") -> Tensor:
    """``model(x)`` in ``precision`` (see :func:`wconv.experiments.train.fit`).

    For ``'bfloat16'`` the model runs under :func:`torch.autocast` on a
    channels-last ``x`` and the result is cast back to float32; ``'float32'``
    is a plain call.
    """
    if check_precision(precision) == "float32":
        return model(x)
    if x.dim() == 4:   # oneDNN's and cuDNN's bfloat16 convolutions are fastest channels-last
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast(torch.device(device).type, dtype=torch.bfloat16):
        return model(x).float()
