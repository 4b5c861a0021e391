"""Denoising data: DIV2K through the data registry (small archives in DIV2K's layout served
over loopback HTTP), the real colour/gray sets, noise and patches. The download machinery
itself (resumption, checksums, atomic extraction) is tested in tests/test_datasets.py."""
from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import require_data
from dataserver import serve_set
from PIL import Image

from wconv.experiments import datasets
from wconv.experiments import images as dd

# --------------------------------------------------------------------------- helpers

def _png_bytes(rng: np.random.Generator, h: int, w: int, mode: str = "RGB") -> bytes:
    shape = (h, w, 3) if mode == "RGB" else (h, w)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(buf, "PNG")
    return buf.getvalue()


# --------------------------------------------------------------------------- DIV2K

def test_official_archives_are_recorded():
    assert dd.DIV2K["valid"] is datasets.SETS["div2k-valid"]
    assert dd.DIV2K["valid"].archive.size == 448_993_893
    assert dd.DIV2K["train"].archive.known_hash == (
        "sha256:9d0b9c463f6e35b6c62cc6a930ee2224f670b34c1df841a57670f9acf0f6c335")
    assert dd.DIV2K["valid"].archive.url == "https://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_valid_HR.zip"
    assert len(dd.DIV2K["train"].names) == 800 and dd.DIV2K["valid"].names[0] == "0801.png"


def test_div2k_is_fetched_and_extracted_through_the_registry(file_server, monkeypatch,
                                                                   tmp_path):
    rng = np.random.default_rng(0)
    images = {f"{i:04d}.png": _png_bytes(rng, 40 + i % 7, 56) for i in range(801, 804)}
    spec = serve_set(file_server, "div2k-valid", images, from_archive=tuple(images), kind="zip",
                     hashes=False)
    monkeypatch.setitem(datasets.SETS, "div2k-valid", spec)
    monkeypatch.setitem(dd.DIV2K, "valid", spec)
    assert dd.div2k_folder(root=tmp_path) is None
    folder = datasets.fetch("div2k-valid", root=tmp_path, retries=0, progress=False)["div2k-valid"][0]
    assert folder == tmp_path / "DIV2K" / "DIV2K_valid_HR" == dd.div2k_folder(root=tmp_path)
    assert (folder / datasets.MARKER).is_file()
    for n, data in images.items():
        got = dd.load_image(folder / n, color=True)
        want = torch.from_numpy(np.array(Image.open(io.BytesIO(data)))).permute(2, 0, 1)
        assert torch.equal(got, want)
    requests = len(file_server.log)
    assert datasets.fetch("div2k-valid", root=tmp_path)["div2k-valid"][0] == folder   # complete: no request
    assert len(file_server.log) == requests
    # A folder without the marker and without every image is not DIV2K.
    partial = tmp_path / "other" / "DIV2K" / "DIV2K_valid_HR"
    partial.mkdir(parents=True)
    (partial / "0801.png").write_bytes(images["0801.png"])
    assert dd.div2k_folder(root=tmp_path / "other") is None
    with pytest.raises(ValueError, match="split must be one of"):
        dd.div2k_folder("test", root=tmp_path)


def test_missing_sets_name_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.delenv("WCONV_FETCH", raising=False)
    for source, names in [("color", "bsds500, cbsd68, kodak24"), ("gray", "train400, bsd68, set12"),
                          ("div2k", "div2k-valid"), ("div2k-full", "div2k-train, div2k-valid")]:
        with pytest.raises(FileNotFoundError) as info:
            dd.protocol(source, root=tmp_path)
        message = str(info.value)
        assert f"python -m wconv data fetch {names.replace(', ', ' ')}" in message, message
        assert "make data" in message and "WCONV_DATA" in message
    assert not any(tmp_path.iterdir())      # nothing was downloaded or created


