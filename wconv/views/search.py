r"""The search's views: a live figure of a running search, and notebook controls to start one.

:class:`ProgressPlot` is a ``callback`` of the searches of :mod:`wconv.experiments.search`;
:func:`search_panel` runs a new search from a live notebook.
"""
from __future__ import annotations

import math
import numbers

from ..density import KERNEL_SIZES, PAPER_RANGES
from ..experiments import search

__all__ = ["ProgressPlot", "search_panel"]


class ProgressPlot:
    r"""A figure of a search that redraws after each evaluation (pass it as ``callback``).

    Left: the objective value of each evaluation and the best so far. Right:
    where the search sampled -- for one ``den`` value, the values against
    ``den`` over the ``landscape`` curve; for two, the points in the plane over
    the landscape's contours (colour = order of evaluation); for more, each
    ``den`` value against the objective.

    Args:
        kernel_size, bounds: as in :func:`~wconv.experiments.search.direct_search` (fix the axes).
        landscape: optional background (darker = higher): a cheap callable
            ``den -> float`` (sampled on a fine grid), or a :class:`~wconv.experiments.search.SearchResult`
            whose evaluations are drawn as the known landscape (a finished 2-D
            :func:`~wconv.experiments.search.grid_search` as one shaded cell per grid point).
        value_label: what the objective measures, with units, for the y axis.
        title: figure title.
        live: show the figure in a notebook and update it in place
            (``IPython.display``); otherwise only draw.
        every: redraw after every ``every`` evaluations (and on :meth:`finish`).
        logy: logarithmic value axis (positive objectives spanning decades).

    Example::

        >>> import matplotlib; matplotlib.use("Agg")
        >>> from wconv.experiments import search
        >>> f = lambda den: (den[0] - 0.8) ** 2
        >>> plot = ProgressPlot(3, landscape=f, live=False)
        >>> r = search.direct_search(f, 3, max_evals=10, callback=plot)
        >>> len(plot.evaluations)
        10
    """

    def __init__(self, kernel_size: int, bounds=None, *, landscape=None,
                 value_label: str = "objective (lower is better)", title: str | None = None,
                 live: bool = True, every: int = 1, logy: bool = False):
        import matplotlib.pyplot as plt

        self.lower, self.upper = search.check_bounds(bounds, kernel_size)
        if landscape is not None and not (callable(landscape)
                                          or isinstance(landscape, search.SearchResult)):
            raise TypeError(f"landscape must be a callable den -> float, a SearchResult or None, "
                            f"got {landscape!r}")
        if isinstance(every, bool) or not isinstance(every, numbers.Integral) or every < 1:
            raise ValueError(f"every must be an int >= 1, got {every!r}")
        self.landscape, self.value_label, self.every = landscape, value_label, int(every)
        self.logy = bool(logy)
        self.evaluations: list[search.Evaluation] = []
        self.fig, (self.ax_values, self.ax_points) = plt.subplots(
            1, 2, figsize=(10, 3.8), layout="constrained")
        if title:
            self.fig.suptitle(title)
        self._background = self._landscape_data()
        self.handle = None
        if live:
            from IPython.display import display
            plt.close(self.fig)  # shown through the display handle only
            self.handle = display(self.fig, display_id=True)
        self.draw()

    def _landscape_data(self):
        d = len(self.lower)
        if self.landscape is None:
            return None
        if isinstance(self.landscape, search.SearchResult):
            r = self.landscape
            n = r.config.get("points")
            if (d == 2 and r.config.get("method") == "grid" and n
                    and len(r.evaluations) == n * n):
                # a finished midpoint grid: draw each value over its cell
                edges = [[lo + (hi - lo) * i / n for i in range(n + 1)]
                         for lo, hi in zip(self.lower, self.upper)]
                values = [e.value if math.isfinite(e.value) else math.nan for e in r.evaluations]
                rows = [[values[i * n + j] for i in range(n)] for j in range(n)]
                return ("cells", edges[0], edges[1], rows)
            evs = [e for e in r.evaluations if math.isfinite(e.value)]
            return ("points", [e.den for e in evs], [e.value for e in evs])
        if d == 1:
            xs = [self.lower[0] + (self.upper[0] - self.lower[0]) * i / 200 for i in range(201)]
            return ("curve", xs, [float(self.landscape((x,))) for x in xs])
        if d == 2:
            n = 60
            xs = [self.lower[0] + (self.upper[0] - self.lower[0]) * i / (n - 1) for i in range(n)]
            ys = [self.lower[1] + (self.upper[1] - self.lower[1]) * i / (n - 1) for i in range(n)]
            zs = [[float(self.landscape((x, y))) for x in xs] for y in ys]
            return ("grid", xs, ys, zs)
        return None

    def __call__(self, evaluation: search.Evaluation) -> None:
        self.evaluations.append(evaluation)
        if len(self.evaluations) % self.every == 0:
            self.draw()

    def finish(self, result: search.SearchResult | None = None) -> None:
        """Final redraw (marks the best point of ``result`` if given)."""
        self.draw(result)

    def draw(self, result: search.SearchResult | None = None) -> None:
        evs = self.evaluations
        d = len(self.lower)
        ax = self.ax_values
        ax.clear()
        idx = [e.index for e in evs]
        vals = [e.value for e in evs]
        ax.plot(idx, vals, "o", ms=3, color="tab:blue", label="evaluation")
        best = search.SearchResult(evs, None, "", {}).best_so_far()
        ax.plot(idx, best, "-", color="tab:red", label="best so far")
        ax.set_xlabel("evaluation")
        ax.set_ylabel(self.value_label)
        if self.logy:
            ax.set_yscale("log")
        if evs:
            ax.legend(loc="upper right", fontsize="small")
        ax = self.ax_points
        ax.clear()
        bg = self._background
        colour = {"c": list(range(1, len(evs) + 1)), "cmap": "viridis"} if evs else {}
        if d == 1:
            if bg is not None and bg[0] == "curve":
                ax.plot(bg[1], bg[2], "-", color="0.6", label="landscape")
            elif bg is not None:
                pts = sorted(zip([p[0] for p in bg[1]], bg[2]))
                ax.plot([p[0] for p in pts], [p[1] for p in pts], ".-", color="0.6", label="landscape")
            sc = ax.scatter([e.den[0] for e in evs], vals, s=18, zorder=3, label="sampled", **colour)
            ax.set_xlabel("den[0] (outer tap weight)")
            ax.set_ylabel(self.value_label)
            ax.set_xlim(self.lower[0], self.upper[0])
        elif d == 2:
            if bg is not None and bg[0] == "grid":
                ax.contourf(bg[1], bg[2], bg[3], levels=20, cmap="Greys")
            elif bg is not None and bg[0] == "cells":
                ax.pcolormesh(bg[1], bg[2], bg[3], cmap="Greys", alpha=0.8)
            elif bg is not None and len(bg[1]) >= 3:
                ax.tricontourf([p[0] for p in bg[1]], [p[1] for p in bg[1]], bg[2], levels=20,
                               cmap="Greys")
            sc = ax.scatter([e.den[0] for e in evs], [e.den[1] for e in evs], s=18, zorder=3,
                            **colour)
            ax.set_xlabel("den[0] (outermost tap)")
            ax.set_ylabel("den[1]")
            ax.set_xlim(self.lower[0], self.upper[0])
            ax.set_ylim(self.lower[1], self.upper[1])
        else:
            for j in range(d):
                ax.plot([e.den[j] for e in evs], vals, "o", ms=3, label=f"den[{j}]")
            ax.set_xlabel("den value (tap weight)")
            ax.set_ylabel(self.value_label)
            if evs:
                ax.legend(loc="upper right", fontsize="small")
            sc = None
        if result is not None and result.best is not None:
            b = result.best
            if d == 1:
                ax.plot([b.den[0]], [b.value], "*", ms=14, color="tab:red", zorder=4, label="best")
            elif d == 2:
                ax.plot([b.den[0]], [b.den[1]], "*", ms=14, color="tab:red", zorder=4, label="best")
        ax.set_title(f"{len(evs)} evaluations (colour: order)" if sc is not None else
                     f"{len(evs)} evaluations")
        if self.handle is not None:
            self.handle.update(self.fig)


