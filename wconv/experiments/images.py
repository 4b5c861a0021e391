r"""Denoising data: DIV2K download, the standard colour and grayscale sets, noise, patches.

Where the images come from (:func:`protocol`):

* ``'div2k'`` -- the reduced DIV2K protocol: only the 449 MB validation
  archive ``DIV2K_valid_HR.zip`` (100 colour images of about 2040 px) is
  needed; a seeded split of its images gives the training and the test images
  (the split is recorded in :meth:`Protocol.to_dict`).
* ``'div2k-full'`` -- trains on the 800 images of ``DIV2K_train_HR.zip`` and
  tests on the 100 of ``DIV2K_valid_HR.zip``.
* ``'color'`` -- the colour sets in ``<root>/denoise/``: trains on
  ``BSDS500/train`` + ``BSDS500/test`` (400 images), tests on ``CBSD68`` and
  ``Kodak24``.
* ``'gray'`` -- the grayscale DnCNN protocol: ``Train400`` -> ``BSD68``, ``Set12``.
* ``'auto'`` -- ``'div2k'`` when the DIV2K validation images are on disk (or
  ``download=True``), else ``'color'``. :attr:`Protocol.name` and
  :attr:`Protocol.description` say which one was used.

The images come from the data registry (:mod:`wconv.experiments.datasets`): DIV2K's official
ETH Zurich archives (sha256-checked before extraction, resumable, extracted atomically)
and the colour and grayscale sets. :func:`protocol` never downloads unless asked
(``download=True`` or ``WCONV_FETCH=1``); a missing set raises ``FileNotFoundError``
naming ``python -m wconv data fetch ...``. Layout under the data root::

    <root>/DIV2K/DIV2K_valid_HR/0801.png ... 0900.png
    <root>/DIV2K/DIV2K_train_HR/0001.png ... 0800.png
    <root>/denoise/BSDS500/{train,test}/, CBSD68/, Kodak24/, Train400/, BSD68/, Set12/

Images are held in memory as ``uint8`` tensors ``(C, H, W)``
(:func:`load_images`); values given to models are ``float32`` in ``[0, 1]``.
Noise is additive white Gaussian noise of standard deviation ``sigma / 255``
(``sigma`` on the 0--255 scale, in ``(0, 255]``), not clipped. Test noise is
fixed: each test image gets noise from a generator seeded by the seed, the
image's name and ``sigma`` (:func:`noisy_images`). Training patches are random
crops redrawn every epoch from a seeded generator (:class:`RandomPatches`).

Example::

    >>> from wconv.experiments import images as dd
    >>> p = dd.protocol('color', root='/path/to/data')          # doctest: +SKIP
    >>> train = dd.load_images(p.train, color=p.color)           # doctest: +SKIP
    >>> patches = dd.RandomPatches(train, patch_size=40, num_patches=1000, sigma=25)  # doctest: +SKIP
    >>> noisy, clean = patches[0]                                # doctest: +SKIP
"""
from __future__ import annotations

import math
import numbers
import os
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from .. import settings
from . import datasets

__all__ = [
    "DIV2K", "SIGMAS", "SOURCES", "div2k_folder", "Protocol", "resolve_source", "protocol",
    "load_image", "load_images", "check_sigma", "noise_seed", "add_noise", "to_float", "noisy_images", "RandomPatches", "PatchLoader",
    "PHOTO_NAME", "photo", "denoising_batches",
]

#: The noise levels of the denoising literature (0--255 scale).
SIGMAS = (15, 25, 50)

#: Accepted ``source`` names of :func:`protocol`.
SOURCES = ("auto", "div2k", "div2k-full", "color", "gray")

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

#: The DIV2K high-resolution sets of the data registry, by split (``.names``, ``.archive``, ...).
DIV2K = {"train": datasets.SETS["div2k-train"], "valid": datasets.SETS["div2k-valid"]}


# --------------------------------------------------------------------------- DIV2K

def _div2k_name(split: str) -> str:
    if split not in DIV2K:
        raise ValueError(f"split must be one of {', '.join(map(repr, DIV2K))}, got {split!r}")
    return DIV2K[split].name


