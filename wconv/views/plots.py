"""Plots of density functions and masks, used by the book's chapters.

Every function draws on a given ``ax=`` (or a pair of axes where it says so),
or on a new figure when none is given, labels its axes with their units, and
returns what it drew on. Tap offsets are measured in taps from the kernel's
centre; weights are the density's values, dimensionless, with the centre tap
equal to 1 unless said otherwise.

Example::

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from wconv.views import plots
    >>> ax = plots.plot_profile([0.25, 0.15, 0.55])
    >>> ax.get_xlabel()
    'tap offset from centre (taps)'
"""
from __future__ import annotations

import numbers

import numpy as np
import torch

from .. import density as _density

__all__ = ["plot_profile", "plot_range", "plot_mask", "plot_fits", "plot_mask_grid", "fit_table",
           "range_fit_summary",
           "plot_fits_grid"]

OFFSET_LABEL = "tap offset from centre (taps)"
WEIGHT_LABEL = "weight Φ (centre tap = 1)"


def _new_axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _size_of(density, size):
    """Kernel size implied by ``density`` or given as ``size``."""
    if size is not None:
        if not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(f"size must be a positive integer, got {size!r}")
        return int(size)
    if isinstance(density, torch.Tensor):
        return int(density.numel())
    dens = _density.as_density(density)
    if isinstance(dens, _density.Symmetric):
        return dens.size
    if isinstance(dens, _density.Profile):
        return len(dens.values)
    raise ValueError(f"size is needed to draw {dens!r}: pass size=<kernel size>")


def _profile_values(density, size) -> np.ndarray:
    if isinstance(density, torch.Tensor):
        values = density.detach().to(torch.float64).flatten()
        if size is not None and values.numel() != size:
            raise ValueError(f"profile tensor has {values.numel()} values, size is {size}")
        return values.numpy()
    return _density.profile(density, _size_of(density, size)).numpy()


def _offsets(size: int) -> np.ndarray:
    return np.arange(size) - (size - 1) / 2


def plot_profile(density, size: int | None = None, ax=None, label: str | None = None,
                 **kwargs):
    """Draw the 1-D profile of ``density``: tap offset on x, weight on y.

    Args:
        density: a ``den`` list, a :class:`wconv.density.Density`, or a 1-D
            profile tensor.
        size: kernel size; needed unless ``density`` fixes it.
        ax: axes to draw on (a new figure when ``None``).
        label: legend label (defaults to the density's description).
        **kwargs: passed to ``ax.plot``.

    Returns:
        the matplotlib Axes.
    """
    values = _profile_values(density, size)
    ax = _new_axes(ax, (4.5, 3))
    if label is None:
        label = _describe(density)
    kwargs.setdefault("marker", "o")
    ax.plot(_offsets(values.size), values, label=label, **kwargs)
    ax.set_xlabel(OFFSET_LABEL)
    ax.set_ylabel(WEIGHT_LABEL)
    ax.set_xticks(_offsets(values.size))
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    return ax


def plot_range(low, high, ax=None, label: str | None = None, color=None):
    """Shade the profiles a box of ``den`` values spans, between two corner ``den`` lists.

    Every profile with ``low[i] <= den[i] <= high[i]`` lies inside the band
    (the centre tap is 1 for all of them).

    Args:
        low, high: ``den`` lists of equal length, ``low <= high``.
        ax: axes to draw on (a new figure when ``None``).
        label: legend label (defaults to ``"den ∈ [low, high]"``).
        color: fill colour.

    Returns:
        the matplotlib Axes.
    """
    if len(low) != len(high) or any(a > b for a, b in zip(low, high)):
        raise ValueError(f"low and high must be den lists of equal length with low <= high, "
                         f"got {list(low)} and {list(high)}")
    lo = _density.profile(list(low), 2 * len(low) + 1).numpy()
    hi = _density.profile(list(high), 2 * len(high) + 1).numpy()
    ax = _new_axes(ax, (4.5, 3))
    x = _offsets(lo.size)
    if label is None:
        label = "den ∈ [" + ", ".join(f"{v:g}" for v in sorted(set(low))) + ", " + \
            ", ".join(f"{v:g}" for v in sorted(set(high))) + "]"
    ax.fill_between(x, lo, hi, alpha=0.3, color=color, label=label, step=None)
    ax.plot(x, lo, color=color, linewidth=0.8)
    ax.plot(x, hi, color=color, linewidth=0.8)
    ax.set_xlabel(OFFSET_LABEL)
    ax.set_ylabel(WEIGHT_LABEL)
    ax.set_xticks(x)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    return ax


