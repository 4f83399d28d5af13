"""Covariance intersection: fusing estimates whose cross-correlation is unknown.

``P⁻¹ = ω P₁⁻¹ + (1-ω) P₂⁻¹``, ``P⁻¹x = ω P₁⁻¹x₁ + (1-ω) P₂⁻¹x₂``, with ω chosen to
minimise the trace of ``P``. The result is consistent whatever the correlation between
the two inputs, so tracks that share information (common sensors, relayed data) are never
over-trusted.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize_scalar

__all__ = ["covariance_intersection"]

Array = NDArray[np.float64]


def covariance_intersection(x1: Array, p1: Array, x2: Array, p2: Array) -> tuple[Array, Array]:
    """Fuse two estimates by trace-minimising covariance intersection."""
    i1, i2 = np.linalg.inv(p1), np.linalg.inv(p2)

    def trace(w: float) -> float:
        return float(np.trace(np.linalg.inv(w * i1 + (1.0 - w) * i2)))

    w = float(minimize_scalar(trace, bounds=(0.0, 1.0), method="bounded").x)
    p = np.linalg.inv(w * i1 + (1.0 - w) * i2)
    x = p @ (w * i1 @ x1 + (1.0 - w) * i2 @ x2)
    return x, 0.5 * (p + p.T)
