"""Extended Kalman filter over ECEF states for ballistic missiles, batched over tracks.

State ``x = [r, v, a]`` (9): position, velocity and the non-gravitational (thrust)
acceleration, all ECEF. Motion: gravity with J2, Coriolis and centrifugal terms
(:mod:`trilink.geo.motion`) plus ``a``, which follows a random walk (white jerk) while the
target may be boosting. An unpowered (ballistic) track fixes ``a = 0`` above the air; once
it descends into the air (:func:`drag_regime`) ``a`` is its drag: along ``-v``, never a
push, a random walk along the velocity whose jerk grows with the air density. Measurements
are radar range, azimuth, elevation and range-rate (:class:`trilink.types.Detection`).

Every step exists in a batched form working on ``(N, 9)`` states and ``(N, 9, 9)``
covariances at once (the national tracker's hot path); the single-track functions are
thin wrappers over them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numba
import numpy as np
from numpy.typing import NDArray

from trilink.geo.atmosphere import density_kg_m3
from trilink.geo.earth import EARTH_RATE_RAD_S, GM_M3_S2, altitude_m, enu_rotation
from trilink.geo.motion import rk4_step
from trilink.types import Detection

__all__ = [
    "DRAG_BETA_MIN_KG_M2",
    "DRAG_MIN_ACCEL_MPS2",
    "DRAG_SCALE_HEIGHT_M",
    "GATE_CHI2_4DOF",
    "Innovation",
    "initial_state",
    "initial_states",
    "innovation",
    "load_kernels",
    "drag_regime",
    "measure_batch",
    "predict",
    "predict_batch",
    "process_noise",
    "update",
    "update_batch",
    "wrap_innovation",
]

Array = NDArray[np.float64]

GATE_CHI2_4DOF: Final = 18.47  # 99.9 % of chi-square with 4 degrees of freedom
_CORIOLIS: Final = -2.0 * np.array(
    [[0.0, -EARTH_RATE_RAD_S, 0.0], [EARTH_RATE_RAD_S, 0.0, 0.0], [0.0, 0.0, 0.0]]
)
_I9: Final = np.eye(9)


def _congruence_plus_py(f: Array, p: Array, q: Array) -> Array:
    """``F P Fᵀ + Q`` for (N, 9, 9) stacks, symmetrised: one compiled loop (see
    ``_congruence_plus``) instead of two batched numpy matmuls of small matrices, the
    tracker's largest single cost."""
    n, d = p.shape[0], p.shape[1]
    out = np.empty_like(p)
    fp = np.empty((d, d))
    for k in range(n):
        for i in range(d):
            for j in range(d):
                acc = 0.0
                for m in range(d):
                    acc += f[k, i, m] * p[k, m, j]
                fp[i, j] = acc
        for i in range(d):
            for j in range(i, d):
                acc = 0.0
                for m in range(d):
                    acc += fp[i, m] * f[k, j, m]
                v = acc + 0.5 * (q[k, i, j] + q[k, j, i])
                out[k, i, j] = v
                out[k, j, i] = v
    return out


_congruence_plus: Callable[[Array, Array, Array], Array] = numba.njit(cache=True)(
    _congruence_plus_py
)


def load_kernels() -> None:
    """Compile (or load from numba's cache) the compiled kernels now, once per process,
    rather than in the first prediction: a tracker calls this when it is built."""
    z = np.zeros((1, 9, 9))
    _congruence_plus(z, z, z)


def _gravity_gradients(r: Array) -> Array:
    """Point-mass gravity gradient plus the centrifugal term, (N, 3, 3)."""
    rn = np.linalg.norm(r, axis=1)
    u = r / rn[:, None]
    grad = (GM_M3_S2 / rn**3)[:, None, None] * (3.0 * u[:, :, None] * u[:, None, :] - np.eye(3))
    grad[:, 0, 0] += EARTH_RATE_RAD_S**2
    grad[:, 1, 1] += EARTH_RATE_RAD_S**2
    return np.asarray(grad, dtype=np.float64)


