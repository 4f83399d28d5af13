"""Space infrared in the national tracker: lines of sight cue radar track initiation and
feed the launch-point fit (SIMULATION), on the 2017-08-28 Hwasong-12 over Hokkaido."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from trilink.alerting.launch import fit_launch
from trilink.config import load_default_network
from trilink.geo.earth import geodetic_to_ecef, surface_distance_m
from trilink.sensors.infrared import LineOfSight
from trilink.sensors.suite import SensorSuite
from trilink.tracking import Tracker, TrackerConfig
from trilink.types import Track
from trilink.world.launches import fly_event
from trilink.world.library import load_library
from trilink.world.trajectory import Trajectory

EVENT = "2017-08-28-hwasong-12-1"


@dataclass
class Run:
    truth: Trajectory
    cued: list[Track] = field(default_factory=list)  # the IR-fed tracker's snapshots
    plain: list[Track] = field(default_factory=list)  # the radar-only tracker's
    lines: list[LineOfSight] = field(default_factory=list)
    first_line_s: float | None = None


@pytest.fixture(scope="module")
def run() -> Run:
    truth = fly_event(load_library().get(EVENT)).trajectory
    net = load_default_network()
    suite = SensorSuite(truth, list(net.radar), list(net.infrared), np.random.default_rng(2017))
    cued, plain = Tracker("USA"), Tracker("USA")
    out = Run(truth=truth)
    for k in range(150):
        t = truth.t_launch_s + k
        tick = suite.tick(float(k))
        for sat, reports in tick.infrared:
            if sat.nation == "USA":
                cued.process_infrared(t, reports)
                if reports and out.first_line_s is None:
                    out.first_line_s = float(k)
        for radar, dets in tick.radar:
            if radar.nation == "USA":
                out.cued += cued.process(t, dets, covers=radar.in_coverage)
                out.plain += plain.process(t, dets, covers=radar.in_coverage)
    out.lines = cued.infrared()
    return out


def test_infrared_sees_the_plume_before_any_radar_track(run: Run) -> None:
    assert run.first_line_s is not None and run.plain
    assert run.first_line_s < run.plain[0].t_s - run.truth.t_launch_s
    assert len(run.lines) > 100


def test_a_cued_track_confirms_sooner_and_starts_boosting(run: Run) -> None:
    cfg = TrackerConfig()
    first_cued, first_plain = run.cued[0], run.plain[0]
    assert first_cued.thrusting
    assert first_cued.n_updates == cfg.ir_cued_confirm_hits < cfg.confirm_hits
    assert first_plain.n_updates == cfg.confirm_hits
    assert first_cued.t_s < first_plain.t_s


def test_a_detection_on_a_line_of_sight_is_cued_and_one_beside_it_is_not() -> None:
    tracker = Tracker("USA")
    sat = geodetic_to_ecef(0.0, 135.0, 35_786e3)
    target = geodetic_to_ecef(39.0, 125.7, 30e3)
    u = (target - sat) / np.linalg.norm(target - sat)
    line = LineOfSight("SAT", "USA", 100.0, sat, u, 30e-6)
    tracker.process_infrared(100.0, [line])
    aside = geodetic_to_ecef(39.0, 126.5, 30e3)  # about 70 km east
    cov = np.tile(np.eye(3) * 200.0**2, (2, 1, 1))
    cued = tracker._on_infrared(np.stack([target, aside]), cov, 101.0)
    assert cued.tolist() == [True, False]
    # Outside the cue window it cues nothing.
    assert not tracker._on_infrared(target[None], cov[:1], 100.0 + 60.0).any()


def test_the_launch_point_fit_with_infrared_finds_the_launch(run: Run) -> None:
    track = [s for s in run.cued if s.track_id == run.cued[0].track_id][:60]
    est = fit_launch(track, run.lines)
    assert est is not None
    spec = run.truth.spec
    miss = surface_distance_m(spec.lat_deg, spec.lon_deg, est.lat_deg, est.lon_deg)
    assert miss < 10_000.0, miss
    assert abs(est.t_launch_s - run.truth.t_launch_s) < 10.0
    assert est.radius_95_m > 0.0 and est.t_sigma_s > 0.0
    # The lines of sight are used: without them the fit differs.
    radar_only = fit_launch(track)
    assert radar_only is not None and radar_only.t_launch_s != est.t_launch_s
