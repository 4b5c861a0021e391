"""Every bad input raises a ValueError or TypeError that names the argument and the value."""
import math

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
