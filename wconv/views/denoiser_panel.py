r"""The trained denoisers in the reader's browser: a panel for a notebook cell.

:func:`denoiser_panel` returns an ``IPython.display.HTML`` panel: pick a test image (a stored
256 x 256 colour centre crop of a CBSD68 or Kodak24 image) and a model pair (say, 7 x 7
standard vs weighted), slide σ from 5 to 60, and see the clean crop, the noisy one and both
models' outputs, each with its PSNR. Everything is computed in the page: the models are ONNX
files (:func:`wconv.experiments.export.to_onnx`) run by ONNX Runtime Web's WebAssembly backend
(``static/denoiser_panel.js``), so the published book needs no kernel and no network.

Files. The panel copies the ONNX files and the crops (PNG) into ``<static_dir>/wconv-denoiser/``;
ONNX Runtime Web itself is copied by ``tools/build_book.py`` into ``book/vendor/onnxruntime-web/``.
``book/vendor/`` is the book's ``html_static_path``, so both end up in ``_build/html/_static/``,
which the page finds through Sphinx's ``<html data-content_root>`` (or ``static_url``). The
files are named by their content's hash, so a browser never shows a stale cached model or
image, and two panels of different sizes do not overwrite each other's crops.

Noise. Each image has one fixed standard-normal field ``z`` (:func:`normal`, seeded by
:func:`noise_seed` of its label): ``noisy = clean + σ/255 · z`` in float32, not clipped (the
book's noise model), so a given σ always gives the same noisy image, in Python
(:func:`noisy`) and in the browser alike. :func:`reference` computes, with Python's
``onnxruntime``, the PSNR the page shows.

In Jupyter (a live kernel) the same comparison runs the PyTorch models with
:func:`live_panel` (ipywidgets; no ONNX, no browser runtime needed).

Example (a notebook cell of the book)::

    from wconv.views import denoiser_panel
    pairs, missing = denoiser_panel.study_pairs()   # the stored models of chapter 5's study
    denoiser_panel.denoiser_panel(pairs)
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import numbers
import os
import uuid
import zlib
from pathlib import Path

import numpy as np

from .. import settings
from ..experiments import results as _results
from . import scripts

__all__ = ["SIGMA_MIN", "SIGMA_MAX", "CROP", "IMAGES", "STATIC_DIR", "FOLDER", "ORT_FOLDER",
           "crop", "crops", "noise_seed", "normal", "noisy", "psnr", "reference", "stage",
           "panel_html", "denoiser_panel", "live_panel", "STUDY_PAIRS", "ONNX_DIR", "study_pairs"]

#: The σ slider's range (0--255 scale).
SIGMA_MIN, SIGMA_MAX = 5, 60
#: Side of the stored centre crops.
CROP = 256
#: The panel's default test images: (set under ``<data root>/denoise/``, file name).
IMAGES = (("CBSD68", "108005.png"), ("CBSD68", "102061.png"), ("Kodak24", "kodim23.png"))
#: The book's static folder (its ``html_static_path``; copied into ``_build/html/_static/``).
STATIC_DIR = settings.BOOK_STATIC_DIR
#: The panel's folder under the static folder (models and crops).
FOLDER = "wconv-denoiser"
#: ONNX Runtime Web's folder under the static folder (``tools/build_book.py`` ``ORT_FOLDER``).
ORT_FOLDER = "onnxruntime-web"


# ----------------------------------------------------------------------------- test crops

def _label(test_set: str, image: str) -> str:
    return f"{test_set} {Path(image).stem}"


def crop(test_set: str, image: str, size: int = CROP, root=None, results_dir=None):
    """The clean ``size x size`` centre crop (``uint8`` tensor ``(3, size, size)``) of a colour test image.

    The stored crop of :func:`wconv.experiments.denoise.test_image` (read from the data where it is,
    kept in the results store, read back where it is not).
    """
    from ..experiments.denoise import test_image

    return test_image("color", test_set, image, size, root, results_dir)


def crops(images=IMAGES, size: int = CROP, root=None, results_dir=None) -> dict:
    """``{label: crop}`` for ``(test_set, image)`` pairs; labels like ``'CBSD68 108005'``."""
    return {_label(s, name): crop(s, name, size, root, results_dir) for s, name in images}


# ----------------------------------------------------------------------------- noise and PSNR

def noise_seed(label: str) -> int:
    """The 32-bit seed of an image's noise field: CRC-32 of its label (UTF-8)."""
    return zlib.crc32(str(label).encode("utf-8"))


