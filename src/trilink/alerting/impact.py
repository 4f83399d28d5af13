"""Impact prediction with uncertainty: the unscented transform through the rest of the flight.

The fused state's mean and covariance (ECEF position and velocity, m and m/s) are
augmented with the logarithm of the re-entry vehicle's ballistic coefficient
β = m / (C_d A) (kg/m²), which the warning centre does not know: it is given a log-normal
prior (:class:`BallisticPrior`). The 2n + 1 = 15 sigma points of that 7-state are each
flown to the ground by the compiled free-flight integrator of the world engine
(:func:`trilink.world.engine.coast_to_ground`: gravity with J2, Earth rotation and US
Standard Atmosphere 1976 drag; no lift, no thrust). The impact points' weighted mean and
covariance in the local horizontal plane give the predicted impact point and its 95 %
ellipse; the impact times' weighted mean and spread give the time of impact and its
1-sigma. With ``ballistic=None`` the flight is drag-free and the state 6-dimensional.

The ground track of the central sigma point, joined to the track's past, is tested for
overflight of Japanese land (by island and by prefecture) and Korean land, each with the
predicted time of first entry; the impact point is tested against Japan's EEZ and the land.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from trilink.geo.areas import (
    AreaEntry,
    japan_eez_check,
    japan_land_entries,
    korean_land_entries,
    land_region,
    prefecture_entries,
)
from trilink.geo.atmosphere import DENSITY_TABLE
from trilink.geo.earth import altitude_m, ecef_to_geodetic, enu_rotation, geodetic_to_ecef
from trilink.geo.ellipse import ellipse_95
from trilink.types import ImpactPrediction, Track
from trilink.world import engine

__all__ = [
    "DEFAULT_RV_PRIOR",
    "UNKNOWN_OBJECT_PRIOR",
    "BallisticPrior",
    "ellipse_contains",
    "ground_track",
    "predict_impact",
]

Array = NDArray[np.float64]
"""χ² quantile (2 degrees of freedom, 95 %) scaling the impact covariance to the ellipse."""
_KAPPA: Final = 0.0  # unscented spread: sigma points at sqrt(n) sigma, centre weight 0
_MAX_FLIGHT_S: Final = 3.0 * 3600.0


@dataclass(frozen=True, slots=True)
class BallisticPrior:
    """Log-normal prior of the ballistic coefficient β = m / (C_d A) of a re-entering body.

    ``ln β`` is normal with mean ``ln(median_kg_m2)`` and standard deviation ``sigma_ln``.
    """

    median_kg_m2: float
    sigma_ln: float

    def __post_init__(self) -> None:
        if not (self.median_kg_m2 > 0.0 and self.sigma_ln >= 0.0):
            raise ValueError(
                "BallisticPrior needs median_kg_m2 > 0 and sigma_ln >= 0, got "
                f"median_kg_m2={self.median_kg_m2}, sigma_ln={self.sigma_ln}"
            )


DEFAULT_RV_PRIOR: Final = BallisticPrior(median_kg_m2=8000.0, sigma_ln=0.5)
"""A re-entry vehicle of unknown class: median 8,000 kg/m² (the catalog's open-source RV
figure), 95 % between about 3,000 and 21,000 kg/m² (blunt early RVs to slender ones)."""

UNKNOWN_OBJECT_PRIOR: Final = BallisticPrior(median_kg_m2=3500.0, sigma_ln=0.8)
"""Any falling object, RV or spent tumbling stage (the catalog's 1,500 kg/m²): 95 % between
about 730 and 17,000 kg/m². For a track not known to be the re-entry vehicle."""


@dataclass(frozen=True, slots=True)
class _Fall:
    """Sigma points flown to the ground."""

    dt_s: Array  # (N,) seconds from the start state to the ground
    state: Array  # (N, 6) ECEF state at the ground
    path_dt_s: Array  # (K,) seconds from the start, along the central point's path
    path_ecef: Array  # (K, 3) the central point's path, ECEF m


def _sigma_points(x: Array, p: Array) -> tuple[Array, Array]:
    """Sigma points (2n+1, n) and weights (2n+1,) of mean ``x`` (n,) and covariance ``p``."""
    n = x.shape[0]
    lam = _KAPPA
    root = np.linalg.cholesky((n + lam) * p + 1e-9 * np.eye(n))
    pts = np.vstack([x, x + root.T, x - root.T])
    w = np.full(2 * n + 1, 1.0 / (2.0 * (n + lam)))
    w[0] = lam / (n + lam)
    return pts, w


def _fall(states: Array, beta_kg_m2: Array) -> _Fall | None:
    """Fly states (N, 6) with ballistic coefficients (N,) (0: no drag) to the ground;
    None if one of them stays up for ``_MAX_FLIGHT_S``."""
    out_t = np.empty(engine.MAX_SAMPLES)
    out_y = np.empty((engine.MAX_SAMPLES, 6))
    dt = np.empty(states.shape[0])
    hit = np.empty((states.shape[0], 6))
    path_dt, path = np.zeros(1), states[:1, :3]
    for i in range(states.shape[0]):
        y0 = np.ascontiguousarray(states[i])
        n = engine.coast_to_ground(
            y0, 0.0, _MAX_FLIGHT_S, float(beta_kg_m2[i]), DENSITY_TABLE, out_t, out_y, 0, 0.0
        )
        if n <= 0:
            return None
        dt[i], hit[i] = out_t[n - 1], out_y[n - 1]
        if i == 0:
            path_dt = np.concatenate([[0.0], out_t[:n]])
            path = np.vstack([y0[None, :3], out_y[:n, :3]])
    return _Fall(dt_s=dt, state=hit, path_dt_s=path_dt, path_ecef=path)


def _densify(path_ecef: Array, t_s: Array, max_spacing_m: float) -> tuple[Array, Array]:
    """Points (M, 3) along a path with at most ``max_spacing_m`` between them, and their
    times (M,), both interpolated linearly between the samples."""
    a, b = path_ecef[:-1], path_ecef[1:]
    k = np.maximum(1, np.ceil(np.linalg.norm(b - a, axis=1) / max_spacing_m)).astype(int)
    seg = np.repeat(np.arange(a.shape[0]), k)
    frac = (np.arange(seg.size) - np.repeat(np.cumsum(k) - k, k) + 1) / np.repeat(k, k)
    pts = np.vstack([path_ecef[:1], a[seg] + (b - a)[seg] * frac[:, None]])
    times = np.concatenate([t_s[:1], t_s[:-1][seg] + np.diff(t_s)[seg] * frac])
    return pts, times


def ground_track(path_ecef: Array, *, max_spacing_m: float = 5000.0) -> tuple[Array, Array]:
    """Latitude and longitude (degrees) along an ECEF path (K, 3), densified to
    ``max_spacing_m``."""
    pts, _ = _densify(path_ecef, np.zeros(path_ecef.shape[0]), max_spacing_m)
    lat, lon, _ = ecef_to_geodetic(pts)
    return lat, lon


def ellipse_contains(prediction: ImpactPrediction, lat_deg: float, lon_deg: float) -> bool:
    """Is the point (degrees, on the ground) inside the prediction's 95 % impact ellipse?

    The point is placed in the local East-North plane at the predicted impact point and
    compared with the ellipse's semi-axes (m) and orientation (clockwise from north).
    """
    lat0, lon0 = math.radians(prediction.lat_deg), math.radians(prediction.lon_deg)
    d_ecef = geodetic_to_ecef(lat_deg, lon_deg, 0.0) - geodetic_to_ecef(
        prediction.lat_deg, prediction.lon_deg, 0.0
    )
    east, north, _ = enu_rotation(lat0, lon0) @ d_ecef
    theta = math.radians(prediction.orientation_deg)
    along = east * math.sin(theta) + north * math.cos(theta)
    across = east * math.cos(theta) - north * math.sin(theta)
    a = max(prediction.semi_major_m, 1e-3)
    b = max(prediction.semi_minor_m, 1e-3)
    return bool((along / a) ** 2 + (across / b) ** 2 <= 1.0)


def predict_impact(
    track: Track,
    *,
    past_path_ecef: Array,
    past_max_alt_m: float,
    past_t_s: Array | None = None,
    ballistic: BallisticPrior | None = DEFAULT_RV_PRIOR,
) -> ImpactPrediction | None:
    """Predict the impact of a free-flying track; None if it never reaches the ground.

    ``past_path_ecef`` (K, 3) is the track's path so far (ECEF m) and ``past_t_s`` (K,) its
    times (POSIX s); without them, entries into areas along the past path get a nan time.
    ``ballistic`` is the prior of the body's ballistic coefficient (None: no drag).
    """
    x6, p6 = track.state[:6], track.covariance[:6, :6]
    if ballistic is None:
        pts, w = _sigma_points(x6, p6)
        beta = np.zeros(pts.shape[0])
    else:
        x = np.append(x6, math.log(ballistic.median_kg_m2))
        p = np.zeros((7, 7))
        p[:6, :6] = p6
        p[6, 6] = ballistic.sigma_ln**2
        pts, w = _sigma_points(x, p)
        beta = np.exp(pts[:, 6])
    fall = _fall(np.ascontiguousarray(pts[:, :6]), beta)
    if fall is None:
        return None
    ref = fall.state[0, :3]
    lat0, lon0, _ = ecef_to_geodetic(ref)
    rot = enu_rotation(math.radians(float(lat0)), math.radians(float(lon0)))
    en = (fall.state[:, :3] - ref) @ rot.T[:, :2]
    mean_en = w @ en
    d = en - mean_en
    cov = (w[:, None] * d).T @ d
    lat, lon, _ = ecef_to_geodetic(ref + rot.T[:, :2] @ mean_en)
    semi_major, semi_minor, orientation = ellipse_95(cov)
    dt_mean = float(w @ fall.dt_s)
    dt_sigma = math.sqrt(max(float(w @ (fall.dt_s - dt_mean) ** 2), 0.0))
    lat_f, lon_f = float(lat), float(lon)
    eez = japan_eez_check(lat_f, lon_f)
    crossings = _crossings(track.t_s, fall, past_path_ecef, past_t_s)
    return ImpactPrediction(
        t_valid_s=track.t_s,
        t_impact_s=track.t_s + dt_mean,
        lat_deg=lat_f,
        lon_deg=lon_f,
        semi_major_m=semi_major,
        semi_minor_m=semi_minor,
        orientation_deg=orientation,
        apogee_m=max(past_max_alt_m, float(np.max(altitude_m(fall.path_ecef)))),
        eez_verdict=eez.verdict.value,
        eez_near_boundary=eez.near_boundary,
        overflight=crossings.japan_names,
        track_id=track.track_id,
        nation=track.nation,
        t_impact_sigma_s=dt_sigma,
        overflight_times_s=crossings.japan_times_s,
        overflight_prefectures=crossings.prefecture_names,
        overflight_prefecture_times_s=crossings.prefecture_times_s,
        korea_overflight=crossings.korea_names,
        korea_overflight_times_s=crossings.korea_times_s,
        impact_land=land_region(lat_f, lon_f),
        drag_modelled=ballistic is not None,
    )


@dataclass(frozen=True, slots=True)
class _Crossings:
    """Areas entered along the ground track, with the POSIX time (s) of first entry."""

    japan_names: tuple[str, ...]
    japan_times_s: tuple[float, ...]
    prefecture_names: tuple[str, ...]
    prefecture_times_s: tuple[float, ...]
    korea_names: tuple[str, ...]
    korea_times_s: tuple[float, ...]


def _crossings(
    t_valid_s: float, fall: _Fall, past_path_ecef: Array, past_t_s: Array | None
) -> _Crossings:
    """The ground track (past path + predicted path) tested against the land areas."""
    future_t = t_valid_s + fall.path_dt_s
    if past_path_ecef.size:
        past = np.asarray(past_path_ecef, dtype=np.float64).reshape(-1, 3)
        if past_t_s is None:
            past_t = np.full(past.shape[0], np.nan)
        else:
            past_t = np.asarray(past_t_s, dtype=np.float64).reshape(-1)
            if past_t.shape[0] != past.shape[0]:
                raise ValueError(
                    f"past_t_s must give one time per past_path_ecef row: got shape "
                    f"{past_t.shape} for a path of shape {past.shape}"
                )
        path = np.vstack([past, fall.path_ecef])
        times = np.concatenate([past_t, future_t])
    else:
        path, times = fall.path_ecef, future_t
    pts, t = _densify(path, times, 5000.0)
    lat, lon, _ = ecef_to_geodetic(pts)

    def timed(entries: tuple[AreaEntry, ...]) -> tuple[tuple[str, ...], tuple[float, ...]]:
        return tuple(e.name for e in entries), tuple(float(t[e.index]) for e in entries)

    japan = timed(japan_land_entries(lat, lon))
    prefectures = timed(prefecture_entries(lat, lon))
    korea = timed(korean_land_entries(lat, lon))
    return _Crossings(*japan, *prefectures, *korea)
