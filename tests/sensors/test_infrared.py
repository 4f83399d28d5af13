"""Tests of the infrared early-warning satellites: orbits, visibility, reports, definitions."""

import math

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom, chi2

from trilink.geo.earth import (
    EARTH_RATE_RAD_S,
    GM_M3_S2,
    altitude_m,
    ecef_to_geodetic,
    geodetic_to_ecef,
)
from trilink.sensors.infrared import (
    InfraredSatellite,
    LineOfSight,
    default_constellation,
    earth_blocks,
    solve_kepler,
)

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
GEO = InfraredSatellite(id="TST-GEO", nation="USA", name="test geo", orbit="geo", lon_deg=125.0)
HEO = InfraredSatellite(
    id="TST-HEO",
    nation="USA",
    name="test heo",
    orbit="heo",
    raan_deg=40.0,
    mean_anomaly_deg=0.0,
    epoch_s=T0,
)
BASE: dict[str, object] = {"id": "TST-BAD", "nation": "USA", "name": "bad", "orbit": "heo"}


def _rot_z(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _under(sat: InfraredSatellite, alt_m: float, dlat: float = 0.0) -> np.ndarray:
    return geodetic_to_ecef(dlat, sat.lon_deg, alt_m)[None, :]


# -- orbits ------------------------------------------------------------------------------


def test_geo_is_fixed_over_its_longitude_at_geostationary_altitude() -> None:
    t = T0 + np.linspace(0.0, 86_400.0, 25)
    r = GEO.position_ecef(t)
    assert r.shape == (25, 3)
    lat, lon, alt = ecef_to_geodetic(r)
    np.testing.assert_allclose(alt, 35_786e3, atol=1e3)
    np.testing.assert_allclose(lat, 0.0, atol=1e-9)
    np.testing.assert_allclose(lon, 125.0, atol=1e-9)
    np.testing.assert_allclose(r, np.broadcast_to(r[0], r.shape), atol=1e-6)
    assert GEO.position_ecef(T0).shape == (3,)
    turn = _rot_z(EARTH_RATE_RAD_S * (T0 + 3_600.0 - GEO.epoch_s))
    np.testing.assert_allclose(GEO.position_eci(T0 + 3_600.0), turn @ r[0], atol=1e-3)


def test_heo_radius_at_perigee_and_apogee() -> None:
    a, e = HEO.semi_major_axis_km * 1e3, HEO.eccentricity
    perigee = np.linalg.norm(HEO.position_ecef(T0))
    apogee = np.linalg.norm(HEO.position_ecef(T0 + 0.5 * HEO.period_s))
    assert perigee == pytest.approx(a * (1 - e), abs=1e3)
    assert apogee == pytest.approx(a * (1 + e), abs=1e3)
    radii = np.linalg.norm(HEO.position_ecef(T0 + np.linspace(0, HEO.period_s, 500)), axis=-1)
    assert radii.min() >= a * (1 - e) - 1.0
    assert radii.max() <= a * (1 + e) + 1.0


def test_heo_period_and_earth_rotation() -> None:
    period = 2 * math.pi * math.sqrt((HEO.semi_major_axis_km * 1e3) ** 3 / GM_M3_S2)
    assert HEO.period_s == pytest.approx(period)
    t = T0 + np.array([0.0, 1234.5, 20_000.0, 3.0e6])
    np.testing.assert_allclose(HEO.position_eci(t + period), HEO.position_eci(t), atol=1.0)
    # In ECEF the orbit comes back turned by the Earth's rotation over one period.
    back = _rot_z(EARTH_RATE_RAD_S * period)
    for tk in t:
        r0, r1 = HEO.position_ecef(tk), HEO.position_ecef(tk + period)
        np.testing.assert_allclose(back @ r1, r0, atol=1.0)
    # ECI and ECEF coincide at the epoch, and differ by the Earth rotation angle after it.
    np.testing.assert_allclose(HEO.position_eci(T0), HEO.position_ecef(T0), atol=1e-6)
    dt = 5_000.0
    np.testing.assert_allclose(
        _rot_z(EARTH_RATE_RAD_S * dt) @ HEO.position_ecef(T0 + dt),
        HEO.position_eci(T0 + dt),
        atol=1e-3,
    )


def test_heo_moves_at_the_vis_viva_speed() -> None:
    h = 1e-2
    t = T0 + 7_000.0
    v = (HEO.position_eci(t + h) - HEO.position_eci(t - h)) / (2 * h)
    r = float(np.linalg.norm(HEO.position_eci(t)))
    a = HEO.semi_major_axis_km * 1e3
    assert float(np.linalg.norm(v)) == pytest.approx(
        math.sqrt(GM_M3_S2 * (2 / r - 1 / a)), rel=1e-6
    )


def test_heo_apogee_is_at_the_northern_critical_latitude() -> None:
    lat, _, _ = ecef_to_geodetic(HEO.position_ecef(T0 + 0.5 * HEO.period_s))
    assert float(lat) == pytest.approx(63.4, abs=0.5)


@settings(max_examples=300)
@given(
    mean=st.floats(-50.0, 50.0, allow_nan=False),
    e=st.one_of(st.just(0.72), st.floats(0.0, 0.99)),
)
def test_kepler_solver_converges(mean: float, e: float) -> None:
    ecc = float(solve_kepler(mean, e))
    assert ecc - e * math.sin(ecc) == pytest.approx(mean, abs=1e-11)


def test_kepler_solver_is_vectorised_at_many_mean_anomalies() -> None:
    m = np.linspace(-4 * math.pi, 4 * math.pi, 10_001).reshape(1, -1, 1)
    ecc = solve_kepler(m, 0.72)
    assert ecc.shape == m.shape
    np.testing.assert_allclose(ecc - 0.72 * np.sin(ecc), m, atol=1e-11)


# -- visibility --------------------------------------------------------------------------


def test_far_side_of_the_earth_is_not_visible() -> None:
    far = geodetic_to_ecef(0.0, GEO.lon_deg - 180.0, 100e3)[None, :]
    assert not GEO.visible(T0, far)[0]


def test_target_under_geo_above_the_clouds_is_visible_and_below_is_not() -> None:
    assert GEO.visible(T0, _under(GEO, 100e3))[0]
    assert not GEO.visible(T0, _under(GEO, 5e3))[0]
    both = np.vstack([_under(GEO, 100e3), _under(GEO, 5e3)])
    np.testing.assert_array_equal(GEO.visible(T0, both), [True, False])


def test_field_of_regard_limits_visibility() -> None:
    narrow = msgspec.structs.replace(GEO, max_off_nadir_deg=3.0)
    assert narrow.visible(T0, _under(GEO, 100e3))[0]
    assert GEO.visible(T0, _under(GEO, 100e3, dlat=45.0))[0]
    assert not narrow.visible(T0, _under(GEO, 100e3, dlat=45.0))[0]


def _brute_force_blocked(sat: np.ndarray, target: np.ndarray, n: int = 4001) -> tuple[bool, float]:
    lam = np.linspace(0.0, 1.0, n)[:, None]
    lowest = float(np.min(altitude_m(sat + lam * (target - sat))))
    return lowest < 0.0, lowest


def test_segment_ellipsoid_test_agrees_with_sampling() -> None:
    rng = np.random.default_rng(20260101)
    seen = {True: 0, False: 0}
    for _ in range(400):
        sat = geodetic_to_ecef(
            rng.uniform(-80, 80), rng.uniform(-180, 180), rng.uniform(500e3, 40_000e3)
        )
        target = geodetic_to_ecef(
            rng.uniform(-90, 90), rng.uniform(-180, 180), rng.uniform(1e3, 1_500e3)
        )
        blocked, lowest = _brute_force_blocked(sat, target)
        if abs(lowest) < 2e3:  # grazing: the sampling cannot decide
            continue
        assert bool(earth_blocks(sat, target[None, :])[0]) == blocked, (sat, target, lowest)
        seen[blocked] += 1
    assert seen[True] > 50 and seen[False] > 50


def test_earth_blocks_uses_the_ellipsoid_not_a_sphere() -> None:
    # A ray grazing the pole 10 km above the ellipsoid passes 11 km inside a sphere of radius a.
    sat = np.array([-40_000e3, 0.0, 6_366.752e3])
    target = np.array([40_000e3, 0.0, 6_366.752e3])
    assert not earth_blocks(sat, target[None, :])[0]
    assert earth_blocks(sat - [0, 0, 20e3], target[None, :] - [0, 0, 20e3])[0]


# -- reports -----------------------------------------------------------------------------


def test_report_times_follow_the_rate_and_chain_across_windows() -> None:
    np.testing.assert_allclose(GEO.report_times(T0, 1.0), [T0, T0 + 0.5])
    chained = np.concatenate([GEO.report_times(T0 + 0.3 * k, 0.3) for k in range(20)])
    np.testing.assert_allclose(np.diff(chained), 0.5, atol=1e-6)
    assert len(chained) == 12


def test_boosting_target_is_reported_with_the_detection_probability() -> None:
    rng = np.random.default_rng(1)
    target = _under(GEO, 50e3, dlat=20.0)
    windows, counts = 600, []
    for k in range(windows):
        reports = GEO.observe(T0 + k, 1.0, target, np.array([True]), ["m1"], rng)
        assert {r.t_s for r in reports} <= {T0 + k, T0 + k + 0.5}
        assert all(r.truth_id == "m1" and r.sensor_id == "TST-GEO" for r in reports)
        counts.append(len(reports))
    trials = windows * 2
    lo, hi = binom.ppf([0.00135, 0.99865], trials, GEO.detection_probability)
    assert lo <= sum(counts) <= hi
    assert max(counts) == 2


def test_no_reports_after_burnout_or_when_hidden() -> None:
    rng = np.random.default_rng(2)
    target = _under(GEO, 50e3)
    assert GEO.observe(T0, 10.0, target, np.array([False]), ["m1"], rng) == []
    far = geodetic_to_ecef(0.0, GEO.lon_deg - 180.0, 100e3)[None, :]
    assert GEO.observe(T0, 10.0, far, np.array([True]), ["m1"], rng) == []
    assert GEO.observe(T0, 10.0, np.empty((0, 3)), np.empty(0, bool), [], rng) == []


def test_only_the_thrusting_target_is_reported() -> None:
    sure = msgspec.structs.replace(GEO, detection_probability=1.0)
    targets = np.vstack([_under(GEO, 50e3), _under(GEO, 80e3, dlat=10.0)])
    reports = sure.observe(
        T0, 2.0, targets, np.array([False, True]), ["a", "b"], np.random.default_rng(3)
    )
    assert [r.truth_id for r in reports] == ["b"] * 4


def test_line_of_sight_noise_is_chi_square_with_two_dof() -> None:
    sure = msgspec.structs.replace(GEO, detection_probability=1.0)
    target = _under(GEO, 60e3, dlat=30.0)
    reports = sure.observe(T0, 1_000.0, target, np.array([True]), ["m1"], np.random.default_rng(4))
    assert len(reports) == 2_000
    sat = sure.position_ecef(T0)
    truth = (target[0] - sat) / np.linalg.norm(target[0] - sat)
    los = np.array([r.los_ecef for r in reports])
    np.testing.assert_allclose(np.linalg.norm(los, axis=-1), 1.0, atol=1e-12)
    angles = np.arctan2(np.linalg.norm(np.cross(los, truth), axis=-1), los @ truth)
    sigma = reports[0].sigma_rad
    assert sigma == pytest.approx(30e-6)
    stat = float(np.sum(angles**2) / sigma**2)
    lo, hi = chi2.ppf([0.005, 0.995], 2 * len(reports))
    assert lo <= stat <= hi


def test_velocities_move_targets_to_each_report_time() -> None:
    sharp = msgspec.structs.replace(GEO, detection_probability=1.0, sigma_los_urad=1e-6)
    p0 = _under(GEO, 60e3, dlat=30.0)
    v = np.array([[0.0, 2_000.0, 3_000.0]])
    reports = sharp.observe(
        T0, 1.0, p0, np.array([True]), ["m1"], np.random.default_rng(5), velocities=v
    )
    assert [r.t_s for r in reports] == [T0, T0 + 0.5]
    for r in reports:
        p = p0[0] + v[0] * (r.t_s - T0)
        expected = (p - r.sensor_ecef_m) / np.linalg.norm(p - r.sensor_ecef_m)
        np.testing.assert_allclose(r.los_ecef, expected, atol=1e-9)
    assert not np.allclose(reports[0].los_ecef, reports[1].los_ecef, atol=1e-9)


def test_same_seed_same_reports() -> None:
    target = _under(GEO, 60e3)

    def run(seed: int) -> list[LineOfSight]:
        return GEO.observe(T0, 5.0, target, np.array([True]), ["m"], np.random.default_rng(seed))

    a, b = run(9), run(9)
    assert [r.t_s for r in a] == [r.t_s for r in b]
    np.testing.assert_array_equal([r.los_ecef for r in a], [r.los_ecef for r in b])


def test_mismatched_inputs_are_refused_with_shapes() -> None:
    with pytest.raises(ValueError, match=r"TST-GEO.*\(2,\)"):
        GEO.observe(
            T0, 1.0, np.zeros((3, 3)), np.ones(2, bool), ["a", "b", "c"], np.random.default_rng()
        )
    with pytest.raises(ValueError, match="shape"):
        GEO.visible(T0, np.zeros((2, 2)))


def test_angles_in_the_satellite_local_frame() -> None:
    sharp = msgspec.structs.replace(GEO, detection_probability=1.0, sigma_los_urad=1e-6)
    rng = np.random.default_rng(6)
    (north,) = sharp.observe(T0, 0.5, _under(GEO, 60e3, dlat=30.0), np.array([True]), ["n"], rng)
    az, el = north.angles()
    assert az == pytest.approx(0.0, abs=1e-6) or az == pytest.approx(2 * math.pi, abs=1e-6)
    assert -math.pi / 2 < el < math.radians(-80.0)
    east = geodetic_to_ecef(0.0, GEO.lon_deg + 30.0, 60e3)[None, :]
    (r_east,) = sharp.observe(T0, 0.5, east, np.array([True]), ["e"], rng)
    assert r_east.angles()[0] == pytest.approx(math.pi / 2, abs=1e-6)


# -- definitions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "names"),
    [
        ({"orbit": "leo"}, ["orbit", "TST-BAD"]),
        ({"eccentricity": 1.2}, ["eccentricity", "TST-BAD"]),
        ({"orbt": "geo"}, ["orbt"]),
        ({"nation": "usa"}, ["nation", "TST-BAD"]),
        ({"lon_deg": 400.0}, ["lon_deg", "TST-BAD"]),
        ({"semi_major_axis_km": 6_400.0}, ["semi_major_axis_km", "TST-BAD"]),
        ({"report_rate_hz": 0.0}, ["report_rate_hz", "TST-BAD"]),
        ({"sigma_los_urad": -1.0}, ["sigma_los_urad", "TST-BAD"]),
        ({"detection_probability": 0.0}, ["detection_probability", "TST-BAD"]),
        ({"detection_probability": 1.5}, ["detection_probability", "TST-BAD"]),
    ],
)
def test_bad_definitions_are_refused(bad: dict[str, object], names: list[str]) -> None:
    with pytest.raises(msgspec.ValidationError) as info:
        msgspec.convert({**BASE, **bad}, InfraredSatellite)
    for name in names:
        assert name in str(info.value)


