"""Atmospheric density for drag (exponential model; the US Standard 1976 comes later)."""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

__all__ = ["density_kg_m3"]

RHO0_KG_M3: Final = 1.225
SCALE_HEIGHT_M: Final = 7200.0
TOP_M: Final = 120_000.0


def density_kg_m3(alt_m: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """Air density at geometric altitude ``alt_m``; zero above 120 km."""
    alt = np.asarray(alt_m, dtype=np.float64)
    rho = RHO0_KG_M3 * np.exp(-np.clip(alt, 0.0, None) / SCALE_HEIGHT_M)
    return np.where(alt > TOP_M, 0.0, rho)
