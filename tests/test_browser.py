"""Every page of the built book, opened in headless Chromium from a loopback server.

Per page: no failed request, nothing requested outside 127.0.0.1 (such requests are aborted
and reported), no uncaught JavaScript error, all math typeset by MathJax (no raw TeX left), no Markdown
table left as text, all images loaded, all embedded widgets rendered; a full-page screenshot goes to
``_build/screenshots/``. The book is the smoke-profile build of the session (see conftest).
"""
from __future__ import annotations

from pathlib import Path

import pytest

import browser
from conftest import book_pages

PAGES = book_pages()


def test_every_html_page_is_checked(book_build):
    built = sorted(p.relative_to(book_build.html).as_posix()
                   for p in book_build.html.rglob("*.html")
                   if p.relative_to(book_build.html).parts[0] not in ("_static", "_sources", "reports"))
    assert sorted(PAGES) == built, "the browser test's page list differs from the build"


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_offline_and_renders(path, open_page, screenshot_dir):
    page, log = open_page(path)
    page.wait_for_load_state("networkidle")
    if page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count():
        page.wait_for_selector(".widget-subarea .jupyter-widgets", timeout=20_000)
    report = page.evaluate(browser.PAGE_REPORT_JS)
    page.wait_for_load_state("networkidle")  # fonts and anything typesetting pulled in
    shot = screenshot_dir / Path(path).with_suffix(".png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)

    assert log.external == [], f"{path} requested outside the loopback host: {log.external}"
    assert log.failed == [], f"{path} had failed requests: {log.failed}"
    assert log.errors == [], f"{path} raised JavaScript errors: {log.errors}"
    assert report["untypeset"] == [], f"{path}: math left untypeset: {report['untypeset']}"
    if report["mathCount"]:
        assert report["mjxCount"] > 0, f"{path} has math but no mjx-container"
    assert report["rawTex"] == [], f"{path}: raw TeX delimiters in the text: {report['rawTex']}"
    assert report["rawTables"] == [], f"{path}: Markdown tables left unrendered: {report['rawTables']}"
    broken = [img["src"][:120] for img in report["images"] if not img["ok"]]
    assert broken == [], f"{path}: images that did not load: {broken}"
    assert report["unrendered"] == [], f"{path}: widgets not rendered: {report['unrendered']}"
    if report["widgetViews"]:
        assert report["widgetElements"] > 0
    print(f"{path}: {len(log.requests)} requests, {report['mathCount']} math, "
          f"{len(report['images'])} images, {report['widgetViews']} widgets -> {shot}")
