r"""Density functions for weighted convolution.

A weighted convolution multiplies its kernel ``W``, position by position, by a
density mask ``Φ``. In the papers' parametrisation a kernel of odd size ``k``
takes ``den``, a list of ``(k - 1) / 2`` values, outermost first: the 1-D
profile is ``[*den, 1, *reversed(den)]`` and the mask is the outer product of
the profiles of every spatial axis.

This module holds the density families, the functions that turn any accepted
``density=`` argument into a profile or a mask, and least-squares fits of a
profile with the Gaussian and triangular families.

Accepted forms of ``density`` (everywhere in :mod:`wconv`):

* ``None`` -- uniform density, ``Φ ≡ 1`` (a standard convolution);
* a list or tuple of numbers -- the papers' ``den`` (outermost first);
* a tensor with the kernel's spatial shape -- a full mask, used as given;
* a :class:`Density` object -- :class:`Uniform`, :class:`Gaussian`,
  :class:`Triangular`, :class:`Symmetric` or :class:`Profile`;
* a list or tuple with one ``den`` list or :class:`Density` per spatial axis,
  for anisotropic kernels such as ``kernel_size=(3, 5)``.

Example::

    >>> from wconv import density
    >>> density.profile([0.25, 0.15, 0.55], 7)
    tensor([0.2500, 0.1500, 0.5500, 1.0000, 0.5500, 0.1500, 0.2500], dtype=torch.float64)
    >>> density.mask(density.Gaussian(1.0), (3, 3)).shape
    torch.Size([3, 3])
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

__all__ = [
    "Density", "Uniform", "Gaussian", "Triangular", "Symmetric", "Profile",
    "profile", "profiles", "mask", "as_density", "Fit", "fit",
    "FAMILIES", "PAPER_RANGES", "PAPER_OPTIMUM_7X7", "KERNEL_SIZES", "PAPER_DEN", "NAMED",
    "named_density",
]

#: Ranges of ``den`` the papers suggest, per kernel size (outermost value first).
PAPER_RANGES = {
    3: [((0.5,), (1.5,))],
    5: [((0.05, 0.05), (1.0, 1.0)), ((0.5, 0.5), (1.5, 1.5))],
    7: [((0.05, 0.05, 0.05), (0.5, 0.5, 0.5)),
        ((0.15, 0.15, 0.15), (1.0, 1.0, 1.0)),
        ((0.25, 0.25, 0.25), (1.5, 1.5, 1.5))],
}

#: The 7x7 density the second paper reports as optimal (outermost first).
PAPER_OPTIMUM_7X7 = (0.25, 0.15, 0.55)

#: The square kernel sizes the book's experiments use.
KERNEL_SIZES = (3, 5, 7)

#: The densities the papers' reference implementation suggests per kernel size
#: (README of github.com/cammarasana123/weightedConvolution2.0: ``den=[0.7]`` for 3x3,
#: ``[0.2, 0.8]`` for 5x5, and the reported 7x7 optimum ``[0.25, 0.15, 0.55]``);
#: each lies inside the ranges of :data:`PAPER_RANGES`.
PAPER_DEN = {3: (0.7,), 5: (0.2, 0.8), 7: PAPER_OPTIMUM_7X7}

#: The names :func:`named_density` understands.
NAMED = ("uniform", "paper", "gaussian", "triangular")


def _offsets(size: int) -> torch.Tensor:
    """Distance of each tap from the centre, in taps: ``-(k-1)/2 ... (k-1)/2``."""
    return torch.arange(size, dtype=torch.float64) - (size - 1) / 2


def _check_positive_finite(values: torch.Tensor, name: str, received) -> None:
    if not torch.isfinite(values).all():
        raise ValueError(f"{name} must hold finite numbers, got {received!r}")
    if (values <= 0).any():
        raise ValueError(
            f"{name} must be strictly positive (a zero or negative weight switches a kernel "
            f"position off or flips it), got {received!r}")


def _check_odd(size: int, what: str) -> None:
    if size % 2 == 0:
        raise ValueError(
            f"{what} is defined around a centre tap and needs an odd kernel size, got {size}; "
            "use an odd kernel_size, or pass a full mask tensor or a Profile of that length")


class Density:
    """Base class: a 1-D density profile, applied along each spatial axis.

    Subclasses implement :meth:`profile`, returning a float64 tensor of shape
    ``(size,)``. The mask of a kernel is the outer product of the profiles of
    its axes.
    """

    #: True when the profile is defined around a centre tap (odd sizes only).
    centred = True

    def profile(self, size: int) -> torch.Tensor:
        raise NotImplementedError

    def mask(self, kernel_size) -> torch.Tensor:
        return mask(self, kernel_size)


class Uniform(Density):
    """``Φ ≡ 1``: weighted convolution reduces to standard convolution."""

    centred = False

    def profile(self, size: int) -> torch.Tensor:
        _check_size(size)
        return torch.ones(size, dtype=torch.float64)

    def __repr__(self) -> str:
        return "Uniform()"

    def __eq__(self, other) -> bool:
        return isinstance(other, Uniform)

    __hash__ = object.__hash__


class Gaussian(Density):
    r"""Gaussian profile ``exp(-d² / (2 σ²))``, ``d`` the tap offset from the centre.

    Args:
        sigma: standard deviation in taps, ``> 0``.
    """

    def __init__(self, sigma: float):
        self.sigma = _positive_number(sigma, "sigma")

    def profile(self, size: int) -> torch.Tensor:
        _check_size(size)
        _check_odd(size, "Gaussian density")
        return torch.exp(-_offsets(size) ** 2 / (2 * self.sigma ** 2))

    def __repr__(self) -> str:
        return f"Gaussian(sigma={self.sigma:g})"


class Triangular(Density):
    r"""Triangular (tent) profile ``1 - |d| / h``, ``d`` the tap offset from the centre.

    Args:
        half_width: ``h``, in taps; every tap must get a positive weight, so for a
            kernel of size ``k`` it must exceed ``(k - 1) / 2``.
    """

    def __init__(self, half_width: float):
        self.half_width = _positive_number(half_width, "half_width")

    def profile(self, size: int) -> torch.Tensor:
        _check_size(size)
        _check_odd(size, "Triangular density")
        values = 1 - _offsets(size).abs() / self.half_width
        if (values <= 0).any():
            raise ValueError(
                f"Triangular(half_width={self.half_width:g}) gives zero or negative weight at the "
                f"outer taps of a kernel of size {size}; use half_width > {(size - 1) / 2:g}")
        return values

    def __repr__(self) -> str:
        return f"Triangular(half_width={self.half_width:g})"


class Symmetric(Density):
    """The papers' parametrisation: ``den`` outermost first, centre 1, mirrored.

    ``Symmetric([a, b])`` gives the 5-tap profile ``[a, b, 1, b, a]``.

    Args:
        den: ``(k - 1) / 2`` strictly positive finite numbers.
    """

    def __init__(self, den: Sequence[float]):
        values = _number_tensor(den, "den")
        _check_positive_finite(values, "den", list(den))
        self.den = tuple(float(v) for v in values)

    @property
    def size(self) -> int:
        return 2 * len(self.den) + 1

    def profile(self, size: int) -> torch.Tensor:
        _check_size(size)
        if size != self.size:
            _check_odd(size, "den")
            raise ValueError(
                f"den must hold (kernel_size - 1) / 2 = {(size - 1) // 2} values for kernel size "
                f"{size}, got {len(self.den)}: {list(self.den)}")
        half = torch.tensor(self.den, dtype=torch.float64)
        return torch.cat([half, torch.ones(1, dtype=torch.float64), half.flip(0)])

    def __repr__(self) -> str:
        return f"Symmetric({list(self.den)})"


class Profile(Density):
    """Any 1-D profile of ``k`` strictly positive values, used as given (any ``k``).

    Args:
        values: the profile, one value per tap.
    """

    centred = False

    def __init__(self, values: Sequence[float]):
        tensor = _number_tensor(values, "values")
        _check_positive_finite(tensor, "values", list(values))
        self.values = tuple(float(v) for v in tensor)

    def profile(self, size: int) -> torch.Tensor:
        _check_size(size)
        if size != len(self.values):
            raise ValueError(
                f"Profile has {len(self.values)} values but the kernel axis has size {size}")
        return torch.tensor(self.values, dtype=torch.float64)

    def __repr__(self) -> str:
        return f"Profile({list(self.values)})"


#: Families that :func:`fit` and :func:`as_density` know by name.
FAMILIES = {"uniform": Uniform, "gaussian": Gaussian, "triangular": Triangular}


def _check_size(size) -> None:
    if not isinstance(size, numbers.Integral) or size < 1:
        raise ValueError(f"kernel size must be a positive integer, got {size!r}")


def _positive_number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _is_bool(value) -> bool:
    return isinstance(value, (bool, np.bool_))


def _refuse_bools(values, name: str) -> None:
    """Python counts ``True`` as the number 1, but a boolean is never a density value."""
    for i, v in enumerate(values):
        if _is_bool(v):
            raise TypeError(
                f"{name} must hold numbers, got the boolean {v!r} at position {i} of "
                f"{list(values)!r}; booleans are not density values (write 1.0, not True)")


def _is_number_sequence(value) -> bool:
    return isinstance(value, (list, tuple)) and all(
        isinstance(v, numbers.Real) and not _is_bool(v) for v in value)


def _number_tensor(values, name: str) -> torch.Tensor:
    if isinstance(values, torch.Tensor):
        values = values.detach().flatten().tolist()
    if isinstance(values, (list, tuple)):
        _refuse_bools(values, name)
    if not _is_number_sequence(values):
        raise TypeError(f"{name} must be a list or tuple of numbers, got {values!r}")
    return torch.tensor(values, dtype=torch.float64)


def as_density(density) -> Density:
    """Turn a one-axis ``density`` argument into a :class:`Density` object.

    Accepts ``None``, a :class:`Density`, a ``den`` list or tuple of numbers, or
    the name ``'uniform'``; the other families need their parameter, so pass an
    object such as ``Gaussian(sigma=1.0)``.
    """
    if density is None:
        return Uniform()
    if isinstance(density, Density):
        return density
    if isinstance(density, (list, tuple)):
        _refuse_bools(density, "den")
    if _is_number_sequence(density):
        return Symmetric(density)
    if isinstance(density, str):
        if density == "uniform":
            return Uniform()
        raise ValueError(
            f"density family {density!r} needs parameters or is unknown; known families "
            f"{sorted(FAMILIES)}: pass an object such as wconv.density.Gaussian(sigma=1.0)")
    raise TypeError(
        "density must be None, a den list of numbers, a tensor mask, a wconv.density.Density, "
        f"or one of these per spatial axis; got {type(density).__name__} {density!r}")


def profiles(density, kernel_size) -> list[torch.Tensor]:
    """The 1-D profile of each spatial axis, as float64 tensors.

    Args:
        density: any accepted form except a full mask tensor (see the module docs).
        kernel_size: an int or a tuple with one size per spatial axis.
    """
    sizes = _kernel_sizes(kernel_size)
    if isinstance(density, torch.Tensor):
        raise TypeError("a full mask tensor has no per-axis profiles; pass a den list or a Density")
    per_axis = _per_axis(density, len(sizes))
    if per_axis is None:
        one = as_density(density)
        if isinstance(one, Symmetric) and len(set(sizes)) > 1:
            raise ValueError(
                f"a single den {list(one.den)} cannot weight the anisotropic kernel_size "
                f"{tuple(sizes)}; pass one den per axis, e.g. density=({[0.5] * ((sizes[0] - 1) // 2)}, "
                f"{[0.5] * ((sizes[1] - 1) // 2)}, ...)")
        per_axis = [one] * len(sizes)
    return [d.profile(k) for d, k in zip(per_axis, sizes)]


def profile(density, size: int) -> torch.Tensor:
    """The 1-D profile of ``density`` for a kernel axis of ``size`` taps (float64).

    Example::

        >>> profile([0.5], 3)
        tensor([0.5000, 1.0000, 0.5000], dtype=torch.float64)
    """
    _check_size(size)
    return profiles(density, (size,))[0]


def mask(density, kernel_size, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The density mask ``Φ`` for a kernel of spatial shape ``kernel_size``.

    The mask is the outer product of the per-axis profiles, computed in float64
    and returned in ``dtype``; a tensor ``density`` is checked (shape,
    positivity) and returned in ``dtype``.

    Args:
        density: any accepted form (see the module docs).
        kernel_size: an int or a tuple with one size per spatial axis.
        dtype: floating point dtype of the result (default ``torch.float64``).
            A mask with an entry that is not finite in ``dtype`` (a value too
            large for it, or a product of profile values too large for it)
            raises ``ValueError``.

    Shape:
        - Output: ``kernel_size``.

    Example::

        >>> mask([0.5], (3, 3))
        tensor([[0.2500, 0.5000, 0.2500],
                [0.5000, 1.0000, 0.5000],
                [0.2500, 0.5000, 0.2500]], dtype=torch.float64)
    """
    sizes = _kernel_sizes(kernel_size)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating point torch.dtype, got {dtype!r}")
    if isinstance(density, torch.Tensor):
        if tuple(density.shape) != tuple(sizes):
            raise ValueError(
                f"density mask must have the kernel's spatial shape {tuple(sizes)}, "
                f"got a tensor of shape {tuple(density.shape)}")
        if density.dtype == torch.bool:
            raise TypeError("density mask must hold numbers, got a tensor of dtype torch.bool; "
                            "booleans are not density values")
        values = density.detach().to(torch.float64)
        _check_positive_finite(values, "density mask", _tensor_summary(values))
        result = values.clone()
    else:
        result = None
        for axis, p in enumerate(profiles(density, sizes)):
            shape = [1] * len(sizes)
            shape[axis] = -1
            result = p.view(shape) if result is None else result * p.view(shape)
    return _check_dtype_fits(result.to(dtype), density, dtype)


