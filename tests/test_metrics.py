"""PSNR and SSIM against scikit-image on real images, scales, batches and errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import require_data
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from wconv.experiments import images as dd
from wconv.metrics import gaussian_window, mean_psnr, mean_ssim, mse_reduction, psnr, ssim


def _real(folder: str, color: bool, count: int):
    path = require_data(f"denoise/{folder}") / "denoise" / folder
    files = sorted(path.iterdir())[:count]
    return [f.name for f in files], dd.load_images(files, color=color)


def _sk_ssim(a: torch.Tensor, b: torch.Tensor, data_range: float) -> float:
    a, b = a.double().permute(1, 2, 0).numpy(), b.double().permute(1, 2, 0).numpy()
    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=data_range, channel_axis=2)


@pytest.mark.parametrize("folder,color", [("CBSD68", True), ("Set12", False)])
def test_matches_scikit_image_on_real_images(folder, color):
    names, images = _real(folder, color, 2)
    images = [i[:, 20:180, 30:230].contiguous() for i in images]   # real pixels, less time
    clean = [dd.to_float(i) for i in images]
    noisy = [n.clamp(0, 1) for n in dd.noisy_images(images, names, 25)]
    for x, y in zip(noisy, clean):
        ref_p = peak_signal_noise_ratio(y.double().numpy(), x.double().numpy(), data_range=1.0)
        assert float(psnr(x, y)) == pytest.approx(ref_p, abs=1e-9)
        assert float(ssim(x, y)) == pytest.approx(_sk_ssim(x, y, 1.0), abs=1e-9)
        # Same numbers on the 0-255 scale with data_range=255 (float32 rescaling: 1e-6).
        assert float(psnr(x * 255, y * 255, 255.0)) == pytest.approx(ref_p, abs=1e-6)
        assert float(ssim(x * 255, y * 255, 255.0)) == pytest.approx(_sk_ssim(x, y, 1.0), abs=1e-6)
    # uint8 images on the 0-255 scale, as scikit-image sees them.
    q = [(n * 255).round().to(torch.uint8) for n in noisy]
    for a, b in zip(q, images):
        ref = structural_similarity(b.permute(1, 2, 0).numpy(), a.permute(1, 2, 0).numpy(),
                                    gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                    data_range=255, channel_axis=2)
        assert float(ssim(a, b, 255.0)) == pytest.approx(ref, abs=1e-9)


def test_batches_and_set_means():
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(3, 3, 24, 30, generator=g)
    noisy = clean + 0.1 * torch.randn(clean.shape, generator=g)
    p, s = psnr(noisy, clean), ssim(noisy, clean)
    assert p.shape == (3,) and s.shape == (3,) and p.dtype == torch.float64
    for i in range(3):
        assert float(p[i]) == pytest.approx(float(psnr(noisy[i], clean[i])))
        assert float(s[i]) == pytest.approx(float(ssim(noisy[i], clean[i])))
    assert mean_psnr(list(noisy), list(clean)) == pytest.approx(float(p.mean()))
    assert mean_ssim(list(noisy), list(clean)) == pytest.approx(float(s.mean()))
    assert float(psnr(noisy, clean).mean()) == pytest.approx(20.0, abs=0.2)   # sigma 0.1 -> 20 dB
    assert math.isinf(float(psnr(clean[0], clean[0])))
    assert float(ssim(clean[0], clean[0])) == pytest.approx(1.0)
    assert float(ssim(clean[0], 1 - clean[0])) < 0


def test_window_is_the_standard_gaussian():
    w = gaussian_window()
    assert w.numel() == 11 and float(w.sum()) == pytest.approx(1.0)
    x = torch.arange(11, dtype=torch.float64) - 5
    ratio = w / w[5]
    assert torch.allclose(ratio, torch.exp(-x ** 2 / (2 * 1.5 ** 2)))


def test_bad_input_is_refused():
    x = torch.rand(1, 16, 16)
    with pytest.raises(ValueError, match="same shape"):
        psnr(x, torch.rand(1, 16, 17))
    with pytest.raises(ValueError, match="data_range must be a positive number"):
        ssim(x, x, data_range=0)
    with pytest.raises(TypeError, match="input must be a torch.Tensor"):
        psnr(np.zeros((1, 16, 16)), x)
    with pytest.raises(ValueError, match=r"\(C, H, W\) or \(N, C, H, W\)"):
        psnr(torch.rand(16, 16), torch.rand(16, 16))
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(torch.rand(1, 8, 30), torch.rand(1, 8, 30))
    with pytest.raises(ValueError, match="at least one image"):
        mean_psnr([], [])


def test_mse_reduction_reads_a_psnr_gain_as_the_mse_it_removes():
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(3, 32, 32, generator=g, dtype=torch.float64)
    noise = torch.randn(3, 32, 32, generator=g, dtype=torch.float64)
    worse, better = clean + 0.2 * noise, clean + 0.1 * noise
    gain = float(psnr(better, clean) - psnr(worse, clean))
    removed = 1 - float(((better - clean) ** 2).mean() / ((worse - clean) ** 2).mean())
    assert mse_reduction(gain) == pytest.approx(removed, rel=1e-9)
    assert removed == pytest.approx(0.75, rel=1e-9)
    assert mse_reduction(-gain) == pytest.approx(-3.0)
    with pytest.raises(TypeError):
        mse_reduction("3 dB")
