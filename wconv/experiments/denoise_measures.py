r"""What a stored denoising run measured, beyond its scores: gain, collapse, plateau.

Each is computed from a record of :func:`wconv.experiments.denoise.run` (its test scores and
its validation curve), so it applies as well to records stored before the run stored it:

* :func:`gains`: PSNR of the output over the noisy input, per test set and σ;
* :func:`collapsed`: the network returns (nearly) its input (:data:`COLLAPSE_DB`);
* :func:`plateau`: the validation curve has flattened (:data:`PLATEAU_DB` over the last
  :data:`PLATEAU_FRACTION` of the steps), read from :func:`curve`.

Example::

    >>> from wconv.experiments.denoise_measures import collapsed
    >>> collapsed({"test": {"CBSD68": {"25": {"mean_psnr": 20.9, "noisy_mean_psnr": 20.5}}}})
    True
"""
from __future__ import annotations

import math

from .denoise_budgets import steps_per_epoch

__all__ = ["COLLAPSE_DB", "PLATEAU_DB", "PLATEAU_FRACTION", "as_float", "gains", "collapsed",
           "curve", "plateau"]

#: A run gaining less than this over the noisy input (first test set, σ = 25) has collapsed:
#: its network returns (nearly) its input.
COLLAPSE_DB = 1.0
#: A run is at its plateau when its validation PSNR gains less than ``PLATEAU_DB`` over
#: the last ``PLATEAU_FRACTION`` of its steps.
PLATEAU_DB = 0.1
PLATEAU_FRACTION = 0.2


def as_float(value) -> float:
    """A stored number as a float; ``None`` (a diverged run's NaN, stored as JSON null) as NaN."""
    return float("nan") if value is None else float(value)


def gains(record: dict, config: dict | None = None) -> dict:
    """PSNR gain of the output over the noisy input (dB), per test set and σ (``str``);
    ``None`` where the output's PSNR is not a number (a diverged run)."""
    config = config or record["config"]
    out = {}
    for name, per_set in record["test"].items():
        out[name] = {}
        for sg in config["test_sigmas"]:
            g = as_float(per_set[str(sg)]["mean_psnr"]) - per_set[str(sg)]["noisy_mean_psnr"]
            out[name][str(sg)] = g if math.isfinite(g) else None
    return out


def collapsed(record: dict, threshold: float = COLLAPSE_DB) -> bool:
    """Whether a run's output is within ``threshold`` dB of its noisy input on the first
    test set at σ = 25: the network learnt to return its input.

    Computed from the test scores, so it applies to records stored before the flag was.

    Example::

        >>> rec = {"test": {"CBSD68": {"25": {"mean_psnr": 20.9, "noisy_mean_psnr": 20.5}}}}
        >>> collapsed(rec), collapsed(rec, threshold=0.3)
        (True, False)
    """
    first = next(iter(record["test"].values()))["25"]
    gain = as_float(first["mean_psnr"]) - first["noisy_mean_psnr"]
    return bool(not gain >= threshold)      # a diverged run (NaN) does not denoise either


def curve(record: dict) -> list[tuple[int, float]]:
    """``(steps, validation PSNR at σ = 25)`` after every epoch of a run."""
    n = steps_per_epoch(record["config"])
    return [(e["epoch"] * n, as_float(e["val_psnr"])) for e in record["epochs"]]


def plateau(record: dict, tol_db: float = PLATEAU_DB, fraction: float = PLATEAU_FRACTION) -> dict:
    """Whether a run trained to its plateau: validation PSNR gained less than ``tol_db`` over
    the last ``fraction`` of its steps.

    The gain is the last epoch's validation PSNR minus that of the last epoch at or before
    ``(1 - fraction)`` of the steps. A run with one epoch cannot show a plateau (``reached``
    is False). A falling curve counts as a plateau (its fall is what :func:`collapsed` and
    the test scores show).

    Returns:
        ``{'reached', 'gain_db', 'from_step', 'to_step', 'tol_db', 'fraction'}``.

    Example::

        >>> cfg = {"patches_per_epoch": 100, "batch_size": 10}
        >>> rec = {"config": cfg, "epochs": [{"epoch": e, "val_psnr": v}
        ...        for e, v in enumerate([25.0, 27.0, 27.9, 28.0, 28.05], 1)]}
        >>> p = plateau(rec); p["reached"], round(p["gain_db"], 2), p["from_step"]
        (True, 0.05, 40)
    """
    points = curve(record)
    end, last = points[-1]
    start = end * (1 - fraction)
    before = [pt for pt in points[:-1] if pt[0] <= start + 1e-9]
    ref = before[-1] if before else points[0]
    gain = last - ref[1]
    reached = len(points) > 1 and ref[0] < end and math.isfinite(gain) and gain < tol_db
    return {"reached": bool(reached), "gain_db": float(gain), "from_step": ref[0], "to_step": end,
            "tol_db": tol_db, "fraction": fraction}
