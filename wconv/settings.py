"""Run profiles, device and data location, read from the environment.

``WCONV_PROFILE`` picks how much work the book's notebooks do:

* ``smoke`` -- seconds per notebook; what the tests run;
* ``book`` -- what the published book runs (default): minutes per notebook on a
  2-core CPU, except chapter 4's ``book`` grid of classification runs (hours; it
  is trained once in the background and read from ``results/``);
* ``full`` -- paper scale, meant for a GPU.

Modules may name more budgets than profiles (``classify``'s ``quick``: chapter 4's
paired grid at a toy size, under 20 minutes).

``WCONV_DATA`` is the data root (see :func:`data_root`); ``WCONV_FETCH=1`` lets the
loaders fetch a missing data set (see :func:`wconv.experiments.datasets.require`).

Example::

    >>> import wconv.settings as s
    >>> s.profile() in s.PROFILES
    True
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

__all__ = ["PROFILES", "REPO_ROOT", "DEFAULT_DATA", "RESULTS_DIR", "RUNS_DIR", "BOOK_STATIC_DIR",
           "profile", "device", "data_root", "describe"]

PROFILES = ("smoke", "book", "full")

#: The folder above the package: the repository, whose ``results/``, ``runs/``, ``data/`` and
#: ``book/`` the experiments and views use (every path below is defined here, once).
REPO_ROOT = Path(__file__).resolve().parent.parent
#: The repository's download cache, used when nothing else names a data root.
DEFAULT_DATA = REPO_ROOT / "data"
#: The results store (:mod:`wconv.experiments.results`).
RESULTS_DIR = REPO_ROOT / "results"
#: Checkpoints of unfinished runs, and scratch stores.
RUNS_DIR = REPO_ROOT / "runs"
#: The book's static folder (its ``html_static_path``, copied into ``_build/html/_static/``).
BOOK_STATIC_DIR = REPO_ROOT / "book" / "vendor"


def profile() -> str:
    """The active profile: ``WCONV_PROFILE`` or ``'book'``."""
    name = os.environ.get("WCONV_PROFILE", "book").strip() or "book"
    if name not in PROFILES:
        raise ValueError(f"WCONV_PROFILE must be one of {', '.join(PROFILES)}; got {name!r}")
    return name


def device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: ``root`` if given, else ``WCONV_DATA``, else the repository's ``data/``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("WCONV_DATA")
    if env:
        return Path(env).expanduser()
    return DEFAULT_DATA


def describe() -> str:
    """One line naming the profile, device, thread count and data root, for notebooks to print."""
    dev = device()
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    return (f"profile={profile()} | device={dev.type} ({name}) | torch {torch.__version__} | "
            f"data root={data_root()}")
