r"""Denoising networks with standard or weighted convolutions: DnCNN and NAFNet.

Both take and return images ``(N, C, H, W)`` in ``[0, 1]`` (``C`` = 3 for
colour, 1 for grayscale) and are built from :func:`conv2d`, which gives a
plain :class:`torch.nn.Conv2d` when ``density`` is ``None`` and a
:class:`wconv.WeightedConv2d` otherwise. The density applies to every
``kernel_size x kernel_size`` convolution of the network (``1x1`` and the
``2x2`` down-sampling convolutions have no neighbourhood to weight and stay
standard). Given the same ``torch.manual_seed``, a standard and a weighted
model start from the same weights: :class:`wconv.WeightedConv2d` draws its
``weight`` exactly as ``nn.Conv2d`` does.

* :class:`DnCNN` (Zhang et al., *Beyond a Gaussian Denoiser*, IEEE TIP 2017):
  ``depth`` convolutions of ``width`` channels -- Conv+ReLU, ``depth - 2`` x
  (Conv+BatchNorm+ReLU), Conv -- that predict the noise (residual learning);
  the output is ``input - predicted_noise``. The paper's network is
  ``depth=17, width=64`` (20 for blind denoising).
* :class:`NAFNet` (Chen et al., *Simple Baselines for Image Restoration*,
  ECCV 2022): a U-shaped encoder--decoder of NAFBlocks (LayerNorm2d,
  ``1x1`` conv, depthwise ``k x k`` conv, SimpleGate, simplified channel
  attention, ``1x1`` conv, and a gated feed-forward half), 2x2 stride-2
  convolutions down, ``1x1`` conv + PixelShuffle up, additive skips and a
  global residual. The default here is small for CPUs (width 16, one block
  per level, three levels); the paper's SIDD model is
  ``width=32, enc_blocks=(2, 2, 4, 8), middle_blocks=12, dec_blocks=(2, 2, 2, 2)``.

Example::

    >>> import torch
    >>> from wconv.experiments.denoisers import DnCNN, NAFNet
    >>> net = DnCNN(channels=3, depth=5, width=16, kernel_size=7, density=[0.25, 0.15, 0.55])
    >>> net(torch.rand(2, 3, 32, 32)).shape
    torch.Size([2, 3, 32, 32])
    >>> NAFNet(channels=1)(torch.rand(1, 1, 30, 45)).shape
    torch.Size([1, 1, 30, 45])
"""
from __future__ import annotations

import numbers
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..conv import WeightedConv2d
from ..metrics import psnr, ssim
from .precision import forward

__all__ = ["conv2d", "DnCNN", "NAFNet", "NAFBlock", "LayerNorm2d", "SimpleGate", "ARCHITECTURES",
           "build", "denoise", "evaluate"]


def _check_kernel_size(kernel_size) -> int:
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, numbers.Integral) \
            or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be an odd positive integer (3, 5 or 7 in the book), "
                         f"got {kernel_size!r}")
    return int(kernel_size)