def search_panel(max_evals: int = 10):
    """Controls to run a new search in a live notebook (ipywidgets).

    Task, kernel size, paper range, search method and evaluation budget, and a
    Run button; the search runs in the notebook's kernel with a live
    :class:`ProgressPlot` and its log under ``results/search/`` (so a search
    already run is replayed, and an interrupted one resumes). Training uses
    the active run profile's budget (:data:`wconv.experiments.search.BUDGETS`).
    """
    import ipywidgets as w

    task = w.Dropdown(options=[("denoising (DnCNN, -PSNR)", "denoise"),
                               ("classification (VGG-11, val. loss)", "classify")],
                      description="task")
    size = w.Dropdown(options=list(KERNEL_SIZES), value=3, description="kernel")
    which = w.Dropdown(description="range")
    method = w.Dropdown(options=["DIRECT-L", "grid", "random"], description="method")
    budget = w.IntSlider(value=max_evals, min=2, max=60, description="evaluations")
    run = w.Button(description="Run", button_style="primary")
    out = w.Output()

    def ranges(*_):
        k = size.value
        which.options = [(f"[{lo[0]:g}, {hi[0]:g}]^{len(lo)}", i)
                         for i, (lo, hi) in enumerate(PAPER_RANGES[k])]
        which.value = 0

    def go(_):
        run.disabled = True
        out.clear_output()
        try:
            with out:
                make = (search.classification_objective if task.value == "classify"
                        else search.denoising_objective)
                f = make(size.value)
                plot = ProgressPlot(size.value, which.value, title=f"{f.name}, {size.value}x{size.value}",
                                    value_label="validation score (lower is better)")
                kw = dict(max_evals=budget.value, log="auto", callback=plot)
                if method.value == "DIRECT-L":
                    r = search.direct_search(f, size.value, which.value, **kw)
                elif method.value == "grid":
                    r = search.grid_search(f, size.value, which.value, **kw)
                else:
                    r = search.random_search(f, size.value, which.value, seed=0, **kw)
                plot.finish(r)
                print(r)
        finally:
            run.disabled = False

    size.observe(ranges, names="value")
    ranges()
    run.on_click(go)
    return w.VBox([w.HBox([task, size, which]), w.HBox([method, budget, run]), out])
