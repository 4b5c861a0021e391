"""How much work a run does: the one budget type of every task, and its one lookup.

Each task (:mod:`~wconv.experiments.classify`, :mod:`~wconv.experiments.denoise`, the
search's objectives) describes its budgets with a frozen dataclass derived from
:class:`Budget` and keeps them in a ``BUDGETS`` table; :func:`lookup` resolves a name, by
default the active profile (``WCONV_PROFILE``, :func:`wconv.settings.profile`).

Example::

    >>> from wconv.experiments import budgets, classify
    >>> name, b = budgets.lookup("smoke", classify.BUDGETS)
    >>> name, b.epochs
    ('smoke', 2)
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .. import settings

__all__ = ["Budget", "lookup", "per_profile"]


@dataclass(frozen=True)
class Budget:
    """The base of every task's budget: a frozen dataclass of plain values."""

    def replace(self, **changes) -> "Budget":
        """A copy with ``changes`` (field names are checked)."""
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        """The fields and values, as stored in a run's configuration."""
        return dataclasses.asdict(self)


def lookup(name: str | None, budgets: dict) -> tuple[str, Budget]:
    """``(name, budgets[name])``, ``name`` defaulting to the active :func:`wconv.settings.profile`."""
    if name is None:
        name = settings.profile()
    if name not in budgets:
        raise ValueError(f"budget must be one of {', '.join(budgets)}; got {name!r}")
    return name, budgets[name]


def per_profile(**values):
    """The value of the active profile among ``values`` (one per profile), e.g. a notebook's
    number of steps: ``per_profile(smoke=10, book=60, full=200)``."""
    missing = [p for p in settings.PROFILES if p not in values]
    unknown = [k for k in values if k not in settings.PROFILES]
    if missing or unknown:
        raise ValueError(f"give one value per profile {settings.PROFILES}; "
                         f"missing {missing}, unknown {unknown}")
    return values[settings.profile()]
