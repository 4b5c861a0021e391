"""wconv: weighted convolution for PyTorch.

``WeightedConv1d/2d/3d`` are drop-ins for ``nn.Conv1d/2d/3d`` whose kernel is
multiplied, position by position, by a density mask; :func:`convert` and
:func:`fold` move existing models to weighted convolution and back.

Example::

    >>> import torch, wconv
    >>> layer = wconv.WeightedConv2d(3, 16, 3, padding=1, density=[0.5])
    >>> layer(torch.randn(1, 3, 32, 32)).shape
    torch.Size([1, 16, 32, 32])
"""
from . import density, settings
from .conv import WeightedConv1d, WeightedConv2d, WeightedConv3d
from .surgery import convert, fold

__version__ = "0.1.0"

__all__ = ["WeightedConv1d", "WeightedConv2d", "WeightedConv3d", "convert", "fold", "density", "settings",
           "__version__"]
