"""Denoising experiments: configurations, one smoke run on real images, stored results, tables."""
from __future__ import annotations


import pytest
from conftest import require_data
import torch

from wconv import denoise as D
from wconv import results


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
    assert results.config_key(longer) != results.config_key(c)
    assert D.make_config("nafnet", "paper", 7, seed=2, budget="smoke", epochs=1) == c
    assert c["precision"] == "float32" and D.make_config(budget="full")["precision"] == "bfloat16"
    # Same seed, standard vs weighted: same initial weights.
    std = D.build(D.make_config("dncnn", "uniform", 7, 0, "smoke"))
    wtd = D.build(D.make_config("dncnn", "paper", 7, 0, "smoke"))
    assert all(torch.equal(a, b) for a, b in zip(std.parameters(), wtd.parameters()))


def test_auto_source_prefers_div2k_when_on_disk(tmp_path):
    import numpy as np
    from PIL import Image

    from wconv import denoise_data as dd

    (tmp_path / "denoise").mkdir()
    assert D.make_config(budget="smoke", root=tmp_path)["source"] == "color"
    folder = tmp_path / "DIV2K" / "DIV2K_valid_HR"
    folder.mkdir(parents=True)
    for n in dd.DIV2K["valid"].names:
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / n)
    assert D.make_config(budget="smoke", root=tmp_path)["source"] == "div2k"
    assert D.make_config(budget="full", root=tmp_path)["source"] == "div2k"   # no train archive


def test_smoke_run_is_stored_and_summarised(tmp_path):
    require_data("denoise/CBSD68", "denoise/Kodak24", "denoise/BSDS500/train", "denoise/BSDS500/test")
    configs = [D.make_config("dncnn", d, 3, s, "smoke") for s in (0, 1) for d in ("uniform", "paper")]
    recs = D.run_grid(configs, progress=False, results_dir=tmp_path, checkpoint_dir=tmp_path / "ck")
    r = recs[1]
    assert set(r["test"]) == {"CBSD68", "Kodak24"} and len(r["epochs"]) == 1
    for per_set in r["test"].values():
        for sigma in ("15", "25", "50"):
            assert len(per_set[sigma]["psnr"]) == 2 and 0 < per_set[sigma]["mean_ssim"] <= 1
        assert per_set["15"]["noisy_mean_psnr"] > per_set["50"]["noisy_mean_psnr"]
    assert r["data"]["description"].startswith(("colour", "DIV2K"))
    assert not list((tmp_path / "ck").glob("*.pt"))          # checkpoint removed when done
    stored = D.run(configs[1], results_dir=tmp_path)
    assert stored["test"] == r["test"] and stored["complete"] is True
    imgs = D.panel_images(stored)
    assert imgs["output"].shape == imgs["clean"].shape == imgs["noisy"].shape
    rows = D.summary(recs)
    paper = [x for x in rows if x["density"] == "paper" and x["test_set"] == "CBSD68" and x["sigma"] == 25]
    assert len(paper) == 1 and paper[0]["runs"] == 2 and paper[0]["pairs"] == 2
    start = D.initial_psnr(configs[0])
    assert set(start) == {"untrained", "noisy"} and all(0 < v < 60 for v in start.values())
    both = D.initial_psnr(configs[:2])
    assert both[0] == start and both[1]["noisy"] == start["noisy"]
    table = D.format_table(rows, "CBSD68", 25)
    assert table.count("\n") == 3 and "± " in table
    wide = D.format_wide(rows, "Kodak24")
    assert wide.count("\n") == 3 and "σ=50 SSIM" in wide
    one = D.format_run(r).splitlines()
    assert len(one) == 2 + 2 * 3                              # header + 2 test sets x 3 sigmas
    assert one[3].startswith("| CBSD68 (2 images) | 25 | ")
    assert f"{r['test']['CBSD68']['25']['mean_psnr']:.2f}" in one[3]
