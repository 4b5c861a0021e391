"""The book builds strictly, serves its own assets, and links launch/download buttons right.

The build is the session's smoke-profile build (``book_build`` in conftest.py, the same
``tools/build_book.py`` that ``make book`` runs). ``test_strict_build_fails_on_cell_error``
builds a throw-away one-page book whose notebook raises, to show the build is strict.
"""
from __future__ import annotations

import datetime
import html
import json
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, build_book

REPO_URL = "https://github.com/wconv-book/wconv"
BRANCH = "main"
NOTEBOOKS = sorted(p.relative_to(ROOT).with_suffix("").as_posix()
                   for p in (ROOT / "book").glob("*.ipynb"))


def test_book_builds_strictly(book_build):
    if book_build.returncode is None:
        pytest.skip("WCONV_BOOK_HTML: testing an existing build")
    print(f"smoke-profile book build: {book_build.seconds:.1f} s")
    assert book_build.returncode == 0, (
        f"jupyter-book build -W -n --keep-going failed (exit {book_build.returncode}); "
        f"log {book_build.log}:\n{book_build.log_tail()}")


def test_toc_lists_every_page_of_book_folder():
    assert build_book.toc_problems(ROOT) == []


def _pages(html: Path):
    for path in sorted(html.rglob("*.html")):
        if path.relative_to(html).parts[0] not in ("_static", "_sources", "reports"):
            yield path


def test_pages_load_assets_from_the_book_only(book_build):
    remote = re.compile(r'<(?:script|img|iframe|source|link)\b[^>]*?\b(?:src|href)="((?:https?:)?//[^"]+)"[^>]*>')
    offenders = {}
    for path in _pages(book_build.html):
        text = path.read_text()
        bad = [m.group(1) for m in remote.finditer(text)
               if m.group(0).startswith(("<script", "<img", "<iframe", "<source"))
               or re.search(r'rel="(?:stylesheet|preload|modulepreload|icon)"', m.group(0))]
        if bad:
            offenders[path.relative_to(book_build.html).as_posix()] = bad
        if 'class="math' in text:
            assert "_static/mathjax/tex-chtml.js" in text, f"{path.name}: MathJax not local"
        if "application/vnd.jupyter.widget-state+json" in text:
            assert "_static/require/require.js" in text and \
                "_static/jupyter-widgets/embed-amd.js" in text, f"{path.name}: widgets not local"
    assert offenders == {}, "pages load assets from the network"
    static = book_build.html / "_static"
    for name in ("mathjax/tex-chtml.js", "mathjax/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff",
                 "require/require.js", "jupyter-widgets/embed-amd.js"):
        assert (static / name).is_file(), f"_static/{name} missing"
    assert list((static / "jupyter-widgets").glob("*.woff2")), "widget fonts missing"


@pytest.mark.parametrize("docname", NOTEBOOKS)
def test_launch_and_download_buttons(book_build, docname):
    built = book_build.html / f"{docname}.html"
    if not built.is_file():
        pytest.fail(f"{docname}: no page was built (is it listed in _toc.yml?)", pytrace=False)
    page = built.read_text()
    repo_path = f"{docname}.ipynb"
    assert (ROOT / repo_path).is_file()
    links = set(re.findall(r'href="([^"]+)"', page))
    expected = {
        "binder": f"https://mybinder.org/v2/gh/wconv-book/wconv/{BRANCH}?urlpath=lab/tree/{repo_path}",
        "colab": f"https://colab.research.google.com/github/wconv-book/wconv/blob/{BRANCH}/{repo_path}",
    }
    for name, url in expected.items():
        assert url in links, f"{name} launch link missing or wrong on {docname}"
    hub = [u for u in links if "/hub/user-redirect/git-pull?" in u]
    assert hub and f"urlpath=lab/tree/wconv/{repo_path}" in hub[0] and f"branch={BRANCH}" in hub[0] \
        and "repo=https%3A//github.com/wconv-book/wconv" in hub[0], f"JupyterHub link: {hub}"
    depth = docname.count("/")
    download = "../" * depth + f"_sources/{repo_path}"
    assert download in links, f"download link {download} missing on {docname}"
    assert (book_build.html / "_sources" / repo_path).is_file()
    assert REPO_URL in links


def test_footer_year_is_the_build_year(book_build):
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = (datetime.datetime.fromtimestamp(int(epoch), tz=datetime.timezone.utc) if epoch
           else datetime.datetime.now(tz=datetime.timezone.utc))
    page = (book_build.html / "book" / "intro.html").read_text()
    years = set(re.findall(r"Copyright\s+(\d{4})", page))
    assert years == {str(now.year)}, years


def test_every_reference_is_cited_and_listed(book_build):
    bib = (ROOT / "book" / "references.bib").read_text()
    keys = re.findall(r"^@\w+\{([^,]+),", bib, flags=re.M)
    titles = [re.sub(r"[{}]", "", t) for t in re.findall(r"^\s*title\s*=\s*\{(.+)\},?$", bib, flags=re.M)]
    assert len(keys) == len(titles) and keys
    intro = (ROOT / "book" / "intro.md").read_text()
    cited = {k.strip() for group in re.findall(r"\{cite\}`([^`]+)`", intro) for k in group.split(",")}
    assert set(keys) - cited == set(), "references.bib entries not cited from intro.md"
    page = (book_build.html / "book" / "intro.html").read_text()
    assert page.count('role="doc-biblioentry"') == len(keys)
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).lower().split())
    missing = [t for t in titles if " ".join(t.lower().split()) not in text]
    assert missing == [], f"titles missing from the bibliography: {missing}"


def test_strict_build_fails_on_cell_error(tmp_path):
    """A throw-away book, one notebook whose cell raises: the strict build must fail."""
    for name in ("_config.yml",):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n"
                                       "chapters:\n  - file: book/broken\n")
    book = tmp_path / "book"
    book.mkdir()
    (book / "intro.md").write_text("# Strictness check\n\nA page.\n")
    shutil.copy(ROOT / "book" / "references.bib", book / "references.bib")
    build_book.assets()
    (book / "vendor").symlink_to(ROOT / "book" / "vendor", target_is_directory=True)
    (book / "_ext").symlink_to(ROOT / "book" / "_ext", target_is_directory=True)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Broken"),
                nbformat.v4.new_code_cell("raise RuntimeError('deliberate failure')")]
    nbformat.write(nb, book / "broken.ipynb")

    log = tmp_path / "build.log"
    proc = build_book.build("smoke", root=tmp_path, log=log)
    text = log.read_text()
    assert proc.returncode != 0, f"a cell error did not fail the strict build:\n{text[-3000:]}"
    report = json.loads((tmp_path / "_build" / "exec_report.json").read_text())
    assert report["book/broken"]["succeeded"] is False
    assert "deliberate failure" in report["book/broken"]["traceback"]
