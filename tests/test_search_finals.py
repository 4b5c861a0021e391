"""wconv.experiments.search.finals: final runs stored and reloaded, their table, paired comparisons."""
import functools
import math

import pytest
from conftest import require_data

from wconv.experiments import search
from wconv.experiments import train as engine


def _denoise_data_or_skip():
    require_data("denoise/BSDS500/train", "denoise/BSDS500/test", "denoise/CBSD68", "denoise/Kodak24")


def test_final_runs_are_stored_and_reloaded(tmp_path):
    _denoise_data_or_skip()
    f = search.denoising_objective(3, budget="smoke", source="color", patches_per_epoch=8)
    runs = search.final_runs(f, {"uniform": None, "den 0.7": (0.7,)}, seeds=(0,), epochs=1,
                             results_dir=tmp_path, checkpoint_dir=tmp_path / "runs")
    assert set(runs) == {"uniform", "den 0.7"}
    first = runs["den 0.7"][0]["final"]
    assert {"test_CBSD68_psnr", "test_Kodak24_psnr"} <= set(first)
    assert len(list((tmp_path / "search-final").glob("*.json"))) == 2
    again = search.final_runs(f, {"den 0.7": [0.7]}, seeds=(0,), epochs=1, results_dir=tmp_path)
    assert again["den 0.7"][0]["final"] == first  # loaded, not retrained
    rows = search.final_table(runs)
    assert rows[0]["density"] == "uniform" and rows[0]["runs"] == 1
    assert rows[1]["test_CBSD68_psnr"].endswith("± 0.00")
    diff = search.compare_final(runs, "den 0.7", "uniform", "test_CBSD68_psnr")
    assert diff["difference"] == pytest.approx(first["test_CBSD68_psnr"]
                                               - runs["uniform"][0]["final"]["test_CBSD68_psnr"])
    assert math.isnan(diff["p"])  # one run per arm: no test
    with pytest.raises(ValueError, match="arm 'paper' is not in runs"):
        search.compare_final(runs, "paper", "uniform", "test_CBSD68_psnr")
    assert not list((tmp_path / "runs").glob("*.pt"))   # finished runs leave no checkpoint


def test_an_interrupted_final_run_resumes_from_its_last_epoch(tmp_path, monkeypatch):
    _denoise_data_or_skip()
    f = search.denoising_objective(3, budget="smoke", source="color", patches_per_epoch=8)
    arm = {"den 0.7": (0.7,)}
    whole = search.final_runs(f, arm, seeds=(0,), epochs=2, results_dir=tmp_path / "whole",
                              checkpoint_dir=tmp_path / "runs")["den 0.7"][0]

    def stop_after_first_epoch(epoch, row):
        raise KeyboardInterrupt

    fit = engine.fit
    monkeypatch.setattr(engine, "fit", functools.partial(fit, on_epoch_end=stop_after_first_epoch))
    with pytest.raises(KeyboardInterrupt):
        search.final_runs(f, arm, seeds=(0,), epochs=2, results_dir=tmp_path / "cut",
                          checkpoint_dir=tmp_path / "runs")
    assert len(list((tmp_path / "runs").glob("*.pt"))) == 1
    monkeypatch.setattr(engine, "fit", fit)
    resumed = search.final_runs(f, arm, seeds=(0,), epochs=2, results_dir=tmp_path / "cut",
                                checkpoint_dir=tmp_path / "runs")["den 0.7"][0]
    assert resumed["resumed_from"] == 1 and "resumed_from" not in whole
    assert [e["val_psnr"] for e in resumed["epochs"]] == pytest.approx(
        [e["val_psnr"] for e in whole["epochs"]], abs=1e-4)
    assert resumed["final"]["test_CBSD68_psnr"] == pytest.approx(
        whole["final"]["test_CBSD68_psnr"], abs=1e-4)
    assert not list((tmp_path / "runs").glob("*.pt"))


def _runs(scores: dict) -> dict:
    """Records shaped like final_runs' from ``{arm: {seed: score}}``."""
    return {arm: [{"config": {"den": None, "objective": {"seed": s}}, "final": {"test_psnr": v}}
                  for s, v in by_seed.items()] for arm, by_seed in scores.items()}


def test_compare_final_pairs_the_runs_by_seed():
    # seed-to-seed variation much larger than the difference: only a paired test sees it
    runs = _runs({"found": {0: 20.0, 1: 25.1, 2: 30.3}, "uniform": {2: 30.0, 0: 19.8, 1: 25.0}})
    d = search.compare_final(runs, "found", "uniform", "test_psnr")
    assert d["seeds"] == [0, 1, 2] and d["n"] == 3
    assert d["difference"] == pytest.approx(0.2) and d["std"] == pytest.approx(0.1)
    assert d["mean_a"] == pytest.approx(25.1333333) and d["mean_b"] == pytest.approx(24.9333333)
    assert d["ci_low"] < 0.2 < d["ci_high"] and d["p"] < 0.1
    assert search.final_table(runs)[1]["test_psnr"] == "24.93 ± 5.10"
    with pytest.raises(ValueError, match="different seeds"):
        search.compare_final(_runs({"a": {0: 1.0, 1: 2.0}, "b": {0: 1.0, 2: 2.0}}), "a", "b",
                             "test_psnr")
