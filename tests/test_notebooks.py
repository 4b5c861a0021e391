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


# ------------------------------------------------------------------------------ without data

@pytest.fixture(scope="session")
def executed_without_data(tmp_path_factory):
    """Every notebook run top to bottom (smoke profile) with an empty data root: {path: error}."""
    import os

    from nbclient import NotebookClient

    empty = tmp_path_factory.mktemp("no-data")
    saved = {k: os.environ.get(k) for k in ("WCONV_DATA", "WCONV_PROFILE", "WCONV_FETCH")}
    os.environ.update(WCONV_DATA=str(empty), WCONV_PROFILE="smoke")
    os.environ.pop("WCONV_FETCH", None)
    errors = {}
    try:
        for path in NOTEBOOKS:
            nb = nbformat.read(ROOT / path, as_version=4)
            try:
                NotebookClient(nb, timeout=1800, kernel_name="python3",
                               resources={"metadata": {"path": str(ROOT / "book")}}).execute()
                errors[path] = None
            except Exception as error:  # a cell error: report it under the notebook's name
                errors[path] = f"{type(error).__name__}: {error}"
            if any(empty.iterdir()):
                errors[path] = f"it wrote into the empty data root: {sorted(empty.iterdir())}"
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    return errors


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_notebook_executes_without_data(executed_without_data, path):
    """A reader with no data set gets the whole chapter from the stored results."""
    assert executed_without_data[path] is None, f"{path} failed without data:\n{executed_without_data[path][-3000:]}"


# ------------------------------------------------------------------------- the install cell

INSTALL_CELL = "importlib.util.find_spec(\"wconv\") is None"


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_first_cell_installs_wconv_only_where_it_is_missing(path, monkeypatch):
    import importlib.util
    import subprocess
    import sys

    monkeypatch.setattr(sys, "path", list(sys.path))   # the cell extends it
    cell = nbformat.read(ROOT / path, as_version=4).cells[0]
    assert cell.cell_type == "code" and INSTALL_CELL in cell.source, \
        f"{path}: the first cell must install wconv where it is missing (for Colab)"
    assert "remove-cell" in cell.metadata.get("tags", []), f"{path}: the install cell shows on the page"
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    exec(compile(cell.source, path, "exec"), {})
    assert calls == [], "wconv is importable here, yet the cell ran commands"
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    exec(compile(cell.source, path, "exec"), {})
    clone, install = calls
    assert clone[:2] == ["git", "clone"] and clone[-2].startswith("https://github.com/")
    assert install[1:4] == ["-m", "pip", "install"] and install[-1].startswith(clone[-1])