def _check_dtype_fits(values: torch.Tensor, density, dtype: torch.dtype,
                      how: str = "") -> torch.Tensor:
    """Return ``values``, a mask built in ``dtype``, if every entry is finite; else raise.

    Used by :func:`mask` and by the layers, which also check the mask their
    learnable ``log_den`` gives (``how`` then says so in the message).
    """
    if not torch.isfinite(values).all():
        given = (f"a density mask tensor ({_tensor_summary(density)})"
                 if isinstance(density, torch.Tensor) else f"density={density!r}")
        raise ValueError(
            f"{given} overflows {dtype}{how}: its mask has entries beyond "
            f"{torch.finfo(dtype).max:g}, the largest finite {dtype} value; use smaller values")
    return values


def _tensor_summary(values: torch.Tensor) -> str:
    values = values.detach().to(torch.float64)
    return f"a tensor with min {values.min().item():g} and max {values.max().item():g}"


def _kernel_sizes(kernel_size) -> list[int]:
    if isinstance(kernel_size, numbers.Integral):
        kernel_size = (kernel_size,)
    if not isinstance(kernel_size, (tuple, list, torch.Size)) or not kernel_size:
        raise TypeError(f"kernel_size must be an int or a tuple of ints, got {kernel_size!r}")
    for k in kernel_size:
        _check_size(k)
    return [int(k) for k in kernel_size]


