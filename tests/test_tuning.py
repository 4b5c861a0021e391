"""The one learning-rate choice rule."""
import math

import pytest

from wconv.experiments import tuning


def test_best_score_wins_ties_go_to_the_smaller_rate():
    assert tuning.choose_lr([0.05, 0.1, 0.2, 0.4], [36.1, 39.2, 40.1, 43.4]) == 0.4
    assert tuning.choose_lr([0.05, 0.1, 0.2], [40.0, 42.5, 42.5]) == 0.1
    assert tuning.choose_lr([3e-4, 1e-3, 3e-3], [28.1, 28.4, 28.43], tie=0.05) == 1e-3
    assert tuning.choose_lr([3e-4, 1e-3, 3e-3], [28.1, 28.4, 28.43]) == 3e-3


def test_a_diverged_run_never_wins():
    assert tuning.choose_lr([1e-3, 3e-3], [27.0, math.nan]) == 1e-3
    assert tuning.choose_lr([1e-3, 3e-3], [None, 20.0]) == 3e-3
    with pytest.raises(ValueError, match="no finite tuning score"):
        tuning.choose_lr([1e-3], [None])
    with pytest.raises(ValueError, match="one score per learning rate, got 2 rates and 1 scores"):
        tuning.choose_lr([1e-3, 3e-3], [1.0])
    with pytest.raises(ValueError, match="tie must be a non-negative number"):
        tuning.choose_lr([1e-3], [1.0], tie=-1)


def test_at_edge():
    assert tuning.at_edge([0.05, 0.1, 0.2], 0.2) and tuning.at_edge([0.05, 0.1, 0.2], 0.05)
    assert not tuning.at_edge([0.05, 0.1, 0.2], 0.1)
