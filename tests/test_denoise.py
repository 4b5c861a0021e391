"""Denoising experiments: configurations, runs on real images, tuning, plans, status."""
from __future__ import annotations

import functools
import math

import pytest
import torch
from conftest import require_data, write_fake_div2k

from wconv.experiments import denoise as D
from wconv.experiments import denoise_study as S
from wconv.experiments import results, tuning
from wconv.experiments.denoise_measures import collapsed


def test_configs_and_commands():
    c = D.make_config("nafnet", "paper", 7, seed=2, budget="smoke")
    assert c["den"] == [0.25, 0.15, 0.55] and c["model"] == D.BUDGETS["smoke"].nafnet
    assert c["test_sigmas"] == [15, 25, 50] and c["train_sigma"] == [0.0, 55.0]
    assert c["source"] in ("div2k", "color")
    assert D.make_config("dncnn", "uniform", 3, budget="smoke")["den"] is None
    assert D.make_config("dncnn", "paper", 3, budget="smoke")["den"] == [0.7]
    assert "--kernel-size 7 --seed 2 --budget smoke" in D.command(c)
    assert results.config_key(c) != results.config_key(D.make_config("nafnet", "paper", 7, 1, "smoke"))
    grid = D.grid(budget="smoke", seeds=(0, 1))
    assert len(grid) == 20 and len({results.config_key(g) for g in grid}) == 20
    for bad, match in [(dict(arch="unet"), "arch"), (dict(density="box"), "density"),
                       (dict(kernel_size=4), "kernel_size"), (dict(seed=-1), "seed"),
                       (dict(budget="huge"), "budget"), (dict(epochs=0), "epochs")]:
        with pytest.raises(ValueError, match=match):
            D.make_config(**{"budget": "smoke", **bad})
    # A longer or shorter schedule is another run, named and reproduced as such.
    longer = D.make_config("nafnet", "paper", 7, seed=2, budget="smoke", epochs=3)
    assert longer["epochs"] == 3 and longer["name"].endswith("-smoke-e3")
    assert D.command(longer).endswith("--budget smoke --epochs 3")
    # The quick (old book) and full budgets' configurations hold no new recipe field.
    for budget in ("quick", "full"):
        cfg = D.make_config("dncnn", "paper", 7, budget=budget)
        assert not {"zero_last", "warmup", "grad_clip", "batch_norm", "lr_tuning"} & set(cfg)
    ref = results.load(D.reference_config())            # the stored 17 x 64 run still loads
    assert ref is not None and ref["config"]["budget"] == "full" and not collapsed(ref)
    book = D.make_config("dncnn", "paper", 7, budget="book")
    assert book["zero_last"] and book["warmup"] > 0 and book["grad_clip"] > 0
    assert not {"lr_grid", "tune_epochs", "regime_epochs"} & set(book)
    assert results.config_key(longer) != results.config_key(c)
    assert D.make_config("nafnet", "paper", 7, seed=2, budget="smoke",
                         epochs=D.BUDGETS["smoke"].epochs) == c
    assert c["precision"] == "float32" and D.make_config(budget="full")["precision"] == "bfloat16"
    # Same seed, standard vs weighted: same initial weights.
    std = D.build(D.make_config("dncnn", "uniform", 7, 0, "smoke"))
    wtd = D.build(D.make_config("dncnn", "paper", 7, 0, "smoke"))
    assert all(torch.equal(a, b) for a, b in zip(std.parameters(), wtd.parameters()))


def test_auto_source_prefers_div2k_when_on_disk(tmp_path):
    (tmp_path / "denoise").mkdir()
    assert D.make_config(budget="smoke", root=tmp_path)["source"] == "color"
    write_fake_div2k(tmp_path)
    assert D.make_config(budget="smoke", root=tmp_path)["source"] == "div2k"
    assert D.make_config(budget="full", root=tmp_path)["source"] == "div2k"   # no train archive
    # the stored grids keep the colour sets they were trained on: the same keys with DIV2K
    for budget in ("quick", "book"):
        assert D.make_config(budget=budget, root=tmp_path)["source"] == "color"


