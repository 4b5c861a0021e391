"""The results store: keys, atomic files, truncated and mismatched files never used."""
import json

import pytest

from wconv.experiments import classify, classify_grid, results

CONFIG = {"task": "demo", "name": "vgg11-k3", "lr": 0.05, "epochs": 2, "seed": 0}
RECORD = {"final": {"val_top1": 12.5}, "epochs": [{"epoch": 1}, {"epoch": 2}]}


def test_key_is_canonical_and_sensitive():
    shuffled = dict(reversed(list(CONFIG.items())))
    assert results.config_key(shuffled) == results.config_key(CONFIG)
    assert results.config_key(dict(CONFIG, lr=0.050001)) != results.config_key(CONFIG)
    path = results.result_path(CONFIG, "/r")
    assert str(path) == f"/r/demo/vgg11-k3-{results.config_key(CONFIG)}.json"
    # checkpoints keep the run's name as it is (existing ones must still be found)
    named = dict(CONFIG, name="k7-papers' density-s1")
    assert str(results.checkpoint_path(named, "/runs")) == (
        f"/runs/k7-papers' density-s1-{results.config_key(named)}.pt")


def test_save_then_load(tmp_path):
    path = results.save(CONFIG, RECORD, tmp_path)
    assert path.exists() and not list(path.parent.glob(".*tmp"))
    record = results.load(CONFIG, tmp_path)
    assert record["final"] == RECORD["final"] and record["config"] == CONFIG
    assert record["complete"] is True and record["key"] == results.config_key(CONFIG)
    for key in ("torch", "python", "threads", "device", "wconv"):
        assert key in record["environment"]
    assert results.load(dict(CONFIG, seed=1), tmp_path) is None  # never stored


def test_truncated_file_is_never_used(tmp_path):
    path = results.save(CONFIG, RECORD, tmp_path)
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.warns(UserWarning, match="unreadable result"):
        assert results.load(CONFIG, tmp_path) is None


def test_mismatched_configuration_is_never_used(tmp_path):
    path = results.save(CONFIG, RECORD, tmp_path)
    stored = json.loads(path.read_text())
    stored["config"]["lr"] = 0.1           # a file whose configuration is another run's
    path.write_text(json.dumps(stored))
    with pytest.warns(UserWarning, match="configuration does not match"):
        assert results.load(CONFIG, tmp_path) is None
    stored = json.loads(results.save(CONFIG, RECORD, tmp_path).read_text())
    stored["complete"] = False
    path.write_text(json.dumps(stored))
    with pytest.warns(UserWarning, match="incomplete"):
        assert results.load(CONFIG, tmp_path) is None


def test_bad_configs():
    with pytest.raises(ValueError, match="must have a 'task' entry"):
        results.result_path({"lr": 1})
    with pytest.raises(ValueError, match="only JSON values"):
        results.config_key({"task": "x", "lr": float("nan")})
    with pytest.raises(TypeError, match="config must be a dict, got list"):
        results.config_key([1])


def test_classification_configs_and_commands():
    cfg = classify.make_config("resnet20", "gaussian", 5, seed=2, budget="smoke")
    assert cfg["epochs"] == classify.BUDGETS["smoke"].epochs and cfg["task"] == "classify"
    assert cfg["density_value"] == "Gaussian(sigma=1)"
    assert classify.command(cfg) == ("python -m wconv train --arch resnet20 --density gaussian "
                                     "--kernel-size 5 --seed 2 --budget smoke")
    assert results.config_key(cfg) != results.config_key(dict(cfg, seed=3))
    configs = classify_grid.grid("chapter4", "smoke", seeds=(0, 1, 2))
    assert len(configs) == 3 * (2 * 5 + 4) and len({results.config_key(c) for c in configs}) == 42


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(budget="huge"), "budget must be one of smoke, quick, book, full; got 'huge'"),
    (dict(density="cauchy"), "density must be one of uniform, paper, gaussian, triangular, reparam, "
                             "learnable; got 'cauchy'"),
    (dict(arch="lenet"), "arch must be one of vgg11, vgg16, resnet20, resnet18; got 'lenet'"),
    (dict(kernel_size=9), "kernel_size must be one of 3, 5, 7; got 9"),
    (dict(seed=-1), "seed must be a non-negative integer, got -1"),
])
def test_bad_names(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        classify.make_config(**kwargs)


@pytest.mark.requires_data("cifar-100-python")
def test_run_stores_and_reloads_and_redoes_broken_files(tmp_path):
    cfg = classify.make_config("vgg11", "paper", 3, seed=0, budget="smoke")
    first = classify.run(cfg, results_dir=tmp_path, checkpoint_dir=tmp_path / "ck", progress=False)
    path = results.result_path(cfg, tmp_path)
    assert path.exists() and not list((tmp_path / "ck").glob("*.pt"))
    stored = json.loads(path.read_text())
    assert stored["data"]["n_per_class"] == 6 and stored["data"]["seed"] == 0
    assert len(stored["epochs"]) == cfg["epochs"] and stored["command"] == classify.command(cfg)
    assert stored["wall_time_s"] > 0 and stored["environment"]["threads"] >= 1
    again = classify.run(cfg, results_dir=tmp_path, progress=False)
    assert again["created"] == stored["created"]  # loaded, not retrained
    path.write_text(path.read_text()[:100])  # truncated: redone, same numbers (deterministic)
    with pytest.warns(UserWarning, match="unreadable"):
        redone = classify.run(cfg, results_dir=tmp_path, checkpoint_dir=tmp_path / "ck",
                              progress=False)
    assert redone["final"] == first["final"]


def test_resumed_wall_time_migration_counts_the_earlier_processes(tmp_path):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "tools" / "migrate_resumed_wall_time.py"
    spec = importlib.util.spec_from_file_location("migrate_resumed_wall_time", path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    epochs = [{"epoch": e, "time_s": 100.0 + e} for e in (1, 2, 3)]
    resumed = dict(task="classify", name="resumed", seed=0)
    whole = dict(task="denoise", name="whole", seed=0)
    results.save(resumed, {"epochs": epochs, "resumed_from_epoch": 2, "wall_time_s": 110.0}, tmp_path)
    results.save(whole, {"epochs": epochs, "resumed_from_epoch": 0, "wall_time_s": 320.0}, tmp_path)
    assert tool.migrate(tmp_path, write=False) == [(results.result_path(resumed, tmp_path).name, 110.0, 313.0)]
    assert results.load(resumed, tmp_path)["wall_time_s"] == 110.0          # --check writes nothing
    tool.migrate(tmp_path)
    record = results.load(resumed, tmp_path)
    assert (record["wall_time_s"], record["segment_wall_time_s"]) == (313.0, 110.0)
    assert record["epochs"] == epochs and results.load(whole, tmp_path)["wall_time_s"] == 320.0
    assert tool.migrate(tmp_path) == []                                     # twice changes nothing
