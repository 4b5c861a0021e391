"""wconv.views.plots draws what it is given, on the axes it is given, with labelled axes."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from wconv import density  # noqa: E402
from wconv.views import plots, tables  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_profile_draws_the_profile_on_given_axes():
    fig, ax = plt.subplots()
    out = plots.plot_profile([0.25, 0.15, 0.55], ax=ax)
    assert out is ax
    x, y = ax.lines[0].get_data()
    np.testing.assert_allclose(x, [-3, -2, -1, 0, 1, 2, 3])
    np.testing.assert_allclose(y, [0.25, 0.15, 0.55, 1, 0.55, 0.15, 0.25])
    assert "taps" in ax.get_xlabel() and "weight" in ax.get_ylabel()
    ax2 = plots.plot_profile(density.Gaussian(1.0), size=5)
    np.testing.assert_allclose(ax2.lines[0].get_data()[1], density.profile(density.Gaussian(1.0), 5))
    with pytest.raises(ValueError, match="size is needed"):
        plots.plot_profile(density.Gaussian(1.0))


def test_mask_heat_map_values_and_colour_bar():
    ax = plots.plot_mask([0.5, 0.2])
    np.testing.assert_allclose(ax.images[0].get_array(), density.mask([0.5, 0.2], (5, 5)).numpy())
    assert len(ax.texts) == 25 and ax.texts[0].get_text() == f"{0.5 * 0.5:.2f}"
    assert len(ax.figure.axes) == 2  # the colour bar
    assert ax.figure.axes[1].get_ylabel() == "weight Φ"
    assert "taps" in ax.get_xlabel() and "taps" in ax.get_ylabel()


def test_fits_overlay_and_residuals():
    fig, fits = plots.plot_fits([0.25, 0.15, 0.55])
    top, bottom = fig.axes
    assert set(fits) == {"gaussian", "triangular"}
    for family, fit in fits.items():
        assert fit.residual == pytest.approx(density.fit([0.25, 0.15, 0.55], family).residual)
    # residual lines are fitted - target
    target = density.profile([0.25, 0.15, 0.55], 7).numpy()
    np.testing.assert_allclose(bottom.lines[0].get_data()[1],
                               fits["gaussian"].fitted.numpy() - target)
    # a Gaussian profile is fitted by a Gaussian exactly
    _, exact = plots.plot_fits(torch.exp(-torch.arange(-2.0, 3.0) ** 2 / 2).double())
    assert exact["gaussian"].residual < 1e-12
    assert exact["gaussian"].params["sigma"] == pytest.approx(1.0, rel=1e-5)
    with pytest.raises(TypeError, match="pair"):
        plots.plot_fits([0.5], ax=plt.gca())


def test_mask_grid_and_fit_table():
    fig = plots.plot_mask_grid({"3×3": [0.5], "5×5": [0.3, 0.7], "7×7": [0.25, 0.15, 0.55]})
    shown = [ax for ax in fig.axes if ax.images]
    assert [ax.images[0].get_array().shape for ax in shown] == [(3, 3), (5, 5), (7, 7)]
    assert [ax.get_title() for ax in shown] == ["3×3", "5×5", "7×7"]
    rows = plots.fit_table({"opt": [0.25, 0.15, 0.55], "gauss": density.profile(density.Gaussian(1.5), 7)})
    assert rows[1]["Gauss rel. SSR"] < 1e-12 and rows[1]["better"] == "Gaussian"
    assert rows[0]["Gauss rel. SSR"] == pytest.approx(density.fit([0.25, 0.15, 0.55], "gaussian").residual / 1.775)
    with pytest.raises(ValueError, match="empty"):
        plots.plot_mask_grid([])


def test_range_band_and_summary():
    ax = plots.plot_range([0.05, 0.05], [1.0, 1.0])
    assert len(ax.collections) == 1
    np.testing.assert_allclose(ax.lines[0].get_data()[1], [0.05, 0.05, 1, 0.05, 0.05])
    summary = plots.range_fit_summary([0.5], [1.5], n=6, seed=1)
    assert summary["n"] == 6 and 0 <= summary["monotone"] <= 1
    # 3x3: den in [0.5, 1.5] is monotone exactly when den <= 1; a 1.5 den is an inverted profile
    draws = 0.5 + torch.rand((6, 1), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert summary["monotone"] == pytest.approx(float((draws <= 1).double().mean()))
    assert plots.fit_table({"inverted": [1.5]})[0]["flat fit"]
    with pytest.raises(ValueError, match="low <= high"):
        plots.range_fit_summary([1.0], [0.5], n=2)


def test_fit_table_as_markdown():
    text = tables.from_dicts(plots.fit_table({"opt": [0.25, 0.15, 0.55]}))
    header, rule, row = text.splitlines()
    assert "σ (taps)" in header and rule.count("---") == header.count("|") - 1 and "1.057" in row
    with pytest.raises(ValueError, match="empty"):
        tables.from_dicts([])


def test_fits_grid():
    fig, fits = plots.plot_fits_grid({"a": [0.5], "b": [0.05, 0.05], "c": [0.25, 0.15, 0.55]},
                                     ncols=2)
    assert list(fits) == ["a", "b", "c"]
    assert fits["c"]["gaussian"].residual == pytest.approx(
        density.fit([0.25, 0.15, 0.55], "gaussian").residual)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 6
    with pytest.raises(ValueError, match="non-empty dict"):
        plots.plot_fits_grid({})


def test_fit_table_better_column():
    rows = plots.fit_table({"flat": [1.0, 1.0], "tie": [0.5], "spike": [0.05, 0.05]})
    assert [r["better"] for r in rows] == ["neither (flat)", "tie", "Gaussian"]
