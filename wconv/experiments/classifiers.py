r"""CIFAR-style classification models with standard or weighted convolutions.

* :class:`VGG` -- VGG-11 / VGG-16 with BatchNorm, a width multiplier and one
  linear classifier (the usual CIFAR variant: 32x32 input, 1x1 after 5 pools);
* :class:`ResNet` -- CIFAR ResNets: ResNet-20 (He et al. 2016, 3 stages of
  16/32/64 channels) and ResNet-18 (4 stages of 64..512, 3x3 stem, no max-pool).

Every spatial convolution has kernel size ``kernel_size`` (3, 5 or 7, padding
``kernel_size // 2``). With ``density=None`` they are ``nn.Conv2d``; otherwise
the model is built standard and then converted with :func:`wconv.convert`, so a
standard and a weighted model built under the same seed start from the same
weights ``W₀``.

Example::

    >>> import torch, wconv.experiments.classifiers as m
    >>> net = m.build_model("vgg11", kernel_size=3, density="paper", width=0.25)
    >>> net(torch.randn(2, 3, 32, 32)).shape
    torch.Size([2, 100])
"""
from __future__ import annotations

import numbers

import torch
from torch import Tensor, nn

from .. import density as _density
from ..density import KERNEL_SIZES
from ..surgery import convert

__all__ = ["VGG", "ResNet", "BasicBlock", "ARCHITECTURES", "build_model", "vgg11", "vgg16", "resnet20", "resnet18"]

def _channels(c: int, width: float) -> int:
    return max(1, int(round(c * width)))


_VGG_CFG = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"],
}


class VGG(nn.Module):
    """VGG with BatchNorm for 32x32 inputs.

    Args:
        cfg: list of output channels and ``"M"`` (2x2 max-pool), as torchvision.
        num_classes: outputs of the linear classifier.
        kernel_size: size of every convolution kernel (odd), padding ``k // 2``.
        width: channel multiplier (``0.25`` gives 16..128 channels for VGG-11).

    Shape:
        - Input: ``(N, 3, 32, 32)``
        - Output: ``(N, num_classes)``
    """

    def __init__(self, cfg, num_classes: int = 100, kernel_size: int = 3, width: float = 1.0):
        super().__init__()
        layers, c_in = [], 3
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
                continue
            c_out = _channels(v, width)
            layers += [nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c_in, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


class BasicBlock(nn.Module):
    """Two ``k x k`` convolutions with BatchNorm and an identity (or 1x1) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int, kernel_size: int):
        super().__init__()
        p = kernel_size // 2
        self.conv1 = nn.Conv2d(c_in, c_out, kernel_size, stride, p, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, kernel_size, 1, p, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                          nn.BatchNorm2d(c_out))

    def forward(self, x: Tensor) -> Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """CIFAR ResNet: ``k x k`` stem, stages of :class:`BasicBlock`, global average pool.

    Args:
        blocks: blocks per stage, e.g. ``(3, 3, 3)`` for ResNet-20.
        channels: channels per stage, e.g. ``(16, 32, 64)``.
        num_classes, kernel_size, width: as :class:`VGG`.

    Shape:
        - Input: ``(N, 3, H, W)``
        - Output: ``(N, num_classes)``
    """

    def __init__(self, blocks, channels, num_classes: int = 100, kernel_size: int = 3,
                 width: float = 1.0):
        super().__init__()
        widths = [_channels(c, width) for c in channels]
        self.conv1 = nn.Conv2d(3, widths[0], kernel_size, 1, kernel_size // 2, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        stages, c_in = [], widths[0]
        for i, (n, c) in enumerate(zip(blocks, widths)):
            for j in range(n):
                stages.append(BasicBlock(c_in, c, 2 if (i > 0 and j == 0) else 1, kernel_size))
                c_in = c
        self.layers = nn.Sequential(*stages)
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        out = self.layers(torch.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(out, 1), 1))


def vgg11(**kwargs) -> VGG:
    """VGG-11 with BatchNorm (8 convolutions)."""
    return VGG(_VGG_CFG["vgg11"], **kwargs)


def vgg16(**kwargs) -> VGG:
    """VGG-16 with BatchNorm (13 convolutions)."""
    return VGG(_VGG_CFG["vgg16"], **kwargs)


def resnet20(**kwargs) -> ResNet:
    """CIFAR ResNet-20 (3 stages x 3 blocks, 16/32/64 channels)."""
    return ResNet((3, 3, 3), (16, 32, 64), **kwargs)


def resnet18(**kwargs) -> ResNet:
    """CIFAR ResNet-18 (4 stages x 2 blocks, 64..512 channels)."""
    return ResNet((2, 2, 2, 2), (64, 128, 256, 512), **kwargs)


#: Architecture names accepted by :func:`build_model`.
ARCHITECTURES = {"vgg11": vgg11, "vgg16": vgg16, "resnet20": resnet20, "resnet18": resnet18}


def build_model(arch: str, num_classes: int = 100, kernel_size: int = 3, density=None,
                width: float = 1.0) -> nn.Module:
    """Build a named architecture with standard or weighted convolutions.

    Args:
        arch: one of :data:`ARCHITECTURES` (``vgg11``, ``vgg16``, ``resnet20``, ``resnet18``).
        num_classes: classifier outputs.
        kernel_size: 3, 5 or 7 (the 1x1 shortcut convolutions of ResNet stay 1x1
            and standard).
        density: ``None`` (standard convolutions), a name from :data:`wconv.density.NAMED`,
            or any ``density=`` accepted by :class:`wconv.WeightedConv2d`.
        width: channel multiplier, ``> 0``.

    Returns:
        The model; with a density, its ``k x k`` convolutions are
        :class:`wconv.WeightedConv2d` holding the same initial weights the
        standard model would have under the same seed.
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {', '.join(ARCHITECTURES)}; got {arch!r}")
    if kernel_size not in KERNEL_SIZES:
        sizes = ", ".join(map(str, KERNEL_SIZES))
        raise ValueError(f"kernel_size must be one of {sizes}; got {kernel_size!r}")
    if isinstance(width, bool) or not isinstance(width, numbers.Real) or not width > 0:
        raise ValueError(f"width must be a positive number, got {width!r}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    model = ARCHITECTURES[arch](num_classes=num_classes, kernel_size=kernel_size, width=width)
    if isinstance(density, str):
        density = _density.named_density(density, kernel_size)
    if density is not None:
        model = convert(model, density=density, kernel_sizes=kernel_size, inplace=True)
    return model
