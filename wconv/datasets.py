"""Which data sets the book uses, where they live under the data root, and whether they are there.

Every data set has a name (:data:`FOLDERS`) and the folders it fills under
:func:`wconv.settings.data_root`. :func:`present` says whether all of them are
there, so that a notebook can run live on real data or replay its stored results;
:func:`missing_note` is the one line a page prints when it replays.

Example::

    >>> from wconv import datasets
    >>> datasets.fetch_command("cifar100")
    'python -m wconv data fetch cifar100'
"""
from __future__ import annotations

import os
from pathlib import Path

from . import settings

__all__ = ["FOLDERS", "present", "fetch_command", "missing_note"]

#: Data set name -> the folders (relative to the data root) it fills.
FOLDERS = {
    "cifar100": ("cifar-100-python",),
    "bsds500": ("denoise/BSDS500/train", "denoise/BSDS500/test"),
    "cbsd68": ("denoise/CBSD68",),
    "kodak24": ("denoise/Kodak24",),
    "train400": ("denoise/Train400",),
    "bsd68": ("denoise/BSD68",),
    "set12": ("denoise/Set12",),
    "div2k-train": ("DIV2K/DIV2K_train_HR",),
    "div2k-valid": ("DIV2K/DIV2K_valid_HR",),
}


def _check(names) -> tuple[str, ...]:
    unknown = [n for n in names if n not in FOLDERS]
    if unknown:
        raise ValueError(f"unknown data set {unknown[0]!r}; known: {', '.join(FOLDERS)}")
    return tuple(names)


def present(*names: str, root: str | os.PathLike | None = None) -> bool:
    """Whether every folder of every named data set exists and is not empty."""
    base = settings.data_root(root)
    folders = [Path(base, f) for n in _check(names) for f in FOLDERS[n]]
    return all(f.is_dir() and any(f.iterdir()) for f in folders)


def fetch_command(*names: str) -> str:
    """The shell command that downloads the named data sets."""
    return "python -m wconv data fetch " + " ".join(_check(names))


def missing_note(*names: str, what: str = "the stored results") -> str:
    """One line for a page that replays stored results because the data is missing."""
    return (f"No {', '.join(_check(names))} data under {settings.data_root()}: showing {what}. "
            f"To run this live, fetch it with `{fetch_command(*names)}` (or `make data`).")
