"""Compiled (numba) forms of geodesy and air density for loops that run per step: the
trajectory engine's integrator and the national tracker's kernels share them.

:func:`altitude` is :func:`trilink.geo.earth.altitude_m` for one position;
:func:`air_density` interpolates :data:`trilink.geo.atmosphere.DENSITY_TABLE` (passed in,
since compiled code takes no module-level arrays) exactly as
:func:`trilink.geo.atmosphere.density_kg_m3` does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final, TypeVar, cast

import numba
import numpy as np
from numpy.typing import NDArray

from trilink.geo.atmosphere import TABLE_STEP_M, TOP_M
from trilink.geo.earth import WGS84_A_M, WGS84_F

__all__ = ["air_density", "altitude", "jit"]

_E2: Final = WGS84_F * (2.0 - WGS84_F)
_F = TypeVar("_F", bound=Callable[..., object])


def jit(fn: _F) -> _F:
    """Compile ``fn`` with numba (no Python objects, cached on disk), keeping its type."""
    return cast(_F, numba.njit(cache=True, nogil=True)(fn))


@jit
def altitude(x: float, y: float, z: float) -> float:
    """Height above the WGS-84 ellipsoid of the ECEF position (x, y, z), metres."""
    rn = math.sqrt(x * x + y * y + z * z)
    sin2 = z * z / (rn * rn)
    return rn - WGS84_A_M * math.sqrt((1.0 - _E2) / (1.0 - _E2 * (1.0 - sin2)))


@jit
def air_density(alt: float, table: NDArray[np.float64]) -> float:
    """Air density (kg/m³) at ``alt`` metres from ``table`` (``DENSITY_TABLE``)."""
    if alt >= TOP_M:
        return 0.0
    if alt <= 0.0:
        return math.exp(table[0])
    f = alt / TABLE_STEP_M
    i = int(f)
    w = f - i
    return math.exp(table[i] * (1.0 - w) + table[i + 1] * w)