def _describe(density) -> str:
    if isinstance(density, (list, tuple)) and _density._is_number_sequence(density):
        return "den = [" + ", ".join(f"{v:g}" for v in density) + "]"
    if isinstance(density, torch.Tensor):
        return "profile"
    return repr(_density.as_density(density))


def plot_mask(density, kernel_size=None, ax=None, annotate: bool = True, colorbar: bool = True,
              cmap: str = "viridis", vmin: float | None = 0.0, vmax: float | None = None,
              title: str | None = None):
    """Draw the 2-D mask ``Φ`` of ``density`` as a heat map with a colour bar.

    Args:
        density: any accepted ``density`` form, or a 2-D mask tensor.
        kernel_size: int or ``(kH, kW)``; needed unless ``density`` fixes it.
        ax: axes to draw on (a new figure when ``None``).
        annotate: write each weight in its cell.
        colorbar: add a colour bar labelled with the weight.
        vmin, vmax: colour range (``vmax`` defaults to the mask's maximum).
        title: axes title (defaults to the density's description).

    Returns:
        the matplotlib Axes.
    """
    if isinstance(density, torch.Tensor) and density.dim() == 2:
        phi = density.detach().to(torch.float64).numpy()
    else:
        if kernel_size is None:
            kernel_size = _size_of(density, None)
        if isinstance(kernel_size, numbers.Integral):
            kernel_size = (int(kernel_size), int(kernel_size))
        phi = _density.mask(density, kernel_size).numpy()
    if phi.ndim != 2:
        raise ValueError(f"plot_mask draws 2-D masks, got kernel_size {phi.shape}")
    ax = _new_axes(ax, (3.6, 3))
    kh, kw = phi.shape
    extent = (-(kw - 1) / 2 - 0.5, (kw - 1) / 2 + 0.5, (kh - 1) / 2 + 0.5, -(kh - 1) / 2 - 0.5)
    image = ax.imshow(phi, cmap=cmap, vmin=vmin, vmax=vmax if vmax is not None else phi.max(),
                      extent=extent)
    if annotate:
        threshold = 0.5 * (image.norm.vmin + image.norm.vmax)
        for i, y in enumerate(_offsets(kh)):
            for j, x in enumerate(_offsets(kw)):
                ax.text(x, y, f"{phi[i, j]:.2f}", ha="center", va="center",
                        fontsize=8 if max(kh, kw) <= 5 else 6,
                        color="black" if phi[i, j] > threshold else "white")
    ax.set_xticks(_offsets(kw))
    ax.set_yticks(_offsets(kh))
    ax.set_xlabel("column offset (taps)")
    ax.set_ylabel("row offset (taps)")
    ax.set_title(_describe(density) if title is None and not isinstance(density, torch.Tensor)
                 else (title or ""), fontsize=9)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label="weight Φ")
    return ax


