"""wconv.experiments.search.measures: noise, spread, fidelity and regret of a search objective."""
import math

import pytest
from conftest import require_data

from wconv.experiments import search, stats
from wconv.experiments.search import measures


def test_rank_correlation_matches_scipy_with_an_interval_around_it():
    from scipy import stats as sp

    x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    y = [1.2, 1.9, 3.5, 3.1, 5.2, 7.7, 6.1, 9.0]
    r = stats.rank_correlation(x, y)
    assert r["rho"] == pytest.approx(sp.spearmanr(x, y).statistic) and r["n"] == 8
    assert r["ci_low"] < r["rho"] < r["ci_high"] <= 1 and r["p"] < 0.01
    wide = stats.rank_correlation(x[:4], [1.0, 3.0, 2.0, 4.0])
    assert wide["ci_high"] - wide["ci_low"] > r["ci_high"] - r["ci_low"]   # 4 points say little
    assert math.isnan(stats.rank_correlation([1, 2, 3], [1, 1, 1])["rho"])    # a constant side
    assert math.isnan(stats.rank_correlation([1, 2, 3], [1, 3, 2])["ci_low"])  # n < 4: no interval
    with pytest.raises(ValueError, match="pair up"):
        stats.rank_correlation([1, 2], [1])


def test_spread_regret_and_evals_to_within_on_a_known_function():
    f = lambda den: (den[0] - 0.8) ** 2 + (den[1] - 0.3) ** 2
    runs = {"DIRECT-L": search.direct_search(f, 5, max_evals=30),
            "grid": search.grid_search(f, 5, max_evals=25)}
    s = measures.spread(runs["grid"])
    assert s["n"] == 25 and s["range"] == pytest.approx(s["max"] - s["min"]) and s["min"] >= 0
    curves = measures.regret_curves(runs)
    best = min(r.best.value for r in runs.values())
    for method, c in curves.items():
        assert c["evals"] == list(range(1, len(runs[method].evaluations) + 1))
        assert all(a >= b >= 0 for a, b in zip(c["regret"], c["regret"][1:]))  # never rises
        assert c["regret"][-1] == pytest.approx(runs[method].best.value - best)
        assert c["seconds"] == [e.elapsed for e in runs[method].evaluations]
    n = measures.evals_to_within(runs, eps=1e-3)
    assert n["DIRECT-L"] < 30 and (n["grid"] is None or n["grid"] <= 25)
    assert measures.evals_to_within({"a": [math.nan, 2.0, 1.0]}, eps=0.0, best=1.0) == {"a": 3}
    assert measures.best_so_far([math.nan, 3.0, 4.0, 1.0]) == [math.inf, 3.0, 3.0, 1.0]
    assert measures.signal_to_noise({"range": 0.3}, {"std": math.nan}) != measures.signal_to_noise(
        {"range": 0.3}, {"std": 0.1})


def test_noise_and_fidelity_train_once_and_store_validation_only(tmp_path):
    require_data("denoise/BSDS500/train", "denoise/BSDS500/test", "denoise/CBSD68", "denoise/Kodak24")
    f = search.denoising_objective(3, budget="smoke", source="color", patches_per_epoch=8)
    n = measures.noise(f, (0.7,), seeds=(0, 1), results_dir=tmp_path)
    assert n["n"] == 2 and n["values"][0] != n["values"][1] and n["std"] > 0
    fid = measures.fidelity(f, {"a": (0.3,), "b": (0.7,), "c": (1.0,), "d": (0.5,)}, full_epochs=2,
                            results_dir=tmp_path)
    assert fid["labels"] == ["a", "b", "c", "d"] and len(fid["proxy"]) == len(fid["full"]) == 4
    assert -1 <= fid["rho"] <= 1
    stored = sorted((tmp_path / "search-final").glob("*.json"))
    assert len(stored) == 2 + 4 + 4                   # noise (2 seeds), proxy and full (4 each)
    import json
    for path in stored:
        record = json.loads(path.read_text())
        assert record["config"]["test"] is False
        assert not any(k.startswith("test_") for k in record["final"])   # the test split unread
    again = measures.noise(f, (0.7,), seeds=(0, 1), results_dir=tmp_path)
    assert again["values"] == n["values"]             # read back, not retrained


