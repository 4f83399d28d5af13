"""Air density of the U.S. Standard Atmosphere 1976, 0–1,000 km.

Below 86 km the density follows the standard's seven layers (hydrostatic equation with
linear temperature in geopotential altitude); from 86 to 1,000 km it is interpolated
log-linearly in the standard's published density table; above 1,000 km it is zero.
Source: U.S. Standard Atmosphere, 1976 (NOAA-S/T 76-1562), Tables 1 and 8 (rounded to
four significant digits above 86 km).

:data:`DENSITY_TABLE` samples ``log(ρ)`` every 250 m so that compiled code (the
trajectory engine) and :func:`density_kg_m3` interpolate the very same numbers.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

__all__ = ["DENSITY_TABLE", "TABLE_STEP_M", "TOP_M", "density_kg_m3"]

_R0_M: Final = 6_356_766.0  # Earth radius of the geopotential altitude
_GMR: Final = 9.80665 * 0.0289644 / 8.3144598  # g0 M / R*, K/m
_R_AIR: Final = 8.3144598 / 0.0289644  # J/(kg K)
# base geopotential altitude (m), lapse rate (K/m), base temperature (K), base pressure (Pa)
_LAYERS: Final = (
    (0.0, -0.0065, 288.15, 101_325.0),
    (11_000.0, 0.0, 216.65, 22_632.06),
    (20_000.0, 0.001, 216.65, 5_474.889),
    (32_000.0, 0.0028, 228.65, 868.0187),
    (47_000.0, 0.0, 270.65, 110.9063),
    (51_000.0, -0.0028, 270.65, 66.93887),
    (71_000.0, -0.002, 214.65, 3.956420),
)
# geometric altitude (km), density (kg/m³) above 86 km
_UPPER: Final = (
    (86, 6.958e-6),
    (90, 3.416e-6),
    (95, 1.393e-6),
    (100, 5.604e-7),
    (110, 9.708e-8),
    (120, 2.222e-8),
    (130, 8.152e-9),
    (140, 3.831e-9),
    (150, 2.076e-9),
    (160, 1.233e-9),
    (180, 5.194e-10),
    (200, 2.541e-10),
    (250, 6.073e-11),
    (300, 1.916e-11),
    (350, 7.014e-12),
    (400, 2.803e-12),
    (450, 1.184e-12),
    (500, 5.215e-13),
    (600, 1.137e-13),
    (700, 3.070e-14),
    (800, 1.136e-14),
    (900, 5.759e-15),
    (1000, 3.561e-15),
)
TOP_M: Final = 1_000_000.0
TABLE_STEP_M: Final = 250.0


def _lower_density(z_m: float) -> float:
    h = _R0_M * z_m / (_R0_M + z_m)
    for hb, lapse, tb, pb in reversed(_LAYERS):
        if h >= hb:
            t = tb + lapse * (h - hb)
            if lapse == 0.0:
                p = pb * np.exp(-_GMR * (h - hb) / tb)
            else:
                p = pb * (tb / t) ** (_GMR / lapse)
            return float(p / (_R_AIR * t))
    raise ValueError(f"altitude {z_m} m is below sea level")


def _table() -> NDArray[np.float64]:
    z = np.arange(0.0, TOP_M + TABLE_STEP_M, TABLE_STEP_M)
    upper_z = np.array([k * 1e3 for k, _ in _UPPER])
    upper_log = np.log(np.array([rho for _, rho in _UPPER]))
    out = np.empty_like(z)
    for i, zi in enumerate(z):
        out[i] = (
            np.log(_lower_density(float(zi)))
            if zi < 86_000.0
            else np.interp(zi, upper_z, upper_log)
        )
    return out


DENSITY_TABLE: Final[NDArray[np.float64]] = _table()
"""``log(ρ)`` at 0, 250 m, …, 1,000 km."""


def density_kg_m3(alt_m: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """US 1976 air density at geometric altitude ``alt_m`` (clamped at 0; zero above 1,000 km)."""
    alt = np.asarray(alt_m, dtype=np.float64)
    idx = np.clip(alt, 0.0, TOP_M) / TABLE_STEP_M
    rho = np.exp(np.interp(idx, np.arange(DENSITY_TABLE.size), DENSITY_TABLE))
    return np.asarray(np.where(alt > TOP_M, 0.0, rho))
