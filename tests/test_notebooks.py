"""Every notebook in book/: committed clean, and executed without error in the smoke profile.

Execution happens once per session, in the book build (conftest.py ``book_build``: myst-nb
runs each notebook top to bottom with nbclient, cwd ``book/``, ``WCONV_PROFILE=smoke``); each
test here reads that notebook's record from the build's execution report, so a cell error
fails the test named after the notebook, with the traceback.
"""
from __future__ import annotations

import json

import nbformat
import pytest

from conftest import ROOT, toc_docnames

NOTEBOOKS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "book").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_committed_without_outputs(path):
    nb = nbformat.read(ROOT / path, as_version=4)
    dirty = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert dirty == [], f"{path}: code cells {dirty} have outputs or execution counts"
    assert "widgets" not in nb.metadata, f"{path}: saved widget state in the metadata"
    # nbformat 4.5 requires cell ids; nbformat.read would add missing ones silently
    raw = json.loads((ROOT / path).read_text(encoding="utf-8"))
    no_id = [i for i, cell in enumerate(raw["cells"]) if not cell.get("id")]
    assert no_id == [], f"{path}: cells {no_id} have no id"


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_notebook_executes(book_build, path):
    docname = path.removesuffix(".ipynb")
    record = book_build.report.get(docname)
    if record is None:
        listed = docname in toc_docnames()
        why = ("the build stopped before it:\n" + book_build.log_tail(30) if listed
               else "it is not listed in _toc.yml")
        pytest.fail(f"{path} was not executed by the book build: {why}", pytrace=False)
    assert record["succeeded"], f"{path} failed:\n{record['traceback'] or record['error']}"
    print(f"{path}: executed in {record['runtime_s']:.1f} s ({record['method']})")
