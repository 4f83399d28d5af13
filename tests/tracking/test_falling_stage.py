"""The unpowered model follows drag: a spent stage falling into the air decelerates at up
to ~30 g (the Hwasong-17 of 2022-11-18, stage 1, T+870–880 s), and the national tracker
holds it with one track whose covariance still covers its error."""

from __future__ import annotations

import numpy as np
import pytest

from trilink.config import load_default_network
from trilink.geo.earth import altitude_m
from trilink.tracking.tracker import Tracker, TrackerConfig
from trilink.types import Track
from trilink.world.launches import fly_event
from trilink.world.library import load_library
from trilink.world.trajectory import Body

Stage = tuple[float, Body]  # launch time, the falling body

RADAR = "KOR-GREENPINE-S"  # sees the stage down to ~10 km


@pytest.fixture(scope="module")
def stage() -> Stage:
    traj = fly_event(load_library().get("2022-11-18-hwasong-17-1")).trajectory
    return traj.t_launch_s, next(b for b in traj.bodies if b.name == "stage-1")


def _track(stage: Stage, seed: int, config: TrackerConfig) -> list[Track]:
    t0, body = stage
    radar = next(r for r in load_default_network().radar if r.id == RADAR)
    rng = np.random.default_rng(seed)
    tracker = Tracker("KOR", config)
    out: list[Track] = []
    for k in range(800, 900):
        x = body.states(float(k))
        dets = radar.observe(t0 + k, x[:, :3], x[:, 3:], np.array([1.0]), ["stage-1"], rng)
        out += tracker.process(t0 + k, dets, covers=radar.in_coverage)
    return out


def _worst(stage: Stage, tracks: list[Track]) -> tuple[float, float]:
    """Largest position error (m) and position NEES over the last 10 s of the track."""
    t0, body = stage
    end = max(t.t_s for t in tracks)
    errs, nees = [], []
    for trk in tracks:
        if trk.t_s >= end - 10.0:
            e = trk.state[:3] - body.states(trk.t_s - t0)[0, :3]
            errs.append(float(np.linalg.norm(e)))
            nees.append(float(e @ np.linalg.solve(trk.covariance[:3, :3], e)))
    return max(errs), max(nees)


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_one_track_follows_a_stage_decelerating_in_the_air(stage: Stage, seed: int) -> None:
    tracks = _track(stage, seed, TrackerConfig())
    t0, body = stage
    end = max(t.t_s for t in tracks)
    assert {t.track_id for t in tracks} == {"KOR-T0001"}  # one track, never restarted
    assert end - t0 >= 878.0  # to the radar's horizon, ~15 km up
    truth = body.states(end - t0)[0]
    assert altitude_m(truth[:3]) < 20_000.0  # the last 10 s fall from ~40 km into thick air
    worst_m, worst_nees = _worst(stage, tracks)
    assert worst_m < 100.0
    assert worst_nees < 16.27  # chi² (3 dof) 99.9 %
    # and the estimated acceleration is drag: against the velocity, tens of g at the end
    last = tracks[-1]
    along = float(last.state[6:9] @ last.state[3:6]) / float(np.linalg.norm(last.state[3:6]))
    assert along < -100.0


def test_without_drag_the_same_stage_is_lost_or_lags() -> None:
    """Not vacuous: the same scans through a tracker whose unpowered model has no drag
    (an impossibly heavy object) lag by hundreds of metres, overconfident, or break."""
    traj = fly_event(load_library().get("2022-11-18-hwasong-17-1")).trajectory
    stage = (traj.t_launch_s, next(b for b in traj.bodies if b.name == "stage-1"))
    tracks = _track(stage, 5, TrackerConfig(drag_beta_min_kg_m2=1e12))
    worst_m, worst_nees = _worst(stage, tracks)
    assert len({t.track_id for t in tracks}) > 1 or (worst_m > 150.0 and worst_nees > 16.27)
