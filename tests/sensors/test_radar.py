"""Tests of the ground radar: horizon, detection statistics, noise and definitions."""

import math

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymap3d.vincenty import vreckon
from scipy.stats import chi2

from trilink.geo.earth import geodetic_to_ecef, surface_distance_m
from trilink.sensors.radar import EFFECTIVE_EARTH_K, Radar, swerling1_pd
from trilink.types import Detection

SITE = (40.0, 130.0)  # lat, lon degrees

# Sees everything above the 4/3-Earth horizon, in every direction, at any range.
HORIZON_RADAR = Radar(
    id="TST-HORIZON",
    nation="USA",
    name="horizon test radar",
    lat_deg=SITE[0],
    lon_deg=SITE[1],
    alt_m=0.0,
    min_el_deg=0.0,
    half_width_az_deg=180.0,
    max_range_km=1.0e6,
    antenna_gain_db=90.0,
    false_alarms_per_scan=0.0,
)


def _target(bearing_deg: float, ground_m: float, alt_m: float) -> np.ndarray:
    lat, lon = vreckon(SITE[0], SITE[1], ground_m, bearing_deg)
    return geodetic_to_ecef(float(lat), float(lon), alt_m)


def _horizon_ground_range_m(radar: Radar, h_m: float) -> float:
    """Ground range to the radio horizon of a target at height ``h_m`` over a 4/3 Earth,
    for a radar at sea level: the arc ``kR acos(kR / (kR + h))``."""
    kr = EFFECTIVE_EARTH_K * float(np.linalg.norm(radar.ecef_m))
    return kr * math.acos(kr / (kr + h_m))


def _visibility_edge_m(radar: Radar, bearing_deg: float, alt_m: float) -> float:
    def visible(d: float) -> bool:
        return bool(radar.in_coverage(_target(bearing_deg, d, alt_m)[None, :])[0])

    lo, hi = 1.0e3, 6.0e6
    assert visible(lo)
    assert not visible(hi)
    while hi - lo > 1.0:
        mid = 0.5 * (lo + hi)
        if visible(mid):
            lo = mid
        else:
            hi = mid
    return lo


# -- horizon ----------------------------------------------------------------------------


@pytest.mark.parametrize("h_km", [10.0, 100.0, 500.0])
def test_horizon_matches_the_four_thirds_earth_arc(h_km: float) -> None:
    edge = _visibility_edge_m(HORIZON_RADAR, 0.0, h_km * 1e3)
    assert edge == pytest.approx(_horizon_ground_range_m(HORIZON_RADAR, h_km * 1e3), rel=0.01)


@pytest.mark.parametrize("h_km", [10.0, 100.0])
def test_horizon_matches_the_small_height_formula(h_km: float) -> None:
    # d = sqrt(2 k R h) holds while h << kR; at 500 km it is already 2.4 % long.
    kr = EFFECTIVE_EARTH_K * float(np.linalg.norm(HORIZON_RADAR.ecef_m))
    edge = _visibility_edge_m(HORIZON_RADAR, 0.0, h_km * 1e3)
    assert edge == pytest.approx(math.sqrt(2.0 * kr * h_km * 1e3), rel=0.01)


def test_horizon_does_not_depend_on_bearing() -> None:
    edges = [_visibility_edge_m(HORIZON_RADAR, b, 100e3) for b in (0.0, 90.0, 200.0)]
    assert max(edges) - min(edges) < 0.005 * edges[0]


def test_minimum_elevation_shrinks_coverage() -> None:
    raised = msgspec.structs.replace(HORIZON_RADAR, min_el_deg=2.0)
    assert _visibility_edge_m(raised, 0.0, 100e3) < 0.8 * _visibility_edge_m(
        HORIZON_RADAR, 0.0, 100e3
    )