def test_reduced_div2k_protocol_splits_the_validation_images(tmp_path):
    folder = tmp_path / "DIV2K" / "DIV2K_valid_HR"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for n in dd.DIV2K["valid"].names:
        (folder / n).write_bytes(_png_bytes(rng, 12, 12))
    p = dd.protocol("auto", root=tmp_path, seed=3)
    assert p.name == "div2k" and p.color and "DIV2K" in p.description
    assert len(p.train) == 80 and len(p.test["DIV2K"]) == 20
    assert not set(p.train) & set(p.test["DIV2K"])
    again = dd.protocol("div2k", root=tmp_path, seed=3)
    assert again.to_dict() == p.to_dict()
    assert dd.protocol("div2k", root=tmp_path, seed=4).test != p.test
    small = dd.protocol("div2k", root=tmp_path, seed=3, n_train=5, div2k_test=10)
    assert len(small.train) == 5 and len(small.test["DIV2K"]) == 10
    record = small.to_dict()
    assert record["name"] == "div2k" and len(record["train"]) == 5
    with pytest.raises(FileNotFoundError, match="python -m wconv data fetch div2k-train"):
        dd.protocol("div2k-full", root=tmp_path)
    with pytest.raises(ValueError, match="source must be one of"):
        dd.protocol("div3k", root=tmp_path)


# --------------------------------------------------------------------------- real sets

def _denoise_root() -> Path:
    return require_data("denoise/CBSD68")


def test_real_colour_and_gray_protocols():
    root = _denoise_root()
    if dd.div2k_folder("valid", root) is None:
        assert dd.protocol("auto", root).name == "color"
    color = dd.protocol("color", root)
    assert color.color and color.channels == 3 and len(color.train) == 400
    assert {k: len(v) for k, v in color.test.items()} == {"CBSD68": 68, "Kodak24": 24}
    assert "BSDS500" in color.description and "CBSD68" in color.description
    gray = dd.protocol("gray", root, n_train=10, n_test=3)
    assert not gray.color and len(gray.train) == 10
    assert {k: len(v) for k, v in gray.test.items()} == {"BSD68": 3, "Set12": 3}
    imgs = dd.load_images(gray.test["Set12"], color=False)
    assert all(i.dtype == torch.uint8 and i.shape[0] == 1 for i in imgs)
    kodak = dd.load_image(color.test["Kodak24"][0], color=True)
    assert kodak.shape == (3, 500, 500)
    with pytest.raises(ValueError, match=rf"{gray.test['Set12'][0].name}.*grayscale.*color=True"):
        dd.load_image(gray.test["Set12"][0], color=True)
    with pytest.raises(ValueError, match=rf"{color.train[0].name}.*colour.*color=False"):
        dd.load_image(color.train[0], color=False)


