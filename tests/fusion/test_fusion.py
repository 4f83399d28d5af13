"""Tests of track fusion: covariance intersection and a node's picture."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trilink.fusion.covariance_intersection import covariance_intersection
from trilink.fusion.picture import Picture, PictureConfig, predict_track
from trilink.geo.earth import enu_rotation, geodetic_to_ecef
from trilink.geo.motion import propagate
from trilink.types import Track, TrackState

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


def _spd(rng: np.random.Generator, n: int = 6) -> np.ndarray:
    scales = np.array([1000.0] * 3 + [30.0] * 3)[:n] * rng.uniform(0.1, 10.0, n)
    a = rng.normal(size=(n, n))
    corr = a @ a.T + 0.5 * np.eye(n)
    d = 1.0 / np.sqrt(np.diag(corr))
    return corr * np.outer(d, d) * np.outer(scales, scales)


def _min_eig(m: np.ndarray) -> float:
    return float(np.linalg.eigvalsh(0.5 * (m + m.T)).min())


# -- covariance intersection ---------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(SEEDS)
def test_ci_covariance_is_psd_and_no_larger_than_the_inputs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p1, p2 = _spd(rng), _spd(rng)
    x1, x2 = rng.normal(0.0, 1000.0, 6), rng.normal(0.0, 1000.0, 6)
    x, p = covariance_intersection(x1, p1, x2, p2)
    assert x.shape == (6,)
    np.testing.assert_array_equal(p, p.T)
    assert _min_eig(p) > 0.0
    # Bounded scalar search: the optimum may sit a hair inside [0, 1].
    assert np.trace(p) <= min(np.trace(p1), np.trace(p2)) * (1.0 + 1e-4)
    # Never more confident than fusing the two as if independent.
    independent = np.linalg.inv(np.linalg.inv(p1) + np.linalg.inv(p2))
    assert _min_eig(p - independent) > -1e-9 * np.trace(p)


@settings(max_examples=50, deadline=None)
@given(SEEDS)
def test_ci_of_an_estimate_with_itself_adds_nothing(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p1 = _spd(rng)
    x1 = rng.normal(0.0, 1e6, 6)
    x, p = covariance_intersection(x1, p1, x1.copy(), p1.copy())
    np.testing.assert_allclose(x, x1, rtol=1e-9, atol=1e-9 * np.abs(x1).max())
    np.testing.assert_allclose(p, p1, rtol=1e-9, atol=1e-9 * np.abs(p1).max())


def test_ci_prefers_the_better_estimate() -> None:
    rng = np.random.default_rng(1)
    p_good = _spd(rng)
    p_bad = 100.0 * p_good
    x_good, x_bad = np.zeros(6), np.full(6, 500.0)
    x, p = covariance_intersection(x_good, p_good, x_bad, p_bad)
    assert np.linalg.norm(x - x_good) < 0.01 * np.linalg.norm(x_bad)
    assert np.trace(p) == pytest.approx(np.trace(p_good), rel=1e-3)
    # The order of the inputs does not matter.
    x_r, p_r = covariance_intersection(x_bad, p_bad, x_good, p_good)
    np.testing.assert_allclose(x_r, x, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(p_r, p, rtol=1e-4, atol=1e-6 * np.abs(p).max())


def test_ci_of_complementary_estimates_beats_both() -> None:
    # One is sharp along x, the other along y: the fused one is sharper than either in trace.
    p1 = np.diag([1.0, 100.0])
    p2 = np.diag([100.0, 1.0])
    x, p = covariance_intersection(np.array([0.0, 10.0]), p1, np.array([10.0, 0.0]), p2)
    assert np.trace(p) < 0.1 * min(np.trace(p1), np.trace(p2))
    # By symmetry w = 1/2: P = diag(200/101), x = (10/101, 10/101).
    np.testing.assert_allclose(p, np.diag([200.0 / 101.0] * 2), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(x, [10.0 / 101.0] * 2, rtol=1e-6)


# -- picture -------------------------------------------------------------------------------

T0 = 1_503_875_000.0


def _truth(lat: float, lon: float) -> np.ndarray:
    """A ballistic state 300 km up, climbing east-north-east at 3.5 km/s."""
    rot = enu_rotation(np.radians(lat), np.radians(lon))
    v = rot.T @ np.array([3000.0, 1000.0, 1500.0])
    return np.concatenate([geodetic_to_ecef(lat, lon, 300e3), v])


def _track(
    nation: str,
    number: int,
    x: np.ndarray,
    t_s: float,
    rng: np.random.Generator,
    *,
    sigma_m: float = 500.0,
    sigma_v: float = 20.0,
    sensor: str = "",
) -> Track:
    p = np.diag([sigma_m**2] * 3 + [sigma_v**2] * 3)
    state = x + rng.normal(0.0, np.sqrt(np.diag(p)))
    return Track(
        track_id=f"{nation}-T{number:04d}",
        nation=nation,
        t_s=t_s,
        state=state,
        covariance=p,
        status=TrackState.CONFIRMED,
        sensors=(sensor or f"{nation}-RADAR",),
        first_t_s=t_s - 30.0,
        n_updates=30,
        thrusting=False,
    )


def test_picture_associates_the_same_object_and_separates_another() -> None:
    rng = np.random.default_rng(42)
    obj = _truth(40.0, 133.0)
    far = _truth(42.0, 138.0)  # ~450 km away
    picture = Picture("JPN")
    a = picture.ingest(_track("USA", 1, obj, T0, rng))
    b = picture.ingest(_track("JPN", 1, propagate(obj, 1.0), T0 + 1.0, rng))
    c = picture.ingest(_track("KOR", 1, far, T0 + 1.0, rng))
    assert a is b
    assert c is not a
    systems = picture.system_tracks()
    assert [s.system_id for s in systems] == ["JPN-S001", "JPN-S002"]
    assert a.nations == ("JPN", "USA")
    assert set(a.members) == {("USA", "USA-T0001"), ("JPN", "JPN-T0001")}
    assert c.nations == ("KOR",)
    # The fused track: at the latest time, both nations' sensors, no worse than either.
    fused = a.fused
    assert fused is not None
    assert fused.track_id == "JPN-S001"
    assert fused.nation == "JPN"
    assert fused.t_s == T0 + 1.0
    assert fused.sensors == ("JPN-RADAR", "USA-RADAR")
    assert fused.n_updates == 60
    assert fused.first_t_s == T0 - 30.0
    assert fused.state.shape == (6,)
    assert np.trace(fused.covariance[:3, :3]) <= 3 * 500.0**2 * (1.0 + 1e-3)
    truth_now = propagate(obj, 1.0)
    assert np.linalg.norm(fused.state[:3] - truth_now[:3]) < 3000.0
    assert len(a.fused_history) == 2


def test_picture_keeps_a_member_in_its_system_track() -> None:
    rng = np.random.default_rng(43)
    obj = _truth(40.0, 133.0)
    picture = Picture("USA")
    first = picture.ingest(_track("USA", 7, obj, T0, rng))
    # The same national track, updated 10 s later, stays in its system track.
    again = picture.ingest(_track("USA", 7, propagate(obj, 10.0), T0 + 10.0, rng))
    assert again is first
    assert len(first.members[("USA", "USA-T0007")]) == 2
    # One member only: the fused state is that member's latest state, unchanged.
    assert first.fused is not None
    np.testing.assert_allclose(first.fused.state, first.members[("USA", "USA-T0007")][-1].state)
    # A different track number of the same nation far away is another object.
    other = picture.ingest(_track("USA", 8, _truth(30.0, 150.0), T0 + 10.0, rng))
    assert other is not first
    assert len(picture.system_tracks()) == 2


def test_picture_tracks_with_the_same_number_from_two_nations_are_distinct_members() -> None:
    rng = np.random.default_rng(44)
    obj = _truth(40.0, 133.0)
    picture = Picture("KOR")
    st1 = picture.ingest(_track("KOR", 1, obj, T0, rng))
    st2 = picture.ingest(_track("USA", 1, obj, T0, rng))
    assert st1 is st2
    assert len(st1.members) == 2


def test_a_nations_dual_track_joins_its_system_track_and_only_the_sharper_is_fused() -> None:
    # KOR's tracker holds one object twice (a young track beside the old one): one system
    # track, and KOR's information is fused once, from its sharper track.
    rng = np.random.default_rng(45)
    obj = _truth(40.0, 133.0)
    picture = Picture("JPN", config=PictureConfig(estimate_bias=False))
    st = picture.ingest(_track("JPN", 1, obj, T0, rng, sigma_m=300.0))
    picture.ingest(_track("KOR", 1, obj, T0, rng, sigma_m=100.0))
    dual = picture.ingest(_track("KOR", 9, obj, T0, rng, sigma_m=900.0, sigma_v=200.0))
    assert dual is st and len(picture.system_tracks()) == 1
    assert set(st.members) == {("JPN", "JPN-T0001"), ("KOR", "KOR-T0001"), ("KOR", "KOR-T0009")}
    assert st.fused is not None
    alone = Picture("JPN", config=PictureConfig(estimate_bias=False))
    alone.ingest(st.members[("JPN", "JPN-T0001")][-1])
    ref = alone.ingest(st.members[("KOR", "KOR-T0001")][-1])
    assert ref.fused is not None
    np.testing.assert_allclose(st.fused.state, ref.fused.state)
    np.testing.assert_allclose(st.fused.covariance, ref.fused.covariance)


def test_one_nations_tracks_of_two_closely_spaced_objects_stay_apart() -> None:
    # A re-entry vehicle and its stage 150 m apart, each held by KOR to 10 m: not a dual.
    rng = np.random.default_rng(46)
    rv = _truth(40.0, 133.0)
    stage = rv.copy()
    stage[:3] -= 150.0 * rv[3:6] / np.linalg.norm(rv[3:6])
    picture = Picture("JPN", config=PictureConfig(estimate_bias=False))
    a = picture.ingest(_track("KOR", 1, rv, T0, rng, sigma_m=10.0, sigma_v=0.5))
    b = picture.ingest(_track("KOR", 2, stage, T0, rng, sigma_m=10.0, sigma_v=0.5))
    assert a is not b


def _falling(alt_m: float) -> Track:
    """An unpowered track falling at 3 km/s, 45° down, over the Sea of Japan."""
    r = geodetic_to_ecef(40.0, 135.0, alt_m)
    rot = enu_rotation(np.radians(40.0), np.radians(135.0))
    v = rot.T @ np.array([0.0, 3000.0, -3000.0]) / np.sqrt(2.0)
    return Track(
        track_id="JPN-T0001",
        nation="JPN",
        t_s=0.0,
        state=np.concatenate([r, v, np.zeros(3)]),
        covariance=np.diag([100.0] * 3 + [4.0] * 3 + [1e-12] * 3),
        status=TrackState.CONFIRMED,
        sensors=("JPN-FPS5-SADO",),
        first_t_s=0.0,
    )


def test_a_members_prediction_in_the_air_allows_for_drag_along_its_velocity() -> None:
    """A member brought forward in the air may have decelerated (the trackers' unpowered
    model: drag along the velocity, growing with the air's density); above it, not."""
    spread = {}
    for alt in (30_000.0, 300_000.0):
        trk = _falling(alt)
        _, p = predict_track(trk, 2.0)
        u = trk.state[3:6] / np.linalg.norm(trk.state[3:6])
        across = np.cross(u, trk.state[:3] / np.linalg.norm(trk.state[:3]))
        across /= np.linalg.norm(across)
        spread[alt] = (float(u @ p[3:6, 3:6] @ u), float(across @ p[3:6, 3:6] @ across))
    low, high = spread[30_000.0], spread[300_000.0]
    assert low[0] > 100.0 * high[0]  # along the velocity: (tens of m/s)² at 30 km
    assert low[0] > 100.0  # tens of m/s of possible deceleration over 2 s
    assert low[1] == pytest.approx(high[1], rel=0.05)  # across it: as above the air