def plot_fits(target, size: int | None = None, ax=None, title: str | None = None):
    """Overlay a profile with its least-squares Gaussian and triangular fits.

    The fits come from :func:`wconv.density.fit` and include a free global
    scale (a convolution absorbs it). The lower panel shows the residuals,
    fitted minus target, per tap.

    Args:
        target: a ``den`` list, a :class:`~wconv.density.Density` or a profile tensor.
        size: kernel size, when ``target`` does not fix it.
        ax: a pair ``(profile_axes, residual_axes)``; a new figure when ``None``.
        title: title of the upper panel (defaults to the target's description).

    Returns:
        ``(fig, fits)`` with ``fits = {'gaussian': Fit, 'triangular': Fit}``.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(2, 1, figsize=(4.5, 4.2), sharex=True, layout="constrained",
                               gridspec_kw={"height_ratios": [2, 1]})
    else:
        if not (isinstance(ax, (list, tuple, np.ndarray)) and len(ax) == 2):
            raise TypeError(f"ax must be a pair (profile_axes, residual_axes), got {ax!r}")
        fig = ax[0].figure
    top, bottom = ax
    values = _profile_values(target, size)
    k = values.size
    x = _offsets(k)
    fits = {family: _density.fit(torch.from_numpy(values), family)
            for family in ("gaussian", "triangular")}
    dense = np.linspace(x[0], x[-1], 200)
    top.plot(x, values, "ko", label="target", zorder=3)
    styles = {"gaussian": ("C0", "-"), "triangular": ("C3", "--")}
    for family, result in fits.items():
        color, line = styles[family]
        (name, theta), = [(n, v) for n, v in result.params.items() if n != "scale"]
        scale = result.params["scale"]
        if family == "gaussian":
            curve = scale * np.exp(-dense ** 2 / (2 * theta ** 2))
            label = f"Gaussian σ={theta:.2f}, scale {scale:.2f} (SSR {result.residual:.3f})"
        else:
            curve = scale * np.clip(1 - np.abs(dense) / theta, 0, None)
            label = f"triangular h={theta:.2f}, scale {scale:.2f} (SSR {result.residual:.3f})"
        top.plot(dense, curve, color=color, linestyle=line, label=label)
        bottom.plot(x, result.fitted.numpy() - values, color=color, linestyle=line, marker="s",
                    markersize=4, label=family)
    top.set_ylabel(WEIGHT_LABEL)
    top.set_ylim(0, 1.6 * max(values.max(), 1e-12))
    top.legend(fontsize=7, loc="upper center", framealpha=0.9)
    top.grid(alpha=0.3)
    top.set_title(title if title is not None else _describe(target), fontsize=9)
    bottom.axhline(0, color="gray", linewidth=0.8)
    bottom.set_xlabel(OFFSET_LABEL)
    bottom.set_ylabel("fit − target (weight)")
    bottom.set_xticks(x)
    bottom.grid(alpha=0.3)
    return fig, fits


def plot_fits_grid(targets: dict, ncols: int = 4):
    """:func:`plot_fits` for several profiles, one column each (profile above, residuals below).

    Args:
        targets: ``{title: den or Density or profile tensor}``.
        ncols: columns per row of profiles.

    Returns:
        ``(fig, {title: {'gaussian': Fit, 'triangular': Fit}})``.
    """
    import matplotlib.pyplot as plt

    if not isinstance(targets, dict) or not targets:
        raise ValueError(f"targets must be a non-empty dict of profiles, got {targets!r}")
    nrows = -(-len(targets) // ncols)
    fig, axes = plt.subplots(2 * nrows, ncols, figsize=(3.6 * ncols, 3.9 * nrows),
                             layout="constrained", squeeze=False,
                             gridspec_kw={"height_ratios": [2, 1] * nrows})
    fits = {}
    for i, (title, target) in enumerate(targets.items()):
        row, col = divmod(i, ncols)
        pair = (axes[2 * row, col], axes[2 * row + 1, col])
        _, fits[title] = plot_fits(target, ax=pair, title=title)
        pair[0].legend(fontsize=5.5, loc="upper center", framealpha=0.9)
    for j in range(len(targets), nrows * ncols):
        row, col = divmod(j, ncols)
        axes[2 * row, col].set_visible(False)
        axes[2 * row + 1, col].set_visible(False)
    return fig, fits


def plot_mask_grid(densities, kernel_sizes=None, axes=None, ncols: int | None = None,
                   annotate: bool = True):
    """Draw the masks of several densities (or kernel sizes) side by side.

    Args:
        densities: a list of ``den`` lists / Density objects, or a dict
            ``{title: density}``.
        kernel_sizes: one kernel size per density (``None``: implied by each
            ``den``), or one int for all.
        axes: a sequence of axes, one per density; a new figure when ``None``.
        ncols: columns of the new figure (default: all in one row).
        annotate: write each weight in its cell.

    Returns:
        the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    if isinstance(densities, dict):
        titles, items = list(densities), list(densities.values())
    elif isinstance(densities, (list, tuple)):
        titles, items = [None] * len(densities), list(densities)
    else:
        raise TypeError(f"densities must be a list or a dict of densities, got {densities!r}")
    if not items:
        raise ValueError("densities is empty: pass at least one density")
    if kernel_sizes is None or isinstance(kernel_sizes, numbers.Integral):
        kernel_sizes = [kernel_sizes] * len(items)
    if len(kernel_sizes) != len(items):
        raise ValueError(f"kernel_sizes has {len(kernel_sizes)} entries for {len(items)} densities")
    if axes is None:
        ncols = ncols or len(items)
        nrows = -(-len(items) // ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 2.9 * nrows),
                                 layout="constrained", squeeze=False)
        for extra in axes.flat[len(items):]:
            extra.set_visible(False)
        axes = list(axes.flat)
    elif len(axes) < len(items):
        raise ValueError(f"axes has {len(axes)} entries for {len(items)} densities")
    for ax, item, k, title in zip(axes, items, kernel_sizes, titles):
        plot_mask(item, k, ax=ax, annotate=annotate, vmin=0.0, title=title)
    return axes[0].figure


