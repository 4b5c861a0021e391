"""wconv.experiments.search.objectives: budgets, deterministic objectives on the tasks' data, the
learnable-density baseline, argument checks."""
import json
import math

import pytest
from conftest import require_data
from toy_objectives import quadratic

from wconv.experiments import results, search


def _denoise_data_or_skip():
    require_data("denoise/BSDS500/train", "denoise/BSDS500/test", "denoise/CBSD68", "denoise/Kodak24")


def test_denoising_objective_is_a_deterministic_function_of_den(tmp_path):
    _denoise_data_or_skip()
    f = search.denoising_objective(3, budget="smoke", source="color", patches_per_epoch=8)
    assert f.name == "denoise-dncnn--psnr" and f.config["kernel_size"] == 3
    a, b, c = f((0.7,)), f((0.7,)), f((1.3,))
    assert a == b  # same W0, same patches and noise: the same score
    assert a != c and all(math.isfinite(v) for v in (a, c))
    assert 5 < -a < 60  # minus a PSNR in dB
    # a search over it logs, and resumes without training again
    log = tmp_path / "denoise.jsonl"
    first = search.direct_search(f, 3, max_evals=2, log=log)
    assert [e.den for e in first.evaluations] == [(1.0,), pytest.approx((2 / 3,))]
    trained = len(f.history)
    again = search.direct_search(f, 3, max_evals=2, log=log)
    assert len(f.history) == trained and again.values() == first.values()
    with pytest.raises(ValueError, match="objective_config"):
        search.direct_search(search.denoising_objective(3, budget="smoke", source="color", seed=1),
                             3, max_evals=2, log=log)


def test_learnable_density_baseline(tmp_path):
    _denoise_data_or_skip()
    f = search.denoising_objective(5, budget="smoke", source="color", patches_per_epoch=8)
    learned = search.learnable_density_search(f, results_dir=tmp_path)
    assert learned.init == (0.525, 0.525)  # centre of the 5x5 paper range [0.05, 1]
    assert len(learned.layers) == 3 and all(len(layer) == 2 for layer in learned.layers)
    assert learned.layers[0][0] != list(learned.init)  # it moved
    assert all(0.05 <= v <= 1.0 for v in learned.den)
    assert learned.value == f(learned.den) and learned.evaluations == 2
    assert search.summarize({"learnable": learned})[0]["evals to best"] == 2
    trained = len(f.history)
    assert search.learnable_density_search(f, results_dir=tmp_path) == learned  # stored
    assert len(f.history) == trained


def test_objective_arguments_are_checked():
    with pytest.raises(ValueError, match="score for classify must be one of loss, error"):
        search.classification_objective(3, score="psnr")
    with pytest.raises(ValueError, match="budget must be one of smoke, book, full"):
        search.denoising_objective(3, budget="huge")
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['epoch'\]"):
        search.denoising_objective(3, epoch=3)
    with pytest.raises(TypeError, match="must be a TrainingObjective"):
        search.learnable_density_search(quadratic((0.8,)))


def test_budgets_are_frozen_budget_types_looked_up_by_profile(monkeypatch):
    from dataclasses import FrozenInstanceError

    from wconv.experiments import budgets

    for task, kind in (("classify", search.ClassificationObjectiveBudget),
                       ("denoise", search.DenoisingObjectiveBudget)):
        assert list(search.BUDGETS[task]) == ["smoke", "book", "full", "study", "study-float32"]
        for b in search.BUDGETS[task].values():
            assert isinstance(b, kind) and isinstance(b, budgets.Budget)
    with pytest.raises(FrozenInstanceError):
        search.BUDGETS["denoise"]["book"].epochs = 3
    monkeypatch.setenv("WCONV_PROFILE", "smoke")
    f = search.denoising_objective(3)
    legacy = {k: v for k, v in search.BUDGETS["denoise"]["smoke"].as_dict().items()
              if k not in search.LEGACY_RECIPE}     # the recipe fields at their old values stay out
    assert f.budget == "smoke" and f.setup == legacy | {"train_sigma": [0.0, 55.0]}
    g = search.classification_objective(3, epochs=4)
    assert g.setup["epochs"] == 4 and g.config["epochs"] == 4
    with pytest.raises(ValueError, match="val_sigma must be 25"):
        search.denoising_objective(3, val_sigma=50)
    # the study objectives carry chapter 5's and chapter 4's recipes, precision resolved
    h = search.denoising_objective(7, budget="study")
    assert {k: h.setup[k] for k in ("precision", "warmup", "grad_clip", "zero_last", "epochs")} == {
        "precision": "bfloat16", "warmup": 0.05, "grad_clip": 1.0, "zero_last": True, "epochs": 10}
    # study-float32 is the same training in float32 (no precision field: the legacy value)
    h32 = search.denoising_objective(5, budget="study-float32")
    assert "precision" not in h32.setup
    assert {k: v for k, v in h32.setup.items()} == {k: v for k, v in h.setup.items() if k != "precision"}
    c = search.classification_objective(5, budget="study")
    assert c.setup["schedule"] == "onecycle" and c.setup["label_smoothing"] == 0.1
    assert c.setup["precision"] in ("float32", "bfloat16")
    c32 = search.classification_objective(3, budget="study-float32")
    assert "precision" not in c32.setup
    assert c32.setup == {k: v for k, v in c.setup.items() if k != "precision"}


def _stored_objective_configs():
    configs = []
    for path in sorted(search.LOG_DIR.glob("*.jsonl")):
        configs.append(search.read_log(path)[1]["objective_config"])
    for task in ("search-final", "search-learnable", "search-data"):
        for path in sorted((search.LOG_DIR.parent / task).glob("*.json")):
            configs.append(json.loads(path.read_text())["config"]["objective"])
    return configs


@pytest.mark.parametrize("stored", _stored_objective_configs(),
                         ids=lambda c: f"{c['task']}-{c['budget']}-k{c['kernel_size']}-s{c['seed']}")
def test_stored_objective_configs_are_rebuilt_exactly(stored):
    """The budgets give every stored search, final run and baseline its own configuration back."""
    f = search.TrainingObjective(stored["task"], stored["kernel_size"], stored["seed"],
                                 stored["budget"], stored["score"])
    assert results.canonical(f.config) == results.canonical(stored)   # JSON types too: 25, not 25.0