def test_field_of_regard_and_range_limit() -> None:
    sector = msgspec.structs.replace(
        HORIZON_RADAR, boresight_az_deg=90.0, half_width_az_deg=30.0, max_range_km=800.0
    )
    targets = np.stack(
        [
            _target(90.0, 500e3, 200e3),  # on boresight
            _target(115.0, 500e3, 200e3),  # inside the sector
            _target(130.0, 500e3, 200e3),  # outside the sector
            _target(270.0, 500e3, 200e3),  # behind
            _target(90.0, 900e3, 200e3),  # beyond 800 km slant range
        ]
    )
    np.testing.assert_array_equal(sector.in_coverage(targets), [True, True, False, False, False])


@settings(max_examples=150, deadline=None)
@given(
    bearing=st.floats(min_value=0.0, max_value=360.0),
    ground_km=st.floats(min_value=1.0, max_value=4000.0),
    alt_km=st.floats(min_value=0.0, max_value=1000.0),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_no_detection_below_the_horizon(
    bearing: float, ground_km: float, alt_km: float, seed: int
) -> None:
    pos = _target(bearing, ground_km * 1e3, alt_km * 1e3)[None, :]
    dets = HORIZON_RADAR.observe(
        0.0, pos, np.zeros((1, 3)), np.array([1.0]), ["obj"], np.random.default_rng(seed)
    )
    horizon = _horizon_ground_range_m(HORIZON_RADAR, alt_km * 1e3)
    if ground_km * 1e3 > 1.01 * horizon:
        assert dets == []
    if dets:
        assert not bool(dets[0].false_alarm)
        assert ground_km * 1e3 <= 1.01 * horizon
        assert bool(HORIZON_RADAR.in_coverage(pos)[0])


def test_targets_below_the_horizon_are_never_detected_over_many_scans() -> None:
    rng = np.random.default_rng(2024)
    n = 400
    bearings = rng.uniform(0.0, 360.0, n)
    alts = rng.uniform(0.0, 800e3, n)
    ground = np.array(
        [rng.uniform(1.02, 2.0) * _horizon_ground_range_m(HORIZON_RADAR, a) for a in alts]
    )
    pos = np.stack([_target(b, g, a) for b, g, a in zip(bearings, ground, alts, strict=True)])
    ids = [f"t{i}" for i in range(n)]
    for _ in range(20):
        dets = HORIZON_RADAR.observe(0.0, pos, np.zeros((n, 3)), np.ones(n), ids, rng)
        assert dets == []
    # The same targets just inside the horizon are all seen (very high SNR).
    inside = np.stack(
        [
            _target(b, 0.98 * _horizon_ground_range_m(HORIZON_RADAR, a), a)
            for b, a in zip(bearings, alts, strict=True)
        ]
    )
    dets = HORIZON_RADAR.observe(0.0, inside, np.zeros((n, 3)), np.ones(n), ids, rng)
    assert sorted(d.truth_id for d in dets) == sorted(ids)


# -- detection probability -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("snr", "pfa"), [(0.0, 1e-6), (1.0, 1e-6), (10.0, 1e-6), (20.0, 1e-4), (1000.0, 1e-8)]
)
def test_swerling1_formula(snr: float, pfa: float) -> None:
    assert float(swerling1_pd(snr, pfa)) == pytest.approx(pfa ** (1.0 / (1.0 + snr)), rel=1e-12)


def test_swerling1_formula_is_vectorised_and_monotonic() -> None:
    snr = np.array([0.0, 1.0, 10.0, 100.0, 1e6])
    pd = swerling1_pd(snr, 1e-6)
    assert pd.shape == (5,)
    assert pd[0] == pytest.approx(1e-6)
    assert np.all(np.diff(pd) > 0.0)
    assert pd[-1] > 0.9999


