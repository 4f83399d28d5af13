"""Unscented (and cubature) transform and Kalman filter steps for additive noise.

Model, in whatever units the caller uses (the functions are unit-agnostic)::

    x_{k+1} = f(x_k) + w_k,   w_k ~ N(0, Q)
    z_k     = h(x_k) + v_k,   v_k ~ N(0, R)

Everything is vectorised with numpy, and every function also runs many independent filters
in lockstep: a state may be ``(n,)`` or ``(*B, n)`` with covariances ``(n, n)`` or
``(*B, n, n)``. The user's ``f`` and ``h`` receive all sigma points at once, as an array
``(k, n)`` (or ``(*B, k, n)``), and return ``(k, n)`` and ``(k, m)`` (or with the same
leading ``B`` axes).

Sigma points are the scaled unscented set of Julier (2002) and van der Merwe: with
``λ = α²(n + κ) − n`` the ``2n + 1`` points are ``x`` and ``x ± sqrt(n + λ)·L[:, i]`` where
``L Lᵀ = P``, with mean weights ``λ/(n + λ)`` then ``1/(2(n + λ))`` and covariance weights
that add ``1 − α² + β`` to the first. The third-degree spherical-radial cubature set of
Arasaratnam and Haykin (2009) is ``x ± sqrt(n)·L[:, i]`` with equal weights ``1/(2n)``.

Weighted means are formed as offsets from the first transformed point, which keeps the
large, cancelling weights of a small ``α`` from losing precision on large coordinates and
lets an angle residual wrap the measurement mean as well as the innovation.

A covariance that is not positive definite (beyond a tiny jitter) raises
:class:`trilink.errors.PhysicsError` giving its smallest eigenvalue.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from trilink.errors import PhysicsError

__all__ = [
    "PointRule",
    "Residual",
    "angle_residual",
    "cubature_points",
    "sigma_points",
    "ukf_predict",
    "ukf_update",
    "unscented_transform",
]

Array = NDArray[np.float64]
Residual = Callable[[Array, Array], Array]
"""``residual(a, b)``: the difference ``a − b`` of two measurement arrays (broadcasting over
leading axes), for example with angles wrapped to [−π, π)."""
PointRule = Literal["unscented", "cubature"]

_JITTER_REL = 1e-12  # added to the diagonal, relative to its mean, when Cholesky first fails


def _check_state(x: Array, p: Array) -> tuple[Array, Array]:
    """Return ``x`` (*B, n) and a symmetrised ``p`` (*B, n, n) as float64, or raise ValueError."""
    x = np.asarray(x, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if x.ndim < 1:
        raise ValueError(f"state must have shape (n,) or (..., n), got shape {x.shape}")
    n = x.shape[-1]
    if p.shape[-2:] != (n, n) or p.ndim != x.ndim + 1:
        raise ValueError(
            f"covariance must have shape {(*x.shape, n)} to match a state of shape {x.shape}, "
            f"got shape {p.shape}"
        )
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(p))):
        raise ValueError("state or covariance has non-finite values")
    return x, 0.5 * (p + np.swapaxes(p, -1, -2))


def _cholesky(p: Array) -> Array:
    """Lower Cholesky factor of the symmetric ``p`` (*B, n, n), with a tiny jitter fallback.

    Raises PhysicsError, giving the smallest eigenvalue, if ``p`` is not positive
    (semi-)definite.
    """
    try:
        return np.asarray(np.linalg.cholesky(p), dtype=np.float64)
    except np.linalg.LinAlgError:
        pass
    n = p.shape[-1]
    diag = np.abs(np.diagonal(p, axis1=-2, axis2=-1))
    scale = np.maximum(diag.mean(axis=-1), np.finfo(np.float64).tiny)
    jitter = (_JITTER_REL * scale)[..., None, None] * np.eye(n)
    try:
        return np.asarray(np.linalg.cholesky(p + jitter), dtype=np.float64)
    except np.linalg.LinAlgError as exc:
        eig = np.linalg.eigvalsh(p)
        smallest = eig[..., 0]
        where = ""
        if smallest.ndim > 0:
            idx = np.unravel_index(int(np.argmin(smallest)), smallest.shape)
            where = f" (filter {tuple(int(i) for i in idx)} of a batch of {smallest.shape})"
        lo = float(np.min(smallest))
        hi = float(np.max(eig[..., -1]))
        raise PhysicsError(
            f"covariance is not positive definite{where}: smallest eigenvalue {lo:.6g}, "
            f"largest {hi:.6g}. Fix: check that Q and R are positive semi-definite and that "
            "the filter has not diverged (a negative eigenvalue usually follows a "
            "measurement far outside the predicted uncertainty)"
        ) from exc


def sigma_points(
    x: Array, p: Array, *, alpha: float = 1e-3, beta: float = 2.0, kappa: float = 0.0
) -> tuple[Array, Array, Array]:
    """The scaled unscented sigma points of the Gaussian ``N(x, p)``.

    ``x`` is ``(n,)`` or ``(*B, n)`` and ``p`` the matching ``(n, n)`` or ``(*B, n, n)``, in
    the caller's units. ``alpha`` (spread, > 0), ``beta`` (prior knowledge of the
    distribution, 2 is optimal for a Gaussian) and ``kappa`` (secondary scaling) are
    dimensionless. Returns the points ``(2n+1, n)`` (or ``(*B, 2n+1, n)``) in the units of
    ``x``, with mean weights ``wm`` and covariance weights ``wc``, both ``(2n+1,)``.
    """
    x, p = _check_state(x, p)
    n = x.shape[-1]
    if alpha <= 0.0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    lam = alpha * alpha * (n + kappa) - n
    c = n + lam
    if c <= 0.0:
        raise ValueError(
            f"n + λ = α²(n + κ) = {c:.3g} must be positive (n={n}, alpha={alpha}, kappa={kappa})"
        )
    chol = _cholesky(p)
    offsets = math.sqrt(c) * np.swapaxes(chol, -1, -2)  # rows are the scaled columns of L
    points = np.concatenate(
        [x[..., None, :], x[..., None, :] + offsets, x[..., None, :] - offsets], -2
    )
    wm = np.full(2 * n + 1, 0.5 / c)
    wc = wm.copy()
    wm[0] = lam / c
    wc[0] = lam / c + (1.0 - alpha * alpha + beta)
    return points, wm, wc


def cubature_points(x: Array, p: Array) -> tuple[Array, Array, Array]:
    """The third-degree spherical-radial cubature points of ``N(x, p)``.

    Same shapes and units as :func:`sigma_points` but ``2n`` points ``x ± sqrt(n)·L[:, i]``
    and equal weights ``wm = wc = 1/(2n)``.
    """
    x, p = _check_state(x, p)
    n = x.shape[-1]
    offsets = math.sqrt(n) * np.swapaxes(_cholesky(p), -1, -2)
    points = np.concatenate([x[..., None, :] + offsets, x[..., None, :] - offsets], -2)
    w = np.full(2 * n, 0.5 / n)
    return points, w, w.copy()


def _points(
    x: Array, p: Array, rule: PointRule, alpha: float, beta: float, kappa: float
) -> tuple[Array, Array, Array]:
    if rule == "unscented":
        return sigma_points(x, p, alpha=alpha, beta=beta, kappa=kappa)
    if rule == "cubature":
        return cubature_points(x, p)
    raise ValueError(f"rule must be 'unscented' or 'cubature', got {rule!r}")


def _subtract(a: Array, b: Array) -> Array:
    return a - b


def _moments(y: Array, wm: Array, wc: Array, residual: Residual) -> tuple[Array, Array, Array]:
    """Weighted mean (*B, m), deviations from it (*B, k, m) and covariance (*B, m, m) of the
    transformed points ``y`` (*B, k, m); the mean is formed as an offset from ``y[..., 0, :]``.
    """
    ref = y[..., :1, :]
    d = residual(y, ref)
    shift = np.einsum("k,...km->...m", wm, d)
    mean = ref[..., 0, :] + shift
    dev = d - shift[..., None, :]
    cov = np.einsum("k,...ki,...kj->...ij", wc, dev, dev)
    return mean, dev, 0.5 * (cov + np.swapaxes(cov, -1, -2))


def _apply(fn: Callable[[Array], Array], points: Array, what: str) -> Array:
    out = np.asarray(fn(points), dtype=np.float64)
    if out.ndim != points.ndim or out.shape[:-1] != points.shape[:-1]:
        raise ValueError(
            f"{what} must map sigma points of shape {points.shape} to shape "
            f"{(*points.shape[:-1], 'm')}, got shape {out.shape}"
        )
    return out


def unscented_transform(
    x: Array,
    p: Array,
    g: Callable[[Array], Array],
    *,
    residual: Residual | None = None,
    rule: PointRule = "unscented",
    alpha: float = 1e-3,
    beta: float = 2.0,
    kappa: float = 0.0,
) -> tuple[Array, Array, Array]:
    """Approximate the mean and covariance of ``g(x)`` for ``x ~ N(x, p)``.

    ``g`` maps points ``(*B, k, n) → (*B, k, m)``. ``residual`` (default ``a − b``) forms
    differences in ``g``'s output space. Returns the mean ``(*B, m)``, the covariance
    ``(*B, m, m)`` and the cross-covariance of input and output ``(*B, n, m)``, in the units of
    ``x`` and ``g(x)``.
    """
    x, p = _check_state(x, p)
    pts, wm, wc = _points(x, p, rule, alpha, beta, kappa)
    y = _apply(g, pts, "g")
    mean, dev, cov = _moments(y, wm, wc, residual or _subtract)
    cross = np.einsum("k,...ki,...kj->...ij", wc, pts - x[..., None, :], dev)
    return mean, cov, cross


def ukf_predict(
    x: Array,
    p: Array,
    f: Callable[[Array], Array],
    q: Array,
    *,
    rule: PointRule = "unscented",
    alpha: float = 1e-3,
    beta: float = 2.0,
    kappa: float = 0.0,
) -> tuple[Array, Array]:
    """Predict the state ``x`` and covariance ``p`` through ``f`` with additive noise ``q``.

    ``f`` maps all sigma points at once, ``(*B, k, n) → (*B, k, n)``, over one time step;
    ``q`` ``(n, n)`` or ``(*B, n, n)`` is the process-noise covariance of that step, in the
    units of ``x`` squared. Returns the predicted ``(x, p)`` with ``p`` symmetric.
    """
    x, p = _check_state(x, p)
    pts, wm, wc = _points(x, p, rule, alpha, beta, kappa)
    y = _apply(f, pts, "f")
    if y.shape != pts.shape:
        raise ValueError(f"f must keep the shape {pts.shape} of the sigma points, got {y.shape}")
    mean, _, cov = _moments(y, wm, wc, _subtract)
    p_new = cov + np.asarray(q, dtype=np.float64)
    return mean, 0.5 * (p_new + np.swapaxes(p_new, -1, -2))


def ukf_update(
    x: Array,
    p: Array,
    z: Array,
    h: Callable[[Array], Array],
    r: Array,
    *,
    residual: Residual | None = None,
    rule: PointRule = "unscented",
    alpha: float = 1e-3,
    beta: float = 2.0,
    kappa: float = 0.0,
) -> tuple[Array, Array, Array]:
    """Update the state ``x`` and covariance ``p`` with the measurement ``z``.

    ``h`` maps all sigma points at once, ``(*B, k, n) → (*B, k, m)``; ``z`` is ``(m,)`` or
    ``(*B, m)`` and ``r`` ``(m, m)`` or ``(*B, m, m)`` the measurement-noise covariance, in
    the units of ``z`` squared. ``residual(a, b)`` forms ``a − b`` in measurement space, e.g.
    :func:`angle_residual` to wrap bearings. Returns the updated ``(x, p)`` and the normalised
    innovation squared ``νᵀ S⁻¹ ν`` (dimensionless, shape ``(*B,)``; χ² with ``m`` degrees of
    freedom when the filter is consistent).
    """
    x, p = _check_state(x, p)
    res = residual or _subtract
    pts, wm, wc = _points(x, p, rule, alpha, beta, kappa)
    zs = _apply(h, pts, "h")
    z_mean, z_dev, s = _moments(zs, wm, wc, res)
    s = s + np.asarray(r, dtype=np.float64)
    s = 0.5 * (s + np.swapaxes(s, -1, -2))
    pxz = np.einsum("k,...ki,...kj->...ij", wc, pts - x[..., None, :], z_dev)
    nu = res(np.asarray(z, dtype=np.float64), z_mean)
    if nu.shape != z_mean.shape:
        raise ValueError(f"measurement must have shape {z_mean.shape}, got {np.shape(z)}")
    try:
        # K = Pxz S⁻¹, computed as (S⁻¹ Pxzᵀ)ᵀ since S is symmetric.
        gain = np.swapaxes(np.linalg.solve(s, np.swapaxes(pxz, -1, -2)), -1, -2)
        s_inv_nu = np.linalg.solve(s, nu[..., None])[..., 0]
    except np.linalg.LinAlgError as exc:
        raise PhysicsError(
            "innovation covariance S = H P Hᵀ + R is singular. Fix: give R a positive variance "
            "for every measured component"
        ) from exc
    x_new = x + np.einsum("...ij,...j->...i", gain, nu)
    p_new = p - gain @ s @ np.swapaxes(gain, -1, -2)
    nis = np.einsum("...i,...i->...", nu, s_inv_nu)
    return x_new, 0.5 * (p_new + np.swapaxes(p_new, -1, -2)), np.asarray(nis, dtype=np.float64)


def angle_residual(angle_indices: Sequence[int]) -> Residual:
    """A residual ``a − b`` that wraps the components ``angle_indices`` (radians) to [−π, π)."""
    idx = list(angle_indices)

    def residual(a: Array, b: Array) -> Array:
        d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
        d[..., idx] = (d[..., idx] + math.pi) % (2.0 * math.pi) - math.pi
        return d

    return residual
