"""Tests of the bias filter and of inverse covariance intersection."""

import numpy as np
from scipy.stats import chi2

from trilink.fusion.bias import BiasConfig, BiasEstimator, site_jacobian
from trilink.fusion.inverse_covariance_intersection import inverse_covariance_intersection
from trilink.geo.earth import geodetic_to_ecef

SITE = geodetic_to_ecef(36.5, 126.8, 200.0)


def _path(t: np.ndarray) -> np.ndarray:
    """Positions (K, 3) of an object flying north-east, 300–450 km up, 400–900 km away."""
    lat = 39.0 + 0.01 * t
    lon = 128.0 + 0.015 * t
    return np.array(
        [geodetic_to_ecef(a, o, 300e3 + 500.0 * s) for a, o, s in zip(lat, lon, t, strict=True)]
    )


def test_site_jacobian_matches_a_finite_difference_of_the_radar_geometry() -> None:
    from trilink.sensors.radar import Radar

    radar = Radar(id="KOR-X", nation="KOR", name="x", lat_deg=36.5, lon_deg=126.8, alt_m=200.0)
    r = _path(np.array([100.0]))[0]
    g = site_jacobian(radar.ecef_m, r)
    rng0, az0, el0 = (float(v[0]) for v in radar.geometry(r[None, :]))
    for k, step in enumerate((1.0, 1e-6, 1e-6)):
        r2 = r + g[:, k] * step
        rng1, az1, el1 = (float(v[0]) for v in radar.geometry(r2[None, :]))
        moved = np.array([rng1 - rng0, az1 - az0, el1 - el0])
        expected = np.zeros(3)
        expected[k] = step
        # First order: range in m (to a mm), angles in rad (to a nanoradian).
        assert np.all(np.abs(moved - expected) < np.array([1e-3, 1e-9, 1e-9])), (k, moved)


def test_site_bias_converges_to_the_injected_one() -> None:
    rng = np.random.default_rng(5)
    beta = np.array([500.0, 2e-3, 2e-3])  # 500 m range, 2 mrad azimuth and elevation
    est = BiasEstimator("JPN")
    t = np.arange(0.0, 300.0, 5.0)
    cov = np.diag([60.0**2] * 3)
    for ti, r in zip(t, _path(t), strict=True):
        r_kor = r + site_jacobian(SITE, r) @ beta + rng.multivariate_normal(np.zeros(3), cov)
        r_jpn = r + rng.multivariate_normal(np.zeros(3), cov)
        est.update(float(ti), ("KOR", r_kor, cov, SITE), ("JPN", r_jpn, cov, None))
    b, p, with_site = est.parameters("KOR")
    assert with_site
    sigma = np.sqrt(np.diag(p))
    assert np.all(np.abs(b - beta) < 4.0 * sigma), (b, sigma)
    assert abs(b[0] - 500.0) < 60.0
    assert np.all(np.abs(b[1:] - 2e-3) < 0.3e-3)
    # It has learnt: far tighter than the prior.
    assert np.all(sigma < 0.2 * BiasConfig().prior_sigma(True))


def _false_alarms(config: BiasConfig, rho: float, n_seeds: int = 60) -> int:
    """Runs (of ``n_seeds``) in which an unbiased Korea's bias ends significant, its
    tracking errors and Japan's correlated ``rho`` from one pair (5 s) to the next."""
    hits = 0
    t = np.arange(0.0, 300.0, 5.0)
    cov = np.diag([60.0**2] * 3)
    for seed in range(n_seeds):
        rng = np.random.default_rng(seed)
        est = BiasEstimator("JPN", config)
        e = rng.multivariate_normal(np.zeros(3), cov, size=2)
        for ti, r in zip(t, _path(t), strict=True):
            e = rho * e + np.sqrt(1.0 - rho**2) * rng.multivariate_normal(np.zeros(3), cov, 2)
            est.update(float(ti), ("KOR", r + e[0], cov, SITE), ("JPN", r + e[1], cov, None))
        hits += est.significant("KOR")
    return hits


def test_tracking_errors_that_persist_between_pairs_do_not_make_a_bias_significant() -> None:
    # Significance is tested at 99 %: about 1 run in 100 may fail it by chance. Taking
    # each pair as independent (factor 1) makes a bias out of persistent errors.
    assert _false_alarms(BiasConfig(), rho=0.6) <= 2
    assert _false_alarms(BiasConfig(pair_noise_factor=1.0), rho=0.6) >= 4
    assert _false_alarms(BiasConfig(), rho=0.0) <= 2


def test_a_partner_pair_informs_both_partners_against_the_reference() -> None:
    # KOR is seen only against USA, USA only against JPN: KOR's offset relative to JPN is
    # still learnt (translation model, no sites).
    rng = np.random.default_rng(6)
    b_kor, b_usa = np.array([1200.0, -800.0, 500.0]), np.array([-300.0, 100.0, 0.0])
    est = BiasEstimator("JPN", BiasConfig(walk_m_per_sqrt_s=0.0))
    cov = np.diag([50.0**2] * 3)
    for k, r in enumerate(_path(np.arange(0.0, 200.0, 2.0))):
        noise = rng.normal(0.0, 50.0, (3, 3))
        est.update(
            2.0 * k,
            ("KOR", r + b_kor + noise[0], cov, None),
            ("USA", r + b_usa + noise[1], cov, None),
        )
        est.update(
            2.0 * k, ("USA", r + b_usa + noise[1], cov, None), ("JPN", r + noise[2], cov, None)
        )
    r0 = np.zeros(3)
    np.testing.assert_allclose(est.offset("KOR", r0, None)[0], b_kor, atol=40.0)
    np.testing.assert_allclose(est.offset("USA", r0, None)[0], b_usa, atol=40.0)
    np.testing.assert_array_equal(est.offset("JPN", r0, None)[0], np.zeros(3))


def test_a_pair_far_outside_the_gate_is_skipped() -> None:
    est = BiasEstimator("JPN", BiasConfig(prior_sigma_m=100.0))
    cov = np.eye(3)
    r = np.array([4e6, 3e6, 3e6])
    assert not est.update(0.0, ("KOR", r + 50e3, cov, None), ("JPN", r, cov, None))
    assert est.update(0.0, ("KOR", r + 50.0, cov, None), ("JPN", r, cov, None))
    assert est.updates == 1


# -- inverse covariance intersection -------------------------------------------------------


def _common_information_pairs(rng: np.random.Generator, n_runs: int) -> tuple:
    """Two estimates that share a common part (prior or common process noise)."""
    a = rng.normal(size=(6, 6))
    p_common = a @ a.T + 6.0 * np.eye(6)
    b1, b2 = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    q1, q2 = 0.5 * (b1 @ b1.T + np.eye(6)), 0.5 * (b2 @ b2.T + np.eye(6))
    e_c = rng.multivariate_normal(np.zeros(6), p_common, n_runs)
    e1 = e_c + rng.multivariate_normal(np.zeros(6), q1, n_runs)
    e2 = e_c + rng.multivariate_normal(np.zeros(6), q2, n_runs)
    return e1, p_common + q1, e2, p_common + q2


def test_ici_is_consistent_and_never_worse_than_the_better_input() -> None:
    rng = np.random.default_rng(11)
    n_runs = 400
    e1, p1, e2, p2 = _common_information_pairs(rng, n_runs)
    nees_ici, nees_naive, sq_ici = [], [], []
    naive_p = np.linalg.inv(np.linalg.inv(p1) + np.linalg.inv(p2))  # assumes independence
    for x1, x2 in zip(e1, e2, strict=True):  # truth is zero: estimates are errors
        x, p = inverse_covariance_intersection(x1, p1, x2, p2)
        assert np.trace(p) <= min(np.trace(p1), np.trace(p2)) * (1.0 + 1e-9)
        nees_ici.append(x @ np.linalg.solve(p, x))
        xn = naive_p @ (np.linalg.solve(p1, x1) + np.linalg.solve(p2, x2))
        nees_naive.append(xn @ np.linalg.solve(naive_p, xn))
        sq_ici.append(x @ x)
    hi = chi2.ppf(0.975, 6 * n_runs) / n_runs
    assert np.mean(nees_ici) < hi
    # Not vacuous: fusing the same estimates as if independent is overconfident.
    assert np.mean(nees_naive) > hi
    best = min(np.mean(np.sum(e1 * e1, axis=1)), np.mean(np.sum(e2 * e2, axis=1)))
    assert np.mean(sq_ici) <= best * 1.02


def test_ici_of_an_estimate_with_itself_adds_nothing() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(6, 6))
    p = a @ a.T + np.eye(6)
    x = rng.normal(size=6)
    xf, pf = inverse_covariance_intersection(x, p, x.copy(), p.copy())
    np.testing.assert_allclose(xf, x, atol=1e-9)
    np.testing.assert_allclose(pf, p, rtol=1e-9, atol=1e-9)


def test_an_insignificant_bias_estimate_is_left_in_with_its_mean_square_error() -> None:
    # No bias: a few pairs leave a small, insignificant estimate. It is not applied, and
    # its covariance covers the estimate itself (mean square error of the zero offset).
    rng = np.random.default_rng(8)
    est = BiasEstimator("JPN")
    applied = BiasEstimator("JPN", BiasConfig(apply_chi2=0.0, model_error_fraction=0.0))
    cov = np.diag([60.0**2] * 3)
    t = np.arange(0.0, 20.0, 5.0)
    for ti, r in zip(t, _path(t), strict=True):
        noise = rng.multivariate_normal(np.zeros(3), cov, 2)
        for e in (est, applied):
            e.update(float(ti), ("KOR", r + noise[0], cov, SITE), ("JPN", r + noise[1], cov, None))
    beta, p, _ = est.parameters("KOR")
    assert np.any(beta != 0.0) and not est.significant("KOR")
    r = _path(np.array([20.0]))[0]
    offset, p_off = est.offset("KOR", r, SITE, 20.0)
    np.testing.assert_array_equal(offset, np.zeros(3))
    g = site_jacobian(SITE, r)
    b_applied, p_applied = applied.offset("KOR", r, SITE, 20.0)
    np.testing.assert_allclose(b_applied, g @ beta)
    # Not applying costs exactly the estimate's outer product in the covariance.
    np.testing.assert_allclose(p_off - p_applied, np.outer(g @ beta, g @ beta), atol=1e-6)


