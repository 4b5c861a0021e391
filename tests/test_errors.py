"""Every bad input raises a ValueError or TypeError that names the argument and the value."""
import math

import numpy as np
import pytest
import torch
from torch import nn

import wconv
from wconv import WeightedConv1d, WeightedConv2d, WeightedConv3d, density


@pytest.mark.parametrize("kwargs, error, pattern", [
    (dict(kernel_size=5, density=[0.5]), ValueError, r"den must hold .* = 2 values .* got 1: \[0.5\]"),
    (dict(kernel_size=3, density=[0.5, 0.2]), ValueError, r"den .* got 2"),
    (dict(kernel_size=3, density=torch.ones(5, 5)), ValueError, r"shape \(3, 3\).*\(5, 5\)"),
    (dict(kernel_size=4, density=[0.5]), ValueError, r"odd kernel size, got 4"),
    (dict(kernel_size=4, density=density.Gaussian(1.0)), ValueError, "odd kernel size"),
    (dict(kernel_size=3, density=[-0.5]), ValueError, r"den must be strictly positive.*-0.5"),
    (dict(kernel_size=3, density=[0.0]), ValueError, r"strictly positive.*0.0"),
    (dict(kernel_size=3, density=[math.nan]), ValueError, "finite"),
    (dict(kernel_size=3, density=[math.inf]), ValueError, "finite"),
    (dict(kernel_size=3, density=torch.tensor([[1.0, 0, 1], [1, 1, 1], [1, 1, 1]])), ValueError,
     "density mask must be strictly positive"),
    (dict(kernel_size=3, density="cauchy"), ValueError, r"'cauchy'.*known families"),
    (dict(kernel_size=3, density="gaussian"), ValueError, "Gaussian\\(sigma"),
    (dict(kernel_size=3, density={"sigma": 1}), TypeError, "density must be"),
    (dict(kernel_size=(3, 5), density=[0.5]), ValueError, "anisotropic.*one den per axis"),
    (dict(kernel_size=(3, 5), density=([0.5],)), ValueError, "1 per-axis entries.*2 spatial axes"),
    (dict(kernel_size=3, density=density.Triangular(1.0)), ValueError, "half_width > 1"),
    (dict(kernel_size=3, learnable_density="yes"), TypeError, "learnable_density must be True or False"),
    (dict(kernel_size=3, density=torch.ones(3, 3), learnable_density=True), ValueError,
     "full mask tensor"),
    (dict(kernel_size=4, learnable_density=True), ValueError, "odd kernel sizes"),
    (dict(kernel_size=3, density=density.Profile([1, 2, 1.5]), learnable_density=True),
     ValueError, "symmetric profile with centre 1"),
    # Booleans are numbers to Python (True == 1), never density values.
    (dict(kernel_size=3, density=[True]), TypeError, r"boolean True at position 0 of \[True\]"),
    (dict(kernel_size=3, density=[np.True_]), TypeError, "boolean np.True_ at position 0"),
    (dict(kernel_size=5, density=(0.5, False)), TypeError, "boolean False at position 1"),
    (dict(kernel_size=(3, 5), density=([True], [0.3, 0.8])), TypeError, r"den must hold numbers.*True"),
    (dict(kernel_size=3, density=torch.ones(3, 3, dtype=torch.bool)), TypeError, "torch.bool"),
    # A mask entry that overflows the layer's dtype (float32 by default) is inf: refused.
    (dict(kernel_size=3, density=[1e300]), ValueError, r"density=\[1e\+300\] overflows torch.float32"),
    (dict(kernel_size=3, density=[1e20]), ValueError, r"density=\[1e\+20\] overflows torch.float32"),
    (dict(kernel_size=3, density=[1e200], dtype=torch.float64), ValueError,
     r"density=\[1e\+200\] overflows torch.float64"),  # the corner taps hold 1e200 ** 2
    (dict(kernel_size=3, density=[300.0], dtype=torch.float16), ValueError, "overflows torch.float16"),
    (dict(kernel_size=3, density=torch.full((3, 3), 1e39, dtype=torch.float64)), ValueError,
     r"mask tensor \(a tensor with min 1e\+39 and max 1e\+39\) overflows torch.float32"),
])
def test_layer_construction_errors(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        WeightedConv2d(2, 2, **kwargs)


@pytest.mark.parametrize("factory, bad, error", [
    (lambda v: density.Gaussian(v), -1.0, ValueError),
    (lambda v: density.Gaussian(v), 0, ValueError),
    (lambda v: density.Gaussian(v), "1", TypeError),
    (lambda v: density.Triangular(v), math.nan, ValueError),
    (lambda v: density.Symmetric(v), [0.5, "a"], TypeError),
    (lambda v: density.Profile(v), [1.0, -2.0], ValueError),
    (lambda v: density.Profile(v), [1.0, 1, True], TypeError),
    (lambda v: density.Symmetric(v), [True], TypeError),
    (lambda v: density.Gaussian(v), np.True_, TypeError),
])
def test_density_parameter_errors(factory, bad, error):
    with pytest.raises(error, match=repr(bad)[:4].replace("(", r"\(").replace("[", r"\[")):
        factory(bad)


@pytest.mark.parametrize("layer, shape", [
    (WeightedConv1d(2, 2, 3), (2, 2, 2, 8)),
    (WeightedConv2d(2, 2, 3), (2, 8)),
    (WeightedConv2d(2, 2, 3), (1, 1, 2, 8, 8)),
    (WeightedConv3d(2, 2, 3), (2, 8, 8)),
])
def test_wrong_input_dims(layer, shape):
    with pytest.raises(ValueError, match=rf"got input of shape {tuple(shape)}".replace("(", r"\(").replace(")", r"\)")):
        layer(torch.randn(*shape))


def test_input_must_be_a_tensor():
    with pytest.raises(TypeError, match="input must be a torch.Tensor"):
        WeightedConv2d(1, 1, 3)([[1.0]])


def test_surgery_errors():
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        wconv.convert("resnet")
    with pytest.raises(TypeError, match="kernel_sizes entries"):
        wconv.convert(nn.Sequential(nn.Conv2d(1, 1, 3)), kernel_sizes=["3"])
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        wconv.fold(None)


def test_mask_and_profile_errors():
    with pytest.raises(ValueError, match="kernel size must be a positive integer, got 0"):
        density.profile([0.5], 0)
    with pytest.raises(TypeError, match="kernel_size must be an int or a tuple"):
        density.mask([0.5], "3x3")


def test_density_that_fits_the_dtype_gives_finite_outputs():
    layer = WeightedConv2d(2, 2, 3, padding=1, density=[1e20], dtype=torch.float64)
    assert torch.isfinite(layer.density_mask).all()
    assert torch.isfinite(layer(torch.randn(1, 2, 5, 5, dtype=torch.float64))).all()


def test_learnable_density_must_stay_finite_as_exp_log_den():
    # 65504 is the largest float16: the fixed mask holds it, but log(65504) rounded to float16
    # gives exp(log_den) = inf.
    fixed = WeightedConv1d(1, 1, 3, density=[65504.0], dtype=torch.float16)
    assert torch.isfinite(fixed.density_mask).all()
    with pytest.raises(ValueError, match=r"density=\[65504.0\] overflows torch.float16 once "
                                         r"learnable \(stored as log_den"):
        WeightedConv1d(1, 1, 3, density=[65504.0], dtype=torch.float16, learnable_density=True)
    with pytest.raises(ValueError, match=r"density=\[1e\+20\] overflows torch.float32"):
        WeightedConv2d(1, 1, 3, density=[1e20], learnable_density=True)


def test_mask_dtype():
    assert density.mask([0.5], (3, 3), dtype=torch.float32).dtype == torch.float32
    with pytest.raises(ValueError, match=r"density=\[1e\+20\] overflows torch.float32"):
        density.mask([1e20], (3, 3), dtype=torch.float32)
    with pytest.raises(ValueError, match=r"overflows torch.float64"):
        density.mask([1e300], (3, 3))
    with pytest.raises(TypeError, match="floating point torch.dtype"):
        density.mask([0.5], 3, dtype=torch.int64)


def convs(*kernel_sizes):
    return nn.Sequential(*[nn.Conv2d(2, 2, k) for k in kernel_sizes])


@pytest.mark.parametrize("model, kwargs, pattern", [
    # A den of (k - 1) / 2 values fits k x k only: [0.1, 0.2] fits 5x5, the model is all 3x3.
    (convs(3, 3), dict(density=[0.1, 0.2]),
     r"density=\[0.1, 0.2\] fits none .* it fits 5x5 kernels .* convolutions are 3x3 \(2 layers\)"),
    (nn.Sequential(nn.Conv1d(2, 2, 3)), dict(density=[0.1, 0.2]), "fits size-5 kernels.*size-3"),
    (convs(3), dict(density=torch.ones(5, 5)), "a 5x5 mask tensor fits none .* 3x3 \\(1 layer\\)"),
    (convs(3), dict(density=density.Profile([1.0, 2.0, 1.0, 2.0, 1.0])), "fits 5x5 kernels"),
    (convs(3, 1), dict(density=density.Profile([2.0])),
     "fits 1x1 kernels.*only when kernel_sizes lists them"),
    # Families fit every odd size; on even kernels the message gives each size's reason.
    (convs(4, 2), dict(density=density.Gaussian(1.0)),
     r"Gaussian\(sigma=1\) fits none .*\n  4x4: .*odd kernel size, got 4;.*\n  2x2: "),
    (convs(3), dict(density=([0.5], [0.3, 0.8])), "3x3: den must hold .* got 2"),
    # The right size with a value the dtype cannot hold: that error, not a size mismatch.
    (convs(3), dict(density=[1e300]), r"density=\[1e\+300\] overflows torch.float64"),
    (convs(1, 1), {}, r"only convolutions are 1x1 \(2 layers\).*kernel_sizes=\[1\]"),
    (convs(3, 7), dict(density=density.Gaussian(1.0), kernel_sizes=[5]),
     r"kernel_sizes=\[5\] selects none .* 3x3 \(1 layer\), 7x7 \(1 layer\)"),
    (nn.Sequential(nn.Linear(2, 2), nn.ReLU()), {}, "no nn.Conv1d, nn.Conv2d or nn.Conv3d in the model"),
    (nn.Sequential(WeightedConv2d(2, 2, 3)), {}, r"weighted already \(1 layer\)"),
])
def test_convert_that_converts_nothing_raises(model, kwargs, pattern):
    before = [type(m) for m in model.modules()]
    with pytest.raises(ValueError, match=pattern):
        wconv.convert(model, inplace=True, **kwargs)
    assert [type(m) for m in model.modules()] == before


def test_convert_error_leaves_the_model_as_it_was():
    model = nn.Sequential(nn.Conv2d(2, 2, 3), nn.Conv2d(2, 2, 4))
    with pytest.raises(ValueError, match="odd kernel sizes"):  # the 4x4 cannot learn a profile
        wconv.convert(model, learnable_density=True, inplace=True)
    assert [type(m) for m in model] == [nn.Conv2d, nn.Conv2d]
