"""Density families, masks and least-squares fits."""
import math

import pytest
import torch

from wconv import density


def test_papers_den_profile_and_mask():
    p = density.profile([0.25, 0.15, 0.55], 7)
    assert p.tolist() == pytest.approx([0.25, 0.15, 0.55, 1, 0.55, 0.15, 0.25])
    m = density.mask([0.5], (3, 3))
    expected = torch.tensor([[0.25, 0.5, 0.25], [0.5, 1, 0.5], [0.25, 0.5, 0.25]], dtype=torch.float64)
    torch.testing.assert_close(m, expected)
    m3 = density.mask((0.5,), 3)
    assert m3.shape == (3,)
    cube = density.mask([0.5], (3, 3, 3))
    assert cube[0, 0, 0].item() == pytest.approx(0.125) and cube[1, 1, 1].item() == 1


def test_families():
    g = density.Gaussian(1.0).profile(5)
    assert g.tolist() == pytest.approx([math.exp(-2), math.exp(-0.5), 1, math.exp(-0.5), math.exp(-2)])
    t = density.Triangular(2.0).profile(3)
    assert t.tolist() == pytest.approx([0.5, 1, 0.5])
    assert density.Uniform().profile(4).tolist() == [1, 1, 1, 1]
    assert density.Profile([1, 2, 3, 4]).profile(4).tolist() == [1, 2, 3, 4]


def test_anisotropic_one_profile_per_axis():
    m = density.mask(([0.5], density.Gaussian(1.0)), (3, 5))
    assert m.shape == (3, 5)
    expected = torch.outer(density.profile([0.5], 3), density.Gaussian(1.0).profile(5))
    torch.testing.assert_close(m, expected)
    # A family applies along every axis whatever its length.
    assert density.mask(density.Gaussian(2.0), (3, 7)).shape == (3, 7)


@pytest.mark.parametrize("family, cls, name", [("gaussian", density.Gaussian, "sigma"),
                                               ("triangular", density.Triangular, "half_width")])
@pytest.mark.parametrize("size", [3, 5, 7])
def test_fit_recovers_a_member_of_the_family(family, cls, name, size):
    true = {"gaussian": 1.3, "triangular": 4.2}[family]
    target = 0.7 * cls(true).profile(size)
    result = density.fit(target, family)
    assert result.params[name] == pytest.approx(true, rel=1e-4)
    assert result.params["scale"] == pytest.approx(0.7, rel=1e-4)
    assert result.residual < 1e-10
    torch.testing.assert_close(result.fitted, target, rtol=1e-5, atol=1e-6)


def test_fit_of_the_papers_optimum_has_a_real_residual():
    for family in ("gaussian", "triangular"):
        result = density.fit(list(density.PAPER_OPTIMUM_7X7), family)
        assert result.residual > 0.01  # non-monotonic: neither family matches it
        target = density.profile(list(density.PAPER_OPTIMUM_7X7), 7)
        assert result.residual == pytest.approx(float(((result.fitted - target) ** 2).sum()))
        assert result.rms == pytest.approx(math.sqrt(result.residual / 7))


def test_fit_rejects_unknown_family():
    with pytest.raises(ValueError, match="family"):
        density.fit([0.5], "cauchy")


def test_paper_ranges_are_consistent():
    for k, ranges in density.PAPER_RANGES.items():
        for low, high in ranges:
            assert len(low) == len(high) == (k - 1) // 2
            assert all(a < b for a, b in zip(low, high))
