"""Chapter 6's search panel on the built page, in headless Chromium, with no kernel.

Move the budget slider with the mouse, the lower bound with the keyboard, and switch the task:
each time the page must run DIRECT-L again and redraw, changing pixels outside the control that
was moved; the points sampled must lie in the box the page shows and be DIRECT-L's points on
the page's landscape; no request may leave the machine and no script may fail.
"""
from __future__ import annotations

import io
import json

import numpy as np

import browser

PAGE = "book/06_search.html"
PANEL = ".wconv-search-panel"


def _pixels(page) -> np.ndarray:
    from PIL import Image

    png = page.locator(PANEL).screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def _changed_outside(page, before: np.ndarray, after: np.ndarray, control: str) -> int:
    """Pixels of the panel that changed, not counting the moved control's own label."""
    panel = page.locator(PANEL).bounding_box()
    box = page.locator(control).bounding_box()
    changed = np.any(before != after, axis=2) if before.shape == after.shape else \
        np.ones(after.shape[:2], bool)
    x0, y0 = int(box["x"] - panel["x"]), int(box["y"] - panel["y"])
    changed[max(y0, 0):y0 + int(box["height"]) + 1, max(x0, 0):x0 + int(box["width"]) + 1] = False
    return int(changed.sum())


def _state(page) -> dict:
    return page.evaluate(f"() => {{ const el = document.querySelector('{PANEL}');"
                         " return {redraws: +el.dataset.redraws, evals: JSON.parse(el.dataset.evals),"
                         " ms: +el.dataset.ms, result: el.querySelector('.wconv-sp-result').textContent,"
                         " about: el.querySelector('.wconv-sp-about').textContent}; }")


def _wait(page, after: int) -> None:
    page.wait_for_function(f"n => +document.querySelector('{PANEL}').dataset.redraws > n",
                           arg=after, timeout=5000)


def test_search_panel_runs_direct_l_on_the_static_page(open_page, screenshot_dir):
    from wconv.views import search_replay

    page, log = open_page(PAGE)
    page.wait_for_selector(f"{PANEL}[data-redraws]", timeout=20_000)
    # let MathJax and the images settle first: a layout that still moves would misplace the clicks
    page.wait_for_load_state("networkidle")
    page.evaluate(browser.PAGE_REPORT_JS)
    page.locator(PANEL).scroll_into_view_if_needed()
    first = _state(page)
    assert first["redraws"] >= 1 and len(first["evals"]) == 30
    lands = search_replay.landscapes()
    n = sum(land["n_evaluations"] for land in lands)
    assert f"{lands[0]['n_evaluations']} stored evaluations" in first["about"]
    assert f"interpolate {n} stored evaluations" in page.inner_text("body")
    # the page's points are DIRECT-L's on the page's landscape (the first task shown first)
    again = page.evaluate("land => wconvDirectL.directL(wconvSearchPanel.interpolator(land),"
                          " land.lower, land.upper, 30).map(e => e.x)", lands[0])
    assert np.allclose(again, first["evals"], rtol=0, atol=1e-12)

    # the budget, dragged with the mouse
    before = _pixels(page)
    handle = page.locator(f"{PANEL} .wconv-sp-budget")
    box = handle.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2)
    _wait(page, first["redraws"])
    budget = _state(page)
    assert len(budget["evals"]) > 60, budget["result"]
    assert budget["evals"][:30] == first["evals"]          # DIRECT-L: a longer run extends a shorter
    changed = _changed_outside(page, before, _pixels(page), f"{PANEL} .wconv-sp-budget")
    print(f"\n{PAGE}: moving the budget slider changed {changed} px outside it; "
          f"{len(budget['evals'])} evaluations in {budget['ms']:.1f} ms")
    assert changed > 2000

    # the lower bound, with the keyboard: every sample stays inside the new box
    before = _pixels(page)
    lower = page.locator(f"{PANEL} .wconv-sp-lower")
    lower.focus()
    for _ in range(20):
        page.keyboard.press("ArrowRight")
    _wait(page, budget["redraws"])
    page.wait_for_timeout(100)
    moved = _state(page)
    lo = float(lower.input_value())
    assert lo > float(lower.get_attribute("min"))
    assert min(min(x) for x in moved["evals"]) >= lo - 1e-12
    changed = _changed_outside(page, before, _pixels(page), f"{PANEL} .wconv-sp-lower")
    print(f"{PAGE}: moving the lower bound changed {changed} px outside it")
    assert changed > 2000

    # the other task: a different landscape and dimension
    before = _pixels(page)
    task = page.locator(f"{PANEL} .wconv-sp-task")
    others = [v for v in task.evaluate("s => [...s.options].map(o => o.value)") if v != task.input_value()]
    if others:
        task.select_option(others[0])
        _wait(page, moved["redraws"])
        other = _state(page)
        assert other["evals"] != moved["evals"] and other["about"] != moved["about"]
        changed = _changed_outside(page, before, _pixels(page), f"{PANEL} .wconv-sp-task")
        print(f"{PAGE}: switching the task changed {changed} px outside the menu")
        assert changed > 2000

    page.locator(PANEL).screenshot(path=str(screenshot_dir / "06_search_panel.png"))
    assert log.external == [], log.external
    assert log.failed == [], log.failed
    assert log.errors == [], log.errors
    json.dumps(moved)  # the page's state is plain data