def div2k_folder(split: str = "valid", root: str | os.PathLike | None = None) -> Path | None:
    """The complete DIV2K image folder of ``split`` under the data root, or ``None``."""
    name = _div2k_name(split)
    if not datasets.present(name, root=root):
        return None
    return settings.data_root(root) / datasets.FOLDERS[name][0]


# --------------------------------------------------------------------------- protocols

@dataclass(frozen=True)
class Protocol:
    """Which images train and test a denoiser.

    Attributes:
        name: ``'div2k'``, ``'div2k-full'``, ``'color'`` or ``'gray'``.
        description: one line for a page, naming the data and the split.
        color: ``True`` for RGB images, ``False`` for grayscale.
        train: the training image files.
        test: test-set name -> image files.
        seed: the seed of any random split or subset.
    """
    name: str
    description: str
    color: bool
    train: tuple[Path, ...]
    test: dict[str, tuple[Path, ...]] = field(default_factory=dict)
    seed: int = 0

    @property
    def channels(self) -> int:
        return 3 if self.color else 1

    def to_dict(self) -> dict:
        """JSON-ready record of the protocol, with every file name (for the results store)."""
        return {"name": self.name, "description": self.description, "color": self.color,
                "seed": self.seed, "train": [p.name for p in self.train],
                "test": {k: [p.name for p in v] for k, v in self.test.items()}}


def _images_in(folder: Path) -> tuple[Path, ...]:
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist")
    files = tuple(sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES))
    if not files:
        raise FileNotFoundError(f"image folder {folder} holds no images")
    return files


def _subset(files: Sequence[Path], n: int | None, seed: int, what: str) -> tuple[Path, ...]:
    if n is None:
        return tuple(files)
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 1 <= n <= len(files):
        raise ValueError(f"{what} must be an integer in [1, {len(files)}], got {n!r}")
    order = torch.randperm(len(files), generator=torch.Generator().manual_seed(seed)).tolist()
    return tuple(sorted((files[i] for i in order[:n]), key=lambda p: p.name))


#: The data sets (:data:`wconv.experiments.datasets.SETS`) each source reads.
_NEEDS = {"div2k": ("div2k-valid",), "div2k-full": ("div2k-train", "div2k-valid"),
          "color": ("bsds500", "cbsd68", "kodak24"), "gray": ("train400", "bsd68", "set12")}


