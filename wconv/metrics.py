r"""Image quality metrics for denoising: PSNR and SSIM.

Both take images as tensors of shape ``(C, H, W)`` (one image) or
``(N, C, H, W)`` (a batch, one value per image) whose values live on the
scale ``[0, data_range]``: ``data_range=1.0`` (the default) for images in
``[0, 1]``, as the models in :mod:`wconv.experiments.denoisers` see them, or
``data_range=255.0`` for images on the 0--255 scale. The result is the same
on either scale, provided ``data_range`` matches.

* :func:`psnr` -- ``10 log10(data_range² / MSE)`` in dB, the MSE taken over
  every pixel and channel of one image.
* :func:`mse_reduction` -- the fraction of the MSE that a PSNR gain removes,
  ``1 - 10^(-gain / 10)``: how a gain in dB reads as a "loss reduced by x %".
* :func:`ssim` -- the structural similarity of Wang et al. (2004), with the
  standard 11x11 Gaussian window of ``σ = 1.5``, ``K1 = 0.01``,
  ``K2 = 0.03``, population (not sample) covariances, the mean of the SSIM
  map over the positions where the whole window fits inside the image, and,
  for colour images, the mean over channels. These are exactly the settings
  of scikit-image's ``structural_similarity(..., gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=...)``, and the tests
  check the two agree. (Wang et al.'s MATLAB code also downsamples large
  images first; like scikit-image, this does not.)

A set's score is the mean of the per-image scores (:func:`mean_psnr`,
:func:`mean_ssim`), the usual way denoising papers report a test set.

Computation is in float64, whatever the input's dtype.

Example::

    >>> import torch
    >>> from wconv.metrics import psnr, ssim
    >>> clean = torch.rand(3, 64, 64)
    >>> noisy = clean + 25 / 255 * torch.randn(3, 64, 64)
    >>> round(float(psnr(noisy, clean)), 0)
    20.0
    >>> float(ssim(clean, clean))
    1.0
"""
from __future__ import annotations

import math
import numbers
from typing import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["psnr", "mse_reduction", "ssim", "mean_psnr", "mean_ssim", "gaussian_window"]

#: SSIM constants of Wang et al. (2004).
K1, K2 = 0.01, 0.03
WINDOW_SIZE, WINDOW_SIGMA = 11, 1.5


def _check_pair(input: Tensor, target: Tensor, data_range) -> tuple[Tensor, Tensor, float]:
    for name, value in (("input", input), ("target", target)):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
        if value.dim() not in (3, 4):
            raise ValueError(
                f"{name} must have shape (C, H, W) or (N, C, H, W), got shape {tuple(value.shape)}")
    if input.shape != target.shape:
        raise ValueError(
            f"input and target must have the same shape, got {tuple(input.shape)} and "
            f"{tuple(target.shape)}")
    if isinstance(data_range, bool) or not isinstance(data_range, numbers.Real) \
            or not math.isfinite(data_range) or data_range <= 0:
        raise ValueError(
            f"data_range must be a positive number (1.0 for images in [0, 1], 255.0 for the 0-255 "
            f"scale), got {data_range!r}")
    return input.detach().double(), target.detach().double(), float(data_range)


def psnr(input: Tensor, target: Tensor, data_range: float = 1.0) -> Tensor:
    r"""Peak signal-to-noise ratio in dB, ``10 log10(data_range² / MSE)``.

    Args:
        input: the estimate, ``(C, H, W)`` or ``(N, C, H, W)``.
        target: the clean reference, same shape.
        data_range: the value of a white pixel: ``1.0`` for ``[0, 1]`` images,
            ``255.0`` for the 0--255 scale.

    Returns:
        A scalar tensor for one image, or shape ``(N,)`` for a batch (float64).
        Identical images give ``inf``.

    Example::

        >>> x = torch.zeros(1, 4, 4); y = torch.full((1, 4, 4), 0.1)
        >>> round(float(psnr(y, x)), 4)
        20.0
    """
    x, y, r = _check_pair(input, target, data_range)
    mse = (x - y).pow(2).flatten(-3).mean(-1)
    return 10 * torch.log10(r * r / mse)