def fit_table(targets) -> list[dict]:
    """Least-squares Gaussian and triangular fits of several profiles, as table rows.

    Args:
        targets: a dict ``{name: den or Density or profile tensor}``.

    Returns:
        one dict per target: the profile; ``σ`` (taps), the Gaussian scale and
        relative residual; ``h`` (taps), the triangular scale and relative
        residual; and which family fits better ("neither (flat)" when a fit is
        flat). The relative residual is the
        sum of squared residuals divided by the profile's sum of squares (0 is a
        perfect fit; 1 is no better than a zero profile), so it compares
        profiles of any scale. A shape parameter at the top of the search
        range (``fit`` searches up to 50 half-widths) means the best fit is
        flat: the family cannot follow the profile at all.
    """
    rows = []
    for name, target in targets.items():
        values = torch.as_tensor(_profile_values(target, None))
        energy = float((values ** 2).sum())
        half = (values.numel() - 1) / 2
        g = _density.fit(values, "gaussian")
        t = _density.fit(values, "triangular")
        flat = _flat(g.params["sigma"], half) or _flat(t.params["half_width"], half)
        rows.append({
            "density": name,
            "profile": "[" + ", ".join(f"{v:.2f}" for v in values.tolist()) + "]",
            "σ (taps)": g.params["sigma"], "Gauss scale": g.params["scale"],
            "Gauss rel. SSR": g.residual / energy,
            "h (taps)": t.params["half_width"], "tri scale": t.params["scale"],
            "tri rel. SSR": t.residual / energy,
            "better": ("neither (flat)" if flat
                       else "tie" if abs(g.residual - t.residual) <= 1e-9 * max(energy, 1.0)
                       else "Gaussian" if g.residual < t.residual else "triangular"),
            "flat fit": flat,
        })
    return rows


def _flat(theta: float, half: float) -> bool:
    return theta > 0.9 * 50.0 * max(half, 1.0)


def range_fit_summary(low, high, n: int, seed: int = 0) -> dict:
    """Fit ``n`` densities drawn uniformly from the box ``low <= den <= high``.

    Args:
        low, high: corner ``den`` lists (outermost first).
        n: number of draws.
        seed: seed of the draws.

    Returns:
        ``{'n', 'monotone' (fraction of profiles that never rise away from the
        centre), 'gauss_better' (fraction where the Gaussian residual is the
        smaller and no fit is flat), 'gauss_rel_ssr' and 'tri_rel_ssr' (medians of the relative
        residuals, as in :func:`fit_table`), 'flat' (fraction where a fit is
        flat)}``.
    """
    if not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    lo = torch.tensor(list(low), dtype=torch.float64)
    hi = torch.tensor(list(high), dtype=torch.float64)
    if lo.shape != hi.shape or (lo > hi).any():
        raise ValueError(f"low and high must be den lists of equal length with low <= high, "
                         f"got {list(low)} and {list(high)}")
    generator = torch.Generator().manual_seed(seed)
    draws = lo + (hi - lo) * torch.rand((n, lo.numel()), generator=generator, dtype=torch.float64)
    rows = fit_table({i: draws[i].tolist() for i in range(n)})
    halves = torch.cat([draws, torch.ones(n, 1, dtype=torch.float64)], dim=1)
    monotone = (halves[:, 1:] >= halves[:, :-1]).all(dim=1)
    return {
        "n": n,
        "monotone": float(monotone.double().mean()),
        "gauss_better": float(np.mean([r["better"] == "Gaussian" for r in rows])),
        "gauss_rel_ssr": float(np.median([r["Gauss rel. SSR"] for r in rows])),
        "tri_rel_ssr": float(np.median([r["tri rel. SSR"] for r in rows])),
        "flat": float(np.mean([r["flat fit"] for r in rows])),
    }