def resolve_source(source: str, root: str | os.PathLike | None = None, *,
                   download: bool | None = None) -> str:
    """The source that ``source`` names on this machine: ``'auto'`` is ``'div2k'`` when the
    DIV2K validation images are under ``root`` (or ``download`` is true), else ``'color'``;
    any other source is itself.

    Example::

        >>> resolve_source('gray'), resolve_source('auto', '/nonexistent')
        ('gray', 'color')
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(map(repr, SOURCES))}, got {source!r}")
    if source != "auto":
        return source
    have = div2k_folder("valid", settings.data_root(root)) is not None
    return "div2k" if have or download else "color"


def protocol(source: str = "auto", root: str | os.PathLike | None = None, *,
             download: bool | None = None, n_train: int | None = None, n_test: int | None = None,
             div2k_test: int = 20, seed: int = 0) -> Protocol:
    """The training and test images of a denoising protocol.

    Args:
        source: one of :data:`SOURCES` (see the module docstring).
        root: data root (default :func:`wconv.settings.data_root`).
        download: fetch missing sets through the data registry
            (:func:`wconv.experiments.datasets.require`); ``None``: only when ``WCONV_FETCH=1``.
            With ``'auto'``, ``True`` also chooses DIV2K. Without the data (and not
            fetching), ``FileNotFoundError`` names ``python -m wconv data fetch ...``.
        n_train: use a seeded random subset of this many training images.
        n_test: use a seeded random subset of this many images of each test set.
        div2k_test: ``'div2k'`` only: how many of the 100 validation images are
            held out for testing (seeded); the rest train.
        seed: seed of the random split and subsets.

    Example::

        >>> p = protocol('gray', n_train=50)   # doctest: +SKIP
        >>> p.description                      # doctest: +SKIP
        'grayscale: Train400 (50 of 400 images) -> BSD68 (68), Set12 (12)'
    """
    base = settings.data_root(root)
    source = resolve_source(source, base, download=download)
    datasets.require(*_NEEDS[source], root=base, download=download)
    if source == "div2k":
        folder = base / DIV2K["valid"].folders[0]
        files = tuple(folder / n for n in DIV2K["valid"].names)
        if not 1 <= div2k_test < len(files):
            raise ValueError(f"div2k_test must be in [1, {len(files) - 1}], got {div2k_test!r}")
        order = torch.randperm(len(files), generator=torch.Generator().manual_seed(seed)).tolist()
        test = tuple(sorted(files[i] for i in order[:div2k_test]))
        train = tuple(sorted(files[i] for i in order[div2k_test:]))
        train, tests = _subset(train, n_train, seed, "n_train"), {"DIV2K": _subset(test, n_test, seed, "n_test")}
        desc = (f"DIV2K validation archive (reduced protocol): {len(train)} training / "
                f"{len(tests['DIV2K'])} test images, seeded split (seed {seed})")
        return Protocol("div2k", desc, True, train, tests, seed)
    if source == "div2k-full":
        train = _subset(_images_in(base / DIV2K["train"].folders[0]), n_train, seed, "n_train")
        valid = _images_in(base / DIV2K["valid"].folders[0])
        tests = {"DIV2K valid": _subset(valid, n_test, seed, "n_test")}
        desc = f"DIV2K (full): {len(train)} training images -> {len(tests['DIV2K valid'])} validation images"
        return Protocol("div2k-full", desc, True, train, tests, seed)
    d = base / "denoise"
    if source == "color":
        pool = _images_in(d / "BSDS500" / "train") + _images_in(d / "BSDS500" / "test")
        test_names, color, what = ("CBSD68", "Kodak24"), True, "colour: BSDS500 train+test"
    else:
        pool = _images_in(d / "Train400")
        test_names, color, what = ("BSD68", "Set12"), False, "grayscale: Train400"
    train = _subset(pool, n_train, seed, "n_train")
    tests = {name: _subset(_images_in(d / name), n_test, seed, "n_test") for name in test_names}
    count = f"{len(train)} of {len(pool)}" if len(train) < len(pool) else f"{len(pool)}"
    sizes = ", ".join(f"{k} ({len(v)})" for k, v in tests.items())
    return Protocol(source, f"{what} ({count} images) -> {sizes}", color, train, tests, seed)


# --------------------------------------------------------------------------- images

def load_image(path: str | os.PathLike, color: bool) -> Tensor:
    """Read one image as a ``uint8`` tensor ``(C, H, W)``, ``C = 3`` if ``color`` else 1.

    Raises ``ValueError`` naming the file if it cannot be read, or if it is
    grayscale where colour is asked for (or the reverse).
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode in ("L", "RGB"):
                arr = np.asarray(im, dtype=np.uint8)
            elif mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
                mode, arr = im.mode, np.asarray(im, dtype=np.uint8)
            else:
                arr = None
    except (OSError, UnidentifiedImageError, SyntaxError) as error:
        raise ValueError(f"cannot read image {path}: {error}") from None
    if arr is None or mode not in ("L", "RGB"):
        raise ValueError(f"image {path} has mode {mode!r}; expected 8-bit 'RGB' (colour) or 'L' "
                         f"(grayscale)")
    if color and mode != "RGB":
        raise ValueError(f"image {path} is grayscale (mode {mode!r}) but a colour set was asked "
                         f"for (color=True)")
    if not color and mode != "L":
        raise ValueError(f"image {path} is colour (mode {mode!r}) but a grayscale set was asked "
                         f"for (color=False)")
    t = torch.from_numpy(arr.copy())
    return t.permute(2, 0, 1).contiguous() if t.dim() == 3 else t.unsqueeze(0)


def centre_crop(image: Tensor, size: int | None) -> Tensor:
    """The central ``size x size`` crop of a ``(C, H, W)`` image (the whole image if ``None``
    or smaller than ``size``)."""
    if size is None:
        return image
    h, w = image.shape[-2:]
    crop_h, crop_w = min(size, h), min(size, w)
    top, left = (h - crop_h) // 2, (w - crop_w) // 2
    return image[:, top:top + crop_h, left:left + crop_w]


