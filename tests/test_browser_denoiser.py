"""The denoiser panel in headless Chromium: ONNX Runtime Web running two models, offline.

A standalone page (its own folder, ``_static/`` laid out the way the book build lays it out:
``tools/build_book.py``'s ``copy_files`` for ONNX Runtime Web, :func:`wconv.views.denoiser_panel.stage`
for the models and the stored crops) is served on loopback. Moving the σ slider must change
the outputs; the PSNR the page shows must equal Python's (``onnxruntime``, the same seeded
noise) within 0.05 dB; the page's noise generator must equal :func:`wconv.views.denoiser_panel.normal`;
no request may leave the machine. The per-update time is printed (``-s`` shows it), not
asserted: it depends on how busy the machine is.

The models are small development DnCNNs with seeded random weights (depth 7, width 16): 3 x 3
for the timing the book's panel aims at, and 7 x 7 (the chapter's pair) for comparison.
No data is needed: the crops come from the results store.
"""
from __future__ import annotations

import json
import statistics
import time

import numpy as np
import pytest
import torch

from conftest import build_book
import browser
from test_browser_sliders import CANVAS_SUM_JS  # a digest of a canvas's pixels

from wconv.views import denoiser_panel as dp
from wconv.experiments.denoisers import DnCNN
from wconv.experiments.export import to_onnx

pytestmark = pytest.mark.usefixtures("browser_ready")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

#: The RGB pixels of a canvas, channel by channel (C, H, W order).
CANVAS_CHW_JS = """
(sel) => {
  const c = document.querySelector(sel);
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, n = c.width * c.height;
  const out = new Array(3 * n);
  for (let i = 0; i < n; i++) { for (let k = 0; k < 3; k++) { out[k * n + i] = d[4 * i + k]; } }
  return out;
}
"""


