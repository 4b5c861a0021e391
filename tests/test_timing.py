"""Chapter 3's views of the layer benchmark."""
import matplotlib

matplotlib.use("Agg")

from wconv.experiments import bench  # noqa: E402
from wconv.views import timing  # noqa: E402


def test_layer_table_and_plot_from_a_real_timing():
    rows = bench.run([bench.LayerShape("tiny", 2, 3, 4, 8, 3)], repeats=2)
    text = timing.layer_table(rows)
    lines = text.splitlines()
    assert lines[0].startswith("| layer | k | input | Conv2d (ms) |") and lines[1].count("---") == 11
    assert lines[2].startswith("| tiny | 3 | 2×3×8×8 |")
    assert f"weighted, forward+backward {rows[0]['train_ratio']:.3f}" in lines[-1]
    fig = timing.plot_layer_ratios(rows)
    assert fig.axes[0].get_xlabel() == "time relative to nn.Conv2d (ratio, log scale)"
    assert len(fig.axes[0].patches) == 3     # one bar per ratio for the one shape
