"""Python side of the density explorer, and its browser arithmetic run under Node."""
import json
import shutil
import subprocess

import numpy as np
import pytest

pytest.importorskip("ipywidgets")
from wconv.experiments import images  # noqa: E402
from wconv.views import scripts, widgets  # noqa: E402
from wconv.views.widgets import DensityExplorer  # noqa: E402


def test_photo_is_the_downscaled_cameraman():
    from skimage import data

    image = images.photo(256)
    assert image.shape == (256, 256) and image.dtype == np.uint8
    full = data.camera().astype(float)
    assert abs(image.astype(float).mean() - full.mean()) < 1.0
    assert image[10, 20] == np.rint(full[20:22, 40:42].mean())
    with pytest.raises(ValueError, match="dividing 512"):
        images.photo(300)


def test_panel_builds_and_callbacks_update_state():
    panel = DensityExplorer(den=[0.25, 0.15, 0.55])
    assert panel.kernel_size == 7 and panel.den == [0.25, 0.15, 0.55]
    assert "den = [0.25, 0.15, 0.55]" in panel.readout.value
    before = panel.filtered()
    panel.den_sliders[2].value = 1.2
    assert panel.den == [0.25, 0.15, 1.2]
    assert "den = [0.25, 0.15, 1.20]" in panel.readout.value
    assert not np.allclose(panel.filtered(), before)
    panel.size_slider.value = 3
    assert panel.den == [0.25]
    assert [s.disabled for s in panel.den_sliders] == [False, True, True]
    assert panel.readout.value.startswith("k = 3 ")
    np.testing.assert_allclose(panel.mask(), np.outer([0.25, 1, 0.25], [0.25, 1, 0.25]))
    # DOM classes the browser view looks for
    assert f"{panel.uid}-den0" in panel.den_sliders[0]._dom_classes
    assert f"{panel.uid}-size" in panel.size_slider._dom_classes
    html = panel.html()
    assert panel.uid + "-view" in html and "wconvDensityExplorer.mount" in html


def test_mask_matches_wconv_density():
    from wconv import density

    panel = DensityExplorer(den=[0.3, 0.9], kernel_size=5)
    np.testing.assert_allclose(panel.mask(), density.mask([0.3, 0.9], (5, 5)).numpy())


def test_filter_is_a_normalised_weighted_box_blur():
    """Against a direct 2-D convolution with Φ / ΣΦ (scipy), edge replication."""
    from scipy import ndimage

    image = images.photo(128)
    den = [0.25, 0.15, 0.55]
    phi = np.outer(*(2 * [np.array([*den, 1, *den[::-1]])]))
    reference = ndimage.convolve(image.astype(float), phi / phi.sum(), mode="nearest")
    np.testing.assert_allclose(widgets.filter_image(image, den), reference, atol=1e-9)
    flat = np.full((9, 9), 77, np.uint8)
    np.testing.assert_allclose(widgets.filter_image(flat, [0.5]), 77.0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="kernel_size must be one of 3, 5, 7; got"):
        DensityExplorer(den=[0.5], kernel_size=9)
    with pytest.raises(ValueError, match="den values must lie in"):
        DensityExplorer(den=[2.5])
    with pytest.raises(TypeError, match="den must be"):
        widgets.filter_image(np.zeros((4, 4)), "0.5")
    with pytest.raises(ValueError, match="image must be 2-D"):
        widgets.filter_image(np.zeros((4, 4, 3)), [0.5])
    with pytest.raises(ValueError, match="needs 3 den values"):
        DensityExplorer(den=[0.5], kernel_size=7)


def test_browser_arithmetic_matches_python():
    """The JS that redraws the static pages computes what Python computes (run under Node)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    image = images.photo(64)
    cases = [[0.25, 0.15, 0.55], [0.5], [0.05, 1.5], [1.37, 0.8, 0.05]]
    js = f"""
const api = {scripts.node_loader("density_explorer")};
const cases = {json.dumps(cases)};
const pixels = api.decode({json.dumps(DensityExplorer(image=image).config()['image'])});
const out = cases.map(den => ({{
  profile: Array.from(api.profile(den)),
  filtered: Array.from(api.filter(pixels, 64, 64, den)),
  text: api.readoutText(den)}}));
process.stdout.write(JSON.stringify(out));
"""
    result = json.loads(subprocess.run([node, "-e", js], capture_output=True, text=True,
                                       check=True, timeout=60).stdout)
    for den, got in zip(cases, result):
        np.testing.assert_allclose(got["profile"], [*den, 1, *den[::-1]])
        np.testing.assert_allclose(np.reshape(got["filtered"], (64, 64)),
                                   widgets.filter_image(image, den), rtol=0, atol=1e-10)
        assert got["text"] == widgets.readout_text(den)
