"""Estimation-error metrics: RMSE and the normalised estimation error squared (NEES).

Errors are estimate minus truth, in the units of the state (ECEF metres, metres per
second); covariances are the filter's matching covariances (m², m²/s², ...). NEES is
dimensionless: for a consistent filter it is chi-square distributed with ``n`` degrees of
freedom, so its mean is ``n`` and the mean over ``R`` runs (ANEES) lies inside
:func:`nees_band` with the chosen confidence.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import chi2

__all__ = ["anees", "nees", "nees_band", "rmse", "rmse_over_runs"]


def _as_errors(value: ArrayLike, ndim: int, name: str, layout: str) -> NDArray[np.float64]:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != ndim or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty {layout} array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has non-finite values")
    return arr


def rmse(errors: ArrayLike) -> float:
    """Root mean square error of a (T, d) error history, in the units of the errors.

    ``sqrt(mean over t of |e_t|²)``: the norm is over the d columns (for positions, the 3-D
    miss distance in metres), the mean over the T times.
    """
    e = _as_errors(errors, 2, "errors", "(T, d)")
    return float(np.sqrt(np.mean(np.sum(e * e, axis=-1))))


def rmse_over_runs(errors: ArrayLike) -> NDArray[np.float64]:
    """RMSE at each time over Monte Carlo runs: (R, T, d) errors -> (T,) in error units.

    ``sqrt(mean over runs r of |e_rt|²)`` for each time t.
    """
    e = _as_errors(errors, 3, "errors", "(R, T, d)")
    out: NDArray[np.float64] = np.sqrt(np.mean(np.sum(e * e, axis=-1), axis=0))
    return out


def nees(errors: ArrayLike, covariances: ArrayLike) -> NDArray[np.float64]:
    """NEES ``e^T P^-1 e`` of errors (..., n) with covariances (..., n, n) -> (...).

    Dimensionless. The leading dimensions broadcast (one (n, n) covariance may serve every
    error). ``P^-1 e`` is computed with a linear solve, never an explicit inverse.
    """
    e = np.asarray(errors, dtype=np.float64)
    cov = np.asarray(covariances, dtype=np.float64)
    if e.ndim < 1 or cov.ndim < 2 or cov.shape[-2:] != (e.shape[-1], e.shape[-1]):
        raise ValueError(
            f"nees needs errors (..., n) and covariances (..., n, n), got errors shape "
            f"{e.shape} and covariances shape {cov.shape}"
        )
    if not (np.all(np.isfinite(e)) and np.all(np.isfinite(cov))):
        raise ValueError("nees got non-finite errors or covariances")
    try:
        lead = np.broadcast_shapes(e.shape[:-1], cov.shape[:-2])
    except ValueError as exc:
        raise ValueError(
            f"errors shape {e.shape} and covariances shape {cov.shape} do not broadcast"
        ) from exc
    n = e.shape[-1]
    e_b = np.broadcast_to(e, (*lead, n))
    cov_b = np.broadcast_to(cov, (*lead, n, n))
    try:
        solved = np.linalg.solve(cov_b, e_b[..., None])[..., 0]
    except np.linalg.LinAlgError as exc:
        raise ValueError(
            "nees: a covariance is singular; check that every covariance is positive definite"
        ) from exc
    out: NDArray[np.float64] = np.sum(e_b * solved, axis=-1)
    return out


def anees(errors: ArrayLike, covariances: ArrayLike) -> float:
    """Average NEES over R runs: errors (R, n), covariances (R, n, n) or (n, n) -> float.

    Dimensionless; compare with :func:`nees_band` ``(n, R)``.
    """
    e = _as_errors(errors, 2, "errors", "(R, n)")
    return float(np.mean(nees(e, covariances)))


def nees_band(n_dim: int, n_runs: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided ``confidence`` interval of the mean NEES over ``n_runs`` consistent runs.

    ``R * ANEES`` is chi-square with ``n_dim * R`` degrees of freedom, so with
    ``a = 1 - confidence`` the bounds are ``chi2.ppf(a/2, n·R)/R`` and
    ``chi2.ppf(1 - a/2, n·R)/R`` (dimensionless; they bracket ``n_dim``).
    """
    if n_dim < 1 or n_runs < 1:
        raise ValueError(f"nees_band needs n_dim >= 1 and n_runs >= 1, got {n_dim}, {n_runs}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    a = 1.0 - confidence
    dof = n_dim * n_runs
    lo = float(chi2.ppf(a / 2.0, dof)) / n_runs
    hi = float(chi2.ppf(1.0 - a / 2.0, dof)) / n_runs
    return lo, hi
