"""VGG and ResNet with standard or weighted convolutions, kernel sizes, named densities."""
import pytest
import torch
from torch import nn

import wconv
from wconv import density
from wconv.experiments import classifiers


@pytest.mark.parametrize("arch", list(classifiers.ARCHITECTURES))
@pytest.mark.parametrize("kernel_size", [3, 5, 7])
def test_shapes_and_layer_types(arch, kernel_size):
    width = 0.125 if arch in ("vgg16", "resnet18") else 0.25
    std = classifiers.build_model(arch, num_classes=10, kernel_size=kernel_size, width=width)
    wtd = classifiers.build_model(arch, num_classes=10, kernel_size=kernel_size, density="gaussian",
                             width=width)
    x = torch.randn(2, 3, 32, 32)
    assert std(x).shape == wtd(x).shape == (2, 10)
    std_convs = [m for m in std.modules() if isinstance(m, nn.Conv2d)]
    wtd_convs = [m for m in wtd.modules() if isinstance(m, nn.Conv2d)]
    assert len(std_convs) == len(wtd_convs)
    for s, w in zip(std_convs, wtd_convs):
        assert not isinstance(s, wconv.WeightedConv2d)
        if s.kernel_size == (kernel_size, kernel_size):
            assert isinstance(w, wconv.WeightedConv2d)
            assert s.padding == (kernel_size // 2,) * 2
        else:  # ResNet's 1x1 shortcuts stay standard
            assert s.kernel_size == (1, 1) and type(w) is nn.Conv2d
    assert sum(p.numel() for p in std.parameters()) == sum(p.numel() for p in wtd.parameters())


def test_layer_counts():
    count = lambda m: sum(1 for x in m.modules() if isinstance(x, nn.Conv2d) and x.kernel_size == (3, 3))
    assert count(classifiers.vgg11()) == 8 and count(classifiers.vgg16()) == 13
    assert count(classifiers.resnet20()) == 19 and count(classifiers.resnet18()) == 17
    assert classifiers.vgg11(width=0.25).classifier.in_features == 128


def test_same_seed_same_initial_weights():
    torch.manual_seed(7)
    std = classifiers.build_model("resnet20", kernel_size=5, width=0.5)
    torch.manual_seed(7)
    wtd = classifiers.build_model("resnet20", kernel_size=5, density="paper", width=0.5)
    weighted = dict(wtd.named_parameters())
    assert list(weighted) == [name for name, _ in std.named_parameters()]
    for name, a in std.named_parameters():
        assert torch.equal(a, weighted[name]), name


def test_named_densities():
    assert density.named_density("uniform", 3) is None
    assert density.named_density("paper", 3) == (0.7,)
    assert density.named_density("paper", 7) == density.PAPER_OPTIMUM_7X7
    for k, den in density.PAPER_DEN.items():  # inside the papers' suggested ranges
        assert any(all(lo <= v <= hi for v, lo, hi in zip(den, low, high))
                   for low, high in density.PAPER_RANGES[k]), (k, den)
    g = density.profile(density.named_density("gaussian", 5), 5)
    assert torch.allclose(g, torch.exp(-torch.tensor([2.0, 1, 0, 1, 2], dtype=torch.float64) ** 2 / 2))
    t = density.profile(density.named_density("triangular", 7), 7)
    assert torch.allclose(t, torch.tensor([0.25, 0.5, 0.75, 1, 0.75, 0.5, 0.25], dtype=torch.float64))
    net = classifiers.build_model("vgg11", kernel_size=7, density="paper", width=0.125)
    layer = net.features[0]
    assert torch.allclose(layer.den()[0], torch.tensor([0.25, 0.15, 0.55]))


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(arch="alexnet"), "arch must be one of vgg11, vgg16, resnet20, resnet18; got 'alexnet'"),
    (dict(arch="vgg11", kernel_size=4), "kernel_size must be one of 3, 5, 7; got 4"),
    (dict(arch="vgg11", density="cauchy"),
     "density must be one of uniform, paper, gaussian, triangular; got 'cauchy'"),
    (dict(arch="vgg11", width=0), "width must be a positive number, got 0"),
    (dict(arch="vgg11", num_classes=0), "num_classes must be a positive integer, got 0"),
])
def test_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        classifiers.build_model(**kwargs)


def test_vgg_is_the_batchnorm_variant():
    """``vgg11`` is torchvision's ``vgg11_bn`` layout: BatchNorm after every convolution."""
    net = classifiers.vgg11(width=0.25)
    layers = list(net.features)
    convs = [i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d)]
    assert len(convs) == 8
    assert all(isinstance(layers[i + 1], nn.BatchNorm2d) for i in convs)
