"""convert, fold and state_dict round trips on torchvision's resnet18."""
import io

import pytest
import torch
import torchvision
from torch import nn

import wconv
from wconv import WeightedConv2d
from wconv.conv import WeightedConvMixin


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=10).eval()


@pytest.fixture(scope="module")
def image_batch():
    return torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))


def weighted_layers(model):
    return [m for m in model.modules() if isinstance(m, WeightedConv2d)]


def test_convert_uniform_keeps_outputs(resnet, image_batch):
    converted = wconv.convert(resnet)
    assert len(weighted_layers(converted)) == 17  # 7x7 stem + 16 3x3; 1x1 are skipped
    with torch.no_grad():
        torch.testing.assert_close(converted(image_batch), resnet(image_batch))
    assert not weighted_layers(resnet), "convert must not modify the original by default"


def test_convert_only_where_the_density_fits(resnet):
    converted = wconv.convert(resnet, density=[0.5])
    assert len(weighted_layers(converted)) == 16  # the 3x3 ones
    assert type(converted.conv1) is nn.Conv2d
    for layer in weighted_layers(converted):
        assert layer.kernel_size == (3, 3)


def test_convert_keeps_weights_and_kernel_size_filter(resnet):
    converted = wconv.convert(resnet, density=wconv.density.Gaussian(1.0), kernel_sizes=[7])
    assert weighted_layers(converted) == [converted.conv1]
    assert torch.equal(converted.conv1.weight, resnet.conv1.weight)
    with pytest.raises(ValueError, match="den"):
        wconv.convert(resnet, density=[0.5], kernel_sizes=[7])


def test_fold_gives_plain_convolutions_and_same_outputs(resnet, image_batch):
    weighted = wconv.convert(resnet, density=[0.4])
    folded = wconv.fold(weighted)
    assert not weighted_layers(folded)
    assert weighted_layers(weighted), "fold must not modify the original by default"
    with torch.no_grad():
        torch.testing.assert_close(folded(image_batch), weighted(image_batch))
        assert not torch.allclose(weighted(image_batch), resnet(image_batch))


def test_fold_learnable(image_batch):
    torch.manual_seed(0)
    model = nn.Sequential(WeightedConv2d(3, 4, 5, padding=2, density=[0.2, 0.6],
                                         learnable_density=True), nn.ReLU())
    with torch.no_grad():
        model[0].log_den[0].add_(0.3)
        torch.testing.assert_close(wconv.fold(model)(image_batch), model(image_batch))


def test_state_dict_round_trip(resnet, image_batch):
    source = wconv.convert(resnet, density=[0.3], learnable_density=True)
    with torch.no_grad():
        for layer in weighted_layers(source):
            layer.log_den[0].fill_(-0.5)
    buffer = io.BytesIO()
    torch.save(source.state_dict(), buffer)
    buffer.seek(0)
    target = wconv.convert(torchvision.models.resnet18(num_classes=10), density=[0.3],
                           learnable_density=True).eval()
    target.load_state_dict(torch.load(buffer))
    with torch.no_grad():
        torch.testing.assert_close(target(image_batch), source(image_batch))


def test_fixed_density_mask_is_saved():
    layer = WeightedConv2d(2, 2, 3, density=[0.5])
    other = WeightedConv2d(2, 2, 3)
    other.load_state_dict(layer.state_dict())
    assert torch.equal(other.density_mask, layer.density_mask)


@pytest.mark.parametrize("density, converted", [
    (([0.5], [0.3, 0.8]), [(3, 5)]),                     # one den per axis: that shape only
    (wconv.density.Gaussian(1.0), [(5,), (3, 5), (7, 7)]),  # a family: every odd size
    (torch.full((7, 7), 0.5), [(7, 7)]),                  # a mask: its own shape
    ([0.2, 0.4, 0.6], [(7, 7)]),                          # a den of 3 values: 7x7 (and size 7)
])
def test_convert_converts_what_the_density_fits(density, converted):
    model = nn.Sequential(nn.Conv1d(2, 2, 5), nn.Conv2d(2, 2, (3, 5)), nn.Conv2d(2, 2, 4),
                          nn.Conv2d(2, 2, 7), nn.Conv2d(2, 2, 1))
    result = wconv.convert(model, density=density)
    assert [m.kernel_size for m in result if isinstance(m, WeightedConvMixin)] == converted