def normal(seed: int, count: int) -> np.ndarray:
    """``count`` standard normal numbers (float64), exactly as ``denoiser_panel.js`` draws them.

    Uniforms ``u`` in ``[0, 1)`` from mulberry32 seeded with ``seed`` (32 bits), taken in pairs
    ``(u1, u2)`` and turned into ``r cos θ, r sin θ`` with ``r = sqrt(-2 ln(1 - u1))``,
    ``θ = 2π u2`` (Box--Muller). mulberry32's ``k``-th output depends only on
    ``seed + k · 0x6D2B79F5``, so numpy computes all of them at once.

    Example::

        >>> normal(1, 4).round(6).tolist()
        [1.404339, 0.024142, 1.215755, -0.145436]
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2 ** 32:
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 0:
        raise ValueError(f"count must be a non-negative integer, got {count!r}")
    pairs = (int(count) + 1) // 2
    k = np.arange(1, 2 * pairs + 1, dtype=np.uint64)
    t = ((int(seed) + k * np.uint64(0x6D2B79F5)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    with np.errstate(over="ignore"):
        t = (t ^ (t >> np.uint32(15))) * (t | np.uint32(1))
        t = t ^ (t + (t ^ (t >> np.uint32(7))) * (t | np.uint32(61)))
    u = (t ^ (t >> np.uint32(14))).astype(np.float64) / 2.0 ** 32
    u1, u2 = u[0::2], u[1::2]
    r = np.sqrt(-2.0 * np.log(1.0 - u1))
    z = np.empty(2 * pairs)
    z[0::2], z[1::2] = r * np.cos(2 * np.pi * u2), r * np.sin(2 * np.pi * u2)
    return z[:count]


def _u8(image) -> np.ndarray:
    a = image.numpy() if hasattr(image, "numpy") else np.asarray(image)
    if a.dtype != np.uint8 or a.ndim != 3:
        raise ValueError(f"clean must be a uint8 image (C, H, W), got {a.dtype} {a.shape}")
    return a


def _check_sigma(sigma) -> float:
    if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real) or not 0 < sigma <= 255:
        raise ValueError(f"sigma must be a number in (0, 255] (0-255 scale), got {sigma!r}")
    return float(sigma)


def noisy(clean, sigma: float, seed: int) -> np.ndarray:
    """``clean / 255 + σ/255 · z`` as float32 ``(C, H, W)``, not clipped (the browser's too).

    ``clean`` is a ``uint8`` ``(C, H, W)`` image (tensor or array); ``z`` is
    :func:`normal` ``(seed, C·H·W)`` in ``C, H, W`` order.
    """
    a = _u8(clean)
    z = normal(seed, a.size).reshape(a.shape)
    return (a.astype(np.float64) / 255.0 + (_check_sigma(sigma) / 255.0) * z).astype(np.float32)


def psnr(values, clean) -> float:
    """PSNR (dB) of ``values`` clipped to ``[0, 1]`` against ``clean / 255``, as the page computes it."""
    a = _u8(clean)
    v = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
    if v.shape != a.shape:
        raise ValueError(f"values has shape {v.shape}, clean {a.shape}")
    return float(10 * np.log10(1.0 / np.mean((v - a / 255.0) ** 2)))


def reference(onnx_path, clean, sigma: float, seed: int) -> dict:
    """What the page shows for one model, computed in Python with ``onnxruntime``.

    Returns ``{"psnr": output's PSNR, "noisy_psnr": clipped noisy input's, "output": float32}``.
    """
    from ..experiments.export import run_onnx

    x = noisy(clean, sigma, seed)
    y = run_onnx(onnx_path, x)
    return {"psnr": psnr(y, clean), "noisy_psnr": psnr(x, clean), "output": y}


# ----------------------------------------------------------------------------- the panel

def _model_spec(spec, role: str, label: str) -> tuple[Path, dict]:
    if isinstance(spec, (str, os.PathLike)):
        path, meta = spec, {}
    elif isinstance(spec, (tuple, list)) and len(spec) == 2 and isinstance(spec[1], dict):
        path, meta = spec
    else:
        raise TypeError(f"pair {label!r}: the {role} model must be an ONNX path or (path, "
                        f"metadata dict), got {spec!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pair {label!r}: {role} model {path} not found")
    return path, dict(meta)


def _caption(role: str, meta: dict) -> str:
    text = str(meta.get("label", role))
    if "params" in meta:
        text += f" ({int(meta['params']):,} parameters)"
    return text


def stage(pairs: dict, images: dict, static_dir=None, folder: str = FOLDER) -> dict:
    """Copy the models and the crops into ``<static_dir>/<folder>/``; the page's configuration.

    Args:
        pairs: ``{label: (standard, weighted)}``, each model an ONNX path or ``(path, metadata)``;
            metadata ``label`` and ``params`` go into the caption under the model's output.
        images: ``{label: uint8 (3, H, W) crop}`` (default :func:`crops`).
        static_dir: the static folder (default :data:`STATIC_DIR`, the book's).
        folder: subfolder of the panel's files.

    Returns:
        ``{"folder", "images": [{"label", "file", "seed"}], "pairs": [{"label", "standard":
        {"file", "caption", "bytes", "meta"}, "weighted": {...}}]}``, files relative to the folder.
    """
    if not isinstance(pairs, dict) or not pairs:
        raise ValueError("pairs must be a non-empty dict {label: (standard, weighted)}")
    if not isinstance(images, dict) or not images:
        raise ValueError("images must be a non-empty dict {label: uint8 (3, H, W) image}")
    out = Path(static_dir if static_dir is not None else STATIC_DIR) / folder
    (out / "models").mkdir(parents=True, exist_ok=True)
    (out / "images").mkdir(parents=True, exist_ok=True)
    config = {"folder": folder.rstrip("/") + "/", "images": [], "pairs": []}
    for label, image in images.items():
        a = _u8(image)
        if a.shape[0] != 3:
            raise ValueError(f"image {label!r}: the panel shows colour images (3, H, W), got {a.shape}")
        png = base64.b64decode(_results.image_to_text(_as_tensor(a)))
        name = f"images/{_results.slug(label)}-{hashlib.sha256(png).hexdigest()[:12]}.png"
        _write_if_changed(out / name, png)
        config["images"].append({"label": str(label), "file": name, "seed": noise_seed(label),
                                 "height": int(a.shape[1]), "width": int(a.shape[2])})
    for label, pair in pairs.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"pair {label!r} must be (standard, weighted), got {pair!r}")
        entry = {"label": str(label)}
        for role, spec in zip(("standard", "weighted"), pair):
            path, meta = _model_spec(spec, role, label)
            data = path.read_bytes()
            name = f"models/{_results.slug(path.stem)}-{hashlib.sha256(data).hexdigest()[:12]}.onnx"
            _write_if_changed(out / name, data)
            entry[role] = {"file": name, "caption": _caption(role, meta), "bytes": len(data),
                           "meta": json.loads(json.dumps(meta, default=str))}
        config["pairs"].append(entry)
    return config


def _as_tensor(a: np.ndarray):
    import torch

    return torch.from_numpy(np.ascontiguousarray(a))


def _write_if_changed(path: Path, data: bytes) -> None:

    if not (path.is_file() and path.read_bytes() == data):
        _results.atomic_write(path, data)


def _centre(image, size: int | None) -> np.ndarray:
    a = _u8(image)
    if size is None:
        return a
    h, w = a.shape[1:]
    top, left = max(h - size, 0) // 2, max(w - size, 0) // 2
    return a[:, top:top + size, left:left + size]


def panel_html(pairs: dict, images: dict | None = None, *, sigma: int = 25, size: int | None = None,
               static_dir=None, static_url: str | None = None, debounce_ms: int = 40) -> str:
    """The panel as an HTML fragment (markup, the script, its configuration).

    Stages the files with :func:`stage` (``images`` default :func:`crops`). ``size`` trims the
    images to their central ``size x size`` pixels (the time per update grows with the pixel
    count: a 7 x 7 DnCNN pair that takes 0.8 s at 256 x 256 takes a quarter of it at 128).
    ``static_url`` is where the page finds the static folder (relative to the page or
    absolute); by default the script uses Sphinx's ``<html data-content_root>`` + ``_static/``.
    """
    sigma = int(sigma)
    if not SIGMA_MIN <= sigma <= SIGMA_MAX:
        raise ValueError(f"sigma must be in [{SIGMA_MIN}, {SIGMA_MAX}], got {sigma}")
    if size is not None and (isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 16):
        raise ValueError(f"size must be None or an integer >= 16, got {size!r}")
    if images is None:
        images = crops()
    images = {label: _centre(image, size) for label, image in images.items()}
    config = stage(pairs, images, static_dir)
    uid = "wconv-dn-" + uuid.uuid4().hex[:10]
    config.update({"id": uid, "static_url": static_url, "ort_folder": ORT_FOLDER + "/",
                   "debounce_ms": int(debounce_ms), "image": 0, "pair": 0})
    first = config["images"][0]
    w, h = first["width"], first["height"]
    script = scripts.mount_html("denoiser_panel", "wconvDenoiserPanel", config)
    esc = html.escape
    pair0 = config["pairs"][0]
    canvas = f'width="{w}" height="{h}" style="width:{w}px;height:{h}px;image-rendering:pixelated"'
    return f"""
<div id="{uid}" class="wconv-dn-view" data-state="loading" style="font-family:sans-serif;font-size:13px">
<style>
  .wconv-dn-view .wconv-dn-controls {{display:flex;flex-wrap:wrap;gap:14px;align-items:center;margin:4px 0 8px}}
  .wconv-dn-view .wconv-dn-row {{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start}}
  .wconv-dn-view figure {{margin:0}}
  .wconv-dn-view figcaption {{font-size:12px;color:#333;max-width:{w}px}}
  .wconv-dn-view .wconv-dn-status {{font-size:11px;color:#666;margin-top:4px}}
  .wconv-dn-view input[type=range] {{width:16em;vertical-align:middle}}
</style>
<div class="wconv-dn-controls">
  <label>test image <select class="wconv-dn-image"></select></label>
  <label>models <select class="wconv-dn-pair"></select></label>
  <label>noise σ = <b class="wconv-dn-sigma-value">{sigma}</b>
    <input type="range" class="wconv-dn-sigma" min="{SIGMA_MIN}" max="{SIGMA_MAX}" step="1" value="{sigma}"
           aria-label="noise level sigma, 0-255 scale"></label>
</div>
<div class="wconv-dn-row">
  <figure><canvas class="wconv-dn-clean" {canvas}></canvas><figcaption>clean ({w}×{h} centre crop)</figcaption></figure>
  <figure><canvas class="wconv-dn-noisy" {canvas}></canvas><figcaption>noisy, σ = <span class="wconv-dn-sigma-caption">{sigma}</span>: PSNR
    <span class="wconv-dn-psnr-noisy">…</span></figcaption></figure>
  <figure><canvas class="wconv-dn-standard" {canvas}></canvas><figcaption><span class="wconv-dn-name-standard">{esc(pair0['standard']['caption'])}</span>: PSNR
    <span class="wconv-dn-psnr-standard">…</span></figcaption></figure>
  <figure><canvas class="wconv-dn-weighted" {canvas}></canvas><figcaption><span class="wconv-dn-name-weighted">{esc(pair0['weighted']['caption'])}</span>: PSNR
    <span class="wconv-dn-psnr-weighted">…</span></figcaption></figure>
</div>
<div class="wconv-dn-status">This panel runs the models in the browser (JavaScript and WebAssembly).</div>
{script}
</div>"""


def denoiser_panel(pairs: dict, images: dict | None = None, **kwargs):
    """The panel for a notebook cell: ``IPython.display.HTML`` of :func:`panel_html`.

    Example (chapter 5)::

        pairs = {"DnCNN 7×7": (("std.onnx", {"label": "standard"}), ("w.onnx", {"label": "weighted"}))}
        denoiser_panel(pairs)        # the last expression of the cell
    """
    from IPython.display import HTML

    return HTML(panel_html(pairs, images, **kwargs))


# ----------------------------------------------------------------------------- the study's models

#: The pairs the chapter shows: ``(label, standard arm, weighted arm)``, fastest first.
STUDY_PAIRS = (("DnCNN 3×3", ("dncnn", 3, "uniform"), ("dncnn", 3, "paper")),
               ("DnCNN 7×7", ("dncnn", 7, "uniform"), ("dncnn", 7, "paper")))
#: Where :func:`study_pairs` writes the ONNX files it exports (git-ignored scratch).
ONNX_DIR = settings.RUNS_DIR / "onnx"


def study_pairs(budget: str = "book", pairs=STUDY_PAIRS, results_dir=None,
                out_dir=None) -> tuple[dict, list[str]]:
    """The trained models of the denoising study's seed-0 final runs, as ONNX files.

    Each arm's weights are the ones its run stored beside its result
    (:func:`wconv.experiments.export.save_weights`); the model is rebuilt from the run's
    configuration, loaded, folded and exported (once: files are named by the run's key).

    Returns:
        ``(pairs, missing)``: ``{label: ((standard.onnx, meta), (weighted.onnx, meta))}`` for
        :func:`denoiser_panel` (caption: kernel, density, parameters; metadata also the run's
        name and its mean test PSNR on CBSD68 at σ = 25); and one line per arm whose run, or
        weights, are not stored.
    """
    from ..experiments import denoise, denoise_measures, export

    out_dir = Path(out_dir) if out_dir is not None else ONNX_DIR
    found, missing = {}, []
    for label, *arms in pairs:
        models = []
        for arch, k, density in arms:
            arm = denoise.Arm(arch, k, density)
            try:
                config = denoise.final_config(arm, 0, budget, results_dir=results_dir)
            except denoise.TuningMissing:
                missing.append(f"{arm.label}: its learning rate is not tuned yet")
                continue
            record = _results.load(config, results_dir)
            state = export.load_weights(config, results_dir)
            if record is None or state is None:
                missing.append(f"{arm.label}: `{denoise.command(config)}` has not stored its "
                               "trained weights yet")
                continue
            model = denoise.build(config)
            model.load_state_dict(state)
            path = out_dir / f"{config['name']}-{_results.config_key(config)}.onnx"
            if not path.is_file():
                export.to_onnx(model, path, metadata={"run": config["name"]})
            kind = "standard" if density == "uniform" else f"weighted {config['den']}"
            flag = ", collapsed" if denoise_measures.collapsed(record) else ""
            models.append((path, {"label": f"{k}×{k} {kind}{flag}", "params": record["parameters"],
                                  "run": config["name"],
                                  "cbsd68_psnr": record["test"]["CBSD68"]["25"]["mean_psnr"]}))
        if len(models) == 2:
            found[label] = tuple(models)
    return found, missing


# ----------------------------------------------------------------------------- live kernel

def live_panel(pairs: dict, images: dict | None = None, sigma: int = 25):
    """The same comparison with PyTorch models, for Jupyter with a live kernel (ipywidgets).

    Args:
        pairs: ``{label: (standard model, weighted model)}`` (``torch.nn.Module``, run in eval
            mode on the CPU they are on).
        images: ``{label: uint8 (3, H, W) crop}`` (default :func:`crops`).

    Returns:
        An ``ipywidgets.VBox`` (image and pair drop-downs, the σ slider, four images with their
        PSNR); its ``update()`` recomputes (the slider calls it on release), and its
        ``psnr`` attribute holds the last ``{"noisy", "standard", "weighted"}`` values.
    """
    import io

    import ipywidgets as w
    import torch
    from PIL import Image

    if images is None:
        images = crops()

    def png(values) -> bytes:
        a = np.rint(np.clip(values, 0, 1) * 255).astype(np.uint8).transpose(1, 2, 0)
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, "PNG")
        return buf.getvalue()

    image_dd = w.Dropdown(options=list(images), description="test image")
    pair_dd = w.Dropdown(options=list(pairs), description="models")
    slider = w.IntSlider(value=int(sigma), min=SIGMA_MIN, max=SIGMA_MAX, description="noise σ",
                         continuous_update=False)
    views = {role: w.Image(format="png") for role in ("clean", "noisy", "standard", "weighted")}
    labels = {role: w.HTML() for role in views}
    box = w.VBox([w.HBox([image_dd, pair_dd, slider]),
                  w.HBox([w.VBox([views[r], labels[r]]) for r in views])])

    @torch.no_grad()
    def update(change=None):
        label = image_dd.value
        clean = images[label]
        x = noisy(clean, slider.value, noise_seed(label))
        shown = {"clean": _u8(clean) / 255.0, "noisy": x}
        box.psnr = {"noisy": psnr(x, clean)}
        for role, model in zip(("standard", "weighted"), pairs[pair_dd.value]):
            was = model.training
            model.eval()
            param = next(model.parameters())
            y = model(torch.from_numpy(x)[None].to(param.device, param.dtype))[0].float().cpu().numpy()
            model.train(was)
            shown[role], box.psnr[role] = y, psnr(y, clean)
        for role, values in shown.items():
            views[role].value = png(values)
            labels[role].value = (f"{role}" + (f": {box.psnr[role]:.2f} dB" if role in box.psnr else ""))

    for control in (image_dd, pair_dd, slider):
        control.observe(update, names="value")
    box.update = update
    update()
    return box