def _check_positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def conv2d(in_channels: int, out_channels: int, kernel_size: int, *, density=None,
           learnable_density: bool = False, groups: int = 1, bias: bool = True) -> nn.Conv2d:
    """A 'same'-padded ``k x k`` convolution: ``nn.Conv2d`` if ``density`` is ``None``
    (and not learnable), else :class:`wconv.WeightedConv2d` with that density.

    Example::

        >>> type(conv2d(3, 8, 3)).__name__, type(conv2d(3, 8, 3, density=[0.5])).__name__
        ('Conv2d', 'WeightedConv2d')
    """
    k = _check_kernel_size(kernel_size)
    kw = dict(padding=k // 2, groups=groups, bias=bias)
    if density is None and not learnable_density:
        return nn.Conv2d(in_channels, out_channels, k, **kw)
    return WeightedConv2d(in_channels, out_channels, k, density=density,
                          learnable_density=learnable_density, **kw)


class DnCNN(nn.Module):
    r"""DnCNN: a plain CNN that predicts the noise; output ``input - noise``.

    Args:
        channels: image channels (3 colour, 1 grayscale).
        depth: number of convolution layers (>= 2); the paper uses 17.
        width: feature channels; the paper uses 64.
        kernel_size: odd spatial size of every convolution (3 in the paper).
        density: ``None`` for standard convolutions, else the ``density=`` of
            :class:`wconv.WeightedConv2d` used by every convolution.
        learnable_density: learn the density (see :class:`wconv.WeightedConv2d`).
        batch_norm: BatchNorm after the middle convolutions, as in the paper; without it
            the middle convolutions have biases.
        zero_last: start the last convolution at zero (weight and bias), so that the
            untrained network returns its input and the predicted noise grows from nothing.
            With PyTorch's default initialisation the untrained residual is several times
            larger than the noise, and Adam's fastest way down is to shrink it to nothing,
            which can leave the network returning its input for thousands of steps.

    Shape:
        - Input: ``(N, C, H, W)``, noisy image in ``[0, 1]``.
        - Output: ``(N, C, H, W)``, the estimate of the clean image.

    Example::

        >>> net = DnCNN(channels=1, depth=17, width=64)
        >>> sum(p.numel() for p in net.parameters())
        556097
    """

    def __init__(self, channels: int = 3, depth: int = 17, width: int = 64, kernel_size: int = 3,
                 density=None, learnable_density: bool = False, batch_norm: bool = True,
                 zero_last: bool = False):
        super().__init__()
        channels = _check_positive_int(channels, "channels")
        depth = _check_positive_int(depth, "depth", 2)
        width = _check_positive_int(width, "width")
        k = _check_kernel_size(kernel_size)
        conv = dict(density=density, learnable_density=learnable_density)
        layers: list[nn.Module] = [conv2d(channels, width, k, **conv), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers.append(conv2d(width, width, k, bias=not batch_norm, **conv))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU(inplace=True))
        layers.append(conv2d(width, channels, k, **conv))
        if zero_last:
            with torch.no_grad():
                layers[-1].weight.zero_()
                layers[-1].bias.zero_()
        self.body = nn.Sequential(*layers)
        self.batch_norm, self.zero_last = bool(batch_norm), bool(zero_last)
        self.channels, self.depth, self.width, self.kernel_size = channels, depth, width, k

    def forward(self, input: Tensor) -> Tensor:
        return input - self.body(input)

    def noise(self, input: Tensor) -> Tensor:
        """The predicted noise (the network's residual output)."""
        return self.body(input)


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of every pixel of ``(N, C, H, W)``, with affine weights."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        y = (x - mu) / (var + self.eps).sqrt()
        return self.weight.view(1, -1, 1, 1) * y + self.bias.view(1, -1, 1, 1)


class SimpleGate(nn.Module):
    """Split the channels in two halves and multiply them: ``x1 * x2``."""

    def forward(self, x: Tensor) -> Tensor:
        a, b = x.chunk(2, dim=1)
        return a * b


class NAFBlock(nn.Module):
    r"""NAFNet's block: ``y = x + β·SCA-branch(x)``, ``out = y + γ·FFN(y)``.

    Spatial mixing is one depthwise ``k x k`` convolution (weighted when
    ``density`` is given); everything else is ``1x1``. ``β`` and ``γ`` start
    at zero, so each block starts as the identity.
    """

    def __init__(self, channels: int, kernel_size: int = 3, density=None,
                 learnable_density: bool = False, dw_expand: int = 2, ffn_expand: int = 2):
        super().__init__()
        c, dw, ffn = channels, channels * dw_expand, channels * ffn_expand
        self.norm1 = LayerNorm2d(c)
        self.conv1 = nn.Conv2d(c, dw, 1)
        self.conv2 = conv2d(dw, dw, kernel_size, groups=dw, density=density,
                            learnable_density=learnable_density)
        self.gate = SimpleGate()
        self.sca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(dw // 2, dw // 2, 1))
        self.conv3 = nn.Conv2d(dw // 2, c, 1)
        self.norm2 = LayerNorm2d(c)
        self.conv4 = nn.Conv2d(c, ffn, 1)
        self.conv5 = nn.Conv2d(ffn // 2, c, 1)
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        h = self.gate(self.conv2(self.conv1(self.norm1(x))))
        h = self.conv3(h * self.sca(h))
        y = x + h * self.beta
        h = self.conv5(self.gate(self.conv4(self.norm2(y))))
        return y + h * self.gamma


class NAFNet(nn.Module):
    r"""NAFNet: a U-shaped encoder--decoder of :class:`NAFBlock` with a global residual.

    Args:
        channels: image channels (3 colour, 1 grayscale).
        width: feature channels at full resolution (doubled at every level down).
        enc_blocks: NAFBlocks per encoder level; its length is the number of levels.
        middle_blocks: NAFBlocks at the lowest resolution.
        dec_blocks: NAFBlocks per decoder level (same length as ``enc_blocks``).
        kernel_size: odd size of the intro, ending and depthwise convolutions.
        density, learnable_density: as in :class:`wconv.WeightedConv2d`, for every
            ``kernel_size x kernel_size`` convolution; ``None`` for standard ones.

    Inputs whose sides are not multiples of ``2 ** len(enc_blocks)`` are padded
    (zeros) and the output cropped back.

    Shape:
        - Input: ``(N, C, H, W)`` noisy image in ``[0, 1]``.
        - Output: ``(N, C, H, W)``.

    Example::

        >>> net = NAFNet(channels=3, width=8, enc_blocks=(1, 1), middle_blocks=1, dec_blocks=(1, 1))
        >>> net(torch.rand(1, 3, 20, 20)).shape
        torch.Size([1, 3, 20, 20])
    """

    def __init__(self, channels: int = 3, width: int = 16, enc_blocks: Sequence[int] = (1, 1, 1),
                 middle_blocks: int = 1, dec_blocks: Sequence[int] = (1, 1, 1),
                 kernel_size: int = 3, density=None, learnable_density: bool = False):
        super().__init__()
        channels = _check_positive_int(channels, "channels")
        width = _check_positive_int(width, "width")
        k = _check_kernel_size(kernel_size)
        enc_blocks, dec_blocks = tuple(enc_blocks), tuple(dec_blocks)
        if len(enc_blocks) != len(dec_blocks):
            raise ValueError(f"enc_blocks and dec_blocks must have the same length (one entry per "
                             f"level), got {enc_blocks} and {dec_blocks}")
        for name, blocks in (("enc_blocks", enc_blocks), ("dec_blocks", dec_blocks)):
            for b in blocks:
                _check_positive_int(b, name, 0)
        _check_positive_int(middle_blocks, "middle_blocks", 0)
        conv = dict(density=density, learnable_density=learnable_density)
        block = dict(kernel_size=k, **conv)
        self.intro = conv2d(channels, width, k, **conv)
        self.ending = conv2d(width, channels, k, **conv)
        self.encoders, self.downs = nn.ModuleList(), nn.ModuleList()
        self.decoders, self.ups = nn.ModuleList(), nn.ModuleList()
        c = width
        for n in enc_blocks:
            self.encoders.append(nn.Sequential(*[NAFBlock(c, **block) for _ in range(n)]))
            self.downs.append(nn.Conv2d(c, 2 * c, 2, stride=2))
            c *= 2
        self.middle = nn.Sequential(*[NAFBlock(c, **block) for _ in range(middle_blocks)])
        for n in dec_blocks:
            self.ups.append(nn.Sequential(nn.Conv2d(c, 2 * c, 1, bias=False), nn.PixelShuffle(2)))
            c //= 2
            self.decoders.append(nn.Sequential(*[NAFBlock(c, **block) for _ in range(n)]))
        self.multiple = 2 ** len(enc_blocks)
        self.channels, self.width, self.kernel_size = channels, width, k

    def forward(self, input: Tensor) -> Tensor:
        h, w = input.shape[-2:]
        m = self.multiple
        x = F.pad(input, (0, (m - w % m) % m, 0, (m - h % m) % m))
        inp = x
        x = self.intro(x)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            x = encoder(x)
            skips.append(x)
            x = down(x)
        x = self.middle(x)
        for decoder, up, skip in zip(self.decoders, self.ups, reversed(skips)):
            x = decoder(up(x) + skip)
        x = self.ending(x) + inp
        return x[..., :h, :w]


#: Architectures :func:`build` knows.
ARCHITECTURES = {"dncnn": DnCNN, "nafnet": NAFNet}


def build(arch: str, channels: int = 3, kernel_size: int = 3, density=None, **kwargs) -> nn.Module:
    """``DnCNN`` or ``NAFNet`` by name (``'dncnn'``, ``'nafnet'``); ``kwargs`` go to the class.

    Example::

        >>> build('dncnn', channels=1, depth=4, width=8).depth
        4
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {', '.join(map(repr, ARCHITECTURES))}, got {arch!r}")
    return ARCHITECTURES[arch](channels=channels, kernel_size=kernel_size, density=density, **kwargs)


@torch.no_grad()
def denoise(model: nn.Module, noisy: Tensor, clip: bool = True, precision: str = "float32") -> Tensor:
    """Run ``model`` in eval mode on one image ``(C, H, W)`` or a batch; clip to ``[0, 1]``.

    The model's training/eval mode is restored afterwards. ``precision``: as in
    :func:`wconv.experiments.train.fit` (``'bfloat16'`` for a model trained that way).
    """
    if not isinstance(noisy, Tensor) or noisy.dim() not in (3, 4):
        raise ValueError(f"noisy must be a tensor (C, H, W) or (N, C, H, W), got "
                         f"{tuple(noisy.shape) if isinstance(noisy, Tensor) else type(noisy).__name__}")
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        x = noisy.to(device)
        out = forward(model, x.unsqueeze(0) if noisy.dim() == 3 else x, device, precision)
        out = out[0] if noisy.dim() == 3 else out
    finally:
        model.train(was_training)
    return out.clamp(0, 1) if clip else out


def evaluate(model: nn.Module, noisy: Sequence[Tensor], clean: Sequence[Tensor],
             precision: str = "float32") -> dict:
    """PSNR (dB) and SSIM of ``model`` on paired images (``float`` ``(C, H, W)`` in ``[0, 1]``).

    The output is clipped to ``[0, 1]`` before scoring (``data_range=1``); ``precision``
    as in :func:`denoise`.

    Returns:
        ``{'psnr': [...], 'ssim': [...], 'mean_psnr': float, 'mean_ssim': float}``,
        one list entry per image.
    """
    if len(noisy) != len(clean) or not noisy:
        raise ValueError(f"need matching, non-empty noisy and clean lists, got {len(noisy)} and "
                         f"{len(clean)} images")
    p, s = [], []
    for x, y in zip(noisy, clean):
        out = denoise(model, x, precision=precision).cpu()
        p.append(float(psnr(out, y)))
        s.append(float(ssim(out, y)))
    return {"psnr": p, "ssim": s, "mean_psnr": sum(p) / len(p), "mean_ssim": sum(s) / len(s)}