def test_smoke_run_is_stored_and_summarised(tmp_path):
    require_data("denoise/CBSD68", "denoise/Kodak24", "denoise/BSDS500/train", "denoise/BSDS500/test")
    configs = [D.make_config("dncnn", d, 3, s, "smoke") for s in (0, 1) for d in ("uniform", "paper")]
    recs = D.run_grid(configs, progress=False, results_dir=tmp_path, checkpoint_dir=tmp_path / "ck")
    r = recs[1]
    assert set(r["test"]) == {"CBSD68", "Kodak24"} and len(r["epochs"]) == D.BUDGETS["smoke"].epochs
    for per_set in r["test"].values():
        for sigma in ("15", "25", "50"):
            assert len(per_set[sigma]["psnr"]) == 2 and 0 < per_set[sigma]["mean_ssim"] <= 1
        assert per_set["15"]["noisy_mean_psnr"] > per_set["50"]["noisy_mean_psnr"]
    assert r["data"]["description"].startswith(("colour", "DIV2K"))
    assert not list((tmp_path / "ck").glob("*.pt"))          # checkpoint removed when done
    stored = D.run(configs[1], results_dir=tmp_path)
    assert stored["test"] == r["test"] and stored["complete"] is True
    imgs = S.panel_images(stored)
    assert imgs["output"].shape == imgs["clean"].shape == imgs["noisy"].shape
    rows = S.summarize(recs)
    paper = [x for x in rows if x["density"] == "paper" and x["test_set"] == "CBSD68" and x["sigma"] == 25]
    assert len(paper) == 1 and paper[0]["runs"] == 2 and paper[0]["pairs"] == 2
    start = S.initial_psnr(configs[0])
    assert set(start) == {"untrained", "noisy"} and all(0 < v < 60 for v in start.values())
    both = S.initial_psnr(configs[:2])
    assert both[0] == start and both[1]["noisy"] == start["noisy"]


def test_lr_choice_ties_go_to_the_smaller_rate_and_missing_tuning_names_the_command(tmp_path):
    choose = functools.partial(tuning.choose_lr, tie=D.TIE_DB)           # the rule denoise uses
    assert choose([3e-4, 1e-3, 3e-3], [27.0, 28.0, 28.04]) == 1e-3      # within TIE_DB
    assert choose([3e-4, 1e-3, 3e-3], [27.0, 28.0, 28.2]) == 3e-3
    assert choose([1e-3, 3e-4], [28.0, 28.0]) == 3e-4                  # exact tie
    arm = D.Arm("dncnn", 7, "uniform", batch_norm=False)
    with pytest.raises(D.TuningMissing) as error:
        D.final_config(arm, 0, "smoke", results_dir=tmp_path)
    message = str(error.value)
    assert "2 of 2" in message and "--grid study --budget smoke" in message
    for lr in (1e-3, 3e-3):
        assert (f"python -m wconv denoise --arch dncnn --density uniform --kernel-size 7 --seed 100 "
                f"--budget smoke --epochs 1 --no-batch-norm --lr {lr:g}") in message
    tuning_runs = D.tuning_configs(arm, "smoke")
    scores = [(27.01, 27.0), (26.0, 27.5)]
    for (first, last), cfg in zip(scores, tuning_runs):
        results.save(cfg, {"epochs": [{"epoch": 1, "val_psnr": first}, {"epoch": 2, "val_psnr": last}]},
                     tmp_path)
    final = D.final_config(arm, 1, "smoke", results_dir=tmp_path)
    t = final["lr_tuning"]
    assert t["grid"] == [1e-3, 3e-3] and t["scores"] == [27.0, 27.5] and t["choice"] == 3e-3
    assert final["lr"] == 3e-3 and t["choice"] == tuning.choose_lr(t["grid"], t["scores"], t["tie_db"])
    assert D.command(final).endswith("--budget smoke --no-batch-norm --lr tuned")
    assert final["name"] == "dncnn-k7-uniform-nobn-s1-smoke" and not final["batch_norm"]
    with pytest.raises(ValueError, match="lr_tuning needs lr"):
        D.make_config("dncnn", "uniform", 7, budget="smoke", lr=1e-3, lr_tuning=t)


def test_batch_norm_option_and_zero_last_layer():
    from torch import nn

    cfg = D.make_config("dncnn", "paper", 7, 0, "smoke", batch_norm=False)
    assert cfg["batch_norm"] is False and "-nobn-" in cfg["name"]
    net = D.build(cfg)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert all(m.bias is not None for m in net.modules() if isinstance(m, nn.Conv2d))
    with_bn = D.build(D.make_config("dncnn", "paper", 7, 0, "smoke"))
    assert sum(isinstance(m, nn.BatchNorm2d) for m in with_bn.modules()) == 1     # depth 3
    x = torch.rand(2, 3, 16, 16)
    assert torch.equal(with_bn.eval()(x), x)          # zero_last: the untrained net returns its input
    legacy = D.build(D.make_config("dncnn", "paper", 7, 0, "quick")).eval()
    assert not torch.allclose(legacy(x), x)
    with pytest.raises(ValueError, match="DnCNN only"):
        D.make_config("nafnet", "paper", 7, 0, "smoke", batch_norm=False)


