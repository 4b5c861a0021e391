r"""Chapter 6's search panel for the static page: DIRECT-L in the browser on a stored landscape.

Every stored search log (``results/search/*-book-*.jsonl``, read with
:func:`wconv.experiments.search.read_log`) holds objective values at the densities its search
evaluated. :func:`landscapes` pools them per objective and kernel size (the same objective
configuration only: a different training length is a different landscape), averages repeated
densities, interpolates the values (:class:`scipy.interpolate.RBFInterpolator`: piecewise linear
in one parameter, a thin-plate spline in two) and samples the interpolant on a regular grid over
the box of the logs. :func:`panel_html` ships the grids in the page with two scripts:
``static/direct_l.js`` (DIRECT-L with NLopt's ``GN_DIRECT_L`` rules; ``tests/test_browser_direct_l.py``
checks it against NLopt) and ``static/search_panel.js`` (controls and drawing). The reader picks
the task and kernel size, moves the bounds of the search box and the budget, and the page runs
DIRECT-L on the interpolated landscape and draws where it samples. No kernel is needed.

The landscape is an interpolation of a few stored evaluations, not the objective: the panel
says how many, and shows where DIRECT-L would sample on it, not what a new training would give.

Example::

    >>> from wconv.views import search_replay
    >>> lands = search_replay.landscapes()          # from the results store
    >>> sorted((l["task"], l["kernel_size"]) for l in lands)[:1]
    [('classify', 3)]
    >>> html = search_replay.panel_html(lands)
    >>> "wconvSearchPanel" in html and "wconvDirectL" in html
    True
"""
from __future__ import annotations

import math
import uuid
from pathlib import Path

import numpy as np

from ..experiments import results as _results
from ..experiments.search import LOG_DIR, read_log
from . import scripts

__all__ = ["PATTERN", "GRID_POINTS", "VALUE_LABELS", "TASK_LABELS", "stored_logs", "landscape",
           "landscapes", "panel_html", "replay_panel", "describe"]

#: The stored logs the panel reads: the book profile's searches.
PATTERN = "*-book-*.jsonl"
#: Grid nodes per parameter (one parameter, two parameters).
GRID_POINTS = {1: 201, 2: 61}
#: The objective's value, with units, per (task, score).
VALUE_LABELS = {("denoise", "-psnr"): "−PSNR on validation (dB)",
                ("denoise", "loss"): "validation loss",
                ("classify", "loss"): "validation cross-entropy (nats)",
                ("classify", "error"): "validation error (%)"}
TASK_LABELS = {"denoise": "denoising (DnCNN)", "classify": "classification (VGG-11, CIFAR-100)"}


def stored_logs(results_dir=None, pattern: str = PATTERN) -> dict:
    """The stored search logs, pooled: ``(objective, kernel_size, objective key) -> group``.

    A group is a dict with ``task``, ``score``, ``kernel_size``, ``logs`` (file names),
    ``bounds`` (the union of the logs' boxes) and ``evaluations`` (``(den, value)`` pairs, finite
    values only, in file order).
    """
    folder = Path(results_dir) if results_dir is not None else LOG_DIR
    groups: dict = {}
    for path in sorted(folder.glob(pattern)):
        evaluations, config = read_log(path)
        if not evaluations or config is None:
            continue
        objective = config.get("objective_config") or {}
        key = (config.get("objective"), int(config["kernel_size"]), _results.config_key(objective))
        group = groups.setdefault(key, {"task": objective.get("task"), "score": objective.get("score"),
                                        "objective": config.get("objective"),
                                        "kernel_size": int(config["kernel_size"]), "logs": [],
                                        "bounds": None, "evaluations": []})
        group["logs"].append(path.name)
        lo, hi = (list(map(float, b)) for b in config["bounds"])
        if group["bounds"] is None:
            group["bounds"] = (lo, hi)
        else:
            group["bounds"] = ([min(a, b) for a, b in zip(group["bounds"][0], lo)],
                               [max(a, b) for a, b in zip(group["bounds"][1], hi)])
        group["evaluations"] += [(tuple(e.den), e.value) for e in evaluations if math.isfinite(e.value)]
    return groups