def load_images(files: Sequence[str | os.PathLike], color: bool) -> list[Tensor]:
    """Read every file with :func:`load_image`; a list of ``uint8`` tensors ``(C, H, W)``."""
    return [load_image(f, color) for f in files]


# --------------------------------------------------------------------------- noise

def check_sigma(sigma) -> float:
    """Return ``sigma`` as a float if it is a noise level in ``(0, 255]``, else raise."""
    if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real):
        raise TypeError(f"sigma must be a number in (0, 255] (0-255 scale), got {sigma!r}")
    if not math.isfinite(sigma) or not 0 < sigma <= 255:
        raise ValueError(f"sigma must be in (0, 255] (noise std on the 0-255 scale, e.g. 15, 25 "
                         f"or 50), got {sigma!r}")
    return float(sigma)


def noise_seed(seed: int, name: str, sigma: float) -> int:
    """A stable 63-bit seed from a base seed, an image name and a noise level."""
    key = f"{int(seed)}|{name}|{float(sigma)!r}".encode()
    return (zlib.crc32(key) << 31 | zlib.adler32(key)) & ((1 << 63) - 1)


def add_noise(clean: Tensor, sigma: float, generator: torch.Generator | None = None) -> Tensor:
    """``clean + (sigma / 255) · N(0, 1)``; ``clean`` float in ``[0, 1]``, not clipped.

    Example::

        >>> x = torch.full((1, 100, 100), 0.5)
        >>> n = add_noise(x, 25, torch.Generator().manual_seed(0))
        >>> round(float((n - x).std() * 255))
        25
    """
    sigma = check_sigma(sigma)
    noise = torch.randn(clean.shape, generator=generator, dtype=clean.dtype, device=clean.device)
    return clean + (sigma / 255.0) * noise


def to_float(image: Tensor) -> Tensor:
    """``uint8`` ``(C, H, W)`` -> ``float32`` in ``[0, 1]``."""
    return image.to(torch.float32) / 255.0


def noisy_images(images: Sequence[Tensor], names: Sequence[str], sigma: float,
                 seed: int = 0) -> list[Tensor]:
    """Fixed noisy versions of test images: the same for the same seed, name and sigma.

    Args:
        images: ``uint8`` tensors ``(C, H, W)``.
        names: one name per image (e.g. the file name), which seeds its noise.
        sigma: noise std on the 0--255 scale.
        seed: base seed.

    Returns:
        ``float32`` tensors ``(C, H, W)``, clean/255 plus noise, not clipped.
    """
    sigma = check_sigma(sigma)
    if len(images) != len(names):
        raise ValueError(f"need one name per image, got {len(images)} images and {len(names)} names")
    out = []
    for image, name in zip(images, names):
        g = torch.Generator().manual_seed(noise_seed(seed, str(name), sigma))
        out.append(add_noise(to_float(image), sigma, g))
    return out


