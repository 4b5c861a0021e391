"""The checks every task's ``make_config`` makes on a run's arguments, with one wording.

Example::

    >>> from wconv.experiments.configs import check_run
    >>> check_run("dncnn", ("dncnn",), "paper", ("uniform", "paper"), 7, 0)
    >>> check_run("dncnn", ("dncnn",), "paper", ("uniform", "paper"), 4, 0)
    Traceback (most recent call last):
        ...
    ValueError: kernel_size must be one of 3, 5, 7; got 4
"""
from __future__ import annotations

from typing import Sequence

from ..density import KERNEL_SIZES

__all__ = ["check_choice", "check_seed", "check_run"]


def check_choice(name: str, value, choices: Sequence) -> None:
    """``ValueError`` naming ``choices`` unless ``value`` is one of them."""
    if value not in tuple(choices) or isinstance(value, bool):
        raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")


def check_seed(seed) -> None:
    """``ValueError`` unless ``seed`` is a non-negative integer."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def check_run(arch: str, archs: Sequence[str], density: str, densities: Sequence[str],
              kernel_size: int, seed: int) -> None:
    """The architecture, density, kernel size (:data:`wconv.density.KERNEL_SIZES`) and seed of
    a run."""
    check_choice("arch", arch, archs)
    check_choice("density", density, densities)
    check_choice("kernel_size", kernel_size, KERNEL_SIZES)
    check_seed(seed)
