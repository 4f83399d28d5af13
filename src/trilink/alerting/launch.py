"""Launch time and point, estimated back from the earliest part of a track.

Two estimators:

* :func:`fit_launch` fits a powered ascent from rest to the boost part of a national
  track and, when given them, to space-infrared lines of sight of the plume: in the local
  east-north-up frame of the launch area the missile is at ``r_L + a τ²/2 + j τ³/6`` a
  time ``τ = t - t_L`` after lift-off from the ground point ``r_L`` (constant jerk ``j``
  only when the data span 30 s or more, or infrared reports pin the low part of the
  climb). Track states weigh by their covariances (plus a model-error floor, and at most
  one state per ``RADAR_SPACING_S``, as successive filtered states are correlated); each
  line of sight adds its two cross-line residuals, in units of its angular noise times
  its range (plus the same model-error floor). The weighted least-squares solution gives
  the launch time and point, and its covariance (the inverse of ``JᵀJ`` at the solution)
  their uncertainty: the 95 % circle and the time's 1-sigma. Infrared sees the plume
  from the cloud tops up, long before a radar sees over its horizon, so it shortens the
  extrapolation to the ground.

  Not yet used by the warning centre: on the replayed launches its estimate is not
  consistently better than the closed form below, and its covariance is optimistic (the
  polynomial is not a gravity turn, and filtered track states are correlated). Measured
  with the track's first minute of boost and the US infrared on 2017-08-28 (Hwasong-12):
  2.8 km and -0.8 s off, against 2.7 km and +5.7 s for the closed form; on 2022-11-18 the
  launch time is poorly determined (tens of seconds, with a large reported sigma).

* :func:`estimate_launch` is what the warning centre calls with a track's history.

  A track first seen in boost is extrapolated back to rest under constant acceleration:
  from altitude ``h`` climbing at ``v_up``, the launch was ``2 h / v_up`` earlier, and the
  launch point lies under the position moved back by half the horizontal distance the
  current horizontal velocity would cover in that time. A track first seen in free flight
  is propagated ballistically back to the ground, which places the launch too late (the
  boost took longer than a free-flight arc), so its uncertainty is wider.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares

from trilink.geo.earth import altitude_m, ecef_to_geodetic, enu_rotation, geodetic_to_ecef
from trilink.geo.motion import propagate_to_ground
from trilink.sensors.infrared import LineOfSight
from trilink.types import LaunchEstimate, Track

__all__ = ["BOOST_ALTITUDE_M", "MIN_UPDATES", "RADAR_SPACING_S", "estimate_launch", "fit_launch"]

Array = NDArray[np.float64]

BOOST_ALTITUDE_M: Final = 60_000.0
MIN_UPDATES: Final = 6
RADAR_SPACING_S: Final = 5.0
FIT_WINDOW_S: Final = 60.0  # track states used: the first minute of the boost track
MODEL_SIGMA_M: Final = 1_000.0  # what a jerk polynomial misses of a real ascent
JERK_SPAN_S: Final = 30.0
_CHI2_2DOF_95: Final = 5.991


def fit_launch(
    history: Sequence[Track], lines: Sequence[LineOfSight] = ()
) -> LaunchEstimate | None:
    """Fit a powered ascent from rest to the boost part of ``history`` (one national
    track's snapshots, oldest first) and to the infrared ``lines`` (see the module
    docstring). None if the track has no boost part or the fit does not converge."""
    usable = [t for t in history if t.n_updates >= MIN_UPDATES]
    if not usable or altitude_m(usable[0].state[:3]) >= BOOST_ALTITUDE_M:
        return None
    guess = _closed_form(usable[0])
    if guess is None:
        return None
    states = _spaced(
        [t for t in usable if t.t_s <= usable[0].t_s + FIT_WINDOW_S and t.thrusting] or usable[:1]
    )
    t_end = states[-1].t_s
    ir = [ln for ln in lines if ln.t_s <= t_end]
    lat0, lon0 = math.radians(guess.lat_deg), math.radians(guess.lon_deg)
    origin = geodetic_to_ecef(guess.lat_deg, guess.lon_deg, 0.0)
    rot = enu_rotation(lat0, lon0)  # rows: east, north, up in ECEF
    t_ref = guess.t_launch_s
    span = t_end - min([s.t_s for s in states] + [ln.t_s for ln in ir])
    jerk = span >= JERK_SPAN_S or bool(ir)

    # Whitening of the track states: Cholesky of the inverse covariance, in ENU.
    pos = np.array([(s.state[:3] - origin) @ rot.T for s in states])
    t_pos = np.array([s.t_s for s in states]) - t_ref  # relative: keeps t_L resolvable
    white = []
    for s in states:
        cov = rot @ s.covariance[:3, :3] @ rot.T + MODEL_SIGMA_M**2 * np.eye(3)
        white.append(np.linalg.cholesky(np.linalg.inv(cov)).T)
    w_pos = np.array(white)
    if ir:
        sat = np.array([(ln.sensor_ecef_m - origin) @ rot.T for ln in ir])
        u = np.array([rot @ ln.los_ecef for ln in ir])
        t_ir = np.array([ln.t_s for ln in ir]) - t_ref
        basis = np.array([_perpendicular(v) for v in u])  # (L, 2, 3)
        sig_ir = np.hypot(
            np.array([ln.sigma_rad for ln in ir]) * np.linalg.norm(pos[0] - sat, axis=1),
            MODEL_SIGMA_M,
        )

    def model(theta: Array, t: Array) -> Array:
        tau = np.maximum(t - theta[2], 0.0)[:, None]
        r = np.array([theta[0], theta[1], 0.0]) + 0.5 * theta[3:6] * tau**2
        if jerk:
            r = r + theta[6:9] * tau**3 / 6.0
        return np.asarray(r, dtype=np.float64)

    def residuals(theta: Array) -> Array:
        d = model(theta, t_pos) - pos
        out = [np.einsum("kij,kj->ki", w_pos, d).ravel()]
        if ir:
            rel = model(theta, t_ir) - sat
            out.append((np.einsum("lij,lj->li", basis, rel) / sig_ir[:, None]).ravel())
        return np.concatenate(out)

    v_up = max(float(states[0].state[3:6] @ rot[2]), 50.0)
    dt0 = states[0].t_s - t_ref
    theta0 = np.zeros(9 if jerk else 6)
    theta0[3:6] = rot @ states[0].state[3:6] / max(dt0, 1.0)
    theta0[5] = v_up / max(dt0, 1.0)
    try:
        sol = least_squares(residuals, theta0, method="lm", x_scale="jac")
    except (ValueError, np.linalg.LinAlgError):
        return None
    if not sol.success or not np.all(np.isfinite(sol.x)):
        return None
    try:
        cov = np.linalg.inv(sol.jac.T @ sol.jac)
    except np.linalg.LinAlgError:
        return None
    horiz = cov[:2, :2]
    if not np.all(np.isfinite(horiz)) or cov[2, 2] <= 0.0:
        return None
    ground = origin + np.array([sol.x[0], sol.x[1], 0.0]) @ rot
    lat, lon, _ = ecef_to_geodetic(ground)
    radius = math.sqrt(_CHI2_2DOF_95 * max(float(np.linalg.eigvalsh(horiz).max()), 0.0))
    return LaunchEstimate(
        t_launch_s=t_ref + float(sol.x[2]),
        lat_deg=float(lat),
        lon_deg=float(lon),
        radius_95_m=max(radius, 500.0),
        t_sigma_s=max(math.sqrt(float(cov[2, 2])), 0.5),
        track_id=usable[0].track_id,
        nation=usable[0].nation,
    )


def estimate_launch(history: list[Track]) -> LaunchEstimate | None:
    """Estimate the launch from one national track's snapshots (oldest first) by the
    closed forms of the module docstring (what the warning centre uses)."""
    usable = [t for t in history if t.n_updates >= MIN_UPDATES]
    if not usable:
        return None
    closed = _closed_form(usable[0])
    if closed is not None:
        return closed
    trk = usable[0]
    back = propagate_to_ground(trk.state[None, :6], step_s=-5.0, max_time_s=1800.0)
    if not np.isfinite(back.dt_s[0]):
        return None
    lat_g, lon_g, _ = ecef_to_geodetic(back.state[0, :3])
    return LaunchEstimate(
        t_launch_s=trk.t_s + float(back.dt_s[0]) - 60.0,
        lat_deg=float(lat_g),
        lon_deg=float(lon_g),
        radius_95_m=150_000.0,
        t_sigma_s=60.0,
        track_id=trk.track_id,
        nation=trk.nation,
    )


def _closed_form(trk: Track) -> LaunchEstimate | None:
    """Back to rest under constant acceleration, for a state in boost (else None)."""
    r, v = trk.state[:3], trk.state[3:6]
    h = float(altitude_m(r))
    lat, lon, _ = ecef_to_geodetic(r)
    up = geodetic_to_ecef(float(lat), float(lon), 1.0) - geodetic_to_ecef(
        float(lat), float(lon), 0.0
    )
    v_up = float(v @ up)
    if not (h < BOOST_ALTITUDE_M and v_up > 50.0):
        return None
    dt = 2.0 * h / v_up
    v_h = v - v_up * up
    ground = r - h * up - 0.5 * dt * v_h
    lat_g, lon_g, _ = ecef_to_geodetic(ground)
    pos_sigma = float(np.sqrt(np.trace(trk.covariance[:3, :3]) / 3.0))
    radius = 2.45 * max(pos_sigma, 0.1 * float(np.linalg.norm(0.5 * dt * v_h)), 2000.0)
    return LaunchEstimate(
        t_launch_s=trk.t_s - dt,
        lat_deg=float(lat_g),
        lon_deg=float(lon_g),
        radius_95_m=radius,
        t_sigma_s=max(2.0, 0.1 * dt),
        track_id=trk.track_id,
        nation=trk.nation,
    )


def _spaced(states: list[Track]) -> list[Track]:
    """At most one state per ``RADAR_SPACING_S``, the first kept."""
    out: list[Track] = []
    for s in states:
        if not out or s.t_s - out[-1].t_s >= RADAR_SPACING_S:
            out.append(s)
    return out


def _perpendicular(u: Array) -> Array:
    """Two unit vectors (2, 3) orthogonal to the unit vector ``u`` and to each other."""
    helper = np.zeros(3)
    helper[int(np.argmin(np.abs(u)))] = 1.0
    e1 = np.cross(u, helper)
    e1 /= np.linalg.norm(e1)
    return np.stack([e1, np.cross(u, e1)])
