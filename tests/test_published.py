"""The published numbers: every entry names its source, data and setting."""
from wconv.views.published import PUBLISHED


def test_every_entry_has_a_source_data_setting_and_numbers():
    for key, entry in PUBLISHED.items():
        assert {"label", "data", "training"} <= set(entry), key
        numbers = {k: v for k, v in entry.items() if k not in ("label", "data", "training")}
        assert numbers and all(isinstance(v, float) for v in numbers.values()), key
        if "standard_top1" in entry:   # a paper's claim: the weighted model ahead
            assert entry["weighted_top1"] > entry["standard_top1"], key


def test_the_papers_claims_as_the_book_quotes_them():
    vgg, dncnn = PUBLISHED["weighted_vgg_cifar100"], PUBLISHED["weighted_dncnn_div2k"]
    assert (vgg["standard_top1"], vgg["weighted_top1"]) == (56.89, 66.94)
    assert (dncnn["standard_psnr"], dncnn["weighted_psnr"]) == (20.17, 22.63)
    assert "2505.24558" in vgg["label"] and "2505.24527" in PUBLISHED["optimal_density_cifar100"]["label"]
