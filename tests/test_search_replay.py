"""The stored landscapes of chapter 6's static search panel (``wconv.views.search_replay``)."""
from __future__ import annotations

import numpy as np
import pytest

from wconv.experiments.search import log as search_log
from wconv.views import search_replay


def _write_log(folder, name, bounds, points, objective="denoise-dncnn--psnr", k=5, epochs=2):
    config = {"method": name, "kernel_size": k, "bounds": bounds, "objective": objective,
              "objective_config": {"task": "denoise", "score": "-psnr", "budget": "book",
                                   "epochs": epochs}}
    path = folder / f"{objective}-{name}-k{k}-book-{epochs}.jsonl"
    with search_log.SearchLog(path, config) as out:
        for i, (den, value) in enumerate(points, 1):
            out.append(search_log.Evaluation(i, tuple(den), value, 1.0, float(i), "t"))
    return path


def test_landscape_interpolates_the_stored_values(tmp_path):
    f = lambda d: (d[0] - 0.4) ** 2 + 2 * (d[1] - 0.6) ** 2 - 20
    rng = np.random.default_rng(0)
    pts = [tuple(p) for p in rng.uniform(0.05, 1, size=(12, 2))]
    _write_log(tmp_path, "random", [[0.05, 0.05], [1.0, 1.0]], [(p, f(p)) for p in pts])
    _write_log(tmp_path, "grid", [[0.05, 0.05], [1.0, 1.0]], [(pts[0], f(pts[0])), ((0.5, 0.5), f((0.5, 0.5)))])
    # another training length is another landscape: not pooled, the larger group is shown
    _write_log(tmp_path, "direct", [[0.05, 0.05], [1.0, 1.0]], [((0.5, 0.5), 1.0)] * 1, epochs=9)
    [land] = search_replay.landscapes(tmp_path)
    assert land["task"] == "denoise" and land["kernel_size"] == 5 and land["shape"] == [61, 61]
    assert land["n_evaluations"] == 14 and land["n_points"] == 13      # pts[0] twice
    assert "interpolation of 14 stored evaluations (13 distinct densities)" in land["about"]
    grid = np.array(land["values"]).reshape(61, 61)
    assert grid[0, 0] == pytest.approx(-20 + 0.35 ** 2 + 2 * 0.55 ** 2, abs=0.1)
    assert land["min"] == pytest.approx(-20, abs=0.05)
    assert land["lower"] == [0.05, 0.05] and land["upper"] == [1.0, 1.0]


def test_one_parameter_is_piecewise_linear_and_three_are_left_out(tmp_path):
    pts = [((0.5,), 4.5), ((1.0,), 4.4), ((1.5,), 4.6)]
    _write_log(tmp_path, "grid", [[0.5], [1.5]], pts, objective="classify-vgg11-loss", k=3)
    _write_log(tmp_path, "grid", [[0.1] * 3, [1.0] * 3], [((0.5,) * 3, 1.0)] * 6, k=7)
    [land] = search_replay.landscapes(tmp_path)
    assert land["shape"] == [201] and land["kernel_size"] == 3
    v = land["values"]
    assert v[0] == pytest.approx(4.5) and v[100] == pytest.approx(4.4) and v[50] == pytest.approx(4.45)


def test_panel_html_ships_both_scripts_and_the_data():
    lands = search_replay.landscapes()      # the stored logs of the repository
    assert {(l["task"], l["kernel_size"]) for l in lands} >= {("classify", 3), ("denoise", 5)}
    html = search_replay.panel_html(lands)
    assert html.count("<script") == 2 and "window.wconvDirectL = window.wconvDirectL ||" in html
    assert "window.wconvSearchPanel.mount(config)" in html and '"n_evaluations"' in html
    assert "No stored search logs" in search_replay.panel_html([])
