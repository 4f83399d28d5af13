"""The 95 % error ellipse of a horizontal position covariance: one definition for every
ellipse trilink draws or reports (impact predictions, tracks on the map, launch points).
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from numpy.typing import NDArray

__all__ = ["CHI2_2DOF_95", "ellipse_95"]

CHI2_2DOF_95: Final = 5.991
"""The 95 % point of χ² with 2 degrees of freedom: a 2-D Gaussian's 95 % ellipse is its
1-sigma ellipse scaled by the square root of this."""


def ellipse_95(cov_en_m2: NDArray[np.float64]) -> tuple[float, float, float]:
    """Semi-major and semi-minor axes (m) of the 95 % ellipse of an East-North position
    covariance (2×2, m²) and the semi-major axis's orientation (degrees clockwise from
    north, in [0, 180))."""
    c = np.asarray(cov_en_m2, dtype=np.float64)[:2, :2]
    vals, vecs = np.linalg.eigh(0.5 * (c + c.T))
    vals = np.clip(vals, 0.0, None)
    major = vecs[:, 1]  # eigh sorts ascending: the last is the major axis (east, north)
    orientation = math.degrees(math.atan2(float(major[0]), float(major[1]))) % 180.0
    return (
        math.sqrt(CHI2_2DOF_95 * float(vals[1])),
        math.sqrt(CHI2_2DOF_95 * float(vals[0])),
        orientation,
    )