def test_swerling1_formula_matches_a_square_law_detector_simulation() -> None:
    # Swerling 1: Rayleigh amplitude, complex Gaussian noise, threshold set for pfa.
    rng = np.random.default_rng(99)
    n, pfa = 400_000, 1e-3
    threshold = -math.log(pfa)  # unit noise power
    for snr in (3.0, 10.0, 30.0):
        sig = math.sqrt(snr / 2.0) * (rng.normal(size=n) + 1j * rng.normal(size=n))
        noise = math.sqrt(0.5) * (rng.normal(size=n) + 1j * rng.normal(size=n))
        pd_mc = float(np.mean(np.abs(sig + noise) ** 2 > threshold))
        pd = float(swerling1_pd(snr, pfa))
        assert abs(pd_mc - pd) < 4.0 * math.sqrt(pd * (1.0 - pd) / n)


# A radar and a target at 600 km slant range, 300 km up, moving.
FIXED_RADAR = Radar(
    id="TST-FIXED",
    nation="JPN",
    name="statistics test radar",
    lat_deg=38.0,
    lon_deg=138.4,
    alt_m=150.0,
    false_alarms_per_scan=0.0,
)
FIXED_POS = geodetic_to_ecef(41.5, 135.0, 300e3)[None, :]
FIXED_VEL = np.array([[1200.0, -2500.0, 800.0]])


def _scans(rcs_m2: float, n: int, seed: int) -> tuple[list[Detection], int]:
    rng = np.random.default_rng(seed)
    dets: list[Detection] = []
    for k in range(n):
        dets += FIXED_RADAR.observe(
            float(k), FIXED_POS, FIXED_VEL, np.array([rcs_m2]), ["obj"], rng
        )
    return dets, n


def _rcs_for_snr(snr: float) -> float:
    rng_m, _, _ = FIXED_RADAR.geometry(FIXED_POS)
    return snr / float(FIXED_RADAR.snr(rng_m, np.array([1.0]))[0])


@pytest.mark.parametrize(("snr", "seed"), [(12.0, 1), (40.0, 2)])
def test_empirical_pd_matches_swerling1(snr: float, seed: int) -> None:
    assert bool(FIXED_RADAR.in_coverage(FIXED_POS)[0])
    dets, n = _scans(_rcs_for_snr(snr), 4000, seed)
    assert all(not d.false_alarm and d.truth_id == "obj" for d in dets)
    pd = float(swerling1_pd(snr, FIXED_RADAR.pfa))
    assert 0.2 < pd < 0.9
    sigma = math.sqrt(pd * (1.0 - pd) / n)
    assert abs(len(dets) / n - pd) < 3.0 * sigma


def _nees(dets: list[Detection]) -> np.ndarray:
    rng_m, az, el = FIXED_RADAR.geometry(FIXED_POS)
    los = (FIXED_POS[0] - FIXED_RADAR.ecef_m) / rng_m[0]
    truth = np.array([rng_m[0], az[0], el[0], float(los @ FIXED_VEL[0])])
    out = []
    for d in dets:
        err = d.z - truth
        err[1] = (err[1] + math.pi) % (2.0 * math.pi) - math.pi
        out.append(float(np.sum((err / d.sigma) ** 2)))
    return np.asarray(out)


@pytest.mark.parametrize(("snr", "n_scans", "seed"), [(1.0e4, 2100, 3), (25.0, 4000, 4)])
def test_measurement_errors_are_consistent_with_reported_sigma(
    snr: float, n_scans: int, seed: int
) -> None:
    dets, _ = _scans(_rcs_for_snr(snr), n_scans, seed)
    assert len(dets) >= 2000
    # Reported sigma = floor and thermal noise in quadrature; it grows as SNR falls.
    np.testing.assert_allclose(dets[0].sigma, FIXED_RADAR.sigma_at(snr), rtol=1e-9)
    assert np.all(FIXED_RADAR.sigma_at(snr) >= FIXED_RADAR.sigma)
    if snr < 100.0:
        assert np.all(FIXED_RADAR.sigma_at(snr)[1:3] > 1.5 * FIXED_RADAR.sigma[1:3])
    nees = _nees(dets)
    n = nees.size
    lo, hi = chi2.ppf(0.005, 4 * n) / n, chi2.ppf(0.995, 4 * n) / n
    assert lo < float(nees.mean()) < hi


