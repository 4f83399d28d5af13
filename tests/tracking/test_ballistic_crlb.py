"""The ballistic EKF of the tracker against the posterior Cramér–Rao bound (small run; the
100-run benchmark is part of ``make bench``)."""

from __future__ import annotations

import numpy as np

from trilink.bench.ballistic import run


def test_ballistic_ekf_is_near_the_bound_and_consistent() -> None:
    res = run(n_runs=30, seed=3, steps=200)
    rmse, bound = res["rmse_pos_m"], res["crlb_pos_m"]
    assert np.all(np.isfinite(rmse)) and np.all(bound > 0.0)
    # The bound shrinks as measurements accumulate, and the filter follows it.
    assert bound[-1] < 0.2 * bound[0]
    assert res["ratio_after_60_s"] < 1.3
    # An RMSE far below the bound would mean the bound is wrong.
    assert res["ratio_after_60_s"] > 0.7
    lo, hi = res["nees_band"]
    assert lo < float(np.mean(res["mean_nees"][60:])) < hi