def test_unreadable_image_names_the_file(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    with pytest.raises(ValueError, match="cannot read image .*broken.png"):
        dd.load_images([bad], color=True)
    Image.fromarray(np.zeros((4, 4, 4), np.uint8), "RGBA").save(tmp_path / "alpha.png")
    with pytest.raises(ValueError, match="alpha.png has mode 'RGBA'"):
        dd.load_image(tmp_path / "alpha.png", color=True)


# --------------------------------------------------------------------------- noise and patches

@pytest.mark.parametrize("sigma", [0, -5, 255.5, 300, float("nan"), float("inf")])
def test_noise_level_outside_range_is_refused(sigma):
    with pytest.raises(ValueError, match=r"sigma must be in \(0, 255\]"):
        dd.check_sigma(sigma)


def test_noise_level_type_and_edges():
    with pytest.raises(TypeError, match="sigma"):
        dd.check_sigma("25")
    with pytest.raises(TypeError, match="sigma"):
        dd.check_sigma(True)
    assert dd.check_sigma(255) == 255.0 and dd.check_sigma(0.5) == 0.5
    with pytest.raises(ValueError, match="sigma"):
        dd.RandomPatches([torch.zeros(1, 8, 8, dtype=torch.uint8)], 4, 2, sigma=0)


def test_test_noise_is_fixed_per_image_and_sigma():
    rng = np.random.default_rng(1)
    imgs = [torch.from_numpy(rng.integers(0, 256, (3, 64, 64), dtype=np.uint8)) for _ in range(2)]
    a = dd.noisy_images(imgs, ["a.png", "b.png"], 25, seed=0)
    b = dd.noisy_images(imgs, ["a.png", "b.png"], 25, seed=0)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    c = dd.noisy_images(imgs, ["a.png", "b.png"], 25, seed=1)
    assert not torch.equal(a[0], c[0])
    noise0 = a[0] - imgs[0].float() / 255
    noise1 = a[1] - imgs[1].float() / 255
    assert not torch.allclose(noise0, noise1)            # seeded per image, not shared
    assert abs(noise0.std().item() * 255 - 25) < 1.0
    fifty = dd.noisy_images(imgs[:1], ["a.png"], 50)[0] - imgs[0].float() / 255
    assert abs(fifty.std().item() * 255 - 50) < 2.0
    with pytest.raises(ValueError, match="one name per image"):
        dd.noisy_images(imgs, ["a.png"], 25)


def test_random_patches_are_seeded_crops():
    rng = np.random.default_rng(2)
    imgs = [torch.from_numpy(rng.integers(0, 256, (3, 50 + 10 * i, 70), dtype=np.uint8))
            for i in range(3)]
    ds = dd.RandomPatches(imgs, patch_size=16, num_patches=200, sigma=15, seed=7, augment=False)
    for i in range(0, 200, 17):
        img = imgs[int(ds._index[i])]
        y, x = int(ds._y[i]), int(ds._x[i])
        assert torch.equal(ds.clean(i), img[:, y:y + 16, x:x + 16])
        noisy, clean = ds[i]
        assert clean.dtype == torch.float32 and noisy.shape == (3, 16, 16)
        assert torch.equal(clean, img[:, y:y + 16, x:x + 16].float() / 255)
    same = dd.RandomPatches(imgs, 16, 200, 15, seed=7, augment=False)
    assert torch.equal(ds[5][0], same[5][0])
    first = [ds.clean(i) for i in range(20)]
    ds.set_epoch(1)
    assert any(not torch.equal(a, ds.clean(i)) for i, a in enumerate(first))
    ds.set_epoch(0)
    assert all(torch.equal(a, ds.clean(i)) for i, a in enumerate(first))
    noise = torch.stack([ds[i][0] - ds[i][1] for i in range(200)])
    assert abs(noise.std().item() * 255 - 15) < 0.5
    aug = dd.RandomPatches(imgs, 16, 64, 25, seed=0, augment=True)
    assert len(set(aug._mode.tolist())) > 4
    start = time.perf_counter()
    big = dd.RandomPatches(imgs, 40, 2000, 25, seed=0)
    batch = torch.utils.data.default_collate([big[i] for i in range(len(big))])
    print(f"2000 patches 3x40x40 in {time.perf_counter() - start:.3f} s")
    assert batch[0].shape == (2000, 3, 40, 40)


def test_random_patches_refuse_bad_input():
    img = torch.zeros(3, 20, 20, dtype=torch.uint8)
    with pytest.raises(ValueError, match="smaller than patch_size=32"):
        dd.RandomPatches([img], 32, 10, 25)
    with pytest.raises(TypeError, match=r"images\[0\] must be a uint8"):
        dd.RandomPatches([img.float()], 8, 10, 25)
    with pytest.raises(ValueError, match="mixing grayscale and colour"):
        dd.RandomPatches([img, img[:1]], 8, 10, 25)
    with pytest.raises(ValueError, match="num_patches"):
        dd.RandomPatches([img], 8, 0, 25)


def test_blind_noise_range_and_patch_loader():
    img = torch.full((1, 64, 64), 128, dtype=torch.uint8)
    ds = dd.RandomPatches([img], 16, 300, sigma=(0, 55), seed=1)
    levels = torch.tensor([float((ds[i][0] - ds[i][1]).std()) * 255 for i in range(300)])
    assert levels.min() < 8 and levels.max() > 48 and 20 < levels.mean() < 35
    for bad in [(10,), (30, 20), (-1, 20), (0, 300)]:
        with pytest.raises(ValueError, match="sigma"):
            dd.RandomPatches([img], 16, 4, sigma=bad)
    loader = dd.PatchLoader(ds, batch_size=128)
    batches = list(loader)
    assert [len(x) for x, _ in batches] == [128, 128, 44] and len(loader) == 3
    assert torch.equal(batches[1][0][5], ds[133][0])
    loader.set_epoch(2)
    assert ds.epoch == 2 and not torch.equal(next(iter(loader))[0], batches[0][0])
    assert len(dd.PatchLoader(ds, 128, drop_last=True)) == 2
    with pytest.raises(ValueError, match="batch_size"):
        dd.PatchLoader(ds, 0)
