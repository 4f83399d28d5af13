"""Two tracks on a re-entry vehicle and its spent stage stay on their objects (SIMULATION).

After the 2022-11-18 Hwasong-17's burn-out the re-entry vehicle (RV) and its spent second
stage drift apart at 2 m/s, along the flight path. Japan's four radars resolve the pair
in range (5 m noise) tens of seconds before they resolve it in angle (0.2 mrad, 200 m
at 1,000 km), and not all at the same moment. Two tracks of the pair whose gates no
longer overlap must still take the detections in flight order, and a lone report from a
radar that does not yet resolve the pair (both in one range cell, or one missed) must
update neither. Before, each track followed the RV in two radars and the stage in the
other two and sat, confident (25 m), on neither: 1.5 km off after 150 s (seed 101);
with flight order but lone reports taken, 750 m (seed 106).
"""

from __future__ import annotations

import numpy as np
import pytest

from trilink.config import load_default_network
from trilink.sensors.suite import SensorSuite
from trilink.tracking import Tracker
from trilink.world.launches import fly_event
from trilink.world.library import load_library

EVENT = "2022-11-18-hwasong-17-1"
PAIR = ("rv", "stage-2")
NEAR_M = 20_000.0  # a track this close to the pair is one of the pair's tracks


@pytest.mark.parametrize("seed", [101, 106])
def test_tracks_of_a_separating_pair_stay_consistent_with_their_objects(seed: int) -> None:
    traj = fly_event(load_library().get(EVENT)).trajectory
    radars = [r for r in load_default_network().radar if r.nation == "JPN"]
    suite = SensorSuite(traj, radars, [], np.random.default_rng(seed))
    tracker = Tracker("JPN")
    nees: list[float] = []
    worst_m = 0.0
    for t in range(0, 421):
        for radar, dets in suite.tick(float(t)).radar:
            tracker.process(traj.t_launch_s + t, dets, covers=radar.in_coverage)
        if t < 250:
            continue
        names, states = traj.active(float(t))
        bodies = {n: s for n, s in zip(names, states, strict=True) if n in PAIR}
        for trk in tracker.tracks():
            if trk.status.name != "CONFIRMED" or trk.t_s < traj.t_launch_s + t - 1.0:
                continue
            errors = {n: trk.state[:3] - s[:3] for n, s in bodies.items()}
            body = min(errors, key=lambda n: float(np.linalg.norm(errors[n])))
            e = errors[body]
            if np.linalg.norm(e) > NEAR_M:
                continue  # the first stage's track
            worst_m = max(worst_m, float(np.linalg.norm(e)))
            nees.append(float(e @ np.linalg.solve(trk.covariance[:3, :3], e)))
    assert len(nees) > 200
    # Position NEES (3 dof) of the pair's tracks against the nearer object: the 99 %
    # point of χ²(3) is 11.3. Through the merge-to-resolve transition the tracks are
    # somewhat overconfident (seeds 101-108: 83-99 % of ticks below it, worst 56-341 m).
    share = float(np.mean(np.asarray(nees) < 11.34))
    assert share > 0.8, (share, float(np.median(nees)))
    assert worst_m < 400.0, worst_m