class RandomPatches(torch.utils.data.Dataset):
    r"""Random noisy/clean training patches, redrawn every epoch from a seed.

    The images stay in memory as ``uint8``; :meth:`set_epoch` draws, with a
    generator seeded by ``(seed, epoch)``, which image, which position and
    (with ``augment``) which of the 8 flips/rotations each patch uses. Item
    ``i`` is ``(noisy, clean)``, ``float32`` ``(C, P, P)``, its noise drawn
    from a generator seeded by ``(seed, epoch, i)``, so an epoch's data do not
    depend on the batch order or the number of workers. Images are picked with
    probability proportional to their area.

    Args:
        images: ``uint8`` tensors ``(C, H, W)``, each at least ``patch_size`` on both sides.
        patch_size: side ``P`` of the square patches.
        num_patches: patches per epoch.
        sigma: noise std on the 0--255 scale, in ``(0, 255]``; or a pair
            ``(low, high)`` for blind training (DnCNN-B uses ``(0, 55)``): each
            patch then gets a level drawn uniformly from ``[low, high]``
            (``low >= 0``; a level of 0 means no noise).
        seed: base seed.
        augment: random flips and 90-degree rotations (as in DnCNN's training).

    Example::

        >>> imgs = [torch.randint(0, 256, (3, 60, 80), dtype=torch.uint8)]
        >>> ds = RandomPatches(imgs, patch_size=32, num_patches=10, sigma=25)
        >>> noisy, clean = ds[0]; noisy.shape
        torch.Size([3, 32, 32])
    """

    def __init__(self, images: Sequence[Tensor], patch_size: int, num_patches: int, sigma: float,
                 seed: int = 0, augment: bool = True):
        if not images:
            raise ValueError("images is empty; need at least one image")
        for name, v in (("patch_size", patch_size), ("num_patches", num_patches)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        for i, im in enumerate(images):
            if not isinstance(im, Tensor) or im.dtype != torch.uint8 or im.dim() != 3:
                raise TypeError(f"images[{i}] must be a uint8 tensor (C, H, W), got "
                                f"{getattr(im, 'dtype', type(im).__name__)} "
                                f"{tuple(getattr(im, 'shape', ()))}")
            if min(im.shape[1:]) < patch_size:
                raise ValueError(f"images[{i}] has size {tuple(im.shape[1:])}, smaller than "
                                 f"patch_size={patch_size}")
            if im.shape[0] != images[0].shape[0]:
                raise ValueError(f"images[{i}] has {im.shape[0]} channels, images[0] has "
                                 f"{images[0].shape[0]}; mixing grayscale and colour")
        self.images = list(images)
        self.patch_size = int(patch_size)
        self.num_patches = int(num_patches)
        self.sigma = _check_sigma_or_range(sigma)
        self.seed = int(seed)
        self.augment = bool(augment)
        self._areas = torch.tensor([float(im.shape[1] * im.shape[2]) for im in images])
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Draw this epoch's patch positions (call once per epoch, before iterating)."""
        self.epoch = int(epoch)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        n, p = self.num_patches, self.patch_size
        self._index = torch.multinomial(self._areas, n, replacement=True, generator=g)
        h = torch.tensor([self.images[i].shape[1] - p + 1 for i in self._index.tolist()])
        w = torch.tensor([self.images[i].shape[2] - p + 1 for i in self._index.tolist()])
        u = torch.rand(n, 2, generator=g, dtype=torch.float64)
        self._y = (u[:, 0] * h).long().clamp_max(h - 1)
        self._x = (u[:, 1] * w).long().clamp_max(w - 1)
        self._mode = torch.randint(0, 8, (n,), generator=g) if self.augment else torch.zeros(n, dtype=torch.long)

    def __len__(self) -> int:
        return self.num_patches

    def clean(self, i: int) -> Tensor:
        """The clean ``uint8`` patch ``i`` of the current epoch."""
        if not 0 <= i < self.num_patches:
            raise IndexError(f"patch index {i} out of range [0, {self.num_patches})")
        p, y, x = self.patch_size, int(self._y[i]), int(self._x[i])
        patch = self.images[int(self._index[i])][:, y:y + p, x:x + p]
        mode = int(self._mode[i])
        if mode & 4:
            patch = patch.flip(-1)
        return torch.rot90(patch, mode & 3, dims=(-2, -1))

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        clean = to_float(self.clean(i))
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) * 10_000_019 + i)
        if isinstance(self.sigma, tuple):
            low, high = self.sigma
            level = low + (high - low) * torch.rand((), generator=g, dtype=torch.float64).item()
        else:
            level = self.sigma
        noise = torch.randn(clean.shape, generator=g, dtype=clean.dtype)
        return clean + (level / 255.0) * noise, clean


def _check_sigma_or_range(sigma):
    if isinstance(sigma, (tuple, list)):
        if len(sigma) != 2:
            raise ValueError(f"sigma must be a number in (0, 255] or a pair (low, high), got {sigma!r}")
        low, high = sigma
        if isinstance(low, bool) or not isinstance(low, numbers.Real) or not 0 <= low:
            raise ValueError(f"sigma range low must be a number >= 0, got {sigma!r}")
        high = check_sigma(high)
        if low > high:
            raise ValueError(f"sigma range must have low <= high, got {sigma!r}")
        return (float(low), high)
    return check_sigma(sigma)


