"""The evaluation's labels of system tracks with true objects, and its choice of the picture's
track on an object the picture holds twice."""

from __future__ import annotations

import numpy as np

from trilink.fusion.evaluate import followed_by, system_labels
from trilink.fusion.picture import SystemTrack, predict_track
from trilink.types import Track, TrackState

T = 1_700_000_000.0


def track(track_id: str, t_s: float, sigma_m: float) -> Track:
    nation = track_id[:3]
    return Track(
        track_id=track_id,
        nation=nation,
        t_s=t_s,
        state=np.array([-3.0e6, 4.0e6, 4.0e6, 1000.0, 0.0, 2000.0]),
        covariance=np.eye(6) * sigma_m**2,
        status=TrackState.CONFIRMED,
        sensors=(f"{nation}-R",),
        first_t_s=t_s - 100.0,
        n_updates=50,
    )


def system(system_id: str, members: dict[str, list[float]], sigma_m: float) -> SystemTrack:
    """A system track whose members were updated at the given times (its fused track
    with the given position sigma)."""
    st = SystemTrack(system_id)
    for track_id, times in members.items():
        st.members[(track_id[:3], track_id)] = [track(track_id, t, sigma_m) for t in times]
    st.fused = track(f"{system_id}-F", max(max(t) for t in members.values()), sigma_m)
    return st


def test_the_established_precise_track_stands_for_the_object_not_a_young_vague_one() -> None:
    established = system("S1", {"JPN-T1": [T - 3, T - 2, T - 1, T], "USA-T1": [T - 300]}, 25.0)
    young = system("S2", {"USA-T6": [T]}, 1400.0)  # one fresh member each: a tie
    assert followed_by([young, established], T, 2.0) is established
    assert followed_by([established, young], T, 2.0) is established


def test_more_members_updated_lately_outweigh_precision() -> None:
    precise = system("S1", {"JPN-T1": [T]}, 10.0)
    shared = system("S2", {"JPN-T2": [T], "USA-T2": [T - 1]}, 50.0)
    assert followed_by([precise, shared], T, 2.0) is shared


def test_two_objects_one_nation_resolves_are_two_system_tracks_not_a_duplicate() -> None:
    # Japan and Korea hold the re-entry vehicle and its stage, 40 m apart, as one track
    # labelled with the stage; the US resolves both.
    truth = {"JPN-T1": "stage-2", "KOR-T3": "stage-2", "USA-T1": "rv", "USA-T3": "stage-2"}
    pair = system("S4", {"JPN-T1": [T], "KOR-T3": [T], "USA-T1": [T]}, 20.0)
    stage = system("S6", {"USA-T3": [T]}, 20.0)
    assert system_labels([pair, stage], truth, T, 2.0) == {"S4": "rv", "S6": "stage-2"}


def test_a_second_system_track_on_one_object_stays_a_duplicate() -> None:
    truth = {"JPN-T1": "rv", "KOR-T3": "rv", "USA-T1": "rv", "JPN-T9": "stage-1"}
    first = system("S1", {"JPN-T1": [T], "KOR-T3": [T]}, 20.0)
    second = system("S2", {"USA-T1": [T]}, 20.0)
    quiet = system("S3", {"JPN-T9": [T - 10]}, 20.0)  # no member updated lately
    assert system_labels([first, second, quiet], truth, T, 2.0) == {
        "S1": "rv",
        "S2": "rv",
        "S3": None,
    }


def test_a_fused_track_not_updated_lately_is_judged_by_its_precision_now() -> None:
    # Both have one fresh member; the stale one was sharper when last updated, 2 s ago,
    # but has grown vaguer since than the one updated now (a fused track's state is at
    # its last update; prediction inflates it).
    stale = system("S2", {"JPN-T9": [T - 2]}, 1000.0)
    now = system("S9", {"JPN-T10": [T]}, 1010.0)
    stale_sd = float(np.sqrt(np.trace(predict_track(stale.fused, T)[1][:3, :3])))
    assert stale_sd > float(np.sqrt(np.trace(now.fused.covariance[:3, :3])))
    assert followed_by([stale, now], T, 2.0) is now
    assert followed_by([now, stale], T, 2.0) is now
