"""Tests of the ECEF extended Kalman filter: measurement model, predict, update, start."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trilink.geo.earth import geodetic_to_ecef
from trilink.geo.motion import rk4_step
from trilink.sensors.radar import Radar
from trilink.tracking import ekf
from trilink.types import Detection

RADAR = Radar(
    id="TST-EKF", nation="JPN", name="ekf test radar", lat_deg=38.07, lon_deg=138.4, alt_m=1000.0
)
SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


def _detection(z: np.ndarray, sigma: np.ndarray | None = None) -> Detection:
    return Detection(
        sensor_id=RADAR.id,
        nation=RADAR.nation,
        t_s=0.0,
        range_m=float(z[0]),
        azimuth_rad=float(z[1]),
        elevation_rad=float(z[2]),
        range_rate_mps=float(z[3]),
        sigma=RADAR.sigma if sigma is None else sigma,
        sensor_ecef_m=RADAR.ecef_m,
        sensor_lat_rad=math.radians(RADAR.lat_deg),
        sensor_lon_rad=math.radians(RADAR.lon_deg),
    )


def _random_state(rng: np.random.Generator) -> np.ndarray:
    """A target 100-1,500 km from the radar and 50-900 km up, with a random velocity."""
    lat = RADAR.lat_deg + rng.uniform(-10.0, 10.0)
    lon = RADAR.lon_deg + rng.uniform(-12.0, 12.0)
    x = np.zeros(9)
    x[:3] = geodetic_to_ecef(lat, lon, rng.uniform(50e3, 900e3))
    x[3:6] = rng.normal(0.0, 3000.0, 3)
    x[6:9] = rng.normal(0.0, 20.0, 3)
    return x


def _truth_detection(x: np.ndarray) -> Detection:
    rng_m, az, el = RADAR.geometry(x[None, :3])
    los = (x[:3] - RADAR.ecef_m) / rng_m[0]
    return _detection(np.array([rng_m[0], az[0], el[0], float(los @ x[3:6])]))


def _random_covariance(rng: np.random.Generator) -> np.ndarray:
    scales = np.array([500.0] * 3 + [50.0] * 3 + [10.0] * 3) * rng.uniform(0.2, 5.0, 9)
    a = rng.normal(size=(9, 9))
    corr = a @ a.T + 9.0 * np.eye(9)
    d = 1.0 / np.sqrt(np.diag(corr))
    corr = corr * np.outer(d, d)
    return corr * np.outer(scales, scales)


def _assert_spd(p: np.ndarray) -> None:
    np.testing.assert_array_equal(p, p.T)
    assert np.all(np.isfinite(p))
    assert float(np.linalg.eigvalsh(p).min()) > 0.0
    np.linalg.cholesky(p)


# -- measurement model ---------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(SEEDS)
def test_measurement_jacobian_matches_finite_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = _random_state(rng)
    det = _truth_detection(x)
    z, h = ekf._measure(x, det)
    steps = np.array([1.0] * 3 + [1e-2] * 3 + [1e-2] * 3)
    h_fd = np.zeros((4, 9))
    for j in range(9):
        dx = np.zeros(9)
        dx[j] = steps[j]
        zp, _ = ekf._measure(x + dx, det)
        zm, _ = ekf._measure(x - dx, det)
        dz = zp - zm
        dz[1] = (dz[1] + math.pi) % (2.0 * math.pi) - math.pi
        h_fd[:, j] = dz / (2.0 * steps[j])
    for i in range(4):
        scale = float(np.max(np.abs(h_fd[i])))
        np.testing.assert_allclose(h[i], h_fd[i], rtol=1e-4, atol=1e-4 * scale)
    # No dependence on the thrust acceleration.
    np.testing.assert_array_equal(h[:, 6:9], 0.0)


@settings(max_examples=50, deadline=None)
@given(SEEDS)
def test_predicted_measurement_matches_the_radar_geometry(seed: int) -> None:
    x = _random_state(np.random.default_rng(seed))
    det = _truth_detection(x)
    z, _ = ekf._measure(x, det)
    np.testing.assert_allclose(z, det.z, rtol=1e-9, atol=1e-9)
    assert 0.0 <= z[1] < 2.0 * math.pi


def test_innovation_wraps_azimuth_and_is_chi_square_distributed() -> None:
    rng = np.random.default_rng(21)
    x = _random_state(rng)
    det = _truth_detection(x)
    # Azimuth of 359.99 deg against a prediction of 0.01 deg is a small innovation.
    z = det.z.copy()
    z_pred, _ = ekf._measure(x, det)
    z[1] = (z_pred[1] - 2e-4) % (2.0 * math.pi)
    inn = ekf.innovation(x, np.eye(9), _detection(z))
    assert inn.y[1] == pytest.approx(-2e-4, abs=1e-9)
    # Noise drawn from R alone (P -> 0) gives d2 ~ chi-square(4): mean 4.
    p = 1e-12 * np.eye(9)
    d2 = []
    for _ in range(2000):
        noisy = det.z + rng.normal(0.0, det.sigma)
        d2.append(ekf.innovation(x, p, _detection(noisy)).d2)
    assert np.mean(d2) == pytest.approx(4.0, abs=0.3)
    assert np.mean(np.array(d2) < ekf.GATE_CHI2_4DOF) > 0.995


# -- update and predict --------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(SEEDS, st.floats(min_value=0.0, max_value=20.0))
def test_update_keeps_covariance_symmetric_positive_definite(seed: int, offset: float) -> None:
    rng = np.random.default_rng(seed)
    x = _random_state(rng)
    p = _random_covariance(rng)
    sigma = RADAR.sigma * rng.uniform(0.5, 20.0)
    z = _truth_detection(x).z + offset * rng.normal(0.0, sigma)
    inn = ekf.innovation(x, p, _detection(z, sigma))
    x_new, p_new = ekf.update(x, p, inn)
    _assert_spd(p_new)
    assert np.all(np.isfinite(x_new))
    # A measurement never adds uncertainty.
    assert float(np.linalg.eigvalsh(p - p_new).min()) > -1e-6 * float(np.trace(p))
    assert np.trace(p_new) < np.trace(p)


def test_update_with_a_perfect_measurement_does_not_move_the_state() -> None:
    rng = np.random.default_rng(4)
    x = _random_state(rng)
    p = _random_covariance(rng)
    inn = ekf.innovation(x, p, _truth_detection(x))
    np.testing.assert_allclose(inn.y, 0.0, atol=1e-7)
    x_new, _ = ekf.update(x, p, inn)
    np.testing.assert_allclose(x_new, x, atol=1e-5)


@settings(max_examples=100, deadline=None)
@given(
    SEEDS,
    st.floats(min_value=-30.0, max_value=30.0),
    st.floats(min_value=0.0, max_value=100.0),
    st.floats(min_value=0.0, max_value=5.0),
)
def test_predict_keeps_covariance_symmetric_positive_definite(
    seed: int, dt: float, q_jerk: float, q_accel: float
) -> None:
    rng = np.random.default_rng(seed)
    x = _random_state(rng)
    p = _random_covariance(rng)
    x_new, p_new = ekf.predict(x, p, dt, q_jerk=q_jerk, q_accel=q_accel)
    _assert_spd(p_new)
    # The state follows the propagator with the thrust acceleration held.
    np.testing.assert_allclose(x_new[:6], rk4_step(x[:6], dt, x[6:9]), rtol=1e-12)
    np.testing.assert_array_equal(x_new[6:9], x[6:9])


def test_predict_by_zero_is_the_identity() -> None:
    rng = np.random.default_rng(5)
    x, p = _random_state(rng), _random_covariance(rng)
    x2, p2 = ekf.predict(x, p, 0.0, q_jerk=20.0, q_accel=0.5)
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(p2, p)


def test_process_noise_grows_position_uncertainty() -> None:
    rng = np.random.default_rng(6)
    x, p = _random_state(rng), _random_covariance(rng)
    _, quiet = ekf.predict(x, p, 10.0, q_jerk=0.0, q_accel=0.0)
    _, noisy = ekf.predict(x, p, 10.0, q_jerk=20.0, q_accel=0.5)
    assert float(np.linalg.eigvalsh(noisy - quiet).min()) > -1e-6
    assert np.trace(noisy[:3, :3]) > np.trace(quiet[:3, :3])


def test_covariance_transition_matches_the_propagator() -> None:
    """With no process noise, P follows F P F^T where F is the propagator's Jacobian."""
    rng = np.random.default_rng(8)
    x = _random_state(rng)
    dt = 5.0
    f_fd = np.zeros((6, 6))
    steps = np.array([1.0] * 3 + [1e-2] * 3)
    for j in range(6):
        dx = np.zeros(6)
        dx[j] = steps[j]
        f_fd[:, j] = (rk4_step(x[:6] + dx, dt, x[6:9]) - rk4_step(x[:6] - dx, dt, x[6:9])) / (
            2.0 * steps[j]
        )
    p = np.zeros((9, 9))
    p[:6, :6] = np.diag([1e6, 1e6, 1e6, 1e2, 1e2, 1e2])
    _, p_new = ekf.predict(x, p, dt, q_jerk=0.0, q_accel=0.0)
    expected = f_fd @ p[:6, :6] @ f_fd.T
    np.testing.assert_allclose(p_new[:6, :6], expected, rtol=1e-3, atol=1e-3 * np.max(expected))