def _per_axis(density, dims: int):
    """Per-axis densities when ``density`` lists one entry per axis, else None."""
    if isinstance(density, (list, tuple)):
        _refuse_bools(density, "density")
    if not isinstance(density, (list, tuple)) or _is_number_sequence(density):
        return None
    if len(density) != dims:
        raise ValueError(
            f"density lists {len(density)} per-axis entries but the kernel has {dims} spatial "
            f"axes; pass one den list or Density per axis")
    return [as_density(d) for d in density]


@dataclass
class Fit:
    """Result of :func:`fit`: the fitted density, its parameters and the misfit.

    Attributes:
        family: ``'gaussian'`` or ``'triangular'``.
        params: the shape parameter (``sigma`` or ``half_width``, in taps) and ``scale``.
        density: the fitted shape as a :class:`Density` (centre 1; the scale is
            immaterial to a convolution, since the kernel absorbs it).
        fitted: ``scale * density.profile(k)``, the curve closest to the target.
        residual: sum of squared differences between ``fitted`` and the target.
        rms: root mean square difference.
    """

    family: str
    params: dict
    density: Density
    fitted: torch.Tensor
    residual: float
    rms: float


def fit(target, family: str, size: int | None = None) -> Fit:
    """Least-squares fit of a profile by a Gaussian or triangular density.

    Fits ``scale * g(d; θ)`` to the target profile, with ``θ`` the family's shape
    parameter (σ or half-width, in taps) and ``scale > 0`` free: a convolution
    kernel absorbs any global scale of its density, so only the shape matters.
    The optimal scale is found in closed form for each ``θ``; ``θ`` is found by
    a dense search followed by bounded refinement.

    Args:
        target: a full profile (1-D tensor of ``k`` values, ``k`` odd), a
            ``den`` list, or a :class:`Density` (then ``size`` is needed unless
            it is a :class:`Symmetric`).
        family: ``'gaussian'`` or ``'triangular'``.
        size: kernel size, when ``target`` does not fix it.

    Example::

        >>> result = fit([0.25, 0.15, 0.55], "gaussian")
        >>> round(result.params["sigma"], 2), round(result.residual, 3)  # doctest: +SKIP
    """
    from scipy.optimize import minimize_scalar

    if family not in ("gaussian", "triangular"):
        raise ValueError(f"family must be 'gaussian' or 'triangular', got {family!r}")
    values = _target_profile(target, size)
    k = values.numel()
    _check_odd(k, f"a {family} fit")
    d = _offsets(k).abs()

    target_np = values.numpy()
    d_np = d.numpy()

    def shapes(theta: np.ndarray) -> np.ndarray:
        """Family members for a batch of shape parameters: (len(theta), k)."""
        if family == "gaussian":
            return np.exp(-d_np ** 2 / (2 * theta[:, None] ** 2))
        return np.clip(1 - d_np / theta[:, None], 0, None)

    def losses(theta: np.ndarray) -> np.ndarray:
        g = shapes(theta)
        scale = (g @ target_np) / (g * g).sum(1)  # the least-squares scale, in closed form
        return ((scale[:, None] * g - target_np) ** 2).sum(1)

    def loss(theta: float) -> float:
        return float(losses(np.array([theta]))[0])

    half = (k - 1) / 2
    low = 0.05 if family == "gaussian" else half + 1e-3
    high = 50.0 * max(half, 1.0)
    grid = np.logspace(math.log10(low), math.log10(high), 400)
    grid_losses = losses(grid)
    i = int(grid_losses.argmin())
    bracket = (grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)])
    refined = minimize_scalar(loss, bounds=bracket, method="bounded",
                              options={"xatol": 1e-10})
    theta = float(refined.x) if refined.fun <= grid_losses[i] else float(grid[i])
    g = torch.from_numpy(shapes(np.array([theta]))[0])
    scale = float((g @ values) / (g @ g))
    fitted = scale * g
    residual = float(((fitted - values) ** 2).sum())
    name = "sigma" if family == "gaussian" else "half_width"
    density = Gaussian(theta) if family == "gaussian" else Triangular(theta)
    return Fit(family, {name: theta, "scale": scale}, density, fitted, residual,
               math.sqrt(residual / k))