def test_same_seed_same_scan() -> None:
    radar = msgspec.structs.replace(FIXED_RADAR, false_alarms_per_scan=3.0)
    a = radar.observe(5.0, FIXED_POS, FIXED_VEL, np.array([1.0]), ["obj"], np.random.default_rng(8))
    b = radar.observe(5.0, FIXED_POS, FIXED_VEL, np.array([1.0]), ["obj"], np.random.default_rng(8))
    assert [d.z.tolist() for d in a] == [d.z.tolist() for d in b]


def test_false_alarms_lie_in_the_field_of_regard() -> None:
    radar = msgspec.structs.replace(
        FIXED_RADAR, boresight_az_deg=265.0, half_width_az_deg=60.0, false_alarms_per_scan=5.0
    )
    rng = np.random.default_rng(12)
    dets = [d for k in range(200) for d in radar.observe(float(k), [], [], [], [], rng)]
    assert 800 < len(dets) < 1200
    assert all(d.false_alarm and d.truth_id is None for d in dets)
    off = np.array([(math.degrees(d.azimuth_rad) - 265.0 + 180.0) % 360.0 - 180.0 for d in dets])
    assert np.all(np.abs(off) <= 60.0 + 1e-9)
    ranges = np.array([d.range_m for d in dets])
    assert np.all((ranges >= 0.1 * radar.max_range_km * 1e3) & (ranges <= radar.max_range_km * 1e3))


# -- definitions ---------------------------------------------------------------------------

BASE = {"id": "USA-TEST", "nation": "USA", "name": "test", "lat_deg": 40.0, "lon_deg": 140.0}


def test_radar_from_a_dict_and_from_keywords_agree() -> None:
    a = msgspec.convert({**BASE, "max_range_km": 2000.0}, Radar)
    b = Radar(id="USA-TEST", nation="USA", name="test", lat_deg=40.0, lon_deg=140.0,
              max_range_km=2000.0)  # fmt: skip
    assert a == b
    assert a.min_el_deg == 0.5
    np.testing.assert_allclose(a.sigma, [5.0, 2e-4, 2e-4, 1.0])


@pytest.mark.parametrize(
    ("bad", "names"),
    [
        ({"max_range_km": -5.0}, ["max_range_km", "USA-TEST"]),
        ({"powr": 3.0}, ["powr"]),
        ({"lat_deg": 95.0}, ["lat_deg", "USA-TEST"]),
        ({"nation": "usa"}, ["nation", "USA-TEST"]),
        ({"pfa": 1.5}, ["pfa", "USA-TEST"]),
        ({"peak_power_kw": -10.0}, ["peak_power_kw", "USA-TEST"]),
        ({"platform": "balloon"}, ["platform", "USA-TEST"]),
    ],
)
def test_bad_definitions_are_refused(bad: dict[str, object], names: list[str]) -> None:
    with pytest.raises(msgspec.ValidationError) as info:
        msgspec.convert({**BASE, **bad}, Radar)
    for name in names:
        assert name in str(info.value)


def test_bad_keyword_construction_is_refused() -> None:
    with pytest.raises(ValueError, match="USA-TEST.*max_range_km"):
        Radar(**{**BASE, "max_range_km": -1.0})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lat_deg"):
        Radar(**{**BASE, "lat_deg": 95.0})  # type: ignore[arg-type]


def test_distance_helper_agrees_with_reckoning() -> None:
    lat, lon = vreckon(SITE[0], SITE[1], 1234e3, 37.0)
    assert surface_distance_m(SITE[0], SITE[1], float(lat), float(lon)) == pytest.approx(1234e3)
