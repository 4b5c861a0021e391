"""What a stored denoising run measured: its gain over the noisy input, collapse and plateau."""
from __future__ import annotations

from wconv.experiments import denoise, results
from wconv.experiments.denoise_measures import (
    as_float,
    collapsed,
    curve,
    gains,
    plateau,
)


def _record(gain25, curve=(20.0, 25.0, 27.0, 27.5, 27.55), budget="smoke", **config):
    """A stored-record-shaped dict: CBSD68 first, with the given gain at σ = 25."""
    cfg = {"patches_per_epoch": 100, "batch_size": 10, "budget": budget, "test_sigmas": [15, 25, 50],
           **config}
    per_sigma = lambda g: {"mean_psnr": 20.0 + g, "noisy_mean_psnr": 20.0}
    return {"config": cfg, "epochs": [{"epoch": i, "val_psnr": v} for i, v in enumerate(curve, 1)],
            "test": {"CBSD68": {"15": per_sigma(5.0), "25": per_sigma(gain25), "50": per_sigma(2.0)},
                     "Kodak24": {"15": per_sigma(9.0), "25": per_sigma(9.0), "50": per_sigma(9.0)}}}


def test_collapse_is_computed_from_a_record_and_flags_the_old_collapsed_baselines():
    assert collapsed(_record(0.99)) and not collapsed(_record(1.01))
    assert collapsed(_record(-0.3))                    # worse than the input: collapsed too
    assert gains(_record(0.5))["Kodak24"]["25"] == 9.0  # the first test set decides
    assert not collapsed(_record(0.5), threshold=0.4)
    diverged = _record(0.0)
    diverged["test"]["CBSD68"]["25"]["mean_psnr"] = None        # a NaN stored as null
    assert collapsed(diverged) and gains(diverged)["CBSD68"]["25"] is None
    # The stored quick runs (the earlier book grid): every standard DnCNN collapsed, no weighted one.
    recs = [results.load(c) for c in denoise.grid("chapter5", "quick")]
    assert all(r is not None for r in recs)
    flagged = {r["config"]["name"] for r in recs if collapsed(r)}
    assert flagged == {f"dncnn-k{k}-uniform-s{s}-quick" for k in (3, 7) for s in range(3)}
    assert all(r["collapsed"] == collapsed(r) for r in recs if "collapsed" in r)


def test_plateau_from_the_curve():
    assert curve(_record(5))[:2] == [(10, 20.0), (20, 25.0)]      # 10 steps per epoch
    flat = plateau(_record(5))                           # 27.5 -> 27.55 over the last 20 %
    assert flat["reached"] and flat["from_step"] == 40 and flat["to_step"] == 50
    assert round(flat["gain_db"], 6) == 0.05
    rising = plateau(_record(5, curve=(20, 22, 24, 26, 28)))
    assert not rising["reached"] and rising["gain_db"] == 2
    assert not plateau(_record(5, curve=(27.0,)))["reached"]     # one point shows nothing
    assert not plateau(_record(5, curve=(27.0, 27.0, float("nan"))))["reached"]
    assert plateau(_record(5, curve=(20, 27.0, 27.0, 26.0)), fraction=0.5)["reached"]  # falling
    assert not plateau(_record(5), tol_db=0.05)["reached"]      # the gain must be below tol
    assert as_float(None) != as_float(None) and as_float(3) == 3.0