def _target_profile(target, size) -> torch.Tensor:
    if isinstance(target, torch.Tensor):
        values = target.detach().to(torch.float64).flatten()
        if size is not None and values.numel() != size:
            raise ValueError(f"target has {values.numel()} values, size is {size}")
        return values
    if isinstance(target, Density):
        if size is None:
            if not isinstance(target, Symmetric):
                raise ValueError("size is needed to fit a Density other than Symmetric")
            size = target.size
        return target.profile(size)
    if _is_number_sequence(target):
        den = Symmetric(target)
        if size is not None and size != den.size:
            raise ValueError(
                f"target {list(target)} is read as a den (kernel size {den.size}), but size is "
                f"{size}; pass a full profile as a tensor")
        return den.profile(den.size)
    raise TypeError(f"target must be a profile tensor, a den list or a Density, got {target!r}")


def named_density(name: str, kernel_size: int):
    """The density called ``name`` for a square kernel of size ``kernel_size``.

    * ``uniform`` -- ``None``: a standard convolution;
    * ``paper`` -- the papers' suggested ``den`` (:data:`PAPER_DEN`);
    * ``gaussian`` -- ``Gaussian(sigma=1)`` (sigma in taps);
    * ``triangular`` -- ``Triangular(half_width=(k + 1) / 2)``, positive at every tap.

    Example::

        >>> named_density("paper", 7)
        (0.25, 0.15, 0.55)
    """
    if name not in NAMED:
        raise ValueError(f"density must be one of {', '.join(NAMED)}; got {name!r}")
    if kernel_size not in KERNEL_SIZES:
        sizes = ", ".join(map(str, KERNEL_SIZES))
        raise ValueError(f"kernel_size must be one of {sizes}; got {kernel_size!r}")
    if name == "uniform":
        return None
    if name == "paper":
        return PAPER_DEN[kernel_size]
    if name == "gaussian":
        return Gaussian(1.0)
    return Triangular((kernel_size + 1) / 2)
