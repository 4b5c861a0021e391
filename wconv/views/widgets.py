"""Interactive density explorer: sliders for ``den`` and the kernel size.

:class:`DensityExplorer` shows ipywidgets sliders for the kernel size (3, 5, 7)
and the papers' ``den`` values, and a view with the 1-D profile, the 2-D mask
``Φ`` and a real photograph filtered by the normalised kernel ``Φ / ΣΦ`` (a box
blur whose shape the density sets), with the detail it removes.

The view is drawn in the browser by ``static/density_explorer.js``, which finds
the sliders in the page by their DOM classes and listens to them. So it redraws
at once with or without a kernel: in Jupyter, and on the book's static pages,
where ``@jupyter-widgets/html-manager`` renders the saved slider state. With a
kernel, the Python callbacks keep :attr:`DensityExplorer.den`,
:meth:`~DensityExplorer.mask`, :meth:`~DensityExplorer.filtered` and the readout
line beside the sliders up to date, and grey out the ``den`` sliders the
kernel size does not use.

Example::

    >>> from wconv.views.widgets import DensityExplorer
    >>> panel = DensityExplorer(den=[0.25, 0.15, 0.55])
    >>> panel.kernel_size, panel.den
    (7, [0.25, 0.15, 0.55])
    >>> panel.den_sliders[0].value = 0.5
    >>> panel.den
    [0.5, 0.15, 0.55]
"""
from __future__ import annotations

import base64
import numbers
import uuid

import numpy as np

from ..density import KERNEL_SIZES
from ..experiments.images import photo
from . import scripts

__all__ = ["DensityExplorer", "filter_image", "readout_text"]

DEN_MIN, DEN_MAX, DEN_STEP = 0.05, 1.5, 0.01


def _check_den(den) -> list[float]:
    if not isinstance(den, (list, tuple)) or not den or not all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in den):
        raise TypeError(f"den must be a non-empty list or tuple of numbers, got {den!r}")
    if len(den) > 3:
        raise ValueError(f"den must hold 1, 2 or 3 values (kernel size 3, 5 or 7), got {list(den)}")
    if not all(np.isfinite(v) and v > 0 for v in den):
        raise ValueError(f"den values must be finite and > 0, got {list(den)}")
    return [float(v) for v in den]


def _kernel1d(den) -> np.ndarray:
    p = np.concatenate([den, [1.0], den[::-1]])
    return p / p.sum()


def filter_image(image: np.ndarray, den) -> np.ndarray:
    """Filter ``image`` with the normalised kernel ``Φ / ΣΦ`` of ``den``.

    ``Φ = a ⊗ a`` with ``a = [*den, 1, *reversed(den)]`` is separable, so this
    filters the rows, then the columns, with ``a / Σa``; borders replicate the
    edge pixels. The arithmetic is the browser view's, step for step.

    Args:
        image: 2-D array (any real dtype), shape ``(H, W)``.
        den: 1 to 3 positive numbers, outermost first.

    Returns:
        float64 array of shape ``(H, W)``.
    """
    den = _check_den(den)
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W), got shape {image.shape}")
    g = _kernel1d(den)
    r = len(den)
    x = image.astype(np.float64)
    h, w = x.shape
    padded = np.pad(x, ((0, 0), (r, r)), mode="edge")
    rows = np.zeros_like(x)
    for t in range(2 * r + 1):
        rows += g[t] * padded[:, t:t + w]
    padded = np.pad(rows, ((r, r), (0, 0)), mode="edge")
    out = np.zeros_like(x)
    for t in range(2 * r + 1):
        out += g[t] * padded[t:t + h, :]
    return out


def readout_text(den) -> str:
    """The line of numbers the panel shows for ``den`` (the browser writes the same)."""
    den = _check_den(den)
    s = 1.0 + 2.0 * sum(den)
    return (f"k = {2 * len(den) + 1} · den = [{', '.join(f'{v:.2f}' for v in den)}] · "
            f"ΣΦ = {s * s:.4f} · centre weight of Φ/ΣΦ = {1 / (s * s):.4f}")