def test_a_significant_bias_estimate_is_applied() -> None:
    rng = np.random.default_rng(9)
    beta = np.array([500.0, 2e-3, 2e-3])
    est = BiasEstimator("JPN")
    cov = np.diag([60.0**2] * 3)
    t = np.arange(0.0, 60.0, 5.0)
    for ti, r in zip(t, _path(t), strict=True):
        r_kor = r + site_jacobian(SITE, r) @ beta + rng.multivariate_normal(np.zeros(3), cov)
        est.update(float(ti), ("KOR", r_kor, cov, SITE), ("JPN", r, cov, None))
    assert est.significant("KOR")
    assert not est.significant("JPN")
    r = _path(np.array([60.0]))[0]
    offset, _ = est.offset("KOR", r, SITE, 60.0)
    true_offset = site_jacobian(SITE, r) @ beta
    assert np.linalg.norm(offset - true_offset) < 0.2 * np.linalg.norm(true_offset)


def test_pairs_between_partners_alone_never_make_a_bias_significant() -> None:
    # KOR and USA both sit 800 m off JPN's frame; before any JPN track, their pairs pin
    # only the difference (zero), and however many arrive, nothing is removed.
    rng = np.random.default_rng(11)
    est = BiasEstimator("JPN", BiasConfig(apply_chi2=0.0))  # would apply anything anchored
    cov = np.diag([30.0**2] * 3)
    common = np.array([800.0, 0.0, 0.0])
    t = np.arange(0.0, 200.0, 5.0)
    for ti, r in zip(t, _path(t), strict=True):
        a = r + common + rng.multivariate_normal(np.zeros(3), cov)
        b = r + common + rng.multivariate_normal(np.zeros(3), cov)
        est.update(float(ti), ("KOR", a, cov, None), ("USA", b, cov, None))
    assert not est.anchored("KOR") and not est.anchored("USA")
    assert not est.significant("KOR")
    offset, _ = est.offset("KOR", _path(np.array([200.0]))[0], None, 200.0)
    np.testing.assert_array_equal(offset, np.zeros(3))
    # One pair with the reference ties KOR to it, and through KOR, USA's next pair.
    r = _path(np.array([205.0]))[0]
    est.update(205.0, ("KOR", r + common, cov, None), ("JPN", r, cov, None))
    assert est.anchored("KOR") and not est.anchored("USA")
    est.update(210.0, ("USA", r + common, cov, None), ("KOR", r + common, cov, None))
    assert est.anchored("USA")


def test_a_removed_offset_leaves_its_model_error_in_the_covariance() -> None:
    rng = np.random.default_rng(12)
    beta = np.array([500.0, 2e-3, 2e-3])
    config = BiasConfig(model_error_fraction=0.3)
    est = BiasEstimator("JPN", config)
    bare = BiasEstimator("JPN", BiasConfig(model_error_fraction=0.0))
    cov = np.diag([60.0**2] * 3)
    t = np.arange(0.0, 300.0, 5.0)
    for ti, r in zip(t, _path(t), strict=True):
        r_kor = r + site_jacobian(SITE, r) @ beta + rng.multivariate_normal(np.zeros(3), cov)
        r_jpn = r + rng.multivariate_normal(np.zeros(3), cov)
        for e in (est, bare):
            e.update(float(ti), ("KOR", r_kor, cov, SITE), ("JPN", r_jpn, cov, None))
    assert est.significant("KOR")
    r = _path(np.array([300.0]))[0]
    b, p = est.offset("KOR", r, SITE, 300.0)
    b0, p0 = bare.offset("KOR", r, SITE, 300.0)
    np.testing.assert_allclose(b, b0)
    extra = 0.3**2 * float(b @ b) / 3.0
    np.testing.assert_allclose(p - p0, extra * np.eye(3), rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(est.model_error("KOR", r, SITE), extra * np.eye(3), rtol=1e-9)
    # Nothing for the reference, or for a nation whose bias is not removed.
    np.testing.assert_array_equal(est.model_error("JPN", r, None), np.zeros((3, 3)))
    np.testing.assert_array_equal(
        BiasEstimator("JPN").model_error("KOR", r, SITE), np.zeros((3, 3))
    )
