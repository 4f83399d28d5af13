"""WGS-84 constants, frames and the gravity field (point mass + J2) on a rotating Earth.

Everything is in SI units and the Earth-centred, Earth-fixed (ECEF) frame unless a name
says otherwise. Geodetic conversions are delegated to pymap3d; this module adds the
vectorised pieces trilink needs on its hot paths.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pymap3d
from numpy.typing import ArrayLike, NDArray
from pymap3d.vincenty import vdist

__all__ = [
    "EARTH_RATE_RAD_S",
    "altitude_m",
    "GM_M3_S2",
    "J2",
    "OMEGA_VEC",
    "WGS84_A_M",
    "WGS84_F",
    "ecef_acceleration",
    "enu_rotation",
    "geodetic_to_ecef",
    "gravity_gradient",
    "gravity_j2",
    "ecef_to_geodetic",
    "surface_distance_m",
]

WGS84_A_M: Final = 6378137.0
WGS84_F: Final = 1.0 / 298.257223563
GM_M3_S2: Final = 3.986004418e14
J2: Final = 1.08262668e-3
EARTH_RATE_RAD_S: Final = 7.292115e-5
OMEGA_VEC: Final = np.array([0.0, 0.0, EARTH_RATE_RAD_S])

_ELL = pymap3d.Ellipsoid.from_name("wgs84")

Array = NDArray[np.float64]


def geodetic_to_ecef(lat_deg: ArrayLike, lon_deg: ArrayLike, alt_m: ArrayLike) -> Array:
    """Geodetic (degrees, metres) to ECEF metres, shape (..., 3)."""
    x, y, z = pymap3d.geodetic2ecef(lat_deg, lon_deg, alt_m, ell=_ELL)
    return np.stack([np.asarray(x), np.asarray(y), np.asarray(z)], axis=-1).astype(np.float64)


def ecef_to_geodetic(r_ecef_m: ArrayLike) -> tuple[Array, Array, Array]:
    """ECEF metres (..., 3) to geodetic latitude, longitude (degrees) and altitude (m)."""
    r = np.asarray(r_ecef_m, dtype=np.float64)
    lat, lon, alt = pymap3d.ecef2geodetic(r[..., 0], r[..., 1], r[..., 2], ell=_ELL)
    return np.asarray(lat, np.float64), np.asarray(lon, np.float64), np.asarray(alt, np.float64)


def enu_rotation(lat_rad: float, lon_rad: float) -> Array:
    """The 3×3 matrix turning an ECEF vector into local East-North-Up components."""
    sl, cl = np.sin(lat_rad), np.cos(lat_rad)
    so, co = np.sin(lon_rad), np.cos(lon_rad)
    return np.array(
        [
            [-so, co, 0.0],
            [-sl * co, -sl * so, cl],
            [cl * co, cl * so, sl],
        ]
    )


def gravity_j2(r: Array) -> Array:
    """Gravitational acceleration (point mass + J2) at ECEF positions ``r`` (..., 3), m/s².

    J2 is symmetric about the spin axis, so the same expression holds in ECEF and ECI.
    """
    x, y, z = r[..., 0], r[..., 1], r[..., 2]
    r2 = x * x + y * y + z * z
    rn = np.sqrt(r2)
    k = -GM_M3_S2 / (r2 * rn)
    c = 1.5 * J2 * WGS84_A_M**2 / r2
    z2r2 = 5.0 * z * z / r2
    gx = k * x * (1.0 + c * (1.0 - z2r2))
    gy = k * y * (1.0 + c * (1.0 - z2r2))
    gz = k * z * (1.0 + c * (3.0 - z2r2))
    return np.stack([gx, gy, gz], axis=-1)


def ecef_acceleration(r: Array, v: Array) -> Array:
    """Acceleration of a free body seen in the rotating ECEF frame: gravity (J2), Coriolis
    and centrifugal terms. ``r`` and ``v`` have shape (..., 3)."""
    w = EARTH_RATE_RAD_S
    g = gravity_j2(r)
    ax = g[..., 0] + 2.0 * w * v[..., 1] + w * w * r[..., 0]
    ay = g[..., 1] - 2.0 * w * v[..., 0] + w * w * r[..., 1]
    return np.stack([ax, ay, g[..., 2]], axis=-1)


def gravity_gradient(r: Array) -> Array:
    """d(acceleration)/d(position) in ECEF for one position: point-mass gravity gradient plus
    the centrifugal term (J2's gradient is below the filters' process noise)."""
    rn = float(np.linalg.norm(r))
    u = r / rn
    grad = GM_M3_S2 / rn**3 * (3.0 * np.outer(u, u) - np.eye(3))
    grad[0, 0] += EARTH_RATE_RAD_S**2
    grad[1, 1] += EARTH_RATE_RAD_S**2
    return grad


def surface_distance_m(lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float) -> float:
    """Geodesic distance on the WGS-84 ellipsoid between two points, metres."""
    dist, _ = vdist(lat1_deg, lon1_deg, lat2_deg, lon2_deg, ell=_ELL)
    return float(dist)


_E2: Final = WGS84_F * (2.0 - WGS84_F)


def altitude_m(r: ArrayLike) -> Array:
    """Fast height above the WGS-84 ellipsoid of ECEF positions (..., 3), metres.

    Measured along the geocentric radius: exactly zero on the ellipsoid and within a few
    metres of the geodetic height below 1,000 km, at a fraction of the cost; used for
    ground crossings and air density on hot paths.
    """
    p = np.asarray(r, dtype=np.float64)
    rn = np.sqrt(np.sum(p * p, axis=-1))
    sin2 = (p[..., 2] / rn) ** 2
    r_ell = WGS84_A_M * np.sqrt((1.0 - _E2) / (1.0 - _E2 * (1.0 - sin2)))
    return np.asarray(rn - r_ell, dtype=np.float64)
