"""The stored grids are found on every machine: no key may depend on the machine reading it."""
from pathlib import Path

import pytest
from conftest import write_fake_div2k

from wconv.experiments import classify_grid, denoise, images, precision
from wconv.experiments.search import study

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("bfloat16_native", [True, False])
def test_the_stored_book_grids_load_whatever_the_machine(monkeypatch, tmp_path, bfloat16_native):
    """Every stored run of chapter 4's and chapter 5's book grids, and chapter 6's denoising
    search logs, is found on a machine with or without native bfloat16 and with DIV2K on disk:
    none of their keys may depend on the machine that reads them."""
    monkeypatch.setattr(precision, "bfloat16_supported", lambda device=None: bfloat16_native)
    write_fake_div2k(tmp_path)
    assert images.div2k_folder("valid", tmp_path) is not None
    monkeypatch.setenv("WCONV_DATA", str(tmp_path))
    stored = {p.name for p in (ROOT / "results" / "classify").glob("*-book*.json")}
    loaded = classify_grid.stored_records("chapter4", "book")
    assert len(loaded) == len(stored) >= 25
    assert {r["config"]["precision"] for r in loaded} == {"bfloat16"}
    stored = {p.name for p in (ROOT / "results" / "denoise").glob("*-book*.json")}
    loaded = denoise.stored_records("study", "book")
    assert len(loaded) == len(stored) >= 99
    assert {(r["config"]["precision"], r["config"]["source"]) for r in loaded} == {("bfloat16", "color")}
    out = study.run("denoise", 7, train=False, log=lambda line: None)
    assert len(out["grid"].evaluations) == 27 and len(out["direct"].evaluations) == 27
