"""The weighted layers against an independent reference, gradients, and drop-in behaviour."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from wconv import WeightedConv1d, WeightedConv2d, WeightedConv3d

LAYERS = {1: WeightedConv1d, 2: WeightedConv2d, 3: WeightedConv3d}
PLAIN = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


def papers_mask(dens, sizes):
    """The papers' mask, built by hand: outer product of [*den, 1, *reversed(den)] per axis."""
    result = np.ones(())
    for den in dens:
        profile = np.array(list(den) + [1.0] + list(reversed(den)))
        result = np.multiply.outer(result, profile)
    assert result.shape == tuple(sizes)
    return torch.tensor(result)


def reference_conv(x, weight, bias, stride, padding, dilation, groups, padding_mode):
    """Shift-and-add convolution: one channel contraction per kernel tap, no conv kernels used."""
    dims = x.dim() - 2
    kernel = weight.shape[2:]
    if padding == "valid":
        pads = [(0, 0)] * dims
    elif padding == "same":
        pads = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            pads.append((total // 2, total - total // 2))
    else:
        pads = [(p, p) for p in padding]
    flat = [p for pair in reversed(pads) for p in pair]
    mode = "constant" if padding_mode == "zeros" else padding_mode
    xp = F.pad(x, flat, mode=mode) if any(flat) else x
    out_sizes = [(xp.shape[2 + i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
                 for i in range(dims)]
    n, c = x.shape[:2]
    o = weight.shape[0]
    xg = xp.reshape(n, groups, c // groups, *xp.shape[2:])
    wg = weight.reshape(groups, o // groups, c // groups, *kernel)
    out = torch.zeros(n, groups, o // groups, *out_sizes, dtype=x.dtype)
    letters = "xyz"[:dims]
    equation = f"ngc{letters},goc->ngo{letters}"
    for tap in itertools.product(*(range(k) for k in kernel)):
        window = tuple(slice(t * dl, t * dl + s * (m - 1) + 1, s)
                       for t, dl, s, m in zip(tap, dilation, stride, out_sizes))
        out += torch.einsum(equation, xg[(slice(None),) * 3 + window], wg[(...,) + tap])
    out = out.reshape(n, o, *out_sizes)
    if bias is not None:
        out += bias.view(1, -1, *[1] * dims)
    return out


def dens_for(sizes, rng):
    return [list(rng.uniform(0.1, 1.5, size=(k - 1) // 2)) for k in sizes]


CASES = [
    # dims, kernel, stride, padding, dilation, groups, bias, padding_mode
    (1, (5,), (1,), (2,), (1,), 1, True, "zeros"),
    (1, (3,), (2,), (1,), (2,), 2, False, "reflect"),
    (1, (7,), (1,), "same", (1,), 1, True, "circular"),
    (2, (3, 3), (1, 1), (1, 1), (1, 1), 1, True, "zeros"),
    (2, (5, 5), (2, 1), (2, 3), (1, 2), 2, True, "reflect"),
    (2, (3, 5), (1, 1), "same", (2, 1), 1, False, "replicate"),
    (2, (7, 3), (1, 2), (3, 1), (1, 1), 4, True, "circular"),
    (2, (3, 3), (1, 1), "valid", (1, 1), 1, True, "zeros"),
    (3, (3, 3, 3), (1, 1, 1), (1, 1, 1), (1, 1, 1), 1, True, "zeros"),
    (3, (3, 5, 3), (2, 1, 1), "same", (1, 1, 1), 2, False, "replicate"),
    (3, (3, 3, 3), (1, 2, 1), (1, 0, 1), (1, 1, 2), 1, True, "circular"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}d-k{c[1]}-s{c[2]}-p{c[3]}-d{c[4]}-g{c[5]}-{c[7]}")
def test_matches_reference(case):
    dims, kernel, stride, padding, dilation, groups, bias, mode = case
    rng = np.random.default_rng(CASES.index(case))
    torch.manual_seed(0)
    dens = dens_for(kernel, rng)
    if len(set(kernel)) == 1:  # isotropic: the papers' single den on every axis
        dens = [dens[0]] * dims
        density = dens[0]
    else:  # anisotropic: one den per axis
        density = dens
    in_ch, out_ch = 4, 8
    stride_arg = stride if padding != "same" else 1
    stride_ref = stride if padding != "same" else (1,) * dims
    layer = LAYERS[dims](in_ch, out_ch, kernel, stride_arg, padding, dilation, groups, bias, mode,
                         dtype=torch.float64, density=density)
    x = torch.randn(2, in_ch, *[9 + i for i in range(dims)], dtype=torch.float64)
    expected = reference_conv(x, layer.weight * papers_mask(dens, kernel), layer.bias,
                              stride_ref, padding, dilation, groups, mode)
    torch.testing.assert_close(layer(x), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_unbatched_input(dims):
    layer = LAYERS[dims](2, 3, 3, padding=1, density=[0.5])
    x = torch.randn(2, *[6] * dims)
    torch.testing.assert_close(layer(x), layer(x.unsqueeze(0)).squeeze(0))


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_uniform_density_is_standard_convolution(dims):
    torch.manual_seed(1)
    plain = PLAIN[dims](3, 5, 3, stride=2, padding=1)
    weighted = LAYERS[dims](3, 5, 3, stride=2, padding=1)
    weighted.load_state_dict({**plain.state_dict(), "density_mask": weighted.density_mask})
    x = torch.randn(2, 3, *[8] * dims)
    assert torch.equal(weighted(x), plain(x))


def test_same_arguments_and_defaults_as_nn_conv():
    import inspect
    for dims in (1, 2, 3):
        ours = inspect.signature(LAYERS[dims].__init__).parameters
        theirs = inspect.signature(PLAIN[dims].__init__).parameters
        assert list(ours)[: len(theirs)] == list(theirs)
        for name, parameter in theirs.items():
            assert ours[name].default == parameter.default, name
        assert ours["density"].default is None and ours["learnable_density"].default is False
        assert ours["density"].kind is inspect.Parameter.KEYWORD_ONLY


def test_is_an_nn_conv_with_the_same_parameters():
    weighted = WeightedConv2d(3, 8, 5, density=[0.2, 0.6])
    assert isinstance(weighted, nn.Conv2d)
    plain = nn.Conv2d(3, 8, 5)
    assert [p.shape for p in weighted.parameters()] == [p.shape for p in plain.parameters()]


def test_learnable_density_adds_one_profile_per_axis():
    layer = WeightedConv2d(3, 8, (3, 5), density=([0.5], [0.3, 0.8]), learnable_density=True)
    extra = sum(p.numel() for p in layer.parameters()) - sum(
        p.numel() for p in nn.Conv2d(3, 8, (3, 5)).parameters())
    assert extra == 1 + 2
    mask = layer.weight_mask()[0, 0]
    torch.testing.assert_close(mask.double(), papers_mask([[0.5], [0.3, 0.8]], (3, 5)))
    den = layer.den()
    assert den[0].tolist() == pytest.approx([0.5]) and den[1].tolist() == pytest.approx([0.3, 0.8])


def test_learnable_density_learns_and_stays_positive():
    torch.manual_seed(0)
    layer = WeightedConv2d(1, 1, 3, padding=1, bias=False, density=[0.5], learnable_density=True)
    optimiser = torch.optim.SGD(layer.parameters(), lr=0.02)
    x = torch.randn(4, 1, 8, 8)
    target = F.conv2d(x, torch.full((1, 1, 3, 3), -3.0), padding=1)
    start = layer.den()[0].item()
    for _ in range(20):
        optimiser.zero_grad()
        F.mse_loss(layer(x), target).backward()
        optimiser.step()
    assert layer.den()[0].item() != pytest.approx(start)
    assert torch.isfinite(layer.weight_mask()).all() and (layer.weight_mask() > 0).all()
    assert layer.weight_mask()[0, 0, 1, 1].item() == 1.0


def test_gradcheck_input_weight_and_learnable_density():
    torch.manual_seed(0)
    layer = WeightedConv2d(2, 3, (3, 5), padding=(1, 2), dtype=torch.float64,
                           density=([0.7], [0.3, 1.2]), learnable_density=True)
    x = torch.randn(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    params = [layer.weight, layer.bias, *layer.log_den]

    def function(x, weight, bias, log_a, log_b):
        return torch.func.functional_call(
            layer, {"weight": weight, "bias": bias, "log_den.0": log_a, "log_den.1": log_b}, (x,))

    assert torch.autograd.gradcheck(function, (x, *params))


@pytest.mark.parametrize("dims", [1, 3])
def test_gradcheck_fixed_density_other_dims(dims):
    layer = LAYERS[dims](2, 2, 3, padding=1, dtype=torch.float64, density=[0.4])
    x = torch.randn(1, 2, *[4] * dims, dtype=torch.float64, requires_grad=True)

    def function(x, weight):
        return torch.func.functional_call(layer, {"weight": weight}, (x,))

    assert torch.autograd.gradcheck(function, (x, layer.weight))


def test_weight_gradient_is_scaled_by_the_mask():
    torch.manual_seed(0)
    plain = nn.Conv2d(2, 2, 3, padding=1)
    weighted = WeightedConv2d(2, 2, 3, padding=1, density=[0.3])
    with torch.no_grad():
        weighted.weight.copy_(plain.weight / weighted.density_mask)
        weighted.bias.copy_(plain.bias)
    x = torch.randn(2, 2, 6, 6)
    plain(x).square().sum().backward()
    weighted(x).square().sum().backward()
    torch.testing.assert_close(weighted.weight.grad, plain.weight.grad * weighted.density_mask)


def test_to_moves_and_casts_the_mask():
    layer = WeightedConv2d(1, 1, 3, density=[0.5]).to(torch.float64)
    assert layer.density_mask.dtype == torch.float64
    assert layer(torch.randn(1, 1, 5, 5, dtype=torch.float64)).dtype == torch.float64


def test_repr_names_the_density():
    assert "density=[0.25, 0.15, 0.55]" in repr(WeightedConv2d(1, 1, 7, density=[0.25, 0.15, 0.55]))
    assert "learnable_density=True" in repr(WeightedConv2d(1, 1, 3, learnable_density=True))
    assert "<mask tensor>" in repr(WeightedConv2d(1, 1, 2, density=torch.ones(2, 2)))


def test_even_kernel_with_full_mask():
    mask = torch.tensor([[1.0, 0.5], [0.5, 0.25]])
    layer = WeightedConv2d(1, 2, 2, density=mask, dtype=torch.float64)
    x = torch.randn(1, 1, 5, 5, dtype=torch.float64)
    expected = F.conv2d(x, layer.weight * mask.double(), layer.bias)
    torch.testing.assert_close(layer(x), expected)


def test_torch_compile_matches_eager():
    torch.manual_seed(0)
    model = nn.Sequential(WeightedConv2d(3, 8, 3, padding=1, density=[0.5]), nn.ReLU(),
                          WeightedConv2d(8, 4, 5, padding=2, density=[0.2, 0.7],
                                         learnable_density=True))
    x = torch.randn(2, 3, 12, 12)
    compiled = torch.compile(model)
    torch.testing.assert_close(compiled(x), model(x), rtol=1e-5, atol=1e-5)
