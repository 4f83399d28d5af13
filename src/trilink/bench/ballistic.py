"""Ballistic coast: the national tracker's EKF against the posterior Cramér–Rao bound.

The truth is the free flight of the 2017-08-29 Hwasong-12 re-entry vehicle from the
trajectory engine (above the atmosphere), continued in each Monte Carlo run with the small
random acceleration the filter assumes (so the bound and the filter share one model). One
radar at the Sado site measures range, azimuth, elevation and range-rate each second. The
filter is the tracker's ballistic EKF (gravity with J2, Coriolis and centrifugal terms),
run for all runs in lockstep; the bound is :func:`trilink.metrics.pcrlb.pcrlb` with the
same model. SIMULATION.

    python -m trilink.bench.ballistic --runs 100   (also part of `make bench`)
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trilink.geo.earth import altitude_m, enu_rotation, geodetic_to_ecef
from trilink.geo.motion import rk4_step
from trilink.metrics.errors import nees_band
from trilink.metrics.pcrlb import pcrlb
from trilink.tracking import ekf
from trilink.world.launches import fly_event
from trilink.world.library import DEFAULT_EVENT_ID, load_library

__all__ = ["main", "run"]

Array = NDArray[np.float64]
SITE = (38.07, 138.40, 1000.0)  # the Sado radar site of the default network
SIGMA = np.array([20.0, 1e-3, 1e-3, 5.0])  # range m, az rad, el rad, range-rate m/s
Q_ACCEL = 0.01  # m²/s³, the tracker's ballistic process noise
P0_DIAG = np.array([1e3, 1e3, 1e3, 30.0, 30.0, 30.0]) ** 2
T0_S, STEPS = 200.0, 400  # seconds after launch, 1 s steps (the RV stays above 140 km)


def _transition_jacobian(x: Array) -> Array:
    """d(one RK4 step of 1 s)/dx at states (R, 6) by central differences, (R, 6, 6)."""
    jac = np.empty((x.shape[0], 6, 6))
    for j in range(6):
        h = 1e-3 if j < 3 else 1e-6
        dx = np.zeros(6)
        dx[j] = h
        jac[:, :, j] = (rk4_step(x + dx, 1.0) - rk4_step(x - dx, 1.0)) / (2.0 * h)
    return jac


def run(n_runs: int = 100, seed: int = 7, *, steps: int = STEPS) -> dict[str, Any]:
    """Monte Carlo of the ballistic EKF against the PCRLB; RMSE, bound, ratio and NEES."""
    rng = np.random.default_rng(seed)
    traj = fly_event(load_library().get(DEFAULT_EVENT_ID)).trajectory
    start = traj.states(T0_S)[0]
    q6 = ekf.process_noise(np.array([1.0]), np.array([0.0]), np.array([Q_ACCEL]))[0, :6, :6]
    chol_q = np.linalg.cholesky(q6 + 1e-18 * np.eye(6))
    truths = np.empty((n_runs, steps, 6))
    truths[:, 0] = start
    for k in range(1, steps):
        truths[:, k] = rk4_step(truths[:, k - 1], 1.0) + rng.normal(size=(n_runs, 6)) @ chol_q.T
    assert float(np.min(altitude_m(truths[:, :, :3]))) > 120e3, "the arc must stay out of the air"
    sensor = geodetic_to_ecef(*SITE)
    rot = enu_rotation(math.radians(SITE[0]), math.radians(SITE[1]))
    r_mat = np.diag(SIGMA**2)
    # the filter: 9-state EKF with the thrust acceleration frozen at 0 (the ballistic model)
    x = np.zeros((n_runs, 9))
    x[:, :6] = start + rng.normal(size=(n_runs, 6)) * np.sqrt(P0_DIAG)
    p = np.zeros((n_runs, 9, 9))
    p[:, np.arange(6), np.arange(6)] = P0_DIAG
    p[:, np.arange(6, 9), np.arange(6, 9)] = 1e-12
    err = np.empty((n_runs, steps, 6))
    nees = np.empty((n_runs, steps))
    for k in range(steps):
        if k:
            x, p = ekf.predict_batch(x, p, np.ones(n_runs), q_jerk=0.0, q_accel=Q_ACCEL)
            t9 = np.zeros((n_runs, 9))
            t9[:, :6] = truths[:, k]
            z_true, _ = ekf.measure_batch(t9, sensor, rot)
            z = z_true + rng.normal(size=(n_runs, 4)) * SIGMA
            z_pred, h = ekf.measure_batch(x, sensor, rot)
            y = ekf.wrap_innovation(z, z_pred)
            s = h @ p @ np.swapaxes(h, 1, 2) + r_mat
            x, p = ekf.update_batch(x, p, y, s, h, np.broadcast_to(r_mat, (n_runs, 4, 4)))
        e = x[:, :6] - truths[:, k]
        err[:, k] = e
        nees[:, k] = np.einsum("ni,ni->n", e, np.linalg.solve(p[:, :6, :6], e[:, :, None])[..., 0])

    def h_jac(states: Array) -> Array:
        t9 = np.zeros((states.shape[0], 9))
        t9[:, :6] = states
        return ekf.measure_batch(t9, sensor, rot)[1][:, :, :6]

    bound = pcrlb(_transition_jacobian, h_jac, q6, r_mat, np.diag(1.0 / P0_DIAG), truths)
    rmse_pos = np.sqrt(np.mean(np.sum(err[:, :, :3] ** 2, axis=2), axis=0))
    crlb_pos = np.sqrt(np.trace(bound[:, :3, :3], axis1=1, axis2=2))
    after = np.arange(steps) >= 60
    ratio = float(np.sqrt(np.mean(rmse_pos[after] ** 2)) / np.sqrt(np.mean(crlb_pos[after] ** 2)))
    lo, hi = nees_band(6, n_runs)
    mean_nees = nees.mean(axis=0)
    return {
        "runs": n_runs,
        "steps": steps,
        "rmse_pos_m": rmse_pos,
        "crlb_pos_m": crlb_pos,
        "ratio_after_60_s": ratio,
        "mean_nees": mean_nees,
        "nees_band": (lo, hi),
        "nees_inside_share": float(np.mean((mean_nees[after] >= lo) & (mean_nees[after] <= hi))),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    res = run(args.runs, args.seed)
    print(f"Ballistic coast, {res['runs']} runs x {res['steps']} s (SIMULATION)")
    print("   t s   RMSE pos m   PCRLB pos m   ratio   mean NEES")
    for k in range(0, res["steps"], 40):
        print(
            f"{k:6d} {res['rmse_pos_m'][k]:12.1f} {res['crlb_pos_m'][k]:13.1f} "
            f"{res['rmse_pos_m'][k] / res['crlb_pos_m'][k]:7.3f} {res['mean_nees'][k]:10.2f}"
        )
    lo, hi = res["nees_band"]
    print(
        f"after 60 s: RMSE / PCRLB = {res['ratio_after_60_s']:.3f} (target ≤ 1.3); mean NEES "
        f"inside its 95 % band [{lo:.2f}, {hi:.2f}] at {100 * res['nees_inside_share']:.0f} % "
        "of the steps"
    )


if __name__ == "__main__":  # pragma: no cover
    main()
