"""Weighted convolution = standard convolution with W0 ⊙ Φ and per-position SGD lr Φ²."""
import pytest
import torch
from torch import nn

import wconv
from wconv import reparam
from wconv.experiments import images


def _photo_batches(steps, dtype):
    """Noisy/clean 16x16 patches of scikit-image's camera photograph (real image)."""
    return images.denoising_batches(steps, batch_size=4, patch=16, noise_std=0.1, dtype=dtype)


def _weighted_net(dtype):
    torch.manual_seed(0)
    return nn.Sequential(
        wconv.WeightedConv2d(1, 4, 5, padding=2, density=[0.3, 0.7], dtype=dtype), nn.ReLU(),
        wconv.WeightedConv2d(4, 1, 3, padding=1, density=[0.4], dtype=dtype))


@pytest.mark.parametrize("opt", [dict(momentum=0.0), dict(momentum=0.9, weight_decay=1e-2),
                                 dict(momentum=0.9, nesterov=True, weight_decay=5e-4)])
def test_sgd_trajectories_coincide(opt):
    dtype = torch.float64
    batches = _photo_batches(8, dtype)
    weighted = _weighted_net(dtype)
    standard = reparam.standard_equivalent(weighted)
    assert not any(isinstance(m, wconv.conv.WeightedConvMixin) for m in standard.modules())
    a = reparam.trajectory(weighted, torch.optim.SGD(weighted.parameters(), lr=0.5, **opt),
                           batches, nn.functional.mse_loss)
    b = reparam.trajectory(standard, torch.optim.SGD(standard.parameters(), lr=0.5, **opt),
                           batches, nn.functional.mse_loss)
    moved = max((k1 - k0).abs().max().item()
                for k0, k1 in zip(a["kernels"][0], a["kernels"][-1]))
    assert moved > 1e-3, "the kernels did not move: the test would prove nothing"
    for ka, kb in zip(a["kernels"], b["kernels"]):
        for x, y in zip(ka, kb):
            torch.testing.assert_close(x, y, rtol=0, atol=1e-12)
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-10)


def test_controls_differ_from_weighted():
    dtype = torch.float64
    batches = _photo_batches(4, dtype)
    weighted = _weighted_net(dtype)
    runs = {}
    for name, kwargs in {"both": {}, "init_only": dict(scale_lr=False),
                         "lr_only": dict(scale_init=False)}.items():
        model = reparam.standard_equivalent(weighted, **kwargs)
        runs[name] = reparam.trajectory(model, torch.optim.SGD(model.parameters(), lr=0.5),
                                        batches, nn.functional.mse_loss)
    ref = reparam.trajectory(weighted, torch.optim.SGD(weighted.parameters(), lr=0.5),
                             batches, nn.functional.mse_loss)
    torch.testing.assert_close(runs["both"]["kernels"][-1][0], ref["kernels"][-1][0])
    assert not torch.allclose(runs["init_only"]["kernels"][-1][0], ref["kernels"][-1][0])
    assert torch.equal(runs["init_only"]["kernels"][0][0], ref["kernels"][0][0])
    assert not torch.allclose(runs["lr_only"]["kernels"][0][0], ref["kernels"][0][0])


def test_positionwise_lr_scales_gradient_and_follows_device_moves():
    conv = nn.Conv2d(1, 1, 3, bias=False)
    scale = torch.linspace(0.1, 0.9, 9).reshape(1, 1, 3, 3)
    reparam.positionwise_lr(conv, scale)
    conv(torch.ones(1, 1, 3, 3)).sum().backward()
    torch.testing.assert_close(conv.weight.grad, scale)
    conv.double()
    assert conv.lr_scale.dtype == torch.float64


def test_bad_arguments():
    with pytest.raises(TypeError, match="plain torch.nn.Conv"):
        reparam.positionwise_lr(wconv.WeightedConv2d(1, 1, 3), torch.ones(1, 1, 3, 3))
    with pytest.raises(ValueError, match="does not broadcast"):
        reparam.positionwise_lr(nn.Conv2d(1, 1, 3), torch.ones(1, 1, 5, 5))
    with pytest.raises(ValueError, match="strictly positive"):
        reparam.positionwise_lr(nn.Conv2d(1, 1, 3), torch.zeros(1, 1, 3, 3))
    with pytest.raises(TypeError, match="scale must be a torch.Tensor"):
        reparam.positionwise_lr(nn.Conv2d(1, 1, 3), 2.0)
    with pytest.raises(ValueError, match="learnable_density"):
        reparam.standard_equivalent(wconv.WeightedConv2d(1, 1, 3, density=[0.5],
                                                         learnable_density=True))
    with pytest.raises(TypeError, match="model must be"):
        reparam.standard_equivalent("conv")


def test_compare_controls_and_kernel_gaps():
    batches = _photo_batches(3, torch.float64)
    runs = reparam.compare_controls(_weighted_net(torch.float64), batches,
                                    lambda p: torch.optim.SGD(p, lr=0.5, momentum=0.9),
                                    nn.functional.mse_loss)
    assert list(runs) == ["weighted", *reparam.CONTROLS]
    gaps = {name: reparam.kernel_gaps(runs["weighted"], r) for name, r in runs.items()}
    assert max(gaps["weighted"]) == 0.0
    assert max(gaps["standard, W₀⊙Φ and lr·Φ²"]) < 1e-12
    assert gaps["standard, W₀⊙Φ only"][0] == 0.0 and gaps["standard, W₀⊙Φ only"][-1] > 1e-4
    assert gaps["standard, lr·Φ² only"][0] > 1e-3
    with pytest.raises(ValueError, match="differ in length"):
        reparam.kernel_gaps(runs["weighted"], {"kernels": runs["weighted"]["kernels"][:2]})


def test_adam_equivalent_follows_the_weighted_trajectory_and_gradient_scaling_does_not():
    """Adam on W⊙Φ = Adam on V with lr·Φ and eps/Φ: the 'adam' twin (gradient ×Φ, update ×Φ)
    follows the weighted model; the SGD twin (gradient ×Φ² only) does not under Adam."""
    dtype = torch.float64
    batches = _photo_batches(8, dtype)
    weighted = _weighted_net(dtype)
    adam_twin = reparam.standard_equivalent(weighted, optimizer="adam")
    sgd_twin = reparam.standard_equivalent(weighted)
    make = lambda m: torch.optim.Adam(m.parameters(), lr=0.02)
    ref = reparam.trajectory(weighted, make(weighted), batches, nn.functional.mse_loss)
    opt = make(adam_twin)
    reparam.scale_updates(opt, adam_twin)
    twin = reparam.trajectory(adam_twin, opt, batches, nn.functional.mse_loss)
    plain = reparam.trajectory(sgd_twin, make(sgd_twin), batches, nn.functional.mse_loss)
    moved = max((k1 - k0).abs().max().item() for k0, k1 in zip(ref["kernels"][0], ref["kernels"][-1]))
    assert moved > 1e-2
    assert max(reparam.kernel_gaps(ref, twin)) < 1e-9
    assert max(reparam.kernel_gaps(ref, plain)) > 1e-2      # Φ² on the gradient: not Adam's lr


def test_adam_position_lr_moves_each_weight_by_lr_times_phi():
    """Adam's first step moves every weight by lr (m̂/√v̂ = ±1); with the per-position control
    (no head start) it moves by lr·Φ at each kernel position, from the standard W₀."""
    torch.manual_seed(0)
    layer = wconv.WeightedConv2d(2, 3, 5, density=[0.3, 0.7], bias=False, dtype=torch.float64)
    control = reparam.standard_equivalent(layer, scale_init=False, optimizer="adam")
    assert torch.equal(control.weight, layer.weight)              # starts at W₀, not W₀⊙Φ
    opt = torch.optim.Adam(control.parameters(), lr=0.01, eps=1e-12)
    reparam.scale_updates(opt, control)
    w0 = control.weight.detach().clone()
    control(torch.randn(4, 2, 9, 9, dtype=torch.float64)).square().mean().backward()
    opt.step()
    phi = layer.weight_mask().detach().expand_as(w0)
    torch.testing.assert_close((control.weight - w0).abs(), 0.01 * phi, rtol=1e-6, atol=0)


def test_head_start_control_starts_at_w0_phi_and_is_a_plain_conv():
    from wconv.experiments import denoise as D

    weighted = D.build(D.make_config("dncnn", "paper", 7, 0, "smoke"))
    head = D.build(D.make_config("dncnn", "head-start", 7, 0, "smoke"))
    pairs = [(w, h) for w, h in zip(weighted.modules(), head.modules())
             if isinstance(w, wconv.WeightedConv2d)]
    assert pairs and not any(isinstance(h, wconv.WeightedConv2d) for h in head.modules())
    for w, h in pairs:
        assert torch.equal(h.weight, w.weighted_weight()) and not hasattr(h, "lr_scale")
    lr_only = D.build(D.make_config("dncnn", "position-lr", 7, 0, "smoke"))
    standard = D.build(D.make_config("dncnn", "uniform", 7, 0, "smoke"))
    convs = [m for m in lr_only.modules() if isinstance(m, nn.Conv2d)]
    assert all(hasattr(m, "update_scale") for m in convs)
    assert all(torch.equal(a, b) for a, b in zip(lr_only.parameters(), standard.parameters()))


def test_scale_updates_needs_marked_convolutions_in_the_optimizer():
    conv = nn.Conv2d(1, 1, 3)
    with pytest.raises(ValueError, match="update_scale"):
        reparam.scale_updates(torch.optim.Adam(conv.parameters()), conv)
    twin = reparam.standard_equivalent(wconv.WeightedConv2d(1, 1, 3, density=[0.5]), optimizer="adam")
    with pytest.raises(ValueError, match="not among the optimizer"):
        reparam.scale_updates(torch.optim.Adam([nn.Parameter(torch.zeros(1))]), twin)
    with pytest.raises(ValueError, match="optimizer must be"):
        reparam.standard_equivalent(twin, optimizer="rmsprop")
