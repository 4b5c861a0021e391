"""Chapter 3's views of :mod:`wconv.experiments.bench`: the layer timings as a table and a plot.

Example::

    >>> from wconv.experiments import bench                          # doctest: +SKIP
    >>> from wconv.views import timing                               # doctest: +SKIP
    >>> rows = bench.run(bench.SHAPES[:2], repeats=3)                # doctest: +SKIP
    >>> print(timing.layer_table(rows))                              # doctest: +SKIP
"""
from __future__ import annotations

from ..experiments import bench
from . import tables

__all__ = ["layer_table", "plot_layer_ratios"]

_RATIOS = (("train_ratio", "weighted, forward+backward"), ("folded_ratio", "folded, inference"),
           ("naive_ratio", "naive unfold, forward+backward"))


def layer_table(rows: list[dict]) -> str:
    """:func:`wconv.experiments.bench.run` rows as a Markdown table: medians (ms) and ratios
    to ``nn.Conv2d``, with the median ratios over the shapes under it."""
    naive = "naive_ratio" in rows[0]
    header = ["layer", "k", "input", "Conv2d (ms)", "weighted (ms)", "ratio", "inference (ms)",
              "folded (ms)", "ratio"] + (["naive (ms)", "ratio"] if naive else [])
    cells = []
    for r in rows:
        row = [r["name"], r["kernel_size"], f"{r['batch']}×{r['in_channels']}×{r['size']}×{r['size']}",
               f"{1e3 * r['conv2d_train_s']:.2f}", f"{1e3 * r['weighted_train_s']:.2f}",
               f"{r['train_ratio']:.3f}", f"{1e3 * r['conv2d_infer_s']:.2f}",
               f"{1e3 * r['folded_infer_s']:.2f}", f"{r['folded_ratio']:.3f}"]
        if naive:
            row += [f"{1e3 * r['naive_train_s']:.2f}", f"{r['naive_ratio']:.2f}"]
        cells.append(row)
    summary = bench.summarize(rows)
    note = ("Median over the shapes: " + ", ".join(
        f"{label} {summary[key]:.3f}" for key, label in _RATIOS if key in summary) + ".")
    return tables.markdown(header, cells, note)


def plot_layer_ratios(rows: list[dict]):
    """Horizontal bars: each shape's time relative to ``nn.Conv2d`` (log scale)."""
    import matplotlib.pyplot as plt

    names = [f"{r['name']} ({r['kernel_size']}x{r['kernel_size']})" for r in rows]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.5))
    y = range(len(rows))
    for offset, (key, label) in zip((-0.27, 0.0, 0.27), _RATIOS):
        if key in rows[0]:
            ax.barh([i + offset for i in y], [r[key] for r in rows], height=0.26, label=label)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    ax.set_yticks(list(y), names)
    ax.set_xlabel("time relative to nn.Conv2d (ratio, log scale)")
    ax.set_title("Weighted convolution cost per layer shape")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig
