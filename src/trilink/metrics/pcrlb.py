"""Posterior Cramér–Rao lower bound (PCRLB) for nonlinear filtering with additive noise.

The recursion of Tichavský, Muravchik and Nehorai (IEEE Trans. Signal Processing 46(5),
1998) for the information matrix ``J_k`` of the system::

    x_{k+1} = f(x_k) + w_k,   w_k ~ N(0, Q)
    z_k     = h(x_k) + v_k,   v_k ~ N(0, R)

is, with ``F = ∂f/∂x`` at ``x_k`` and ``H = ∂h/∂x`` at ``x_{k+1}`` (both at the truth)::

    D11 = E[Fᵀ Q⁻¹ F],   D12 = −E[Fᵀ] Q⁻¹ = D21ᵀ,   D22 = Q⁻¹ + E[Hᵀ R⁻¹ H]
    J_{k+1} = D22 − D21 (J_k + D11)⁻¹ D12

and the bound on the mean-square error matrix of any estimator is ``J_k⁻¹``. The
expectations are taken as means over Monte Carlo truth trajectories.

**Singular Q.** The recursion needs ``Q⁻¹``; if a state component has no process noise
(as the reentry truth's ``x5``, a constant) the information about it is not finite in
this form, and :func:`pcrlb` refuses with :class:`~trilink.errors.PhysicsError` naming the
smallest eigenvalue. Compute the bound with the filter's model instead — its ``Q``, which
gives every component some noise, and its prior information ``J0 = P0⁻¹`` — evaluating the
Jacobians along the true trajectories. That is a bound for an estimator that assumes what
the filters assume, and is how ``benchmarks/reentry.py`` uses it. (With the
truth's singular ``Q`` and a perfectly known ``x5`` the bound on ``x5`` would be zero, a
target no filter that must learn ``x5`` can approach.)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from trilink.errors import PhysicsError

__all__ = ["pcrlb", "pcrlb_per_run"]

Array = NDArray[np.float64]


def _inverse_pd(a: Array, name: str) -> Array:
    """Inverse of a symmetric positive-definite matrix, or PhysicsError with its eigenvalues."""
    a = 0.5 * (a + a.T)
    eig = np.linalg.eigvalsh(a)
    if not eig[0] > 0.0 or eig[0] < eig[-1] * 1e3 * np.finfo(np.float64).eps:
        smallest = int(np.argmin(np.diagonal(a)))
        raise PhysicsError(
            f"{name} is singular or not positive definite: smallest eigenvalue {eig[0]:.6g}, "
            f"largest {eig[-1]:.6g} (smallest diagonal entry at component {smallest}). Fix: "
            "the PCRLB recursion needs Q⁻¹; use the filter's process noise, which gives every "
            "state component some noise, rather than a truth model with noise-free components"
        )
    inv = np.linalg.inv(a)
    return 0.5 * (inv + inv.T)


def _jacobians(fn: Callable[[Array], Array], x: Array, rows: int | None, what: str) -> Array:
    """Call ``fn`` on states ``x`` (R, n); accept ``(R, m, n)`` or a shared ``(m, n)``."""
    r, n = x.shape
    out = np.asarray(fn(x), dtype=np.float64)
    if out.ndim == 2:
        out = np.broadcast_to(out, (r, *out.shape))
    if out.ndim != 3 or out.shape[0] != r or out.shape[2] != n:
        raise ValueError(f"{what} must return shape ({r}, m, {n}) or (m, {n}), got {out.shape}")
    if rows is not None and out.shape[1] != rows:
        raise ValueError(f"{what} must return {rows} rows, got shape {out.shape}")
    return out


def pcrlb(
    f_jacobian_at_truth: Callable[[Array], Array],
    h_jacobian_at_truth: Callable[[Array], Array],
    q: Array,
    r: Array,
    j0: Array,
    truths: Array,
) -> Array:
    """The PCRLB ``J_k⁻¹`` at every step of ``truths``.

    ``truths`` is ``(R_runs, T, n)``: ``R_runs`` Monte Carlo trajectories of the true state
    at steps ``0 … T−1``. Step 0 is the initial state, described only by the prior
    information ``j0`` ``(n, n)`` (the inverse of the prior covariance, no measurement);
    each later step ``k`` follows one transition from ``k−1``, with noise covariance ``q``
    ``(n, n)``, and one measurement with noise covariance ``r`` ``(m, m)``.

    ``f_jacobian_at_truth(x)`` receives the states ``(R_runs, n)`` of one step and returns the
    Jacobians of the one-step transition there, ``(R_runs, n, n)`` (or one shared ``(n, n)``
    for a linear model); ``h_jacobian_at_truth`` likewise returns ``(R_runs, m, n)`` or
    ``(m, n)``. The expectations are means over the runs.

    Returns the bound ``(T, n, n)`` in the units of the state squared: a lower bound on the
    mean-square error matrix of any estimator at each step. ``q`` must be positive definite
    (see the module notes on a singular ``Q``).
    """
    return _recursion(f_jacobian_at_truth, h_jacobian_at_truth, q, r, j0, truths, per_run=False)


def pcrlb_per_run(
    f_jacobian_at_truth: Callable[[Array], Array],
    h_jacobian_at_truth: Callable[[Array], Array],
    q: Array,
    r: Array,
    j0: Array,
    truths: Array,
) -> Array:
    """The same recursion along each trajectory on its own: ``(R_runs, T, n, n)``.

    Each run's "expectations" are its own Jacobians (the information of an extended Kalman
    filter linearised at the truth). Its mean over runs is a common, tighter-looking
    reference, but it is *not* a bound on the ensemble error: :func:`pcrlb` averages the
    information terms, and ``E[Fᵀ Q⁻¹ F] ≥ E[F]ᵀ Q⁻¹ E[F]``, so when the Jacobians differ
    between runs and ``Q`` is small the ensemble bound can be much lower than this one.
    Arguments and units as :func:`pcrlb`.
    """
    return _recursion(f_jacobian_at_truth, h_jacobian_at_truth, q, r, j0, truths, per_run=True)


def _recursion(
    f_jacobian_at_truth: Callable[[Array], Array],
    h_jacobian_at_truth: Callable[[Array], Array],
    q: Array,
    r: Array,
    j0: Array,
    truths: Array,
    *,
    per_run: bool,
) -> Array:
    """Tichavský's recursion; information terms averaged over runs unless ``per_run``."""
    truths = np.asarray(truths, dtype=np.float64)
    if truths.ndim != 3:
        raise ValueError(f"truths must have shape (R_runs, T, n), got {truths.shape}")
    runs, t_steps, n = truths.shape
    q = np.asarray(q, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    j = np.asarray(j0, dtype=np.float64)
    if q.shape != (n, n) or j.shape != (n, n) or r.ndim != 2 or r.shape[0] != r.shape[1]:
        raise ValueError(
            f"q and j0 must be ({n}, {n}) and r square, got {q.shape}, {j.shape}, {r.shape}"
        )
    q_inv = _inverse_pd(q, "process-noise covariance Q")
    r_inv = _inverse_pd(r, "measurement-noise covariance R")
    m = r.shape[0]
    batch = runs if per_run else 1
    bound = np.empty((batch, t_steps, n, n))
    j = np.broadcast_to(0.5 * (j + j.T), (batch, n, n))
    bound[:, 0] = _inverse_pd(j[0], "prior information J0")
    for k in range(1, t_steps):
        f_jac = _jacobians(f_jacobian_at_truth, truths[:, k - 1], n, "f_jacobian_at_truth")
        h_jac = _jacobians(h_jacobian_at_truth, truths[:, k], m, "h_jacobian_at_truth")
        d11 = np.einsum("rji,jk,rkl->ril", f_jac, q_inv, f_jac)
        d21 = q_inv @ f_jac  # D21 = −Q⁻¹ E[F] = D12ᵀ; the two signs cancel below
        d22 = q_inv + np.einsum("rji,jk,rkl->ril", h_jac, r_inv, h_jac)
        if not per_run:
            d11, d21, d22 = d11.mean(axis=0)[None], d21.mean(axis=0)[None], d22.mean(axis=0)[None]
        a = j + d11
        a = 0.5 * (a + np.swapaxes(a, -1, -2))
        try:
            j_new = d22 - d21 @ np.linalg.solve(a, np.swapaxes(d21, -1, -2))
        except np.linalg.LinAlgError as exc:
            raise PhysicsError(
                f"J + D11 is singular at step {k}. Fix: give a positive-definite prior "
                "information j0"
            ) from exc
        j = 0.5 * (j_new + np.swapaxes(j_new, -1, -2))
        bound[:, k] = _inverse_pd_batch(j, f"information matrix J at step {k}")
    return bound if per_run else bound[0]


def _inverse_pd_batch(a: Array, name: str) -> Array:
    """Inverses of symmetric positive-definite matrices ``a`` (B, n, n)."""
    try:
        chol = np.linalg.cholesky(a)
    except np.linalg.LinAlgError as exc:
        eig = np.linalg.eigvalsh(a)
        raise PhysicsError(
            f"{name} is not positive definite: smallest eigenvalue {float(eig[..., 0].min()):.6g}"
            f", largest {float(eig[..., -1].max()):.6g}. Fix: use a positive-definite Q and R "
            "and Jacobians that are finite along every trajectory"
        ) from exc
    inv_l = np.linalg.inv(chol)
    return np.asarray(np.swapaxes(inv_l, -1, -2) @ inv_l, dtype=np.float64)
