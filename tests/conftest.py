"""Shared fixtures: the book built once per session, a loopback server and Chromium, data.

Book
    ``book_build`` builds the book once per test session, strictly, in the smoke profile
    (``tools/build_book.py --profile smoke --output <pytest tmp>/book``, so that sessions run
    side by side do not share an output folder: every notebook executed
    top to bottom by myst-nb's nbclient, cwd ``book/``). ``tests/test_notebooks.py`` reads the
    per-notebook execution report of that build, ``tests/test_book.py`` its exit code and
    HTML, and the browser tests serve its HTML. Set ``WCONV_BOOK_HTML=_build/html`` to test an
    existing build (e.g. the book-profile one of ``make book``) instead of building.

Browser
    ``book_server`` serves the HTML on 127.0.0.1; ``browser_context`` is a headless Chromium
    (fresh user-data-dir, non-loopback requests aborted); ``open_page(path)`` opens a page
    and returns ``(page, log)`` with every request recorded (see ``tests/browser.py``).
    Without Chromium these skip, unless ``WCONV_REQUIRE_BROWSER=1`` (then they fail).

Data
    Mark a test ``@pytest.mark.requires_data("cifar-100-python")`` (paths relative to
    ``wconv.settings.data_root()``), or use the ``data_root`` fixture: missing data skips the
    test, unless ``WCONV_REQUIRE_DATA=1`` (then it fails).
"""
from __future__ import annotations

import importlib.util
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import browser  # tests/browser.py (pytest puts tests/ on the import path)

ROOT = Path(__file__).resolve().parent.parent


def _load_build_book():
    spec = importlib.util.spec_from_file_location("build_book", ROOT / "tools" / "build_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_book = _load_build_book()  # tools/build_book.py: the same code `make book` runs

SCREENSHOTS = ROOT / "_build" / "screenshots"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "requires_data(*paths): needs these files/folders under the data root; "
        "skipped when missing unless WCONV_REQUIRE_DATA=1")


# --------------------------------------------------------------------------------------- data

#: How a skipped test tells the reader to get its data.
DATA_HINT = "fetch it with `make data`, or set WCONV_DATA to a folder that holds it"


def _missing_data(paths) -> list[Path]:
    from wconv.settings import data_root

    root = data_root()
    wanted = [root / p for p in paths] or [root]
    return [p for p in wanted if not p.exists() or (p.is_dir() and not any(p.iterdir()))]


def _skip_or_fail(reason: str, env: str) -> None:
    if os.environ.get(env, "") == "1":
        pytest.fail(f"{reason} ({env}=1)", pytrace=False)
    pytest.skip(reason)


def write_fake_div2k(root: Path) -> None:
    """A DIV2K validation folder of blank 8x8 images under ``root``: enough for
    ``images.div2k_folder`` to find DIV2K, as ``source='auto'`` looks for it."""
    import numpy as np
    from PIL import Image

    from wconv.experiments import images

    folder = root / "DIV2K" / "DIV2K_valid_HR"
    folder.mkdir(parents=True)
    for name in images.DIV2K["valid"].names:
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / name)


def require_data(*paths) -> Path:
    """Skip the calling test (fail it under WCONV_REQUIRE_DATA=1) unless these data paths exist.

    Paths are relative to ``wconv.settings.data_root()``, which is returned.
    """
    from wconv.settings import data_root

    missing = _missing_data(paths)
    if missing:
        _skip_or_fail(f"data missing: {', '.join(map(str, missing))} ({DATA_HINT})",
                      "WCONV_REQUIRE_DATA")
    return data_root()


def pytest_runtest_setup(item):
    for mark in item.iter_markers("requires_data"):
        require_data(*mark.args)


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The data root, when it exists and is not empty."""
    from wconv.settings import data_root as root

    if _missing_data(()):
        _skip_or_fail(f"data root {root()} missing or empty ({DATA_HINT})", "WCONV_REQUIRE_DATA")
    return root()


# --------------------------------------------------------------------------------------- book

@dataclass
class BookBuild:
    html: Path                 # the HTML folder
    returncode: int | None     # None when an existing build was reused (WCONV_BOOK_HTML)
    log: Path | None           # the build's output
    seconds: float | None
    report: dict               # docname -> execution record, from book/_ext/wconv_book.py

    def log_tail(self, lines: int = 60) -> str:
        if self.log is None or not self.log.is_file():
            return "(no build log)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _read_report(html: Path) -> dict:
    path = html.parent / "exec_report.json"
    return json.loads(path.read_text()) if path.is_file() else {}


@pytest.fixture(scope="session")
def book_build(tmp_path_factory) -> BookBuild:
    """The book, built once per session (strict, smoke profile) -- or WCONV_BOOK_HTML."""
    existing = os.environ.get("WCONV_BOOK_HTML")
    if existing:
        html = (ROOT / existing).resolve()
        if not (html / "index.html").is_file():
            pytest.fail(f"WCONV_BOOK_HTML={existing}: no index.html there", pytrace=False)
        return BookBuild(html, None, None, None, _read_report(html))
    out = tmp_path_factory.mktemp("book")
    log = out / "build.log"
    start = time.perf_counter()
    # The toc's completeness is test_book.py's own test; here a page missing from the toc
    # should not stop the other pages from being built and checked.
    proc = build_book.build("smoke", out, log=log, check_toc=False)
    seconds = time.perf_counter() - start
    html = build_book.html_dir(out)
    return BookBuild(html, proc.returncode, log, seconds, _read_report(html))


# ------------------------------------------------------------------------------------ browser

@pytest.fixture(scope="session")
def browser_ready() -> None:
    reason = browser.browser_missing()
    if reason:
        _skip_or_fail(reason, "WCONV_REQUIRE_BROWSER")


@pytest.fixture(scope="session")
def book_server(book_build, browser_ready):
    """The book's HTML served on 127.0.0.1 (a thread running http.server)."""
    if not (book_build.html / "index.html").is_file():
        pytest.fail(f"the book build produced no HTML:\n{book_build.log_tail()}", pytrace=False)
    with browser.StaticServer(book_build.html) as server:
        yield server


@pytest.fixture(scope="session")
def browser_context(browser_ready):
    """Headless Chromium, fresh user-data-dir, non-loopback requests aborted."""
    with browser.chromium_context() as context:
        yield context


@pytest.fixture
def open_page(book_server, browser_context):
    """``open_page("book/intro.html") -> (page, log)``; pages are closed after the test."""
    pages = []

    def _open(path: str, wait_until: str = "load"):
        page = browser_context.new_page()
        pages.append(page)
        log = browser.PageLog().attach(page)
        page.goto(book_server.url(path), wait_until=wait_until)
        return page, log

    yield _open
    for page in pages:
        page.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


# ------------------------------------------------------------------------------------ the toc

def toc_docnames() -> list[str]:
    """Every page named in _toc.yml (root first), as docnames like ``book/intro``."""
    return build_book.toc_docnames(ROOT)


#: Pages Sphinx writes besides the documents.
EXTRA_PAGES = ("index.html", "genindex.html", "search.html")


def book_pages() -> list[str]:
    """Every HTML page the book should have, relative to the HTML folder."""
    return [*EXTRA_PAGES, *(f"{name}.html" for name in toc_docnames())]


# ------------------------------------------------------------------------- data downloads

@pytest.fixture
def file_server():
    """A loopback HTTP server (127.0.0.1) for the data-fetching tests: serves bytes by path,
    honours Range, can drop a connection mid-file; see ``tests/dataserver.py``."""
    from dataserver import FileServer

    with FileServer() as server:
        yield server
