"""The learning-rate choice every task makes on its validation data, by one rule.

Each arm of an experiment trains one short run per value of its budget's ``lr_grid`` and
keeps :func:`choose_lr` of their validation scores: the smallest learning rate whose score is
within ``tie`` of the best. Ties go to the smaller rate (the safer one for a longer run), and
a missing score (``None`` or NaN: a diverged run) never wins.

Example::

    >>> from wconv.experiments.tuning import choose_lr
    >>> choose_lr([0.05, 0.1, 0.2], [40.0, 42.5, 42.5])
    0.1
    >>> choose_lr([3e-4, 1e-3, 3e-3], [28.1, 28.4, 28.43], tie=0.05)
    0.001
"""
from __future__ import annotations

import math
from typing import Sequence

__all__ = ["choose_lr", "at_edge"]


def _finite(score) -> bool:
    return score is not None and not isinstance(score, bool) and math.isfinite(score)


def choose_lr(grid: Sequence[float], scores: Sequence[float | None], tie: float = 0.0) -> float:
    """The learning rate of ``grid`` chosen from its ``scores`` (higher is better).

    Args:
        grid: the learning rates tried.
        scores: one validation score per rate (``None``/NaN for a run that diverged).
        tie: scores within this of the best count as tied (in the score's unit).
    """
    grid, scores = list(grid), list(scores)
    if not grid or len(grid) != len(scores):
        raise ValueError(f"need one score per learning rate, got {len(grid)} rates and "
                         f"{len(scores)} scores")
    if isinstance(tie, bool) or not isinstance(tie, (int, float)) or not tie >= 0:
        raise ValueError(f"tie must be a non-negative number, got {tie!r}")
    valid = [(lr, s) for lr, s in zip(grid, scores) if _finite(s)]
    if not valid:
        raise ValueError(f"no finite tuning score among {scores}")
    best = max(s for _, s in valid)
    return min(lr for lr, s in valid if s >= best - tie)


def at_edge(grid: Sequence[float], chosen: float) -> bool:
    """Whether ``chosen`` is the smallest or largest value of ``grid``: the optimum may lie
    outside the grid, which a chapter must say."""
    return chosen in (min(grid), max(grid))