def landscape(group: dict, points: int | None = None) -> dict | None:
    """One group of :func:`stored_logs` interpolated on a grid (None beyond two parameters, or
    with too few distinct densities to interpolate).

    Returns a JSON-ready dict: ``task``, ``task_label``, ``kernel_size``, ``lower``, ``upper``,
    ``shape``, ``values`` (row-major, ``den[0]`` slowest), ``min``, ``max``, ``value_label``,
    ``stored`` (the distinct densities and their mean values), ``n_evaluations``, ``n_points``,
    ``logs`` and ``about`` (the sentence the panel shows).
    """
    from scipy.interpolate import RBFInterpolator

    lower, upper = (np.array(b, float) for b in group["bounds"])
    d = len(lower)
    if d not in GRID_POINTS:
        return None
    pooled: dict = {}
    for den, value in group["evaluations"]:
        pooled.setdefault(tuple(round(v, 12) for v in den), []).append(value)
    dens = np.array(list(pooled), float)
    means = np.array([np.mean(v) for v in pooled.values()])
    if len(dens) < d + 2:
        return None
    unit = (dens - lower) / (upper - lower)   # interpolate in the unit box: no axis dominates
    kernel = "linear" if d == 1 else "thin_plate_spline"
    rbf = RBFInterpolator(unit, means, kernel=kernel, degree=1)
    n = points or GRID_POINTS[d]
    axes = np.meshgrid(*[np.linspace(0, 1, n)] * d, indexing="ij")
    values = rbf(np.stack([a.ravel() for a in axes], axis=1))
    method = "piecewise-linear" if d == 1 else "thin-plate-spline"
    n_evals = len(group["evaluations"])
    grid = f"{n}-point" if d == 1 else " × ".join([str(n)] * d)
    about = (f"Landscape: a {method} interpolation of {n_evals} stored evaluations "
             f"({len(dens)} distinct densities) from {len(group['logs'])} search logs of "
             f"{group['objective']} (k = {group['kernel_size']}), on a {grid} grid; "
             f"DIRECT-L runs on this interpolation in the page, not on new trainings.")
    return {
        "task": group["task"], "task_label": TASK_LABELS.get(group["task"], str(group["task"])),
        "kernel_size": group["kernel_size"], "objective": group["objective"],
        "lower": lower.tolist(), "upper": upper.tolist(), "shape": [n] * d,
        "values": [round(float(v), 5) for v in values],
        "min": round(float(values.min()), 5), "max": round(float(values.max()), 5),
        "value_label": VALUE_LABELS.get((group["task"], group["score"]), "objective"),
        "stored": [[list(den), round(float(v), 6)] for den, v in zip(dens.tolist(), means)],
        "n_evaluations": n_evals, "n_points": len(dens), "logs": group["logs"], "about": about,
    }


def landscapes(results_dir=None, pattern: str = PATTERN) -> list[dict]:
    """The landscape of every (task, kernel size) with stored logs (the group with the most
    evaluations when several objective configurations share one), ordered by task and size."""
    best: dict = {}
    for group in stored_logs(results_dir, pattern).values():
        key = (group["task"], group["kernel_size"])
        if key not in best or len(group["evaluations"]) > len(best[key]["evaluations"]):
            best[key] = group
    out = [landscape(best[key]) for key in sorted(best)]
    return [land for land in out if land is not None]


def panel_html(lands: list[dict], *, budget: int = 30, max_budget: int = 100) -> str:
    """The panel as an HTML fragment: controls, two canvases, the scripts and the landscapes."""
    if not lands:
        return "<p><em>No stored search logs: the search panel has nothing to show.</em></p>"
    uid = f"wconv-sp-{uuid.uuid4().hex[:8]}"
    label = 'style="margin-right:1.2em;white-space:nowrap"'

    def slider(name: str, text: str, lo, hi, value, step) -> str:
        return (f'<label {label}>{text} <input type="range" class="wconv-sp-{name}" min="{lo}" '
                f'max="{hi}" step="{step}" value="{value}" style="vertical-align:middle;width:140px"> '
                f'<span class="wconv-sp-{name}-value" style="font-family:monospace"></span></label>')

    controls = (f'<label {label}>task <select class="wconv-sp-task"></select></label>'
                f'<label {label}>kernel <select class="wconv-sp-size"></select></label><br>'
                + slider("lower", "lower bound", 0, 1, 0, 0.01)
                + slider("upper", "upper bound", 0, 1, 1, 0.01) + "<br>"
                + slider("budget", "evaluations", 3, max_budget, budget, 1))
    markup = (f'<div id="{uid}" class="wconv-search-panel" style="font-size:0.9em;margin:0.5em 0">'
              f'<div class="wconv-sp-controls" style="line-height:2.2">{controls}</div>'
              f'<canvas class="wconv-sp-samples" width="336" height="300" '
              f'aria-label="where DIRECT-L samples"></canvas>'
              f'<canvas class="wconv-sp-best" width="336" height="300" '
              f'aria-label="best value so far against evaluations"></canvas>'
              f'<p class="wconv-sp-result" style="margin:0.3em 0"></p>'
              f'<p class="wconv-sp-about" style="margin:0.3em 0;color:#555"></p></div>')
    return (markup + scripts.define_html("direct_l", "wconvDirectL")
            + scripts.mount_html("search_panel", "wconvSearchPanel",
                                 {"id": uid, "landscapes": lands}))


def replay_panel(lands: list[dict] | None = None, **kwargs):
    """The panel for a notebook cell (``IPython.display.HTML`` of :func:`panel_html`)."""
    from IPython.display import HTML

    return HTML(panel_html(landscapes() if lands is None else lands, **kwargs))


def describe(lands: list[dict]) -> str:
    """One sentence per landscape: how many stored evaluations it interpolates."""
    return " ".join(
        f"{land['task_label']}, {land['kernel_size']}×{land['kernel_size']}: "
        f"{land['n_evaluations']} stored evaluations at {land['n_points']} densities."
        for land in lands)
