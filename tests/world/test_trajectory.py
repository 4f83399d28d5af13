"""Tests of the trajectory engine: boost, free flight and the apogee/range solver."""

import numpy as np
import pytest

from trilink.errors import SolveError
from trilink.geo.earth import altitude_m, ecef_to_geodetic, geodetic_to_ecef
from trilink.world.catalog import missile_class
from trilink.world.trajectory import LaunchSpec, Steering, Trajectory, fly, solve_launch

SUNAN = (39.200159, 125.673256)
T_LAUNCH = 1_503_874_800.0  # 2017-08-28 23:00 UTC, a POSIX time like the library's


def _spec(key: str, kind: str, bearing_deg: float = 73.0) -> LaunchSpec:
    return LaunchSpec(
        lat_deg=SUNAN[0],
        lon_deg=SUNAN[1],
        bearing_deg=bearing_deg,
        t_launch_s=T_LAUNCH,
        missile=missile_class(key, kind),
    )


@pytest.fixture(scope="module")
def hwasong12() -> Trajectory:
    return solve_launch(_spec("hwasong-12", "IRBM"), apogee_km=550.0, range_km=2700.0)


def test_solved_launch_reproduces_apogee_and_range(hwasong12: Trajectory) -> None:
    assert hwasong12.apogee_m == pytest.approx(550e3, rel=0.01)
    assert hwasong12.range_m == pytest.approx(2700e3, rel=0.01)
    assert hwasong12.fit_error < 0.01
    assert hwasong12.t_launch_s == T_LAUNCH


def test_impact_is_east_of_150e_and_matches_the_last_state(hwasong12: Trajectory) -> None:
    assert hwasong12.impact_lon_deg > 150.0
    end = hwasong12.states(hwasong12.impact_s)[0]
    assert abs(float(altitude_m(end[:3]))) < 1.0
    lat, lon, _ = ecef_to_geodetic(end[:3])
    assert float(lat) == pytest.approx(hwasong12.impact_lat_deg, abs=1e-6)
    assert float(lon) == pytest.approx(hwasong12.impact_lon_deg, abs=1e-6)


def test_flight_starts_at_the_site_at_rest(hwasong12: Trajectory) -> None:
    x0 = hwasong12.states(0.0)
    assert x0.shape == (1, 6)
    site = geodetic_to_ecef(SUNAN[0], SUNAN[1], 0.0)
    assert np.linalg.norm(x0[0, :3] - site) < 1e-3
    assert np.linalg.norm(x0[0, 3:]) < 1e-6


def test_burnout_and_flight_time(hwasong12: Trajectory) -> None:
    m = hwasong12.spec.missile
    assert m.vertical_rise_s < hwasong12.burnout_s <= m.burn_time_s
    assert hwasong12.burnout_s < 200.0
    assert hwasong12.steering.cutoff_s == hwasong12.burnout_s
    # Japan MoD: the 2017 Hwasong-12 shots flew 14-19 minutes.
    assert 14 * 60 < hwasong12.flight_time_s < 19 * 60
    assert hwasong12.flight_time_s == hwasong12.impact_s


def test_states_are_clipped_and_continuous(hwasong12: Trajectory) -> None:
    t = np.array([-10.0, 0.0, hwasong12.burnout_s, hwasong12.impact_s, hwasong12.impact_s + 99])
    x = hwasong12.states(t)
    np.testing.assert_array_equal(x[0], x[1])
    np.testing.assert_array_equal(x[3], x[4])
    # Across the phase boundaries (rise, burnout) the state is continuous.
    for tb in (hwasong12.spec.missile.vertical_rise_s, hwasong12.burnout_s):
        a, b = hwasong12.states(np.array([tb - 1e-6, tb + 1e-6]))
        assert np.linalg.norm(a[:3] - b[:3]) < 0.1
        assert np.linalg.norm(a[3:] - b[3:]) < 0.1


def test_thrusting_only_during_the_burn(hwasong12: Trajectory) -> None:
    t = np.array([-1.0, 0.0, hwasong12.burnout_s - 0.1, hwasong12.burnout_s, 500.0])
    np.testing.assert_array_equal(hwasong12.thrusting(t), [False, True, True, False, False])


def test_apogee_is_the_highest_sampled_altitude(hwasong12: Trajectory) -> None:
    t = np.linspace(0.0, hwasong12.impact_s, 5000)
    alt = altitude_m(hwasong12.states(t)[:, :3])
    assert float(alt.max()) <= hwasong12.apogee_m + 1.0
    assert float(alt.max()) > hwasong12.apogee_m - 100.0
    # Speed grows during the boost.
    speed = np.linalg.norm(hwasong12.states(np.array([10.0, 60.0, 130.0]))[:, 3:], axis=1)
    assert np.all(np.diff(speed) > 0.0)


@pytest.mark.parametrize("cutoff_s", [0.0, 5.0, 140.5, 300.0])
def test_fly_refuses_a_cutoff_outside_the_burn(cutoff_s: float) -> None:
    with pytest.raises(ValueError, match="cutoff_s"):
        fly(_spec("hwasong-12", "IRBM"), Steering(pitch_deg=45.0, cutoff_s=cutoff_s))


def test_fly_accepts_a_cutoff_at_the_end_of_the_burn() -> None:
    spec = _spec("hwasong-12", "IRBM")
    traj = fly(spec, Steering(pitch_deg=45.0, cutoff_s=spec.missile.burn_time_s))
    assert traj.burnout_s == spec.missile.burn_time_s
    assert traj.range_m > 0.0
    assert traj.fit_error == 0.0


def test_impossible_pair_raises_solve_error_with_a_fix() -> None:
    with pytest.raises(SolveError) as info:
        solve_launch(_spec("kn-25", "SRBM"), apogee_km=5.0, range_km=9000.0)
    err = info.value
    assert "Fix:" in str(err)
    assert err.apogee_km == 5.0
    assert err.range_km == 9000.0
    assert err.missile == "kn-25"


def test_impossible_pair_not_strict_flies_the_closest_steering() -> None:
    traj = solve_launch(_spec("kn-25", "SRBM"), apogee_km=5.0, range_km=9000.0, strict=False)
    assert traj.fit_error > 0.02
    assert np.isfinite(traj.impact_s)
    assert traj.range_m < 9000e3
