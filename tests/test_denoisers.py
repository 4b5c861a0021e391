"""DnCNN and NAFNet with standard or weighted convolutions."""
from __future__ import annotations


import pytest
from conftest import require_data
import torch
from torch import nn

import wconv
from wconv.experiments import images as dd
from wconv.experiments.denoisers import DnCNN, NAFBlock, NAFNet, build, conv2d, denoise, evaluate

DEN7 = [0.25, 0.15, 0.55]


def _convs(model):
    return [m for m in model.modules() if isinstance(m, nn.Conv2d)]


@pytest.mark.parametrize("k,den", [(3, None), (3, [0.5]), (5, [0.3, 0.8]), (7, DEN7)])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_and_layers(k, den, channels):
    dn = DnCNN(channels, depth=4, width=8, kernel_size=k, density=den)
    naf = NAFNet(channels, width=8, enc_blocks=(1, 1), middle_blocks=1, dec_blocks=(1, 1),
                 kernel_size=k, density=den)
    for net in (dn, naf):
        for shape in [(2, channels, 16, 16), (1, channels, 19, 26)]:
            assert net(torch.rand(shape)).shape == shape
    assert len(_convs(dn)) == 4 and sum(isinstance(m, nn.BatchNorm2d) for m in dn.modules()) == 2
    spatial = [m for m in _convs(dn) + _convs(naf) if m.kernel_size == (k, k)]
    assert len(spatial) == 4 + 2 + 5            # DnCNN all; NAFNet intro, ending, 5 depthwise
    for m in spatial:
        assert isinstance(m, wconv.WeightedConv2d) == (den is not None)
        if den is not None:
            assert torch.allclose(m.den()[0].float(), torch.tensor(den, dtype=torch.float32))
    others = [m for m in _convs(naf) if m.kernel_size != (k, k)]
    assert others and not any(isinstance(m, wconv.WeightedConv2d) for m in others)


def test_paper_dncnn_size():
    net = DnCNN(channels=1)
    assert net.depth == 17 and net.width == 64 and len(_convs(net)) == 17
    assert sum(p.numel() for p in net.parameters()) == 556_097   # ~0.56M as in the paper


def test_same_seed_same_initial_weights_and_uniform_density_is_standard():
    for make in (lambda d: DnCNN(3, depth=5, width=8, kernel_size=7, density=d),
                 lambda d: NAFNet(3, width=8, enc_blocks=(1,), dec_blocks=(1,), kernel_size=7,
                                  density=d)):
        torch.manual_seed(0)
        std = make(None)
        torch.manual_seed(0)
        wtd = make(DEN7)
        torch.manual_seed(0)
        ones = make([1.0, 1.0, 1.0])
        s, w = std.state_dict(), wtd.state_dict()
        assert all(torch.equal(s[key], w[key]) for key in s)
        assert set(w) - set(s) and all(key.endswith("density_mask") for key in set(w) - set(s))
        x = torch.rand(2, 3, 16, 16)
        std.eval(), wtd.eval(), ones.eval()
        assert torch.allclose(std(x), ones(x), atol=1e-6)
        assert not torch.allclose(std(x), wtd(x), atol=1e-4)


def test_dncnn_is_residual_and_naf_blocks_start_as_identity():
    net = DnCNN(1, depth=3, width=4).eval()
    x = torch.rand(1, 1, 12, 12)
    assert torch.allclose(net(x), x - net.noise(x))
    block = NAFBlock(8, kernel_size=5, density=[0.3, 0.7])
    y = torch.randn(2, 8, 10, 10)
    assert torch.equal(block(y), y)


def test_learnable_density_gets_gradients():
    net = NAFNet(3, width=8, enc_blocks=(1,), dec_blocks=(1,), kernel_size=5,
                 density=[0.5, 0.9], learnable_density=True)
    with torch.no_grad():                 # move off the identity start so every branch matters
        for m in net.modules():
            if isinstance(m, NAFBlock):
                m.beta.fill_(1.0), m.gamma.fill_(1.0)
    net(torch.rand(2, 3, 8, 8)).square().mean().backward()
    grads = [p.grad for m in net.modules() if isinstance(m, wconv.WeightedConv2d) for p in m.log_den]
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads)


def test_bad_arguments():
    with pytest.raises(ValueError, match="kernel_size must be an odd positive integer"):
        DnCNN(3, kernel_size=4)
    with pytest.raises(ValueError, match="depth must be an integer >= 2"):
        DnCNN(3, depth=1)
    with pytest.raises(ValueError, match="same length"):
        NAFNet(3, enc_blocks=(1, 1), dec_blocks=(1,))
    with pytest.raises(ValueError):
        DnCNN(3, kernel_size=7, density=[0.5])          # den of a 3x3 kernel on a 7x7 one
    with pytest.raises(ValueError, match="arch must be one of"):
        build("unet")
    with pytest.raises(ValueError, match="noisy must be a tensor"):
        denoise(DnCNN(1, depth=2, width=2), torch.rand(8, 8))
    assert type(conv2d(2, 2, 3)) is nn.Conv2d


def test_short_training_on_real_patches_beats_the_noisy_input():
    root = require_data("denoise/CBSD68", "denoise/Kodak24", "denoise/BSDS500/train",
                        "denoise/BSDS500/test")
    p = dd.protocol("color", root, n_train=4, n_test=1, seed=0)
    train = dd.load_images(p.train, color=True)
    patches = dd.RandomPatches(train, patch_size=24, num_patches=16 * 60, sigma=50, seed=0)
    loader = torch.utils.data.DataLoader(patches, batch_size=16)
    torch.manual_seed(0)
    net = build("dncnn", channels=3, kernel_size=3, density=[0.8], depth=4, width=16)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    for noisy, clean in loader:
        loss = nn.functional.mse_loss(net(noisy), clean)
        opt.zero_grad()
        loss.backward()
        opt.step()
    test = [dd.load_image(f, color=True)[:, :96, :96] for f in p.test["CBSD68"]]
    noisy = dd.noisy_images(test, [f.name for f in p.test["CBSD68"]], 50)
    clean = [dd.to_float(t) for t in test]
    scores = evaluate(net, noisy, clean)
    from wconv.metrics import psnr
    before = float(psnr(noisy[0].clamp(0, 1), clean[0]))
    print(f"noisy {before:.2f} dB -> denoised {scores['mean_psnr']:.2f} dB after 60 steps")
    assert scores["mean_psnr"] > before + 3 and 0 < scores["mean_ssim"] <= 1
    assert net.training                      # evaluate restores the mode
