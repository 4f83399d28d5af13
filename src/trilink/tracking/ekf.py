"""Extended Kalman filter over ECEF states for ballistic missiles.

State ``x = [r, v, a]`` (9): position, velocity and the non-gravitational (thrust)
acceleration, all ECEF. Motion: gravity with J2, Coriolis and centrifugal terms
(:mod:`trilink.geo.motion`) plus ``a``, which follows a random walk (white jerk) while the
target may be boosting; a ballistic track fixes ``a = 0``. Measurements are radar
range, azimuth, elevation and range-rate (:class:`trilink.types.Detection`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from trilink.geo.earth import EARTH_RATE_RAD_S, enu_rotation, gravity_gradient
from trilink.geo.motion import rk4_step
from trilink.types import Detection

__all__ = ["GATE_CHI2_4DOF", "Innovation", "initial_state", "innovation", "predict", "update"]

Array = NDArray[np.float64]

GATE_CHI2_4DOF: Final = 18.47  # 99.9 % of chi-square with 4 degrees of freedom
_CORIOLIS: Final = -2.0 * np.array(
    [[0.0, -EARTH_RATE_RAD_S, 0.0], [EARTH_RATE_RAD_S, 0.0, 0.0], [0.0, 0.0, 0.0]]
)


def predict(x: Array, p: Array, dt: float, *, q_jerk: float, q_accel: float) -> tuple[Array, Array]:
    """Predict state (9) and covariance (9×9) by ``dt`` seconds.

    ``q_jerk`` (m²/s⁵) drives the thrust acceleration's random walk (0 when ballistic);
    ``q_accel`` (m²/s³) is white acceleration noise for unmodelled forces.
    """
    if dt == 0.0:
        return x, p
    x_new = x.copy()
    x_new[:6] = rk4_step(x[:6], dt, x[6:9])
    a = np.zeros((9, 9))
    a[0:3, 3:6] = np.eye(3)
    a[3:6, 0:3] = gravity_gradient(x[:3])
    a[3:6, 3:6] = _CORIOLIS
    a[3:6, 6:9] = np.eye(3)
    adt = a * dt
    f = np.eye(9) + adt + 0.5 * adt @ adt + adt @ adt @ adt / 6.0
    q = _process_noise(abs(dt), q_jerk, q_accel)
    p_new = f @ p @ f.T + q
    return x_new, 0.5 * (p_new + p_new.T)


def _process_noise(dt: float, q_jerk: float, q_accel: float) -> Array:
    i3 = np.eye(3)
    d2, d3, d4, d5 = dt**2, dt**3, dt**4, dt**5
    jerk = np.block(
        [
            [d5 / 20 * i3, d4 / 8 * i3, d3 / 6 * i3],
            [d4 / 8 * i3, d3 / 3 * i3, d2 / 2 * i3],
            [d3 / 6 * i3, d2 / 2 * i3, dt * i3],
        ]
    )
    q = q_jerk * jerk
    q[:6, :6] += q_accel * np.block([[d3 / 3 * i3, d2 / 2 * i3], [d2 / 2 * i3, dt * i3]])
    return q


def _measure(x: Array, det: Detection) -> tuple[Array, Array]:
    """Predicted measurement h(x) and its Jacobian H (4×9)."""
    rot = enu_rotation(det.sensor_lat_rad, det.sensor_lon_rad)
    d = x[:3] - det.sensor_ecef_m
    e, n, u = rot @ d
    rho = math.sqrt(e * e + n * n + u * u)
    hor2 = max(e * e + n * n, 1e-6)  # guard the zenith, where azimuth is undefined
    hor = math.sqrt(hor2)
    rr = float(d @ x[3:6]) / rho
    z = np.array([rho, math.atan2(e, n) % (2.0 * math.pi), math.asin(u / rho), rr])
    h = np.zeros((4, 9))
    h[0, 0:3] = d / rho
    h[1, 0:3] = np.array([n, -e, 0.0]) / hor2 @ rot
    h[2, 0:3] = np.array([-e * u, -n * u, hor2]) / (rho * rho * hor) @ rot
    h[3, 0:3] = (x[3:6] - rr * d / rho) / rho
    h[3, 3:6] = d / rho
    return z, h


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
    y = det.z - z_pred
    y[1] = (y[1] + math.pi) % (2.0 * math.pi) - math.pi
    r = np.diag(det.sigma**2)
    s = h @ p @ h.T + r
    d2 = float(y @ np.linalg.solve(s, y))
    return Innovation(y=y, s=s, h=h, r=r, d2=d2)


def update(x: Array, p: Array, inn: Innovation) -> tuple[Array, Array]:
    """Kalman update in Joseph form (keeps P symmetric positive definite)."""
    k = np.linalg.solve(inn.s, inn.h @ p).T
    x_new = x + k @ inn.y
    i_kh = np.eye(9) - k @ inn.h
    p_new = i_kh @ p @ i_kh.T + k @ inn.r @ k.T
    return x_new, 0.5 * (p_new + p_new.T)


def initial_state(
    det: Detection, *, sigma_speed_mps: float, sigma_accel_mps2: float
) -> tuple[Array, Array]:
    """A state and covariance from one detection: position from the polar measurement,
    radial velocity from the range-rate, the rest uncertain."""
    rot_t = enu_rotation(det.sensor_lat_rad, det.sensor_lon_rad).T
    rho, az, el = det.range_m, det.azimuth_rad, det.elevation_rad
    ce, se, ca, sa = math.cos(el), math.sin(el), math.cos(az), math.sin(az)
    enu = rho * np.array([ce * sa, ce * ca, se])
    jac = np.array(
        [
            [ce * sa, rho * ce * ca, -rho * se * sa],
            [ce * ca, -rho * ce * sa, -rho * se * ca],
            [se, 0.0, rho * ce],
        ]
    )
    p_pos = rot_t @ jac @ np.diag(det.sigma[:3] ** 2) @ jac.T @ rot_t.T
    los = rot_t @ (enu / rho)
    p_vel = sigma_speed_mps**2 * (np.eye(3) - np.outer(los, los)) + det.sigma[3] ** 2 * np.outer(
        los, los
    )
    x = np.zeros(9)
    x[:3] = det.sensor_ecef_m + rot_t @ enu
    x[3:6] = det.range_rate_mps * los
    p = np.zeros((9, 9))
    p[:3, :3] = p_pos
    p[3:6, 3:6] = p_vel
    p[6:9, 6:9] = sigma_accel_mps2**2 * np.eye(3)
    return x, 0.5 * (p + p.T)
