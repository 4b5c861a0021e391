"""How much work a denoising run does: budgets, the fields a configuration stores, step counts."""
from __future__ import annotations

import pytest
import torch

from wconv.experiments import denoise, train
from wconv.experiments.denoise_budgets import (
    BUDGETS,
    LEGACY_RECIPE,
    PLAN_FIELDS,
    estimate_minutes,
    steps_per_epoch,
    total_steps,
)


def test_config_fields_leave_out_the_grid_and_the_legacy_recipe():
    quick, book = BUDGETS["quick"].config_fields(), BUDGETS["book"].config_fields()
    assert not set(PLAN_FIELDS) & set(quick) and not set(PLAN_FIELDS) & set(book)
    assert not set(LEGACY_RECIPE) & set(quick)                  # keys of the stored quick runs
    assert book["zero_last"] is True and book["warmup"] == 0.05 and book["grad_clip"] == 1.0
    cfg = denoise.make_config("dncnn", "paper", 7, budget="quick")
    assert {k: cfg[k] for k in quick if k not in ("source", "train_sigma")} == \
        {k: v for k, v in quick.items() if k not in ("source", "train_sigma")}


def _warmup_steps(config) -> int:
    """The steps the engine's scheduler warms up for ``config``: those with a factor below 1,
    and the one that reaches 1 after them."""
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    factor = train.make_scheduler(opt, "cosine", total_steps(config), config.get("warmup")).lr_lambdas[0]
    rising = next(s for s in range(total_steps(config)) if factor(s) == 1.0)
    return rising + 1 if rising else 0


def test_steps_and_estimates():
    cfg = denoise.make_config("dncnn", "paper", 7, budget="book")
    assert steps_per_epoch(cfg) == BUDGETS["book"].steps_per_epoch == 100
    assert total_steps(cfg) == 5000 and _warmup_steps(cfg) == 250
    assert _warmup_steps(denoise.make_config("dncnn", "paper", 7, budget="quick")) == 0
    assert estimate_minutes(cfg) == pytest.approx((5000 * 0.044 + 40.0) / 60)
    done = {"config": cfg, "train_time_s": 600.0, "wall_time_s": 660.0}
    assert estimate_minutes(cfg, [done]) == pytest.approx(11.0)       # a stored run's own speed
    assert estimate_minutes(denoise.make_config("dncnn", "paper", 7, budget="full")) is None