def _load_tool(name):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_migration_to_quick_rewrites_names_keys_and_commands_and_keeps_every_number(tmp_path):
    """Turn two committed quick runs (and a companion) back into old 'book' files, migrate:
    the tool rebuilds the committed files exactly."""
    import json

    migrate = _load_tool("migrate_quick")
    committed = {}
    for cfg in D.grid("chapter5", "quick")[:2]:
        rec = results.load(cfg)
        old_cfg = dict(cfg, budget="book", name=cfg["name"].replace("-quick", "-book"))
        old = dict(rec, config=old_cfg, key=results.config_key(old_cfg),
                   command=D.command(cfg).replace("--budget quick", "--budget book"))
        results.atomic_write(results.result_path(old_cfg, tmp_path), json.dumps(old))
        committed[results.result_path(cfg).name] = rec
        ini = results.load({"task": "denoise-initial", "name": cfg["name"], "run": cfg})
        old_ini_cfg = {"task": "denoise-initial", "name": old_cfg["name"], "run": old_cfg}
        results.atomic_write(results.result_path(old_ini_cfg, tmp_path),
                                  json.dumps(dict(ini, config=old_ini_cfg,
                                                  key=results.config_key(old_ini_cfg))))
        committed["initial/" + results.result_path(ini["config"]).name] = ini
    assert migrate.migrate(tmp_path, write=False)["runs"]
    assert len(list((tmp_path / "denoise").glob("*-book-*.json"))) == 2     # --check wrote nothing
    report = migrate.migrate(tmp_path)
    assert len(report["runs"]) == 2 and len(report["initial"]) == 2
    assert not list(tmp_path.rglob("*-book-*.json"))
    for name, rec in committed.items():
        folder = "denoise-initial" if name.startswith("initial/") else "denoise"
        new = json.loads((tmp_path / folder / name.split("/")[-1]).read_text())
        assert new == rec                                    # every number, key and command
    assert new["config"]["run"]["budget"] == "quick"
    with pytest.raises(ValueError, match="not an old"):
        migrate.new_config(dict(D.make_config("dncnn", "paper", 7, 0, "quick")))


def test_plan_order_tuning_first_then_seed_by_seed():
    items = D.plan("study", "book")
    assert len(items) == len(set(items))
    stages = [i.stage for i in items]
    assert stages.count("tune") == len(D.BUDGETS["book"].lr_grid) * 15 == 6 * 15 and stages.count("final") == 3 * 15
    assert stages.count("regime") == len(D.REGIME_ARMS) * 3 * len(D.BUDGETS["book"].regime_epochs)
    assert items[0] == D.PlanItem("tune", D.Arm("dncnn", 7, "uniform"), D.TUNE_SEED, 15, 1e-4)
    first_final = {}
    for n, item in enumerate(items):
        if item.stage != "tune":
            first_final.setdefault(item.arm, n)
    for n, item in enumerate(items):                       # every arm: tuning before any final
        if item.stage == "tune":
            assert n < first_final[item.arm]
    dncnn = [i for i in items if i.stage == "final" and i.arm in D.DNCNN_ARMS]
    assert [i.seed for i in dncnn] == sorted(i.seed for i in dncnn)          # seed by seed
    assert dncnn[0].arm == D.Arm("dncnn", 7, "uniform") and dncnn[1].arm == D.Arm("dncnn", 7, "paper")
    pos = {i: n for n, i in enumerate(items)}
    last_dncnn = max(pos[i] for i in dncnn)
    assert all(pos[i] > last_dncnn for i in items if i.arm in D.CONTROL_ARMS)
    regime = [i for i in items if i.stage == "regime"]
    assert all(pos[i] > last_dncnn for i in regime) and min(i.epochs for i in regime[:6]) == 1
    # the plateau check: the 7x7 pair for 150 epochs, seed by seed, after the controls' finals
    long = [i for i in items if i.stage == "long"]
    assert [(i.arm, i.seed, i.epochs) for i in long] == [
        (arm, seed, 150) for seed in (0, 1, 2) for arm in D.LONG_ARMS]
    last_control = max(pos[i] for i in items if i.arm in D.CONTROL_ARMS and i.stage == "final")
    assert last_control < min(pos[i] for i in long) and max(pos[i] for i in long) < min(pos[i] for i in regime)
    assert all(i.arm.arch == "nafnet" for i in items[pos[regime[-1]] + 1:])
    with pytest.raises(ValueError, match="plan must be one of"):
        D.plan("chapter5", "book")