def _models(kernel_size: int):
    torch.manual_seed(0)
    standard = DnCNN(channels=3, depth=7, width=16, kernel_size=kernel_size)
    torch.manual_seed(0)
    den = [0.25, 0.15, 0.55][-(kernel_size // 2):]
    weighted = DnCNN(channels=3, depth=7, width=16, kernel_size=kernel_size, density=den)
    return standard, weighted


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The page's folder: index.html, _static/onnxruntime-web/, _static/wconv-denoiser/."""
    root = tmp_path_factory.mktemp("denoiser-site")
    models = tmp_path_factory.mktemp("denoiser-models")
    pairs, files = {}, {}
    for k in (3, 7):
        standard, weighted = _models(k)
        std = to_onnx(standard, models / f"dncnn{k}-standard.onnx")
        wtd = to_onnx(weighted, models / f"dncnn{k}-weighted.onnx")
        params = sum(p.numel() for p in standard.parameters())
        pairs[f"dev DnCNN {k}×{k}"] = ((std, {"label": f"{k}×{k} standard", "params": params}),
                                       (wtd, {"label": f"{k}×{k} weighted", "params": params}))
        files[k] = (std, wtd)
    images = dp.crops()          # from the results store: no data needed
    build_book.ensure_node_modules()
    build_book.copy_files(root / "_static", build_book.ORT_ASSETS)
    fragment = dp.panel_html(pairs, images, static_dir=root / "_static")
    (root / "index.html").write_text(
        '<!DOCTYPE html>\n<html lang="en" data-content_root="./"><head><meta charset="utf-8">'
        f'<title>denoiser panel</title></head><body>{fragment}</body></html>\n', encoding="utf-8")
    return {"root": root, "pairs": pairs, "files": files, "images": images}


@pytest.fixture(scope="module")
def panel(browser_context, site):
    """The page open in the session's Chromium, models loaded and the first update shown."""
    # one Playwright per test session: a second sync_playwright in this thread fails
    with browser.StaticServer(site["root"]) as server:
        page = browser_context.new_page()
        log = browser.PageLog().attach(page)
        t0 = time.perf_counter()
        page.goto(server.url("index.html"))
        try:
            page.wait_for_function("document.querySelector('.wconv-dn-view').dataset.state === 'ready'"
                                   " || document.querySelector('.wconv-dn-view').dataset.state === 'error'",
                                   timeout=120_000)
        except Exception:
            pytest.fail(f"panel never got ready: {_data(page)} {log}", pytrace=False)
        ready_s = time.perf_counter() - t0
        assert _data(page)["state"] == "ready", _data(page)
        yield {"page": page, "log": log, "ready_s": ready_s, **site}
        page.close()


def _data(page) -> dict:
    return page.evaluate("() => Object.assign({}, document.querySelector('.wconv-dn-view').dataset)")


def _set_sigma(page, presses: int, key: str = "ArrowRight") -> None:
    """Move the slider with the keyboard, as a reader would (one input event per step)."""
    page.focus(".wconv-dn-sigma")
    for _ in range(presses):
        page.keyboard.press(key)


def _wait_for(page, image: int, pair: int, sigma: int, timeout_ms: int = 60_000) -> dict:
    page.wait_for_function(
        "([k]) => { const d = document.querySelector('.wconv-dn-view').dataset;"
        " return d.state === 'ready' && d.key === k; }",
        arg=[json.dumps({"image": image, "pair": pair, "sigma": sigma}, separators=(",", ":"))],
        timeout=timeout_ms)
    return _data(page)


def _shown_psnr(page) -> dict:
    out = {}
    for role in ("noisy", "standard", "weighted"):
        text = page.inner_text(f".wconv-dn-psnr-{role}")
        assert text.endswith(" dB"), text
        out[role] = float(text.removesuffix(" dB"))
    return out


def _check_against_python(panel, data, image: int, pair: int, sigma: int) -> None:
    label = list(panel["images"])[image]
    clean = panel["images"][label]
    std, wtd = panel["files"][(3, 7)[pair]]
    want_std = dp.reference(std, clean, sigma, dp.noise_seed(label))
    want_wtd = dp.reference(wtd, clean, sigma, dp.noise_seed(label))
    got = json.loads(data["psnr"])
    shown = _shown_psnr(panel["page"])
    for role, want in (("noisy", want_std["noisy_psnr"]), ("standard", want_std["psnr"]),
                       ("weighted", want_wtd["psnr"])):
        assert abs(got[role] - want) <= 0.05, (role, got[role], want)
        assert abs(shown[role] - want) <= 0.05, (role, shown[role], want)


def test_noise_generator_matches_python(panel):
    page = panel["page"]
    for seed in (0, 1, 12345, 2 ** 32 - 1, dp.noise_seed("CBSD68 108005")):
        got = np.array(page.evaluate("([s, n]) => Array.from(wconvDenoiserPanel.normal(s, n))",
                                     [seed, 5001]))
        want = dp.normal(seed, 5001)
        assert got.shape == want.shape
        assert np.abs(got - want).max() <= 1e-12, seed
    # the noisy image the page feeds the models: the same float32 values as Python's
    label, clean = next(iter(panel["images"].items()))
    got = np.array(page.evaluate(
        "([s, sigma, px]) => Array.from(wconvDenoiserPanel.noisy(Uint8Array.from(px),"
        " wconvDenoiserPanel.normal(s, px.length), sigma))",
        [dp.noise_seed(label), 37, clean.flatten().tolist()]), dtype=np.float32)
    want = dp.noisy(clean, 37, dp.noise_seed(label)).ravel()
    assert np.mean(got == want) > 0.9999 and np.abs(got - want).max() <= 1e-7


def test_first_update_matches_python(panel):
    page = panel["page"]
    data = _wait_for(page, 0, 0, 25)
    _check_against_python(panel, data, 0, 0, 25)
    # the clean canvas shows the stored crop exactly (PNG decoded without colour management)
    clean = next(iter(panel["images"].values())).numpy().ravel()
    assert np.array_equal(np.array(page.evaluate(CANVAS_CHW_JS, ".wconv-dn-clean")), clean)
    print(f"\npanel ready (ONNX Runtime Web + 2 models loaded, first update) after "
          f"{panel['ready_s']:.1f} s; model load {float(data['loadMs']):.0f} ms")


def test_slider_changes_the_outputs_and_psnr_stays_python_s(panel):
    page = panel["page"]
    _wait_for(page, 0, 0, 25)
    before = {r: page.evaluate(CANVAS_SUM_JS, f".wconv-dn-{r}") for r in ("noisy", "standard", "weighted")}
    psnr_before = json.loads(_data(page)["psnr"])
    _set_sigma(page, 10)                                   # 25 -> 35, ten input events
    data = _wait_for(page, 0, 0, 35)
    assert page.inner_text(".wconv-dn-sigma-value") == "35"
    after = {r: page.evaluate(CANVAS_SUM_JS, f".wconv-dn-{r}") for r in before}
    assert all(after[r] != before[r] for r in before), (before, after)
    psnr_after = json.loads(data["psnr"])
    assert psnr_after["noisy"] < psnr_before["noisy"] - 2
    assert psnr_after["standard"] != psnr_before["standard"]
    _check_against_python(panel, data, 0, 0, 35)
    # ten key presses were debounced and coalesced into few model runs, not ten
    assert int(data["updates"]) <= 4, data["updates"]


def test_image_and_pair_selection(panel):
    page = panel["page"]
    page.select_option(".wconv-dn-image", "2")
    data = _wait_for(page, 2, 0, int(page.input_value(".wconv-dn-sigma")))
    sigma = json.loads(data["key"])["sigma"]
    _check_against_python(panel, data, 2, 0, sigma)
    page.select_option(".wconv-dn-pair", "1")
    data = _wait_for(page, 2, 1, sigma)
    assert page.inner_text(".wconv-dn-name-weighted").startswith("7×7 weighted")
    _check_against_python(panel, data, 2, 1, sigma)
    page.select_option(".wconv-dn-pair", "0")
    page.select_option(".wconv-dn-image", "0")
    _wait_for(page, 0, 0, sigma)


def test_time_per_update(panel):
    """Median time from the request to both outputs drawn, per pair (printed)."""
    page = panel["page"]
    report = []
    for pair, steps in ((0, 6), (1, 3)):
        page.select_option(".wconv-dn-pair", str(pair))
        page.select_option(".wconv-dn-image", "1")
        _set_sigma(page, 1, "Home")          # sigma 5, then 7, 9, ...: values not shown before
        data = _wait_for(page, 1, pair, dp.SIGMA_MIN)
        n = len(json.loads(data["times"]))
        for step in range(steps):
            _set_sigma(page, 2)
            data = _wait_for(page, 1, pair, dp.SIGMA_MIN + 2 * (step + 1))
        times = json.loads(data["times"])[n:]
        assert len(times) >= steps
        model_ms = json.loads(data["modelMs"])
        report.append(f"{list(panel['pairs'])[pair]}: median {statistics.median(times):.0f} ms per "
                      f"update (min {min(times):.0f}, max {max(times):.0f}, n={len(times)}); "
                      f"last run standard {model_ms[0]:.0f} ms, weighted {model_ms[1]:.0f} ms")
    print("\n" + "\n".join(report))


def test_nothing_leaves_the_machine(panel):
    log = panel["log"]
    assert not log.external, log.external
    assert not log.failed, log.failed
    assert not log.errors, log.errors
    wasm = [u for u in log.requests if u.endswith(".wasm")]
    assert wasm and all(browser.is_loopback(u) and "/_static/onnxruntime-web/" in u for u in wasm)
    models = [u for u in log.requests if u.endswith(".onnx")]
    assert models and all("/_static/wconv-denoiser/models/" in u for u in models)
    # each model file is fetched once, by the worker that runs it
    assert len(models) == len(set(models)), models


def test_chapter_5_page_runs_the_studys_trained_models(open_page):
    """The built chapter: its panel runs the stored seed-0 study models (or, while they are not
    stored, the page names the missing runs), with the PSNR Python computes, offline."""
    pairs, missing = dp.study_pairs("book")
    page, log = open_page("book/05_denoising.html")
    if not pairs:
        assert page.locator(".wconv-dn-view").count() == 0
        assert "Not in the panel yet" in page.inner_text("main")
        return
    page.wait_for_function("document.querySelector('.wconv-dn-view') &&"
                           " ['ready', 'error'].includes(document.querySelector('.wconv-dn-view').dataset.state)",
                           timeout=120_000)
    data = _wait_for(page, 0, 0, 25)
    label, clean = next(iter(dp.crops().items()))
    (std, _), (wtd, _) = next(iter(pairs.values()))
    got = json.loads(data["psnr"])
    for role, path in (("standard", std), ("weighted", wtd)):
        want = dp.reference(path, clean, 25, dp.noise_seed(label))["psnr"]
        assert abs(got[role] - want) <= 0.05, (role, got[role], want)
    assert got["standard"] > got["noisy"] + 5 and got["weighted"] > got["noisy"] + 5   # they denoise
    before = page.evaluate(CANVAS_SUM_JS, ".wconv-dn-weighted")
    _set_sigma(page, 10)
    _wait_for(page, 0, 0, 35)
    assert page.evaluate(CANVAS_SUM_JS, ".wconv-dn-weighted") != before
    assert not log.external and not log.failed and not log.errors, log