# -- start ---------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(SEEDS)
def test_initial_state_is_at_the_measured_point(seed: int) -> None:
    x = _random_state(np.random.default_rng(seed))
    det = _truth_detection(x)
    x0, p0 = ekf.initial_state(det, sigma_speed_mps=3000.0, sigma_accel_mps2=40.0)
    assert np.linalg.norm(x0[:3] - x[:3]) < 1e-3
    los = (x[:3] - RADAR.ecef_m) / np.linalg.norm(x[:3] - RADAR.ecef_m)
    np.testing.assert_allclose(x0[3:6], det.range_rate_mps * los, atol=1e-9)
    np.testing.assert_array_equal(x0[6:9], 0.0)
    _assert_spd(p0)
    # Along the line of sight the velocity is as certain as the range-rate.
    assert float(los @ p0[3:6, 3:6] @ los) == pytest.approx(det.sigma[3] ** 2, rel=1e-6)
    np.testing.assert_allclose(np.diag(p0[6:9, 6:9]), 40.0**2)


def test_initial_position_covariance_matches_the_measurement_noise() -> None:
    rng = np.random.default_rng(31)
    x = _random_state(rng)
    det = _truth_detection(x)
    _, p0 = ekf.initial_state(det, sigma_speed_mps=3000.0, sigma_accel_mps2=40.0)
    samples = []
    for _ in range(3000):
        noisy = _detection(det.z + rng.normal(0.0, det.sigma))
        samples.append(ekf.initial_state(noisy, sigma_speed_mps=1.0, sigma_accel_mps2=1.0)[0][:3])
    err = np.asarray(samples) - x[:3]
    nees = np.einsum("ij,ij->i", err, np.linalg.solve(p0[:3, :3], err.T).T)
    assert float(nees.mean()) == pytest.approx(3.0, abs=0.25)


def test_compiled_covariance_transition_matches_numpy() -> None:
    from trilink.tracking.ekf import _congruence_plus

    rng = np.random.default_rng(4)
    f = rng.normal(size=(6, 9, 9))
    a = rng.normal(size=(6, 9, 9))
    p = a @ a.transpose(0, 2, 1)
    q = np.tile(np.eye(9), (6, 1, 1))
    out = _congruence_plus(f, p, q)
    np.testing.assert_allclose(out, f @ p @ f.transpose(0, 2, 1) + q, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(out, out.transpose(0, 2, 1))
