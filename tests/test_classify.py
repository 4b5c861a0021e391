"""Chapter 4's experiments: budgets, tuned learning rates, grid order, status, migrated results."""
import importlib.util
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn

from wconv.experiments import classify, classify_analysis, classify_grid, precision, results, tuning

ROOT = Path(__file__).resolve().parent.parent


def _load_tool(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


migration = _load_tool("migrate_classify_results")


# --------------------------------------------------------------------------- budgets and configs

def test_quick_is_a_small_fixed_lr_grid_and_book_trains_the_standard_models():
    quick, book = classify.BUDGETS["quick"], classify.BUDGETS["book"]
    # the first chapter-4 grid's recipe on 30 training images per class for 5 epochs
    assert (quick.n_per_class, quick.val_per_class, quick.test_per_class, quick.epochs,
            quick.width, quick.batch_size, quick.lr, quick.schedule) == (40, 10, None, 5, 0.25, 64, 0.05, "cosine")
    assert not quick.tuned and not quick.nesterov and quick.label_smoothing == 0 and quick.precision == "float32"
    assert (book.n_per_class, book.val_per_class, book.test_per_class) == (500, 50, None)  # 450/50, all test
    assert book.width_of("resnet20") == 1.0 and book.width_of("vgg11") == 0.25
    assert book.nesterov and book.schedule == "onecycle" and book.label_smoothing == 0.1
    assert book.tuned and book.lr is None and book.lr_grid == (0.05, 0.1, 0.2, 0.4, 0.8)
    assert book.tuning_epochs < book.epochs < book.reference_epochs
    assert set(classify.BUDGETS) == {"smoke", "quick", "book", "full"}


def test_the_book_grid_names_its_arithmetic_on_every_machine(monkeypatch):
    """The stored book grid was trained in bfloat16: a machine with or without it reads it under
    the same keys, and an explicit float32 run is another run, under another key."""
    configs = []
    for supported in (True, False):
        monkeypatch.setattr(precision, "bfloat16_supported", lambda device=None, s=supported: s)
        configs.append(classify.make_config("resnet20", "paper", 3, 0, "book", role="tuning", lr=0.1))
    assert [c["precision"] for c in configs] == ["bfloat16", "bfloat16"]
    assert results.config_key(configs[0]) == results.config_key(configs[1])
    assert "--precision" not in classify.command(configs[0])   # the budget's own precision
    f32 = classify.make_config("resnet20", "paper", 3, 0, "book", role="tuning", lr=0.1,
                               precision="float32")
    assert results.config_key(f32) != results.config_key(configs[0])   # the arithmetic is in the key
    assert "--precision float32" in classify.command(f32)
    # 'auto' (the full budget's) follows the machine and is named in the command
    monkeypatch.setattr(precision, "bfloat16_supported", lambda device=None: True)
    on = classify.make_config("resnet20", "paper", 3, 0, "full", role="tuning", lr=0.1)
    monkeypatch.setattr(precision, "bfloat16_supported", lambda device=None: False)
    off = classify.make_config("resnet20", "paper", 3, 0, "full", role="tuning", lr=0.1)
    assert on["precision"] == "bfloat16" and off["precision"] == "float32"
    assert "--precision float32" in classify.command(off)
    # the fixed-lr budgets stay float32 (their stored runs were), whatever the machine
    assert classify.make_config("vgg11", "paper", 3, 0, "quick")["precision"] == "float32"
    assert classify.make_config("vgg11", "paper", 3, 0, "smoke", precision="bfloat16")["precision"] == "bfloat16"


def test_label_smoothing_is_in_the_training_loss_only():
    book = classify.make_config("resnet20", "paper", 3, 0, "book", role="tuning", lr=0.1)
    quick = classify.make_config("resnet20", "paper", 3, 0, "quick")
    out = torch.randn(8, 100, generator=torch.Generator().manual_seed(0)) * 5
    y = torch.arange(8)
    train_loss, reported = classify.loss_functions(book)
    assert train_loss(out, y).item() == pytest.approx(
        nn.functional.cross_entropy(out, y, label_smoothing=0.1).item())
    assert abs(train_loss(out, y).item() - nn.functional.cross_entropy(out, y).item()) > 0.01
    assert reported is nn.functional.cross_entropy
    assert classify.loss_functions(quick) == (nn.functional.cross_entropy, nn.functional.cross_entropy)


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(budget="quick", role="tuning"), "budget 'quick' has a fixed lr"),
    (dict(budget="book", role="tuning", lr=0.3), r"lr must be one of the budget's lr_grid \[0.05, 0.1, 0.2, 0.4, 0.8\], got 0.3"),
    (dict(budget="book", role="final", lr=0.1), "comes from its tuning runs"),
    (dict(budget="book", role="warmup"), "role must be one of final, tuning, sweep, reference"),
])
def test_bad_roles(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        classify.make_config("resnet20", "paper", 3, 0, **kwargs)


def test_learnable_arm_starts_at_the_paper_density_from_the_same_weights():
    cfg = classify.make_config("resnet20", "learnable", 5, 1, "smoke")
    learnable = classify.build(cfg)
    paper = classify.build(dict(cfg, density="paper"))
    layers = [m for m in learnable.modules() if getattr(m, "learnable_density", False)]
    assert len(layers) == 19 and cfg["density_value"] == "(0.2, 0.8)"
    for a, b in zip(layers, [m for m in paper.modules() if hasattr(m, "weighted_weight")]):
        assert torch.allclose(a.weighted_weight(), b.weighted_weight())
    assert any(n.endswith("log_den.0") for n, _ in learnable.named_parameters())


# --------------------------------------------------------------------------- tuning

def test_the_tuning_choice_is_the_shared_rule_with_exact_ties(tmp_path):
    """classify chooses with wconv.experiments.tuning.choose_lr, no tie tolerance."""
    _store_tuning(tmp_path)
    for (arch, k, dens), values in TUNING_SCORES.items():
        chosen = classify.choose_lr(arch, dens, k, "book", tmp_path)["chosen"]
        assert chosen == tuning.choose_lr(classify.BUDGETS["book"].lr_grid, values, tie=0.0)


def _store(config, results_dir, val_top1, test_top1=None, epochs=None):
    """A stored record for ``config`` with made-up numbers (no training)."""
    n = epochs or config["epochs"]
    final = {"val_top1": val_top1, "test_top1": val_top1 - 1 if test_top1 is None else test_top1,
             "val_top5": 80.0, "test_top5": 79.0, "val_loss": 2.0, "test_loss": 2.1}
    record = {"epochs": [{"epoch": e + 1, "time_s": 30.0, "val_top1": val_top1 * (e + 1) / n}
                         for e in range(n)],
              "final": final, "wall_time_s": 30.0 * n, "seed": config["seed"]}
    results.save(config, record, results_dir)
    return dict(record, config=config)


TUNING_SCORES = {  # (arch, k, density) -> val top-1 per lr of the grid (0.05, 0.1, 0.2, 0.4, 0.8)
    ("resnet20", 3, "uniform"): (50.0, 52.0, 51.0, 49.0, 48.0), ("resnet20", 3, "paper"): (50.0, 51.5, 51.5, 50.0, 49.0),
    ("resnet20", 3, "reparam"): (49.0, 50.0, 53.0, 52.0, 51.0), ("resnet20", 3, "learnable"): (48.0, 47.0, 46.0, 45.0, 44.0),
    ("vgg11", 3, "uniform"): (40.0, 41.0, 42.0, 41.0, 40.0), ("vgg11", 3, "paper"): (40.0, 41.0, 42.0, 41.0, 40.0),
}


def _store_tuning(results_dir, budget="book", scores=TUNING_SCORES):
    stored = []
    for (arch, k, dens), values in scores.items():
        for lr, v in zip(classify.BUDGETS[budget].lr_grid, values):
            cfg = classify.make_config(arch, dens, k, classify.TUNING_SEED, budget, role="tuning", lr=lr)
            stored.append(_store(cfg, results_dir, v))
    return stored


def test_choose_lr_reads_the_stored_tuning_runs(tmp_path):
    with pytest.raises(classify.MissingTuningError) as missing:
        classify.choose_lr("resnet20", "paper", 3, "book", tmp_path)
    message = str(missing.value)
    assert f"python -m wconv train --grid chapter4-tuning --budget book --results-dir {tmp_path}" in message
    assert ("python -m wconv train --arch resnet20 --density paper --kernel-size 3 --seed 0 "
            "--budget book --role tuning --lr 0.05") in message
    assert len(missing.value.missing) == 5
    _store_tuning(tmp_path)
    selection = classify.choose_lr("resnet20", "paper", 3, "book", tmp_path)
    assert selection == {"grid": [0.05, 0.1, 0.2, 0.4, 0.8], "epochs": 4, "seed": 0, "metric": "val_top1",
                         "scores": [[0.05, 50.0], [0.1, 51.5], [0.2, 51.5], [0.4, 50.0], [0.8, 49.0]], "chosen": 0.1}  # a tie
    assert classify.choose_lr("resnet20", "paper", 3, "book", tmp_path) == selection  # deterministic
    final = classify.make_config("resnet20", "paper", 3, 2, "book", results_dir=tmp_path)
    assert final["lr"] == 0.1 and final["lr_selection"] == selection and final["role"] == "final"
    # one tuning run missing: the error names only that one
    results.result_path(classify.make_config("resnet20", "uniform", 3, 0, "book", role="tuning",
                                             lr=0.2), tmp_path).unlink()
    with pytest.raises(classify.MissingTuningError, match=r"lr 0.2\. Train"):
        classify.make_config("resnet20", "uniform", 3, 1, "book", results_dir=tmp_path)


# --------------------------------------------------------------------------- grids

def test_tuned_grid_order_tuning_first_then_finals_seed_by_seed():
    steps = classify_grid.plan("chapter4", "book", seeds=(0, 1, 2))
    key = lambda p: (p.arch, p.kernel_size, p.density)  # noqa: E731
    # the most important runs first: ResNet-20 3x3 uniform/paper tuning, then their finals
    assert [(p.density, p.role, p.lr) for p in steps[:10]] == [
        (d, "tuning", lr) for d in ("uniform", "paper") for lr in (0.05, 0.1, 0.2, 0.4, 0.8)]
    assert [(p.density, p.seed) for p in steps[10:16]] == [
        (d, s) for s in (0, 1, 2) for d in ("uniform", "paper")]
    assert steps[-1].role == "reference"
    order = [key(p) for p in steps if p.role == "final"]
    assert list(dict.fromkeys(order)) == [
        ("resnet20", 3, "uniform"), ("resnet20", 3, "paper"), ("resnet20", 3, "reparam"),
        ("resnet20", 3, "learnable"), ("vgg11", 3, "uniform"), ("vgg11", 3, "paper"),
        (*classify_grid.LARGE_KERNEL, "uniform"), (*classify_grid.LARGE_KERNEL, "paper"),
        (*classify_grid.LARGE_KERNEL, "gaussian"), (*classify_grid.LARGE_KERNEL, "triangular")]
    for i, p in enumerate(steps):   # every final and sweep comes after all of its tuning runs
        if p.role != "tuning":
            tunings = [j for j, q in enumerate(steps) if q.role == "tuning" and key(q) == key(p)]
            assert len(tunings) == 5 and max(tunings) < i, p
    sweep = [(p.density, p.lr) for p in steps if p.role == "sweep"]
    assert sweep == [(d, lr) for d in ("uniform", "paper") for lr in (0.2, 0.4, 0.8)]
    assert [p for p in classify_grid.plan("chapter4-tuning", "book")] == [p for p in steps if p.role == "tuning"]
    with pytest.raises(ValueError, match="budget 'quick' has a fixed lr: it has no tuning runs"):
        classify_grid.plan("chapter4-tuning", "quick")


def test_tuned_grid_finals_record_the_choice(tmp_path):
    with pytest.raises(classify.MissingTuningError, match="--grid chapter4-tuning --budget book"):
        classify_grid.grid("chapter4", "book", results_dir=tmp_path)
    big_arch, big_k = classify_grid.LARGE_KERNEL
    scores = {**TUNING_SCORES, **{(big_arch, big_k, d): (30.0, 30.0, 29.0, 28.0, 27.0)
                                  for d in ("uniform", "paper", "gaussian", "triangular")}}
    _store_tuning(tmp_path, scores=scores)
    configs = classify_grid.grid("chapter4", "book", seeds=(0, 1, 2), results_dir=tmp_path)
    finals = [c for c in configs if c["role"] in ("final", "reference")]
    for c in finals:
        expected = tuning.choose_lr((0.05, 0.1, 0.2, 0.4, 0.8), scores[(c["arch"], c["kernel_size"], c["density"])])
        assert c["lr"] == c["lr_selection"]["chosen"] == expected, c["name"]
        assert [s for _, s in c["lr_selection"]["scores"]] == list(scores[(c["arch"], c["kernel_size"], c["density"])])
    assert {c["lr"] for c in finals if c["density"] == "reparam"} == {0.2}
    assert {c["lr"] for c in finals if c["kernel_size"] == big_k} == {0.05}   # ties: smaller lr
    ref = classify.reference_config(results_dir=tmp_path)
    assert configs[-1] == ref and ref["epochs"] == 60 and ref["lr"] == 0.1 and ref["density"] == "uniform"
    # the sweep's lrs (0.2, 0.4, 0.8) miss the choice here (0.1): all six are sweep runs
    sweeps = [c for c in configs if c["role"] == "sweep"]
    assert sorted((c["density"], c["lr"]) for c in sweeps) == [
        ("paper", 0.2), ("paper", 0.4), ("paper", 0.8), ("uniform", 0.2), ("uniform", 0.4),
        ("uniform", 0.8)]
    assert all(c["epochs"] == 18 for c in sweeps)
    n_tuning = 5 * (2 + 2 + 2 + 4)
    assert len(configs) == n_tuning + 3 * 10 + 6 + 1
    assert len({results.config_key(c) for c in configs}) == len(configs)


def test_status_lists_stored_waiting_and_estimated_runs(tmp_path):
    first = classify.make_config("resnet20", "uniform", 3, 0, "book", role="tuning", lr=0.05)
    _store(first, tmp_path, 50.0)
    rows = classify_grid.status("chapter4", "book", results_dir=tmp_path)
    assert rows[0]["state"] == "stored" and rows[0]["minutes"] == pytest.approx(2.0)
    assert rows[1]["state"] == "to run" and rows[1]["minutes"] == pytest.approx(0.5 * 4.1)  # stored epoch time
    assert rows[10]["state"] == "waits for tuning" and rows[10]["name"] == "resnet20-k3-uniform-s0-book"
    assert rows[10]["minutes"] == pytest.approx(0.5 * 18.1)
    text = classify_grid.format_status(rows)
    assert "stored: 1 runs, took 2 min (0.0 h)" in text and "waits for tuning: 37 runs, estimated" in text
    assert "one sweep row per arm counts twice" in text
    proc = subprocess.run([sys.executable, "-m", "wconv", "train", "--grid", "chapter4", "--budget", "book",
                           "--status", "--results-dir", str(tmp_path)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    emulated = not precision.bfloat16_supported()
    assert proc.stdout.startswith(text + "\n") and ("only emulates it" in proc.stdout) is emulated


def test_status_says_when_this_machine_only_emulates_bfloat16(tmp_path, monkeypatch, capsys):
    from wconv.__main__ import main

    for supported in (True, False):
        monkeypatch.setattr(precision, "bfloat16_supported", lambda device=None, s=supported: s)
        for budget in ("book", "quick"):   # bfloat16, float32
            assert main(["train", "--grid", "chapter4", "--budget", budget, "--status",
                         "--results-dir", str(tmp_path)]) == 0
            noted = "this machine only emulates it, about 10x slower" in capsys.readouterr().out
            assert noted is (budget == "book" and not supported)


# --------------------------------------------------------------------------- migrated results

@pytest.mark.parametrize("budget", ["smoke"])   # the migrated quick runs were retrained
def test_every_stored_chapter4_run_loads_after_the_migration(budget):
    configs = classify_grid.grid("chapter4", budget, seeds=(0, 1, 2))
    assert len(configs) == 42
    for c in configs:
        record = results.load(c)
        assert record is not None, c["name"]
        assert record["migrated_from"]["config_format"] == 1
        assert record["command"] == classify.command(c) and f"--budget {budget}" in record["command"]


def _git(*args):
    try:
        return subprocess.run(["git", *args], capture_output=True, cwd=ROOT, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None


def _old_file(name: str) -> dict:
    proc = _git("show", f"c03a6cf:results/classify/{name}")
    assert proc is not None and proc.returncode == 0, name
    return json.loads(proc.stdout)


@pytest.mark.parametrize("budget", ["smoke"])
def test_migrated_runs_keep_their_numbers(budget):
    """Against the files as they were before the migration (commit c03a6cf), when git has it."""
    proc = _git("cat-file", "-e", "c03a6cf:results/classify")
    if proc is None or proc.returncode != 0:
        pytest.skip("the pre-migration files (commit c03a6cf) are not in this checkout's history")
    for c in classify_grid.grid("chapter4", budget, seeds=(0, 1, 2)):
        record = results.load(c)
        old = _old_file(f"{record['migrated_from']['name']}-{record['migrated_from']['key']}.json")
        assert record["final"] == old["final"] and record["epochs"] == old["epochs"]
        assert migration.migrate_config(old["config"]) == c
        assert {k: v for k, v in c.items() if k in old["config"] and k not in ("name", "budget", "format")} \
            == {k: v for k, v in old["config"].items() if k not in ("name", "budget", "format")}


def test_migration_rewrites_config_key_name_and_command(tmp_path):
    # a smoke run as format 1 stored it (commit c03a6cf)
    old_config = {"arch": "resnet20", "augment": True, "batch_size": 64, "budget": "smoke",
                  "dataset": "CIFAR-100", "density": "paper", "density_value": "(0.7,)", "epochs": 2,
                  "format": 1, "kernel_size": 3, "lr": 0.05, "momentum": 0.9, "n_per_class": 6,
                  "name": "resnet20-k3-paper-s0-smoke", "optimizer": "sgd", "schedule": "cosine",
                  "seed": 0, "task": "classify", "test_per_class": 2, "val_per_class": 2,
                  "weight_decay": 0.0005, "width": 0.125}
    final = {"test_loss": 4.63, "test_top1": 1.0, "test_top5": 5.5, "val_loss": 4.63,
             "val_top1": 1.0, "val_top5": 5.5}
    command = "python -m wconv train --arch resnet20 --density paper --kernel-size 3 --seed 0 --budget smoke"
    old_path = results.save(old_config, {"final": final, "epochs": [{"epoch": 1}], "command": command},
                            tmp_path)
    assert old_path.name == "resnet20-k3-paper-s0-smoke-ac44a0a84409133f.json"   # as stored
    done = migration.migrate(tmp_path)
    new_config = classify.make_config("resnet20", "paper", 3, 0, "smoke")
    assert done == [(old_path, results.result_path(new_config, tmp_path))] and not old_path.exists()
    record = results.load(new_config, tmp_path)
    assert record["final"] == final and record["config"]["name"] == "resnet20-k3-paper-s0-smoke"
    assert record["command"] == command
    assert record["migrated_from"] == {"config_format": 1, "key": "ac44a0a84409133f",
                                       "name": "resnet20-k3-paper-s0-smoke", "command": command}
    assert migration.migrate(tmp_path) == []   # a second run changes nothing
    with pytest.raises(ValueError, match="schedule 'constant'"):
        migration.migrate_config(dict(old_config, schedule="constant"))
    # format 1's 'book' was the former quick budget, which no budget matches any more
    with pytest.raises(ValueError, match="no format-2 name for budget 'book'"):
        migration.migrate_config(dict(old_config, budget="book", name="resnet20-k3-paper-s0-book"))


# --------------------------------------------------------------------------- end to end on CIFAR-100

#: A seconds-size budget with the book's recipe (tuned lr, one-cycle, Nesterov, smoothing, auto precision).
TINY = replace(classify.BUDGETS["smoke"], n_per_class=3, val_per_class=1, test_per_class=1,
               batch_size=50, lr=None, nesterov=True, schedule="onecycle", warmup=0.3,
               label_smoothing=0.1, precision="auto", lr_grid=(0.05, 0.2), tuning_epochs=1,
               reference_epochs=3)


@pytest.mark.requires_data("cifar-100-python")
def test_tuned_pipeline_end_to_end_on_cifar100(tmp_path, monkeypatch):
    """The first stage of the book grid, the sweep and the reference at a seconds-size budget:
    tuning runs first, finals with the chosen lr, interrupted and restarted without retraining."""
    monkeypatch.setitem(classify.BUDGETS, "tiny", TINY)
    full_plan = classify_grid.plan

    def first_stage(name, budget, seeds):
        return [p for p in full_plan(name, budget, seeds)
                if p.arch == "resnet20" and p.kernel_size == 3 and p.density in ("uniform", "paper")]

    monkeypatch.setattr(classify_grid, "plan", first_stage)
    kw = dict(results_dir=tmp_path / "results", checkpoint_dir=tmp_path / "ck", progress=False)
    trained = []

    class Stop(Exception):
        pass

    def stop_after_five(i, n, config, record, was_trained):
        trained.append((config["name"], was_trained))
        if len(trained) == 5:
            raise Stop

    with pytest.raises(Stop):
        classify_grid.run_plan("chapter4", "tiny", (0, 1), report=stop_after_five, **kw)
    assert [t for _, t in trained] == [True] * 5
    trained.clear()
    records = classify_grid.run_plan("chapter4", "tiny", (0, 1),
                                report=lambda i, n, c, r, t: trained.append((c["name"], t)), **kw)
    assert [t for _, t in trained] == [False] * 5 + [True] * (len(trained) - 5)
    roles = [r["config"]["role"] for r in records]
    # 2 arms x 2 lrs tuning, 2 arms x 2 seeds finals, the sweep minus the two chosen lrs, reference
    assert roles == ["tuning"] * 4 + ["final"] * 4 + ["sweep"] * 2 + ["reference"]
    for r in records:
        c = r["config"]
        assert c["precision"] == precision.default_precision() and c["label_smoothing"] == 0.1
        assert len(r["epochs"]) == {"tuning": 1, "reference": 3}.get(c["role"], 2)
        assert 0 <= r["final"]["test_top1"] <= 100 and r["data"]["test_size"] == 100
        if c["role"] in ("final", "reference"):
            selection = classify.choose_lr("resnet20", c["density"], 3, "tiny", kw["results_dir"])
            assert c["lr_selection"] == selection and c["lr"] == selection["chosen"]
    assert not list((tmp_path / "ck").glob("*.pt"))
    stored = classify_grid.stored_records("chapter4", "tiny", (0, 1), kw["results_dir"])
    assert [r["config"]["name"] for r in stored] == [r["config"]["name"] for r in records]
    assert len(classify_analysis.tuning_table(stored)) == 2
    assert len(classify_analysis.ranking_agreement(stored)) == 2
    assert [r["n"] for r in classify_analysis.paired(stored)] == [2]


@pytest.mark.requires_data("cifar-100-python")
def test_learnable_run_records_its_learned_densities(tmp_path, monkeypatch):
    monkeypatch.setitem(classify.BUDGETS, "tiny", TINY)
    config = classify.make_config("resnet20", "learnable", 3, 0, "tiny", role="tuning", lr=0.2)
    record = classify.run(config, results_dir=tmp_path, checkpoint_dir=tmp_path, progress=False)
    assert len(record["learned_den"]) == 19 and all(len(axes) == 2 for axes in record["learned_den"])
    values = [v for layer in record["learned_den"] for axis in layer for v in axis]
    assert all(v > 0 for v in values) and any(abs(v - 0.7) > 1e-6 for v in values)   # it moved
    assert results.load(config, tmp_path)["learned_den"] == record["learned_den"]


def test_cli_names_the_tuning_command_when_a_final_has_no_tuning_runs(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "wconv", "train", "--arch", "resnet20", "--density",
                           "paper", "--budget", "book", "--results-dir", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert f"python -m wconv train --grid chapter4-tuning --budget book --results-dir {tmp_path}" in proc.stderr
