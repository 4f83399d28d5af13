"""Inverse covariance intersection (ICI): fusing estimates whose common information is
unknown, more tightly than covariance intersection.

Noack, Sijs, Reinhardt and Hanebeck (2017): with ``Γ(ω) = ω P₁ + (1-ω) P₂``::

    P⁻¹ = P₁⁻¹ + P₂⁻¹ - Γ⁻¹
    x   = P (P₁⁻¹ - ω Γ⁻¹) x₁ + P (P₂⁻¹ - (1-ω) Γ⁻¹) x₂

is consistent whenever the two estimates' correlation comes from information they share
(common sensors, relayed or fused data, a common prior), whatever that share is. At ω = 0
the result is ``(x₁, P₁)`` and at ω = 1 it is ``(x₂, P₂)``, so minimising ``tr P`` over ω
is never worse than the better input. The minimum is found on a vectorised grid (all
``Γ`` inverted as one stack), then refined by golden-section search around the best grid
point.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from numpy.typing import NDArray

from trilink.errors import PhysicsError

__all__ = ["inverse_covariance_intersection"]

Array = NDArray[np.float64]
_GRID: Final = np.linspace(0.0, 1.0, 33)
_GOLDEN: Final = 0.5 * (math.sqrt(5.0) - 1.0)
_REFINE_STEPS: Final = 12


def _fused_covariances(i1: Array, i2: Array, p1: Array, p2: Array, w: Array) -> Array:
    """Stack (K, n, n) of ``P(ω)`` for the weights ``w`` (K,)."""
    gam = w[:, None, None] * p1 + (1.0 - w)[:, None, None] * p2
    info = i1 + i2 - np.linalg.inv(gam)
    return np.asarray(np.linalg.inv(info))


def inverse_covariance_intersection(
    x1: Array, p1: Array, x2: Array, p2: Array
) -> tuple[Array, Array]:
    """Fuse two estimates ``(x, P)`` of the same state (any units, same frame) by
    trace-minimising inverse covariance intersection; returns ``(x, P)``."""
    if p1.shape != p2.shape or x1.shape != x2.shape or p1.shape != (x1.size, x1.size):
        raise ValueError(
            f"estimates must match: x1 {x1.shape}, P1 {p1.shape}, x2 {x2.shape}, P2 {p2.shape}"
        )
    try:
        i1 = np.asarray(np.linalg.inv(p1), dtype=np.float64)
        i2 = np.asarray(np.linalg.inv(p2), dtype=np.float64)
        covs = _fused_covariances(i1, i2, p1, p2, _GRID)
        traces = np.trace(covs, axis1=1, axis2=2)
        k = int(np.argmin(traces))
        lo = float(_GRID[max(k - 1, 0)])
        hi = float(_GRID[min(k + 1, _GRID.size - 1)])
        best_w, best_tr = float(_GRID[k]), float(traces[k])
        for _ in range(_REFINE_STEPS):
            a = hi - _GOLDEN * (hi - lo)
            b = lo + _GOLDEN * (hi - lo)
            ta, tb = np.trace(
                _fused_covariances(i1, i2, p1, p2, np.array([a, b])), axis1=1, axis2=2
            )
            if ta < tb:
                hi = b
                if ta < best_tr:
                    best_w, best_tr = a, float(ta)
            else:
                lo = a
                if tb < best_tr:
                    best_w, best_tr = b, float(tb)
        w = best_w
        gam_inv = np.linalg.inv(w * p1 + (1.0 - w) * p2)
        p = np.linalg.inv(i1 + i2 - gam_inv)
    except np.linalg.LinAlgError as exc:
        raise PhysicsError(
            f"cannot fuse two estimates: a covariance is singular ({exc}). Fix: give "
            "positive-definite covariances."
        ) from exc
    x = p @ ((i1 - w * gam_inv) @ x1 + (i2 - (1.0 - w) * gam_inv) @ x2)
    return x, 0.5 * (p + p.T)