def test_definition_from_a_dict_and_from_keywords_agree() -> None:
    a = msgspec.convert({**BASE, "orbit": "geo", "lon_deg": 125.0}, InfraredSatellite)
    b = InfraredSatellite(id="TST-BAD", nation="USA", name="bad", orbit="geo", lon_deg=125.0)
    assert a == b
    assert a.notional is True
    with pytest.raises(ValueError, match="TST-BAD.*report_rate_hz"):
        InfraredSatellite(id="TST-BAD", nation="USA", name="b", orbit="geo", report_rate_hz=-2.0)


# -- the default constellation ----------------------------------------------------------


def test_default_constellation_is_notional_and_watches_pyongyang_all_day() -> None:
    sats = default_constellation()
    assert any(s.orbit == "geo" for s in sats) and any(s.orbit == "heo" for s in sats)
    for s in sats:
        assert s.notional and s.nation == "USA" and "notional" in s.source
    assert len({s.id for s in sats}) == len(sats)
    pyongyang = geodetic_to_ecef(39.0, 125.7, 60e3)[None, :]
    for t in T0 + np.arange(0.0, 86_400.0, 600.0):
        assert any(s.visible(float(t), pyongyang)[0] for s in sats), t


def test_default_heo_apogee_is_over_the_northern_pacific() -> None:
    heo = next(s for s in default_constellation() if s.orbit == "heo")
    lat, lon, _ = ecef_to_geodetic(heo.position_ecef(heo.epoch_s))
    assert 55.0 < float(lat) < 70.0
    assert 150.0 < float(lon) < 190.0
    assert heo.visible(heo.epoch_s, geodetic_to_ecef(39.0, 125.7, 60e3)[None, :])[0]