def test_smoke_plan_on_real_data_tunes_trains_resumes_and_analyses(tmp_path, monkeypatch):
    """A smoke-size run of the machinery: tuning, a final run with the tuned lr (the
    per-position-lr control: hooks, warm-up, clipping), an interrupted run resumed from its
    checkpoint, a regime-map run, the status listing and the analysis."""
    import functools

    from wconv.__main__ import main as cli
    from wconv.views import denoising as V

    require_data("denoise/CBSD68", "denoise/Kodak24", "denoise/BSDS500/train", "denoise/BSDS500/test")
    res, ck = tmp_path / "res", tmp_path / "ck"
    arm = D.Arm("dncnn", 3, "position-lr")
    for cfg in D.tuning_configs(arm, "smoke"):
        D.run(cfg, results_dir=res, checkpoint_dir=ck, progress=False)
    final = D.final_config(arm, 0, "smoke", results_dir=res)
    whole = D.run(final, results_dir=tmp_path / "whole", checkpoint_dir=ck, progress=False)
    assert whole["config"]["lr_tuning"]["runs"][0].endswith("-lr0.001")
    assert set(whole) >= {"collapsed", "plateau", "gain_db"} and whole["resumed_from_epoch"] == 0
    assert whole["collapsed"] == collapsed(whole) and 0 <= whole["epochs"][-1]["clipped"] <= 1

    class Interrupt(Exception):
        pass

    def stop(epoch, row):
        raise Interrupt

    fit = D._train.fit
    monkeypatch.setattr(D._train, "fit", functools.partial(fit, on_epoch_end=stop))
    with pytest.raises(Interrupt):
        D.run(final, results_dir=res, checkpoint_dir=ck, progress=False)
    monkeypatch.setattr(D._train, "fit", fit)
    assert len(list(ck.glob("*.pt"))) == 1
    resumed = D.run(final, results_dir=res, checkpoint_dir=ck, progress=False)
    assert resumed["resumed_from_epoch"] == 1 and not list(ck.glob("*.pt"))
    assert resumed["wall_time_s"] == pytest.approx(resumed["segment_wall_time_s"]
                                                   + resumed["epochs"][0]["time_s"])
    assert resumed["test"] == whole["test"]                 # the same result as one whole run
    regime = D.PlanItem("regime", arm, 0, 1).config("smoke", results_dir=res)
    short = D.run(regime, results_dir=res, checkpoint_dir=ck, progress=False)
    recs = [resumed, short]
    pts = S.regime_points(recs, arm)
    assert [p["steps"] for p in pts] == [2, 4] and all(p["n"] == 1 for p in pts)
    table = S.plateau_rows(recs)
    assert len(table) == 1 and table[0]["n"] == 1 and table[0]["lr"] == final["lr"]
    assert "position-lr" in V.plateau_table(table)
    assert set(V.findings(recs)) >= {"collapse", "plateau"}
    cli(["denoise", "--grid", "controls", "--budget", "smoke", "--seeds", "0",
         "--results-dir", str(res), "--status"])


def test_a_diverged_run_is_stored_with_nulls_and_counts_as_collapsed(tmp_path, monkeypatch):
    require_data("denoise/CBSD68", "denoise/Kodak24", "denoise/BSDS500/train", "denoise/BSDS500/test")
    build = D.build

    def diverged(config, channels=3):
        model = build(config, channels)
        with torch.no_grad():
            next(model.parameters()).fill_(float("nan"))
        return model

    monkeypatch.setattr(D, "build", diverged)
    cfg = D.make_config("dncnn", "uniform", 3, 0, "smoke", lr=3e-3)
    rec = D.run(cfg, results_dir=tmp_path, checkpoint_dir=tmp_path / "ck", progress=False)
    assert rec["test"]["CBSD68"]["25"]["mean_psnr"] is None and rec["collapsed"] is True
    assert D.tuning_score(rec) is None and not rec["plateau"]["reached"]
    assert rec["gain_db"]["CBSD68"]["25"] is None
    assert tuning.choose_lr([1e-3, 3e-3], [25.0, D.tuning_score(rec)], D.TIE_DB) == 1e-3
    row = next(r for r in S.summarize([rec]) if r["sigma"] == 25)
    assert row["collapsed"] == 1 and math.isnan(row["psnr_mean"])
