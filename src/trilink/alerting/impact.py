"""Impact prediction with uncertainty: the unscented transform through free flight.

The fused state's mean and covariance (position and velocity) are represented by 2n+1
sigma points, each propagated to the ground (:func:`trilink.geo.motion.propagate_to_ground`);
the impact points' weighted mean and covariance, in the local horizontal plane, give the
predicted impact point and its 95 % ellipse. The mean path and the track's past give the
ground track tested for overflight of Japanese land, and the impact point is tested
against Japan's EEZ.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from numpy.typing import NDArray

from trilink.geo.areas import japan_eez_check, japan_land_overflown
from trilink.geo.earth import ecef_to_geodetic, enu_rotation
from trilink.geo.motion import propagate_to_ground
from trilink.types import ImpactPrediction, Track

__all__ = ["ground_track", "predict_impact"]

Array = NDArray[np.float64]
CHI2_2DOF_95: Final = 5.991
_KAPPA: Final = 0.0  # unscented spread: n + kappa = 6 keeps the sigma points at sqrt(6) sigma


def _sigma_points(x: Array, p: Array) -> tuple[Array, Array]:
    n = x.shape[0]
    lam = _KAPPA
    root = np.linalg.cholesky((n + lam) * p + 1e-9 * np.eye(n))
    pts = np.vstack([x, x + root.T, x - root.T])
    w = np.full(2 * n + 1, 1.0 / (2.0 * (n + lam)))
    w[0] = lam / (n + lam)
    return pts, w


def ground_track(path_ecef: Array, *, max_spacing_m: float = 5000.0) -> tuple[Array, Array]:
    """Latitude and longitude (degrees) along a path, densified to ``max_spacing_m``."""
    a, b = path_ecef[:-1], path_ecef[1:]
    k = np.maximum(1, np.ceil(np.linalg.norm(b - a, axis=1) / max_spacing_m)).astype(int)
    seg = np.repeat(np.arange(a.shape[0]), k)
    frac = (np.arange(seg.size) - np.repeat(np.cumsum(k) - k, k) + 1) / np.repeat(k, k)
    pts = np.vstack([path_ecef[:1], a[seg] + (b - a)[seg] * frac[:, None]])
    lat, lon, _ = ecef_to_geodetic(pts)
    return lat, lon


def predict_impact(
    track: Track, *, past_path_ecef: Array, past_max_alt_m: float
) -> ImpactPrediction | None:
    """Predict the impact of a free-flying track; None if it never reaches the ground."""
    x, p = track.state[:6], track.covariance[:6, :6]
    pts, w = _sigma_points(x, p)
    hit = propagate_to_ground(pts, step_s=5.0, max_time_s=3.0 * 3600.0)
    if not np.all(np.isfinite(hit.dt_s)):
        return None
    lat0, lon0, _ = ecef_to_geodetic(hit.state[0, :3])
    rot = enu_rotation(math.radians(float(lat0)), math.radians(float(lon0)))
    en = (hit.state[:, :3] - hit.state[0, :3]) @ rot.T[:, :2]
    mean_en = w @ en
    d = en - mean_en
    cov = (w[:, None] * d).T @ d
    mean_ecef = hit.state[0, :3] + rot.T[:, :2] @ mean_en
    lat, lon, _ = ecef_to_geodetic(mean_ecef)
    evals, evecs = np.linalg.eigh(0.5 * (cov + cov.T))
    evals = np.clip(evals, 0.0, None)
    major = evecs[:, 1]
    orientation = math.degrees(math.atan2(float(major[0]), float(major[1]))) % 180.0
    t_impact = track.t_s + float(w @ hit.dt_s)
    path = np.vstack([past_path_ecef, hit.path_ecef]) if past_path_ecef.size else hit.path_ecef
    g_lat, g_lon = ground_track(path)
    eez = japan_eez_check(float(lat), float(lon))
    return ImpactPrediction(
        t_valid_s=track.t_s,
        t_impact_s=t_impact,
        lat_deg=float(lat),
        lon_deg=float(lon),
        semi_major_m=math.sqrt(CHI2_2DOF_95 * float(evals[1])),
        semi_minor_m=math.sqrt(CHI2_2DOF_95 * float(evals[0])),
        orientation_deg=orientation,
        apogee_m=max(past_max_alt_m, float(hit.max_alt_m[0])),
        eez_verdict=eez.verdict.value,
        eez_near_boundary=eez.near_boundary,
        overflight=japan_land_overflown(g_lat, g_lon),
        track_id=track.track_id,
        nation=track.nation,
    )