class PatchLoader:
    """Batches ``(noisy, clean)`` of a :class:`RandomPatches`, in order; deterministic per epoch.

    Call :meth:`set_epoch` before each epoch (it redraws the patches). Every
    batch is ``float32`` ``(B, C, P, P)`` on ``device``.

    Example::

        >>> imgs = [torch.randint(0, 256, (1, 40, 40), dtype=torch.uint8)]
        >>> loader = PatchLoader(RandomPatches(imgs, 16, 10, sigma=25), batch_size=4)
        >>> [tuple(x.shape) for x, _ in loader]
        [(4, 1, 16, 16), (4, 1, 16, 16), (2, 1, 16, 16)]
    """

    def __init__(self, patches: RandomPatches, batch_size: int, device=None, drop_last: bool = False):
        if not isinstance(patches, RandomPatches):
            raise TypeError(f"patches must be a RandomPatches, got {type(patches).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.patches, self.batch_size, self.drop_last = patches, int(batch_size), bool(drop_last)
        self.device = torch.device(device) if device is not None else torch.device("cpu")

    def set_epoch(self, epoch: int) -> None:
        self.patches.set_epoch(epoch)

    def __len__(self) -> int:
        n = len(self.patches)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        for b in range(len(self)):
            items = [self.patches[i] for i in
                     range(b * self.batch_size, min((b + 1) * self.batch_size, len(self.patches)))]
            noisy = torch.stack([x for x, _ in items]).to(self.device)
            clean = torch.stack([y for _, y in items]).to(self.device)
            yield noisy, clean


# --------------------------------------------------------------------------- a test photograph

#: What :func:`photo` returns, for captions.
PHOTO_NAME = ("the 'cameraman' photograph shipped with scikit-image (skimage.data.camera(), "
              "512×512 grayscale), averaged over 2×2 blocks to 256×256")


def photo(size: int = 256) -> np.ndarray:
    """The cameraman photograph (``skimage.data.camera()``), block-averaged to ``size``².

    Args:
        size: output side in pixels; must divide 512.

    Returns:
        ``uint8`` array of shape ``(size, size)``.
    """
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1 \
            or 512 % size:
        raise ValueError(f"size must be a positive integer dividing 512 (e.g. 256, 128), got {size!r}")
    return _photo(int(size)).copy()


@lru_cache(maxsize=4)
def _photo(size: int) -> np.ndarray:
    from skimage import data

    image = data.camera().astype(np.float64)
    f = 512 // size
    pooled = image.reshape(size, f, size, f).mean(axis=(1, 3))
    return np.rint(pooled).astype(np.uint8)


def denoising_batches(steps: int, batch_size: int = 4, patch: int = 16, noise_std: float = 0.1,
                      seed: int = 0, dtype: torch.dtype = torch.float32) -> list:
    """A tiny real-data problem: ``(noisy, clean)`` patches of a photograph.

    The photograph is scikit-image's 'cameraman' (``skimage.data.camera()``,
    512×512 grayscale) block-averaged to 64×64 and scaled to ``[0, 1]``; it is
    cut into ``(64 / patch)²`` patches, and each step draws ``batch_size`` of
    them with fresh Gaussian noise of standard deviation ``noise_std``.

    Args:
        steps: number of batches.
        batch_size: patches per batch.
        patch: patch side in pixels; must divide 64.
        noise_std: noise standard deviation, on the ``[0, 1]`` scale.
        seed: seed of the patch draws and the noise.
        dtype: floating dtype of the tensors.

    Returns:
        a list of ``steps`` pairs of tensors of shape ``(batch_size, 1, patch, patch)``.
    """

    for name, value in (("steps", steps), ("batch_size", batch_size), ("patch", patch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if 64 % patch:
        raise ValueError(f"patch must divide 64, got {patch}")
    image = torch.from_numpy(photo(64)).to(dtype) / 255
    patches = image.unfold(0, patch, patch).unfold(1, patch, patch).reshape(-1, 1, patch, patch)
    if batch_size > len(patches):
        raise ValueError(f"batch_size must be at most {len(patches)} for patch={patch}, "
                         f"got {batch_size}")
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(steps):
        clean = patches[torch.randperm(len(patches), generator=generator)[:batch_size]]
        noise = torch.randn(clean.shape, generator=generator, dtype=dtype)
        batches.append((clean + noise_std * noise, clean))
    return batches
