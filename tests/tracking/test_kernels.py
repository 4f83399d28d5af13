"""The tracker's compiled kernels agree with the numpy EKF they replace on the hot path."""

from __future__ import annotations

import numpy as np
import pytest

from trilink.geo.atmosphere import DENSITY_TABLE
from trilink.geo.earth import enu_rotation, geodetic_to_ecef
from trilink.tracking import _kernels, ekf
from trilink.tracking.tracker import (
    _FROZEN_ACCEL_VAR,
    _noise_variance,
    _unpowered,
)

LAT, LON = 38.0, 138.4
SENSOR = geodetic_to_ecef(LAT, LON, 0.0)
ROT = enu_rotation(np.radians(LAT), np.radians(LON))
SIGMA = np.array([20.0, 1e-3, 1e-3, 5.0])
BETA = ekf.DRAG_BETA_MIN_KG_M2


def _tracks(n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    r = geodetic_to_ecef(rng.uniform(39, 42, n), rng.uniform(130, 134, n), rng.uniform(5e4, 5e5, n))
    x = np.zeros((n, 2, 9))
    x[:, :, :3] = r[:, None, :] + rng.normal(0, 300.0, (n, 2, 3))
    x[:, :, 3:6] = rng.normal(0, 3e3, (n, 1, 3)) + rng.normal(0, 20.0, (n, 2, 3))
    x[:, 0, 6:9] = rng.normal(0, 30.0, (n, 3))
    a = rng.normal(0, 1.0, (n, 2, 9, 9)) * np.array([300.0] * 3 + [30.0] * 3 + [3.0] * 3)
    pm = a @ np.swapaxes(a, 2, 3) + 1e-3 * np.eye(9)
    x[:, 1, 6:9] = rng.normal(0, 30.0, (n, 3))  # a drag estimate, where in the air
    x[:, 1], pm[:, 1] = _unpowered(x[:, 1], pm[:, 1], BETA)
    mu = rng.uniform(0.01, 0.99, n)
    return x, pm, np.stack([mu, 1.0 - mu], axis=1)


def _combine(mu: np.ndarray, xm: np.ndarray, pm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.einsum("nj,nji->ni", mu, xm)
    d = xm - x[:, None, :]
    p = np.einsum("nj,njab->nab", mu, pm + d[:, :, :, None] * d[:, :, None, :])
    return x, 0.5 * (p + np.swapaxes(p, 1, 2))


@pytest.mark.parametrize("dt", [0.5, 1.0, 7.0])
def test_imm_predict_matches_numpy(dt: float) -> None:
    rng = np.random.default_rng(1)
    n = 20
    xm, pm, mu = _tracks(n, rng)
    q_jerk, q_acc, q_bal, pbc, pcb = 20.0, 0.5, 0.01, 0.01, 0.001
    # numpy reference: the IMM mixing and prediction step of the tracker
    a, b = 1.0 - (1.0 - pbc) ** dt, 1.0 - (1.0 - pcb) ** dt
    pi = np.array([[1.0 - a, a], [b, 1.0 - b]])
    c = mu @ pi
    w = mu[:, :, None] * pi[None] / c[:, None, :]
    x0 = np.einsum("nij,nia->nja", w, xm)
    d = xm[:, :, None, :] - x0[:, None, :, :]
    p0 = np.einsum("nij,niab->njab", w, pm) + np.einsum("nij,nija,nijb->njab", w, d, d)
    x0[:, 1], p0[:, 1] = _unpowered(x0[:, 1], p0[:, 1], BETA)
    in_air, axis, q_drag = ekf.drag_regime(x0[:, 1], BETA)
    assert in_air.any() and not in_air.all()  # both regimes of the unpowered model
    xp, pp = np.empty((n, 2, 9)), np.empty((n, 2, 9, 9))
    xp[:, 0], pp[:, 0] = ekf.predict_batch(
        x0[:, 0], p0[:, 0], np.full(n, dt), q_jerk=q_jerk, q_accel=q_acc
    )
    xp[:, 1], pp[:, 1] = ekf.predict_batch(
        x0[:, 1], p0[:, 1], np.full(n, dt), q_jerk=q_drag, q_accel=q_bal, jerk_axis=axis
    )
    mu_ref = c / c.sum(axis=1, keepdims=True)
    x_ref, p_ref = _combine(mu_ref, xp, pp)

    t = np.zeros(n)
    x, p = np.zeros((n, 9)), np.zeros((n, 9, 9))
    _kernels.imm_predict(
        np.arange(n),
        dt,
        t,
        x,
        p,
        xm,
        pm,
        mu,
        pbc,
        pcb,
        q_jerk,
        q_acc,
        q_bal,
        _FROZEN_ACCEL_VAR,
        BETA,
        DENSITY_TABLE,
    )
    np.testing.assert_allclose(xm, xp, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(pm, pp, rtol=1e-9, atol=1e-9 * pp.max())
    np.testing.assert_allclose(mu, mu_ref, rtol=1e-12)
    np.testing.assert_allclose(x, x_ref, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(p, p_ref, rtol=1e-9, atol=1e-9 * p_ref.max())
    assert np.all(t == dt)


def _measurements(xm: np.ndarray, rng: np.random.Generator, k: int) -> np.ndarray:
    z, _ = ekf.measure_batch(xm[:, 0], SENSOR, ROT)
    return np.asarray(z[:k] + rng.normal(0, 1, (k, 4)) * SIGMA * 3.0)


def test_gate_costs_match_numpy() -> None:
    rng = np.random.default_rng(2)
    n = 15
    xm, pm, mu = _tracks(n, rng)
    z = _measurements(xm, rng, n)
    sig = np.tile(SIGMA, (n, 1))
    t_loc, d_loc = (a.ravel() for a in np.meshgrid(np.arange(n), np.arange(n), indexing="ij"))
    rows = np.arange(n)
    cost = _kernels.gate_costs(rows, t_loc, d_loc, xm, pm, mu, z, sig, SENSOR, ROT, 18.47)
    ref = np.full(t_loc.size, np.inf)
    for j in (0, 1):
        zp, h = ekf.measure_batch(xm[t_loc, j], SENSOR, ROT)
        y = ekf.wrap_innovation(z[d_loc], zp)
        s = h @ pm[t_loc, j] @ np.swapaxes(h, 1, 2)
        s[:, np.arange(4), np.arange(4)] += _noise_variance(sig[d_loc], pm[t_loc, j], z[d_loc])
        d2 = np.einsum("ni,ni->n", y, np.linalg.solve(s, y[:, :, None])[:, :, 0])
        c = d2 + np.linalg.slogdet(s)[1] - 2.0 * np.log(mu[t_loc, j])
        ref = np.where((d2 < 18.47) & (c < ref), c, ref)
    assert np.isfinite(ref).sum() >= n // 2  # the test exercises the gate both ways
    assert np.array_equal(np.isfinite(cost), np.isfinite(ref))
    ok = np.isfinite(ref)
    np.testing.assert_allclose(cost[ok], ref[ok], rtol=1e-9, atol=1e-9)


def test_imm_update_matches_numpy() -> None:
    rng = np.random.default_rng(3)
    n = 12
    xm, pm, mu = _tracks(n, rng)
    z = _measurements(xm, rng, n)
    sig = np.tile(SIGMA, (n, 1))
    ti = np.sort(rng.permutation(n)[: n - 3])
    di = ti.copy()  # each track its own detection
    xr, pr, loglik = xm.copy(), pm.copy(), np.zeros((ti.size, 2))
    for j in (0, 1):
        x, p = xm[ti, j], pm[ti, j]
        zp, h = ekf.measure_batch(x, SENSOR, ROT)
        r = np.zeros((ti.size, 4, 4))
        r[:, np.arange(4), np.arange(4)] = _noise_variance(sig[di], p, z[di])
        y = ekf.wrap_innovation(z[di], zp)
        s = h @ p @ np.swapaxes(h, 1, 2) + r
        xu, pu = ekf.update_batch(x, p, y, s, h, r)
        if j == 1:
            xu, pu = _unpowered(xu, pu, BETA)
        xr[ti, j], pr[ti, j] = xu, pu
        d2 = np.einsum("ni,ni->n", y, np.linalg.solve(s, y[:, :, None])[:, :, 0])
        loglik[:, j] = -0.5 * (d2 + np.linalg.slogdet(s)[1])
    w = mu[ti] * np.exp(loglik - loglik.max(axis=1, keepdims=True))
    mu_ref = mu.copy()
    mu_ref[ti] = np.maximum(w / w.sum(axis=1, keepdims=True), 1e-9)
    mu_ref[ti] /= mu_ref[ti].sum(axis=1, keepdims=True)

    x, p = np.zeros((n, 9)), np.zeros((n, 9, 9))
    _kernels.imm_update(
        ti, di, x, p, xm, pm, mu, z, sig, SENSOR, ROT, _FROZEN_ACCEL_VAR, BETA, DENSITY_TABLE
    )
    np.testing.assert_allclose(xm, xr, rtol=1e-10, atol=1e-6)
    np.testing.assert_allclose(pm, pr, rtol=1e-7, atol=1e-9 * pr.max())
    np.testing.assert_allclose(mu, mu_ref, rtol=1e-9)
    x_ref, p_ref = _combine(mu_ref[ti], xr[ti], pr[ti])
    np.testing.assert_allclose(x[ti], x_ref, rtol=1e-10, atol=1e-6)
    np.testing.assert_allclose(p[ti], p_ref, rtol=1e-7, atol=1e-9 * p_ref.max())
    untouched = np.setdiff1d(np.arange(n), ti)
    assert np.all(x[untouched] == 0.0)
