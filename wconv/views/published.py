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

_PAPERS_PROTOCOL = "the paper's protocol (see the paper)"
_ZOO = "all 50,000 training images, 200 epochs, standard SGD recipe"


def _entry(label: str, data: str, training: str, **numbers) -> dict:
    return {"label": label, "data": data, **numbers, "training": training}


#: ``key -> {"label", "data", <numbers>, "training"}``; accuracies in %, PSNR in dB.
PUBLISHED = {
    "weighted_vgg_cifar100": _entry(f"{_FIRST}, VGG", "CIFAR-100 test split", _PAPERS_PROTOCOL,
                                    standard_top1=56.89, weighted_top1=66.94),
    "optimal_density_cifar100": _entry(f"{_SECOND}, optimal densities", "CIFAR-100 test split",
                                       _PAPERS_PROTOCOL, standard_top1=46.0, weighted_top1=53.0),
    "optimal_density_denoising_loss": _entry(
        f"{_SECOND}, denoising with optimal densities", "the paper's denoising data",
        _PAPERS_PROTOCOL, loss_reduction=0.53, time_overhead=0.11),
    "resnet20_cifar100": _entry("chenyaofo/pytorch-cifar-models, ResNet-20",
                                "CIFAR-100 test split", _ZOO, top1=68.83),
    "vgg11_bn_cifar100": _entry("chenyaofo/pytorch-cifar-models, VGG-11-BN",
                                "CIFAR-100 test split", _ZOO, top1=70.78),
    "weighted_dncnn_div2k": _entry(f"{_FIRST}, DnCNN", "DIV2K", _PAPERS_PROTOCOL,
                                   standard_psnr=20.17, weighted_psnr=22.63),
    "cdncnn_cbsd68_sigma25": _entry(
        "Zhang et al. 2017, colour DnCNN (CDnCNN-B)", "CBSD68, σ = 25",
        "432 colour BSD images, 50 epochs of 128 × 3,000 patches of 50 × 50 (about 19 million "
        "patches), 20 layers × 64 channels", psnr=31.2),
}