class DensityExplorer:
    """Sliders for the kernel size and ``den``; profile, mask and filtered photograph.

    Display it as the last expression of a cell (or with ``display(panel)``):
    it shows the slider box (an ipywidgets ``VBox``) and the browser-drawn view.

    Args:
        den: initial ``den``, outermost first; 1 to 3 values in
            ``[0.05, 1.5]``. Its length sets the initial kernel size unless
            ``kernel_size`` is given.
        kernel_size: 3, 5 or 7.
        image: a 2-D ``uint8`` array to filter (default :func:`wconv.experiments.images.photo`).
        detail_gain: contrast gain of the "removed detail" image
            (``128 + gain · (image − filtered)``).

    Attributes:
        size_slider: the kernel-size ``IntSlider`` (3 to 7, step 2).
        den_sliders: three ``FloatSlider``, ``den[0]`` (outermost) to ``den[2]``.
        readout: ``HTML`` widget with :func:`readout_text` of the current ``den``.
        box: the ``VBox`` holding them.
    """

    def __init__(self, den=(0.25, 0.15, 0.55), kernel_size: int | None = None, image=None,
                 detail_gain: float = 4.0):
        import ipywidgets as w

        den = _check_den(den)
        if not all(DEN_MIN <= v <= DEN_MAX for v in den):
            raise ValueError(f"den values must lie in [{DEN_MIN}, {DEN_MAX}], got {den}")
        if kernel_size is None:
            kernel_size = 2 * len(den) + 1
        if kernel_size not in KERNEL_SIZES or isinstance(kernel_size, bool):
            sizes = ", ".join(map(str, KERNEL_SIZES))
            raise ValueError(f"kernel_size must be one of {sizes}; got {kernel_size!r}")
        if len(den) < (kernel_size - 1) // 2:
            raise ValueError(f"kernel_size {kernel_size} needs {(kernel_size - 1) // 2} den "
                             f"values, got {den}")
        full = den + [1.0] * (3 - len(den))
        if image is None:
            image = photo(256)
        image = np.asarray(image)
        if image.ndim != 2 or image.dtype != np.uint8:
            raise ValueError(f"image must be a 2-D uint8 array, got dtype {image.dtype} and "
                             f"shape {image.shape}")
        self.image = image
        self.detail_gain = float(detail_gain)
        self.uid = "wconv-de-" + uuid.uuid4().hex[:10]

        style = {"description_width": "9em"}
        layout = w.Layout(width="30em")
        self.size_slider = w.IntSlider(value=kernel_size, min=3, max=7, step=2,
                                       description="kernel size", style=style, layout=layout)
        self.den_sliders = [
            w.FloatSlider(value=v, min=DEN_MIN, max=DEN_MAX, step=DEN_STEP, readout_format=".2f",
                          description=f"den[{i}]" + (" (outer)" if i == 0 else ""),
                          style=style, layout=layout)
            for i, v in enumerate(full)]
        self.readout = w.HTML()
        self.size_slider.add_class(f"{self.uid}-size")
        for i, slider in enumerate(self.den_sliders):
            slider.add_class(f"{self.uid}-den{i}")
        self.readout.add_class(f"{self.uid}-readout")
        self.box = w.VBox([self.size_slider, *self.den_sliders, self.readout])
        self.box.add_class("wconv-density-explorer")
        for slider in (self.size_slider, *self.den_sliders):
            slider.observe(self._on_change, names="value")
        self._on_change()

    # ------------------------------------------------------------------ state
    @property
    def kernel_size(self) -> int:
        """The current kernel size (3, 5 or 7)."""
        return int(self.size_slider.value)

    @property
    def den(self) -> list[float]:
        """The current ``den`` (outermost first), as many values as the kernel size uses."""
        return [float(s.value) for s in self.den_sliders[: (self.kernel_size - 1) // 2]]

    def profile(self) -> np.ndarray:
        """The 1-D profile ``[*den, 1, *reversed(den)]``."""
        den = self.den
        return np.array([*den, 1.0, *den[::-1]])

    def mask(self) -> np.ndarray:
        """The 2-D mask ``Φ``, shape ``(k, k)``."""
        p = self.profile()
        return np.outer(p, p)

    def filtered(self) -> np.ndarray:
        """The photograph filtered by ``Φ / ΣΦ`` (float64, same shape as the image)."""
        return filter_image(self.image, self.den)

    def _on_change(self, change=None) -> None:
        used = (self.kernel_size - 1) // 2
        for i, slider in enumerate(self.den_sliders):
            slider.disabled = i >= used
        self.readout.value = readout_text(self.den)

    # ---------------------------------------------------------------- display
    def config(self) -> dict:
        """What the browser view needs: slider classes, initial values, the image (base64)."""
        h, w = self.image.shape
        return {
            "uid": self.uid, "id": self.uid + "-view",
            "kernel_size": self.kernel_size,
            "den": [float(s.value) for s in self.den_sliders],
            "width": int(w), "height": int(h),
            "image": base64.b64encode(np.ascontiguousarray(self.image).tobytes()).decode("ascii"),
            "detail_gain": self.detail_gain,
            "y_max": 1.6,
        }

    def html(self) -> str:
        """The browser view: canvases, captions and the script that drives them."""
        config = self.config()
        h, w = self.image.shape
        script = scripts.mount_html("density_explorer", "wconvDensityExplorer", config)
        return f"""
<div id="{config['id']}" class="wconv-de-view" style="font-family:sans-serif;font-size:13px">
<style>
  .wconv-de-view .wconv-de-row {{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}}
  .wconv-de-view figure {{margin:0}}
  .wconv-de-view figcaption {{font-size:12px;color:#444;max-width:{max(w, 270)}px}}
  .wconv-de-unused {{opacity:0.35}}
</style>
<div class="wconv-de-text" style="font-weight:bold;margin:4px 0"></div>
<div class="wconv-de-row">
  <figure><canvas class="wconv-de-profile"></canvas><figcaption>1-D profile</figcaption></figure>
  <figure><canvas class="wconv-de-mask"></canvas><figcaption>2-D mask Φ = outer(profile, profile)</figcaption></figure>
</div>
<div class="wconv-de-row">
  <figure><canvas class="wconv-de-filtered" width="{w}" height="{h}"></canvas>
    <figcaption>photograph filtered by Φ/ΣΦ ({w}×{h} px)</figcaption></figure>
  <figure><canvas class="wconv-de-detail" width="{w}" height="{h}"></canvas>
    <figcaption>detail removed: 128 + {self.detail_gain:g}·(photo − filtered)</figcaption></figure>
</div>
<div class="wconv-de-timing" style="font-size:11px;color:#777"></div>
{script}
</div>"""

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, display

        display(self.box)
        display(HTML(self.html()))

    def __repr__(self) -> str:
        return f"DensityExplorer(den={self.den}, kernel_size={self.kernel_size})"
