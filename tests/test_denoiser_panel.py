"""The denoiser panel's Python side: seeded noise, PSNR, stored crops, staged files, live panel.

The browser side is tests/test_browser_denoiser.py; here the page's arithmetic is checked
against Python through Node.js where it is installed (the book build needs it anyway).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
import torch

from wconv.views import denoiser_panel as dp
from wconv.views import scripts
from wconv import metrics



def test_normal_is_standard_and_deterministic():
    z = dp.normal(7, 200_001)
    assert z.shape == (200_001,) and z.dtype == np.float64
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert np.array_equal(z[:1000], dp.normal(7, 1000))          # a prefix of the same stream
    assert not np.array_equal(z[:1000], dp.normal(8, 1000))
    assert dp.normal(1, 4).round(6).tolist() == [1.404339, 0.024142, 1.215755, -0.145436]
    assert dp.normal(0, 0).shape == (0,)
    for bad in (-1, 2 ** 32, 1.5, True):
        with pytest.raises(ValueError, match="seed"):
            dp.normal(bad, 3)


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js not installed")
def test_javascript_draws_the_same_numbers_and_psnr(tmp_path):
    seeds = [0, 1, 99, 2 ** 32 - 1, dp.noise_seed("Kodak24 kodim23")]
    rng = np.random.default_rng(0)
    clean = rng.integers(0, 256, (3, 20, 30), dtype=np.uint8)
    values = rng.normal(0.5, 0.4, clean.shape).astype(np.float32)
    script = f"""