def mse_reduction(gain_db: float) -> float:
    """The fraction of the mean squared error removed by a PSNR gain of ``gain_db`` dB.

    PSNR is ``10 log10(data_range² / MSE)``, so a gain of ``g`` dB multiplies the MSE by
    ``10^(-g / 10)``: +3.01 dB halves it. Applied to a difference of *mean* PSNRs over a set,
    it is the reduction of the geometric mean of the per-image MSEs. A negative gain gives a
    negative reduction (the MSE grew).

    Example::

        >>> round(mse_reduction(10 * math.log10(2)), 6)
        0.5
        >>> mse_reduction(0.0)
        0.0
    """
    if isinstance(gain_db, bool) or not isinstance(gain_db, numbers.Real):
        raise TypeError(f"gain_db must be a real number, got {gain_db!r}")
    return 1.0 - 10.0 ** (-float(gain_db) / 10.0)


def gaussian_window(size: int = WINDOW_SIZE, sigma: float = WINDOW_SIGMA) -> Tensor:
    """The normalised 1-D Gaussian window (float64, sums to 1), as ``scipy.ndimage`` builds it."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    w = torch.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def _filter(x: Tensor, window: Tensor) -> Tensor:
    """Separable 'valid' Gaussian filter of every channel of ``x`` (N, C, H, W)."""
    c = x.shape[1]
    k = window.numel()
    x = F.conv2d(x, window.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)
    return F.conv2d(x, window.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)


def ssim(input: Tensor, target: Tensor, data_range: float = 1.0) -> Tensor:
    r"""Structural similarity (Wang et al., 2004), mean over positions and channels.

    Uses the 11x11 Gaussian window with ``σ = 1.5``, ``K1 = 0.01``,
    ``K2 = 0.03`` and population covariances; averages the SSIM map over the
    positions where the whole window lies inside the image (the image minus a
    5-pixel border) and then over channels.

    Args:
        input: the estimate, ``(C, H, W)`` or ``(N, C, H, W)``; ``H, W >= 11``.
        target: the clean reference, same shape.
        data_range: ``1.0`` for ``[0, 1]`` images, ``255.0`` for the 0--255 scale.

    Returns:
        A scalar tensor for one image, or shape ``(N,)`` for a batch (float64).

    Example::

        >>> x = torch.rand(3, 32, 32)
        >>> float(ssim(x, x))
        1.0
    """
    x, y, r = _check_pair(input, target, data_range)
    single = x.dim() == 3
    if single:
        x, y = x.unsqueeze(0), y.unsqueeze(0)
    if min(x.shape[-2:]) < WINDOW_SIZE:
        raise ValueError(
            f"ssim needs images of at least {WINDOW_SIZE}x{WINDOW_SIZE} pixels (its Gaussian "
            f"window), got {tuple(x.shape[-2:])}")
    w = gaussian_window().to(x.device)
    mu_x, mu_y = _filter(x, w), _filter(y, w)
    var_x = _filter(x * x, w) - mu_x * mu_x
    var_y = _filter(y * y, w) - mu_y * mu_y
    cov = _filter(x * y, w) - mu_x * mu_y
    c1, c2 = (K1 * r) ** 2, (K2 * r) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    out = s.mean(dim=(-2, -1)).mean(dim=-1)   # per channel, then over channels
    return out[0] if single else out


def _mean(metric, inputs: Iterable[Tensor], targets: Iterable[Tensor], data_range: float) -> float:
    values = [float(metric(a, b, data_range)) for a, b in zip(inputs, targets, strict=True)]
    if not values:
        raise ValueError("need at least one image pair, got none")
    return sum(values) / len(values)


def mean_psnr(inputs: Iterable[Tensor], targets: Iterable[Tensor], data_range: float = 1.0) -> float:
    """Mean of the per-image PSNRs of paired images (each ``(C, H, W)``; sizes may differ)."""
    return _mean(psnr, inputs, targets, data_range)


def mean_ssim(inputs: Iterable[Tensor], targets: Iterable[Tensor], data_range: float = 1.0) -> float:
    """Mean of the per-image SSIMs of paired images (each ``(C, H, W)``; sizes may differ)."""
    return _mean(ssim, inputs, targets, data_range)
