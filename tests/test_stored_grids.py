"""The stored grids are found on every machine: no key may depend on the machine reading it."""
from pathlib import Path

import pytest
from conftest import write_fake_div2k

from wconv.experiments import classify_grid, denoise, images, precision
from wconv.experiments.search import objectives, study

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
    assert len(out["noise"]["values"]) == 3 and out["fidelity"]["n"] == 8


def test_no_stored_denoising_search_names_a_machine_dependent_source():
    """Every stored denoising search record names the data it trained on: 'auto' would mean
    DIV2K on a machine that has it and mix its evaluations into the colour-set logs."""
    files = [p for store in ("search", "search-final", "search-learnable", "search-data")
             for p in (ROOT / "results" / store).glob("denoise-*")]
    assert len(files) >= 32
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert '"source": "color"' in text and '"auto"' not in text, path.name


def test_the_search_objective_resolves_auto_to_the_machines_data(tmp_path):
    assert objectives.denoising_objective(5, budget="full", root=tmp_path).config["source"] == "color"
    write_fake_div2k(tmp_path)
    assert objectives.denoising_objective(5, budget="full", root=tmp_path).config["source"] == "div2k"
    for budget in ("smoke", "book", "study", "study-float32"):   # budgets with stored logs
        assert objectives.denoising_objective(5, budget=budget, root=tmp_path).config["source"] == "color"