const p = {scripts.node_loader("denoiser_panel")};
const clean = Uint8Array.from({json.dumps(clean.ravel().tolist())});
const values = Float32Array.from({json.dumps(values.ravel().tolist())});
const z = p.normal(5, clean.length);
process.stdout.write(JSON.stringify({{
  normal: {json.dumps(seeds)}.map(s => Array.from(p.normal(s, 3001))),
  noisy: Array.from(p.noisy(clean, z, 42)),
  psnr: p.psnr(values, clean),
}}));
"""
    out = json.loads(subprocess.run(["node", "-e", script], capture_output=True, text=True,
                                    check=True, timeout=60).stdout)
    for seed, got in zip(seeds, out["normal"]):
        assert np.abs(np.array(got) - dp.normal(seed, 3001)).max() <= 1e-12, seed
    got = np.array(out["noisy"], dtype=np.float32)
    want = dp.noisy(clean, 42, 5).ravel()
    assert np.mean(got == want) > 0.999 and np.abs(got - want).max() <= 1e-7
    assert out["psnr"] == pytest.approx(dp.psnr(values, clean), abs=1e-9)


def test_noisy_is_the_book_noise_model():
    clean = torch.full((3, 16, 16), 250, dtype=torch.uint8)
    x = dp.noisy(clean, 60, 3)
    assert x.dtype == np.float32 and x.shape == (3, 16, 16)
    assert x.max() > 1.0                                 # not clipped
    assert np.array_equal(x, dp.noisy(clean.numpy(), 60, 3))
    # one fixed field per image: sigma only scales it
    d60, d30 = x - 250 / 255, dp.noisy(clean, 30, 3) - 250 / 255
    assert np.allclose(d60, 2 * d30, atol=1e-6)
    with pytest.raises(ValueError, match="sigma"):
        dp.noisy(clean, 0, 3)
    with pytest.raises(ValueError, match="uint8"):
        dp.noisy(clean.float(), 25, 3)


def test_psnr_is_wconv_metrics_psnr_of_the_clipped_values():
    clean = torch.randint(0, 256, (3, 24, 24), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    values = dp.noisy(clean, 40, 11)
    want = float(metrics.psnr(torch.from_numpy(values).double().clamp(0, 1), clean.double() / 255))
    assert dp.psnr(values, clean) == pytest.approx(want, abs=1e-9)


def test_crops_come_from_the_store_without_data(monkeypatch, tmp_path):
    monkeypatch.setenv("WCONV_DATA", str(tmp_path / "no-data-here"))
    images = dp.crops()
    assert list(images) == ["CBSD68 108005", "CBSD68 102061", "Kodak24 kodim23"]
    for image in images.values():
        assert image.dtype == torch.uint8 and image.shape == (3, dp.CROP, dp.CROP)
    with pytest.raises(FileNotFoundError, match="not found"):
        dp.crop("CBSD68", "no-such-image.png", results_dir=tmp_path)


@pytest.mark.requires_data("denoise/CBSD68", "denoise/Kodak24")
def test_stored_crops_are_the_centre_crops_of_the_data(tmp_path):
    from wconv.experiments import images as dd
    from wconv.settings import data_root

    for (test_set, name), stored in zip(dp.IMAGES, dp.crops().values()):
        image = dd.load_image(data_root() / "denoise" / test_set / name, color=True)
        assert torch.equal(stored, dd.centre_crop(image, dp.CROP))
        assert torch.equal(dp.crop(test_set, name, results_dir=tmp_path), stored)  # measured anew


def _onnx_pair(tmp_path):
    from wconv.experiments.denoisers import DnCNN
    from wconv.experiments.export import to_onnx

    torch.manual_seed(0)
    std = to_onnx(DnCNN(3, 3, 8, 3), tmp_path / "std.onnx")
    wtd = to_onnx(DnCNN(3, 3, 8, 3, density=[0.5]), tmp_path / "w.onnx")
    return std, wtd


def test_stage_copies_models_and_crops(tmp_path):
    pytest.importorskip("onnx")
    std, wtd = _onnx_pair(tmp_path)
    images = {"CBSD68 108005": dp.crop("CBSD68", "108005.png")}
    pairs = {"dev": ((std, {"label": "3×3 standard", "params": 1234}), wtd)}
    config = dp.stage(pairs, images, tmp_path / "static")
    folder = tmp_path / "static" / dp.FOLDER
    assert config["folder"] == dp.FOLDER + "/"
    image = config["images"][0]
    assert image["seed"] == dp.noise_seed("CBSD68 108005") and image["width"] == 256
    assert re.fullmatch(r"images/CBSD68_108005-[0-9a-f]{12}\.png", image["file"])
    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(folder / image["file"])).transpose(2, 0, 1),
                          images["CBSD68 108005"].numpy())
    pair = config["pairs"][0]
    assert pair["standard"]["caption"] == "3×3 standard (1,234 parameters)"
    assert pair["weighted"]["caption"] == "weighted"
    for role, src in (("standard", std), ("weighted", wtd)):
        staged = folder / pair[role]["file"]
        assert staged.read_bytes() == src.read_bytes() and pair[role]["bytes"] == src.stat().st_size
        assert re.fullmatch(r"models/[\w-]+-[0-9a-f]{12}\.onnx", pair[role]["file"])
    mtime = (folder / pair["standard"]["file"]).stat().st_mtime_ns
    assert dp.stage(pairs, images, tmp_path / "static") == config       # idempotent
    assert (folder / pair["standard"]["file"]).stat().st_mtime_ns == mtime
    with pytest.raises(TypeError, match="standard, weighted"):
        dp.stage({"bad": (std,)}, images, tmp_path / "static")
    with pytest.raises(FileNotFoundError, match="not found"):
        dp.stage({"bad": (std, tmp_path / "missing.onnx")}, images, tmp_path / "static")
    with pytest.raises(ValueError, match="colour"):
        dp.stage(pairs, {"gray": torch.zeros(1, 8, 8, dtype=torch.uint8)}, tmp_path / "static")


def test_panel_html_and_display_object(tmp_path):
    pytest.importorskip("onnx")
    std, wtd = _onnx_pair(tmp_path)
    images = dp.crops()
    text = dp.panel_html({"dev": (std, wtd)}, images, sigma=30, size=128, static_dir=tmp_path)
    config = json.loads(re.search(r"var config = (\{.*\});", text).group(1))
    assert config["ort_folder"] == "onnxruntime-web/" and config["static_url"] is None
    assert [im["width"] for im in config["images"]] == [128, 128, 128]
    assert 'value="30"' in text and f'min="{dp.SIGMA_MIN}" max="{dp.SIGMA_MAX}"' in text
    assert "wconvDenoiserPanel.mount(config)" in text and "https://" not in text
    assert f'id="{config["id"]}"' in text
    other = dp.panel_html({"dev": (std, wtd)}, images, static_dir=tmp_path)
    assert json.loads(re.search(r"var config = (\{.*\});", other).group(1))["id"] != config["id"]
    with pytest.raises(ValueError, match="sigma"):
        dp.panel_html({"dev": (std, wtd)}, images, sigma=70, static_dir=tmp_path)
    html = dp.denoiser_panel({"dev": (std, wtd)}, images, static_dir=tmp_path)
    assert type(html).__name__ == "HTML" and "wconv-dn-view" in html.data


def test_live_panel_runs_the_pytorch_models():
    pytest.importorskip("ipywidgets")
    from wconv.experiments.denoisers import DnCNN

    torch.manual_seed(0)
    std, wtd = DnCNN(3, 3, 8, 3), DnCNN(3, 3, 8, 3, density=[0.5])
    label = "CBSD68 108005"
    clean = dp.crop("CBSD68", "108005.png")[:, :64, :64]
    box = dp.live_panel({"dev": (std, wtd)}, {label: clean}, sigma=20)
    x = dp.noisy(clean, 20, dp.noise_seed(label))
    with torch.no_grad():
        want = dp.psnr(wtd.eval()(torch.from_numpy(x)[None])[0].numpy(), clean)
    assert box.psnr["weighted"] == pytest.approx(want, abs=1e-9)
    assert box.psnr["noisy"] == pytest.approx(dp.psnr(x, clean), abs=1e-12)
    before = dict(box.psnr)
    slider = box.children[0].children[2]
    slider.value = 50
    assert box.psnr["noisy"] < before["noisy"] - 5 and box.psnr["standard"] != before["standard"]


@pytest.mark.requires_data("denoise/CBSD68", "denoise/Kodak24", "denoise/BSDS500/train")
def test_study_pairs_export_the_stored_trained_models(tmp_path):
    """Train the smoke-size study arms (tuning, then the seed-0 finals, which keep their
    weights), and the panel's pairs are those models: the ONNX output is the PyTorch output."""
    pytest.importorskip("onnxruntime")
    from wconv.experiments import denoise as D
    from wconv.experiments import export

    res = tmp_path / "res"
    pairs = (("DnCNN 3×3", ("dncnn", 3, "uniform"), ("dncnn", 3, "paper")),)
    found, missing = dp.study_pairs("smoke", pairs, results_dir=res, out_dir=tmp_path / "onnx")
    assert found == {} and missing == ["dncnn 3×3 standard: its learning rate is not tuned yet",
                                       "dncnn 3×3 paper: its learning rate is not tuned yet"]
    finals = []
    for density in ("uniform", "paper"):
        arm = D.Arm("dncnn", 3, density)
        for cfg in D.tuning_configs(arm, "smoke"):
            D.run(cfg, results_dir=res, checkpoint_dir=tmp_path / "ck", progress=False)
        finals.append(D.run(D.final_config(arm, 0, "smoke", results_dir=res), results_dir=res,
                            checkpoint_dir=tmp_path / "ck", progress=False))
    found, missing = dp.study_pairs("smoke", pairs, results_dir=res, out_dir=tmp_path / "onnx")
    assert missing == [] and list(found) == ["DnCNN 3×3"]
    clean = dp.crop("CBSD68", "108005.png")[:, :64, :64]
    x = dp.noisy(clean, 25, 7)
    for (path, meta), record in zip(found["DnCNN 3×3"], finals):
        config = record["config"]
        assert meta["run"] == config["name"] and meta["params"] == record["parameters"]
        assert meta["cbsd68_psnr"] == record["test"]["CBSD68"]["25"]["mean_psnr"]
        kind = "3×3 standard" if config["density"] == "uniform" else "3×3 weighted [0.7]"
        assert meta["label"] == kind + (", collapsed" if record["collapsed"] else "")
        model = D.build(config)
        model.load_state_dict(export.load_weights(config, res))
        with torch.no_grad():
            expected = model.eval()(torch.from_numpy(x)[None])[0].numpy()
        np.testing.assert_allclose(export.run_onnx(path, x), expected, atol=1e-4)
