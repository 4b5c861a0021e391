r"""Classification data: reduced, class-balanced CIFAR-100 held as tensors.

CIFAR-100 is small enough (50,000 + 10,000 images of 3x32x32 bytes, 180 MB)
to live in memory as one ``uint8`` tensor, so this module loads it once and
serves batches with :class:`TensorLoader`, which shuffles, augments (random
crop with zero padding 4, horizontal flip) and normalises whole batches with
tensor operations. On a 2-core CPU that is far cheaper than PIL transforms
per image in a ``DataLoader``.

The shared helpers (:func:`balanced_subset`, :func:`split_per_class`,
:func:`indices_hash`, :class:`TensorLoader`) work for any tensor data set.

Example::

    >>> from wconv.experiments import cifar as data
    >>> d = data.cifar100(n_per_class=10, val_per_class=2, seed=0)   # doctest: +SKIP
    >>> d.train.images.shape, d.val.images.shape                    # doctest: +SKIP
    (torch.Size([1000, 3, 32, 32]), torch.Size([200, 3, 32, 32]))
"""
from __future__ import annotations

import hashlib
import numbers
from dataclasses import dataclass, field

import torch
from torch import Tensor

from .. import settings
from . import datasets

__all__ = [
    "CIFAR100_MEAN", "CIFAR100_STD", "CIFAR100_ARCHIVE", "CIFAR100_MD5", "CIFAR100_FOLDER",
    "load_cifar100", "balanced_subset", "split_per_class", "indices_hash",
    "TensorDataset", "ClassificationData", "cifar100", "TensorLoader", "augment", "training_samples",
]

#: Per-channel mean and standard deviation of the CIFAR-100 training images (RGB, in [0, 1]).
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)
#: The official archive, its md5 (the same sum torchvision checks) and the folder it fills
#: (from the data registry, :data:`wconv.experiments.datasets.SETS`).
CIFAR100_ARCHIVE = datasets.SETS["cifar100"].archive.filename
CIFAR100_MD5 = datasets.SETS["cifar100"].archive.known_hash.removeprefix("md5:")
CIFAR100_FOLDER = datasets.FOLDERS["cifar100"][0]
CIFAR100_URL = datasets.SETS["cifar100"].archive.url


