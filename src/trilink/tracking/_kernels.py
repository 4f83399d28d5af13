"""Compiled (numba) kernels of the national tracker's hot path.

Each kernel runs one loop over tracks (or over candidate track–detection pairs) and does
the whole per-row job in registers and small scratch arrays: the IMM mixing, prediction
and re-combination of a track; the gating distances of a pair under both models; the
Kalman update of both models of an assigned track and the re-weighing of its modes. The
numpy forms of the same steps (:mod:`trilink.tracking.ekf`) stay the reference: the
kernels follow them operation for operation, so both agree to rounding, and
``tests/tracking/test_kernels.py`` holds them to it.

The kernels work in place on the tracker's arrays (``x`` (n, 9), ``p`` (n, 9, 9), ``xm``
(n, 2, 9), ``pm`` (n, 2, 9, 9), ``mu`` (n, 2), model 0 boost, model 1 ballistic) at the
rows they are given: no gather or scatter copies. Compiled on first use and cached on
disk by numba; :func:`warm` compiles them all at once (the tracker calls it when built).
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from numpy.typing import NDArray

from trilink.geo.atmosphere import DENSITY_TABLE
from trilink.geo.compiled import air_density, altitude
from trilink.geo.compiled import jit as _jit
from trilink.geo.earth import EARTH_RATE_RAD_S, GM_M3_S2, J2, WGS84_A_M
from trilink.tracking.ekf import DRAG_MIN_ACCEL_MPS2, DRAG_SCALE_HEIGHT_M

__all__ = ["gate_costs", "imm_predict", "imm_update", "warm"]

Array = NDArray[np.float64]

_W: Final = EARTH_RATE_RAD_S
_GM: Final = GM_M3_S2
_J2A2: Final = 1.5 * J2 * WGS84_A_M**2
_TWO_PI: Final = 2.0 * math.pi
_FOUR_LOG_2PI: Final = 4.0 * math.log(2.0 * math.pi)


# -- motion ------------------------------------------------------------------------------


@_jit
def _deriv(s: Array, acc: Array, out: Array) -> None:
    """d/dt of [r, v] (6) in ECEF: gravity with J2, Coriolis, centrifugal, plus ``acc``
    (as :func:`trilink.geo.earth.ecef_acceleration` and :func:`trilink.geo.motion.rk4_step`)."""
    x, y, z = s[0], s[1], s[2]
    r2 = x * x + y * y + z * z
    rn = math.sqrt(r2)
    k = -_GM / (r2 * rn)
    c = _J2A2 / r2
    z2r2 = 5.0 * z * z / r2
    gx = k * x * (1.0 + c * (1.0 - z2r2))
    gy = k * y * (1.0 + c * (1.0 - z2r2))
    gz = k * z * (1.0 + c * (3.0 - z2r2))
    out[0] = s[3]
    out[1] = s[4]
    out[2] = s[5]
    out[3] = (gx + 2.0 * _W * s[4] + _W * _W * x) + acc[0]
    out[4] = (gy - 2.0 * _W * s[3] + _W * _W * y) + acc[1]
    out[5] = gz + acc[2]


@_jit
def _rk4(x: Array, dt: float, scratch: Array) -> None:
    """One RK4 step of the state ``x`` (9) over ``dt`` in place, the thrust ``x[6:9]`` held."""
    k1, k2, k3, k4, s = scratch[0], scratch[1], scratch[2], scratch[3], scratch[4]
    acc = x[6:9]
    _deriv(x, acc, k1)
    for i in range(6):
        s[i] = x[i] + 0.5 * dt * k1[i]
    _deriv(s, acc, k2)
    for i in range(6):
        s[i] = x[i] + 0.5 * dt * k2[i]
    _deriv(s, acc, k3)
    for i in range(6):
        s[i] = x[i] + dt * k3[i]
    _deriv(s, acc, k4)
    h = dt / 6.0
    for i in range(6):
        x[i] = x[i] + h * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])


@_jit
def _transition(r: Array, dt: float, a: Array, f: Array) -> None:
    """The second-order transition matrix ``F = I + A dt + (A dt)² / 2`` (9×9) of the
    linearised motion at position ``r`` (``a``: scratch 9×9), as
    :func:`trilink.tracking.ekf.predict_batch`."""
    a[:, :] = 0.0
    rn = math.sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2])
    g = _GM / (rn * rn * rn)
    for i in range(3):
        a[i, 3 + i] = dt
        a[3 + i, 6 + i] = dt
        for j in range(3):
            e = 3.0 * (r[i] / rn) * (r[j] / rn) - (1.0 if i == j else 0.0)
            a[3 + i, j] = g * e * dt
    a[3, 0] += _W * _W * dt
    a[4, 1] += _W * _W * dt
    a[3, 4] = 2.0 * _W * dt
    a[4, 3] = -2.0 * _W * dt
    for i in range(9):
        for j in range(9):
            acc = 0.0
            for m in range(9):
                acc += a[i, m] * a[m, j]
            f[i, j] = a[i, j] + 0.5 * acc + (1.0 if i == j else 0.0)


@_jit
def _noise(dt: float, q_jerk: float, q_accel: float, axes: Array, q: Array) -> None:
    """Discrete process noise (9×9), as :func:`trilink.tracking.ekf.process_noise`; the
    jerk acts on the axes ``axes`` (3×3: the identity, or ``u uᵀ`` for one axis ``u``)."""
    d1, d2, d3, d4, d5 = dt, dt * dt, dt**3, dt**4, dt**5
    c = np.empty((3, 3))
    c[0, 0], c[0, 1], c[0, 2] = d5 / 20, d4 / 8, d3 / 6
    c[1, 0], c[1, 1], c[1, 2] = d4 / 8, d3 / 3, d2 / 2
    c[2, 0], c[2, 1], c[2, 2] = d3 / 6, d2 / 2, d1
    for i in range(3):
        for j in range(3):
            c[i, j] *= q_jerk
    ca = np.zeros((3, 3))
    ca[0, 0] = q_accel * (d3 / 3)
    ca[0, 1] = q_accel * (d2 / 2)
    ca[1, 0] = q_accel * (d2 / 2)
    ca[1, 1] = q_accel * d1
    for a in range(3):
        for b in range(3):
            for i in range(3):
                for k in range(3):
                    q[3 * a + i, 3 * b + k] = c[a, b] * axes[i, k] + (ca[a, b] if i == k else 0.0)


@_jit
def _congruence(f: Array, p: Array, q: Array, fp: Array, out: Array) -> None:
    """``out = F P Fᵀ + Q`` symmetrised (``fp``: scratch 9×9)."""
    d = p.shape[0]
    for i in range(d):
        for j in range(d):
            acc = 0.0
            for m in range(d):
                acc += f[i, m] * p[m, j]
            fp[i, j] = acc
    for i in range(d):
        for j in range(i, d):
            acc = 0.0
            for m in range(d):
                acc += fp[i, m] * f[j, m]
            v = acc + 0.5 * (q[i, j] + q[j, i])
            out[i, j] = v
            out[j, i] = v


@_jit
def _drag(x: Array, beta_min: float, table: Array) -> float:
    """The white-jerk density of the drag of state ``x`` (9), or -1 out of the air, as
    :func:`trilink.tracking.ekf.drag_regime`."""
    speed = math.sqrt(x[3] * x[3] + x[4] * x[4] + x[5] * x[5])
    rn = math.sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2])
    climb = (x[0] * x[3] + x[1] * x[4] + x[2] * x[5]) / rn
    drag = 0.5 * air_density(altitude(x[0], x[1], x[2]), table) * speed**2 / beta_min
    if climb < 0.0 and drag >= DRAG_MIN_ACCEL_MPS2:
        return float((drag * climb / DRAG_SCALE_HEIGHT_M) ** 2)
    return -1.0


@_jit
def _make_unpowered(
    x: Array, p: Array, frozen_var: float, beta_min: float, table: Array, axes: Array
) -> float:
    """Hold a ballistic-model state (9) and covariance (9×9) unpowered, in place, as
    ``tracker._unpowered``: no thrust; in the air the acceleration is drag along the
    velocity (never a push), its covariance projected on that axis. Sets ``axes`` (3×3)
    to ``u uᵀ`` in the air, else 0; returns :func:`_drag`."""
    q = _drag(x, beta_min, table)
    speed = max(math.sqrt(x[3] * x[3] + x[4] * x[4] + x[5] * x[5]), 1e-9)
    u = x[3:6] / speed
    on = q >= 0.0
    for i in range(3):
        for k in range(3):
            axes[i, k] = u[i] * u[k] if on else 0.0
    along = min(x[6] * u[0] + x[7] * u[1] + x[8] * u[2], 0.0) if on else 0.0
    for i in range(3):
        x[6 + i] = along * u[i]
    # P <- T P Tᵀ, T = diag(I6, axes); then the accelerations off the axis held at 0.
    pa = np.empty((9, 3))
    for i in range(9):
        for k in range(3):
            acc = 0.0
            for m in range(3):
                acc += p[i, 6 + m] * axes[k, m]
            pa[i, k] = acc
    for i in range(6):
        for k in range(3):
            p[i, 6 + k] = pa[i, k]
            p[6 + k, i] = pa[i, k]
    for k in range(3):
        for m in range(3):
            acc = 0.0
            for a in range(3):
                acc += axes[k, a] * pa[6 + a, m]
            p[6 + k, 6 + m] = acc + frozen_var * ((1.0 if k == m else 0.0) - axes[k, m])
    return q


@_jit
def _combine(i: int, x: Array, p: Array, xm: Array, pm: Array, mu: Array) -> None:
    """The mixture estimate of row ``i`` from its two models, symmetrised."""
    for a in range(9):
        x[i, a] = mu[i, 0] * xm[i, 0, a] + mu[i, 1] * xm[i, 1, a]
    for a in range(9):
        for b in range(a, 9):
            v = 0.0
            for j in range(2):
                v += mu[i, j] * (pm[i, j, a, b] + (xm[i, j, a] - x[i, a]) * (xm[i, j, b] - x[i, b]))
            w = 0.0
            for j in range(2):
                w += mu[i, j] * (pm[i, j, b, a] + (xm[i, j, b] - x[i, b]) * (xm[i, j, a] - x[i, a]))
            s = 0.5 * (v + w)
            p[i, a, b] = s
            p[i, b, a] = s


@_jit
def imm_predict(
    rows: NDArray[np.int64],
    t_s: float,
    t: Array,
    x: Array,
    p: Array,
    xm: Array,
    pm: Array,
    mu: Array,
    p_boost_to_ballistic: float,
    p_ballistic_to_boost: float,
    q_jerk: float,
    q_accel: float,
    q_accel_ballistic: float,
    frozen_var: float,
    beta_min: float,
    table: Array,
) -> None:
    """IMM mixing and prediction of ``rows`` from their times ``t`` to ``t_s``, in place
    (as ``Tracker._predict_all`` did with numpy): mix the two models by their switching
    probabilities over the step, hold the ballistic model unpowered (:func:`_make_unpowered`;
    in the air its drag's jerk drives it), predict each by one RK4 step and
    ``F P Fᵀ + Q``, update the mode probabilities and the mixture. ``table``: the air
    density table (:data:`trilink.geo.atmosphere.DENSITY_TABLE`)."""
    x0 = np.empty((2, 9))
    p0 = np.empty((2, 9, 9))
    scratch = np.empty((5, 6))
    amat = np.empty((9, 9))
    f = np.empty((9, 9))
    q = np.empty((9, 9))
    fp = np.empty((9, 9))
    c = np.empty(2)
    w = np.empty((2, 2))
    pi = np.empty((2, 2))
    eye = np.eye(3)
    axes = np.empty((3, 3))
    for i in rows:
        dt = t_s - t[i]
        adt = abs(dt)
        sa = 1.0 - (1.0 - p_boost_to_ballistic) ** adt
        sb = 1.0 - (1.0 - p_ballistic_to_boost) ** adt
        pi[0, 0], pi[0, 1], pi[1, 0], pi[1, 1] = 1.0 - sa, sa, sb, 1.0 - sb
        for j in range(2):
            c[j] = mu[i, 0] * pi[0, j] + mu[i, 1] * pi[1, j]
        for k in range(2):
            for j in range(2):
                w[k, j] = mu[i, k] * pi[k, j] / max(c[j], 1e-300)  # mu_{k|j}
        for j in range(2):
            for a in range(9):
                x0[j, a] = w[0, j] * xm[i, 0, a] + w[1, j] * xm[i, 1, a]
            for a in range(9):
                for b in range(9):
                    v = w[0, j] * pm[i, 0, a, b] + w[1, j] * pm[i, 1, a, b]
                    for k in range(2):
                        v += w[k, j] * (xm[i, k, a] - x0[j, a]) * (xm[i, k, b] - x0[j, b])
                    p0[j, a, b] = v
        q_drag = max(_make_unpowered(x0[1], p0[1], frozen_var, beta_min, table, axes), 0.0)
        for j in range(2):
            _transition(x0[j, 0:3], dt, amat, f)
            if j == 0:
                _noise(adt, q_jerk, q_accel, eye, q)
            else:
                _noise(adt, q_drag, q_accel_ballistic, axes, q)
            _rk4(x0[j], dt, scratch)
            xm[i, j, :] = x0[j]
            _congruence(f, p0[j], q, fp, pm[i, j])
        tot = c[0] + c[1]
        mu[i, 0] = c[0] / tot
        mu[i, 1] = c[1] / tot
        t[i] = t_s
        _combine(i, x, p, xm, pm, mu)


# -- measurement ---------------------------------------------------------------------------


@_jit
def _measure(x: Array, sensor: Array, rot: Array, z: Array, h: Array) -> None:
    """Predicted range, azimuth, elevation, range-rate ``z`` (4) and Jacobian ``h`` (4×9)
    of a state (9), as :func:`trilink.tracking.ekf.measure_batch`."""
    d0, d1, d2 = x[0] - sensor[0], x[1] - sensor[1], x[2] - sensor[2]
    e = d0 * rot[0, 0] + d1 * rot[0, 1] + d2 * rot[0, 2]
    nn = d0 * rot[1, 0] + d1 * rot[1, 1] + d2 * rot[1, 2]
    u = d0 * rot[2, 0] + d1 * rot[2, 1] + d2 * rot[2, 2]
    rho = math.sqrt(e * e + nn * nn + u * u)
    hor2 = max(e * e + nn * nn, 1e-6)
    hor = math.sqrt(hor2)
    rr = (d0 * x[3] + d1 * x[4] + d2 * x[5]) / rho
    z[0] = rho
    z[1] = math.atan2(e, nn) % _TWO_PI
    z[2] = math.asin(min(max(u / rho, -1.0), 1.0))
    z[3] = rr
    h[:, :] = 0.0
    d = (d0, d1, d2)
    a0, a1 = nn / hor2, -e / hor2
    den = rho * rho * hor
    b0, b1, b2 = -e * u / den, -nn * u / den, hor2 / den
    for k in range(3):
        h[0, k] = d[k] / rho
        h[1, k] = a0 * rot[0, k] + a1 * rot[1, k]
        h[2, k] = b0 * rot[0, k] + b1 * rot[1, k] + b2 * rot[2, k]
        h[3, k] = (x[3 + k] - (rr / rho) * d[k]) / rho
        h[3, 3 + k] = d[k] / rho


@_jit
def _hph(h: Array, p: Array, hp: Array, s: Array) -> None:
    """``s = H P Hᵀ`` (4×4) and ``hp = H P`` (4×9); H has zeros past column 6."""
    for a in range(4):
        for b in range(9):
            acc = 0.0
            for m in range(6):
                acc += h[a, m] * p[m, b]
            hp[a, b] = acc
    for a in range(4):
        for b in range(4):
            acc = 0.0
            for m in range(6):
                acc += hp[a, m] * h[b, m]
            s[a, b] = acc


@_jit
def _noise_var(sig: Array, zdet: Array, var_v: float, out: Array) -> None:
    """Measurement variances (4) plus the second-order range and range-rate terms of a
    young track (as ``trilink.tracking.tracker._noise_variance``)."""
    rho = max(zdet[0], 1.0)
    for a in range(4):
        out[a] = sig[a] * sig[a]
    out[0] += (0.5 * var_v / rho) ** 2
    out[3] += (var_v / rho) ** 2


@_jit
def _chol4(s: Array, low: Array) -> bool:
    """Cholesky factor of a 4×4 matrix; False if it is not positive definite."""
    for i in range(4):
        for j in range(i + 1):
            acc = s[i, j]
            for k in range(j):
                acc -= low[i, k] * low[j, k]
            if i == j:
                if not acc > 0.0:
                    return False
                low[i, i] = math.sqrt(acc)
            else:
                low[i, j] = acc / low[j, j]
    return True


@_jit
def _maha(low: Array, y: Array, w: Array) -> tuple[float, float]:
    """``yᵀ S⁻¹ y`` and ``ln |S|`` from the Cholesky factor of S (``w``: scratch 4)."""
    d2 = 0.0
    logdet = 0.0
    for i in range(4):
        acc = y[i]
        for k in range(i):
            acc -= low[i, k] * w[k]
        w[i] = acc / low[i, i]
        d2 += w[i] * w[i]
        logdet += 2.0 * math.log(low[i, i])
    return d2, logdet


@_jit
def gate_costs(
    rows: NDArray[np.int64],
    t_loc: NDArray[np.int64],
    d_loc: NDArray[np.int64],
    xm: Array,
    pm: Array,
    mu: Array,
    z: Array,
    sigma: Array,
    sensor: Array,
    rot: Array,
    gate_chi2: float,
) -> Array:
    """Cost of each candidate pair (track ``rows[t_loc]``, detection ``d_loc``): the least
    ``d² + ln|S| - 2 ln μ`` over the IMM models whose gate (``d² < gate_chi2``) holds the
    detection, ``inf`` if none does."""
    n = rows.size
    zp = np.empty((n, 2, 4))
    hph = np.empty((n, 2, 4, 4))
    var_v = np.empty((n, 2))
    h = np.empty((4, 9))
    hp = np.empty((4, 9))
    for k in range(n):
        i = rows[k]
        for j in range(2):
            _measure(xm[i, j], sensor, rot, zp[k, j], h)
            _hph(h, pm[i, j], hp, hph[k, j])
            var_v[k, j] = pm[i, j, 3, 3] + pm[i, j, 4, 4] + pm[i, j, 5, 5]
    out = np.full(t_loc.size, np.inf)
    s = np.empty((4, 4))
    low = np.zeros((4, 4))
    y = np.empty(4)
    w = np.empty(4)
    var = np.empty(4)
    for q in range(t_loc.size):
        k, d = t_loc[q], d_loc[q]
        i = rows[k]
        for j in range(2):
            for a in range(4):
                y[a] = z[d, a] - zp[k, j, a]
            y[1] = (y[1] + math.pi) % _TWO_PI - math.pi
            _noise_var(sigma[d], z[d], var_v[k, j], var)
            for a in range(4):
                for b in range(4):
                    s[a, b] = hph[k, j, a, b]
                s[a, a] += var[a]
            if not _chol4(s, low):
                continue
            d2, logdet = _maha(low, y, w)
            if d2 < gate_chi2:
                c = d2 + logdet - 2.0 * math.log(mu[i, j])
                if c < out[q]:
                    out[q] = c
    return out


# -- update --------------------------------------------------------------------------------


@_jit
def imm_update(
    ti: NDArray[np.int64],
    di: NDArray[np.int64],
    x: Array,
    p: Array,
    xm: Array,
    pm: Array,
    mu: Array,
    z: Array,
    sigma: Array,
    sensor: Array,
    rot: Array,
    frozen_var: float,
    beta_min: float,
    table: Array,
) -> None:
    """Kalman update (Joseph form) of both models of tracks ``ti`` with detections ``di``
    in place, the ballistic model held unpowered after it (:func:`_make_unpowered`), the
    mode probabilities re-weighed by the measurement likelihoods and the mixture
    re-combined (as ``Tracker._update`` did with numpy)."""
    axes = np.empty((3, 3))
    zp = np.empty(4)
    h = np.empty((4, 9))
    hp = np.empty((4, 9))
    s = np.empty((4, 4))
    low = np.zeros((4, 4))
    y = np.empty(4)
    w = np.empty(4)
    var = np.empty(4)
    kt = np.empty((4, 9))  # Kᵀ = S⁻¹ H P
    ikh = np.empty((9, 9))
    fp = np.empty((9, 9))
    krk = np.empty((9, 9))
    pu = np.empty((9, 9))
    loglik = np.empty(2)
    for q in range(ti.size):
        i, d = ti[q], di[q]
        for j in range(2):
            xj = xm[i, j]
            pj = pm[i, j]
            _measure(xj, sensor, rot, zp, h)
            _hph(h, pj, hp, s)
            _noise_var(sigma[d], z[d], pj[3, 3] + pj[4, 4] + pj[5, 5], var)
            for a in range(4):
                s[a, a] += var[a]
                y[a] = z[d, a] - zp[a]
            y[1] = (y[1] + math.pi) % _TWO_PI - math.pi
            if not _chol4(s, low):
                loglik[j] = -np.inf
                continue
            d2, logdet = _maha(low, y, w)
            loglik[j] = -0.5 * (d2 + logdet + _FOUR_LOG_2PI)
            # Kᵀ = S⁻¹ (H P): forward then backward substitution, column by column.
            for b in range(9):
                for a in range(4):
                    acc = hp[a, b]
                    for k in range(a):
                        acc -= low[a, k] * kt[k, b]
                    kt[a, b] = acc / low[a, a]
                for a in range(3, -1, -1):
                    acc = kt[a, b]
                    for k in range(a + 1, 4):
                        acc -= low[k, a] * kt[k, b]
                    kt[a, b] = acc / low[a, a]
            for a in range(9):
                acc = 0.0
                for k in range(4):
                    acc += kt[k, a] * y[k]
                xj[a] += acc
            for a in range(9):
                for b in range(9):
                    acc = 0.0
                    for k in range(4):
                        acc += kt[k, a] * h[k, b]
                    ikh[a, b] = (1.0 if a == b else 0.0) - acc
                    acc = 0.0
                    for k in range(4):
                        acc += kt[k, a] * var[k] * kt[k, b]
                    krk[a, b] = acc
            _congruence(ikh, pj, krk, fp, pu)
            pj[:, :] = pu
            if j == 1:
                _make_unpowered(xj, pj, frozen_var, beta_min, table, axes)
        top = max(loglik[0], loglik[1])
        if top == -np.inf:
            _combine(i, x, p, xm, pm, mu)
            continue
        w0 = mu[i, 0] * math.exp(loglik[0] - top)
        w1 = mu[i, 1] * math.exp(loglik[1] - top)
        tot = w0 + w1
        m0 = max(w0 / tot, 1e-9)
        m1 = max(w1 / tot, 1e-9)
        mu[i, 0] = m0 / (m0 + m1)
        mu[i, 1] = m1 / (m0 + m1)
        _combine(i, x, p, xm, pm, mu)


def warm() -> None:
    """Compile (or load from numba's disk cache) every kernel now, with the argument types
    the tracker passes."""
    one = np.zeros(1, dtype=np.int64)
    t = np.zeros(1)
    x = np.zeros((1, 9))
    x[0, 0] = 7e6
    p = np.tile(np.eye(9), (1, 1, 1))
    xm = np.stack([x, x], axis=1)
    pm = np.stack([p, p], axis=1)
    mu = np.full((1, 2), 0.5)
    z = np.array([[1e6, 0.1, 0.1, 0.0]])
    sig = np.ones((1, 4))
    sensor = np.array([6.4e6, 0.0, 0.0])
    rot = np.eye(3)
    imm_predict(
        one, 1.0, t, x, p, xm, pm, mu, 0.01, 0.001, 1.0, 1.0, 1.0, 1e-12, 1e3, DENSITY_TABLE
    )
    gate_costs(one, one, one, xm, pm, mu, z, sig, sensor, rot, 18.0)
    imm_update(one, one, x, p, xm, pm, mu, z, sig, sensor, rot, 1e-12, 1e3, DENSITY_TABLE)