def process_noise(
    dt: Array, q_jerk: Array, q_accel: Array, jerk_axis: Array | None = None
) -> Array:
    """Discrete process noise (N, 9, 9) for steps ``dt`` (N,): white jerk of density
    ``q_jerk`` on the acceleration and white acceleration of density ``q_accel`` on the
    velocity, the same on each axis; with ``jerk_axis`` (N, 3 unit vectors) the jerk acts
    along that axis only (a drag deceleration changes along the velocity)."""
    d1, d2, d3, d4, d5 = dt, dt**2, dt**3, dt**4, dt**5
    jerk = q_jerk[:, None, None] * np.stack(
        [
            np.stack([d5 / 20, d4 / 8, d3 / 6], axis=1),
            np.stack([d4 / 8, d3 / 3, d2 / 2], axis=1),
            np.stack([d3 / 6, d2 / 2, d1], axis=1),
        ],
        axis=1,
    )
    accel = np.zeros_like(jerk)
    accel[:, :2, :2] = q_accel[:, None, None] * np.stack(
        [np.stack([d3 / 3, d2 / 2], axis=1), np.stack([d2 / 2, d1], axis=1)], axis=1
    )
    # Each coefficient multiplies a 3x3 block: (N, 3, 3) -> (N, 9, 9); the identity block
    # for both unless the jerk has an axis.
    eye = np.eye(3)[None, None, :, None, :]
    if jerk_axis is None:
        q = (jerk + accel)[:, :, None, :, None] * eye
    else:
        axes = jerk_axis[:, None, :, None, None] * jerk_axis[:, None, None, None, :]
        q = jerk[:, :, None, :, None] * axes + accel[:, :, None, :, None] * eye
    return np.asarray(q.reshape(dt.size, 9, 9), dtype=np.float64)


DRAG_BETA_MIN_KG_M2: Final = 1000.0
"""The lightest ballistic coefficient m/(C_D A) the unpowered model allows for by default
(a tumbling spent stage ~1,000–2,000 kg/m², a re-entry vehicle several thousand)."""
DRAG_SCALE_HEIGHT_M: Final = 7_000.0
"""Scale height of the lower atmosphere: the drag of a descending object grows by e each
time it falls this far (at constant speed)."""
DRAG_MIN_ACCEL_MPS2: Final = 1e-3
"""Drag below this (at the lightest ballistic coefficient allowed) is no drag: above
~110 km for a re-entry vehicle."""


def drag_regime(x: Array, beta_min_kg_m2: float) -> tuple[NDArray[np.bool_], Array, Array]:
    """Whether each state (N, ≥6) is an unpowered object in the air's grip, its unit
    velocity (N, 3), and the density (m²/s⁵) of the white jerk of its drag deceleration.

    An object descends into the air when it falls (its height shrinks) where the drag of
    the lightest object allowed (ballistic coefficient ``beta_min_kg_m2`` = m / (C_D A))
    reaches :data:`DRAG_MIN_ACCEL_MPS2`. That drag, ``a = ρ v² / 2β``, grows at
    ``a |ḣ| / H`` as the object falls (``H`` :data:`DRAG_SCALE_HEIGHT_M`); the jerk's
    density is that rate squared over one second. Ascending objects get none (a rising
    body in the air is boosting, which the boost model follows)."""
    r, v = x[:, :3], x[:, 3:6]
    speed = np.linalg.norm(v, axis=1)
    u = v / np.maximum(speed, 1e-9)[:, None]
    climb = np.einsum("ij,ij->i", r, v) / np.linalg.norm(r, axis=1)
    drag = 0.5 * density_kg_m3(altitude_m(r)) * speed**2 / beta_min_kg_m2
    on = (climb < 0.0) & (drag >= DRAG_MIN_ACCEL_MPS2)
    q = np.where(on, (drag * climb / DRAG_SCALE_HEIGHT_M) ** 2, 0.0)
    return on, u, np.asarray(q, dtype=np.float64)