def _check_int(value, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def load_cifar100(root=None, train: bool = True, download: bool | None = None
                  ) -> tuple[Tensor, Tensor]:
    """All images and labels of one CIFAR-100 split, as tensors.

    Reads the python version of CIFAR-100 through
    :class:`torchvision.datasets.CIFAR100` (which md5-checks the files) from ``root``
    (default :func:`wconv.settings.data_root`). It never downloads unless asked: when the
    files are missing, ``download=True`` (or ``download=None`` with ``WCONV_FETCH=1``)
    fetches them through the data registry (:func:`wconv.experiments.datasets.fetch`); otherwise a
    ``FileNotFoundError`` names ``python -m wconv data fetch cifar100``, ``make data``
    and ``WCONV_DATA``.

    Args:
        root: folder that holds (or will hold) ``cifar-100-python/``.
        train: the 50,000 training images if true, else the 10,000 test images.
        download: fetch the files when they are missing (``None``: if ``WCONV_FETCH=1``).

    Returns:
        ``(images, labels)``: ``uint8`` tensor of shape ``(N, 3, 32, 32)`` and
        ``int64`` tensor of shape ``(N,)`` with fine labels in ``0..99``.
    """
    from torchvision.datasets import CIFAR100

    root = settings.data_root(root)
    key = (str(root.resolve()), bool(train))
    if key in _CACHE:
        return _CACHE[key]
    datasets.require("cifar100", root=root, download=download)
    try:
        ds = CIFAR100(str(root), train=train, download=False)
    except RuntimeError as error:   # torchvision: a file's md5 differs
        raise FileNotFoundError(
            f"CIFAR-100 in {root / CIFAR100_FOLDER} is corrupt ({error}); see `python -m wconv "
            f"data status cifar100`, delete the folder and run `python -m wconv data fetch "
            f"cifar100`") from None
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
    labels = torch.tensor(ds.targets, dtype=torch.int64)
    _CACHE[key] = (images, labels)
    return images, labels


#: Splits already read in this process, keyed by (resolved root, train).
_CACHE: dict = {}


def balanced_subset(labels: Tensor, per_class: int, seed: int, exclude: Tensor | None = None) -> Tensor:
    """Indices of ``per_class`` examples of every class, drawn at random with ``seed``.

    Args:
        labels: ``int64`` tensor of shape ``(N,)``.
        per_class: examples to take from each class.
        seed: seed of the draw; the same seed gives the same indices.
        exclude: optional indices that may not be drawn.

    Returns:
        Sorted ``int64`` indices, shape ``(num_classes * per_class,)``.
    """
    per_class = _check_int(per_class, "per_class")
    seed = _check_int(seed, "seed")
    g = torch.Generator().manual_seed(seed)
    allowed = torch.ones(len(labels), dtype=torch.bool)
    if exclude is not None:
        allowed[exclude] = False
    chosen = []
    for c in torch.unique(labels).tolist():
        pool = torch.nonzero((labels == c) & allowed).flatten()
        if len(pool) < per_class:
            raise ValueError(
                f"per_class={per_class} asks for more examples than class {c} has left "
                f"({len(pool)})")
        chosen.append(pool[torch.randperm(len(pool), generator=g)[:per_class]])
    return torch.cat(chosen).sort().values


def split_per_class(labels: Tensor, indices: Tensor, val_per_class: int, seed: int) -> tuple[Tensor, Tensor]:
    """Split ``indices`` into training and validation parts, ``val_per_class`` per class.

    Returns:
        ``(train_indices, val_indices)``, both sorted.
    """
    val_per_class = _check_int(val_per_class, "val_per_class")
    val = balanced_subset(labels[indices], val_per_class, seed)
    keep = torch.ones(len(indices), dtype=torch.bool)
    keep[val] = False
    return indices[keep], indices[val].sort().values


def indices_hash(indices: Tensor) -> str:
    """A short sha256 of an index tensor, to record which examples a run used."""
    data = indices.to(torch.int64).contiguous().numpy().tobytes()
    return hashlib.sha256(data).hexdigest()[:16]


@dataclass
class TensorDataset:
    """Images (``uint8``, ``(N, C, H, W)``) and labels (``(N,)``) of one split."""

    images: Tensor
    labels: Tensor

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class ClassificationData:
    """Train, validation and test splits plus a record of how they were drawn."""

    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    num_classes: int
    mean: tuple
    std: tuple
    info: dict = field(default_factory=dict)


def cifar100(root=None, n_per_class: int = 500, val_per_class: int = 50, seed: int = 0,
             test_per_class: int | None = None, download: bool | None = None
             ) -> ClassificationData:
    """Reduced, class-balanced CIFAR-100 with a validation split carved from training.

    ``n_per_class`` training images per class are drawn (with ``seed``) from the
    official training set, then ``val_per_class`` of them per class become the
    validation split, so the training split keeps ``n_per_class - val_per_class``
    per class. The test split is the official test set, or a balanced subset of
    ``test_per_class`` per class. Choices (densities, epochs) belong on the
    validation split; the test split is only reported.

    Args:
        root: data root (see :func:`wconv.settings.data_root`).
        n_per_class: training-set images per class, validation included (``<= 500``).
        val_per_class: of those, how many per class go to validation.
        seed: seed of the subset and of the split.
        test_per_class: ``None`` for all 100 test images per class, else fewer.
        download: fetch the files when they are missing (see :func:`load_cifar100`).

    Returns:
        A :class:`ClassificationData`; ``info`` records the sizes, the seed and a
        hash of each split's indices.
    """
    n_per_class = _check_int(n_per_class, "n_per_class", 2)
    val_per_class = _check_int(val_per_class, "val_per_class", 1)
    if val_per_class >= n_per_class:
        raise ValueError(f"val_per_class ({val_per_class}) must be smaller than n_per_class "
                         f"({n_per_class})")
    seed = _check_int(seed, "seed")
    images, labels = load_cifar100(root, train=True, download=download)
    subset = balanced_subset(labels, n_per_class, seed)
    train_idx, val_idx = split_per_class(labels, subset, val_per_class, seed + 1)
    test_images, test_labels = load_cifar100(root, train=False, download=download)
    if test_per_class is None:
        test_idx = torch.arange(len(test_labels))
    else:
        test_idx = balanced_subset(test_labels, _check_int(test_per_class, "test_per_class", 1), seed)
    info = {"dataset": "CIFAR-100", "n_per_class": n_per_class, "val_per_class": val_per_class,
            "train_per_class": n_per_class - val_per_class,
            "test_per_class": 100 if test_per_class is None else test_per_class, "seed": seed,
            "train_size": len(train_idx), "val_size": len(val_idx), "test_size": len(test_idx),
            "train_hash": indices_hash(train_idx), "val_hash": indices_hash(val_idx),
            "test_hash": indices_hash(test_idx)}
    return ClassificationData(
        train=TensorDataset(images[train_idx], labels[train_idx]),
        val=TensorDataset(images[val_idx], labels[val_idx]),
        test=TensorDataset(test_images[test_idx], test_labels[test_idx]),
        num_classes=100, mean=CIFAR100_MEAN, std=CIFAR100_STD, info=info)


def augment(images: Tensor, generator: torch.Generator, padding: int = 4, flip: bool = True) -> Tensor:
    """Random crop with zero padding and random horizontal flip, on a whole batch.

    Same distribution as torchvision's ``RandomCrop(H, padding)`` +
    ``RandomHorizontalFlip()``, drawn from ``generator``.

    Args:
        images: ``(B, C, H, W)`` tensor (any dtype).
        generator: the random source (CPU ``torch.Generator``).
        padding: zero padding on every side before cropping back to ``H x W``.
        flip: flip each image left-right with probability 1/2.

    Returns:
        A new ``(B, C, H, W)`` tensor.
    """
    b, c, h, w = images.shape
    out = images
    if padding > 0:
        padded = torch.nn.functional.pad(images, (padding,) * 4)
        dy = torch.randint(0, 2 * padding + 1, (b,), generator=generator)
        dx = torch.randint(0, 2 * padding + 1, (b,), generator=generator)
        out = _crop(padded, dy, dx, h, w)
    if flip:
        mask = torch.rand(b, generator=generator) < 0.5
        out = torch.where(mask[:, None, None, None], out.flip(3), out)
    return out


def _crop(padded: Tensor, dy: Tensor, dx: Tensor, h: int, w: int) -> Tensor:
    b, c = padded.shape[:2]
    rows = (dy[:, None] + torch.arange(h)).view(b, 1, h, 1).expand(b, c, h, padded.shape[3])
    out = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(w)).view(b, 1, 1, w).expand(b, c, h, w)
    return out.gather(3, cols)


