"""Tests of the WGS-84 frames, the J2 gravity field and the ballistic propagator."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trilink.geo.earth import (
    EARTH_RATE_RAD_S,
    GM_M3_S2,
    J2,
    WGS84_A_M,
    altitude_m,
    ecef_to_geodetic,
    enu_rotation,
    geodetic_to_ecef,
    gravity_j2,
)
from trilink.geo.motion import propagate, propagate_to_ground

LATS = st.floats(min_value=-90.0, max_value=90.0)
LONS = st.floats(min_value=-180.0, max_value=180.0)


def _state(lat_deg: float, lon_deg: float, alt_m: float, v_enu: list[float]) -> np.ndarray:
    """An ECEF state at a geodetic point with a velocity given in local East-North-Up."""
    rot = enu_rotation(math.radians(lat_deg), math.radians(lon_deg))
    r = geodetic_to_ecef(lat_deg, lon_deg, alt_m)
    return np.concatenate([r, rot.T @ np.asarray(v_enu, dtype=np.float64)])


def _jacobi(x: np.ndarray) -> float:
    """Jacobi integral in the rotating frame: kinetic - J2 potential - centrifugal potential."""
    r, v = x[:3], x[3:6]
    rn = float(np.linalg.norm(r))
    sin_phi = r[2] / rn
    u = GM_M3_S2 / rn * (1.0 - J2 * (WGS84_A_M / rn) ** 2 * (3.0 * sin_phi**2 - 1.0) / 2.0)
    return 0.5 * float(v @ v) - u - 0.5 * EARTH_RATE_RAD_S**2 * (r[0] ** 2 + r[1] ** 2)


# A high-apogee ballistic state (1,000 km up, 6 km/s upward plus 5.4 km/s horizontal): its
# arc climbs to about 11,700 km and stays above the ground through a 90-minute coast.
# (A purely vertical 6 km/s shot from 1,000 km falls back through the Earth within an hour.)
HIGH_ARC = _state(35.0, 130.0, 1.0e6, [5000.0, 2000.0, 6000.0])


@settings(max_examples=200, deadline=None)
@given(LATS, LONS, st.floats(min_value=0.0, max_value=1.0e6))
def test_fast_altitude_matches_geodetic_altitude_within_5_m(
    lat: float, lon: float, alt: float
) -> None:
    r = geodetic_to_ecef(lat, lon, alt)
    _, _, alt_geodetic = ecef_to_geodetic(r)
    assert abs(float(altitude_m(r)) - alt) < 5.0
    assert abs(float(altitude_m(r)) - float(alt_geodetic)) < 5.0


def test_fast_altitude_is_zero_on_the_ellipsoid() -> None:
    rng = np.random.default_rng(11)
    r = geodetic_to_ecef(rng.uniform(-90, 90, 500), rng.uniform(-180, 180, 500), np.zeros(500))
    np.testing.assert_allclose(altitude_m(r), 0.0, atol=1e-6)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=-89.9, max_value=89.9),
    LONS,
    st.floats(min_value=-1.0e4, max_value=1.0e6),
)
def test_geodetic_ecef_round_trip(lat: float, lon: float, alt: float) -> None:
    # 1e-7 degree is about 1 cm; pymap3d's closed-form inverse drifts further above 1,000 km.
    lat2, lon2, alt2 = ecef_to_geodetic(geodetic_to_ecef(lat, lon, alt))
    assert float(lat2) == pytest.approx(lat, abs=1e-7)
    assert (float(lon2) - lon + 180.0) % 360.0 - 180.0 == pytest.approx(0.0, abs=1e-7)
    assert float(alt2) == pytest.approx(alt, abs=1e-3)


def test_round_trip_is_vectorised() -> None:
    rng = np.random.default_rng(3)
    lat, lon, alt = rng.uniform(-89, 89, 50), rng.uniform(-180, 180, 50), rng.uniform(0, 1e6, 50)
    r = geodetic_to_ecef(lat, lon, alt)
    assert r.shape == (50, 3)
    lat2, lon2, alt2 = ecef_to_geodetic(r)
    np.testing.assert_allclose(lat2, lat, atol=1e-7)
    np.testing.assert_allclose(lon2, lon, atol=1e-7)
    np.testing.assert_allclose(alt2, alt, atol=1e-3)


@settings(max_examples=100, deadline=None)
@given(LATS, LONS)
def test_surface_gravity_magnitude_and_direction(lat: float, lon: float) -> None:
    r = geodetic_to_ecef(lat, lon, 0.0)
    g = gravity_j2(r)
    mag = float(np.linalg.norm(g))
    # Gravitation alone (no centrifugal term): 9.814 m/s² at the equator, 9.832 at the poles.
    assert 9.78 <= mag <= 9.835
    cos_angle = float(-g @ r) / (mag * float(np.linalg.norm(r)))
    assert math.degrees(math.acos(min(1.0, cos_angle))) < 0.2


def test_gravity_is_stronger_at_the_pole_than_at_the_equator() -> None:
    g_eq = float(np.linalg.norm(gravity_j2(geodetic_to_ecef(0.0, 0.0, 0.0))))
    g_pole = float(np.linalg.norm(gravity_j2(geodetic_to_ecef(90.0, 0.0, 0.0))))
    assert 9.81 < g_eq < 9.82 < 9.83 < g_pole < 9.835


def test_gravity_is_vectorised() -> None:
    rng = np.random.default_rng(5)
    r = geodetic_to_ecef(rng.uniform(-90, 90, 20), rng.uniform(-180, 180, 20), np.zeros(20))
    g = gravity_j2(r)
    assert g.shape == (20, 3)
    np.testing.assert_allclose(g[7], gravity_j2(r[7]), rtol=1e-14)


def test_jacobi_integral_is_conserved_over_a_90_minute_coast() -> None:
    x1 = propagate(HIGH_ARC, 5400.0, max_step_s=1.0)
    assert float(altitude_m(x1[:3])) > 1.0e6  # still in flight, far from the singular centre
    j0, j1 = _jacobi(HIGH_ARC), _jacobi(x1)
    assert abs(j1 - j0) / abs(j0) < 1e-6


def test_rk4_error_shrinks_16_fold_when_the_step_halves() -> None:
    ref = propagate(HIGH_ARC, 5400.0, max_step_s=0.25)
    err8 = float(np.linalg.norm(propagate(HIGH_ARC, 5400.0, max_step_s=8.0)[:3] - ref[:3]))
    err4 = float(np.linalg.norm(propagate(HIGH_ARC, 5400.0, max_step_s=4.0)[:3] - ref[:3]))
    assert err4 > 0.0
    assert 8.0 < err8 / err4 < 32.0


def test_propagate_by_zero_returns_a_copy() -> None:
    out = propagate(HIGH_ARC, 0.0)
    np.testing.assert_array_equal(out, HIGH_ARC)
    out[0] += 1.0
    assert out[0] != HIGH_ARC[0]


def test_propagate_forward_then_back_returns_to_the_start() -> None:
    there = propagate(HIGH_ARC, 600.0, max_step_s=1.0)
    back = propagate(there, -600.0, max_step_s=1.0)
    np.testing.assert_allclose(back[:3], HIGH_ARC[:3], atol=1e-3)
    np.testing.assert_allclose(back[3:], HIGH_ARC[3:], atol=1e-6)


def test_propagate_to_ground_finds_the_crossing() -> None:
    rng = np.random.default_rng(7)
    states = np.stack(
        [
            _state(
                rng.uniform(-60, 60),
                rng.uniform(-180, 180),
                rng.uniform(100e3, 600e3),
                [rng.uniform(-3e3, 3e3), rng.uniform(-3e3, 3e3), rng.uniform(-2e3, 2e3)],
            )
            for _ in range(5)
        ]
    )
    hit = propagate_to_ground(states, step_s=5.0)
    assert np.all(np.isfinite(hit.dt_s))
    assert np.all(hit.dt_s > 0.0)
    np.testing.assert_allclose(altitude_m(hit.state[:, :3]), 0.0, atol=1.0)
    assert np.all(hit.max_alt_m >= altitude_m(states[:, :3]))
    # Consistent with the plain propagator over the same time.
    for i in range(5):
        direct = propagate(states[i], float(hit.dt_s[i]), max_step_s=1.0)
        assert np.linalg.norm(direct[:3] - hit.state[i, :3]) < 10.0
    # The sampled path ends at the first state's crossing.
    np.testing.assert_allclose(hit.path_ecef[-1], hit.state[0, :3])


def test_propagate_to_ground_reports_nan_when_never_reached() -> None:
    hit = propagate_to_ground(HIGH_ARC[None, :], step_s=5.0, max_time_s=600.0)
    assert np.isnan(hit.dt_s[0])
    assert hit.max_alt_m[0] > 1.0e6


def test_backward_propagation_finds_the_launch_point() -> None:
    start = _state(39.2, 125.7, 0.0, [1500.0, 500.0, 3000.0])
    dt = 250.0
    later = propagate(start, dt, max_step_s=1.0)
    assert float(altitude_m(later[:3])) > 100e3
    hit = propagate_to_ground(later[None, :], step_s=-5.0)
    assert hit.dt_s[0] == pytest.approx(-dt, abs=0.5)
    assert np.linalg.norm(hit.state[0, :3] - start[:3]) < 100.0
    assert abs(float(altitude_m(hit.state[0, :3]))) < 1.0
