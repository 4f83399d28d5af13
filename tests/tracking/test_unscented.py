"""Tests of the unscented and cubature transforms and the UKF steps."""

import math

import numpy as np
import pytest

from trilink.errors import PhysicsError
from trilink.tracking import unscented as ut
from trilink.tracking.unscented import (
    PointRule,
    angle_residual,
    cubature_points,
    sigma_points,
    ukf_predict,
    ukf_update,
    unscented_transform,
)

RULES: list[tuple[PointRule, float, float, float]] = [  # rule, alpha, beta, kappa
    ("unscented", 1e-3, 2.0, 0.0),
    ("unscented", 1.0, 0.0, 1.0),
    ("unscented", 0.5, 2.0, 0.0),
    ("cubature", 1.0, 0.0, 0.0),  # the cubature rule has no parameters
]
PARAMS = ("rule", "alpha", "beta", "kappa")


def _random_cov(rng: np.random.Generator, n: int, scale: float = 1.0) -> np.ndarray:
    a = rng.normal(size=(n, n))
    return scale * (a @ a.T + n * np.eye(n))


def test_all_is_sorted_and_complete() -> None:
    assert ut.__all__ == sorted(ut.__all__)
    for name in ut.__all__:
        assert hasattr(ut, name)


@pytest.mark.parametrize(PARAMS, RULES)
def test_transform_of_a_linear_function_is_exact(
    rule: PointRule, alpha: float, beta: float, kappa: float
) -> None:
    rng = np.random.default_rng(1)
    n, m = 4, 3
    x = rng.normal(size=n)
    p = _random_cov(rng, n)
    a = rng.normal(size=(m, n))
    b = rng.normal(size=m)
    mean, cov, cross = unscented_transform(
        x,
        p,
        lambda pts: pts @ a.T + b,
        rule=rule,
        alpha=alpha,
        beta=beta,
        kappa=kappa,
    )
    np.testing.assert_allclose(mean, a @ x + b, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(cov, a @ p @ a.T, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(cross, p @ a.T, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(cov, cov.T)


def test_sigma_points_reproduce_mean_and_covariance() -> None:
    rng = np.random.default_rng(2)
    x, p = rng.normal(size=5), _random_cov(rng, 5)
    for pts, wm, wc in (sigma_points(x, p, alpha=0.3, kappa=1.0), cubature_points(x, p)):
        assert pts.shape[1] == 5
        assert wm.sum() == pytest.approx(1.0)
        mean = wm @ pts
        dev = pts - mean
        np.testing.assert_allclose(mean, x, atol=1e-12)
        np.testing.assert_allclose((wc[:, None] * dev).T @ dev, p, rtol=1e-10)
    assert sigma_points(x, p)[0].shape == (11, 5)
    assert cubature_points(x, p)[0].shape == (10, 5)


def _kalman(
    x: np.ndarray,
    p: np.ndarray,
    zs: np.ndarray,
    f: np.ndarray,
    q: np.ndarray,
    h: np.ndarray,
    r: np.ndarray,
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    out = []
    for z in zs:
        x = f @ x
        p = f @ p @ f.T + q
        s = h @ p @ h.T + r
        k = p @ h.T @ np.linalg.inv(s)
        nu = z - h @ x
        x = x + k @ nu
        p = p - k @ s @ k.T
        out.append((x, p, float(nu @ np.linalg.solve(s, nu))))
    return out


@pytest.mark.parametrize(PARAMS, RULES)
def test_ukf_equals_the_kalman_filter_on_a_linear_gaussian_problem(
    rule: PointRule, alpha: float, beta: float, kappa: float
) -> None:
    rng = np.random.default_rng(3)
    dt = 0.5
    f = np.array([[1.0, 0, dt, 0], [0, 1, 0, dt], [0, 0, 1, 0], [0, 0, 0, 1]])
    q = 0.1 * np.array(
        [
            [dt**3 / 3, 0, dt**2 / 2, 0],
            [0, dt**3 / 3, 0, dt**2 / 2],
            [dt**2 / 2, 0, dt, 0],
            [0, dt**2 / 2, 0, dt],
        ]
    )
    h = np.array([[1.0, 0, 0, 0], [0, 1, 0, 0], [1, 1, 0, 0.5]])
    r = np.diag([0.3, 0.2, 0.5])
    x0 = np.array([1.0, -2.0, 0.5, 0.3])
    p0 = np.diag([1.0, 1.0, 0.5, 0.5])
    zs = rng.normal(size=(40, 3)) + np.arange(40)[:, None] * 0.2
    expected = _kalman(x0, p0, zs, f, q, h, r)
    x, p = x0, p0
    for z, (x_kf, p_kf, nis_kf) in zip(zs, expected, strict=True):
        x, p = ukf_predict(
            x, p, lambda pts: pts @ f.T, q, rule=rule, alpha=alpha, beta=beta, kappa=kappa
        )
        x, p, nis = ukf_update(
            x, p, z, lambda pts: pts @ h.T, r, rule=rule, alpha=alpha, beta=beta, kappa=kappa
        )
        np.testing.assert_allclose(x, x_kf, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(p, p_kf, rtol=1e-9, atol=1e-9)
        assert float(nis) == pytest.approx(nis_kf, rel=1e-9, abs=1e-9)
        np.testing.assert_array_equal(p, p.T)


def test_batched_filters_equal_one_at_a_time() -> None:
    rng = np.random.default_rng(4)
    xs = rng.normal(size=(6, 3))
    ps = np.stack([_random_cov(rng, 3, 0.1) for _ in range(6)])
    zs = rng.normal(size=(6, 2))
    q, r = 0.01 * np.eye(3), np.diag([0.1, 0.2])

    def f(pts: np.ndarray) -> np.ndarray:
        return np.asarray(np.sin(pts) + pts)

    def h(pts: np.ndarray) -> np.ndarray:
        return np.stack([pts[..., 0] * pts[..., 1], np.cos(pts[..., 2])], axis=-1)

    xb, pb = ukf_predict(xs, ps, f, q)
    xb, pb, nisb = ukf_update(xb, pb, zs, h, r)
    assert xb.shape == (6, 3) and pb.shape == (6, 3, 3) and nisb.shape == (6,)
    for i in range(6):
        x1, p1 = ukf_predict(xs[i], ps[i], f, q)
        x1, p1, nis1 = ukf_update(x1, p1, zs[i], h, r)
        np.testing.assert_allclose(xb[i], x1, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(pb[i], p1, rtol=1e-12, atol=1e-12)
        assert float(nisb[i]) == pytest.approx(float(nis1), rel=1e-12)


def test_angle_residual_wraps_only_the_named_components() -> None:
    res = angle_residual([1])
    d = res(np.array([5.0, -math.pi + 0.01]), np.array([1.0, math.pi - 0.01]))
    np.testing.assert_allclose(d, [4.0, 0.02], atol=1e-12)
    d = res(np.array([[0.0, 3.0 * math.pi]]), np.zeros((1, 2)))
    np.testing.assert_allclose(d, [[0.0, -math.pi]], atol=1e-12)


def test_update_across_the_bearing_branch_cut_matches_one_away_from_it() -> None:
    """A target just past ±π bearing, measured on the other side of the cut, updates as
    the same problem rotated by π, where no wrapping is needed."""
    x = np.array([-10.0, 0.05])  # bearing π − 0.005 rad
    p = np.diag([0.04, 0.04])
    r = np.diag([0.01**2, 1e-4])
    z = np.array([10.02, -math.pi + 0.002])  # bearing wrapped to the other side

    def h(pts: np.ndarray) -> np.ndarray:
        return np.stack(
            [np.hypot(pts[..., 0], pts[..., 1]), np.arctan2(pts[..., 1], pts[..., 0])], -1
        )

    x_w, p_w, nis_w = ukf_update(x, p, z, h, r, residual=angle_residual([1]), alpha=0.5)
    # The same problem rotated by π: bearings near 0, plain subtraction.
    x_r, p_r, nis_r = ukf_update(-x, p, z - np.array([0.0, -math.pi]), h, r, alpha=0.5)
    np.testing.assert_allclose(x_w, -x_r, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(p_w, p_r, rtol=1e-9, atol=1e-12)
    assert float(nis_w) == pytest.approx(float(nis_r), rel=1e-9)
    assert float(nis_w) < 5.0
    # The sigma points straddle the cut; plain subtraction makes the predicted bearing
    # spread over 2π, so the update all but ignores the bearing.
    bearings = h(sigma_points(x, p, alpha=0.5)[0])[:, 1]
    assert bearings.max() > 3.0 and bearings.min() < -3.0
    _, p_plain, _ = ukf_update(x, p, z, h, r, alpha=0.5)
    assert p_plain[1, 1] > 3.0 * p_w[1, 1]


def test_non_positive_definite_covariance_raises_with_its_smallest_eigenvalue() -> None:
    p = np.diag([1.0, 2.0, -0.5])
    with pytest.raises(PhysicsError, match=r"smallest eigenvalue -0\.5"):
        sigma_points(np.zeros(3), p)
    with pytest.raises(PhysicsError, match=r"-0\.5"):
        ukf_predict(np.zeros(3), p, lambda pts: pts, np.eye(3))
    batch = np.stack([np.eye(3), p])
    with pytest.raises(PhysicsError, match=r"filter \(1,\).*-0\.5"):
        cubature_points(np.zeros((2, 3)), batch)


def test_semi_definite_covariance_is_accepted_with_a_jitter() -> None:
    pts, _, _ = sigma_points(np.ones(3), np.diag([1e-6, 1e-6, 0.0]))
    np.testing.assert_allclose(pts[:, 2], 1.0, atol=1e-9)


def test_shapes_are_checked_at_the_boundary() -> None:
    with pytest.raises(ValueError, match=r"shape \(3, 3\).*got shape \(2, 2\)"):
        sigma_points(np.zeros(3), np.eye(2))
    with pytest.raises(ValueError, match="keep the shape"):
        ukf_predict(np.zeros(3), np.eye(3), lambda pts: pts[..., :2], np.eye(3))
    with pytest.raises(ValueError, match="rule"):
        ukf_predict(np.zeros(3), np.eye(3), lambda pts: pts, np.eye(3), rule="spherical")  # type: ignore[arg-type]
