r"""Weighted convolution layers: ``conv(x, W ⊙ Φ)``.

Each layer is a subclass of the matching ``torch.nn.ConvNd`` with the same
arguments, order and defaults, plus two keyword arguments, ``density`` and
``learnable_density``. The kernel ``W`` is the ordinary ``weight`` parameter
(same shape and parameter count as ``nn.ConvNd``); the density mask ``Φ`` is a
buffer, or is built from a small learnable profile. Only ``weight * Φ`` is new
work, an elementwise product over the kernel's weights: its cost does not grow
with the image size.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from . import density as _density

__all__ = ["WeightedConv1d", "WeightedConv2d", "WeightedConv3d", "WeightedConvMixin"]


class WeightedConvMixin:
    """Shared machinery of :class:`WeightedConv1d`, ``2d`` and ``3d``.

    Attributes:
        density_mask: buffer with the mask ``Φ`` broadcast to the weight's shape,
            ``(1, 1, *kernel_size)``; present when the density is fixed.
        log_den: learnable densities only; one parameter per spatial axis holding
            ``log(den)`` for that axis (outermost first).
    """

    _dims: int

    def _init_density(self, density, learnable_density: bool) -> None:
        if not isinstance(learnable_density, bool):
            raise TypeError(f"learnable_density must be True or False, got {learnable_density!r}")
        self.learnable_density = learnable_density
        sizes = tuple(self.kernel_size)
        factory = {"device": self.weight.device, "dtype": self.weight.dtype}
        # Built in the weight's dtype: a density whose mask overflows it is refused here.
        phi = _density.mask(density, sizes, dtype=self.weight.dtype)
        self._full_mask = isinstance(density, Tensor)
        # Kept for repr and introspection; a mask tensor lives only in the buffer.
        self.density = None if self._full_mask else density
        if learnable_density:
            if isinstance(density, Tensor):
                raise ValueError(
                    "learnable_density=True learns a profile per axis (centre fixed to 1); a full "
                    "mask tensor has no such profile: pass None, a den list or a Density object")
            log_den = []
            for axis, (p, k) in enumerate(zip(_density.profiles(density, sizes), sizes)):
                if k % 2 == 0:
                    raise ValueError(
                        f"learnable_density=True needs odd kernel sizes (centre tap fixed to 1), "
                        f"got kernel_size={sizes}")
                half = p[: (k - 1) // 2]
                if not (torch.allclose(p, p.flip(0)) and abs(p[(k - 1) // 2].item() - 1) < 1e-12):
                    raise ValueError(
                        f"learnable_density=True starts from a symmetric profile with centre 1; "
                        f"the density given has profile {p.tolist()} on axis {axis}")
                log_den.append(nn.Parameter(half.log().to(**factory)))
            # Positivity and the unit centre hold by construction: den = exp(log_den) and
            # the centre tap is the constant 1, so no projection step is ever needed.
            self.log_den = nn.ParameterList(log_den)
            self.register_buffer("density_mask", None)
            with torch.no_grad():  # exp(log_den) in the weight's dtype must stay finite too
                _density._check_dtype_fits(self.weight_mask(), density, self.weight.dtype,
                                           " once learnable (stored as log_den, used as "
                                           "exp(log_den))")
        else:
            self.log_den = None
            self.register_buffer("density_mask", phi.to(**factory).reshape(1, 1, *sizes))

    def den(self) -> list[Tensor]:
        """The current ``den`` of each spatial axis (outermost first).

        For a fixed density this reads the mask through its centre tap, which
        gives the per-axis profiles of any separable mask with centre 1.
        """
        if any(k % 2 == 0 for k in self.kernel_size):
            raise ValueError(f"den is defined for odd kernel sizes, got {tuple(self.kernel_size)}")
        return [self._axis_profile(axis)[: (k - 1) // 2]
                for axis, k in enumerate(self.kernel_size)]

    def _axis_profile(self, axis: int) -> Tensor:
        if self.learnable_density:
            half = self.log_den[axis].exp()
            one = torch.ones(1, device=half.device, dtype=half.dtype)
            return torch.cat([half, one, half.flip(0)])
        index = [(k - 1) // 2 for k in self.kernel_size]
        index[axis] = slice(None)
        return self.density_mask[(0, 0, *index)]

    def weight_mask(self) -> Tensor:
        """The mask ``Φ``, shape ``(1, 1, *kernel_size)``, differentiable if learnable."""
        if not self.learnable_density:
            return self.density_mask
        result = None
        for axis in range(self._dims):
            shape = [1] * self._dims
            shape[axis] = -1
            p = self._axis_profile(axis).view(shape)
            result = p if result is None else result * p
        return result.reshape(1, 1, *self.kernel_size)

    def weighted_weight(self) -> Tensor:
        """``W ⊙ Φ``, the kernel the convolution actually applies."""
        return self.weight * self.weight_mask()

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
        if input.dim() not in (self._dims + 1, self._dims + 2):
            raise ValueError(
                f"{type(self).__name__} expects input of shape (N, C, {self._spatial_names}) or "
                f"(C, {self._spatial_names}), i.e. {self._dims + 2}-D or {self._dims + 1}-D; "
                f"got input of shape {tuple(input.shape)}")
        return self._conv_forward(input, self.weighted_weight(), self.bias)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        if self.learnable_density:
            return s + ", learnable_density=True"
        if self._full_mask:
            return s + ", density=<mask tensor>"
        if self.density is None:
            return s
        return s + f", density={self.density!r}"


def _spatial(dims: int) -> str:
    return ", ".join(("L",) if dims == 1 else ("H", "W") if dims == 2 else ("D", "H", "W"))


class WeightedConv1d(WeightedConvMixin, nn.Conv1d):
    r"""1-D weighted convolution: ``conv1d(x, W ⊙ Φ)``.

    Same arguments, order and defaults as :class:`torch.nn.Conv1d`, plus:

    Args:
        density: ``None`` (uniform, a standard convolution), the papers' ``den``
            (list or tuple of ``(k - 1) / 2`` positive numbers, outermost first;
            profile ``[*den, 1, *reversed(den)]``), a mask tensor of shape
            ``kernel_size``, or a :class:`wconv.density.Density`. Booleans are
            refused (``TypeError``), and so is a mask with an entry that is not
            finite in the layer's ``dtype`` (``ValueError``).
        learnable_density: learn ``den`` by gradient descent. It is stored as
            ``log_den`` and used as ``exp(log_den)``, so it stays positive; the
            centre tap is the constant 1.

    Shape:
        - Input: ``(N, C_in, L_in)`` or ``(C_in, L_in)``
        - Output: ``(N, C_out, L_out)`` or ``(C_out, L_out)``, as :class:`torch.nn.Conv1d`.

    Example::

        >>> layer = WeightedConv1d(4, 8, 5, padding=2, density=[0.2, 0.7])
        >>> layer(torch.randn(2, 4, 50)).shape
        torch.Size([2, 8, 50])
    """

    _dims = 1
    _spatial_names = _spatial(1)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None, *, density=None, learnable_density=False):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)
        self._init_density(density, learnable_density)


class WeightedConv2d(WeightedConvMixin, nn.Conv2d):
    r"""2-D weighted convolution: ``conv2d(x, W ⊙ Φ)``.

    A drop-in for :class:`torch.nn.Conv2d` (same arguments, order and defaults;
    ``isinstance(layer, nn.Conv2d)`` holds) whose kernel ``W`` is multiplied,
    position by position, by a density mask ``Φ``. For an odd kernel size ``k``
    the papers' ``den`` gives the profile ``a = [*den, 1, *reversed(den)]`` and
    ``Φ = outer(a, a)``. With ``Φ ≡ 1`` it is exactly ``nn.Conv2d``.

    Args:
        density: ``None`` (uniform), the papers' ``den`` (list or tuple of
            ``(k - 1) / 2`` positive numbers, outermost first), a mask tensor of
            shape ``kernel_size``, a :class:`wconv.density.Density`
            (``Gaussian(sigma)``, ``Triangular(half_width)``, ``Profile(values)``, ...),
            or one ``den`` / Density per axis for anisotropic kernels, e.g.
            ``kernel_size=(3, 5), density=([0.5], [0.3, 0.8])``. The mask is
            built in the layer's ``dtype``; an entry that overflows it (``inf``)
            raises ``ValueError``, and booleans raise ``TypeError``.
        learnable_density: learn one profile per axis by gradient descent. Each is
            stored as ``log_den`` and used as ``exp(log_den)``, so it stays
            positive; the centre tap is the constant 1. Adds ``(k - 1) / 2``
            parameters per axis.

    Shape:
        - Input: ``(N, C_in, H_in, W_in)`` or ``(C_in, H_in, W_in)``
        - Output: ``(N, C_out, H_out, W_out)`` or ``(C_out, H_out, W_out)``, as :class:`torch.nn.Conv2d`.

    Attributes:
        weight: the kernel ``W``, shape ``(C_out, C_in / groups, kH, kW)``.
        density_mask: buffer ``Φ`` of shape ``(1, 1, kH, kW)`` (fixed densities).
        log_den: per-axis learnable ``log(den)`` (learnable densities).

    Example::

        >>> layer = WeightedConv2d(3, 16, 7, padding=3, density=[0.25, 0.15, 0.55])
        >>> layer(torch.randn(8, 3, 32, 32)).shape
        torch.Size([8, 16, 32, 32])
        >>> isinstance(layer, nn.Conv2d)
        True
    """

    _dims = 2
    _spatial_names = _spatial(2)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None, *, density=None, learnable_density=False):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)
        self._init_density(density, learnable_density)


class WeightedConv3d(WeightedConvMixin, nn.Conv3d):
    r"""3-D weighted convolution: ``conv3d(x, W ⊙ Φ)``, ``Φ = a ⊗ a ⊗ a``.

    Same arguments, order and defaults as :class:`torch.nn.Conv3d`, plus
    ``density`` and ``learnable_density`` as in :class:`WeightedConv2d`.

    Shape:
        - Input: ``(N, C_in, D_in, H_in, W_in)`` or ``(C_in, D_in, H_in, W_in)``
        - Output: ``(N, C_out, D_out, H_out, W_out)`` or ``(C_out, D_out, H_out, W_out)``.

    Example::

        >>> layer = WeightedConv3d(1, 4, 3, padding=1, density=[0.5])
        >>> layer(torch.randn(2, 1, 8, 8, 8)).shape
        torch.Size([2, 4, 8, 8, 8])
    """

    _dims = 3
    _spatial_names = _spatial(3)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None, *, density=None, learnable_density=False):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)
        self._init_density(density, learnable_density)
