"""The published numbers the book sets beside its own, each with its source and setting.

No notebook types a published number: it reads it from :data:`PUBLISHED`.

Example::

    >>> from wconv.views.published import PUBLISHED
    >>> p = PUBLISHED["weighted_vgg_cifar100"]
    >>> p["standard_top1"], p["weighted_top1"]
    (56.89, 66.94)
"""
from __future__ import annotations

__all__ = ["PUBLISHED"]

_FIRST = "Cammarasana & Patanè 2025 (arXiv 2505.24558)"
_SECOND = "Cammarasana & Patanè 2025 (arXiv 2505.24527)"

#: ``key -> {"label", "data", <numbers>, "training"}``; accuracies in %, PSNR in dB.
PUBLISHED = {
    "weighted_vgg_cifar100": {
        "label": f"{_FIRST}, VGG", "data": "CIFAR-100 test split",
        "standard_top1": 56.89, "weighted_top1": 66.94,
        "training": "the paper's protocol (see the paper)"},
    "optimal_density_cifar100": {
        "label": f"{_SECOND}, optimal densities", "data": "CIFAR-100 test split",
        "standard_top1": 46.0, "weighted_top1": 53.0,
        "training": "the paper's protocol (see the paper)"},
    "resnet20_cifar100": {
        "label": "chenyaofo/pytorch-cifar-models, ResNet-20", "data": "CIFAR-100 test split",
        "top1": 68.83, "training": "all 50,000 training images, 200 epochs, standard SGD recipe"},
    "vgg11_bn_cifar100": {
        "label": "chenyaofo/pytorch-cifar-models, VGG-11-BN", "data": "CIFAR-100 test split",
        "top1": 70.78, "training": "all 50,000 training images, 200 epochs, standard SGD recipe"},
    "weighted_dncnn_div2k": {
        "label": f"{_FIRST}, DnCNN", "data": "DIV2K",
        "standard_psnr": 20.17, "weighted_psnr": 22.63,
        "training": "the paper's protocol (see the paper)"},
    "cdncnn_cbsd68_sigma25": {
        "label": "Zhang et al. 2017, colour DnCNN (CDnCNN-B)", "data": "CBSD68, σ = 25",
        "psnr": 31.2,
        "training": "432 colour BSD images, 50 epochs of 128 × 3,000 patches of 50 × 50 "
                    "(about 19 million patches), 20 layers × 64 channels"},
}
