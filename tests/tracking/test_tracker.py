"""Tests of the national tracker on a simulated Hwasong-12 flight and on clutter."""

from dataclasses import dataclass

import msgspec
import numpy as np
import pytest

from trilink.config import load_default_network
from trilink.geo.earth import geodetic_to_ecef
from trilink.sensors.radar import Radar
from trilink.tracking.tracker import Tracker
from trilink.types import Track, TrackState
from trilink.world.catalog import missile_class
from trilink.world.trajectory import LaunchSpec, Trajectory, solve_launch

T_LAUNCH = 1_503_874_800.0
RCS = np.array([1.0])


@dataclass
class Run:
    truth: Trajectory
    snapshots: list[Track]  # every confirmed track returned by process(), in order
    twin_ids: set[str]  # ids confirmed by a second tracker fed the same detections
    n_true_dets: int


@pytest.fixture(scope="module")
def usa_run() -> Run:
    spec = LaunchSpec(
        lat_deg=39.200159,
        lon_deg=125.673256,
        bearing_deg=73.0,
        t_launch_s=T_LAUNCH,
        missile=missile_class("hwasong-12", "IRBM"),
    )
    truth = solve_launch(spec, apogee_km=550.0, range_km=2700.0)
    radars = [r for r in load_default_network().radar if r.id == "USA-TPY2-SHARIKI"]
    assert radars
    rng = np.random.default_rng(2017)
    tracker, twin = Tracker("USA"), Tracker("USA")
    snapshots: list[Track] = []
    twin_ids: set[str] = set()
    n_true = 0
    for k in range(int(truth.impact_s) + 1):
        t = T_LAUNCH + k
        x = truth.states(float(k))
        for radar in radars:
            dets = radar.observe(t, x[:, :3], x[:, 3:], RCS, ["object-1"], rng)
            n_true += sum(not d.false_alarm for d in dets)
            snapshots += tracker.process(t, dets, covers=radar.in_coverage)
            twin_ids |= {trk.track_id for trk in twin.process(t, dets, covers=radar.in_coverage)}
    return Run(truth=truth, snapshots=snapshots, twin_ids=twin_ids, n_true_dets=n_true)


def _errors(run: Run, trk: Track) -> tuple[float, float]:
    x = run.truth.states(trk.t_s - T_LAUNCH)[0]
    return float(np.linalg.norm(trk.state[:3] - x[:3])), float(
        np.linalg.norm(trk.state[3:6] - x[3:])
    )


def test_one_track_is_confirmed_with_an_instance_owned_id(usa_run: Run) -> None:
    assert usa_run.n_true_dets > 100
    assert {s.track_id for s in usa_run.snapshots} == {"USA-T0001"}
    # A second instance numbers its own tracks from 1 too.
    assert usa_run.twin_ids == {"USA-T0001"}
    first = usa_run.snapshots[0]
    assert first.nation == "USA"
    assert first.status is TrackState.CONFIRMED
    assert first.sensors == ("USA-TPY2-SHARIKI",)
    assert first.t_s >= first.first_t_s
    assert first.n_updates >= 3


def test_track_accuracy_after_60_s(usa_run: Run) -> None:
    late = [s for s in usa_run.snapshots if s.t_s - s.first_t_s >= 60.0]
    assert len(late) > 100
    pos_err, vel_err = zip(*(_errors(usa_run, s) for s in late), strict=True)
    assert max(pos_err) < 2000.0
    assert max(vel_err) < 50.0


def test_track_state_is_tied_to_its_time(usa_run: Run) -> None:
    times = [s.t_s for s in usa_run.snapshots]
    assert times == sorted(times)
    n = [s.n_updates for s in usa_run.snapshots]
    assert n == sorted(n)
    for s in usa_run.snapshots:
        assert s.state.shape == (9,)
        np.testing.assert_allclose(s.covariance, s.covariance.T)
        # The covariance is not wildly over-confident about position.
        err = s.state[:3] - usa_run.truth.states(s.t_s - T_LAUNCH)[0, :3]
        assert float(err @ np.linalg.solve(s.covariance[:3, :3], err)) < 60.0


def test_track_turns_ballistic_after_burnout(usa_run: Run) -> None:
    burnout = T_LAUNCH + usa_run.truth.burnout_s
    ballistic = [s.t_s for s in usa_run.snapshots if not s.thrusting]
    assert ballistic, "the track never turned ballistic"
    # The IMM's ballistic model takes over within seconds of burn-out, not before it.
    assert min(ballistic) >= burnout
    assert min(ballistic) < burnout + 15.0
    # Once ballistic, it stays ballistic, and the mixture's thrust acceleration is small
    # (the boost model keeps a little probability, weighted by its own small estimate).
    after = [s for s in usa_run.snapshots if s.t_s >= min(ballistic)]
    assert all(not s.thrusting for s in after)
    assert max(float(np.linalg.norm(s.state[6:9])) for s in after[10:]) < 1.0
    # Before burnout the track is thrusting.
    assert all(s.thrusting for s in usa_run.snapshots if s.t_s < burnout)
    # One track throughout: no break at burn-out.
    assert {s.track_id for s in usa_run.snapshots} == {"USA-T0001"}


def test_false_alarms_alone_confirm_no_track() -> None:
    radar = next(r for r in load_default_network().radar if r.id == "USA-TPY2-SHARIKI")
    noisy = msgspec.structs.replace(radar, false_alarms_per_scan=5.0)
    rng = np.random.default_rng(77)
    tracker = Tracker("USA")
    n_fa = 0
    for k in range(100):
        t = T_LAUNCH + k
        dets = noisy.observe(t, np.empty((0, 3)), np.empty((0, 3)), np.empty(0), [], rng)
        n_fa += len(dets)
        assert tracker.process(t, dets, covers=noisy.in_coverage) == []
    assert n_fa > 400
    assert tracker.tracks() == []


def test_two_trackers_number_independently() -> None:
    radar = Radar(
        id="KOR-TEST",
        nation="KOR",
        name="test",
        lat_deg=36.6,
        lon_deg=127.5,
        min_el_deg=0.0,
        false_alarms_per_scan=0.0,
        antenna_gain_db=70.0,
    )
    rng = np.random.default_rng(5)
    a, b = Tracker("KOR"), Tracker("KOR")
    pos = geodetic_to_ecef(38.4, 127.5, 300e3)  # 200 km north of the radar, 300 km up
    vel = np.zeros(3)
    for k in range(5):
        dets = radar.observe(float(k), pos[None, :], vel[None, :], RCS, ["obj"], rng)
        assert len(dets) == 1
        a.process(float(k), dets)
        b.process(float(k), dets)
    assert [t.track_id for t in a.tracks()] == ["KOR-T0001"]
    assert [t.track_id for t in b.tracks()] == ["KOR-T0001"]
