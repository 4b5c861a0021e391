"""The density explorer on the built chapter-2 page, in headless Chromium, with no kernel.

Drag a ``den`` slider and the kernel-size slider with the mouse: the readout (the den values),
the mask and the filtered photograph must change, and the filtered pixels must equal Python's
``wconv.views.widgets.filter_image`` for the den the page now shows. The redraw time is printed, not
asserted (timing goals live in benchmarks).
"""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

PAGE = "book/02_densities.html"

#: Pixels of a canvas, read back from the page, as a flat list of the red channel.
CANVAS_GRAY_JS = """
(sel) => {
  const c = document.querySelector(sel);
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const out = new Array(c.width * c.height);
  for (let i = 0; i < out.length; i++) { out[i] = d[4 * i]; }
  return {w: c.width, h: c.height, px: out};
}
"""

#: A digest of a HiDPI canvas (profile or mask), to tell whether it was redrawn differently.
CANVAS_SUM_JS = """
(sel) => {
  const c = document.querySelector(sel);
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let s = 0;
  for (let i = 0; i < d.length; i++) { s = (s * 31 + d[i]) % 1000000007; }
  return s;
}
"""


def _state(page, view):
    return page.evaluate(
        "(sel) => { const el = document.querySelector(sel);"
        " return {redraws: +el.dataset.redraws, ms: +el.dataset.redrawMs,"
        " den: JSON.parse(el.dataset.den), attached: +(el.dataset.attached || 0),"
        " text: el.querySelector('.wconv-de-text').textContent}; }", view)


def _drag(page, handle, dx):
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y, steps=8)
    page.mouse.up()


def _wait_for_redraw(page, view, after: int, timeout_ms: int = 5000) -> float:
    start = time.perf_counter()
    page.wait_for_function(
        "([sel, n]) => +document.querySelector(sel).dataset.redraws > n", arg=[view, after],
        timeout=timeout_ms)
    return (time.perf_counter() - start) * 1000


def test_sliders_redraw_the_static_page(open_page, screenshot_dir):
    from wconv.experiments.images import photo
    from wconv.views.widgets import filter_image, readout_text

    page, log = open_page(PAGE)
    page.wait_for_selector(".wconv-de-view", timeout=20_000)
    view = "#" + page.get_attribute(".wconv-de-view", "id")
    uid = view[1:].removesuffix("-view")
    # html-manager renders the saved widget state after load; the view then attaches to the sliders
    page.wait_for_function(f"+document.querySelector('{view}').dataset.attached >= 4",
                           timeout=20_000)
    before = _state(page, view)
    assert before["den"] == pytest.approx([0.25, 0.15, 0.55])
    assert before["text"] == readout_text([0.25, 0.15, 0.55])
    widget_readout = page.inner_text(f".{uid}-readout")
    assert widget_readout.strip() == before["text"]
    filtered_before = page.evaluate(CANVAS_GRAY_JS, f"{view} .wconv-de-filtered")
    mask_before = page.evaluate(CANVAS_SUM_JS, f"{view} .wconv-de-mask")

    # --- drag den[0] (outermost) to the right
    handle = page.locator(f".{uid}-den0 .noUi-handle")
    t0 = time.perf_counter()
    _drag(page, handle, 60)
    latency = _wait_for_redraw(page, view, before["redraws"])
    page.wait_for_timeout(200)  # let the last drag event's redraw land
    after = _state(page, view)
    drag_ms = (time.perf_counter() - t0) * 1000
    assert after["den"][0] > 0.25 + 0.05, after
    assert after["den"][1:] == pytest.approx([0.15, 0.55])
    assert after["text"] != before["text"] and f"{after['den'][0]:.2f}" in after["text"]
    assert after["text"] == readout_text(after["den"])
    slider_readout = page.inner_text(f".{uid}-den0 .widget-readout")
    assert float(slider_readout) == pytest.approx(after["den"][0], abs=0.005)
    assert page.inner_text(f".{uid}-readout").strip() == after["text"]
    assert page.evaluate(CANVAS_SUM_JS, f"{view} .wconv-de-mask") != mask_before

    filtered = page.evaluate(CANVAS_GRAY_JS, f"{view} .wconv-de-filtered")
    assert filtered["w"] == 256 and filtered["h"] == 256
    changed = np.mean(np.array(filtered["px"]) != np.array(filtered_before["px"]))
    assert changed > 0.1, f"only {changed:.1%} of the filtered pixels changed"
    expected = np.clip(np.rint(filter_image(photo(256), after["den"])), 0, 255)
    got = np.array(filtered["px"], dtype=float).reshape(256, 256)
    assert np.abs(got - expected).max() <= 1, "canvas differs from Python's filter_image"

    # --- drag the kernel size to 3: one den value remains, the others are greyed out
    size_handle = page.locator(f".{uid}-size .noUi-handle")
    n = after["redraws"]
    _drag(page, size_handle, -400)
    _wait_for_redraw(page, view, n)
    page.wait_for_timeout(200)
    small = _state(page, view)
    assert small["den"] == [after["den"][0]] and small["text"].startswith("k = 3 ")
    assert page.locator(f".{uid}-den2.wconv-de-unused").count() == 1
    expected = np.clip(np.rint(filter_image(photo(256), small["den"])), 0, 255)
    got = np.array(page.evaluate(CANVAS_GRAY_JS, f"{view} .wconv-de-filtered")["px"],
                   dtype=float).reshape(256, 256)
    assert np.abs(got - expected).max() <= 1

    page.locator(view).screenshot(path=str(screenshot_dir / "02_densities_explorer.png"))
    assert log.errors == [], log.errors
    print(f"\ndensity explorer: {after['redraws'] - before['redraws']} redraws during a 60 px drag; "
          f"last redraw {after['ms']:.1f} ms in the page (profile + mask + 256² filter + detail), "
          f"{latency:.0f} ms from the drag start to the first redraw seen by the test, "
          f"whole drag {drag_ms:.0f} ms; k=3 redraw {small['ms']:.1f} ms; den now "
          f"{json.dumps(after['den'])}")