def test_study_runs_its_stages_in_order_and_resumes(tmp_path, monkeypatch):
    """The search study at the smoke budget, stored in a temporary store; a second call
    reads everything back (no training)."""
    require_data("denoise/BSDS500/train", "denoise/BSDS500/test", "denoise/CBSD68", "denoise/Kodak24")
    from wconv.experiments import results
    from wconv.experiments.search import log as search_log
    from wconv.experiments.search import study

    monkeypatch.setattr(results, "load", lambda c, root=None, _load=results.load: _load(c, root or tmp_path))
    monkeypatch.setattr(results, "save", lambda c, r, root=None, _save=results.save: _save(c, r, root or tmp_path))
    monkeypatch.setattr(search_log, "LOG_DIR", tmp_path / "search")
    monkeypatch.setattr(study, "RANDOM_SEEDS", (0, 1))
    monkeypatch.setattr(study, "FIDELITY_POINTS", 4)
    monkeypatch.setattr(study, "FINAL_SEEDS", (0, 1))
    monkeypatch.setattr(study, "grid_points", lambda k: 4)     # 4 evaluations per search
    lines = []
    out = study.run("denoise", 3, "smoke", log=lines.append)
    assert lines[0].startswith("denoise 3x3 noise at [0.7]: std") and lines[1].startswith("denoise 3x3 grid: 4 points")
    assert len(out["grid"].evaluations) == 4 and len(out["direct"].evaluations) <= 4
    assert set(out["random"]) == {0, 1} and out["fidelity"]["n"] == 4
    # the final check: DIRECT-L's best against the standard and the papers' density, on test
    assert list(out["final"]) == list(study.FINAL_ARMS) and lines[-1].startswith("denoise 3x3 final: DIRECT-L 2 seeds")
    assert [r["config"]["den"] for r in out["final"]["DIRECT-L"]] == [list(out["direct"].best.den)] * 2
    assert all(r["config"]["epochs"] == study.full_epochs("denoise") and "test_CBSD68_psnr" in r["final"]
               for records in out["final"].values() for r in records)
    grid_values = {tuple(e.den): e.value for e in out["grid"].evaluations}
    assert [grid_values[tuple(d)] for d in out["fidelity"]["dens"]] == out["fidelity"]["proxy"]
    calls = []
    monkeypatch.setattr(search.TrainingObjective, "train",
                        lambda self, *a, **k: calls.append(a) or (_ for _ in ()).throw(AssertionError))
    again = study.run("denoise", 3, "smoke", stages=("noise", "grid", "fidelity", "direct", "random"),
                      log=lambda line: None)
    assert calls == [] and again["noise"]["values"] == out["noise"]["values"]
    read = study.run("denoise", 3, "smoke", log=lambda line: None, train=False)   # what a page does
    assert calls == [] and [e.value for e in read["direct"].evaluations] == [
        e.value for e in out["direct"].evaluations]
    assert read["learnable"].den == out["learnable"].den
    assert {arm: [r["final"] for r in records] for arm, records in read["final"].items()} == {
        arm: [r["final"] for r in records] for arm, records in out["final"].items()}
    one_seed = study.run("denoise", 3, "smoke", stages=("random",), random_seeds=(1,),
                         log=lambda line: None, train=False)          # a second process's share
    assert list(one_seed["random"]) == [1] and [e.value for e in one_seed["random"][1].evaluations] == [
        e.value for e in out["random"][1].evaluations]
    with pytest.raises(ValueError, match="stages must be among"):
        study.run("denoise", 3, "smoke", stages=("nope",))
    with pytest.raises(ValueError, match="random_seeds must be among"):
        study.run("denoise", 3, "smoke", stages=("random",), random_seeds=(7,))
    # a page with nothing stored: empty results, no file written, no lock taken
    monkeypatch.setattr(search_log, "LOG_DIR", tmp_path / "empty" / "search")
    monkeypatch.setattr(results, "load", lambda c, root=None: None)
    empty = study.run("denoise", 3, "smoke", log=lambda line: None, train=False)
    assert empty["noise"]["n"] == 0 and empty["grid"].evaluations == [] and empty["learnable"] is None
    assert empty["grid"].stopped == "not stored" and empty["fidelity"]["labels"] == []
    assert empty["final"] is None    # no DIRECT-L density to check yet
    assert not (tmp_path / "empty").exists()
