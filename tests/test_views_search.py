"""wconv.views.search: the progress plot of a running search and the notebook panel."""
import pytest
from toy_objectives import quadratic

from wconv.density import PAPER_OPTIMUM_7X7
from wconv.experiments import search
from wconv.views.search import ProgressPlot, search_panel


@pytest.mark.parametrize("kernel_size, bounds", [(3, None), (5, None), (7, 1)])
def test_progress_plot_draws_each_dimension(kernel_size, bounds):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f = quadratic(PAPER_OPTIMUM_7X7[: (kernel_size - 1) // 2])
    grid = search.grid_search(f, kernel_size, bounds, max_evals=9)
    for landscape in (f, grid):
        plot = ProgressPlot(kernel_size, bounds, landscape=landscape, live=False, every=4,
                                   logy=landscape is f)
        result = search.direct_search(f, kernel_size, bounds, max_evals=9, callback=plot)
        plot.finish(result)
        assert len(plot.evaluations) == 9
        assert plot.ax_values.get_xlabel() == "evaluation"
        assert len(plot.ax_values.lines[0].get_xdata()) == 9
        plt.close(plot.fig)


def test_search_panel_builds():
    panel = search_panel(max_evals=7)
    (task, size, which), (method, budget, run) = (panel.children[0].children,
                                                  panel.children[1].children)
    assert budget.value == 7 and len(which.options) == 1
    size.value = 7
    assert [label for label, _ in which.options] == ["[0.05, 0.5]^3", "[0.15, 1]^3", "[0.25, 1.5]^3"]
