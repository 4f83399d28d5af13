"""State vectors and covariances, checked at the boundary.

A state is a 1-D float64 array in ECEF metres and metres per second: ``[x, y, z, vx, vy,
vz]`` (6), optionally followed by a non-gravitational acceleration ``[ax, ay, az]`` (9).
A covariance is the matching symmetric square matrix.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["Covariance", "StateVector", "as_covariance", "as_state", "symmetrised"]

StateVector = NDArray[np.float64]
Covariance = NDArray[np.float64]


def as_state(
    value: ArrayLike, *, dims: tuple[int, ...] = (6, 9), name: str = "state"
) -> StateVector:
    """Return ``value`` as a float64 state vector, refusing a wrong shape or non-finite values."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 2 and 1 in arr.shape:  # a column or row vector
        arr = arr.reshape(-1)
    if arr.ndim != 1 or arr.shape[0] not in dims:
        raise ValueError(f"{name} must be a vector of length {dims}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has non-finite values: {arr}")
    return arr


def as_covariance(value: ArrayLike, dim: int, *, name: str = "covariance") -> Covariance:
    """Return ``value`` as a symmetric float64 ``dim``×``dim`` matrix, refusing other shapes."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (dim, dim):
        raise ValueError(f"{name} must have shape ({dim}, {dim}), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has non-finite values")
    return symmetrised(arr)


def symmetrised(m: Covariance) -> Covariance:
    """``(M + Mᵀ) / 2``, halved first: the sum of two entries near the float maximum
    would overflow."""
    return 0.5 * m + 0.5 * m.T