def predict_batch(
    x: Array,
    p: Array,
    dt: Array,
    *,
    q_jerk: Array | float,
    q_accel: Array | float,
    jerk_axis: Array | None = None,
) -> tuple[Array, Array]:
    """Predict states (N, 9) and covariances (N, 9, 9) by ``dt`` (N,) seconds each.

    ``q_jerk`` (m²/s⁵) drives the acceleration's random walk (thrust; drag in the air; 0
    when ballistic above it), along ``jerk_axis`` (N, 3 unit vectors) if given;
    ``q_accel`` (m²/s³) is white acceleration noise for unmodelled forces.
    """
    dt = np.asarray(dt, dtype=np.float64)
    x_new = x.copy()
    x_new[:, :6] = rk4_step(x[:, :6], dt[:, None], x[:, 6:9])
    n = x.shape[0]
    a = np.zeros((n, 9, 9))
    a[:, 0:3, 3:6] = np.eye(3)
    a[:, 3:6, 0:3] = _gravity_gradients(x[:, :3])
    a[:, 3:6, 3:6] = _CORIOLIS
    a[:, 3:6, 6:9] = np.eye(3)
    adt = a * dt[:, None, None]
    # Second order: exact for the kinematic chain (position, velocity, acceleration); the
    # third-order terms carry only gravity-gradient products (~1e-6 / s²), negligible.
    f = _I9 + adt + 0.5 * (adt @ adt)
    qj = np.broadcast_to(np.asarray(q_jerk, dtype=np.float64), (n,))
    qa = np.broadcast_to(np.asarray(q_accel, dtype=np.float64), (n,))
    q = process_noise(np.abs(dt), qj, qa, jerk_axis)
    return x_new, _congruence_plus(f, np.ascontiguousarray(p), q)


def measure_batch(x: Array, sensor_ecef: Array, rot: Array) -> tuple[Array, Array]:
    """Predicted measurements (N, 4) and Jacobians (N, 4, 9) of states (N, 9) seen from a
    sensor at ``sensor_ecef`` whose ECEF→ENU rotation is ``rot``."""
    d = x[:, :3] - sensor_ecef
    enu = d @ rot.T
    e, nn, u = enu[:, 0], enu[:, 1], enu[:, 2]
    rho = np.linalg.norm(enu, axis=1)
    hor2 = np.maximum(e * e + nn * nn, 1e-6)  # guard the zenith, where azimuth is undefined
    hor = np.sqrt(hor2)
    rr = np.einsum("ij,ij->i", d, x[:, 3:6]) / rho
    z = np.stack(
        [rho, np.mod(np.arctan2(e, nn), 2.0 * math.pi), np.arcsin(np.clip(u / rho, -1, 1)), rr],
        axis=1,
    )
    h = np.zeros((x.shape[0], 4, 9))
    h[:, 0, 0:3] = d / rho[:, None]
    h[:, 1, 0:3] = (np.stack([nn, -e, np.zeros_like(e)], axis=1) / hor2[:, None]) @ rot
    h[:, 2, 0:3] = (np.stack([-e * u, -nn * u, hor2], axis=1) / (rho * rho * hor)[:, None]) @ rot
    h[:, 3, 0:3] = (x[:, 3:6] - (rr / rho)[:, None] * d) / rho[:, None]
    h[:, 3, 3:6] = d / rho[:, None]
    return z, h


def update_batch(x: Array, p: Array, y: Array, s: Array, h: Array, r: Array) -> tuple[Array, Array]:
    """Kalman updates in Joseph form for innovations ``y`` (N, 4) with covariances ``s``
    (N, 4, 4), Jacobians ``h`` (N, 4, 9) and measurement noise ``r`` (N, 4, 4)."""
    k = np.swapaxes(np.linalg.solve(s, h @ p), 1, 2)
    x_new = x + np.einsum("nij,nj->ni", k, y)
    i_kh = _I9 - k @ h
    krk = k @ r @ np.swapaxes(k, 1, 2)
    return x_new, _congruence_plus(np.ascontiguousarray(i_kh), np.ascontiguousarray(p), krk)


def wrap_innovation(z: Array, z_pred: Array) -> Array:
    """Measurement minus prediction with the azimuth wrapped to [-π, π)."""
    y = z - z_pred
    y[..., 1] = (y[..., 1] + math.pi) % (2.0 * math.pi) - math.pi
    return y