class TensorLoader:
    """Batches of ``(inputs, labels)`` from in-memory tensors; deterministic per epoch.

    The order and the augmentation of epoch ``e`` depend only on ``seed`` and
    ``e`` (call :meth:`set_epoch`), so an interrupted run resumed at epoch ``e``
    sees exactly the batches it would have seen. Under DistributedDataParallel
    (``world_size > 1``) every process draws the same global batches and keeps
    its own share (``rank::world_size``), so the global batch is what a single
    process with the same ``batch_size`` would see.

    Args:
        dataset: a :class:`TensorDataset` (``uint8`` images).
        batch_size: global batch size.
        mean, std: per-channel normalisation applied after scaling to ``[0, 1]``.
        shuffle: new random order every epoch.
        augment: random crop (padding 4) and horizontal flip.
        drop_last: drop the last incomplete batch.
        seed: seed of the order and the augmentation.
        rank, world_size: this process's share under distributed training.
        device: where batches are put.

    Example::

        >>> loader = TensorLoader(d.train, 128, d.mean, d.std, shuffle=True, augment=True)  # doctest: +SKIP
        >>> x, y = next(iter(loader))     # x: (128, 3, 32, 32) float32, y: (128,) int64  # doctest: +SKIP
    """

    def __init__(self, dataset: TensorDataset, batch_size: int, mean=None, std=None, *,
                 shuffle: bool = False, augment: bool = False, drop_last: bool = False,
                 seed: int = 0, rank: int = 0, world_size: int = 1, device=None):
        self.dataset = dataset
        self.batch_size = _check_int(batch_size, "batch_size", 1)
        channels = dataset.images.shape[1]
        self.mean = torch.tensor(mean if mean is not None else (0.0,) * channels).view(1, -1, 1, 1)
        self.std = torch.tensor(std if std is not None else (1.0,) * channels).view(1, -1, 1, 1)
        self.shuffle = shuffle
        self.augment = augment
        self.drop_last = drop_last
        self.seed = _check_int(seed, "seed")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in 0..world_size-1, got rank={rank}, world_size={world_size}")
        self.rank, self.world_size = rank, world_size
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the order and augmentation of ``epoch``."""
        self.epoch = _check_int(epoch, "epoch")

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(n, generator=g) if self.shuffle else torch.arange(n)
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            images = self.dataset.images[idx]
            if self.augment:
                images = augment(images, g)
            share = slice(self.rank, None, self.world_size)
            x = images[share].to(torch.float32).div_(255).sub_(self.mean).div_(self.std)
            yield x.to(self.device), self.dataset.labels[idx][share].to(self.device)


def training_samples(n: int = 8, seed: int = 0, root=None, results_dir=None) -> tuple[Tensor, list[str]]:
    """``n`` augmented CIFAR-100 training images and their class names, for a page to show.

    The images are drawn from the whole training set with ``seed`` and augmented as
    in training (:func:`augment`). They are read from the data once and kept in the
    results store (task ``cifar100-samples``, see :func:`wconv.experiments.results.cached`), so a
    page without the data shows the same pixels.

    Returns:
        ``(images, names)``: ``uint8`` tensor ``(n, 3, 32, 32)`` and ``n`` fine-label names.
    """
    import pickle

    from . import results

    n, seed = _check_int(n, "n", 1), _check_int(seed, "seed")

    def draw():
        images, labels = load_cifar100(root, train=True)
        folder = settings.data_root(root) / CIFAR100_FOLDER
        with open(folder / "meta", "rb") as f:
            classes = pickle.load(f, encoding="latin1")["fine_label_names"]
        g = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(labels), generator=g)[:n]
        strip = torch.cat(list(augment(images[idx], g)), dim=2)     # (3, 32, 32 n)
        return {"images": results.image_to_text(strip), "names": [classes[i] for i in labels[idx]]}

    record = results.cached({"task": "cifar100-samples", "name": f"n{n}-s{seed}", "n": n,
                             "seed": seed}, draw, results_dir)
    strip = results.image_from_text(record["images"])
    return torch.stack(strip.split(32, dim=2)), record["names"]
