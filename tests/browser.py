"""Serve a built book on loopback and drive Chromium through Playwright.

Shared by ``tests/test_browser.py`` and ``tests/test_browser_sliders.py`` through the fixtures
in ``tests/conftest.py`` (``book_server``, ``browser_context``, ``open_page``).

Every request a page makes is recorded; a request for anything but the loopback server is
aborted and recorded as leaving the machine, a failed request or an HTTP error status is
recorded as failed, and uncaught JavaScript exceptions are recorded too.
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
LOOPBACK = "127.0.0.1"


def browser_required() -> bool:
    """``WCONV_REQUIRE_BROWSER=1``: a missing browser fails instead of skipping."""
    return os.environ.get("WCONV_REQUIRE_BROWSER", "") == "1"


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.is_file():
        return f"Chromium not found at {CHROMIUM}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as err:  # pragma: no cover - playwright is pinned in requirements.txt
        return f"Python playwright not importable: {err}"
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


class StaticServer:
    """``http.server`` on 127.0.0.1, a free port, serving ``root`` from a daemon thread."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        handler = functools.partial(_QuietHandler, directory=str(self.root))
        self.httpd = http.server.ThreadingHTTPServer((LOOPBACK, 0), handler)
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://{LOOPBACK}:{self.port}/"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str | os.PathLike = "") -> str:
        return self.base_url + Path(path).as_posix().lstrip("/") if str(path) else self.base_url

    def __enter__(self) -> "StaticServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.scheme in ("http", "https") and parts.hostname in (LOOPBACK, "localhost")


@contextlib.contextmanager
def chromium_context():
    """A Chromium persistent context with a fresh, temporary user-data-dir.

    Requests leaving the loopback host are aborted here, before they reach the network.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw, tempfile.TemporaryDirectory(prefix="wconv-chromium-") as udd:
        context = pw.chromium.launch_persistent_context(
            udd, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900}, service_workers="block")

        def guard(route):
            if is_loopback(route.request.url):
                route.continue_()
            else:
                route.abort("blockedbyclient")

        context.route("**/*", guard)
        try:
            yield context
        finally:
            context.close()


@dataclass
class PageLog:
    """What one page did: every request, and those that failed or left the machine."""

    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def attach(self, page) -> "PageLog":
        def on_request(request):
            self.requests.append(request.url)
            if not is_loopback(request.url):
                self.external.append(request.url)

        def on_failed(request):
            if is_loopback(request.url):
                self.failed.append(f"{request.url} ({request.failure})")

        def on_response(response):
            if response.status >= 400:
                self.failed.append(f"{response.url} (HTTP {response.status})")

        page.on("request", on_request)
        page.on("requestfailed", on_failed)
        page.on("response", on_response)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        return self


#: JavaScript run in the page: waits for MathJax to finish typesetting (if loaded) and for
#: every <img> to settle, then reports what the checks need.
PAGE_REPORT_JS = r"""
async () => {
  const mj = window.MathJax;
  if (mj && mj.startup && mj.startup.promise) {
    await mj.startup.promise;
    if (mj.typesetPromise) { await mj.typesetPromise(); }
  }
  await Promise.all([...document.images].map(img => img.complete ? null :
      new Promise(done => { img.addEventListener('load', done); img.addEventListener('error', done); })));
  const math = [...document.querySelectorAll('.math')];
  const untypeset = math.filter(el => !el.querySelector('mjx-container'))
                        .map(el => el.textContent.trim().slice(0, 80));
  const body = document.body.cloneNode(true);
  body.querySelectorAll('pre, code, script, style, textarea, mjx-assistive-mml').forEach(el => el.remove());
  const text = body.textContent;
  const rawTex = ['$$', '\\(', '\\[', '\\begin{'].filter(token => text.includes(token));
  // A Markdown table that was not rendered shows up as a paragraph of pipes.
  const rawTables = [...body.querySelectorAll('p')].map(p => p.textContent.trim())
      .filter(t => t.startsWith('|') && (t.match(/\|/g) || []).length > 6).map(t => t.slice(0, 80));
  const images = [...document.images].map(img => ({
      src: img.currentSrc || img.src, ok: img.complete && img.naturalWidth > 0}));
  const views = [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')];
  const unrendered = views.filter(script => {
      const area = script.previousElementSibling;
      return !(area && area.classList.contains('widget-subarea') &&
               area.querySelector('.jupyter-widgets, [class*="widget-"]'));
  }).map(script => script.textContent.trim().slice(0, 120));
  return {
    mathCount: math.length,
    mjxCount: document.querySelectorAll('mjx-container').length,
    untypeset, rawTex, rawTables, images,
    widgetViews: views.length,
    widgetElements: document.querySelectorAll('.jupyter-widgets, [class*="widget-"]').length,
    unrendered,
  };
}
"""