def initial_states(
    z: Array,
    sigma: Array,
    sensor_ecef: Array,
    rot: Array,
    *,
    sigma_speed_mps: float,
    sigma_accel_mps2: float,
) -> tuple[Array, Array]:
    """States (K, 9) and covariances (K, 9, 9) from single detections ``z`` (K, 4): position
    from the polar measurement, radial velocity from the range-rate, the rest uncertain."""
    rho, az, el = z[:, 0], z[:, 1], z[:, 2]
    ce, se, ca, sa = np.cos(el), np.sin(el), np.cos(az), np.sin(az)
    enu = rho[:, None] * np.stack([ce * sa, ce * ca, se], axis=1)
    jac = np.zeros((z.shape[0], 3, 3))
    jac[:, 0] = np.stack([ce * sa, rho * ce * ca, -rho * se * sa], axis=1)
    jac[:, 1] = np.stack([ce * ca, -rho * ce * sa, -rho * se * ca], axis=1)
    jac[:, 2] = np.stack([se, np.zeros_like(se), rho * ce], axis=1)
    rot_t = rot.T
    cov_polar = np.zeros((z.shape[0], 3, 3))
    for i in range(3):
        cov_polar[:, i, i] = sigma[:, i] ** 2
    j_ecef = rot_t @ jac
    p_pos = j_ecef @ cov_polar @ np.swapaxes(j_ecef, 1, 2)
    los = (enu / rho[:, None]) @ rot
    outer = los[:, :, None] * los[:, None, :]
    p_vel = sigma_speed_mps**2 * (np.eye(3) - outer) + (sigma[:, 3] ** 2)[:, None, None] * outer
    x = np.zeros((z.shape[0], 9))
    x[:, :3] = sensor_ecef + enu @ rot
    x[:, 3:6] = z[:, 3:4] * los
    p = np.zeros((z.shape[0], 9, 9))
    p[:, :3, :3] = p_pos
    p[:, 3:6, 3:6] = p_vel
    p[:, 6:9, 6:9] = sigma_accel_mps2**2 * np.eye(3)
    return x, 0.5 * (p + np.swapaxes(p, 1, 2))


# -- single-track wrappers -------------------------------------------------------------------


def predict(x: Array, p: Array, dt: float, *, q_jerk: float, q_accel: float) -> tuple[Array, Array]:
    """Predict one state (9) and covariance (9×9) by ``dt`` seconds."""
    if dt == 0.0:
        return x, p
    xs, ps = predict_batch(x[None], p[None], np.array([dt]), q_jerk=q_jerk, q_accel=q_accel)
    return xs[0], ps[0]


def _rot(det: Detection) -> Array:
    return enu_rotation(det.sensor_lat_rad, det.sensor_lon_rad)


def _measure(x: Array, det: Detection) -> tuple[Array, Array]:
    """Predicted measurement h(x) and its Jacobian H (4×9) for one detection's sensor."""
    z, h = measure_batch(x[None], det.sensor_ecef_m, _rot(det))
    return z[0], h[0]


@dataclass(frozen=True, slots=True)
class Innovation:
    """Innovation of one detection against one predicted track."""

    y: Array
    s: Array
    h: Array
    r: Array
    d2: float  # squared Mahalanobis distance


def innovation(x: Array, p: Array, det: Detection) -> Innovation:
    z_pred, h = _measure(x, det)
    y = wrap_innovation(det.z, z_pred)
    r = np.diag(det.sigma**2)
    s = h @ p @ h.T + r
    d2 = float(y @ np.linalg.solve(s, y))
    return Innovation(y=y, s=s, h=h, r=r, d2=d2)


def update(x: Array, p: Array, inn: Innovation) -> tuple[Array, Array]:
    """Kalman update in Joseph form (keeps P symmetric positive definite)."""
    xs, ps = update_batch(x[None], p[None], inn.y[None], inn.s[None], inn.h[None], inn.r[None])
    return xs[0], ps[0]


def initial_state(
    det: Detection, *, sigma_speed_mps: float, sigma_accel_mps2: float
) -> tuple[Array, Array]:
    """A state and covariance from one detection."""
    xs, ps = initial_states(
        det.z[None],
        det.sigma[None],
        det.sensor_ecef_m,
        _rot(det),
        sigma_speed_mps=sigma_speed_mps,
        sigma_accel_mps2=sigma_accel_mps2,
    )
    return xs[0], ps[0]
