"""The one table format of the book: Markdown tables, and ``mean ± std`` cells.

Every chapter's table goes through :func:`markdown` or :func:`from_dicts` (myst-nb renders
Markdown output as a table) with its cells formatted by :func:`mean_std`, :func:`signed` and :func:`p_value`, so a
number reads the same on every page.

Example::

    >>> from wconv.views import tables
    >>> print(tables.markdown(["arm", "top-1 (%)"], [["paper", tables.mean_std(60.12, 0.31)]]))
    | arm | top-1 (%) |
    |---|---|
    | paper | 60.12 ± 0.31 |
"""
from __future__ import annotations

import math
from typing import Sequence

__all__ = ["markdown", "from_dicts", "mean_std", "signed", "interval", "p_value"]


def markdown(header: Sequence[str], rows: Sequence[Sequence], note: str | None = None) -> str:
    """A Markdown table; cells are written with ``str`` (format numbers first).

    Args:
        header: column titles.
        rows: one sequence of cells per row, as many as ``header``.
        note: a line under the table (e.g. what ``n`` counts, the data and settings).
    """
    header = [str(h) for h in header]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for i, row in enumerate(rows):
        row = list(row)
        if len(row) != len(header):
            raise ValueError(f"row {i} has {len(row)} cells for {len(header)} columns: {row}")
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |")
    if note:
        lines += ["", note]
    return "\n".join(lines)


def from_dicts(rows: Sequence[dict], digits: int = 3) -> str:
    """Rows of dicts with the same keys (the column titles) as :func:`markdown`; floats with
    ``digits`` decimals, ``None`` as ``–``."""
    if not rows:
        raise ValueError("rows is empty: nothing to tabulate")
    header = list(rows[0])
    cells = [["–" if r[k] is None else f"{r[k]:.{digits}f}" if isinstance(r[k], float) else r[k]
              for k in header] for r in rows]
    return markdown(header, cells)


def _finite(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def mean_std(mean, std, digits: int = 2) -> str:
    """``'60.12 ± 0.31'``; ``'60.12'`` without a deviation (one run); ``'–'`` without a mean."""
    if not _finite(mean):
        return "–"
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if _finite(std) else f"{mean:.{digits}f}"


def signed(value, digits: int = 2) -> str:
    """``'+0.42'`` / ``'-0.10'``; ``'–'`` for a missing value."""
    return f"{value:+.{digits}f}" if _finite(value) else "–"


def interval(low, high, digits: int = 2) -> str:
    """``'[-0.12, +0.96]'``; ``'–'`` when either end is missing."""
    if not (_finite(low) and _finite(high)):
        return "–"
    return f"[{low:+.{digits}f}, {high:+.{digits}f}]"


def p_value(p) -> str:
    """``'0.031'``, ``'< 0.001'``; ``'–'`` where no test was possible."""
    if not _finite(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"
